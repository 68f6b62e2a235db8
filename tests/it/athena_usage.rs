//! The quota and cost sections pushed down to Athena: over an organization
//! trail with two accounts in three regions, every quota family, bursts
//! with tied seconds and minutes, throttled calls, a cross-account caller
//! (billed and rated to its own account), a service without an account
//! (billed to the recipient), unpriced and unrated operations, a hostile
//! principal name and a copied log file, the report from the Athena
//! stand-in (kmstop's SQL read by sqlglot's Athena dialect, run by DuckDB)
//! has the `quota` and `cost` sections of `kmstop report` over the same
//! files, to the byte, with and without `--who`, `--quota` and `--price`.

use crate::support;

use std::path::Path;

use kmstop::aggregate::quota::FAMILIES;
use serde_json::{Value, json};

use support::athena::{AthenaDuck, AthenaOptions, Layout, report_json};

const OWNER: &str = "111122223333";
const PARTNER: &str = "444455556666";
const ORDERS: &str = "orders-api";
const HOSTILE: &str = "o'brien\"; --";

fn key(region: &str, account: &str, n: u32) -> String {
    format!("arn:aws:kms:{region}:{account}:key/aaaaaaaa-0000-4000-8000-{n:012}")
}

/// Who calls: a role (its account), or a service without an account.
#[derive(Clone, Copy)]
enum Caller<'a> {
    Role(&'a str, &'a str),
    Service(&'a str),
}

impl Caller<'_> {
    fn identity(self) -> Value {
        match self {
            Caller::Role(account, name) => json!({
                "type": "AssumedRole",
                "principalId": format!("AROAEXAMPLE:{name}"),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{name}/s"),
                "accountId": account,
                "accessKeyId": "ASIAEXAMPLE000000001",
                "sessionContext": {"sessionIssuer": {
                    "type": "Role",
                    "arn": format!("arn:aws:iam::{account}:role/{name}"),
                    "accountId": account,
                }},
            }),
            Caller::Service(name) => json!({ "type": "AWSService", "invokedBy": name }),
        }
    }
}

/// One call, logged in `trail`'s account.
struct Call<'a> {
    trail: &'a str,
    region: &'a str,
    time: String,
    name: &'a str,
    caller: Caller<'a>,
    key: Option<String>,
    error: Option<&'a str>,
}

fn record(i: usize, c: &Call<'_>) -> Value {
    let mut r = json!({
        "eventVersion": "1.08",
        "eventTime": format!("2025-05-20T{}Z", c.time),
        "eventSource": "kms.amazonaws.com",
        "eventName": c.name,
        "awsRegion": c.region,
        "sourceIPAddress": match c.caller {
            Caller::Role(PARTNER, _) => "198.51.100.7",
            _ => "10.0.0.7",
        },
        "userAgent": "aws-sdk-go/1.44",
        "eventID": format!("00000000-0000-4000-8000-{i:012}"),
        "eventType": "AwsApiCall",
        "readOnly": true,
        "recipientAccountId": c.trail,
        "userIdentity": c.caller.identity(),
        "requestParameters": {},
    });
    if let Some(k) = &c.key {
        r["requestParameters"] = json!({ "keyId": k });
        r["resources"] = json!([{ "ARN": k, "type": "AWS::KMS::Key" }]);
    }
    if let Some(code) = c.error {
        r["errorCode"] = json!(code);
        r["errorMessage"] = json!("Rate exceeded");
    }
    r
}

const ORDERS_ROLE: Caller<'static> = Caller::Role(OWNER, ORDERS);
const PARTNER_ROLE: Caller<'static> = Caller::Role(PARTNER, "partner-app");

/// The calls as they are written down: `n` alike at a time.
#[derive(Default)]
struct Calls(Vec<Call<'static>>);

impl Calls {
    /// `n` calls of `name` at `time`, logged in `place` (trail account,
    /// region); the first `throttled` of them refused as throttled.
    fn at(
        &mut self,
        place: (&'static str, &'static str),
        (time, n, throttled): (&str, usize, usize),
        name: &'static str,
        caller: Caller<'static>,
        key: Option<&str>,
    ) {
        for i in 0..n {
            self.0.push(Call {
                trail: place.0,
                region: place.1,
                time: time.to_owned(),
                name,
                caller,
                key: key.map(str::to_owned),
                error: (i < throttled).then_some("ThrottlingException"),
            });
        }
    }
}

/// The calls; see the module doc.
fn calls() -> Vec<Call<'static>> {
    let mut c = Calls::default();
    let us = (OWNER, "us-east-1");
    let us_key = key("us-east-1", OWNER, 1);
    let us_key = Some(us_key.as_str());
    c.at(us, ("10:00:05", 40, 3), "Decrypt", ORDERS_ROLE, us_key);
    c.at(
        us,
        ("10:00:06", 25, 0),
        "GenerateDataKey",
        ORDERS_ROLE,
        us_key,
    );
    for s in 0..60 {
        let time = format!("10:01:{s:02}");
        c.at(us, (&time, 1, 0), "Encrypt", ORDERS_ROLE, us_key);
    }
    // The partner's role on the owner's key: its own account's quota and bill.
    c.at(us, ("10:00:05", 10, 2), "Decrypt", PARTNER_ROLE, us_key);
    // A service without an account: the recipient's.
    for s in 7..11 {
        let time = format!("10:00:{s:02}");
        let s3 = Caller::Service("s3.amazonaws.com");
        c.at(us, (&time, 1, 0), "Decrypt", s3, us_key);
    }
    // Tied seconds (10:02:01 and :03) and tied minutes (10:02, 10:03).
    let eu = (OWNER, "eu-west-2");
    let eu_key = key("eu-west-2", OWNER, 2);
    let eu_key = Some(eu_key.as_str());
    let hostile = Caller::Role(OWNER, HOSTILE);
    for time in ["10:02:01", "10:02:03", "10:03:10", "10:03:11"] {
        c.at(eu, (time, 5, 0), "Sign", hostile, eu_key);
    }
    for time in ["10:02:04", "10:03:12"] {
        c.at(eu, (time, 1, 0), "Verify", hostile, eu_key);
    }
    c.at(
        eu,
        ("10:02:05", 3, 0),
        "GenerateDataKeyPair",
        ORDERS_ROLE,
        eu_key,
    );
    // Every operation of every family once (a throttled CreateKey), and
    // three that no family rates: KMS's own rotation (no documented
    // quota, twice) and a name kmstop does not know.
    let sa = (OWNER, "sa-east-1");
    let sa_key = key("sa-east-1", OWNER, 3);
    let keyless = ["GenerateRandom", "ListKeys", "ListAliases", "CreateKey"];
    let ops = FAMILIES.iter().flat_map(|f| f.operations.iter());
    for (s, op) in ops.enumerate() {
        let time = format!("10:{:02}:{:02}", 4 + s / 60, s % 60);
        let key = (!keyless.contains(op)).then_some(sa_key.as_str());
        c.at(
            sa,
            (&time, 1, usize::from(*op == "CreateKey")),
            op,
            ORDERS_ROLE,
            key,
        );
    }
    for (op, n) in [("RotateKey", 2), ("FrobnicateKey", 1)] {
        c.at(sa, ("10:09:00", n, 0), op, ORDERS_ROLE, Some(&sa_key));
    }
    // The partner's own trail.
    let own = key("eu-west-2", PARTNER, 4);
    for s in 0..7 {
        let time = format!("10:0{}:00", s % 3);
        let place = (PARTNER, "eu-west-2");
        c.at(
            place,
            (&time, 1, 0),
            "GenerateDataKey",
            PARTNER_ROLE,
            Some(&own),
        );
    }
    c.0
}

/// `DIR/ACCOUNT/CloudTrail/REGION/2025/05/20/`, one file per account and
/// region, and the owner's first us-east-1 records again in a copy.
fn write_trail(dir: &Path) {
    let calls = calls();
    let records: Vec<(Value, &Call<'_>)> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| (record(i, c), c))
        .collect();
    let mut files: std::collections::BTreeMap<(&str, &str), Vec<Value>> =
        std::collections::BTreeMap::new();
    for (r, c) in &records {
        files
            .entry((c.trail, c.region))
            .or_default()
            .push(r.clone());
    }
    for ((account, region), records) in &files {
        let day = dir.join(format!("{account}/CloudTrail/{region}/2025/05/20"));
        std::fs::create_dir_all(&day).expect("trail folders");
        let name = |part: &str| {
            day.join(format!(
                "{account}_CloudTrail_{region}_20250520T{part}.json.gz"
            ))
        };
        std::fs::write(name("1000Z_a"), support::gzip_log(records)).expect("log file");
        if (*account, *region) == (OWNER, "us-east-1") {
            std::fs::write(name("1005Z_b"), support::gzip_log(&records[..10])).expect("copy");
        }
    }
}

/// The calls no family rates, counted per operation with the reason.
fn assert_not_rated(report: &Value) {
    assert_eq!(report["quota"]["not_rated_requests"], 3);
    assert_eq!(
        report["quota"]["not_rated"],
        json!([
            {"operation": "RotateKey", "reason": "no_documented_quota", "requests": 2},
            {"operation": "FrobnicateKey", "reason": "unknown_operation", "requests": 1},
        ])
    );
}

fn report(source: &str, endpoint: &str, flags: &[&str]) -> Value {
    report_json(source, endpoint, flags)
}

#[test]
fn quota_and_cost_over_athena_equal_the_file_reports() {
    let dir = tempfile::tempdir().expect("trail dir");
    write_trail(dir.path());
    let athena = AthenaDuck::start(
        &[("security.org", dir.path(), Layout::Org)],
        &AthenaOptions::default(),
    );
    let folder = dir.path().to_str().expect("utf-8 path");
    let cases: [&[&str]; 4] = [
        &[],
        &["--who", "principal:role/orders-api"],
        &["--who", "ip:198.51.100.0/24"],
        &[
            "--quota",
            "symmetric=50",
            "--quota",
            "GenerateDataKeyPair=2",
            "--price",
            "requests=0.05",
            "--price",
            "GenerateDataKeyPair=12",
        ],
    ];
    let mut failures = Vec::new();
    for flags in cases {
        let local = report(folder, "", flags);
        let pushed = report("athena://security/org", &athena.endpoint, flags);
        for section in ["quota", "cost"] {
            if pushed[section] != local[section] {
                failures.push(format!(
                    "{flags:?} {section}:\n athena {}\n files  {}",
                    pushed[section], local[section]
                ));
            }
        }
        let not_known = pushed["skipped"]["not_known"].to_string();
        assert!(
            !not_known.contains("quota") && !not_known.contains("cost"),
            "{not_known}"
        );
        assert!(
            local["quota"]["rows"]
                .as_array()
                .is_some_and(|r| !r.is_empty()),
            "{flags:?}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // What the comparison covered: every family, throttles, ties, both
    // accounts, the cross-account caller and the unpriced calls.
    let all = report(folder, "", &[]);
    let rows = all["quota"]["rows"].as_array().expect("quota rows");
    for family in FAMILIES {
        assert!(
            rows.iter().any(|r| r["family"] == family.name),
            "{}",
            family.name
        );
    }
    let row = |account: &str, region: &str, family: &str| {
        rows.iter()
            .find(|r| r["account"] == account && r["region"] == region && r["family"] == family)
            .unwrap_or_else(|| panic!("{account} {region} {family}: {rows:?}"))
    };
    let owner = row(OWNER, "us-east-1", "symmetric");
    assert_eq!(owner["peak_per_second"], 40);
    assert_eq!(owner["throttled"], 3);
    assert_eq!(owner["peak_second"], "2025-05-20T10:00:05Z");
    let partner = row(PARTNER, "us-east-1", "symmetric");
    assert_eq!(
        (partner["requests"].as_u64(), partner["throttled"].as_u64()),
        (Some(10), Some(2))
    );
    let sign = row(OWNER, "eu-west-2", "asymmetric");
    assert_eq!(
        sign["peak_second"], "2025-05-20T10:02:01Z",
        "the earliest of tied seconds"
    );
    assert_eq!(
        sign["peak_minute"], "2025-05-20T10:02:00Z",
        "the earliest of tied minutes"
    );
    assert_not_rated(&all);
    let cost = &all["cost"];
    assert!(cost["unpriced_requests"].as_u64() > Some(0), "{cost}");
    assert!(
        cost["keys"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k["cross_account_requests"] == 10)),
        "{cost}"
    );
    assert!(
        cost["principals"].as_array().is_some_and(|p| p
            .iter()
            .any(|p| p["principal"] == "s3.amazonaws.com" && p["account"] == OWNER)),
        "{cost}"
    );
    assert!(cost.to_string().contains("o'brien"), "{cost}");
    // One query per report, each read by sqlglot and run.
    let queries = athena.queries();
    assert_eq!(queries.len(), cases.len(), "{queries:?}");
    assert!(queries.iter().all(|q| q.contains("'quota'")));
}
