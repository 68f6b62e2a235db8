//! The simulator at the byte level: what a client that is not an SDK
//! gets for malformed, unsigned or unknown requests (always an AWS error,
//! never a dropped connection), the trail calls' shapes, and `kmstop sim`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use kmstop::sim::{Sim, SimHandle, SimOptions, TrailSetup};
use serde_json::Value;
use wait_timeout::ChildExt;

/// Sends one HTTP/1.1 request; (status, body).
fn post(sim: &SimHandle, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", sim.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(k);
        request.push_str(": ");
        request.push_str(v);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn json_error(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["__type"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("not an error document: {body}"))
}

const JSON: (&str, &str) = ("Content-Type", "application/x-amz-json-1.1");

fn target(t: &str) -> (&str, &str) {
    ("X-Amz-Target", t)
}

#[test]
fn malformed_requests_get_aws_errors() {
    let sim = Sim::start(SimOptions::default()).expect("sim");
    let lookup = target("CloudTrail_20131101.LookupEvents");
    for (headers, body, status, code) in [
        (
            vec![JSON, lookup],
            "{not json",
            400,
            "SerializationException",
        ),
        (vec![JSON, lookup], "[1,2]", 400, "SerializationException"),
        (
            vec![JSON, lookup],
            "\u{0}\u{1}",
            400,
            "SerializationException",
        ),
        (
            vec![JSON, target("TrentService.DescribeKey")],
            "{}",
            400,
            "ValidationException",
        ),
        (
            vec![JSON, target("TrentService.DescribeKey")],
            "{\"KeyId\":7}",
            400,
            "SerializationException",
        ),
        (
            vec![JSON, target("TrentService.ListKeys")],
            "{\"Limit\":0}",
            400,
            "ValidationException",
        ),
        (
            vec![JSON, target("TrentService.ListKeys")],
            "{\"Marker\":\"x\"}",
            400,
            "InvalidMarkerException",
        ),
        (
            vec![JSON, target("TrentService.CreateKey")],
            "{}",
            400,
            "UnknownOperationException",
        ),
        (
            vec![JSON, target("CloudTrail_20131101.StopLogging")],
            "{}",
            400,
            "UnknownOperationException",
        ),
        (
            vec![JSON, target("DynamoDB_20120810.GetItem")],
            "{}",
            400,
            "UnknownOperationException",
        ),
    ] {
        let (got_status, got_body) = post(&sim, &headers, body);
        assert_eq!(
            (got_status, json_error(&got_body).as_str()),
            (status, code),
            "{headers:?} {body}"
        );
    }
    // Unsigned requests are served for us-east-1.
    let (status, body) = post(&sim, &[JSON, target("TrentService.ListKeys")], "{}");
    assert_eq!(status, 200);
    assert!(body.contains("arn:aws:kms:us-east-1:"), "{body}");
    // awsQuery without an action, or with a mutation: XML errors.
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let (status, body) = post(&sim, &[form], "Version=2011-06-15");
    assert_eq!(status, 400);
    assert!(body.contains("<Code>MissingAction</Code>"), "{body}");
    let (status, body) = post(&sim, &[form], "Action=AssumeRole&Version=2011-06-15");
    assert_eq!(status, 400);
    assert!(body.contains("<Code>InvalidAction</Code>"), "{body}");
    let log = sim.requests();
    assert!(
        log.iter().all(|r| r.status == 400 || r.status == 200),
        "{log:?}"
    );
    assert!(log.iter().any(|r| r.target == "TrentService.CreateKey"));
}

#[test]
fn trail_calls_tell_whether_kms_is_logged() {
    for (trail, selectors_excluding) in [
        (TrailSetup::default(), false),
        (
            TrailSetup {
                excludes_kms: true,
                advanced_selectors: false,
            },
            true,
        ),
        (
            TrailSetup {
                excludes_kms: true,
                advanced_selectors: true,
            },
            true,
        ),
    ] {
        let sim = Sim::start(SimOptions {
            trail,
            ..SimOptions::default()
        })
        .expect("sim");
        let (status, body) = post(
            &sim,
            &[JSON, target("CloudTrail_20131101.DescribeTrails")],
            "{}",
        );
        assert_eq!(status, 200);
        let trails: Value = serde_json::from_str(&body).expect("json");
        let name = trails["trailList"][0]["Name"]
            .as_str()
            .expect("trail")
            .to_string();
        assert_eq!(trails["trailList"][0]["IsMultiRegionTrail"], true);
        let (status, body) = post(
            &sim,
            &[JSON, target("CloudTrail_20131101.GetEventSelectors")],
            &format!("{{\"TrailName\":\"{name}\"}}"),
        );
        assert_eq!(status, 200);
        assert_eq!(
            body.contains("kms.amazonaws.com"),
            selectors_excluding,
            "{body}"
        );
        assert_eq!(
            body.contains("AdvancedEventSelectors"),
            trail.advanced_selectors,
            "{body}"
        );
        let (status, body) = post(
            &sim,
            &[JSON, target("CloudTrail_20131101.GetTrailStatus")],
            &format!("{{\"Name\":\"{name}\"}}"),
        );
        assert_eq!(
            (status, body.contains("\"IsLogging\":true")),
            (200, true),
            "{body}"
        );
        let (_, body) = post(
            &sim,
            &[JSON, target("CloudTrail_20131101.GetTrailStatus")],
            "{\"Name\":\"other\"}",
        );
        assert_eq!(json_error(&body), "TrailNotFoundException");
    }
}

#[test]
fn kmstop_sim_prints_a_ready_example_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kmstop"))
        .args([
            "sim",
            "--port",
            "0",
            "--scenario",
            "quiet",
            "--delay",
            "1s..10s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kmstop sim");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    while !banner.contains("Ctrl-C") {
        let mut line = String::new();
        if stdout.read_line(&mut line).expect("read") == 0 {
            break;
        }
        banner.push_str(&line);
    }
    assert!(banner.contains("cloudtrail lookup-events --lookup-attributes AttributeKey=EventSource,AttributeValue=kms.amazonaws.com"), "{banner}");
    let endpoint = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("endpoint")
        .to_string();
    let port: u16 = endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("serving");
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Length: 2\r\n\r\n{}")
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child
        .wait_timeout(Duration::from_secs(10))
        .expect("wait")
        .expect("stopped within 10 s");
    assert!(exit.success(), "{exit:?}");

    let bad = Command::new(env!("CARGO_BIN_EXE_kmstop"))
        .args(["sim", "--delay", "2m..5s"])
        .output()
        .expect("kmstop sim");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("minimum is above the maximum"));
}

/// Opens a Live Tail stream by hand; the socket once `sessionStart` and the
/// response head arrived, with what was read.
fn open_live_tail(sim: &SimHandle) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", sim.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let (_, arn) = sim.log_group();
    let body = format!("{{\"logGroupIdentifiers\":[\"{arn}\"]}}");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Logs_20140328.StartLiveTail\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("sessionStart") {
        let n = stream.read(&mut buf).expect("read sessionStart");
        assert!(n > 0, "closed before sessionStart");
        seen.extend_from_slice(&buf[..n]);
    }
    (stream, String::from_utf8_lossy(&seen).into_owned())
}

#[test]
#[allow(clippy::disallowed_methods)] // deadlines for a real server
fn live_tail_streams_end_when_the_client_leaves_or_the_sim_stops() {
    let sim = Sim::start(SimOptions::default()).expect("sim");
    let (status, body) = post(&sim, &[JSON, target("Logs_20140328.PutLogEvents")], "{}");
    assert_eq!(
        (status, json_error(&body)),
        (400, "UnknownOperationException".into())
    );
    let (first, head) = open_live_tail(&sim);
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: application/vnd.amazon.eventstream"),
        "{head}"
    );
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert_eq!(sim.live_tail_sessions(), 1);
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sim.live_tail_sessions() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the session outlived its client by 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Stopping the simulator ends a live stream at once.
    let (mut second, _) = open_live_tail(&sim);
    let stopping = std::time::Instant::now();
    sim.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
    let mut rest = Vec::new();
    match second.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}
