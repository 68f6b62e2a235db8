//! `tail --trail-logs auto` against the simulator, through the real SDK's
//! `StartLiveTail` event stream: Live Tail and a LookupEvents held far
//! below the account's rate together print every event once; above 500
//! events a second Live Tail samples, and kmstop says so.

// Deadlines bound the waits on real processes.
#![allow(clippy::disallowed_methods)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use kmstop::clock::{Clock, SystemClock};
use kmstop::sim::{READ_ONLY_TARGETS, Scenario, Sim, SimOptions};

use super::trail_union::{Run, assert_each_once, printed, tail_command, truth_after, union_sim};

fn wait_stderr(run: &Run, what: &str) {
    let deadline = Instant::now() + Duration::from_mins(3);
    while !run.stderr().contains(what) {
        assert!(
            Instant::now() < deadline,
            "no {what:?} on stderr:\n{}",
            run.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `tail` with Live Tail beside LookupEvents and no S3 trail.
fn tail_live_tail_only(sim: &kmstop::sim::SimHandle, state: &std::path::Path) -> Run {
    let mut command = tail_command(state);
    command.args([
        "--endpoint-url",
        &sim.endpoint(),
        "--trail",
        "off",
        "--trail-logs",
        "auto",
    ]);
    Run::spawn(command)
}

#[test]
fn live_tail_and_lookup_events_print_every_event_once() {
    let start = SystemClock.now();
    let until = start + chrono::Duration::seconds(30);
    let sim = union_sim(until);
    let state = tempfile::tempdir().expect("state dir");
    let run = tail_live_tail_only(&sim, state.path());
    wait_stderr(&run, "with Live Tail");
    // Every event after the session started reaches it (ingested after).
    let from = SystemClock.now() + chrono::Duration::seconds(1);
    assert!(from < until, "the session started after the traffic ended");
    let want = truth_after(&sim, from, until);
    assert!(!want.is_empty());
    run.wait_for(from, want.len());
    let (lines, err) = run.stop();
    assert_each_once(&printed(&lines, from), &want, &err);
    let requests = sim.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.target == "Logs_20140328.StartLiveTail" && r.status == 200),
        "no Live Tail session"
    );
    for r in &requests {
        assert!(
            READ_ONLY_TARGETS.contains(&r.target.as_str()),
            "{} is not on the read-only allow-list",
            r.target
        );
    }
}

#[test]
fn a_sampling_live_tail_is_said_and_doubles_nothing() {
    let sim = Sim::start(SimOptions {
        seed: 8,
        scenario: Scenario::Busy,
        busy_rate: 1_500.0,
        regions: vec!["us-east-1".into()],
        history: Duration::from_secs(0),
        delay_min: Duration::from_secs(1),
        delay_max: Duration::from_secs(2),
        logs_lag: chrono::Duration::seconds(1),
        ..SimOptions::default()
    })
    .expect("start the simulator");
    let state = tempfile::tempdir().expect("state dir");
    let run = tail_live_tail_only(&sim, state.path());
    wait_stderr(
        &run,
        "Live Tail is sampling (more than 500 events a second)",
    );
    let (lines, err) = run.stop();
    let ids = printed(&lines, SystemClock.now() - chrono::Duration::hours(1));
    let distinct: HashSet<&String> = ids.iter().collect();
    assert!(ids.len() > 500, "{} events printed\n{err}", ids.len());
    assert_eq!(distinct.len(), ids.len(), "an event printed twice\n{err}");
}
