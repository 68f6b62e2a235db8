//! The live dashboard with LookupEvents held far below the account's rate
//! and the trail beside it (the simulator's union setup): once the trail
//! has caught up, the principals pane's totals — exported with `e`, as a
//! person would — equal the simulator's ground truth exactly, principal
//! by principal: nothing lost to LookupEvents' ceiling, nothing counted
//! by both paths.

// Deadlines bound the waits on real processes.
#![allow(clippy::disallowed_methods)]

use crate::support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kmstop::clock::{Clock, SystemClock};
use support::tmux::Tmux;

use super::trail_union::union_sim;

/// The newest export's rows: principal → calls.
fn exported_calls(dir: &std::path::Path) -> Option<BTreeMap<String, u64>> {
    let newest = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("principals"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())?;
    let text = std::fs::read_to_string(newest).ok()?;
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let mut calls = BTreeMap::new();
    for row in rows.records() {
        let row = row.ok()?;
        calls.insert(row.get(0)?.to_string(), row.get(1)?.parse().ok()?);
    }
    Some(calls)
}

#[test]
fn the_dashboards_totals_equal_the_ground_truth_once_the_trail_caught_up() {
    let start = SystemClock.now();
    let until = start + chrono::Duration::seconds(30);
    let sim = union_sim(until);
    let dir = tempfile::tempdir().expect("tempdir");
    let exports = dir.path().join("exports");
    let tmux = Tmux::new("union");
    let cmd = format!(
        "env AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_EC2_METADATA_DISABLED=true HOME={dir} \
         KMSTOP_CONFIG_DIR={dir}/config {bin} --endpoint-url {endpoint} --region us-east-1 \
         --backfill 10m --poll-interval 1s --reread-after 6s,14s --export-dir {exports} \
         --log {dir}/kmstop.log",
        dir = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_kmstop"),
        endpoint = sim.endpoint(),
        exports = exports.display(),
    );
    tmux.start(200, 50, &cmd);
    tmux.wait("the trail read", |s| s.contains("trail complete to"));
    while SystemClock.now() <= until {
        std::thread::sleep(Duration::from_millis(250));
    }
    // Every event the simulator made (its history is shorter than the
    // backfill), by kmstop's principal.
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for e in sim.ground_truth("us-east-1", start - chrono::Duration::hours(1), until) {
        *want.entry(e.principal).or_default() += 1;
    }
    let total: u64 = want.values().sum();
    assert!(total > 200, "too few events to prove anything: {total}");

    // Waits for the state: export the pane until its totals are the truth
    // (the trail's last object lands `every + lag` after the traffic).
    let deadline = Instant::now() + Duration::from_mins(4);
    let mut got = None;
    while Instant::now() < deadline {
        tmux.keys(&["e"]);
        std::thread::sleep(Duration::from_millis(1500));
        got = exported_calls(&exports);
        if got.as_ref() == Some(&want) {
            break;
        }
    }
    let screen = tmux.capture();
    tmux.keys(&["q"]);
    assert_eq!(
        got.as_ref(),
        Some(&want),
        "the principals pane's totals differ from the ground truth; screen:\n{screen}"
    );
    // LookupEvents alone could not have brought them: one page of 50
    // every 10 s.
    let pages = sim
        .requests()
        .iter()
        .filter(|r| r.target.ends_with("LookupEvents") && r.status == 200)
        .count();
    assert!(
        pages * 50 < usize::try_from(total).unwrap_or(usize::MAX),
        "{pages} pages"
    );
}
