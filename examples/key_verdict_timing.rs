//! How long the key drill-down's answer to "is this key safe to delete?"
//! takes once a corpus is loaded (issue 17: every investigation view in
//! ≤ 100 ms on the 300 k corpus). Loads DIR as the file dashboard does,
//! then opens the drill-down of every key, the whole range in view, and
//! times each refresh that builds it (verdict, principals, events):
//!
//! ```sh
//! cargo run --release --example key_verdict_timing -- /tmp/k1
//! ```
// A timing tool: it reads the wall clock on purpose.
#![allow(clippy::disallowed_methods)]

mod common;

use std::process::ExitCode;
use std::time::Instant;

use kmstop::app::{Action, Pane, update};

fn main() -> ExitCode {
    let mut app = match common::loaded_from_args("key_verdict_timing") {
        Ok(app) => app,
        Err(code) => return code,
    };
    let now = app.now;
    // The whole range: the widest window, the most to count and scan.
    common::whole_range(&mut app);
    update(&mut app, Action::Focus(Pane::Keys), now);
    app.refresh();
    let keys = app.snapshot.keys.len();
    let mut times = Vec::with_capacity(keys);
    for i in 0..keys {
        update(&mut app, Action::Focus(Pane::Keys), now);
        update(&mut app, Action::Top, now);
        for _ in 0..i {
            update(&mut app, Action::Down, now);
        }
        app.refresh();
        // Enter builds the drill-down's rows (the refresh after it finds
        // them current): time both.
        let start = Instant::now();
        update(&mut app, Action::Enter, now);
        app.refresh();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let verdict = app
            .snapshot
            .drill
            .as_ref()
            .and_then(|d| d.verdict.as_ref())
            .map_or_else(|| "no verdict".to_owned(), |v| v.headline.clone());
        println!("{:>8.2} ms  {}", times[i], verdict);
        update(&mut app, Action::Back, now);
    }
    times.sort_by(f64::total_cmp);
    if let (Some(median), Some(worst)) = (times.get(times.len() / 2), times.last()) {
        println!(
            "{} keys over {} events: median {median:.2} ms, worst {worst:.2} ms",
            keys, app.data.events_seen
        );
    }
    ExitCode::SUCCESS
}
