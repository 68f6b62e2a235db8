//! No credentials on a machine where the SDK's last resort, the instance
//! metadata service (IMDS), answers but refuses — what a newcomer's laptop
//! or a container shows. Every command that needs AWS says what to run
//! (`aws configure`, `aws sso login`) instead of only the SDK's words about
//! IMDS: the dashboard, `tail`, `keys` and `doctor`. The IMDS here is a
//! loopback stand-in that answers 403 to everything.

use std::io::{Read, Write};
use std::net::TcpListener;

use assert_cmd::cargo::cargo_bin_cmd;

/// An IMDS that refuses every request (as a disabled one does); it lives
/// until the test process ends.
fn refusing_imds() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    url
}

fn run(args: &[&str], imds: &str, home: &std::path::Path) -> (i32, String, String) {
    let out = cargo_bin_cmd!("kmstop")
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("KMSTOP_CONFIG_DIR", home.join("config"))
        .env("KMSTOP_STATE_DIR", home.join("state"))
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn says_what_to_run(text: &str) {
    assert!(text.contains("no credentials found"), "{text}");
    assert!(
        text.contains("aws configure") && text.contains("aws sso login"),
        "{text}"
    );
}

#[test]
fn no_credentials_and_a_refusing_imds_say_what_to_run() {
    let imds = refusing_imds();
    let home = tempfile::tempdir().expect("empty HOME");
    for args in [
        &["--region", "us-east-1"][..],
        &["tail", "--region", "us-east-1"],
        &["keys", "--region", "us-east-1"],
    ] {
        let (code, out, err) = run(args, &imds, home.path());
        assert_eq!(code, 1, "kmstop {args:?}: {err}");
        assert!(out.is_empty(), "kmstop {args:?} printed {out:?}");
        says_what_to_run(&err);
        // The SDK's provider list is on one line, not `\n`-escaped.
        assert!(!err.contains("\\n"), "{err}");
    }
    // doctor: the problem on the FAIL line, the commands on the fix line.
    let (code, out, _) = run(&["doctor", "--region", "us-east-1"], &imds, home.path());
    assert_eq!(code, 1, "{out}");
    let fail = out
        .lines()
        .find(|l| l.contains("FAIL  credentials"))
        .unwrap_or_else(|| panic!("no credentials line:\n{out}"));
    assert!(fail.contains("no credentials found"), "{out}");
    let fix = out
        .lines()
        .skip_while(|l| !l.contains("FAIL  credentials"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        fix.trim_start().starts_with("fix: run `aws configure`") && fix.contains("aws sso login"),
        "{out}"
    );
}
