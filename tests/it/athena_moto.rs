//! The Athena API flow of `kmstop athena ddl --execute` and `kmstop report
//! --source athena://…` against moto's server (Athena, S3, Glue): start,
//! poll, results, a query stopped by Ctrl-C, and nothing written but
//! Athena's result files. moto does not run SQL; the SQL itself is checked
//! in `athena_report.rs` by sqlglot and DuckDB.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use serde_json::{Value, json};

use support::moto::Moto;
use support::{json_of, kmstop_offline};

const RESULTS: &str = "s3://kmstop-athena-results/q/";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                "x", "x", None, None, "test",
            )),
        )
        .build()
}

/// A workgroup whose results go to a bucket made for them.
fn set_up(endpoint: &str) {
    let config = sdk_config(endpoint);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let athena = aws_sdk_athena::Client::new(&config);
    runtime().block_on(async {
        s3.create_bucket()
            .bucket("kmstop-athena-results")
            .send()
            .await
            .expect("CreateBucket");
        athena
            .create_work_group()
            .name("ir")
            .configuration(
                aws_sdk_athena::types::WorkGroupConfiguration::builder()
                    .result_configuration(
                        aws_sdk_athena::types::ResultConfiguration::builder()
                            .output_location(RESULTS)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("CreateWorkGroup");
    });
}

/// POSTs JSON to moto's own API (`/moto-api/…`).
fn moto_api(endpoint: &str, path: &str, body: &Value) {
    let addr = endpoint.trim_start_matches("http://");
    let body = body.to_string();
    let mut stream = TcpStream::connect(addr).expect("moto listens");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer read");
    assert!(
        answer.starts_with("HTTP/1.1 20") || answer.starts_with("HTTP/1.0 20"),
        "{path}: {answer}"
    );
}

/// Every object in every bucket, as `bucket/key`.
fn all_objects(endpoint: &str) -> Vec<String> {
    let config = sdk_config(endpoint);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    runtime().block_on(async {
        let mut all = Vec::new();
        let buckets = s3.list_buckets().send().await.expect("ListBuckets");
        for bucket in buckets.buckets() {
            let name = bucket.name().unwrap_or_default().to_owned();
            let listed = s3
                .list_objects_v2()
                .bucket(&name)
                .send()
                .await
                .expect("ListObjectsV2");
            for object in listed.contents() {
                all.push(format!("{name}/{}", object.key().unwrap_or_default()));
            }
            if listed.contents().is_empty() {
                all.push(format!("{name}/"));
            }
        }
        all
    })
}

fn query_states(endpoint: &str) -> Vec<(String, String)> {
    let athena = aws_sdk_athena::Client::new(&sdk_config(endpoint));
    runtime().block_on(async {
        let ids = athena
            .list_query_executions()
            .send()
            .await
            .expect("ListQueryExecutions");
        let mut states = Vec::new();
        for id in ids.query_execution_ids() {
            let got = athena
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .expect("GetQueryExecution");
            let execution = got.query_execution.expect("execution");
            states.push((
                execution.query.unwrap_or_default(),
                execution
                    .status
                    .and_then(|s| s.state)
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            ));
        }
        states
    })
}

fn cell(value: Option<&str>) -> Value {
    value.map_or_else(|| json!({}), |v| json!({ "VarCharValue": v }))
}

/// One result row: `kind, eventname, principal, key_arn, outcome`, the
/// detail, counted, `wanted_by` and `listed` columns null, then `n,
/// first_time, last_time`.
fn count_row(fields: [Option<&str>; 5], n: &str, first: &str, last: &str) -> Value {
    let mut data: Vec<Value> = fields.iter().map(|f| cell(*f)).collect();
    // The calling account of an event's count; no quota family's row.
    let caller = fields[0].filter(|k| *k == "event").map(|_| "111122223333");
    data.extend([cell(caller), cell(None), cell(None)]);
    // Not a resource's row.
    data.extend(kmstop::athena::resources::GROUP_NAMES.map(|_| cell(None)));
    data.extend((0..kmstop::athena::query::DETAIL_COLUMNS.len()).map(|_| cell(None)));
    // Not a counted rule's row: `counted_rule` 0, the rest null.
    data.extend(
        kmstop::athena::counted::counted_column_names()
            .iter()
            .map(|c| cell((*c == "counted_rule").then_some("0"))),
    );
    // Not a whole event: no reason it came back, not a listed call.
    data.extend([cell(None), cell(None)]);
    data.extend([cell(Some(n)), cell(Some(first)), cell(Some(last))]);
    data.extend(kmstop::athena::usage::AGGREGATE_NAMES.map(|_| cell(None)));
    data.extend(kmstop::athena::resources::AGGREGATE_NAMES.map(|_| cell(None)));
    json!({ "Data": data })
}

#[test]
fn ddl_execute_creates_the_database_and_table_through_athena() {
    let moto = Moto::start();
    set_up(&moto.endpoint);
    let home = tempfile::tempdir().expect("home");
    let out = kmstop_offline(home.path())
        .args([
            "athena",
            "ddl",
            "--bucket",
            "org-trail",
            "--org",
            "o-abcdef1234",
        ])
        .args(["--account", "111122223333", "--database", "security"])
        .args([
            "--table",
            "cloudtrail_org",
            "--execute",
            "--workgroup",
            "ir",
        ])
        .args([
            "--athena-region",
            "us-east-1",
            "--endpoint-url",
            &moto.endpoint,
        ])
        .timeout(Duration::from_mins(3))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let states = query_states(&moto.endpoint);
    assert_eq!(states.len(), 2, "{states:?}");
    assert!(states.iter().all(|(_, s)| s == "SUCCEEDED"), "{states:?}");
    assert!(
        states
            .iter()
            .any(|(q, _)| q.starts_with("CREATE DATABASE IF NOT EXISTS `security`"))
    );
    assert!(states.iter().any(|(q, _)| {
        q.contains("CREATE EXTERNAL TABLE IF NOT EXISTS `security`.`cloudtrail_org`")
    }));
}

#[test]
fn a_report_from_athena_polls_reads_the_rows_and_writes_only_results() {
    let moto = Moto::start();
    set_up(&moto.endpoint);
    let columns = kmstop::athena::answer::columns();
    let header = json!({ "Data": columns.iter().map(|c| cell(Some(c))).collect::<Vec<_>>() });
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let rows = vec![
        header,
        count_row(
            [
                Some("event"),
                Some("Decrypt"),
                Some("arn:aws:iam::111122223333:role/App"),
                Some(key),
                Some("success"),
            ],
            "40",
            "1747728000",
            "1747731600",
        ),
        count_row(
            [
                Some("event"),
                Some("Decrypt"),
                Some("arn:aws:iam::111122223333:role/Intruder"),
                Some(key),
                Some("denied"),
            ],
            "2",
            "1747729000",
            "1747729060",
        ),
        count_row(
            [Some("duplicate"), None, None, None, None],
            "3",
            "1747728000",
            "1747728000",
        ),
    ];
    let column_info: Vec<Value> = columns
        .iter()
        .map(|c| json!({ "Name": c, "Label": c, "Type": "varchar" }))
        .collect();
    moto_api(
        &moto.endpoint,
        "/moto-api/static/athena/query-results",
        &json!({ "results": [{ "rows": rows, "column_info": column_info }] }),
    );
    let home = tempfile::tempdir().expect("home");
    let out = kmstop_offline(home.path())
        .args([
            "report",
            "--source",
            "athena://security/cloudtrail_org",
            "--workgroup",
            "ir",
        ])
        .args(["--since", "1d"])
        .args(["--format", "json", "--athena-region", "us-east-1"])
        .args(["--endpoint-url", &moto.endpoint])
        .timeout(Duration::from_mins(3))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Athena scanned"), "{stderr}");
    let report = json_of(&out);
    assert_eq!(report["events"], 42);
    assert_eq!(report["denied"], 2);
    assert_eq!(report["skipped"]["duplicates"], 3);
    assert_eq!(
        report["principals"][0]["principal"],
        "arn:aws:iam::111122223333:role/App"
    );
    assert_eq!(report["keys"][0]["principals"], 2);
    assert_eq!(report["from"], "2025-05-20T08:00:00Z");
    // The count rows are priced: 42 requests billed to the caller.
    assert_eq!(report["cost"]["known"], true);
    assert_eq!(report["cost"]["accounts"][0]["account"], "111122223333");
    assert_eq!(report["cost"]["requests"], 42);
    assert!(
        report["skipped"]["not_known"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    // One query, polled to its end (moto moves QUEUED → RUNNING →
    // SUCCEEDED one GetQueryExecution at a time).
    let states = query_states(&moto.endpoint);
    assert_eq!(states.len(), 1, "{states:?}");
    assert!(states[0].0.contains("eventsource = 'kms.amazonaws.com'"));
    // Nothing written but Athena's result file in the results location.
    let objects = all_objects(&moto.endpoint);
    assert!(
        objects
            .iter()
            .all(|o| o == "kmstop-athena-results/" || o.starts_with("kmstop-athena-results/q/")),
        "{objects:?}"
    );
}

#[test]
#[allow(clippy::disallowed_methods)] // a deadline is about real time
fn ctrl_c_stops_the_running_query() {
    let moto = Moto::start();
    set_up(&moto.endpoint);
    // Queries stay QUEUED until told otherwise.
    moto_api(
        &moto.endpoint,
        "/moto-api/state-manager/set-transition",
        &json!({ "model_name": "athena::execution", "transition": { "progression": "manual", "times": 1_000_000 } }),
    );
    let home = tempfile::tempdir().expect("home");
    let child = Command::new(assert_cmd::cargo::cargo_bin!("kmstop"))
        .args([
            "report",
            "--source",
            "athena://security/cloudtrail_org",
            "--workgroup",
            "ir",
        ])
        .args(["--since", "1d"])
        .args([
            "--athena-region",
            "us-east-1",
            "--endpoint-url",
            &moto.endpoint,
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kmstop starts");
    let deadline = Instant::now() + Duration::from_mins(3);
    while query_states(&moto.endpoint).is_empty() {
        assert!(
            Instant::now() < deadline,
            "kmstop never started a query:\n{}",
            moto.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = child.wait_with_output().expect("kmstop ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    let states = query_states(&moto.endpoint);
    assert_eq!(states.len(), 1, "{states:?}");
    assert_eq!(states[0].1, "CANCELLED", "{states:?}");
}
