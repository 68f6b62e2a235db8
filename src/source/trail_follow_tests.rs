//! The follower's poll through the real S3 SDK client with mocked answers:
//! file names and event times come from the bucket, so a stamp in the
//! future must not move the listing or "complete to" past now; a quiet
//! region's file still says its minutes are read; an object read once is
//! not fetched again.

use std::io::Write as _;

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::Object;
use aws_smithy_mocks::{Rule, mock};

use super::*;
use crate::clock::ManualClock;

const PREFIX: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/";
const FUTURE: &str = "2099/12/31/111122223333_CloudTrail_us-east-1_20991231T2355Z_f.json.gz";
const QUIET: &str = "2026/12/04/111122223333_CloudTrail_us-east-1_20261204T1005Z_q.json.gz";

fn gzip(text: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(text.as_bytes()).expect("in-memory write");
    enc.finish().expect("in-memory gzip")
}

fn reader(rules: &[&Rule]) -> S3Reader {
    S3Reader::mocked(rules)
}

fn object(key: &'static str, body: String) -> Rule {
    mock!(Client::get_object)
        .match_requests(move |r| r.key() == Some(&format!("{PREFIX}{key}")))
        .then_output(move || {
            GetObjectOutput::builder()
                .body(ByteStream::from(gzip(&body)))
                .build()
        })
}

#[tokio::test]
async fn bucket_times_never_pass_now_and_objects_are_read_once() {
    let now = DateTime::parse_from_rfc3339("2026-12-04T10:10:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let list = mock!(Client::list_objects_v2)
        .match_requests(|r| r.prefix().is_some_and(|p| p.starts_with(PREFIX)))
        .then_output(|| {
            ListObjectsV2Output::builder()
                .set_contents(Some(
                    [FUTURE, QUIET]
                        .iter()
                        .map(|k| {
                            Object::builder()
                                .key(format!("{PREFIX}{k}"))
                                .size(10)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        });
    let future = object(
        FUTURE,
        r#"{"Records":[{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2099-12-31T23:55:00Z","eventID":"f1","awsRegion":"us-east-1","recipientAccountId":"111122223333","userIdentity":{"type":"AWSService","invokedBy":"s3.amazonaws.com"}}]}"#.to_string(),
    );
    let quiet = object(
        QUIET,
        r#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2026-12-04T10:03:00Z","eventID":"q1"}]}"#.to_string(),
    );
    let source = SourceId {
        account: "111122223333".into(),
        region: "us-east-1".into(),
    };
    let ids = SharedDelivered::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let follower = TrailFollower {
        reader: reader(&[&list, &future, &quiet]),
        url: S3Url::parse("s3://trail").expect("url"),
        account: "111122223333".into(),
        regions: vec![(source.clone(), ids.clone())],
        from: now - Duration::hours(1),
        interval: StdDuration::from_secs(1),
        own_identity: None,
        include_own_calls: false,
        clock: Arc::new(ManualClock::new(now)),
        tx: Outbox::from(tx),
        queue: None,
    };
    let mut leg = Leg {
        source: source.clone(),
        ids,
        prefix: PREFIX.into(),
        seen: BTreeSet::new(),
        newest: None,
        status: new_status(&source, "s3://trail/", Health::Starting),
    };
    assert!(follower.poll(&mut leg).await);
    assert!(leg.newest.is_some_and(|t| t <= now), "{:?}", leg.newest);
    assert!(
        leg.status.read_to.is_some_and(|t| t <= now),
        "{:?}",
        leg.status.read_to
    );
    // The quiet file says the five minutes before its delivery are read.
    assert!(leg.status.read_to >= Some(now - Duration::minutes(10)));
    assert_eq!(leg.status.objects, 2);
    assert!(follower.poll(&mut leg).await);
    assert_eq!(
        (future.num_calls(), quiet.num_calls()),
        (1, 1),
        "fetched once"
    );
    drop(follower);
    let mut delivered = Vec::new();
    while let Some(msg) = rx.recv().await {
        if let SourceMsg::Events { events, .. } = msg {
            delivered.extend(events.iter().map(|e| e.view().event_id.to_string()));
        }
    }
    assert_eq!(
        delivered,
        ["f1"],
        "delivered once, its time left to the store"
    );
}
