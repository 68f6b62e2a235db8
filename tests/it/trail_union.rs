//! LookupEvents and the trail together (`tail --trail auto`, the default)
//! against the simulator, with LookupEvents held far below the account's
//! rate: after the trail catches up, `tail` has printed every event of the
//! window exactly once — none lost to LookupEvents' ceiling, none doubled
//! by the two paths — and every request it sent was a read.

// Deadlines bound the waits on real processes; the code under test still
// takes its time from a Clock.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kmstop::clock::{Clock, SystemClock};
use kmstop::sim::{READ_ONLY_TARGETS, Rate, Scenario, Sim, SimOptions, TrailDelivery};

fn now() -> DateTime<Utc> {
    SystemClock.now()
}

/// A running `kmstop tail`, its stdout lines and stderr read as they come.
pub(crate) struct Run {
    child: std::process::Child,
    pub(crate) lines: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Run {
    fn start(endpoint: &str, state: &std::path::Path, resume: bool) -> Self {
        let mut command = tail_command(state);
        command.args(["--endpoint-url", endpoint]);
        command.args(resume.then_some("--resume"));
        Self::spawn(command)
    }

    /// Runs `command` (a [`tail_command`] with its endpoint and flags).
    pub(crate) fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kmstop tail");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (sink, err_sink) = (Arc::clone(&lines), Arc::clone(&err));
        let readers = vec![
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    sink.lock().expect("lock").push(line);
                }
            }),
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut err = err_sink.lock().expect("lock");
                    err.push_str(&line);
                    err.push('\n');
                }
            }),
        ];
        Self {
            child,
            lines,
            err,
            readers,
        }
    }

    /// Waits for the state, not a time: `count` distinct events from
    /// `from` printed (the trail's last object lands `every + lag` after
    /// the traffic ends), or a generous deadline.
    pub(crate) fn wait_for(&self, from: DateTime<Utc>, count: usize) {
        let deadline = Instant::now() + Duration::from_mins(4);
        loop {
            let got = printed(&self.lines.lock().expect("lock"), from);
            let distinct: std::collections::HashSet<&String> = got.iter().collect();
            if distinct.len() >= count || Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub(crate) fn stderr(&self) -> String {
        self.err.lock().expect("lock").clone()
    }

    /// SIGTERM, as a service manager would (the checkpoint is saved);
    /// every line printed, and stderr.
    pub(crate) fn stop(mut self) -> (Vec<String>, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().expect("wait");
        for r in std::mem::take(&mut self.readers) {
            r.join().expect("reader");
        }
        let err = self.stderr();
        assert!(status.success(), "kmstop tail exited with {status}: {err}");
        let lines = self.lines.lock().expect("lock").clone();
        (lines, err)
    }
}

/// The ids of the printed events at or after `from`.
pub(crate) fn printed(lines: &[String], from: DateTime<Utc>) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let time: DateTime<Utc> = v["time"].as_str()?.parse().ok()?;
            (time >= from).then(|| v["event_id"].as_str().map(str::to_string))?
        })
        .collect()
}

fn successful_lookups(sim: &kmstop::sim::SimHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.target.ends_with("LookupEvents") && r.status == 200)
        .count()
}

#[test]
fn tail_with_the_trail_prints_every_event_once_beyond_lookup_events_ceiling() {
    let start = now();
    let until = start + chrono::Duration::seconds(30);
    let sim = union_sim(until);
    let state = tempfile::tempdir().expect("state dir");
    let run = Run::start(&sim.endpoint(), state.path(), false);

    // The truth: every event from a little after tail's backfill start
    // (tail starts after `start`) to the end of the traffic, once the
    // traffic has ended.
    let from = start - chrono::Duration::minutes(3) + chrono::Duration::seconds(10);
    let want = truth_after(&sim, from, until);
    run.wait_for(from, want.len());
    // Two more LookupEvents pages: a copy the two paths both deliver
    // would show by then.
    let lookups = successful_lookups(&sim);
    let deadline = Instant::now() + Duration::from_mins(2);
    while successful_lookups(&sim) < lookups + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    let (lines, err) = run.stop();
    let first = printed(&lines, from);
    assert_each_once(&first, &want, &err);

    // LookupEvents alone could not have brought them: at most 50 a page.
    let lookups = successful_lookups(&sim);
    assert!(
        lookups * 50 < want.len(),
        "{lookups} LookupEvents pages could hold every one of {} events: the trail proved nothing",
        want.len()
    );
    assert!(err.contains("reading the trail at s3://"), "{err}");

    // Across a restart: the resumed tail reads the trail again and pages
    // LookupEvents again, and prints nothing it printed before.
    let run = Run::start(&sim.endpoint(), state.path(), true);
    let lookups = successful_lookups(&sim);
    let deadline = Instant::now() + Duration::from_mins(3);
    while (!run.stderr().contains("reading the trail at") || successful_lookups(&sim) < lookups + 2)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(250));
    }
    let (lines, err) = run.stop();
    assert!(err.contains("reading the trail at s3://"), "{err}");
    let mut all = first;
    all.extend(printed(&lines, from));
    assert_each_once(&all, &want, &err);

    let requests = sim.requests();
    let gets = requests
        .iter()
        .filter(|r| r.target == "S3.GetObject")
        .count();
    assert!(gets > 0, "no trail object was read");
    for r in &requests {
        assert!(
            READ_ONLY_TARGETS.contains(&r.target.as_str()),
            "{} is not on the read-only allow-list",
            r.target
        );
    }
}

/// Waits for the traffic to end at `until`, then the ids of its events
/// from `from` on, sorted.
pub(crate) fn truth_after(
    sim: &kmstop::sim::SimHandle,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<String> {
    while now() <= until {
        std::thread::sleep(Duration::from_millis(250));
    }
    let mut want: Vec<String> = sim
        .ground_truth("us-east-1", from, until)
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    want.sort();
    want
}

/// One region, its traffic ending at `until`, LookupEvents held to one
/// page every 10 s, the trail delivered every 10 s, 3 s late.
pub(crate) fn union_sim(until: DateTime<Utc>) -> kmstop::sim::SimHandle {
    let delivery = TrailDelivery {
        every: chrono::Duration::seconds(10),
        lag: chrono::Duration::seconds(3),
    };
    Sim::start(SimOptions {
        seed: 5,
        scenario: Scenario::Default,
        regions: vec!["us-east-1".into()],
        history: Duration::from_mins(2),
        events_until: Some(until),
        delay_min: Duration::from_secs(1),
        delay_max: Duration::from_secs(5),
        // One page every 10 s: 5 events a second at most.
        lookup_rate: Some(Rate {
            per_second: 0.1,
            burst: 1.0,
        }),
        record_own_calls: false,
        trail_delivery: delivery,
        ..SimOptions::default()
    })
    .expect("start the simulator")
}

/// `kmstop tail` of the union's region, without its endpoint.
pub(crate) fn tail_command(state: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kmstop"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", "simulator-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", std::env::temp_dir().join("kmstop-no-home"))
        .env("KMSTOP_STATE_DIR", state)
        .args([
            "tail",
            "--region",
            "us-east-1",
            "--backfill",
            "3m",
            "--poll-interval",
            "1s",
            "--reread-after",
            "6s,14s",
        ]);
    command
}

pub(crate) fn assert_each_once(got: &[String], want: &[String], err: &str) {
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for id in got {
        *counts.entry(id).or_default() += 1;
    }
    let doubled: Vec<_> = counts.iter().filter(|&(_, n)| *n > 1).collect();
    assert!(doubled.is_empty(), "printed twice: {doubled:?}\n{err}");
    let missing: Vec<&String> = want
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} events missing, e.g. {:?}\n{err}",
        missing.len(),
        want.len(),
        &missing[..missing.len().min(5)]
    );
    let extra = got.len() - want.len();
    assert_eq!(
        extra, 0,
        "events printed that the simulator does not hold\n{err}"
    );
}
