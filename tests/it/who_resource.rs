//! `--who resource:…`, "who decrypted this secret / bucket / table?",
//! through the binary: exactly the calls whose encryption context names
//! the resource (counted here from the records written, not by kmstop),
//! in every format; and each resources row's top callers.

use crate::support;

use serde_json::{Value, json};
use support::{json_of, kmstop_report};

fn report(source: &std::path::Path, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().expect("home");
    let mut all = vec!["--source", source.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    kmstop_report(home.path(), &all)
}

fn record(id: usize, name: &str, principal: &str, context: &Value, denied: bool) -> Value {
    let mut r = json!({
        "eventVersion": "1.08",
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "eventTime": format!("2025-05-20T10:{:02}:{:02}Z", id / 60 % 60, id % 60),
        "eventID": format!("ev-{id}"),
        "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "sourceIPAddress": "203.0.113.9",
        "userIdentity": { "type": "AssumedRole", "accountId": "111122223333",
            "arn": format!("arn:aws:sts::111122223333:assumed-role/{principal}/s"),
            "sessionContext": { "sessionIssuer": { "arn": format!("arn:aws:iam::111122223333:role/{principal}") } } },
        "requestParameters": {
            "keyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "encryptionContext": context,
        },
    });
    if denied {
        r["errorCode"] = json!("AccessDenied");
    }
    r
}

const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";

/// One context of every service shape, each called on by a few roles
/// (role `rN` for the Nth, with varying counts), plus calls the
/// selectors must leave out: another secret whose ARN starts with this
/// one's, a bucket whose name starts with the bucket's, a call that is
/// not a data call, a data call without a context.
fn contexts() -> Vec<(Value, &'static str)> {
    vec![
        (
            json!({"SecretARN": SECRET, "SecretVersionId": "v1"}),
            SECRET,
        ),
        (
            json!({"SecretARN": format!("{SECRET}-old")}),
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf-old",
        ),
        (
            json!({"aws:s3:arn": "arn:aws:s3:::payroll/2025/05.csv"}),
            "arn:aws:s3:::payroll/2025/05.csv",
        ),
        (
            json!({"aws:s3:arn": "arn:aws:s3:::payroll/2024/12.csv"}),
            "arn:aws:s3:::payroll/2024/12.csv",
        ),
        (
            json!({"aws:s3:arn": "arn:aws:s3:::payroll"}),
            "arn:aws:s3:::payroll",
        ),
        (
            json!({"aws:s3:arn": "arn:aws:s3:::payroll-old/2025/05.csv"}),
            "arn:aws:s3:::payroll-old/2025/05.csv",
        ),
        (
            json!({"aws:dynamodb:tableName": "Orders", "aws:dynamodb:subscriberId": "111122223333"}),
            "Orders",
        ),
        (
            json!({"aws:ebs:id": "vol-0123456789abcdef0"}),
            "vol-0123456789abcdef0",
        ),
        (
            json!({"aws:lambda:FunctionArn": "arn:aws:lambda:us-east-1:111122223333:function:pay"}),
            "arn:aws:lambda:us-east-1:111122223333:function:pay",
        ),
        (
            json!({"PARAMETER_ARN": "arn:aws:ssm:us-east-1:111122223333:parameter/db/password"}),
            "arn:aws:ssm:us-east-1:111122223333:parameter/db/password",
        ),
        (
            json!({"aws:cloudtrail:arn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org", "aws:s3:arn": "arn:aws:s3:::trail-bucket/AWSLogs/x.json.gz"}),
            "arn:aws:cloudtrail:us-east-1:111122223333:trail/org",
        ),
        (
            json!({"aws:rds:db-id": "db-ABCDEFGHIJKLMNOP"}),
            "db-ABCDEFGHIJKLMNOP",
        ),
        (
            json!({"aws:logs:arn": "arn:aws:logs:us-east-1:111122223333:log-group:app"}),
            "arn:aws:logs:us-east-1:111122223333:log-group:app",
        ),
        (
            json!({"aws:sqs:arn": "arn:aws:sqs:us-east-1:111122223333:jobs"}),
            "arn:aws:sqs:us-east-1:111122223333:jobs",
        ),
        (
            json!({"aws:sns:topicArn": "arn:aws:sns:us-east-1:111122223333:alerts"}),
            "arn:aws:sns:us-east-1:111122223333:alerts",
        ),
        (json!({"Project": "x"}), "Project=x"),
    ]
}

/// A call as written: its event id, the resource it names (`None` when
/// it is not a data call), its role and whether it was denied.
struct Written {
    id: String,
    resource: Option<&'static str>,
    role: String,
    denied: bool,
}

/// The log, and what it holds.
fn corpus(dir: &std::path::Path) -> (std::path::PathBuf, Vec<Written>) {
    let mut records = Vec::new();
    let mut written = Vec::new();
    let mut id = 0;
    for (n, (context, name)) in contexts().into_iter().enumerate() {
        // Context n is called by roles r0..r(n % 7 + 1), role i i+1 times;
        // every third call of r1 denied.
        for role in 0..=(n % 7 + 1) {
            for call in 0..=role {
                let role_name = format!("r{role}");
                let denied = role == 1 && call % 3 == 0;
                let event = if (id + n) % 2 == 0 {
                    "Decrypt"
                } else {
                    "GenerateDataKey"
                };
                records.push(record(id, event, &role_name, &context, denied));
                written.push(Written {
                    id: format!("ev-{id}"),
                    resource: Some(name),
                    role: role_name,
                    denied,
                });
                id += 1;
            }
        }
        // Not a data call, though it carries the context.
        records.push(record(id, "CreateGrant", "r0", &context, false));
        written.push(Written {
            id: format!("ev-{id}"),
            resource: None,
            role: "r0".into(),
            denied: false,
        });
        id += 1;
    }
    records.push(record(id, "Decrypt", "r0", &json!({}), false));
    written.push(Written {
        id: format!("ev-{id}"),
        resource: None,
        role: "r0".into(),
        denied: false,
    });
    let file = dir.join("log.json");
    std::fs::write(&file, json!({ "Records": records }).to_string()).expect("log");
    (file, written)
}

/// The event ids a selector must select, by the test's own reading.
fn expected_ids(written: &[Written], selects: impl Fn(&str) -> bool) -> Vec<String> {
    let mut ids: Vec<String> = written
        .iter()
        .filter(|w| w.resource.is_some_and(&selects))
        .map(|w| w.id.clone())
        .collect();
    ids.sort();
    ids
}

fn selected_ids(r: &Value) -> Vec<String> {
    let mut ids: Vec<String> = r["who"]["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["event_id"].as_str().expect("event id").to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn each_resource_selects_exactly_the_calls_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    let (file, written) = corpus(dir.path());
    let total = written.len() as u64;
    // Every resource by its id (the bucket's below: it is its objects too).
    let mut cases: Vec<(String, Vec<String>)> = contexts()
        .into_iter()
        .filter(|(_, name)| *name != "arn:aws:s3:::payroll")
        .map(|(_, name)| (name.to_owned(), expected_ids(&written, |r| r == name)))
        .collect();
    // S3: a bucket is its objects and its Bucket Key's context; a prefix
    // its objects only.
    cases.push((
        "s3://payroll".into(),
        expected_ids(&written, |r| {
            r == "arn:aws:s3:::payroll" || r.starts_with("arn:aws:s3:::payroll/")
        }),
    ));
    cases.push((
        "arn:aws:s3:::payroll".into(),
        expected_ids(&written, |r| {
            r == "arn:aws:s3:::payroll" || r.starts_with("arn:aws:s3:::payroll/")
        }),
    ));
    cases.push((
        "s3://payroll/2025/".into(),
        expected_ids(&written, |r| r.starts_with("arn:aws:s3:::payroll/2025/")),
    ));
    cases.push(("s3://nothing-here".into(), Vec::new()));
    for (wanted, ids) in &cases {
        let selector = format!("resource:{wanted}");
        let r = json_of(&report(&file, &["--format", "json", "--who", &selector]));
        assert_eq!(r["who"]["selectors"], json!([selector]));
        assert_eq!(selected_ids(&r), *ids, "{selector}");
        assert_eq!(r["events"], ids.len() as u64, "{selector}");
        assert_eq!(
            r["who"]["other_events"],
            total - ids.len() as u64,
            "{selector}"
        );
        // The calls come with who made them, on which key and how.
        for call in r["who"]["calls"].as_array().expect("calls") {
            let w = written
                .iter()
                .find(|w| w.id == call["event_id"])
                .expect("written");
            assert!(
                call["principal"]
                    .as_str()
                    .expect("principal")
                    .ends_with(&format!("role/{}", w.role))
            );
            assert_eq!(call["outcome"] == "denied", w.denied, "{call}");
            assert!(
                call["key_arn"]
                    .as_str()
                    .is_some_and(|k| k.contains(":key/"))
            );
        }
    }
    assert!(cases.iter().all(|(_, ids)| ids.len() < 60), "all listed");
}

#[test]
fn the_selection_reads_in_every_format() {
    let dir = tempfile::tempdir().expect("dir");
    let (file, written) = corpus(dir.path());
    let ids = expected_ids(&written, |r| r == SECRET);
    let elsewhere = &written.last().expect("calls").id;
    let selector = format!("resource:{SECRET}");
    let table = report(&file, &["--who", &selector]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(&format!("ONLY the calls of {selector}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("CALLS ({}, in time order)", ids.len())),
        "{text}"
    );
    let csv = report(
        &file,
        &["--who", &selector, "--format", "csv", "--section", "calls"],
    );
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert_eq!(csv.lines().count(), ids.len() + 1, "{csv}");
    for format in ["html", "md"] {
        let out = report(&file, &["--who", &selector, "--format", format]);
        let page = String::from_utf8_lossy(&out.stdout);
        // Markdown escapes the `-`.
        let shown = |id: &str| {
            if format == "md" {
                id.replace('-', "\\-")
            } else {
                id.to_owned()
            }
        };
        for id in &ids {
            assert!(page.contains(&shown(id)), "{format}: {id}");
        }
        assert!(
            !page.contains(&shown(elsewhere)),
            "{format}: only the selection"
        );
    }
}

/// Each resources row names its busiest callers with their calls and
/// denied calls, and how many more there were, as the records say.
#[test]
fn resource_rows_name_their_top_callers() {
    let dir = tempfile::tempdir().expect("dir");
    let (file, written) = corpus(dir.path());
    let r = json_of(&report(&file, &["--format", "json"]));
    let rows = r["resources"].as_array().expect("resources");
    assert_eq!(rows.len(), contexts().len());
    for row in rows {
        let name = row["resource"].as_str().expect("name");
        let mut by_role = std::collections::BTreeMap::<&str, (u64, u64)>::default();
        for w in written.iter().filter(|w| w.resource == Some(name)) {
            let c = by_role.entry(w.role.as_str()).or_default();
            c.0 += 1;
            c.1 += u64::from(w.denied);
        }
        let mut expected: Vec<(String, u64, u64)> = by_role
            .iter()
            .map(|(role, (calls, denied))| {
                (
                    format!("arn:aws:iam::111122223333:role/{role}"),
                    *calls,
                    *denied,
                )
            })
            .collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let more = expected.len().saturating_sub(5) as u64;
        expected.truncate(5);
        let got: Vec<(String, u64, u64)> = row["top_callers"]
            .as_array()
            .expect("top callers")
            .iter()
            .map(|c| {
                (
                    c["principal"].as_str().expect("principal").to_owned(),
                    c["calls"].as_u64().expect("calls"),
                    c["denied"].as_u64().expect("denied"),
                )
            })
            .collect();
        assert_eq!(got, expected, "{name}");
        assert_eq!(row["more_callers"], more, "{name}");
        assert_eq!(row["callers_sampled"], false, "{name}");
    }
    let table = report(&file, &["--section", "resources"]);
    let text = String::from_utf8_lossy(&table.stdout);
    // Wrapped to the width: the words are checked where nothing wraps.
    assert!(text.contains("top callers"), "{text}");
    let csv = report(&file, &["--format", "csv", "--section", "resources"]);
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.ends_with(",top_callers,more_callers,callers_sampled")),
        "{csv}"
    );
    assert!(
        csv.contains("arn:aws:iam::111122223333:role/r1=2/1"),
        "{csv}"
    );
    let md = report(&file, &["--format", "md"]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("top callers") && md.contains("and 3 more"),
        "{md}"
    );
}

/// Past 32 callers a row says its top callers are a sample's, and the
/// same sample for any split of the files between threads.
#[test]
fn many_callers_are_a_sample_said_so() {
    let dir = tempfile::tempdir().expect("dir");
    let context = json!({"SecretARN": SECRET});
    for part in 0..4 {
        let records: Vec<Value> = (0..50)
            .map(|i| record(part * 50 + i, "Decrypt", &format!("p{i}"), &context, false))
            .collect();
        std::fs::write(
            dir.path().join(format!("log{part}.json")),
            json!({ "Records": records }).to_string(),
        )
        .expect("log");
    }
    let one = json_of(&report(dir.path(), &["--format", "json", "--threads", "1"]));
    let four = json_of(&report(dir.path(), &["--format", "json", "--threads", "4"]));
    let row = &one["resources"][0];
    assert_eq!(row["principals"], 50);
    assert_eq!(row["callers_sampled"], true);
    assert_eq!(row["top_callers"].as_array().map(Vec::len), Some(5));
    assert_eq!(row["more_callers"], 45);
    assert!(
        row["top_callers"]
            .as_array()
            .expect("callers")
            .iter()
            .all(|c| c["calls"] == 4)
    );
    assert_eq!(one["resources"], four["resources"]);
    let md = String::from_utf8_lossy(&report(dir.path(), &["--format", "md"]).stdout).into_owned();
    assert!(
        md.contains("and 45 more") && md.contains("of a sample of 32 callers"),
        "{md}"
    );
}

#[test]
fn the_fixtures_resources_select_their_own_calls() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail");
    let whole = json_of(&report(&fixtures, &["--format", "json"]));
    let rows = whole["resources"].as_array().expect("resources");
    assert!(rows.len() >= 4, "{rows:#?}");
    for row in rows {
        let name = row["resource"].as_str().expect("name");
        // A bucket is its objects too.
        let expected: u64 = if row["bucket_key"] == true {
            rows.iter()
                .filter(|o| {
                    o["resource"]
                        .as_str()
                        .is_some_and(|n| n == name || n.starts_with(&format!("{name}/")))
                })
                .map(|o| o["calls"].as_u64().expect("calls"))
                .sum()
        } else {
            row["calls"].as_u64().expect("calls")
        };
        let selector = format!("resource:{name}");
        let r = json_of(&report(
            &fixtures,
            &["--format", "json", "--who", &selector],
        ));
        assert_eq!(
            r["who"]["calls"].as_array().map(Vec::len),
            Some(usize::try_from(expected).expect("n")),
            "{selector}"
        );
        // The selection's own resources section is that resource's.
        let own = r["resources"].as_array().expect("resources");
        assert_eq!(
            own.iter()
                .map(|o| o["calls"].as_u64().expect("calls"))
                .sum::<u64>(),
            expected,
            "{selector}"
        );
        if row["bucket_key"] == false {
            assert_eq!(own.len(), 1, "{selector}");
            assert_eq!(own[0]["top_callers"], row["top_callers"], "{selector}");
        }
    }
}

#[test]
fn bad_resource_selectors_are_refused_by_flag_and_value() {
    let dir = tempfile::tempdir().expect("dir");
    let (file, _) = corpus(dir.path());
    for (value, says) in [
        ("resource:", "empty selector"),
        ("resource:  ", "empty selector"),
        ("resource:s3://", "names no bucket"),
        ("resources:x", "unknown selector kind"),
    ] {
        let out = report(&file, &["--who", value]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {err}");
        assert!(
            err.contains("--who") && err.contains(value.trim()) && err.contains(says),
            "{value}: {err}"
        );
    }
    let long = format!("resource:{}", "x".repeat(600));
    let out = report(&file, &["--who", &long]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 512 bytes"));
}

/// Athena cannot select by resource: the report, its `--dry-run` and the
/// dashboard refuse the selector by name rather than select nothing.
#[test]
fn athena_refuses_a_resource_selector_by_name() {
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
            "--dry-run",
            "--who",
            "resource:s3://payroll/2025/",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--who resource:s3://payroll/2025/") && err.contains("Athena"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = support::kmstop_offline(home.path())
        .args([
            "--source",
            "athena://security/cloudtrail_org",
            "--since",
            "2026-11-30",
            "--until",
            "2026-12-01",
            "--dry-run",
            "--who",
            "session:a",
            "--who",
            "resource:Orders",
        ])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--who resource:Orders") && err.contains("Athena"),
        "{err}"
    );
}
