//! `kmstop keys` failure paths through the binary, and the user agent its
//! calls really carry (what CloudTrail records and `is_own_call` must
//! recognise).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use assert_cmd::cargo::cargo_bin_cmd;
use kmstop::event::is_own_call;

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

#[test]
fn no_region_and_no_credentials_say_what_to_do() {
    let home = tempfile::tempdir().expect("empty HOME");
    // No AWS_* at all, no ~/.aws: nothing says which region to read.
    let out = cargo_bin_cmd!("kmstop")
        .args(["keys", "--format", "json"])
        .env_clear()
        .env("HOME", home.path())
        .output()
        .expect("runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no region") && stderr.contains("--region"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing printed: {}",
        text(&out.stdout)
    );
}

#[test]
fn missing_credentials_say_what_to_do() {
    let home = tempfile::tempdir().expect("empty HOME");
    let out = cargo_bin_cmd!("kmstop")
        .args(["keys", "--region", "us-east-1"])
        // A closed port: nothing may reach a real endpoint anyway.
        .args(["--endpoint-url", "http://127.0.0.1:9"])
        .env_clear()
        .env("HOME", home.path())
        // No instance role to wait for.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no credentials found"), "{stderr}");
    assert!(
        stderr.contains("aws configure") || stderr.contains("aws sso login"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// One recorded request: its target (`X-Amz-Target`, or STS's action) and
/// its user agent.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A loopback endpoint that answers STS `GetCallerIdentity` and refuses
/// every KMS call, recording each request's user agent.
fn recording_endpoint() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = Arc::clone(&record);
            std::thread::spawn(move || serve(stream, &record));
        }
    });
    (endpoint, seen)
}

fn serve(stream: TcpStream, seen: &Seen) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            headers.push(line.trim_end().to_string());
        }
        let header = |name: &str| {
            headers
                .iter()
                .find_map(|h| {
                    let (k, v) = h.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        let length: usize = header("content-length").parse().unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body);
        let target = header("x-amz-target");
        let (status, content_type, reply) = if body.contains("Action=GetCallerIdentity") {
            (
                "200 OK",
                "text/xml",
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/t</Arn><UserId>AIDT</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>".to_string(),
            )
        } else {
            (
                "400 Bad Request",
                "application/x-amz-json-1.1",
                r#"{"__type":"AccessDeniedException","message":"recording only"}"#.to_string(),
            )
        };
        let name = if target.is_empty() {
            "sts".to_string()
        } else {
            target
        };
        seen.lock()
            .expect("lock")
            .push((name, header("user-agent")));
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn kmstop_calls_carry_the_user_agent_it_recognises_as_its_own() {
    let (endpoint, seen) = recording_endpoint();
    let home = tempfile::tempdir().expect("empty HOME");
    let out = cargo_bin_cmd!("kmstop")
        .args(["keys", "--region", "us-east-1", "--endpoint-url", &endpoint])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .output()
        .expect("runs");
    let stderr = text(&out.stderr);
    // ListKeys refused: the region fails, and says so.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("us-east-1: cannot list keys"), "{stderr}");
    let seen = seen.lock().expect("lock").clone();
    let list_keys: Vec<&(String, String)> = seen
        .iter()
        .filter(|(target, _)| target == "TrentService.ListKeys")
        .collect();
    assert!(!list_keys.is_empty(), "kmstop called ListKeys: {seen:?}");
    for (target, user_agent) in &seen {
        assert!(is_own_call(user_agent), "{target}: {user_agent}");
    }
}
