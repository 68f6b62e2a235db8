//! `tail --sqs-queue`: the trail's new objects learnt from an SQS queue
//! (moto's) of the bucket's notifications, instead of by listing the
//! simulator's trail bucket. The test plays S3's part: it sends a
//! notification for each object the simulator delivers, in the shapes S3
//! and SNS send, among messages that name nothing kmstop follows. Every
//! event is printed once, kmstop lists the bucket only at the start, and
//! it deletes every message it has handled.

// Deadlines bound the waits on real processes.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use kmstop::clock::{Clock, SystemClock};
use kmstop::sim::READ_ONLY_TARGETS;

use super::support::moto::Moto;
use super::trail_union::{Run, assert_each_once, printed, tail_command, truth_after, union_sim};

fn credentials() -> Credentials {
    Credentials::new("AKIDSIMULATOR", "simulator-secret", None, None, "test")
}

fn sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(credentials())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn notice(bucket: &str, key: &str) -> String {
    serde_json::json!({"Records": [{
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace(' ', "+")}}
    }]})
    .to_string()
}

/// S3's part: a notification on the queue for every new object of the
/// bucket, every other one through SNS; its own listings counted.
struct Notifier {
    lists: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Notifier {
    fn start(sim_endpoint: String, bucket: String, queue: (aws_sdk_sqs::Client, String)) -> Self {
        let lists = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, done) = (Arc::clone(&lists), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let s3 = s3(&sim_endpoint);
            let (sqs, url) = queue;
            let mut told = BTreeSet::new();
            while !done.load(Ordering::Relaxed) {
                rt.block_on(async {
                    count.fetch_add(1, Ordering::Relaxed);
                    let Ok(page) = s3.list_objects_v2().bucket(&bucket).send().await else {
                        return;
                    };
                    assert!(
                        page.is_truncated() != Some(true),
                        "one page holds the test's trail"
                    );
                    for object in page.contents() {
                        let key = object.key().unwrap_or_default().to_string();
                        if !key.contains("/CloudTrail/") || !told.insert(key.clone()) {
                            continue;
                        }
                        let mut body = notice(&bucket, &key);
                        if told.len() % 2 == 0 {
                            body = serde_json::json!({"Type": "Notification", "Message": body})
                                .to_string();
                        }
                        sqs.send_message()
                            .queue_url(&url)
                            .message_body(body)
                            .send()
                            .await
                            .expect("SendMessage");
                    }
                });
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Self {
            lists,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn queue_depth(rt: &tokio::runtime::Runtime, sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = rt
        .block_on(
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(A::ApproximateNumberOfMessages)
                .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
                .send(),
        )
        .expect("GetQueueAttributes");
    let attrs = out.attributes().cloned().unwrap_or_default();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|a| {
        attrs
            .get(a)
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
    })
    .sum()
}

fn kmstop_lists(sim: &kmstop::sim::SimHandle, notifier: &Notifier) -> usize {
    let all = sim
        .requests()
        .iter()
        .filter(|r| r.target == "S3.ListObjectsV2")
        .count();
    all - notifier.lists.load(Ordering::Relaxed).min(all)
}

#[test]
fn tail_reads_the_trail_from_queue_notices_without_listing_and_empties_the_queue() {
    let start = SystemClock.now();
    let until = start + chrono::Duration::seconds(30);
    let sim = union_sim(until);
    let moto = Moto::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = sqs(&moto.endpoint);
    let url = rt
        .block_on(client.create_queue().queue_name("kmstop-trail").send())
        .expect("CreateQueue")
        .queue_url()
        .expect("queue url")
        .to_string();
    let bucket = kmstop::sim::trail_bucket("111122223333");
    // Messages that name nothing kmstop follows: deleted all the same.
    for body in [
        r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"x"}"#.to_string(),
        notice(
            "another-bucket",
            "AWSLogs/111122223333/CloudTrail/us-east-1/x.json.gz",
        ),
    ] {
        rt.block_on(
            client
                .send_message()
                .queue_url(&url)
                .message_body(body)
                .send(),
        )
        .expect("SendMessage");
    }
    let notifier = Notifier::start(
        sim.endpoint(),
        bucket.clone(),
        (client.clone(), url.clone()),
    );

    let state = tempfile::tempdir().expect("state dir");
    let mut command = tail_command(state.path());
    command
        .env("AWS_ENDPOINT_URL", sim.endpoint())
        .env("AWS_ENDPOINT_URL_SQS", &moto.endpoint)
        .args(["--trail", &format!("s3://{bucket}"), "--sqs-queue", &url]);
    let run = Run::spawn(command);

    // The bucket is listed once, at the start; after that only the queue
    // tells of new objects.
    let deadline = Instant::now() + Duration::from_mins(3);
    while !run.stderr().contains("reading the trail at") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let listed_at_start = kmstop_lists(&sim, &notifier);

    let from = start - chrono::Duration::minutes(3) + chrono::Duration::seconds(10);
    let want = truth_after(&sim, from, until);
    run.wait_for(from, want.len());
    let deadline = Instant::now() + Duration::from_mins(2);
    while queue_depth(&rt, &client, &url) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    let lists = kmstop_lists(&sim, &notifier);
    drop(notifier);
    let depth = queue_depth(&rt, &client, &url);
    let (lines, err) = run.stop();
    assert_each_once(&printed(&lines, from), &want, &err);
    assert!(listed_at_start > 0, "the start lists the bucket");
    assert_eq!(
        lists, listed_at_start,
        "kmstop listed the bucket again though the queue tells of new objects\n{err}"
    );
    assert_eq!(depth, 0, "every handled message is deleted\n{err}");
    assert!(
        !sim.requests()
            .iter()
            .any(|r| !READ_ONLY_TARGETS.contains(&r.target.as_str())),
        "only reads of the simulator"
    );
}
