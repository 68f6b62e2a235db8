//! Store ingest (of parsed events, and of held ones as the dashboard
//! counts them) against a naive map of owned events, the refresh of
//! every pane with 1 M events in retention, and the Quota & cost pane's
//! count of the held events.

mod common;

use std::collections::HashMap;
use std::hint::black_box;

use chrono::Duration;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kmstop::app::{Action, Pane, update};
use kmstop::event::{KmsEvent, PackedEvent};
use kmstop::store::{Store, StoreConfig};

const INGEST_N: usize = 200_000;

fn ingest(c: &mut Criterion) {
    let texts = common::texts(10_000);
    let tmpl = common::templates(&texts);
    let stamps = common::stamps(INGEST_N, 0, Duration::hours(24));
    let events = common::events(&tmpl, &texts, &stamps, 0);
    let now = stamps.times[INGEST_N - 1].0;

    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(INGEST_N as u64));
    g.sample_size(10);
    let cases = [("store, ring 100k", 100_000), ("store, no ring", 0)];
    for (name, ring) in cases {
        let config = StoreConfig {
            ring_capacity: ring,
            ..StoreConfig::default()
        };
        g.bench_function(format!("{name}, one by one"), |b| {
            b.iter_batched(
                || Store::new(config.clone()),
                |mut s| {
                    for e in &events {
                        black_box(s.ingest(e, now));
                    }
                    s
                },
                BatchSize::PerIteration,
            );
        });
        g.bench_function(format!("{name}, batch"), |b| {
            b.iter_batched(
                || Store::new(config.clone()),
                |mut s| {
                    black_box(s.ingest_batch(&events, now));
                    s
                },
                BatchSize::PerIteration,
            );
        });
    }
    // The dashboard's path: held events (their records dropped, as the
    // dashboard's log drops most), counted through a view of each (as it
    // did) and in place by their shared-text numbers (as it does).
    let packed: Vec<PackedEvent> = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.raw = None;
            PackedEvent::pack(&e)
        })
        .collect();
    let no_ring = StoreConfig {
        ring_capacity: 0,
        ..StoreConfig::default()
    };
    g.bench_function("store, no ring, packed via view, one by one", |b| {
        b.iter_batched(
            || Store::new(no_ring.clone()),
            |mut s| {
                for e in &packed {
                    black_box(s.ingest(&e.view(), now));
                }
                s
            },
            BatchSize::PerIteration,
        );
    });
    g.bench_function("store, no ring, packed, one by one", |b| {
        b.iter_batched(
            || Store::new(no_ring.clone()),
            |mut s| {
                for e in &packed {
                    black_box(s.ingest_packed(e, now));
                }
                s
            },
            BatchSize::PerIteration,
        );
    });
    g.bench_function("store, no ring, packed, batch", |b| {
        b.iter_batched(
            || Store::new(no_ring.clone()),
            |mut s| {
                black_box(s.ingest_packed_batch(&packed, now));
                s
            },
            BatchSize::PerIteration,
        );
    });
    g.bench_function("naive HashMap<String, Vec<KmsEvent>>", |b| {
        b.iter_batched(
            HashMap::<String, Vec<KmsEvent<'static>>>::new,
            |mut m| {
                for e in &events {
                    m.entry(e.principal.to_string())
                        .or_default()
                        .push(e.clone().into_owned());
                }
                m
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

/// The dashboard's refresh as the product runs it: every pane's rows
/// rebuilt from the store (`App::rebuild`, what a frame after new data
/// costs before drawing), over the 15-minute window.
fn refresh(c: &mut Criterion) {
    let mut g = c.benchmark_group("refresh all panes, 1M events, 10k principals");
    g.sample_size(20);
    for (name, span) in [
        (
            "spread over 24 h",
            Duration::hours(24) - Duration::minutes(1),
        ),
        ("all in the last 15 min", Duration::minutes(15)),
    ] {
        let mut app = common::loaded_over(span);
        assert_eq!(app.data.store.total_events(), common::EVENTS as u64);
        let now = app.now;
        while app.window.label() != "15m" {
            update(&mut app, Action::CycleWindow, now);
        }
        g.bench_function(name, |b| {
            b.iter(|| {
                app.data.generation += 1;
                app.rebuild();
                black_box(app.snapshot.principals.len())
            });
        });
    }
    g.finish();
}

/// The Quota & cost pane over the 15-minute window of 1 M events, of
/// which the file dashboard's log holds the newest 400 k: counting them
/// (what a change of window, cursor or data costs while it is shown),
/// against a rebuild that keeps the answer (what anything else costs).
fn usage(c: &mut Criterion) {
    let mut g = c.benchmark_group("Quota & cost pane, 400k held events");
    g.sample_size(10);
    let mut app = common::loaded_over(Duration::minutes(15));
    let now = app.now;
    while app.window.label() != "15m" {
        update(&mut app, Action::CycleWindow, now);
    }
    update(&mut app, Action::Focus(Pane::Usage), now);
    assert_eq!(app.snapshot.usage.answer.events, 400_000);
    g.bench_function("counted again, every pane rebuilt", |b| {
        b.iter(|| {
            app.snapshot.usage = std::sync::Arc::default();
            app.rebuild();
            black_box(app.snapshot.usage.answer.quota.rows.len())
        });
    });
    g.bench_function("kept, every pane rebuilt", |b| {
        b.iter(|| {
            app.rebuild();
            black_box(app.snapshot.usage.answer.quota.rows.len())
        });
    });
    g.finish();
}

criterion_group!(benches, ingest, refresh, usage);
criterion_main!(benches);
