//! Store ingest against a naive map of owned events, and the refresh of
//! every pane with 1 M events in retention.

mod common;

use std::collections::HashMap;
use std::hint::black_box;

use chrono::Duration;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kmstop::app::{Action, update};
use kmstop::event::KmsEvent;
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

criterion_group!(benches, ingest, refresh);
criterion_main!(benches);
