//! The hostile-input suite: every directory under `tests/hostile_cases`
//! is a case (its README says how to add one), run through the binary with
//! a deadline. Zero aborts, zero hangs, zero silent losses: each case's
//! exit status, counts and stderr are what its `expect.toml` says.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

mod support;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    exit: i32,
    events: u64,
    malformed: u64,
    #[serde(default)]
    implausible_time: u64,
    /// Checked when given.
    duplicates: Option<u64>,
    conflicting_copies: Option<u64>,
    /// The report's last event time, when the case is about time.
    to: Option<String>,
    #[serde(default)]
    stderr: Vec<String>,
}

/// No case may make `report` hold more than this (issue 12's target).
const PEAK_RSS_KB: i64 = 200 * 1024;

/// The largest peak RSS of any child this process has waited for. Cases
/// run one after another, so the first case over the limit is named.
fn peak_rss_of_children_kb() -> i64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0, |u| u.max_rss())
}

/// Generous: a loaded CI machine, a debug build.
const DEADLINE: Duration = Duration::from_mins(2);

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile_cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/hostile_cases")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn run(case: &Path) -> Result<(), String> {
    let expect: Expect = toml::from_str(
        &std::fs::read_to_string(case.join("expect.toml"))
            .map_err(|e| format!("expect.toml: {e}"))?,
    )
    .map_err(|e| format!("expect.toml: {e}"))?;
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(case)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("input"))
        })
        .collect();
    inputs.sort();
    if inputs.is_empty() {
        return Err("no input* file".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_kmstop"))
        .args(["report", "--format", "json", "--source"])
        .args(&inputs)
        .env("KMSTOP_CONFIG_DIR", dir.path())
        .env("KMSTOP_STATE_DIR", dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(&err).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| e.to_string())?;
    let started = support::tmux::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            return Err(format!("still running after {DEADLINE:?}: a hang"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let peak = peak_rss_of_children_kb();
    if peak > PEAK_RSS_KB {
        return Err(format!(
            "peak RSS {} MB, over {} MB",
            peak / 1024,
            PEAK_RSS_KB / 1024
        ));
    }
    let Some(code) = status.code() else {
        return Err(format!("ended by a signal ({status}); stderr: {stderr}"));
    };
    if stderr.contains("panicked") || stderr.contains("overflow") {
        return Err(format!("crashed: {stderr}"));
    }
    if code != expect.exit {
        return Err(format!(
            "exit {code}, expected {}; stderr: {stderr}",
            expect.exit
        ));
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).unwrap_or_default())
            .map_err(|e| format!("stdout is not the JSON report: {e}; stderr: {stderr}"))?;
    check_counts(&expect, &report)?;
    for want in &expect.stderr {
        if !stderr.contains(want.as_str()) {
            return Err(format!("stderr lacks {want:?}: {stderr}"));
        }
    }
    Ok(())
}

/// The report's counts against the case's.
fn check_counts(expect: &Expect, report: &serde_json::Value) -> Result<(), String> {
    let events = report["events"].as_u64();
    if events != Some(expect.events) {
        return Err(format!("events {events:?}, expected {}", expect.events));
    }
    let malformed = report["skipped"]["malformed"].as_u64();
    if malformed != Some(expect.malformed) {
        return Err(format!(
            "malformed {malformed:?}, expected {}",
            expect.malformed
        ));
    }
    let implausible = report["skipped"]["implausible_time"].as_u64();
    if implausible != Some(expect.implausible_time) {
        return Err(format!(
            "implausible_time {implausible:?}, expected {}",
            expect.implausible_time
        ));
    }
    for (field, want) in [
        ("duplicates", expect.duplicates),
        ("conflicting_copies", expect.conflicting_copies),
    ] {
        let got = report["skipped"][field].as_u64();
        if let Some(want) = want
            && got != Some(want)
        {
            return Err(format!("{field} {got:?}, expected {want}"));
        }
    }
    if let Some(to) = &expect.to
        && report["to"].as_str() != Some(to.as_str())
    {
        return Err(format!("to {}, expected {to}", report["to"]));
    }
    Ok(())
}

#[test]
fn every_hostile_case_is_read_as_its_expect_says() {
    let cases = cases();
    assert!(cases.len() >= 4, "the suite lost its cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run(c).err().map(|e| format!("{}: {e}", c.display())))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The measure itself works: a report process takes some memory.
    let peak = peak_rss_of_children_kb();
    assert!(
        peak > 1024,
        "peak RSS of the reports not measured: {peak} kB"
    );
    eprintln!("largest peak RSS over the cases: {} MB", peak / 1024);
}
