//! The poller through the real CloudTrail SDK client with mocked HTTP
//! answers (`aws-smithy-mocks`): a throttle and a 503, as CloudTrail sends
//! them on the wire, are classified by the SDK's own error parsing, retried
//! as the same request through the pacer, and the page is delivered once.

use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::operation::lookup_events::{LookupEventsInput, LookupEventsOutput};
use aws_sdk_cloudtrail::types::Event;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, TimeZone, Utc};
use tokio::sync::{mpsc, watch};

use super::test_clock::TokioClock;
use super::*;
use crate::aws::{CloudTrailReader, ErrorKind, LookupWindow};
use crate::clock::Clock;
use crate::feed::{SourceId, SourceMsg};

fn reader(rule: &Rule) -> CloudTrailReader {
    let conf = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("x", "x", None, None, "test"))
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(
            MockResponseInterceptor::new()
                .rule_mode(RuleMode::Sequential)
                .with_rule(rule),
        )
        .retry_config(RetryConfig::disabled())
        .build();
    CloudTrailReader::from_client(Client::from_conf(conf))
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("valid")
}

fn record(id: &str) -> String {
    serde_json::json!({
        "eventVersion": "1.08", "eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
        "eventTime": "2026-11-24T11:59:30Z", "eventID": id, "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/s"}
    })
    .to_string()
}

fn page() -> LookupEventsOutput {
    LookupEventsOutput::builder()
        .events(
            Event::builder()
                .event_id("e-1")
                .event_time(aws_smithy_types::DateTime::from_secs(t0().timestamp() - 30))
                .cloud_trail_event(record("e-1"))
                .build(),
        )
        .build()
}

#[tokio::test]
async fn throttling_and_503_are_classified_from_the_wire() {
    let throttled = mock!(Client::lookup_events)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        )
        .http_status(
            503,
            Some(r#"{"__type":"ServiceUnavailable","message":"down"}"#.into()),
        )
        .http_status(
            400,
            Some(r#"{"__type":"InvalidNextTokenException","message":"bad"}"#.into()),
        )
        .build();
    let reader = reader(&throttled);
    let window = LookupWindow {
        start: t0(),
        end: t0(),
    };
    let e = reader
        .lookup_kms_page(window, None)
        .await
        .expect_err("throttled");
    assert_eq!(
        (e.kind, e.code.as_deref()),
        (ErrorKind::Throttled, Some("ThrottlingException"))
    );
    let e = reader.lookup_kms_page(window, None).await.expect_err("503");
    assert_eq!(e.kind, ErrorKind::Server);
    let e = reader
        .lookup_kms_page(window, None)
        .await
        .expect_err("bad token");
    assert_eq!(e.code.as_deref(), Some("InvalidNextTokenException"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_page_is_asked_again_and_delivered_once() {
    let asked: Arc<Mutex<Vec<LookupEventsInput>>> = Arc::default();
    let seen = Arc::clone(&asked);
    let rule = mock!(Client::lookup_events)
        .match_requests(move |input| {
            seen.lock().expect("lock").push(input.clone());
            true
        })
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        )
        .http_status(503, None)
        .output(page)
        .output(|| LookupEventsOutput::builder().build())
        .repeatedly()
        .build();
    let (tx, mut rx) = mpsc::channel(16);
    let (stop_tx, stop_rx) = watch::channel(false);
    let source = SourceId {
        account: "111122223333".into(),
        region: "us-east-1".into(),
    };
    let settings = PollerSettings {
        backfill: chrono::Duration::zero(),
        ..PollerSettings::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(TokioClock {
        origin: t0(),
        start: tokio::time::Instant::now(),
    });
    let poller = Poller::new(
        reader(&rule),
        source,
        settings,
        Pacer::lookup_events(),
        clock,
        tx,
    );
    let task = tokio::spawn(poller.run(stop_rx));
    let mut events = Vec::new();
    let mut last_status = None;
    while events.is_empty() {
        let update = tokio::time::timeout(std::time::Duration::from_mins(10), rx.recv())
            .await
            .expect("a page within ten (paused) minutes");
        match update.expect("poller alive") {
            SourceMsg::Events { events: batch, .. } => events.extend(batch),
            SourceMsg::Status(s) => last_status = Some(s),
            _ => {}
        }
    }
    stop_tx.send(true).expect("stop");
    while let Some(update) = rx.recv().await {
        match update {
            SourceMsg::Events { events: batch, .. } => events.extend(batch),
            SourceMsg::Status(s) => last_status = Some(s),
            _ => {}
        }
    }
    task.await.expect("poller");
    assert_eq!(events.len(), 1);
    let asked = asked.lock().expect("lock");
    // The three attempts at the first page are one and the same request.
    assert!(asked.len() >= 3);
    assert_eq!(asked[0], asked[1]);
    assert_eq!(asked[1], asked[2]);
    let status = last_status.expect("a status");
    assert_eq!((status.throttles, status.errors), (1, 1));
}

/// A `ScheduleKeyDeletion` read from CloudTrail makes the same source's
/// inventory re-read that key at once; a `Decrypt` does not.
#[tokio::test(start_paused = true)]
async fn an_event_that_changes_a_key_has_the_inventory_re_read_it() {
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let scheduled = serde_json::json!({
        "eventVersion": "1.08", "eventSource": "kms.amazonaws.com",
        "eventName": "ScheduleKeyDeletion", "eventTime": "2026-11-24T11:59:40Z",
        "eventID": "e-2", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
        "readOnly": false,
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/admin/s"},
        "resources": [{"ARN": key, "accountId": "111122223333", "type": "AWS::KMS::Key"}]
    })
    .to_string();
    let rule = mock!(Client::lookup_events)
        .sequence()
        .output(move || {
            LookupEventsOutput::builder()
                .events(
                    Event::builder()
                        .event_id("e-1")
                        .event_time(aws_smithy_types::DateTime::from_secs(t0().timestamp() - 30))
                        .cloud_trail_event(record("e-1"))
                        .build(),
                )
                .events(
                    Event::builder()
                        .event_id("e-2")
                        .event_time(aws_smithy_types::DateTime::from_secs(t0().timestamp() - 20))
                        .cloud_trail_event(scheduled.clone())
                        .build(),
                )
                .build()
        })
        .output(|| LookupEventsOutput::builder().build())
        .repeatedly()
        .build();
    let (tx, mut rx) = mpsc::channel(16);
    let (asks, mut asked) = mpsc::channel(16);
    let (stop_tx, stop_rx) = watch::channel(false);
    let settings = PollerSettings {
        backfill: chrono::Duration::zero(),
        inventory: Some(crate::source::inventory::InventoryHandle::over(asks)),
        ..PollerSettings::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(TokioClock {
        origin: t0(),
        start: tokio::time::Instant::now(),
    });
    let source = SourceId {
        account: "111122223333".into(),
        region: "us-east-1".into(),
    };
    let poller = Poller::new(
        reader(&rule),
        source,
        settings,
        Pacer::lookup_events(),
        clock,
        tx,
    );
    let task = tokio::spawn(poller.run(stop_rx));
    loop {
        let update = tokio::time::timeout(std::time::Duration::from_mins(10), rx.recv())
            .await
            .expect("a page within ten (paused) minutes");
        if let Some(SourceMsg::Events { .. }) = update {
            break;
        }
    }
    assert_eq!(asked.try_recv().ok().as_deref(), Some(key));
    assert!(asked.try_recv().is_err(), "only the changed key is re-read");
    stop_tx.send(true).expect("stop");
    while rx.recv().await.is_some() {}
    task.await.expect("poller");
}
