//! Resident memory of a store holding 1 M events in retention with a full
//! 100 k ring. Run: `cargo run --release --example store_memory` (under
//! `/usr/bin/time -v` for the peak). Prints the RSS before and after
//! filling, read from `/proc/self/statm` (Linux), and how much record text
//! the ring holds. `RING=0` turns the ring off, `RAW=N` sets how many ring
//! events keep their record (default `StoreConfig::raw_capacity`).

#[path = "../benches/common/mod.rs"]
mod common;

use chrono::Duration;
use kmstop::store::{Dim, Store, StoreConfig};

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn main() {
    let texts = common::texts(10_000);
    let tmpl = common::templates(&texts);
    let n = 1_000_000;
    let chunk = 50_000;
    let span = Duration::hours(24) - Duration::minutes(1);
    let now = common::start() + span;
    let before = rss_mib();
    // `RING=0` separates the ring's share from the counting structures.
    let ring_capacity = std::env::var("RING")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100_000);
    // `RAW=N` sets how many of the newest ring events keep their record.
    let raw_capacity = std::env::var("RAW")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(StoreConfig::default().raw_capacity);
    let mut store = Store::new(StoreConfig {
        ring_capacity,
        raw_capacity,
        ..StoreConfig::default()
    });
    for k in 0..n / chunk {
        // Stamps for this chunk only, so the input never holds 1 M events.
        let s = common::stamps_slice(n, k * chunk, chunk, span);
        let ev = common::events(&tmpl, &texts, &s, k * chunk);
        store.ingest_batch(&ev, now);
    }
    let (with_raw, raw) = store
        .recent()
        .filter_map(|e| e.view().raw_json().map(str::len))
        .fold((0, 0), |(n, bytes), len| (n + 1, bytes + len));
    println!(
        "events in retention {}, ring {}, principals {}, keys {}, buckets {}",
        store.total_events(),
        store.recent_len(),
        store.cardinality(Dim::Principal),
        store.cardinality(Dim::Key),
        store.bucket_count()
    );
    println!(
        "raw JSON held by the ring: {:.1} MiB, for the newest {with_raw} events",
        f64::from(u32::try_from(raw >> 10).unwrap_or(u32::MAX)) / 1024.0
    );
    println!("RSS before {before:.1} MiB, after {:.1} MiB", rss_mib());
}
