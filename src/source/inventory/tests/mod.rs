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
use aws_sdk_kms::operation::list_grants::ListGrantsOutput;
use aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput;
use aws_sdk_kms::operation::list_keys::ListKeysOutput;
use aws_sdk_kms::types::{
    AliasListEntry, GrantListEntry, GrantOperation, KeyLastUsageData,
    KeyLastUsageTrackingOperation, KeyListEntry, KeyManagerType, KeyMetadata, KeySpec, KeyState,
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
use crate::feed::{SourceId, SourceMsg};

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

/// A reader whose KMS answers with `rules`, and with one grant on key A
/// and none on any other key unless a rule answers `ListGrants` first.
fn reader(rules: &[&Rule]) -> KmsReader {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let grants = grants_on_a();
    interceptor = interceptor.with_rule(&grants);
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
                    .operation(KeyLastUsageTrackingOperation::Decrypt)
                    .cloud_trail_event_id("ev-last-use")
                    .build(),
            )
            .build()
    })
}

fn grants_on_a() -> Rule {
    mock!(Client::list_grants).then_compute_output(|req| {
        let on_a = req.key_id().is_some_and(|id| id.ends_with(A));
        let grants = on_a.then(|| {
            vec![
                GrantListEntry::builder()
                    .grant_id("g-a")
                    .grantee_principal("arn:aws:iam::123456789012:role/reader")
                    .operations(GrantOperation::Decrypt)
                    .build(),
            ]
        });
        ListGrantsOutput::builder()
            .set_grants(grants)
            .truncated(false)
            .build()
    })
}

fn by_id<'a>(keys: &'a [crate::inventory::KeyFacts], id: &str) -> &'a crate::inventory::KeyFacts {
    keys.iter()
        .find(|k| k.key_id.as_deref() == Some(id))
        .expect("key in inventory")
}

mod fields;
mod refresh;
