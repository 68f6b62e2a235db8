//! `kmstop report --source athena://…` through the binary and the real
//! SDK path, against the Athena stand-in: kmstop's SQL is parsed by
//! sqlglot's Athena dialect, transpiled to DuckDB's and run by DuckDB over
//! the generated corpus loaded with the CloudTrail `SerDe`'s columns. The
//! report must equal `kmstop report` over the same files, field for field,
//! alerts included, on the account and organization trail layouts, with
//! hostile strings in the data; what Athena cannot know is listed, and
//! every failure says what to do.

use crate::support;

use std::path::Path;
use std::time::Duration;

use kmstop::synth::{CorpusSpec, write_corpus};
use serde_json::Value;

use support::athena::{AthenaDuck, AthenaOptions, Layout};
use support::{json_of, kmstop_offline, kmstop_report};

/// What a report over Athena cannot know (its `skipped.not_known`), and
/// `files_read`: left out of the comparison.
const NOT_KNOWN: [&str; 5] = [
    "non_kms",
    "files_failed",
    "not_log_files",
    "digest_files",
    "not_known",
];

fn athena_report(athena: &AthenaDuck, source: &str, flags: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().expect("home");
    // Every day the table holds: a scan kmstop makes only when bounded.
    let bound: &[&str] = if flags.contains(&"--since") || flags.contains(&"--max-scanned") {
        &[]
    } else {
        &["--max-scanned", "1TB"]
    };
    kmstop_offline(home.path())
        .args(["report", "--source", source, "--format", "json"])
        .args([
            "--athena-region",
            "us-east-1",
            "--endpoint-url",
            &athena.endpoint,
        ])
        .args(flags)
        .args(bound)
        .timeout(Duration::from_mins(10))
        .output()
        .expect("kmstop runs")
}

/// Fails naming every field where the two reports differ.
fn assert_same(athena: &Value, local: &Value, also_skip: &[&str]) {
    let mut differences = Vec::new();
    for (field, value) in local.as_object().expect("report object") {
        match field.as_str() {
            "files_read" => {}
            "skipped" => {
                for (name, count) in value.as_object().expect("skipped") {
                    if !NOT_KNOWN.contains(&name.as_str())
                        && !also_skip.contains(&name.as_str())
                        && athena["skipped"][name] != *count
                    {
                        differences.push(format!(
                            "skipped.{name}: athena {} local {count}",
                            athena["skipped"][name]
                        ));
                    }
                }
            }
            _ if athena[field] != *value => differences.push(format!(
                "{field}:\n athena {}\n local  {}",
                athena[field]
                    .to_string()
                    .chars()
                    .take(400)
                    .collect::<String>(),
                value.to_string().chars().take(400).collect::<String>()
            )),
            _ => {}
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert!(
        local["events"].as_u64().unwrap_or(0) > 0,
        "an empty corpus proves nothing"
    );
}

fn corpus(seed: u64) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("corpus dir");
    let spec = CorpusSpec::small(seed);
    let account = spec.accounts[0].clone();
    write_corpus(dir.path(), &spec).expect("corpus written");
    (dir, account)
}

fn local(path: &Path, flags: &[&str]) -> Value {
    let home = tempfile::tempdir().expect("home");
    let path = path.to_str().expect("utf-8 path");
    let mut args = vec!["--source", path, "--format", "json"];
    args.extend_from_slice(flags);
    json_of(&kmstop_report(home.path(), &args))
}

#[test]
fn the_report_from_athena_equals_the_local_report_on_both_trail_layouts() {
    let (dir, account) = corpus(16);
    let logs = dir.path().join("AWSLogs");
    let athena = AthenaDuck::start(
        &[
            ("security.org", &logs, Layout::Org),
            ("security.acct", &logs.join(&account), Layout::Account),
        ],
        &AthenaOptions::default(),
    );
    let out = athena_report(&athena, "athena://security/org", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Athena scanned"), "{stderr}");
    let org = json_of(&out);
    assert_same(&org, &local(&logs, &[]), &[]);
    assert!(
        org["alerts"].as_array().is_some_and(|a| !a.is_empty()),
        "the corpus fires alerts"
    );
    assert!(
        org["skipped"]["not_known"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );

    let out = athena_report(&athena, "athena://security/acct", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same(&json_of(&out), &local(&logs.join(&account), &[]), &[]);
    // One query per report: one scan of the table.
    assert_eq!(athena.queries().len(), 2, "{:?}", athena.queries());

    // First-seen alerts come from each group's first sighting only: with
    // a learning period short enough to fire on this corpus, they must
    // be the local replay's, to the sample event ids.
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[override]]\nid = \"first-seen-principal-on-key\"\nlearning = \"5m\"\n",
    )
    .expect("rules file");
    let rules = rules.to_str().expect("utf-8 path");
    let out = athena_report(&athena, "athena://security/org", &["--rules", rules]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let with_first_seen = json_of(&out);
    assert_same(&with_first_seen, &local(&logs, &["--rules", rules]), &[]);
    let first_seen = with_first_seen["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["rule"] == "first-seen-principal-on-key")
        .count();
    assert!(
        first_seen > 0,
        "the first-seen rule fires: {with_first_seen}"
    );
    assert!(
        athena
            .queries()
            .last()
            .is_some_and(|q| q.contains("AS first_") && q.contains(" = 1)")),
        "the first-seen rule is pushed down as first sightings"
    );
}

#[test]
fn a_window_an_account_and_a_region_are_partition_predicates() {
    let (dir, account) = corpus(17);
    let logs = dir.path().join("AWSLogs");
    let athena = AthenaDuck::start(
        &[("security.org", &logs, Layout::Org)],
        &AthenaOptions::default(),
    );
    let local_all = local(&logs, &[]);
    let time = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(local_all[field].as_str().expect("a time"))
            .expect("RFC 3339")
    };
    // The second half of the corpus's time, in its first account's first region.
    let since = (time("from") + (time("to") - time("from")) / 2).to_rfc3339();
    let region = std::fs::read_dir(logs.join(&account).join("CloudTrail"))
        .expect("the account's regions")
        .flatten()
        .map(|e| e.path())
        .min()
        .expect("a region");
    let region_name = region
        .file_name()
        .and_then(|n| n.to_str())
        .expect("region name")
        .to_owned();
    let flags = [
        "--since",
        &since,
        "--account",
        &account,
        "--region",
        &region_name,
    ];
    let out = athena_report(&athena, "athena://security/org", &flags);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Athena reads only the partitions asked for, so it sees fewer events
    // out of range than a local run over every file: not compared.
    assert_same(
        &json_of(&out),
        &local(&region, &["--since", &since]),
        &["out_of_range"],
    );
    let sql = athena.queries().pop().expect("a query ran");
    assert!(sql.contains(&format!("account IN ('{account}')")), "{sql}");
    assert!(
        sql.contains(&format!("region IN ('{region_name}')")),
        "{sql}"
    );
    assert!(sql.contains("\"timestamp\" >= '"), "{sql}");

    // The table says what this source cannot count instead of zeros.
    let home = tempfile::tempdir().expect("home");
    let out = kmstop_offline(home.path())
        .args([
            "report",
            "--source",
            "athena://security/org",
            "--format",
            "table",
        ])
        .args(["--max-scanned", "1TB"])
        .args([
            "--athena-region",
            "us-east-1",
            "--endpoint-url",
            &athena.endpoint,
        ])
        .timeout(Duration::from_mins(10))
        .output()
        .expect("kmstop runs");
    let table = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
    assert!(table.contains("Not known to this source"), "{table}");
    assert!(!table.contains("Read 0 files"), "{table}");
}

#[test]
fn failures_say_what_to_do() {
    let (dir, account) = corpus(18);
    let logs = dir.path().join("AWSLogs");
    let athena = AthenaDuck::start(
        &[("security.acct", &logs.join(&account), Layout::Account)],
        &AthenaOptions {
            workgroups: vec![("no-output".into(), None)],
            ..AthenaOptions::default()
        },
    );
    let cases: [(&str, &[&str], &str); 4] = [
        ("athena://security/missing", &[], "kmstop athena ddl"),
        (
            "athena://security/acct",
            &["--workgroup", "nope"],
            "does not exist (--workgroup)",
        ),
        (
            "athena://security/acct",
            &["--workgroup", "no-output"],
            "--athena-output",
        ),
        (
            "athena://security/acct",
            &["--account", "111122223333"],
            "leave out --account",
        ),
    ];
    for (source, flags, says) in cases {
        let out = athena_report(&athena, source, flags);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{source} {flags:?}: {stderr}");
        assert!(stderr.contains(says), "{source} {flags:?}: {stderr}");
        assert!(out.stdout.is_empty(), "no report printed");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let denied = AthenaDuck::start(
        &[("security.acct", &logs.join(&account), Layout::Account)],
        &AthenaOptions {
            deny: vec!["StartQueryExecution".into()],
            ..AthenaOptions::default()
        },
    );
    let out = athena_report(&denied, "athena://security/acct", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("athena:StartQueryExecution"), "{stderr}");
    assert!(stderr.contains("IAM for Athena"), "{stderr}");
}

#[test]
fn bad_addresses_and_mixed_sources_are_usage_errors() {
    let home = tempfile::tempdir().expect("home");
    for (args, says) in [
        (vec!["--source", "athena://db"], "not an athena://"),
        (vec!["--source", "athena://db/t'x"], "not a Glue name"),
        (
            vec!["--source", "athena://db/t", "./logs"],
            "cannot be mixed",
        ),
        (
            vec!["--source", "./logs", "--dry-run"],
            "--dry-run needs an athena:// source",
        ),
        (
            vec!["--source", "athena://db/t", "--max-scanned", "lots"],
            "not a size",
        ),
    ] {
        let out = kmstop_report(home.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn the_dry_run_sql_is_stable() {
    let home = tempfile::tempdir().expect("home");
    let out = kmstop_report(
        home.path(),
        &[
            "--source",
            "athena://security/cloudtrail_org",
            "--since",
            "2026-09-01",
            "--until",
            "2026-12-01",
            "--account",
            "111122223333",
            "--region",
            "eu-west-1",
            "--dry-run",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_query_past_max_scanned_is_stopped() {
    let (dir, account) = corpus(19);
    let logs = dir.path().join("AWSLogs");
    let athena = AthenaDuck::start(
        &[("security.acct", &logs.join(&account), Layout::Account)],
        &AthenaOptions {
            // Long enough to be seen running, whatever the machine's load.
            delay: Some(Duration::from_mins(5)),
            ..AthenaOptions::default()
        },
    );
    let out = athena_report(&athena, "athena://security/acct", &["--max-scanned", "1KB"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--max-scanned allows 1000 bytes"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no report printed");
    let stopped = athena
        .log()
        .iter()
        .filter(|entry| entry["operation"] == "StopQueryExecution")
        .count();
    assert_eq!(stopped, 1, "{:?}", athena.log());
}

/// User rules that count: a threshold of denied calls grouped by region
/// and event name (its buckets read the next one too) and a spike by
/// error code and account.
const COUNTING_RULES: &str = r#"
[[rule]]
id = "regional-burst"
title = "regional burst"
severity = "low"
kind = "threshold"
count = 15
window = "2m"
group_by = ["region", "event_name"]
match = { outcomes = ["denied"] }

[[rule]]
id = "error-spike"
title = "error spike"
severity = "low"
kind = "spike"
window = "5m"
baseline = "1h"
factor = 3.0
minimum = 10
group_by = ["error_code", "principal_account"]
match = { outcomes = ["denied", "error"] }

# The built-in learns for 24 h, as long as this day: learning for a minute,
# it judges the day's habits (applications that sometimes send no context)
# and fires, so the counted stretches are checked against the local replay.
[[override]]
id = "kms-decrypt-without-context"
learning = "1m"
"#;

#[test]
fn counting_rules_come_back_as_counts_and_alert_as_locally() {
    let dir = tempfile::tempdir().expect("corpus dir");
    let spec = CorpusSpec {
        kms_events: 25_000,
        duration: chrono::Duration::hours(24),
        ..CorpusSpec::small(20)
    };
    write_corpus(dir.path(), &spec).expect("corpus written");
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, COUNTING_RULES).expect("rules file");
    let rules = rules.to_str().expect("utf-8 path");
    let logs = dir.path().join("AWSLogs");
    let athena = AthenaDuck::start(
        &[("security.org", &logs, Layout::Org)],
        &AthenaOptions::default(),
    );
    let out = athena_report(&athena, "athena://security/org", &["--rules", rules]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report = json_of(&out);
    let local = local(&logs, &["--rules", rules]);
    assert_same(&report, &local, &[]);
    let fired: Vec<&str> = local["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["rule"].as_str())
        .collect();
    for rule in [
        "unauthorized-decrypt-spike",
        "unauthorized-spike-by-key",
        "regional-burst",
        "error-spike",
        "kms-decrypt-without-context",
    ] {
        assert!(fired.contains(&rule), "{rule} fires locally: {fired:?}");
    }
    // Every successful Decrypt matches the Decrypt-volume spike and the
    // habit of contexts: counted per bucket and per stretch, they come
    // back as a few thousand rows, not as 25,000 events. (The resources
    // section adds one row per listed caller of each resource, and one
    // for the resources not listed.)
    let rows: u64 = stderr
        .split("answered with ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the row count on stderr");
    let resource_rows: u64 = local["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["top_callers"].as_array().map_or(0, Vec::len) as u64)
        .sum::<u64>()
        + u64::from(local["resources_other"].as_u64() > Some(0));
    assert!(
        rows - resource_rows < 25_000 / 3,
        "{rows} rows, {resource_rows} of them resources': {stderr}"
    );
    assert!(!stderr.contains("came back whole"), "{stderr}");
    let sql = athena.queries().last().cloned().unwrap_or_default();
    assert!(sql.contains("AS counted_0_back"), "{sql}");
}

#[test]
fn a_large_answer_names_the_rules_that_need_each_event() {
    let dir = tempfile::tempdir().expect("corpus dir");
    let spec = CorpusSpec {
        kms_events: 25_000,
        ..CorpusSpec::small(20)
    };
    write_corpus(dir.path(), &spec).expect("corpus written");
    // A rule for every Decrypt needs every one of them whole.
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"every-decrypt\"\ntitle = \"t\"\nseverity = \"info\"\n\
         kind = \"every\"\nmatch = { event_names = [\"Decrypt\"] }\n",
    )
    .expect("rules file");
    let rules = rules.to_str().expect("utf-8 path");
    let logs = dir.path().join("AWSLogs");
    let athena = AthenaDuck::start(
        &[("security.org", &logs, Layout::Org)],
        &AthenaOptions::default(),
    );
    let out = athena_report(&athena, "athena://security/org", &["--rules", rules]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("came back whole for the alert rules, most for every-decrypt"),
        "{stderr}"
    );
    assert_same(&json_of(&out), &local(&logs, &["--rules", rules]), &[]);
}
