//! A hostile or broken endpoint: the simulator answers one region's every
//! request with 200 and a body that is not JSON. kmstop must say so, name
//! the region, and end — never hang, crash, print the body's control
//! characters raw, or present the healthy region alone as the whole: the
//! report of the healthy region is printed with the failed one counted in
//! `skipped.regions_failed`, exit status 1; `tail` goes on with the
//! healthy region and says the other is failing.

// Deadlines bound the waits on real processes; the code under test still
// takes its time from a Clock.
#![allow(clippy::disallowed_methods)]

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kmstop::sim::{Faults, Scenario, Sim, SimHandle, SimOptions};

use crate::support;

/// Generous: a loaded CI machine, a debug build, SDK retries and, for a
/// region that never answers, two 30-second timeouts.
const DEADLINE: Duration = Duration::from_mins(4);

fn sim() -> SimHandle {
    sim_with(Faults {
        garbage: 1.0,
        region: Some("eu-west-1".into()),
        ..Faults::default()
    })
}

fn sim_with(faults: Faults) -> SimHandle {
    Sim::start(SimOptions {
        seed: 3,
        scenario: Scenario::Default,
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        history: Duration::from_mins(10),
        delay_min: Duration::from_secs(1),
        delay_max: Duration::from_secs(2),
        faults,
        ..SimOptions::default()
    })
    .expect("start the simulator")
}

fn kmstop(sim: &SimHandle, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kmstop"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", "simulator-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", std::env::temp_dir().join("kmstop-no-home"))
        .args(args)
        .args(["--endpoint-url", &sim.endpoint()])
        .args(["--region", "us-east-1,eu-west-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

type Output = std::thread::JoinHandle<String>;

/// Reads a child's stdout and stderr whole, each on a thread, so neither
/// pipe fills up while the test waits for the child.
fn read_outputs(child: &mut Child) -> (Output, Output) {
    fn whole(mut from: impl Read + Send + 'static) -> Output {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = from.read_to_string(&mut s);
            s
        })
    }
    (
        whole(child.stdout.take().expect("stdout")),
        whole(child.stderr.take().expect("stderr")),
    )
}

/// Runs to the end within the deadline: (status, stdout, stderr).
fn run(cmd: Command) -> (Option<i32>, String, String) {
    let (code, stdout, stderr, _) = run_watching_memory(cmd);
    (code, stdout, stderr)
}

/// As `run`, and the child's peak resident memory in KiB, as last read
/// from `/proc` before it ended (the high-water mark only grows).
fn run_watching_memory(mut cmd: Command) -> (Option<i32>, String, String, u64) {
    let mut child = cmd.spawn().expect("start kmstop");
    let (reader, err_reader) = read_outputs(&mut child);
    let started = Instant::now();
    let mut peak_kib = 0;
    let status = loop {
        peak_kib = peak_kib.max(high_water_kib(child.id()));
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err_reader.join().unwrap_or_default();
            panic!("still running after {DEADLINE:?}: a hang; stderr: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    (status.code(), stdout, stderr, peak_kib)
}

/// `VmHWM` of a running process; 0 once it is gone.
fn high_water_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_region_answering_garbage_fails_the_report_by_name() {
    let sim = sim();
    let (code, stdout, stderr) = run(kmstop(
        &sim,
        &[
            "report", "--source", "aws", "--since", "5m", "--format", "json",
        ],
    ));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "the body's escape reached the terminal: {stderr:?}"
    );
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("eu-west-1"),
        "the region is named: {stderr}"
    );
    assert!(
        stderr.contains("none of its events are in the report"),
        "what is left out is said: {stderr}"
    );
    assert_partial(&stdout);
    let (code, table, _) = run(kmstop(
        &sim,
        &["report", "--source", "aws", "--since", "5m"],
    ));
    assert_eq!(code, Some(1));
    assert!(
        table.contains("INCOMPLETE: 1 region(s) failed"),
        "the table says it is not whole: {table}"
    );
    sim.stop();
}

/// A report is printed, with us-east-1's events, and it says one region
/// is not in it.
fn assert_partial(stdout: &str) {
    let report: serde_json::Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("a JSON report on stdout ({e}): {stdout}"));
    assert_eq!(report["skipped"]["regions_failed"], 1, "{report:#}");
    let events = report["events"].as_u64().expect("events");
    assert!(events > 0, "us-east-1's events are reported: {report:#}");
}

#[test]
fn tail_says_a_region_answers_garbage_and_goes_on_with_the_other() {
    let sim = sim();
    // LookupEvents alone: the trail (its bucket answers in us-east-1)
    // would rightly bring eu-west-1's events too.
    let mut cmd = kmstop(
        &sim,
        &[
            "tail",
            "--format",
            "json",
            "--backfill",
            "5m",
            "--trail",
            "off",
        ],
    );
    let mut child = cmd.spawn().expect("start kmstop tail");
    let (lines, errs) = read_outputs(&mut child);
    // Let it sweep: the healthy region's history is printed, the other
    // region fails and is retried; then stop it as a user would.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("tail ended by itself: {status}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "tail did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = lines.join().expect("stdout");
    let stderr = errs.join().expect("stderr");
    assert!(status.code().is_some(), "ended by a signal: {status}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(
        stdout.lines().count() > 0,
        "the healthy region's events are printed; stderr: {stderr}"
    );
    assert!(
        stdout
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|v| v["region"] == "us-east-1")),
        "only us-east-1 events, each a JSON line: {stdout}"
    );
    assert!(
        stderr.contains("eu-west-1"),
        "the region is named: {stderr}"
    );
    sim.stop();
}

/// An endpoint whose `GetCallerIdentity` answers a path as the account id
/// (an escape sequence would not even be XML: the SDK refuses that
/// itself): kmstop refuses it before it names a file, says why, and writes
/// nothing anywhere.
#[test]
fn a_forged_account_id_never_names_a_file() {
    let escape = std::env::temp_dir().join(format!("kmstop-escape-{}", std::process::id()));
    let forged = format!("../../../..{}", escape.display());
    let sim = sim_with(Faults {
        forged_account: Some(forged),
        ..Faults::default()
    });
    let state = tempfile::tempdir().expect("tempdir");
    for args in [
        &["tail", "--resume", "--format", "json"][..],
        &[
            "report", "--source", "aws", "--since", "5m", "--format", "json",
        ][..],
    ] {
        let mut cmd = kmstop(&sim, args);
        cmd.env("KMSTOP_STATE_DIR", state.path());
        let (code, stdout, stderr) = run(cmd);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("not 12 digits"), "{args:?}: {stderr}");
        assert!(!stderr.contains('\u{1b}'), "{args:?}: {stderr:?}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(!escape.exists(), "{args:?} wrote {}", escape.display());
    }
    let written = support::files_under(state.path());
    assert!(written.is_empty(), "the state directory holds {written:?}");
    sim.stop();
}

/// An endpoint that never answers one region in time: its requests time
/// out (30 s each), two of them in a row fail the region, and the report
/// fails by name in about a minute, instead of retrying for half an hour
/// (it did: 60 timeouts in a row, silent).
#[test]
fn a_region_that_never_answers_fails_by_name_in_bounded_time() {
    let sim = sim_with(Faults {
        slow: 1.0,
        slow_by: Duration::from_mins(10),
        region: Some("eu-west-1".into()),
        ..Faults::default()
    });
    let started = Instant::now();
    let (code, stdout, stderr) = run(kmstop(
        &sim,
        &[
            "report", "--source", "aws", "--since", "5m", "--format", "json",
        ],
    ));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("eu-west-1"),
        "the region is named: {stderr}"
    );
    assert!(
        stderr.contains("none of its events are in the report"),
        "what is left out is said: {stderr}"
    );
    assert_partial(&stdout);
    assert!(stderr.contains("did not answer"), "{stderr}");
    // Two timeouts, not the endpoint, decided when it ended.
    assert!(
        started.elapsed() < Duration::from_mins(3),
        "{:?}",
        started.elapsed()
    );
    sim.stop();
}

/// An endpoint that answers one region with a page that never ends: the
/// SDK would hold it all in memory before parsing it. kmstop stops reading
/// at its cap on one answer, fails that region by name and does not ask
/// again; its memory stays far below what the endpoint sent.
#[test]
fn a_region_answering_without_end_fails_by_name_in_bounded_memory() {
    let sim = sim_with(Faults {
        huge: 1.0,
        region: Some("eu-west-1".into()),
        ..Faults::default()
    });
    let (code, stdout, stderr, peak_kib) = run_watching_memory(kmstop(
        &sim,
        &[
            "report", "--source", "aws", "--since", "5m", "--format", "json",
        ],
    ));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("eu-west-1") && stderr.contains("passed 32 MiB"),
        "the region and the cap are named: {stderr}"
    );
    assert_partial(&stdout);
    assert!(
        peak_kib < 200 * 1024,
        "peak resident memory {peak_kib} KiB (the cap is 32 MiB an answer)"
    );
    let huge = sim
        .requests()
        .iter()
        .filter(|r| r.fault == Some(kmstop::sim::FaultKind::Huge))
        .count();
    assert!(huge <= 2, "the endless answer was asked for {huge} times");
    sim.stop();
}

/// The trail's bucket behind a hostile endpoint: listings that are not
/// XML, then listings that never end. `report --source s3://` names the
/// bucket and why, stops reading at the cap on one answer, keeps its
/// memory far below what was sent, and prints nothing raw from the answer.
#[test]
fn a_trail_bucket_answering_garbage_or_without_end_fails_by_name() {
    let bucket = kmstop::sim::trail_bucket("111122223333");
    let source = format!("s3://{bucket}");
    for (faults, says) in [
        (
            Faults {
                garbage: 1.0,
                region: Some("us-east-1".into()),
                ..Faults::default()
            },
            "",
        ),
        (
            Faults {
                huge: 1.0,
                region: Some("us-east-1".into()),
                ..Faults::default()
            },
            "passed 32 MiB",
        ),
    ] {
        let sim = sim_with(faults);
        let (code, stdout, stderr, peak_kib) = run_watching_memory(kmstop(
            &sim,
            &[
                "report", "--source", &source, "--since", "10m", "--format", "json",
            ],
        ));
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(code, Some(1), "stderr: {stderr}");
        assert!(stdout.is_empty(), "nothing listed, no report: {stdout}");
        assert!(
            stderr.contains(&format!("s3://{bucket}/")) && stderr.contains(says),
            "the bucket and the reason are named: {stderr}"
        );
        assert!(!stderr.contains('\u{1b}'), "escaped: {stderr:?}");
        assert!(
            peak_kib < 200 * 1024,
            "peak resident memory {peak_kib} KiB (the cap is 32 MiB an answer)"
        );
        sim.stop();
    }
}
