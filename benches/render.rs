//! One full dashboard frame at 200×60 (all five panes in the grid): the
//! view model rebuilt from a store holding 1 M events of 10 k principals
//! over a day, then drawn into a buffer. Also the frame that reuses the
//! view model (a selection move), and the 15-minute window.

mod common;

use std::hint::black_box;

use common::{EVENTS, loaded};
use criterion::{Criterion, criterion_group, criterion_main};
use kmstop::app::{Action, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn frame(c: &mut Criterion) {
    let mut app = loaded();
    assert_eq!(app.data.store.total_events(), EVENTS as u64);
    assert!(app.data.store.cardinality(kmstop::store::Dim::Principal) >= 9_000);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let mut g = c.benchmark_group("frame 200x60, 1M events, 10k principals");
    g.sample_size(20);
    g.bench_function("window all: view model + draw", |b| {
        b.iter(|| {
            app.rebuild();
            terminal.draw(|f| kmstop::ui::draw(f, &app)).expect("draws");
            black_box(terminal.backend().buffer().area);
        });
    });
    g.bench_function("draw only (view model reused)", |b| {
        b.iter(|| {
            terminal.draw(|f| kmstop::ui::draw(f, &app)).expect("draws");
            black_box(terminal.backend().buffer().area);
        });
    });
    let now = app.now;
    for _ in 0..3 {
        update(&mut app, Action::CycleWindow, now);
    }
    assert_eq!(app.window.label(), "15m");
    g.bench_function("window 15m: view model + draw", |b| {
        b.iter(|| {
            app.rebuild();
            terminal.draw(|f| kmstop::ui::draw(f, &app)).expect("draws");
            black_box(terminal.backend().buffer().area);
        });
    });
    g.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
