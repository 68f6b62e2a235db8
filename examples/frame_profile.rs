//! The render benchmark's frame in a plain loop, for a profiler: loads the
//! same 1 M events of 10 k principals, then rebuilds the view model and
//! draws a 200×60 frame for `SECS` seconds (default 5) per window and
//! prints the mean (`SPAN=15m`: the events in the last 15 minutes;
//! `DRAW=0`: the rebuild alone). Run:
//! `cargo build --profile bench --example frame_profile` then
//! `perf record -g <target>/release/examples/frame_profile` (`WINDOWS=all`
//! or `WINDOWS=15m,1h` picks the windows).

// A profiling loop times itself: it is outside the app, which takes its
// time from a clock.
#![allow(clippy::disallowed_methods)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use kmstop::app::{Action, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let secs: u64 = std::env::var("SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let windows = std::env::var("WINDOWS").unwrap_or_else(|_| "all,15m,1h".into());
    let t0 = Instant::now();
    // SPAN=15m: every event in the last 15 minutes (the burst case).
    let span = std::env::var("SPAN")
        .ok()
        .and_then(|s| kmstop::timespec::parse_age(&s))
        .unwrap_or_else(|| chrono::Duration::hours(24));
    // DRAW=0: the view model's rebuild alone, what the refresh bench times.
    let draw = std::env::var("DRAW").map_or(true, |v| v != "0");
    let mut app = common::loaded_over(span);
    eprintln!("loaded in {:.1} s", t0.elapsed().as_secs_f64());
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    for label in windows.split(',') {
        let now = app.now;
        for _ in 0..6 {
            if app.window.label() == label {
                break;
            }
            update(&mut app, Action::CycleWindow, now);
        }
        let start = Instant::now();
        let mut n = 0u32;
        while start.elapsed() < Duration::from_secs(secs) {
            app.rebuild();
            if draw {
                terminal
                    .draw(|f| {
                        let _ = kmstop::ui::draw(f, &app, &kmstop::ui::theme::Theme::default());
                    })
                    .expect("draws");
            }
            std::hint::black_box(terminal.backend().buffer().area);
            n += 1;
        }
        let mean = start.elapsed().as_secs_f64() * 1e3 / f64::from(n);
        println!("window {label}: {mean:.2} ms per frame ({n} frames)");
    }
}
