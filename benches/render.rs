//! One full dashboard frame at 200×60 (all five panes in the grid): the
//! view model rebuilt from a store holding 1 M events of 10 k principals
//! over a day, then drawn into a buffer, for the windows `all`, 15m and
//! 1h. "view model + draw" rebuilds every row (as a key press that
//! changes the view does); "after new data" also marks the data changed
//! first, so nothing keyed on it is reused (as while events stream in).
//! Also the frame that reuses the view model (a selection move).

mod common;

use std::hint::black_box;

use common::{EVENTS, loaded};
use criterion::{Criterion, criterion_group, criterion_main};
use kmstop::app::{Action, App, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn frame(c: &mut Criterion) {
    let mut app = loaded();
    assert_eq!(app.data.store.total_events(), EVENTS as u64);
    assert!(app.data.store.cardinality(kmstop::store::Dim::Principal) >= 9_000);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let mut g = c.benchmark_group("frame 200x60, 1M events, 10k principals");
    g.sample_size(20);
    let mut draw = |app: &mut App, new_data: bool| {
        if new_data {
            app.data.generation += 1;
        }
        app.rebuild();
        terminal
            .draw(|f| {
                let _ = kmstop::ui::draw(f, app, &kmstop::ui::theme::Theme::default());
            })
            .expect("draws");
        black_box(terminal.backend().buffer().area);
    };
    for label in ["all", "15m", "1h"] {
        let now = app.now;
        while app.window.label() != label {
            update(&mut app, Action::CycleWindow, now);
        }
        g.bench_function(format!("window {label}: view model + draw"), |b| {
            b.iter(|| draw(&mut app, false));
        });
        g.bench_function(
            format!("window {label}: view model + draw after new data"),
            |b| {
                b.iter(|| draw(&mut app, true));
            },
        );
    }
    g.bench_function("draw only (view model reused)", |b| {
        b.iter(|| {
            terminal
                .draw(|f| {
                    let _ = kmstop::ui::draw(f, &app, &kmstop::ui::theme::Theme::default());
                })
                .expect("draws");
            black_box(terminal.backend().buffer().area);
        });
    });
    g.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
