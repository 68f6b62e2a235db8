//! `report --source aws` over a window of many slices, against the
//! loopback simulator: the streamed sweep gives the simulator's ground
//! truth, each event once, and the very report — alerts included — that
//! the same events give from the trail's files.

// Deadlines bound the waits on real processes; the code under test still
// takes its time from a Clock.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kmstop::clock::{Clock, SystemClock};
use kmstop::sim::{Scenario, Sim, SimOptions, trail_bucket};
use serde_json::Value;

use crate::support::{json_of, kmstop_report};

/// What differs by nature between a sweep and files: what the inputs
/// were, and what files hold besides the window's KMS events.
fn without_inputs(mut report: Value) -> Value {
    report["files_read"] = Value::Null;
    for field in ["digest_files", "not_log_files", "out_of_range", "non_kms"] {
        report["skipped"][field] = Value::Null;
    }
    report
}

#[test]
fn a_window_of_many_slices_gives_the_ground_truth_and_the_trails_report() {
    let start: DateTime<Utc> = SystemClock.now();
    let regions = ["us-east-1", "eu-west-1"];
    let sim = Sim::start(SimOptions {
        seed: 5,
        // A few events a minute: hours of them are read in seconds.
        scenario: Scenario::Quiet,
        regions: regions.map(String::from).to_vec(),
        history: Duration::from_hours(3),
        events_until: Some(start),
        delay_min: Duration::from_secs(0),
        delay_max: Duration::from_secs(1),
        record_own_calls: false,
        ..SimOptions::default()
    })
    .expect("start the simulator");
    // Over two hours: slices start at minutes and stay within an hour of
    // the other region's, so each region is read in several; ending well
    // before the trail's last delivery, so its files hold the window too.
    let since = start - chrono::Duration::minutes(150) + chrono::Duration::milliseconds(300);
    let until = start - chrono::Duration::minutes(20);
    assert!(
        sim.trail_coverage().1 >= until,
        "the trail covers the window"
    );
    let home = tempfile::tempdir().expect("home");
    let endpoint = sim.endpoint();
    let window = [
        "--since",
        &since.to_rfc3339(),
        "--until",
        &until.to_rfc3339(),
        "--format",
        "json",
        "--endpoint-url",
        &endpoint,
    ];
    let swept = kmstop_report(
        home.path(),
        &[
            &["--source", "aws", "--region", &regions.join(",")],
            &window[..],
        ]
        .concat(),
    );
    assert!(swept.status.success(), "{swept:?}");
    let swept = json_of(&swept);

    let truth: Vec<_> = regions
        .iter()
        .flat_map(|region| sim.ground_truth(region, since, until))
        .collect();
    assert!(truth.len() > 500, "too few events: {}", truth.len());
    assert_eq!(swept["events"].as_u64(), Some(truth.len() as u64));
    assert_eq!(
        swept["skipped"]["duplicates"].as_u64(),
        Some(0),
        "no event read twice at a slice's edge"
    );
    let mut by_principal: BTreeMap<String, u64> = BTreeMap::new();
    for e in &truth {
        *by_principal.entry(e.principal.clone()).or_default() += 1;
    }
    let reported: BTreeMap<String, u64> = (swept["principals"].as_array().expect("principals"))
        .iter()
        .map(|p| {
            let name = p["principal"].as_str().expect("principal").to_string();
            (name, p["events"].as_u64().expect("events"))
        })
        .collect();
    assert_eq!(reported, by_principal);

    let bucket = format!("s3://{}", trail_bucket("111122223333"));
    let files = kmstop_report(home.path(), &[&["--source", &bucket], &window[..]].concat());
    assert!(files.status.success(), "{files:?}");
    let files = json_of(&files);
    assert!(
        !files["alerts"].as_array().expect("alerts").is_empty(),
        "a window with alerts: {files:#}"
    );
    assert_eq!(swept["alerts_out_of_order"].as_u64(), Some(0));
    // As before the sweep streamed: one input per region, however many
    // chunks it came in.
    assert_eq!(swept["files_read"].as_u64(), Some(regions.len() as u64));
    assert_eq!(without_inputs(swept), without_inputs(files));

    // A page holds 50 events; each slice may end on a part page.
    for region in regions {
        let events = truth.iter().filter(|e| e.region == region).count();
        let minimum = events.div_ceil(50);
        let sent = (sim.requests().iter())
            .filter(|r| {
                r.region == region && r.target.ends_with("LookupEvents") && r.error.is_none()
            })
            .count();
        assert!(
            sent <= minimum + 6,
            "{region}: {sent} requests for {events} events (minimum {minimum})"
        );
    }
    sim.stop();
}

/// A region with no event in the window is an answer, not a failure (the
/// sweep once handed the report an empty input, which failed as "not a
/// CloudTrail log").
#[test]
fn a_window_without_events_is_an_empty_report() {
    let sim = Sim::start(SimOptions {
        history: Duration::from_mins(10),
        record_own_calls: false,
        ..SimOptions::default()
    })
    .expect("start the simulator");
    let home = tempfile::tempdir().expect("home");
    let out = kmstop_report(
        home.path(),
        &[
            "--source",
            "aws",
            "--region",
            "us-east-1,eu-west-1",
            "--since",
            "5h",
            "--until",
            "4h",
            "--format",
            "json",
            "--endpoint-url",
            &sim.endpoint(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let report = json_of(&out);
    assert_eq!(report["events"].as_u64(), Some(0));
    assert_eq!(report["skipped"]["files_failed"].as_u64(), Some(0));
    sim.stop();
}
