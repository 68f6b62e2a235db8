//! Sigma rules through the binary: `kmstop report --rules rule.yml` fires a
//! `SigmaHQ` `CloudTrail` rule exactly on its positive scenario file and never
//! on its negative one, and `kmstop rules --check` says which rules load
//! and why the others are refused (non-KMS `eventSource`, unread fields,
//! unsupported modifiers, other logsources, broken YAML).

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

fn sigma() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigma")
}

fn kmstop(args: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("kmstop")
        .args(args)
        .env("KMSTOP_CONFIG_DIR", "/nonexistent/kmstop-test")
        .output()
        .expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

fn path(name: &str) -> String {
    sigma().join(name).display().to_string()
}

/// The alerts of `rule_id` a report over `events` raises: (count, severity).
fn fired(events: &str, rules: &str, rule_id: &str) -> Vec<(u64, String, Value)> {
    let events = path(&format!("events/{events}"));
    let rules = path(rules);
    let (code, stdout, stderr) = kmstop(&[
        "report", "--source", &events, "--rules", &rules, "--format", "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON report");
    report["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["rule"] == rule_id)
        .map(|a| {
            (
                a["count"].as_u64().expect("count"),
                a["severity"].as_str().expect("severity").to_owned(),
                a["references"].clone(),
            )
        })
        .collect()
}

#[test]
fn sigmahq_kms_rule_fires_on_imported_key_material_only() {
    let id = "1279262f-1464-422f-ac0d-5b545320c526";
    let rule = "aws_kms_import_key_material.yml";
    let hits = fired("import_key_material.positive.json", rule, id);
    // ImportKeyMaterial and a denied DeleteImportedKeyMaterial, one key.
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!((hits[0].0, hits[0].1.as_str()), (2, "high"));
    let refs = hits[0].2.to_string();
    assert!(
        refs.contains("Sigma 1279262f") && refs.contains("attack.t1486"),
        "{refs}"
    );
    assert!(fired("import_key_material.negative.json", rule, id).is_empty());
}

#[test]
fn sigmahq_root_credentials_rule_fires_on_root_calls_only() {
    let id = "8ad1600d-e9dc-4251-b0ee-a65268f29add";
    let rule = "aws_root_account_usage.yml";
    let hits = fired("root_usage.positive.json", rule, id);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!((hits[0].0, hits[0].1.as_str()), (1, "medium"));
    // An assumed role, and root behind an AwsServiceEvent: neither.
    assert!(fired("root_usage.negative.json", rule, id).is_empty());
}

#[test]
fn a_file_with_refused_rules_still_runs_the_others() {
    let id = "6f1c1d52-8a3e-4c1e-9a57-3f0b7b3c2a11";
    let rule = "kmstop_mixed.yml";
    let hits = fired("external_deletion.positive.json", rule, id);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].1, "critical");
    // Inside 10/8, not an IAM user, not ScheduleKeyDeletion: none fires.
    assert!(fired("external_deletion.negative.json", rule, id).is_empty());
    let (code, _, stderr) = kmstop(&[
        "report",
        "--source",
        &path("events/external_deletion.positive.json"),
        "--rules",
        &path(rule),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stderr.matches("kmstop: rule not loaded:").count(),
        4,
        "{stderr}"
    );
}

#[test]
fn check_lists_loaded_and_refused_rules_with_their_reasons() {
    let (code, stdout, stderr) = kmstop(&["rules", "--check", &path("kmstop_mixed.yml")]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("loaded 6f1c1d52-8a3e-4c1e-9a57-3f0b7b3c2a11"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 Sigma rules loaded, 4 refused"),
        "{stdout}"
    );
    for expected in [
        "kmstop_mixed.yml:23:1: rule \"Base64 user agent\": userAgent: the modifier |base64 is not supported",
        "rule \"Windows process\": logsource: logsource is windows/process_creation, not AWS CloudTrail",
        "kmstop_mixed.yml:44:1: rule \"Key policy body\": requestParameters.foo: kmstop does not read requestParameters.foo",
        "rule \"Keywords only\": detection: keyword lists",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    let (code, stdout, stderr) =
        kmstop(&["rules", "--check", &path("aws_kms_import_key_material.yml")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("1 Sigma rules loaded, 0 refused, OK"),
        "{stdout}"
    );
}

#[test]
fn sigmahq_rules_for_other_services_are_refused_with_the_reason() {
    for (file, reason) in [
        (
            "aws_cloudtrail_disable_logging.yml",
            "eventSource: the rule matches only events from cloudtrail.amazonaws.com; kmstop reads only kms.amazonaws.com events",
        ),
        (
            "aws_susp_saml_activity.yml",
            "only events from iam.amazonaws.com, sts.amazonaws.com",
        ),
        (
            "aws_ec2_startup_script_change.yml",
            "requestParameters.attribute: kmstop does not read requestParameters.attribute",
        ),
    ] {
        let (code, stdout, stderr) = kmstop(&["rules", "--check", &path(file)]);
        assert_eq!(code, 1, "{file}: {stdout}");
        assert!(stderr.contains(reason), "{file}: {stderr}");
        assert!(
            stdout.contains("0 Sigma rules loaded, 1 refused"),
            "{stdout}"
        );
    }
}

#[test]
fn broken_yaml_names_file_and_line_and_stops_the_run() {
    let bad = path("kmstop_bad.yml");
    let (code, _, stderr) = kmstop(&["rules", "--check", &bad]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("kmstop_bad.yml:4:3: YAML parse error"),
        "{stderr}"
    );
    let (code, stdout, stderr) = kmstop(&[
        "report",
        "--source",
        &path("events/root_usage.positive.json"),
        "--rules",
        &bad,
    ]);
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("kmstop_bad.yml:4:3"), "{stderr}");
}

#[test]
fn rules_lists_sigma_rules_with_their_file() {
    let rule = path("aws_kms_import_key_material.yml");
    let (code, stdout, stderr) = kmstop(&["rules", "--rules", &rule, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Value = serde_json::from_str(&stdout).expect("json");
    let row = rows
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["id"] == "1279262f-1464-422f-ac0d-5b545320c526")
        .expect("listed");
    assert_eq!(row["source"], rule.as_str());
    assert_eq!(row["kind"], "every");
    assert_eq!(row["title"], "AWS KMS Imported Key Material Usage");
}
