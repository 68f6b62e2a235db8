//! "Who decrypted what" through the binary: the report's data calls
//! grouped by the resource their encryption context names, on the real
//! fixtures and on one record of every service shape.

use crate::support;

use serde_json::{Value, json};
use support::{json_of, kmstop_report};

fn report(source: &std::path::Path, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().expect("home");
    let mut all = vec!["--source", source.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    kmstop_report(home.path(), &all)
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail")
}

/// The calls with a context in the fixtures, read plainly with
/// `serde_json` (each event once: its first copy in the file, as kmstop
/// counts it — the AWS docs reuse one id for a call with and without a
/// context), equal the resources' calls; the trail
/// that encrypts its own logs, the docs' S3 object, Lambda function and
/// `WorkMail` organization are named.
#[test]
fn the_real_records_are_grouped_by_what_they_name() {
    let mut first = std::collections::HashMap::new();
    for path in support::files_under(&fixtures()) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        for r in doc["Records"].as_array().into_iter().flatten() {
            let data_call = r["eventName"].as_str().is_some_and(|n| {
                n == "Decrypt"
                    || n == "Encrypt"
                    || n.starts_with("GenerateDataKey")
                    || n == "ReEncrypt"
            });
            let context = r["requestParameters"]["encryptionContext"]
                .as_object()
                .is_some_and(|c| !c.is_empty());
            if r["eventSource"] == "kms.amazonaws.com" {
                first
                    .entry(format!(
                        "{}|{}|{}",
                        r["eventID"], r["eventTime"], r["eventName"]
                    ))
                    .or_insert(data_call && context);
            }
        }
    }
    let out = report(&fixtures(), &["--format", "json"]);
    let r = json_of(&out);
    let rows = r["resources"].as_array().expect("resources");
    let calls: u64 = rows.iter().filter_map(|row| row["calls"].as_u64()).sum();
    let with_context = first.values().filter(|&&has| has).count() as u64;
    assert_eq!(calls, with_context, "{rows:#?}");
    let find = |service: &str, name: &str| {
        rows.iter()
            .find(|row| row["service"] == service && row["resource"] == name)
            .unwrap_or_else(|| panic!("no {service} {name} in {rows:#?}"))
    };
    assert_eq!(
        find(
            "cloudtrail",
            "arn:aws:cloudtrail:eu-central-1:597078901540:trail/Mytrail"
        )["calls"],
        13
    );
    assert_eq!(
        find("s3", "arn:aws:s3:::example_bucket/example_object")["bucket_key"],
        false
    );
    find(
        "lambda",
        "arn:aws:lambda:us-west-2:123456789012:function:function",
    );
    find(
        "workmail",
        "arn:aws:workmail:eu-west-1:111122223333:organization/m-c6981ff7642446fa8772ba99c690e455",
    );
    assert_eq!(r["resources_other"], 0);
}

fn decrypt(id: usize, principal: &str, context: &Value) -> Value {
    json!({
        "eventVersion": "1.08",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "eventTime": format!("2025-05-20T10:{:02}:00Z", id % 60),
        "eventID": format!("r{id}"),
        "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "readOnly": true,
        "sourceIPAddress": "s3.amazonaws.com",
        "userIdentity": { "type": "AssumedRole", "accountId": "111122223333",
            "arn": format!("arn:aws:sts::111122223333:assumed-role/{principal}/s"),
            "sessionContext": { "sessionIssuer": { "arn": format!("arn:aws:iam::111122223333:role/{principal}") } } },
        "requestParameters": {
            "keyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "encryptionContext": context,
        },
    })
}

#[test]
fn every_service_shape_is_named_and_hostile_names_stay_text() {
    let shapes = [
        (
            json!({"SecretARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf", "SecretVersionId": "v1"}),
            "secretsmanager",
        ),
        (
            json!({"aws:s3:arn": "arn:aws:s3:::payroll/2025/05.csv"}),
            "s3",
        ),
        (json!({"aws:s3:arn": "arn:aws:s3:::payroll"}), "s3"),
        (
            json!({"aws:dynamodb:tableName": "Orders", "aws:dynamodb:subscriberId": "111122223333"}),
            "dynamodb",
        ),
        (json!({"aws:ebs:id": "vol-0123456789abcdef0"}), "ebs"),
        (
            json!({"aws:lambda:FunctionArn": "arn:aws:lambda:us-east-1:111122223333:function:pay"}),
            "lambda",
        ),
        (
            json!({"PARAMETER_ARN": "arn:aws:ssm:us-east-1:111122223333:parameter/db/password"}),
            "ssm",
        ),
        (
            json!({"aws:cloudtrail:arn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org", "aws:s3:arn": "arn:aws:s3:::trail-bucket/AWSLogs/x.json.gz"}),
            "cloudtrail",
        ),
        (json!({"aws:rds:db-id": "db-ABCDEFGHIJKLMNOP"}), "rds"),
        (
            json!({"aws:logs:arn": "arn:aws:logs:us-east-1:111122223333:log-group:app"}),
            "logs",
        ),
        (
            json!({"aws:sqs:arn": "arn:aws:sqs:us-east-1:111122223333:jobs"}),
            "sqs",
        ),
        (
            json!({"aws:sns:topicArn": "arn:aws:sns:us-east-1:111122223333:alerts"}),
            "sns",
        ),
        (json!({"Project": "\u{1b}[2J<script>x</script>"}), "other"),
    ];
    let records: Vec<Value> = shapes
        .iter()
        .enumerate()
        .map(|(i, (context, _))| decrypt(i, "app", context))
        .chain([decrypt(99, "app", &json!({}))])
        .collect();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("log.json");
    std::fs::write(&file, json!({ "Records": records }).to_string()).expect("log");
    let r = json_of(&report(&file, &["--format", "json"]));
    let rows = r["resources"].as_array().expect("resources");
    assert_eq!(
        rows.len(),
        shapes.len(),
        "one row a shape, none without a context: {rows:#?}"
    );
    for (context, service) in &shapes {
        assert!(
            rows.iter().any(|row| row["service"] == *service),
            "{service} missing for {context}"
        );
    }
    let bucket = rows
        .iter()
        .find(|row| row["resource"] == "arn:aws:s3:::payroll")
        .expect("the bucket-key row");
    assert_eq!(bucket["bucket_key"], true);
    let table = report(&file, &["--section", "resources"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("(bucket key)"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no escape reaches the terminal: {text}"
    );
    let csv = report(&file, &["--format", "csv", "--section", "resources"]);
    assert_eq!(
        String::from_utf8_lossy(&csv.stdout).lines().count(),
        shapes.len() + 1
    );
    let html = report(&file, &["--format", "html"]);
    let page = String::from_utf8_lossy(&html.stdout);
    assert!(page.contains("Resources (who decrypted what)"));
    assert!(!page.contains("<script>x"), "escaped in the page");
}
