//! Alerts through `kmstop report`: the replay over the shipped real logs,
//! user rules from `--rules`, a bad rules file refused before any work,
//! and the alert sinks (`--alerts-log`, `--on-alert`).

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn report(args: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("kmstop")
        .arg("report")
        .arg("--source")
        .arg(fixtures().join("cloudtrail"))
        .args(args)
        // The user's own rules must not leak into the test.
        .env("KMSTOP_CONFIG_DIR", "/nonexistent/kmstop-test")
        .output()
        .expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

fn alerts(stdout: &str) -> Vec<Value> {
    let report: Value = serde_json::from_str(stdout).expect("JSON report");
    report["alerts"].as_array().expect("alerts array").clone()
}

#[test]
fn real_logs_raise_the_key_loss_alerts_in_the_contract_shape() {
    let (code, stdout, stderr) = report(&["--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let alerts = alerts(&stdout);
    for field in [
        "rule",
        "title",
        "severity",
        "group",
        "state",
        "count",
        "first",
        "last",
        "sample_event_ids",
    ] {
        assert!(alerts.iter().all(|a| a.get(field).is_some()), "{field}");
    }
    // The Panther CMK-loss samples: DisableKey and ScheduleKeyDeletion on key/1.
    let key_loss: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "kms-key-disable-or-delete")
        .filter(|a| a["group"] == "key=arn:aws:kms:us-west-2:123456789012:key/1")
        .collect();
    assert_eq!(key_loss.len(), 1, "{alerts:#?}");
    assert_eq!(key_loss[0]["count"], 2);
    // Nothing in these samples is refused: no unauthorized alert.
    assert!(!alerts.iter().any(|a| {
        a["rule"]
            .as_str()
            .is_some_and(|r| r.starts_with("unauthorized"))
    }));
}

#[test]
fn a_user_rule_fires_and_a_bad_rules_file_stops_before_any_work() {
    let valid = fixtures().join("rules/valid/every.toml");
    let (code, stdout, stderr) = report(&[
        "--format",
        "json",
        "--rules",
        valid.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let rules: Vec<String> = alerts(&stdout)
        .iter()
        .map(|a| a["rule"].to_string())
        .collect();
    let text = std::fs::read_to_string(&valid).expect("fixture");
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("id = "))
        .expect("the fixture names its rule")
        .trim_matches('"')
        .to_owned();
    assert!(
        rules.iter().any(|r| r.trim_matches('"') == id),
        "{id} not in {rules:?}"
    );

    let bad = fixtures().join("rules/invalid/bad-regex.toml");
    let (code, stdout, stderr) = report(&["--rules", bad.to_str().expect("utf-8 path")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("bad-regex.toml:"), "{stderr}");
}

#[test]
fn sinks_get_every_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("alerts.jsonl");
    let hook = dir.path().join("hook.out");
    let command = format!("cat >> '{}'", hook.display());
    let (code, stdout, stderr) = report(&[
        "--format",
        "json",
        "--alerts-log",
        log.to_str().expect("utf-8 path"),
        "--on-alert",
        &command,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let fired = alerts(&stdout).len();
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .expect("log written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    // Every alert fired at least once; resolved ones also logged that.
    assert!(
        lines.len() >= fired,
        "{} lines for {fired} alerts",
        lines.len()
    );
    assert!(
        lines
            .iter()
            .all(|l| l["seen"].is_string() && l["rule"].is_string())
    );
    let ran = std::fs::read_to_string(&hook).expect("hook ran");
    assert!(ran.lines().count() >= 1);
    assert!(
        ran.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
}
