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

mod common;

use std::process::ExitCode;

use kmstop::report::{ReportSettings, build_report};
use kmstop::source::files::Listed;

fn main() -> ExitCode {
    let (dir, inputs) = match common::inputs("file_totals") {
        Ok(found) => found,
        Err(code) => return code,
    };
    let report = build_report(&Listed::new(&inputs), &ReportSettings::new(2), &|_| {})
        .expect("built-in rules")
        .0;

    let events = common::packed(&inputs);
    let app = common::loaded(&dir, &events);

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
