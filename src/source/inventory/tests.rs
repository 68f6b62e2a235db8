//! The fetch logic against mocked KMS answers (`aws-smithy-mocks`): the
//! real SDK client builds and parses every call, only the HTTP exchange is
//! replaced. Errors are given as HTTP answers in KMS's wire format, so the
//! SDK's own error parsing classifies them as it would in production.

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_kms::Client;
use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::operation::get_key_last_usage::GetKeyLastUsageOutput;
use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyOutput;
use aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusOutput;
use aws_sdk_kms::operation::list_aliases::ListAliasesOutput;
use aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput;
use aws_sdk_kms::operation::list_keys::ListKeysOutput;
use aws_sdk_kms::types::{
    AliasListEntry, KeyLastUsageData, KeyListEntry, KeyManagerType, KeyMetadata, KeySpec, KeyState,
    KeyUsageType, OriginType, RotationsListEntry,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::*;
use crate::aws::KmsReader;
use crate::clock::FixedClock;
use crate::live::{LiveUpdate, SourceId};

const A: &str = "11111111-1111-1111-1111-111111111111";
const B: &str = "22222222-2222-2222-2222-222222222222";
const RSA: &str = "33333333-3333-3333-3333-333333333333";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("test time").into()
}

fn smithy(s: &str) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(t(s).timestamp())
}

fn now() -> DateTime<Utc> {
    t("2026-03-01T12:00:00Z")
}

fn source() -> SourceId {
    SourceId {
        account: "123456789012".into(),
        region: "us-east-1".into(),
    }
}

fn arn(id: &str) -> String {
    format!("arn:aws:kms:us-east-1:123456789012:key/{id}")
}

fn reader(rules: &[&Rule]) -> KmsReader {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("x", "x", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .retry_config(RetryConfig::disabled())
        .build();
    KmsReader::from_client(Client::from_conf(conf))
}

/// An error answer as KMS sends it (`awsJson1_1`).
fn aws_error(status: u16, code: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(format!(
            r#"{{"__type":"{code}","message":"mocked {code}"}}"#
        )),
    )
}

fn list_keys(ids: &'static [&'static str]) -> Rule {
    mock!(Client::list_keys).then_output(move || {
        ListKeysOutput::builder()
            .set_keys(Some(
                ids.iter()
                    .map(|id| KeyListEntry::builder().key_id(*id).key_arn(arn(id)).build())
                    .collect(),
            ))
            .truncated(false)
            .build()
    })
}

fn aliases() -> Rule {
    mock!(Client::list_aliases).then_output(|| {
        ListAliasesOutput::builder()
            .aliases(alias("alias/zeta", Some(A)))
            .aliases(alias("alias/alpha", Some(A)))
            .aliases(alias("alias/b", Some(B)))
            // AWS-managed alias whose key does not exist yet.
            .aliases(alias("alias/aws/ebs", None))
            .truncated(false)
            .build()
    })
}

fn alias(name: &str, target: Option<&str>) -> AliasListEntry {
    AliasListEntry::builder()
        .alias_name(name)
        .set_target_key_id(target.map(str::to_string))
        .build()
}

fn metadata(id: &str, spec: KeySpec, usage: KeyUsageType) -> KeyMetadata {
    KeyMetadata::builder()
        .key_id(id)
        .arn(arn(id))
        .aws_account_id("123456789012")
        .description(format!("key {id}"))
        .key_state(KeyState::Enabled)
        .key_manager(KeyManagerType::Customer)
        .key_spec(spec)
        .key_usage(usage)
        .origin(OriginType::AwsKms)
        .creation_date(smithy("2025-01-02T03:04:05Z"))
        .build()
        .expect("key id set")
}

fn describe_all() -> Rule {
    mock!(Client::describe_key).then_compute_output(|req| {
        let id = req.key_id().unwrap_or_default();
        let id = id.rsplit('/').next().unwrap_or(id);
        let m = if id == RSA {
            metadata(id, KeySpec::Rsa2048, KeyUsageType::SignVerify)
        } else {
            metadata(id, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        };
        DescribeKeyOutput::builder().key_metadata(m).build()
    })
}

fn rotation_on() -> Rule {
    mock!(Client::get_key_rotation_status).then_output(|| {
        GetKeyRotationStatusOutput::builder()
            .key_rotation_enabled(true)
            .rotation_period_in_days(180)
            .next_rotation_date(smithy("2026-06-01T00:00:00Z"))
            .build()
    })
}

fn rotations() -> Rule {
    mock!(Client::list_key_rotations).then_output(|| {
        ListKeyRotationsOutput::builder()
            .rotations(
                RotationsListEntry::builder()
                    .rotation_date(smithy("2025-06-01T00:00:00Z"))
                    .build(),
            )
            .rotations(
                RotationsListEntry::builder()
                    .rotation_date(smithy("2025-12-01T00:00:00Z"))
                    .build(),
            )
            .truncated(false)
            .build()
    })
}

fn policy_ok() -> Rule {
    mock!(Client::get_key_policy).then_output(|| {
        GetKeyPolicyOutput::builder()
            .policy("{\"Statement\":[]}")
            .build()
    })
}

fn last_usage_ok() -> Rule {
    mock!(Client::get_key_last_usage).then_output(|| {
        GetKeyLastUsageOutput::builder()
            .key_last_usage(
                KeyLastUsageData::builder()
                    .timestamp(smithy("2026-02-28T10:00:00Z"))
                    .build(),
            )
            .build()
    })
}

fn by_id<'a>(keys: &'a [crate::inventory::KeyFacts], id: &str) -> &'a crate::inventory::KeyFacts {
    keys.iter()
        .find(|k| k.key_id.as_deref() == Some(id))
        .expect("key in inventory")
}

#[tokio::test]
async fn a_full_read_fills_every_field() {
    let rules = [
        list_keys(&[A, B]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
        last_usage_ok(),
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let mut cache = LastUsageCache::default();
    let inv = fetch_region(&reader, &source(), &mut cache, now())
        .await
        .expect("region read");
    assert_eq!(inv.problems, Vec::<String>::new());
    let keys: Vec<_> = inv.keys.iter().map(|k| k.key_id.clone()).collect();
    assert_eq!(keys, [Some(A.to_string()), Some(B.to_string())]);
    let a = by_id(&inv.keys, A);
    assert_eq!(a.arn, arn(A));
    assert_eq!(a.aliases, ["alias/alpha", "alias/zeta"]);
    assert_eq!(a.state.as_deref(), Some("Enabled"));
    assert_eq!(a.key_manager.as_deref(), Some("CUSTOMER"));
    assert_eq!(a.key_spec.as_deref(), Some("SYMMETRIC_DEFAULT"));
    assert_eq!(a.key_usage.as_deref(), Some("ENCRYPT_DECRYPT"));
    assert_eq!(a.created, Some(t("2025-01-02T03:04:05Z")));
    assert_eq!(a.rotation_enabled, Some(true));
    assert_eq!(a.rotation_period_days, Some(180));
    assert_eq!(a.next_rotation, Some(t("2026-06-01T00:00:00Z")));
    assert_eq!(
        a.last_rotated,
        Some(t("2025-12-01T00:00:00Z")),
        "newest rotation"
    );
    assert_eq!(a.last_used, Some(t("2026-02-28T10:00:00Z")));
    assert_eq!(a.policy.as_deref(), Some("{\"Statement\":[]}"));
    assert!(a.unreadable.is_empty(), "{:?}", a.unreadable);
    assert_eq!(by_id(&inv.keys, B).aliases, ["alias/b"]);
}

#[tokio::test]
async fn access_denied_on_one_policy_marks_only_that_field() {
    let denied = mock!(Client::get_key_policy)
        .match_requests(|r| r.key_id() == Some(B))
        .then_http_response(|| aws_error(400, "AccessDeniedException"));
    let rules = [
        list_keys(&[A, B]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        denied,
        policy_ok(),
        last_usage_ok(),
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let inv = fetch_region(&reader, &source(), &mut LastUsageCache::default(), now())
        .await
        .expect("a denied policy does not fail the region");
    let b = by_id(&inv.keys, B);
    assert_eq!(b.policy, None);
    assert_eq!(
        b.unreadable.iter().collect::<Vec<_>>(),
        [(&"policy".to_string(), &NO_ACCESS.to_string())]
    );
    assert_eq!(b.state.as_deref(), Some("Enabled"), "the rest is read");
    assert_eq!(b.rotation_period_days, Some(180));
    let a = by_id(&inv.keys, A);
    assert!(a.policy.is_some() && a.unreadable.is_empty());
    assert!(
        inv.problems.is_empty(),
        "access denied is a mark, not a problem"
    );
}

#[tokio::test]
async fn unsupported_rotation_reads_not_applicable() {
    let unsupported = mock!(Client::get_key_rotation_status)
        .then_http_response(|| aws_error(400, "UnsupportedOperationException"));
    let no_rotations = mock!(Client::list_key_rotations)
        .then_http_response(|| aws_error(400, "UnsupportedOperationException"));
    let rules = [
        list_keys(&[A]),
        aliases(),
        describe_all(),
        unsupported,
        no_rotations,
        policy_ok(),
        last_usage_ok(),
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let inv = fetch_region(&reader, &source(), &mut LastUsageCache::default(), now())
        .await
        .expect("region read");
    let a = by_id(&inv.keys, A);
    for field in [
        "rotation_enabled",
        "rotation_period_days",
        "next_rotation",
        "last_rotated",
    ] {
        assert_eq!(
            a.unreadable.get(field).map(String::as_str),
            Some(NOT_APPLICABLE),
            "{field}"
        );
    }
    assert_eq!(a.rotation_enabled, None);
    assert!(inv.problems.is_empty());
}

#[tokio::test]
async fn keys_that_cannot_rotate_are_not_asked() {
    let rotation = rotation_on();
    let history = rotations();
    let rules = [
        list_keys(&[RSA]),
        aliases(),
        describe_all(),
        policy_ok(),
        last_usage_ok(),
    ];
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.push(&rotation);
    all.push(&history);
    let inv = fetch_region(
        &reader(&all),
        &source(),
        &mut LastUsageCache::default(),
        now(),
    )
    .await
    .expect("region read");
    let k = by_id(&inv.keys, RSA);
    assert_eq!(k.key_spec.as_deref(), Some("RSA_2048"));
    assert_eq!(
        k.unreadable.get("rotation_enabled").map(String::as_str),
        Some(NOT_APPLICABLE)
    );
    assert_eq!(
        k.unreadable.get("last_rotated").map(String::as_str),
        Some(NOT_APPLICABLE)
    );
    assert_eq!(rotation.num_calls() + history.num_calls(), 0);
}

#[tokio::test]
async fn list_keys_reads_every_page() {
    let pages = mock!(Client::list_keys)
        .match_requests(|r| r.limit() == Some(1000))
        .then_compute_output(|r| {
            let (ids, next): (&[&str], Option<&str>) = match r.marker() {
                None => (&[A], Some("m1")),
                Some("m1") => (&[B], Some("m2")),
                _ => (&[RSA], None),
            };
            ListKeysOutput::builder()
                .set_keys(Some(
                    ids.iter()
                        .map(|id| KeyListEntry::builder().key_id(*id).key_arn(arn(id)).build())
                        .collect(),
                ))
                .truncated(next.is_some())
                .set_next_marker(next.map(str::to_string))
                .build()
        });
    let reader = reader(&[&pages]);
    let keys = reader.list_keys().await.expect("all pages");
    let ids: Vec<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(ids, [A, B, RSA]);
    assert_eq!(pages.num_calls(), 3);
}

#[tokio::test]
async fn a_failing_list_keys_fails_the_region() {
    let denied =
        mock!(Client::list_keys).then_http_response(|| aws_error(400, "AccessDeniedException"));
    let err = fetch_region(
        &reader(&[&denied]),
        &source(),
        &mut LastUsageCache::default(),
        now(),
    )
    .await
    .expect_err("no key list, no inventory");
    assert_eq!(err.kind, crate::aws::ErrorKind::AccessDenied);
}

#[tokio::test]
async fn one_key_is_read_afresh_with_its_aliases() {
    let missing = mock!(Client::describe_key)
        .match_requests(|r| r.key_id() == Some("gone"))
        .then_http_response(|| aws_error(400, "NotFoundException"));
    let rules = [
        missing,
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
        last_usage_ok(),
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let mut cache = LastUsageCache::default();
    let (facts, problems) = fetch_key(&reader, &source(), &arn(A), &mut cache, now())
        .await
        .expect("read")
        .expect("key exists");
    assert!(problems.is_empty());
    assert_eq!(facts.key_id.as_deref(), Some(A));
    assert_eq!(facts.arn, arn(A));
    assert_eq!(facts.aliases, ["alias/alpha", "alias/zeta"]);
    assert_eq!(facts.rotation_period_days, Some(180));
    let gone = fetch_key(&reader, &source(), "gone", &mut cache, now())
        .await
        .expect("not found is not an error");
    assert_eq!(gone, None);
}

#[tokio::test]
async fn last_usage_is_cached_for_an_hour() {
    let usage = last_usage_ok();
    let rules = [
        list_keys(&[A, B]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
    ];
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.push(&usage);
    let reader = reader(&all);
    let mut cache = LastUsageCache::default();
    for minutes in [0, 10, 59] {
        let at = now() + chrono::Duration::minutes(minutes);
        let inv = fetch_region(&reader, &source(), &mut cache, at)
            .await
            .expect("read");
        assert_eq!(
            by_id(&inv.keys, A).last_used,
            Some(t("2026-02-28T10:00:00Z")),
            "{minutes}"
        );
    }
    assert_eq!(usage.num_calls(), 2, "once per key within the hour");
    fetch_region(
        &reader,
        &source(),
        &mut cache,
        now() + chrono::Duration::minutes(61),
    )
    .await
    .expect("read");
    assert_eq!(usage.num_calls(), 4, "asked again after the hour");
}

#[tokio::test]
async fn an_endpoint_without_last_usage_leaves_it_unknown() {
    let unknown = mock!(Client::get_key_last_usage)
        .then_http_response(|| aws_error(400, "UnknownOperationException"));
    let rules = [
        list_keys(&[A]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
    ];
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.push(&unknown);
    let reader = reader(&all);
    let mut cache = LastUsageCache::default();
    let inv = fetch_region(&reader, &source(), &mut cache, now())
        .await
        .expect("read");
    let a = by_id(&inv.keys, A);
    assert_eq!(a.last_used, None);
    assert!(
        a.unreadable.is_empty(),
        "unknown, not unreadable: {:?}",
        a.unreadable
    );
    assert!(inv.problems.is_empty());
    fetch_region(&reader, &source(), &mut cache, now())
        .await
        .expect("read");
    assert_eq!(
        unknown.num_calls(),
        1,
        "not asked again while the answer is fresh"
    );
}

#[tokio::test]
async fn a_failing_last_usage_is_one_problem_and_keeps_the_keys() {
    // moto answers operations it lacks with a bare HTML 500.
    let broken = mock!(Client::get_key_last_usage).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(500).expect("status"),
            SdkBody::from("<html>Internal Server Error</html>"),
        )
    });
    let rules = [
        list_keys(&[A, B, RSA]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
    ];
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.push(&broken);
    let inv = fetch_region(
        &reader(&all),
        &source(),
        &mut LastUsageCache::default(),
        now(),
    )
    .await
    .expect("read");
    assert_eq!(inv.keys.len(), 3);
    assert!(
        inv.keys
            .iter()
            .all(|k| k.last_used.is_none() && k.state.is_some())
    );
    assert_eq!(inv.problems.len(), 1, "{:?}", inv.problems);
    assert!(
        inv.problems[0].contains("GetKeyLastUsage"),
        "{}",
        inv.problems[0]
    );
}

#[tokio::test]
async fn a_denied_describe_keeps_the_row() {
    let denied = mock!(Client::describe_key)
        .match_requests(|r| r.key_id() == Some(B))
        .then_http_response(|| aws_error(400, "AccessDeniedException"));
    let rules = [
        list_keys(&[A, B]),
        aliases(),
        denied,
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
        last_usage_ok(),
    ];
    let inv = fetch_region(
        &reader(&rules.iter().collect::<Vec<_>>()),
        &source(),
        &mut LastUsageCache::default(),
        now(),
    )
    .await
    .expect("read");
    let b = by_id(&inv.keys, B);
    assert_eq!(b.arn, arn(B));
    assert_eq!(b.aliases, ["alias/b"]);
    assert_eq!(b.state, None);
    assert_eq!(
        b.unreadable.get("state").map(String::as_str),
        Some(NO_ACCESS)
    );
    assert_eq!(b.rotation_enabled, Some(true), "other calls still answer");
}

#[tokio::test]
async fn the_poller_sends_the_region_then_single_keys_on_request() {
    let rules = [
        list_keys(&[A, B]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
        last_usage_ok(),
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let (tx, mut rx) = mpsc::channel(4);
    let clock = Arc::new(FixedClock(now()));
    let (handle, task) = spawn(reader, source(), Duration::from_hours(1), clock, tx);
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a full read in time")
        .expect("an update");
    let LiveUpdate::Keys { keys, complete, .. } = first else {
        panic!("expected keys, got {first:?}");
    };
    assert!(complete);
    assert_eq!(keys.len(), 2);
    assert!(handle.refresh_key(B));
    let second = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the key in time")
        .expect("an update");
    let LiveUpdate::Keys {
        keys,
        complete,
        source: from,
    } = second
    else {
        panic!("expected keys, got {second:?}");
    };
    assert!(!complete);
    assert_eq!(from, source());
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id.as_deref(), Some(B));
    drop(rx);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the poller stops when nobody listens")
        .expect("no panic");
}
