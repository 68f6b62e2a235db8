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

mod common;

use std::process::ExitCode;
use std::time::Instant;

use kmstop::app::{Action, App, Overlay, Pane, update};

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
    let (dir, inputs) = match common::inputs("who_filter_timing") {
        Ok(found) => found,
        Err(code) => return code,
    };
    let events = common::packed(&inputs);
    let samples: Vec<(String, String)> = events
        .iter()
        .step_by(50_000)
        .filter_map(|e| {
            let v = e.view();
            let ip = v
                .source_ip
                .filter(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())?;
            Some((v.access_key_id?.into_owned(), ip.into_owned()))
        })
        .take(5)
        .collect();
    let mut app = common::loaded(&dir, &events);
    common::whole_range(&mut app);
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
