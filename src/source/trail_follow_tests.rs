//! The follower's poll through the real S3 SDK client with mocked answers:
//! file names and event times come from the bucket, so a stamp in the
//! future must not move the listing or "complete to" past now; a quiet
//! region's file still says its minutes are read; an object read once is
//! not fetched again; a busy object's events come in time order, in
//! bounded chunks.

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

fn listing(keys: &'static [&'static str]) -> Rule {
    mock!(Client::list_objects_v2)
        .match_requests(|r| r.prefix().is_some_and(|p| p.starts_with(PREFIX)))
        .then_output(move || {
            ListObjectsV2Output::builder()
                .set_contents(Some(
                    keys.iter()
                        .map(|k| {
                            Object::builder()
                                .key(format!("{PREFIX}{k}"))
                                .size(10)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        })
}

fn follower(
    reader: S3Reader,
    now: DateTime<Utc>,
    tx: tokio::sync::mpsc::Sender<SourceMsg>,
) -> (TrailFollower, Leg) {
    let source = SourceId {
        account: "111122223333".into(),
        region: "us-east-1".into(),
    };
    let ids = SharedDelivered::default();
    let follower = TrailFollower {
        reader,
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
    let leg = Leg {
        source: source.clone(),
        ids,
        prefix: PREFIX.into(),
        seen: BTreeSet::new(),
        newest: None,
        status: new_status(&source, "s3://trail/", Health::Starting),
    };
    (follower, leg)
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_busy_objects_events_come_in_time_order_in_bounded_chunks() {
    const BUSY: &str = "2026/12/04/111122223333_CloudTrail_us-east-1_20261204T1005Z_b.json.gz";
    let now = time("2026-12-04T10:10:00Z");
    let n = 2 * CHUNK + 345;
    // Out of order in the file, as CloudTrail's files are.
    let records: Vec<String> = (0..n)
        .map(|i| {
            let second = (i * 7919) % 300;
            format!(
                r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2026-12-04T10:{:02}:{:02}Z","eventID":"e{i}","awsRegion":"us-east-1","recipientAccountId":"111122223333","userIdentity":{{"type":"AWSService","invokedBy":"s3.amazonaws.com"}}}}"#,
                second / 60,
                second % 60
            )
        })
        .collect();
    let list = listing(&[BUSY]);
    let busy = object(BUSY, format!(r#"{{"Records":[{}]}}"#, records.join(",")));
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let (follower, mut leg) = follower(reader(&[&list, &busy]), now, tx);
    // A channel of two messages: the follower waits for the consumer.
    let consumer = tokio::spawn(async move {
        let mut chunks = Vec::new();
        while let Some(msg) = rx.recv().await {
            if let SourceMsg::Events { events, .. } = msg {
                chunks.push(events.iter().map(PackedEvent::time).collect::<Vec<_>>());
            }
        }
        chunks
    });
    assert!(follower.poll(&mut leg).await);
    drop(follower);
    let chunks = consumer.await.expect("consumer");
    assert!(
        chunks.iter().all(|c| c.len() <= CHUNK),
        "a chunk over {CHUNK}"
    );
    let times: Vec<_> = chunks.concat();
    assert_eq!(times.len(), n, "every event, once");
    assert!(times.is_sorted(), "not in time order across the chunks");
    assert_eq!(leg.status.events, n as u64);
}

#[tokio::test]
async fn bucket_times_never_pass_now_and_objects_are_read_once() {
    let now = time("2026-12-04T10:10:00Z");
    let list = listing(&[FUTURE, QUIET]);
    let future = object(
        FUTURE,
        r#"{"Records":[{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2099-12-31T23:55:00Z","eventID":"f1","awsRegion":"us-east-1","recipientAccountId":"111122223333","userIdentity":{"type":"AWSService","invokedBy":"s3.amazonaws.com"}}]}"#.to_string(),
    );
    let quiet = object(
        QUIET,
        r#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2026-12-04T10:03:00Z","eventID":"q1"}]}"#.to_string(),
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let (follower, mut leg) = follower(reader(&[&list, &future, &quiet]), now, tx);
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
