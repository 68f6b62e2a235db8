//! How long the Events pane takes to list one credential's calls once a
//! corpus is loaded (issue 17: every investigation view in ≤ 100 ms on the
//! 300 k corpus). Loads DIR as the file dashboard does, picks the access
//! key ids of a few held calls, then times `/akid:…` and `/ip:…/24` on
//! the Events pane over the whole range, from Enter to rows ready:
//!
//! ```sh
//! cargo run --release --example who_filter_timing -- /tmp/k1
//! ```
// A timing tool: it reads the wall clock on purpose.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use kmstop::app::{Action, App, Data, DataConfig, Mode, Overlay, Pane, update};
use kmstop::event::{KmsEvent, PackedEvent};
use kmstop::source::files::{Consumer, Listed, discover, scan};

#[derive(Default)]
struct Packer(Vec<PackedEvent>);

impl Consumer for Packer {
    fn consume(&mut self, event: KmsEvent<'_>) {
        self.0.push(PackedEvent::pack(&event));
    }
}

fn filter(app: &mut App, text: &str) -> (f64, usize) {
    let now = app.now;
    update(app, Action::Focus(Pane::Events), now);
    update(app, Action::Filter, now);
    if let Some(Overlay::Prompt(p)) = &mut app.overlay {
        text.clone_into(&mut p.input);
    }
    let start = Instant::now();
    update(app, Action::Enter, now);
    app.refresh();
    (
        start.elapsed().as_secs_f64() * 1000.0,
        app.snapshot.events.len(),
    )
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: who_filter_timing DIR");
        return ExitCode::from(2);
    };
    let inputs = match discover(std::slice::from_ref(&dir)) {
        Ok(inputs) => inputs,
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let (packers, _) = scan(&Listed::new(&inputs), 2, Packer::default, &|_| {});
    let samples: Vec<(String, String)> = packers
        .iter()
        .flat_map(|p| p.0.iter().step_by(50_000))
        .filter_map(|e| {
            let v = e.view();
            let ip = v
                .source_ip
                .filter(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())?;
            Some((v.access_key_id?.into_owned(), ip.into_owned()))
        })
        .take(5)
        .collect();
    let data = Data::new(&DataConfig::files(), kmstop::alert::builtin::rules()).expect("rules");
    let now = kmstop::clock::Clock::now(&kmstop::clock::SystemClock);
    let mut app = App::new(data, Mode::Files(vec![dir.display().to_string()]), now);
    for p in packers {
        for chunk in p.0.chunks(500) {
            app.data.ingest(chunk.to_vec(), None);
        }
    }
    app.data.finish_files();
    app.refresh();
    let now = app.now;
    while app.window.duration().is_some() {
        update(&mut app, Action::CycleWindow, now);
    }
    app.refresh();
    let mut worst: f64 = 0.0;
    for (akid, ip) in &samples {
        let net = ip
            .rsplit_once('.')
            .map_or(ip.clone(), |(a, _)| format!("{a}.0/24"));
        for text in [format!("akid:{akid}"), format!("ip:{net}")] {
            let (ms, rows) = filter(&mut app, &text);
            worst = worst.max(ms);
            println!("{text}: {rows} row(s) in {ms:.1} ms");
        }
    }
    println!(
        "{} event(s) held; worst {worst:.1} ms",
        app.data.events_seen
    );
    ExitCode::SUCCESS
}
