//! `report --format html` through the binary, checked by tools we did not
//! write: HTML Tidy validates the page, and headless Chromium renders it
//! (its DOM and a screenshot). Hostile strings in the events show as text;
//! the page fetches nothing; the timeline and the evidence are there.

use crate::support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use support::kmstop_report;

const EVIL: &str =
    "arn:aws:iam::111122223333:user/<script>alert(1)</script>\"'><img src=x>\u{1b}[2J";

fn record(id: &str, name: &str, second: u32, arn: &str, error: Option<&str>) -> serde_json::Value {
    let mut r = json!({
        "eventVersion": "1.08",
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "eventTime": format!("2025-05-20T10:{:02}:{:02}Z", second / 60, second % 60),
        "eventID": id,
        "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "readOnly": name == "Decrypt",
        "userIdentity": { "type": "IAMUser", "arn": arn, "accountId": "111122223333" },
        "requestParameters": { "keyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" },
        "sourceIPAddress": "203.0.113.7",
    });
    if let Some(code) = error {
        r["errorCode"] = json!(code);
    }
    r
}

/// A tool the test needs, or a failure that says how to get it.
fn tool(name: &str) -> assert_cmd::Command {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is not installed: scripts/test installs it (apt-get install {name})"
    );
    let mut cmd = assert_cmd::Command::new(name);
    cmd.timeout(Duration::from_mins(3));
    cmd
}

fn html_report(dir: &Path) -> String {
    let mut records = vec![
        record("evt-1", "ScheduleKeyDeletion", 0, EVIL, None),
        record(
            "evt-2",
            "DisableKey",
            30,
            "arn:aws:iam::111122223333:user/Alice",
            None,
        ),
    ];
    // A denied burst: red in the timeline.
    for i in 0..30 {
        records.push(record(
            &format!("d-{i}"),
            "Decrypt",
            60 + i,
            EVIL,
            Some("AccessDenied"),
        ));
    }
    for i in 0..200 {
        let arn = "arn:aws:iam::111122223333:role/App";
        records.push(record(&format!("ok-{i}"), "Decrypt", i * 9, arn, None));
    }
    std::fs::write(
        dir.join("log.json"),
        json!({ "Records": records }).to_string(),
    )
    .expect("log file");
    html_of(dir)
}

/// `report --format html` over `source`, which must succeed.
fn html_of(source: &Path) -> String {
    let home = tempfile::tempdir().expect("home");
    let source = source.to_str().expect("utf-8");
    let out = kmstop_report(home.path(), &["--source", source, "--format", "html"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn the_html_report_is_valid_self_contained_and_shows_data_as_text() {
    let dir = tempfile::tempdir().expect("dir");
    let page = html_report(dir.path());
    // Nothing to fetch, nothing to run, nothing from data as markup.
    assert!(
        page.contains("Content-Security-Policy\" content=\"default-src 'none'"),
        "{page}"
    );
    assert!(
        !page.contains('\u{1b}'),
        "control characters are shown, not sent"
    );
    for tag in page.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        let name = tag.split([' ', '\n']).next().unwrap_or_default();
        assert!(
            !["script", "img", "link", "iframe", "object", "a"].contains(&name),
            "<{tag}> in the page"
        );
        for attribute in [" src=", " href=", "url(", " on"] {
            assert!(!tag.contains(attribute), "<{tag}> in the page");
        }
    }
    assert!(
        page.contains(
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x&gt;\\x1b[2J"
        ),
        "{page}"
    );
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).expect("page written");

    assert_tidy(&file);
}

/// HTML Tidy's verdict on a page; a failure shows what it found.
fn assert_tidy(file: &Path) {
    let tidy = tool("tidy")
        .args(["-q", "-e"])
        .arg(file)
        .output()
        .expect("tidy runs");
    assert!(
        tidy.status.success(),
        "tidy found problems in {}:\n{}",
        file.display(),
        String::from_utf8_lossy(&tidy.stderr)
    );
}

/// The shipped real logs leave some sections empty: those tables still
/// validate (an empty `<tbody>` did not).
#[test]
fn the_html_report_over_the_real_fixtures_is_valid() {
    let page = html_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail"));
    assert!(page.contains(">none</td>"), "an empty table: {page}");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("real.html");
    std::fs::write(&file, &page).expect("page written");
    assert_tidy(&file);
}

#[test]
fn chromium_renders_the_timeline_alerts_and_evidence() {
    let dir = tempfile::tempdir().expect("dir");
    let page = html_report(dir.path());
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).expect("page written");
    let url = format!("file://{}", file.display());
    let chromium = |args: &[&str]| {
        let profile = tempfile::tempdir().expect("profile");
        let mut cmd = tool("chromium");
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(&url);
        let out = cmd.output().expect("chromium runs");
        assert!(
            out.status.success(),
            "chromium: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let dom = String::from_utf8(chromium(&["--dump-dom"]).stdout).expect("utf-8");
    for text in [
        "KMS activity report",
        "Timeline",
        "<svg",
        "class=\"denied\"",
        "class=\"alert\"",
        "kms-key-disable-or-delete",
        "evt-2",
        "Denied callers",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
    ] {
        assert!(dom.contains(text), "{text:?} not rendered: {dom}");
    }
    assert!(!dom.contains("<script"), "{dom}");
    let png = dir.path().join("report.png");
    chromium(&[
        "--hide-scrollbars",
        "--window-size=1200,900",
        &format!("--screenshot={}", png.display()),
    ]);
    let image = std::fs::read(&png).expect("a screenshot");
    assert!(
        image.starts_with(b"\x89PNG") && image.len() > 10_000,
        "{} bytes",
        image.len()
    );
}
