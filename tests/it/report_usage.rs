//! The quota and cost sections through `kmstop report`: a generated log
//! with known rates (120 Decrypt calls in one second, 3 of them throttled,
//! a cross-account caller, a per-operation quota in another region) gives
//! exact peaks, shares, throttled counts and prices in JSON, table and CSV;
//! `--quota` and `--price` replace the documented values and say so; bad
//! values are refused naming the flag.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{json_of, kmstop_report};

pub(crate) const OWNER: &str = "111122223333";
pub(crate) const PARTNER: &str = "444455556666";
pub(crate) const ORDERS: &str = "arn:aws:iam::111122223333:role/orders-api";
pub(crate) const INTRUDER: &str = "arn:aws:iam::444455556666:role/partner-app";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

struct Call<'a> {
    second: &'a str,
    name: &'a str,
    principal: &'a str,
    region: &'a str,
    error: Option<&'a str>,
}

fn record(i: usize, c: &Call<'_>) -> Value {
    let account = c.principal.split(':').nth(4).unwrap_or(OWNER);
    let mut r = json!({
        "eventVersion": "1.08",
        "eventTime": format!("2025-05-20T{}Z", c.second),
        "eventSource": "kms.amazonaws.com",
        "eventName": c.name,
        "awsRegion": c.region,
        "sourceIPAddress": "10.0.0.7",
        "userAgent": "aws-sdk-go/1.44",
        "eventID": format!("00000000-0000-4000-8000-{i:012}"),
        "eventType": "AwsApiCall",
        "readOnly": true,
        "recipientAccountId": OWNER,
        "userIdentity": {
            "type": "AssumedRole",
            "arn": c.principal.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/s",
            "accountId": account,
            "sessionContext": {"sessionIssuer": {"arn": c.principal}}
        },
        "requestParameters": {"keyId": KEY},
        "resources": [{"ARN": KEY, "type": "AWS::KMS::Key"}]
    });
    if let Some(code) = c.error {
        r["errorCode"] = json!(code);
        r["errorMessage"] = json!("Rate exceeded");
    }
    r
}

/// The log's records: see the module doc; every number below follows
/// from them (the dashboard's Quota & cost pane is checked against the
/// report over the same ones).
pub(crate) fn records() -> Vec<Value> {
    let mut calls: Vec<Call<'_>> = Vec::new();
    let at = |second, name, principal, region, error| Call {
        second,
        name,
        principal,
        region,
        error,
    };
    for i in 0..120 {
        let error = (i < 3).then_some("ThrottlingException");
        calls.push(at("10:00:05", "Decrypt", ORDERS, "us-east-1", error));
    }
    for _ in 0..30 {
        calls.push(at("10:00:06", "GenerateDataKey", ORDERS, "us-east-1", None));
    }
    let minute: Vec<String> = (0..60).map(|s| format!("10:01:{s:02}")).collect();
    for s in &minute {
        calls.push(at(s, "Encrypt", ORDERS, "us-east-1", None));
    }
    for _ in 0..5 {
        calls.push(at("10:00:05", "Decrypt", INTRUDER, "us-east-1", None));
    }
    for _ in 0..2 {
        calls.push(at("10:02:00", "CreateGrant", ORDERS, "eu-west-3", None));
    }
    for _ in 0..10 {
        calls.push(at("10:03:00", "Sign", ORDERS, "us-east-1", None));
    }
    for _ in 0..4 {
        calls.push(at(
            "10:04:00",
            "GenerateDataKeyPair",
            ORDERS,
            "us-east-1",
            None,
        ));
    }
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| record(i, c))
        .collect()
}

/// The records as one log file in `dir`.
pub(crate) fn write_log(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("usage.json");
    std::fs::write(&path, json!({ "Records": records() }).to_string()).expect("write log");
    path
}

fn run(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = write_log(dir.path());
    let mut all = vec!["--source", log.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    kmstop_report(dir.path(), &all)
}

fn row<'r>(report: &'r Value, account: &str, region: &str, family: &str) -> &'r Value {
    report["quota"]["rows"]
        .as_array()
        .expect("quota rows")
        .iter()
        .find(|r| r["account"] == account && r["region"] == region && r["family"] == family)
        .unwrap_or_else(|| panic!("no {account} {region} {family} row: {:#}", report["quota"]))
}

#[test]
fn rates_shares_throttles_and_prices_are_exact() {
    let out = run(&["--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    let q = &report["quota"];
    assert_eq!(q["known"], true);
    assert_eq!(q["exact"], true);
    assert_eq!(q["overrides"], json!([]));

    let sym = row(&report, OWNER, "us-east-1", "symmetric");
    assert_eq!(sym["quota"], 100_000.0);
    assert_eq!(sym["quota_overridden"], false);
    assert_eq!(sym["requests"], 210);
    assert_eq!(sym["peak_per_second"], 120);
    assert_eq!(sym["peak_second"], "2025-05-20T10:00:05Z");
    // 150 requests in the minute from 10:00: 2.5 a second.
    assert_eq!(sym["peak_minute_avg"], 2.5);
    assert_eq!(sym["peak_minute"], "2025-05-20T10:00:00Z");
    assert_eq!(sym["pct_of_quota"], 0.12);
    assert_eq!(sym["throttled"], 3);

    // The partner's calls on the owner's key count against the partner's
    // quota, not the owner's.
    let partner = row(&report, PARTNER, "us-east-1", "symmetric");
    assert_eq!(partner["peak_per_second"], 5);
    assert_eq!(partner["throttled"], 0);

    let grant = row(&report, OWNER, "eu-west-3", "CreateGrant");
    assert_eq!(grant["quota"], 50.0);
    assert_eq!(grant["pct_of_quota"], 4.0);
    let sign = row(&report, OWNER, "us-east-1", "asymmetric");
    assert_eq!(
        (sign["quota"].clone(), sign["pct_of_quota"].clone()),
        (json!(1000.0), json!(1.0))
    );
    let pair = row(&report, OWNER, "us-east-1", "GenerateDataKeyPair");
    assert_eq!(pair["quota"], Value::Null);
    assert_eq!(pair["pct_of_quota"], Value::Null);
    // Highest share first.
    assert_eq!(q["rows"][0]["family"], "CreateGrant");

    let c = &report["cost"];
    assert_eq!(c["known"], true);
    assert_eq!(c["free_tier_subtracted"], false);
    // 231 requests: 217 at $0.03 and 10 Sign at $0.15 per 10,000; 4 key
    // pairs unpriced.
    assert_eq!(c["requests"], 231);
    assert_eq!(c["unpriced_requests"], 4);
    assert_eq!(c["usd"], 0.000_801);
    let principal = |p: &str| {
        c["principals"]
            .as_array()
            .expect("principals")
            .iter()
            .find(|r| r["principal"] == p)
            .cloned()
            .unwrap_or_else(|| panic!("no {p}: {c:#}"))
    };
    let orders = principal(ORDERS);
    assert_eq!(
        (orders["account"].clone(), orders["requests"].clone()),
        (json!(OWNER), json!(226))
    );
    assert_eq!(orders["usd"], 0.000_786);
    let partner = principal(INTRUDER);
    assert_eq!(partner["account"], PARTNER);
    assert_eq!(partner["usd"], 0.000_015);
    let accounts = c["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 2);
    let key = &c["keys"][0];
    assert_eq!(key["arn"], KEY);
    assert_eq!(key["requests"], 231);
    assert_eq!(key["cross_account_requests"], 5);
}

#[test]
fn overrides_replace_the_documented_values_and_are_said() {
    let out = run(&[
        "--format",
        "json",
        "--quota",
        "symmetric=200",
        "--price",
        "GenerateDataKeyPair=12",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    let sym = row(&report, OWNER, "us-east-1", "symmetric");
    assert_eq!(sym["quota"], 200.0);
    assert_eq!(sym["quota_overridden"], true);
    assert_eq!(sym["pct_of_quota"], 60.0);
    assert_eq!(report["quota"]["overrides"], json!(["symmetric=200"]));
    // Other families keep their defaults.
    assert_eq!(
        row(&report, OWNER, "eu-west-3", "CreateGrant")["quota_overridden"],
        false
    );
    let c = &report["cost"];
    assert_eq!(c["unpriced_requests"], 0);
    // 4 pairs at $12 per 10,000 more.
    assert_eq!(c["usd"], 0.005_601);
    assert_eq!(c["overrides"], json!(["GenerateDataKeyPair=12"]));

    let table = run(&["--section", "quota", "--quota", "symmetric=200"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("200 (set)"), "{text}");
    assert!(text.contains("60.0%"), "{text}");
    assert!(
        text.contains("overridden with --quota: symmetric=200"),
        "{text}"
    );
}

#[test]
fn table_and_csv_show_the_sections() {
    let out = run(&["--section", "quota"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("REQUEST QUOTAS (5)"), "{text}");
    let sym = text
        .lines()
        .find(|l| l.contains(" symmetric ") && l.contains("us-east-1") && l.contains(OWNER))
        .unwrap_or_else(|| panic!("{text}"));
    for cell in ["100000", "120", "2025-05-20 10:00:05", "2.5", "0.1%", "3"] {
        assert!(sym.contains(cell), "{cell} in {sym}");
    }

    let out = run(&["--section", "cost"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("COST BY PRINCIPAL (2)"), "{text}");
    assert!(text.contains("$0.0008"), "{text}");
    assert!(text.contains("free tier"), "{text}");
    assert!(
        text.contains("4 GenerateDataKeyPair requests are not priced"),
        "{text}"
    );

    let out = run(&["--format", "csv", "--section", "quota"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "account,region,family,quota,quota_overridden,requests,peak_per_second,peak_second,peak_minute_avg,peak_minute,pct_of_quota,throttled,operation,not_rated"
        )
    );
    assert!(
        csv.contains("111122223333,us-east-1,symmetric,100000,false,210,120,2025-05-20T10:00:05Z,2.5,2025-05-20T10:00:00Z,0.12,3,,"),
        "{csv}"
    );
    let out = run(&["--format", "csv", "--section", "cost"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.contains("total,,,231,0.000801,4,"), "{csv}");
    assert!(
        csv.contains(&format!("principal,{INTRUDER},{PARTNER},5,0.000015,0,")),
        "{csv}"
    );

    let out = run(&["--format", "md"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## Request quotas"), "{md}");
    assert!(md.contains("## Cost by key"), "{md}");
    let out = run(&["--format", "html"]);
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.contains("<h2>Cost by principal</h2>"), "{html}");
}

#[test]
fn bad_overrides_are_refused_naming_the_flag() {
    for (flag, value, says) in [
        ("--quota", "symmetric=lots", "not a number"),
        ("--quota", "bogus=5", "not a quota family"),
        ("--quota", "symmetric", "FAMILY=N"),
        ("--quota", "symmetric=0", "more than zero"),
        ("--price", "free=1", "not a price class"),
    ] {
        let out = run(&["--format", "json", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(flag) && stderr.contains(says),
            "{flag} {value}: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}
