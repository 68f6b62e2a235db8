//! Checks that the file dashboard shows what `report` counts over the same
//! logs — the test suite does this on the fixtures and a small corpus; this
//! runs it on any directory (the 300 k benchmark corpus, a real download):
//!
//! ```sh
//! cargo run --release --example file_totals -- /tmp/kmstop-bench/corpus
//! ```
//!
//! Prints both totals, the peak memory of the store's buckets, and exits 1
//! on the first difference.

use std::path::PathBuf;
use std::process::ExitCode;

use kmstop::app::{App, Data, DataConfig, Mode};
use kmstop::event::{KmsEvent, PackedEvent};
use kmstop::report::{ReportSettings, build_report};
use kmstop::source::files::{Consumer, Listed, discover, scan};

#[derive(Default)]
struct Packer(Vec<PackedEvent>);

impl Consumer for Packer {
    fn consume(&mut self, event: KmsEvent<'_>) {
        self.0.push(PackedEvent::pack(&event));
    }
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: file_totals DIR");
        return ExitCode::from(2);
    };
    let inputs = match discover(std::slice::from_ref(&dir)) {
        Ok(inputs) => inputs,
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let report = build_report(&Listed::new(&inputs), &ReportSettings::new(2), &|_| {})
        .expect("built-in rules")
        .0;

    let (packers, _) = scan(&Listed::new(&inputs), 2, Packer::default, &|_| {});
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

    let s = &app.snapshot;
    let shown: u64 = s.principals.iter().map(|r| r.calls).sum();
    println!(
        "report: {} events, {} principals; dashboard: {} events seen, {} in the store, {} over {} principal rows ({} buckets of {} s)",
        report.events,
        report.principals.len(),
        app.data.events_seen,
        app.data.store.total_events(),
        shown,
        s.principal_total,
        app.data.store.bucket_count(),
        app.data.store.bucket_seconds(),
    );
    let mut differences = 0;
    let differ = |what: &str, want: u64, got: u64| {
        if want == got {
            0
        } else {
            eprintln!("{what}: report {want}, dashboard {got}");
            1
        }
    };
    differences += differ("events", report.events, app.data.events_seen);
    differences += differ("in the store", report.events, app.data.store.total_events());
    differences += differ("over every principal row", report.events, shown);
    differences += differ(
        "principals",
        report.principals.len() as u64,
        s.principal_total as u64,
    );
    for want in &report.principals {
        let row = s
            .principals
            .iter()
            .find(|r| r.name.as_str() == want.principal);
        let Some(row) = row else {
            eprintln!("{} not shown", want.principal);
            differences += 1;
            continue;
        };
        differences += differ(&format!("{} calls", want.principal), want.events, row.calls);
        differences += differ(
            &format!("{} denied", want.principal),
            want.denied,
            row.denied,
        );
    }
    if differences == 0 {
        println!("same totals, per principal too");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
