//! A small, fixed CloudTrail story for the dashboard tests: a busy service,
//! a batch job refused now and then, a human with a hostile user agent,
//! an attacker refused in a burst at the end, and a key scheduled for
//! deletion. Every time and id is fixed, so frames are reproducible.

use chrono::{DateTime, Duration, TimeZone, Utc};
use kmstop::app::{App, Data, DataConfig, Mode};
use kmstop::event::{PackedEvent, Parsed, parse_record};
use kmstop::feed::{SourceId, SourceMsg};
use kmstop::inventory::KeyFacts;
use serde_json::{Value, json};

pub const ACCOUNT: &str = "111122223333";
pub const KEY_ORDERS: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1111aaaa-0000-4000-8000-000000000001";
pub const KEY_BATCH: &str =
    "arn:aws:kms:us-east-1:111122223333:key/2222bbbb-0000-4000-8000-000000000002";
pub const KEY_DOOMED: &str =
    "arn:aws:kms:us-east-1:111122223333:key/3333cccc-0000-4000-8000-000000000003";
pub const ORDERS: &str = "arn:aws:iam::111122223333:role/orders-api";
pub const BATCH: &str = "arn:aws:iam::111122223333:role/etl-batch";
pub const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
pub const ATTACKER: &str = "arn:aws:iam::444455556666:role/intruder";
/// What a hostile caller puts in its user agent: a colour, an OSC window
/// title, a bidi override.
pub const HOSTILE_UA: &str = "curl/8 \u{1b}[31mred\u{1b}]0;pwned\u{7} \u{202e}gnp.exe";

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 20, 10, 0, 0)
        .single()
        .expect("valid time")
}

pub fn record(i: usize, t: DateTime<Utc>, name: &str, principal: &str, key: &str) -> Value {
    let (kind, arn) = if principal.contains(":user/") {
        ("IAMUser", principal.to_owned())
    } else {
        (
            "AssumedRole",
            principal
                .replace(":iam::", ":sts::")
                .replace(":role/", ":assumed-role/")
                + "/session",
        )
    };
    let mut identity = json!({"type": kind, "arn": arn, "accountId": principal.split(':').nth(4).unwrap_or(ACCOUNT)});
    if kind == "AssumedRole" {
        identity["sessionContext"] = json!({"sessionIssuer": {"arn": principal}});
    }
    json!({
        "eventVersion": "1.08",
        "eventTime": t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.0.7",
        "userAgent": "aws-sdk-go/1.44",
        "eventID": format!("00000000-0000-4000-8000-{i:012}"),
        "eventType": "AwsApiCall",
        "readOnly": name == "Decrypt" || name == "GenerateDataKey",
        "recipientAccountId": ACCOUNT,
        "userIdentity": identity,
        "requestParameters": {"keyId": key},
        "resources": [{"ARN": key, "type": "AWS::KMS::Key"}]
    })
}

pub fn pack(v: &Value) -> PackedEvent {
    let text = v.to_string();
    match parse_record(&text) {
        Ok(Parsed::Kms(e)) => PackedEvent::pack(&e),
        other => panic!("fixture record does not parse: {other:?}"),
    }
}

/// The story's records, in time order.
pub fn records() -> Vec<Value> {
    let t0 = start();
    let mut out = Vec::new();
    let mut i = 0;
    // Two hours of traffic, one call every 20 s, rotating callers.
    for n in 0..360 {
        let t = t0 + Duration::seconds(n * 20);
        i += 1;
        let mut r = match n % 6 {
            0..=2 => {
                let mut r = record(i, t, "Decrypt", ORDERS, KEY_ORDERS);
                let obj = format!("arn:aws:s3:::orders-bucket/invoices/{}.pdf", n % 7);
                r["requestParameters"]["encryptionContext"] = json!({"aws:s3:arn": obj});
                r
            }
            3 | 4 => record(i, t, "GenerateDataKey", BATCH, KEY_BATCH),
            _ => {
                let mut r = record(i, t, "Decrypt", ALICE, KEY_ORDERS);
                r["userAgent"] = json!(HOSTILE_UA);
                r["requestParameters"]["encryptionContext"] = json!({"SecretARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-\u{1b}[2Jpass"});
                r
            }
        };
        if n % 6 == 4 && n % 36 == 4 {
            r["errorCode"] = json!("AccessDenied");
            r["errorMessage"] = json!("not authorized");
        }
        out.push(r);
    }
    // The attacker, refused 40 times in the last three minutes.
    for n in 0..40 {
        i += 1;
        let t = t0 + Duration::minutes(117) + Duration::seconds(n * 4);
        let mut r = record(i, t, "Decrypt", ATTACKER, KEY_DOOMED);
        r["errorCode"] = json!("AccessDeniedException");
        r["sourceIPAddress"] = json!("203.0.113.9");
        out.push(r);
    }
    // Someone schedules the key for deletion.
    i += 1;
    let mut r = record(
        i,
        t0 + Duration::minutes(100),
        "ScheduleKeyDeletion",
        ALICE,
        KEY_DOOMED,
    );
    r["readOnly"] = json!(false);
    out.push(r);
    out.sort_by_key(|r| r["eventTime"].as_str().unwrap_or_default().to_owned());
    out
}

/// File mode over the story, read and finished, at a fixed clock.
pub fn app() -> App {
    let rules = kmstop::alert::builtin::rules();
    let data = Data::new(&DataConfig::files(), rules).expect("built-in rules compile");
    let mut app = App::new(
        data,
        Mode::Files(vec!["./logs".to_owned()]),
        start() + Duration::hours(3),
    );
    let events: Vec<PackedEvent> = records().iter().map(pack).collect();
    // Two batches, the second older: arrival order is not time order.
    let (a, b) = events.split_at(200);
    app.data.ingest(b.to_vec(), None);
    app.data.ingest(a.to_vec(), None);
    app.data.finish_files();
    app.refresh();
    app
}

/// Inventory facts: the doomed key is pending deletion in 6 days.
pub fn with_inventory(app: &mut App) {
    let doomed = KeyFacts {
        arn: KEY_DOOMED.to_owned(),
        key_id: Some("3333cccc-0000-4000-8000-000000000003".to_owned()),
        account: Some(ACCOUNT.to_owned()),
        region: Some("us-east-1".to_owned()),
        aliases: vec!["alias/legacy-payments".to_owned()],
        state: Some("PendingDeletion".to_owned()),
        rotation_enabled: Some(false),
        deletion_date: Some(start() + Duration::days(6) + Duration::hours(3)),
        ..KeyFacts::default()
    };
    let orders = KeyFacts {
        arn: KEY_ORDERS.to_owned(),
        key_id: Some("1111aaaa-0000-4000-8000-000000000001".to_owned()),
        account: Some(ACCOUNT.to_owned()),
        region: Some("us-east-1".to_owned()),
        aliases: vec!["alias/orders".to_owned()],
        state: Some("Enabled".to_owned()),
        rotation_enabled: Some(true),
        rotation_period_days: Some(365),
        ..KeyFacts::default()
    };
    let source = SourceId {
        account: ACCOUNT.to_owned(),
        region: "us-east-1".to_owned(),
    };
    let now = app.now;
    app.data.apply(
        SourceMsg::Keys {
            source,
            keys: vec![doomed, orders],
            complete: true,
        },
        now,
    );
    app.refresh();
}

/// The buffer's text, one line per row, trailing spaces trimmed.
pub fn text(buffer: &ratatui::buffer::Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
