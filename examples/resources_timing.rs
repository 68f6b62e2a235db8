//! How long the Resources pane ("who decrypted what?") takes once a corpus
//! is loaded (issue 17: every investigation view in ≤ 100 ms on the 300 k
//! corpus). Loads DIR as the file dashboard does, the whole range in
//! view, then times: the refresh that first builds the pane, a refresh
//! with nothing changed (the table is reused), each sort, a resource's
//! drill-down and its busiest caller's:
//!
//! ```sh
//! cargo run --release --example resources_timing -- /tmp/res-k1
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
    let r = &app.snapshot.resources;
    println!(
        "{ms:>9.2} ms  {what} ({} resources, {} rows)",
        r.total,
        r.rows.len()
    );
    ms
}

fn main() -> ExitCode {
    let mut app = match common::loaded_from_args("resources_timing") {
        Ok(app) => app,
        Err(code) => return code,
    };
    let now = app.now;
    common::whole_range(&mut app);
    println!("{} events held", app.data.log.len());
    let mut worst: f64 = 0.0;
    worst = worst.max(timed("focus Resources (first build)", &mut app, |a| {
        update(a, Action::Focus(Pane::Resources), now);
    }));
    timed("refresh, nothing changed", &mut app, App::rebuild);
    for i in 0..7 {
        worst = worst.max(timed(&format!("sort {i}"), &mut app, |a| {
            update(a, Action::CycleSort, now);
        }));
    }
    worst = worst.max(timed("drill into the top resource", &mut app, |a| {
        update(a, Action::Top, now);
        update(a, Action::Enter, now);
    }));
    if let Some(d) = &app.snapshot.drill {
        println!(
            "           {}: {} callers, {} keys, {} events",
            d.title.chars().take(60).collect::<String>(),
            d.callers.len(),
            d.keys.len(),
            d.events.len()
        );
    }
    worst = worst.max(timed("Enter on its busiest caller", &mut app, |a| {
        update(a, Action::Enter, now);
    }));
    if let Some(d) = &app.snapshot.drill {
        println!(
            "           {}: {} resources ({} more calls)",
            d.title.chars().take(60).collect::<String>(),
            d.resources.len(),
            d.resource_other
        );
    }
    for w in ["1h", "15m"] {
        // Each step onto the next window is a key press of its own
        // (`update` refreshes); the one onto `w` is what is timed.
        app.drills.clear();
        let ms = loop {
            let start = Instant::now();
            update(&mut app, Action::CycleWindow, now);
            app.refresh();
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            if app.window.label() == w {
                break ms;
            }
        };
        let r = &app.snapshot.resources;
        println!(
            "{ms:>9.2} ms  window {w} ({} resources, {} rows)",
            r.total,
            r.rows.len()
        );
        worst = worst.max(ms);
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
