//! The walk through the real S3 SDK client with mocked HTTP answers: an
//! organization trail whose one account's folder is refused is walked
//! whole but for that folder, which is named with S3's reason.

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::types::{CommonPrefix, Object};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use super::*;
use crate::aws::ErrorKind;

const ORG: &str = "AWSLogs/o-abcdef12345/";

fn reader(rules: &[&Rule]) -> S3Reader {
    S3Reader::mocked(rules)
}

fn folders(prefix: &'static str, children: &'static [&'static str]) -> Rule {
    mock!(Client::list_objects_v2)
        .match_requests(move |r| r.prefix() == Some(prefix))
        .then_output(move || {
            ListObjectsV2Output::builder()
                .set_common_prefixes(Some(
                    children
                        .iter()
                        .map(|c| {
                            CommonPrefix::builder()
                                .prefix(format!("{prefix}{c}"))
                                .build()
                        })
                        .collect(),
                ))
                .build()
        })
}

fn denied(prefix: &'static str) -> Rule {
    mock!(Client::list_objects_v2)
        .match_requests(move |r| r.prefix() == Some(prefix))
        .then_http_response(|| {
            HttpResponse::new(
                StatusCode::try_from(403).expect("status"),
                SdkBody::from(
                    "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
                ),
            )
        })
}

fn files(prefix: &'static str, names: &'static [&'static str]) -> Rule {
    mock!(Client::list_objects_v2)
        .match_requests(move |r| r.prefix() == Some(prefix))
        .then_output(move || {
            ListObjectsV2Output::builder()
                .set_contents(Some(
                    names
                        .iter()
                        .map(|n| {
                            Object::builder()
                                .key(format!("{prefix}{n}"))
                                .size(10)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        })
}

#[tokio::test]
async fn a_refused_account_folder_is_named_and_the_rest_walked() {
    let root = folders("", &["AWSLogs/", "elb-logs/"]);
    let aws_logs = folders("AWSLogs/", &["o-abcdef12345/"]);
    let org = folders(ORG, &["111122223333/", "444455556666/", "not-an-account/"]);
    let open = folders(
        "AWSLogs/o-abcdef12345/111122223333/CloudTrail/",
        &["eu-west-1/"],
    );
    let refused = denied("AWSLogs/o-abcdef12345/444455556666/CloudTrail/");
    let region = files(
        "AWSLogs/o-abcdef12345/111122223333/CloudTrail/eu-west-1/",
        &[
            "2026/12/01/111122223333_CloudTrail_eu-west-1_20261201T1005Z_b.json.gz",
            "2026/11/30/111122223333_CloudTrail_eu-west-1_20261130T2355Z_a.json.gz",
            "2026/12/01/notes.txt",
        ],
    );
    let reader = reader(&[&root, &aws_logs, &org, &open, &refused, &region]);
    let url = S3Url::parse("s3://trail").expect("valid");
    let selection = Selection::default();
    let stats = WalkStats::default();
    let walker = Walker {
        reader: &reader,
        url: &url,
        selection: &selection,
        stats: &stats,
    };
    let (leaves, failures) = walker.leaves().await;
    assert_eq!(
        leaves,
        [Leaf::Region(
            "AWSLogs/o-abcdef12345/111122223333/CloudTrail/eu-west-1/".into()
        )]
    );
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        failures[0].address,
        "s3://trail/AWSLogs/o-abcdef12345/444455556666/CloudTrail/"
    );
    assert_eq!(failures[0].error.kind, ErrorKind::AccessDenied);
    assert!(
        failures[0].to_string().contains("AccessDenied"),
        "{}",
        failures[0]
    );

    let (objects, failures) = walker.batch(&leaves, &Batch::All).await;
    assert!(failures.is_empty());
    let keys: Vec<&str> = objects
        .iter()
        .map(|o| o.key.rsplit('/').next().unwrap_or_default())
        .collect();
    // In delivery order, the note counted and not fetched.
    assert_eq!(
        keys,
        [
            "111122223333_CloudTrail_eu-west-1_20261130T2355Z_a.json.gz",
            "111122223333_CloudTrail_eu-west-1_20261201T1005Z_b.json.gz"
        ]
    );
    assert_eq!(stats.not_log_files.load(Ordering::Relaxed), 1);
    // root, AWSLogs/, the org, two accounts, one region.
    assert_eq!(stats.requests.load(Ordering::Relaxed), 6);
}

#[tokio::test]
async fn a_continuation_token_that_does_not_move_ends_the_listing() {
    let looping = mock!(Client::list_objects_v2)
        .match_requests(|r| r.prefix() == Some("logs/"))
        .then_output(|| {
            ListObjectsV2Output::builder()
                .contents(Object::builder().key("logs/a.json").size(1).build())
                .is_truncated(true)
                .next_continuation_token("same")
                .build()
        });
    let reader = reader(&[&looping]);
    let url = S3Url::parse("s3://trail/logs").expect("valid");
    let selection = Selection::default();
    let stats = WalkStats::default();
    let walker = Walker {
        reader: &reader,
        url: &url,
        selection: &selection,
        stats: &stats,
    };
    let leaves = [Leaf::Everything("logs/".into())];
    let (objects, _) = walker.batch(&leaves, &Batch::All).await;
    // The first page, then the same token once more: not a third time.
    assert_eq!(stats.requests.load(Ordering::Relaxed), 2);
    assert_eq!(objects.len(), 2);
}
