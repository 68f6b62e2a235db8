//! The `resources` section pushed down to Athena: over a trail with a
//! context of every shape the file report reads (each service's key, the
//! most specific of several, S3 objects and Bucket Keys, contexts no
//! service names, values that are not strings, empty ones, quotes,
//! backslashes, control characters, 2-, 3- and 4-byte characters, names
//! and principals past their byte caps with a character astride the cut),
//! ties among callers, a resource with more callers than the sample
//! follows, denied calls, calls that are not data calls, and a copied log
//! file, the report from the Athena stand-in (kmstop's SQL read by
//! sqlglot's Athena dialect, run by `DuckDB`) has the `resources` and
//! `resources_other` of `kmstop report` over the same files, to the byte,
//! with and without `--who`.

use crate::support;

use std::path::Path;

use serde_json::{Value, json};

use support::athena::{AthenaDuck, AthenaOptions, Layout, report_json};

const ACCOUNT: &str = "111122223333";

fn key(n: u32) -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/aaaaaaaa-0000-4000-8000-{n:012}")
}

/// A data call (or not) by `principal` with `context` as the record's
/// `encryptionContext` (any JSON value).
struct Call {
    name: &'static str,
    principal: String,
    context: Option<Value>,
    key: Option<String>,
    denied: bool,
}

fn record(i: usize, c: &Call) -> Value {
    let mut request = json!({});
    if let Some(k) = &c.key {
        request["keyId"] = json!(k);
    }
    if let Some(ctx) = &c.context {
        request["encryptionContext"] = ctx.clone();
    }
    let mut r = json!({
        "eventVersion": "1.08",
        "eventTime": format!("2025-05-20T10:{:02}:{:02}Z", (i / 60) % 60, i % 60),
        "eventSource": "kms.amazonaws.com",
        "eventName": c.name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.0.7",
        "userAgent": "aws-sdk-go/1.44",
        "eventID": format!("00000000-0000-4000-8000-{i:012}"),
        "eventType": "AwsApiCall",
        "readOnly": true,
        "recipientAccountId": ACCOUNT,
        "userIdentity": {"type": "IAMUser", "arn": c.principal, "accountId": ACCOUNT},
        "requestParameters": request,
    });
    if c.denied {
        r["errorCode"] = json!("AccessDenied");
        r["errorMessage"] = json!("not allowed");
    }
    r
}

fn user(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

/// Long texts whose byte caps fall inside a multi-byte character.
fn long(head: &str, unit: &str, len: usize) -> String {
    let mut s = head.to_owned();
    while s.len() < len {
        s.push_str(unit);
    }
    s
}

/// The contexts; see the module doc.
fn contexts() -> Vec<Value> {
    let secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbC";
    vec![
        json!({"SecretARN": secret, "SecretVersionId": "v1"}),
        json!({"aws:s3:arn": "arn:aws:s3:::b/AWSLogs/x.json.gz",
               "aws:cloudtrail:arn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/t"}),
        json!({"PARAMETER_ARN": "arn:aws:ssm:us-east-1:111122223333:parameter/db/pw"}),
        json!({"aws:lambda:FunctionArn": "arn:aws:lambda:us-east-1:111122223333:function:f"}),
        json!({"aws:dynamodb:tableName": "Orders", "aws:dynamodb:subscriberId": "1"}),
        json!({"aws:ebs:id": "vol-0123456789abcdef0"}),
        json!({"aws:rds:db-id": "db-ABCDEFGHIJKL"}),
        json!({"aws:logs:arn": "arn:aws:logs:us-east-1:111122223333:log-group:g"}),
        json!({"aws:sqs:arn": "arn:aws:sqs:us-east-1:111122223333:q"}),
        json!({"aws:sns:topicArn": "arn:aws:sns:us-east-1:111122223333:t"}),
        json!({"aws:workmail:arn": "arn:aws:workmail:us-east-1:111122223333:organization/m"}),
        json!({"aws:s3:arn": "arn:aws:s3:::reports/2025/q1.csv"}),
        json!({"aws:s3:arn": "arn:aws:s3:::reports"}),
        // A known key whose value is not a string: the next one names it.
        json!({"SecretARN": 5, "aws:s3:arn": "arn:aws:s3:::reports"}),
        json!({"SecretARN": ""}),
        json!({"Department": "10", "Project": "x"}),
        // The first string pair after values that are not strings.
        json!({"n": 1, "f": 1.5e3, "b": true, "z": null, "o": {"a": "}\"{", "b": 2},
               "l": ["]", 1], "k\"\\ey\u{1}": "v'a\\l\"ue é"}),
        json!({"only": 7}),
        json!({}),
        json!("not an object"),
        json!(["SecretARN", "x"]),
        json!({"SecretARN": "o'brien\"; -- \\ \u{7} 秘密 🔑"}),
        json!({"SecretARN": long("arn:aws:secretsmanager:", "é🔑秘", 2_000)}),
        json!({"SecretARN": long("arn:aws:secretsmanager:", "é🔑秘", 2_100)}),
        json!({"aws:s3:arn": long("arn:aws:s3:::big/", "a", 510) + "ééé"}),
        json!({long("k", "秘", 600): long("v", "é", 600)}),
    ]
}

/// The calls; see the module doc.
fn calls() -> Vec<Call> {
    let mut out = Vec::new();
    let mut add = |name: &'static str, principal: String, context: Value, k: u32, denied: bool| {
        out.push(Call {
            name,
            principal,
            context: Some(context),
            key: (k > 0).then(|| key(k)),
            denied,
        });
    };
    for (i, ctx) in contexts().into_iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(0);
        for n in 0..=(i % 4) {
            add(
                ["Decrypt", "GenerateDataKey", "Encrypt", "ReEncrypt"][(n % 4) as usize],
                user(&format!("u{}", (i + n) % 3)),
                ctx.clone(),
                1 + (i + n) % 3,
                n == 2,
            );
        }
        // Not data calls: no resource.
        add("DescribeKey", user("admin"), ctx.clone(), 1, false);
        add("CreateGrant", user("admin"), ctx, 1, false);
    }
    // A busy secret: 40 callers (more than the sample follows), ties among
    // the busiest, a caller past its byte cap, calls without a key.
    let busy = json!({"SecretARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:busy"});
    let giant = long("arn:aws:iam::111122223333:user/", "é秘🔑", 1_500);
    for c in 0..40u32 {
        let principal = if c == 7 {
            giant.clone()
        } else {
            user(&format!("caller-{c:02}-\"q\\"))
        };
        for n in 0..=(c % 6) {
            add(
                "Decrypt",
                principal.clone(),
                busy.clone(),
                n % 3,
                c % 5 == 0,
            );
        }
    }
    // A secret with exactly 32 callers: followed whole.
    let full = json!({"SecretARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:full"});
    for c in 0..32u32 {
        for _ in 0..=(c % 2) {
            add("Decrypt", user(&format!("f{c}")), full.clone(), 1, false);
        }
    }
    out.push(Call {
        name: "Decrypt",
        principal: user("nocontext"),
        context: None,
        key: Some(key(1)),
        denied: false,
    });
    out
}

fn write_trail(dir: &Path) {
    let records: Vec<Value> = calls()
        .iter()
        .enumerate()
        .map(|(i, c)| record(i, c))
        .collect();
    let day = dir.join(format!("{ACCOUNT}/CloudTrail/us-east-1/2025/05/20"));
    std::fs::create_dir_all(&day).expect("trail folders");
    let name = |part: &str| {
        day.join(format!(
            "{ACCOUNT}_CloudTrail_us-east-1_20250520T{part}.json.gz"
        ))
    };
    std::fs::write(name("1000Z_a"), support::gzip_log(&records)).expect("log file");
    std::fs::write(name("1005Z_b"), support::gzip_log(&records[..30])).expect("a copy");
}

fn report(source: &str, endpoint: &str, flags: &[&str]) -> Value {
    report_json(source, endpoint, flags)
}

#[test]
fn resources_over_athena_equal_the_file_reports() {
    let dir = tempfile::tempdir().expect("trail dir");
    write_trail(dir.path());
    let athena = AthenaDuck::start(
        &[("security.org", dir.path(), Layout::Org)],
        &AthenaOptions::default(),
    );
    let folder = dir.path().to_str().expect("utf-8 path");
    let cases: [&[&str]; 2] = [
        &[],
        &["--who", "principal:user/u1", "--who", "principal:user/f3"],
    ];
    let mut failures = Vec::new();
    for flags in cases {
        let local = report(folder, "", flags);
        let pushed = report("athena://security/org", &athena.endpoint, flags);
        for section in ["resources", "resources_other"] {
            if pushed[section] != local[section] {
                failures.push(format!(
                    "{flags:?} {section}:\n athena {}\n files  {}",
                    pushed[section], local[section]
                ));
            }
        }
        let not_known = pushed["skipped"]["not_known"].to_string();
        assert!(!not_known.contains("resources"), "{not_known}");
        assert!(
            local["resources"].as_array().is_some_and(|r| !r.is_empty()),
            "{flags:?}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // What the comparison covered.
    let all = report(folder, "", &[]);
    let rows = all["resources"].as_array().expect("resource rows");
    for service in [
        "secretsmanager",
        "cloudtrail",
        "ssm",
        "lambda",
        "dynamodb",
        "ebs",
        "rds",
        "logs",
        "sqs",
        "sns",
        "workmail",
        "s3",
        "other",
    ] {
        assert!(rows.iter().any(|r| r["service"] == service), "{service}");
    }
    let find = |name: &str| {
        rows.iter()
            .find(|r| r["resource"].as_str().is_some_and(|n| n.ends_with(name)))
            .unwrap_or_else(|| panic!("{name}: {rows:?}"))
    };
    let busy = find("secret:busy");
    assert_eq!(busy["callers_sampled"], true);
    assert_eq!(busy["principals"], 40);
    assert_eq!(find("secret:full")["callers_sampled"], false);
    assert!(rows.iter().any(|r| r["bucket_key"] == true));
    assert!(
        rows.iter()
            .any(|r| r["resource"] == "k\"\\ey\u{1}=v'a\\l\"ue é")
    );
    assert!(
        rows.iter().any(|r| r["resource"] == ""),
        "an empty secret name"
    );
    // Names cut at their byte caps, on a character boundary.
    assert!(
        rows.iter()
            .any(|r| r["resource"].as_str().is_some_and(|n| n.len() > 500))
    );
    let text = all.to_string();
    assert!(
        text.contains("🔑") && text.contains("o'brien"),
        "hostile names kept"
    );
    assert!(all["skipped"]["duplicates"].as_u64() > Some(0));
    // One query per report, each read by sqlglot and run.
    assert_eq!(athena.queries().len(), cases.len());
}
