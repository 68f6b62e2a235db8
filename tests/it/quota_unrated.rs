//! The per-operation quotas the audit found missing, and the calls no
//! quota rates, through `kmstop report` and the Quota & cost pane: a log
//! with known rates of `ScheduleKeyDeletion` (15/s), `RetireGrant` (50/s),
//! `TagResource` (10/s), `UpdatePrimaryRegion` and a custom key store
//! operation (5/s), and calls of `RotateKey` (no documented quota) and of a
//! name kmstop does not know, which are counted per operation and said in
//! every face instead of disappearing.

use chrono::{TimeZone, Utc};
use kmstop::app::{Action, App, Data, DataConfig, Mode, Pane, update};
use kmstop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

use crate::support::{self, json_of, kmstop_report};

const OWNER: &str = "111122223333";
const ADMIN: &str = "arn:aws:iam::111122223333:role/key-admin";
const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/// An unknown operation's name, with a terminal escape in it.
const ODD: &str = "Frobnicate\u{1b}[31mKey";

fn record(i: usize, second: &str, name: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "eventTime": format!("2025-05-20T{second}Z"),
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "10.0.0.7",
        "userAgent": "aws-cli/2.15",
        "eventID": format!("00000000-0000-4000-8000-{i:012}"),
        "eventType": "AwsApiCall",
        "readOnly": false,
        "recipientAccountId": OWNER,
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/key-admin/s",
            "accountId": OWNER,
            "sessionContext": {"sessionIssuer": {"arn": ADMIN}}
        },
        "requestParameters": {"keyId": KEY},
        "resources": [{"ARN": KEY, "type": "AWS::KMS::Key"}]
    })
}

/// (second, operation, calls in that second).
const CALLS: &[(&str, &str, usize)] = &[
    ("10:00:01", "ScheduleKeyDeletion", 3),
    ("10:00:02", "ScheduleKeyDeletion", 1),
    ("10:00:03", "RetireGrant", 10),
    ("10:00:04", "TagResource", 4),
    ("10:00:05", "UpdatePrimaryRegion", 1),
    ("10:00:06", "DisconnectCustomKeyStore", 2),
    ("10:00:07", "RotateKey", 2),
    ("10:00:08", ODD, 1),
];

fn records() -> Vec<Value> {
    let mut out = Vec::new();
    for (second, name, n) in CALLS {
        for _ in 0..*n {
            out.push(record(out.len(), second, name));
        }
    }
    out
}

fn run(args: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("admin.json");
    std::fs::write(&log, json!({ "Records": records() }).to_string()).expect("write log");
    let mut all = vec!["--source", log.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let out = kmstop_report(dir.path(), &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report_json() -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("admin.json");
    std::fs::write(&log, json!({ "Records": records() }).to_string()).expect("write log");
    let args = [
        "--source",
        log.to_str().expect("utf-8 path"),
        "--format",
        "json",
    ];
    json_of(&kmstop_report(dir.path(), &args))
}

#[test]
fn the_added_operations_are_rated_against_the_page_s_quotas() {
    let report = report_json();
    let q = &report["quota"];
    let row = |family: &str| {
        q["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["family"] == family)
            .cloned()
            .unwrap_or_else(|| panic!("no {family} row: {q:#}"))
    };
    // (family, quota, requests, peak/s, % of quota)
    for (family, quota, requests, peak, pct) in [
        ("ScheduleKeyDeletion", 15.0, 4, 3, 20.0),
        ("RetireGrant", 50.0, 10, 10, 20.0),
        ("TagResource", 10.0, 4, 4, 40.0),
        ("UpdatePrimaryRegion", 5.0, 1, 1, 20.0),
        ("DisconnectCustomKeyStore", 5.0, 2, 2, 40.0),
    ] {
        let r = row(family);
        assert_eq!(r["quota"], quota, "{family}");
        assert_eq!(r["requests"], requests, "{family}");
        assert_eq!(r["peak_per_second"], peak, "{family}");
        assert_eq!(r["pct_of_quota"], pct, "{family}");
        assert_eq!(r["account"], OWNER);
        assert_eq!(r["region"], "eu-west-1");
    }
    assert_eq!(q["rows"].as_array().map(Vec::len), Some(5));
    // Highest share first; ties by account, region, family name.
    assert_eq!(q["rows"][0]["family"], "TagResource");
    assert_eq!(q["rows"][1]["family"], "DisconnectCustomKeyStore");

    // Not rated: counted per operation with the reason, most first.
    assert_eq!(q["not_rated_requests"], 3);
    assert_eq!(
        q["not_rated"],
        json!([
            {"operation": "RotateKey", "reason": "no_documented_quota", "requests": 2},
            {"operation": ODD, "reason": "unknown_operation", "requests": 1},
        ])
    );
    // Every call is either in a row or not rated.
    let rated: u64 = q["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["requests"].as_u64())
        .sum();
    assert_eq!(rated + 3, report["cost"]["requests"].as_u64().unwrap_or(0));
}

#[test]
fn every_face_says_what_was_not_rated() {
    let (table, _) = run(&["--section", "quota"]);
    assert!(table.contains("REQUEST QUOTAS (5)"), "{table}");
    assert!(table.contains("NOT RATED (2)"), "{table}");
    let rotate = table
        .lines()
        .find(|l| l.contains("RotateKey"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        rotate.contains("no documented quota") && rotate.contains('2'),
        "{rotate}"
    );
    assert!(table.contains("unknown operation"), "{table}");
    assert!(
        !table.contains('\u{1b}'),
        "the escape reaches the terminal: {table:?}"
    );
    assert!(table.contains("Not rated: 3 requests"), "{table}");

    let (csv, _) = run(&["--format", "csv", "--section", "quota"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "account,region,family,quota,quota_overridden,requests,peak_per_second,peak_second,peak_minute_avg,peak_minute,pct_of_quota,throttled,operation,not_rated"
        )
    );
    assert!(
        csv.contains(
            "111122223333,eu-west-1,ScheduleKeyDeletion,15,false,4,3,2025-05-20T10:00:01Z,"
        ),
        "{csv}"
    );
    assert!(
        csv.contains(",,,,,2,,,,,,,RotateKey,no documented quota"),
        "{csv}"
    );
    assert!(!csv.contains('\u{1b}'), "{csv:?}");

    let (md, _) = run(&["--format", "md"]);
    assert!(md.contains("## Requests not rated"), "{md}");
    assert!(
        md.contains("| RotateKey | no documented quota | 2 |"),
        "{md}"
    );
    let (html, _) = run(&["--format", "html"]);
    assert!(html.contains("<h2>Requests not rated</h2>"), "{html}");
    assert!(html.contains("<td class=\"d\">RotateKey</td>"), "{html}");
    assert!(!html.contains('\u{1b}'), "{html:?}");
}

#[test]
fn the_pane_names_the_calls_no_quota_rates() {
    let now = Utc
        .with_ymd_and_hms(2025, 5, 20, 12, 0, 0)
        .single()
        .expect("a time");
    let data = Data::new(&DataConfig::files(), kmstop::alert::builtin::rules()).expect("rules");
    let mut app = App::new(data, Mode::Files(vec!["./logs".to_owned()]), now);
    app.data
        .ingest(records().iter().map(support::pack).collect(), None);
    app.data.finish_files();
    update(&mut app, Action::Focus(Pane::Usage), now);
    assert_eq!(
        serde_json::to_value(&app.snapshot.usage.answer.quota).expect("json"),
        report_json()["quota"]
    );
    let mut terminal = Terminal::new(TestBackend::new(160, 40)).expect("test terminal");
    terminal
        .draw(|f| {
            let _ = kmstop::ui::draw(f, &app, &Theme::default());
        })
        .expect("draws");
    let text = support::text(terminal.backend().buffer());
    let line = text
        .lines()
        .find(|l| l.contains("Not rated"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("3 calls"), "{line}");
    assert!(line.contains("RotateKey 2"), "{line}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
}
