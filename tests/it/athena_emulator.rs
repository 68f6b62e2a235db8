//! The Athena stand-in (`tests/support/athena_duck.py`) that the
//! `report --source athena://` tests run against must itself answer as
//! Athena does: boto3, a client nobody on the project wrote, checks it
//! (`tests/support/athena_duck_check.py`), and the Rust side starts it.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use wait_timeout::ChildExt;

use crate::support::athena::{AthenaDuck, AthenaOptions, CHECK_SCRIPT, Layout, require_duckdb};

/// Three stand-ins start and a few dozen queries run: seconds, unless the
/// machine is loaded.
const CHECK_DEADLINE: Duration = Duration::from_mins(10);

#[test]
fn the_athena_stand_in_speaks_athena_to_boto3() {
    require_duckdb();
    let dir = tempfile::tempdir().expect("tempdir");
    // Files, not pipes: nothing reads them before the script ends.
    let out = File::create(dir.path().join("out")).expect("output file");
    let mut child = Command::new("python3")
        .arg(CHECK_SCRIPT)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("output file"))
        .stderr(out)
        .spawn()
        .expect("python3");
    let status = child.wait_timeout(CHECK_DEADLINE).expect("wait");
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let output = std::fs::read_to_string(dir.path().join("out")).unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "the Athena stand-in failed its boto3 check ({status:?}):\n{output}"
    );
}

/// One raw Athena call: (HTTP status, JSON body).
fn call(endpoint: &str, operation: &str, body: &Value) -> (u16, Value) {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect to the stand-in");
    let body = body.to_string();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: AmazonAthena.{operation}\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read the reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP reply");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, serde_json::from_str(body).expect("a JSON body"))
}

#[test]
fn the_athena_stand_in_starts_from_rust_and_logs_each_call() {
    let corpus = tempfile::tempdir().expect("tempdir");
    let day = corpus
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1/2025/05/20");
    std::fs::create_dir_all(&day).expect("corpus folders");
    let records = json!({"Records": [{"eventID": "e1", "eventName": "Decrypt"}]});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(records.to_string().as_bytes()).expect("gzip");
    std::fs::write(day.join("a.json.gz"), gz.finish().expect("gzip")).expect("write");

    let options = AthenaOptions {
        workgroups: vec![("kmstop".into(), Some("s3://out/".into()))],
        deny: vec!["StopQueryExecution".into()],
        ..AthenaOptions::default()
    };
    let org = corpus.path().join("AWSLogs");
    let athena = AthenaDuck::start(&[("trail.logs", &org, Layout::Org)], &options);

    let (status, reply) = call(
        &athena.endpoint,
        "GetWorkGroup",
        &json!({"WorkGroup": "kmstop"}),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["WorkGroup"]["Configuration"]["ResultConfiguration"]["OutputLocation"],
        "s3://out/"
    );
    let sql = "SELECT count(*) FROM \"trail\".\"logs\" WHERE account = '111122223333'";
    let (status, reply) = call(
        &athena.endpoint,
        "StartQueryExecution",
        &json!({"QueryString": sql, "WorkGroup": "kmstop"}),
    );
    assert_eq!(status, 200, "{reply}");
    let id = reply["QueryExecutionId"].clone();
    let (status, reply) = call(
        &athena.endpoint,
        "StopQueryExecution",
        &json!({"QueryExecutionId": id}),
    );
    assert_eq!(status, 400);
    assert_eq!(reply["__type"], "AccessDeniedException", "{reply}");

    let log = athena.log();
    let ops: Vec<&str> = log.iter().filter_map(|e| e["operation"].as_str()).collect();
    assert_eq!(
        ops,
        ["GetWorkGroup", "StartQueryExecution", "StopQueryExecution"]
    );
    assert_eq!(log[1]["query_execution_id"], id);
    assert_eq!(log[1]["statement_type"], "DML");
    assert!(
        log[1]["data_scanned_bytes"].as_u64() > Some(0),
        "{}",
        log[1]
    );
    assert_eq!(log[2]["error"], "AccessDeniedException");
    assert_eq!(athena.queries(), [sql]);
}
