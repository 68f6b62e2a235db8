//! How long the Quota & cost pane takes once a corpus is loaded (issue
//! 17: every investigation view in ≤ 100 ms on the 300 k corpus). Loads
//! DIR as the file dashboard does, the whole range in view, then times:
//! the refresh that first counts the pane, a refresh with nothing changed
//! (the answer is kept), each sort, a filter, moving the selection, and
//! narrower windows and a window back (each counted again):
//!
//! ```sh
//! cargo run --release --example usage_pane_timing -- /tmp/k1
//! ```
// A timing tool: it reads the wall clock on purpose.
#![allow(clippy::disallowed_methods)]

mod common;

use std::process::ExitCode;
use std::time::Instant;

use kmstop::app::{Action, App, Pane, update};

fn timed(what: &str, app: &mut App, f: impl FnOnce(&mut App)) -> f64 {
    let start = Instant::now();
    f(app);
    app.refresh();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let u = &app.snapshot.usage;
    let a = &u.answer;
    println!(
        "{ms:>9.2} ms  {what} ({} events, {} quota rows shown, {} principals, {} keys{})",
        a.events,
        u.quota_rows.len(),
        u.principals.len(),
        u.keys.len(),
        a.coverage
            .note()
            .map(|n| format!("; {n}"))
            .unwrap_or_default()
    );
    ms
}

fn main() -> ExitCode {
    let mut app = match common::loaded_from_args("usage_pane_timing") {
        Ok(app) => app,
        Err(code) => return code,
    };
    let now = app.now;
    common::whole_range(&mut app);
    println!("{} events held", app.data.log.len());
    breakdown(&app);
    let mut worst: f64 = 0.0;
    worst = worst.max(timed("focus Quota & cost (first count)", &mut app, |a| {
        update(a, Action::Focus(Pane::Usage), now);
    }));
    timed("refresh, nothing changed", &mut app, App::rebuild);
    for i in 0..5 {
        worst = worst.max(timed(&format!("sort {i}"), &mut app, |a| {
            update(a, Action::CycleSort, now);
        }));
    }
    worst = worst.max(timed("down a row", &mut app, |a| {
        update(a, Action::Down, now);
    }));
    for w in ["24h", "1h", "15m"] {
        worst = worst.max(timed(&format!("window {w}"), &mut app, |a| {
            while a.window.label() != w {
                update(a, Action::CycleWindow, now);
            }
        }));
        worst = worst.max(timed(
            &format!("window {w}, a window back"),
            &mut app,
            |a| {
                update(a, Action::TimeBack, now);
            },
        ));
    }
    println!("worst {worst:.2} ms");
    ExitCode::SUCCESS
}

/// What a count is made of, over every held event: reading the fields,
/// the tally, and its two answers.
fn breakdown(app: &App) {
    let t = Instant::now();
    let held: Vec<_> = app
        .data
        .log
        .range(
            chrono::DateTime::<chrono::Utc>::MIN_UTC,
            chrono::DateTime::<chrono::Utc>::MAX_UTC,
        )
        .collect();
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    println!("{:>9.2} ms  range of {}", ms(t), held.len());
    let t = Instant::now();
    let mut n = 0usize;
    for e in &held {
        n += e.event.call_fields().principal.len();
    }
    println!("{:>9.2} ms  call_fields ({n})", ms(t));
    let t = Instant::now();
    for e in &held {
        n += e.event.view().principal.len();
    }
    println!("{:>9.2} ms  view ({n})", ms(t));
    let t = Instant::now();
    let mut tally = kmstop::aggregate::usage::UsageTally::default();
    for e in &held {
        tally.count_call(&e.event.call_fields());
    }
    println!("{:>9.2} ms  tally", ms(t));
    let settings = kmstop::aggregate::usage::UsageSettings::default();
    let t = Instant::now();
    let q = tally.quota(&settings);
    println!("{:>9.2} ms  quota ({} rows)", ms(t), q.rows.len());
    let t = Instant::now();
    let c = tally.cost(&settings);
    println!(
        "{:>9.2} ms  cost ({} principals)",
        ms(t),
        c.principals.len()
    );
}
