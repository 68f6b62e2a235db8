//! KMS reads for the key inventory. Every method is a read call and
//! answers with kmstop's own small types, so the SDK's types stay inside
//! this module.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, Utc};

use super::answer_limit::AnswerLimit;
use super::error::{AwsError, ErrorKind};
use super::time::from_smithy;
use crate::inventory::{Grant, KeyFacts, KeyGrants};
// The pacer of LookupEvents, one per account × region here too.
use crate::source::lookup::Pacer;

/// `ListKeys` page size: the API's maximum, so a region of a few hundred
/// keys is one request.
const LIST_KEYS_LIMIT: i32 = 1000;
/// `ListAliases` page size (the API's maximum).
const LIST_ALIASES_LIMIT: i32 = 100;
/// `ListKeyRotations` page size (the API's maximum).
const LIST_ROTATIONS_LIMIT: i32 = 1000;
/// `ListGrants` page size (the API's maximum).
const LIST_GRANTS_LIMIT: i32 = 100;
/// Grants kept per key: enough to name who may still use it; the rest
/// are counted ([`KeyGrants::more`]).
pub const GRANTS_KEPT: usize = 50;
/// Pages of grants read per key at most (10,000 grants: far past the
/// default quota of grants per key).
const MAX_GRANT_PAGES: usize = 100;
/// Characters kept of a text from an answer (ids, principals, names).
const TEXT_MAX: usize = 512;
/// A guard against an endpoint that keeps answering "truncated" with new
/// markers: a million keys is far beyond any real region.
const MAX_PAGES: usize = 1000;

/// A key as `ListKeys` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    pub key_id: String,
    pub arn: String,
}

/// An alias as `ListAliases` gives it; `target_key_id` is `None` for the
/// AWS-managed aliases whose key the service has not created yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasEntry {
    pub name: String,
    pub target_key_id: Option<String>,
}

/// What `DescribeKey` says about a key: its facts (arn, key id, account
/// and the described fields, enum values as KMS spells them; the rest
/// unset), and whether it lives in a custom key store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyDescription {
    pub facts: KeyFacts,
    /// The key lives in a custom key store (an HSM cluster or an external one).
    pub custom_key_store: bool,
}

impl KeyDescription {
    /// Whether KMS can rotate this key's material at all: only symmetric
    /// encryption keys with KMS-generated material outside custom key
    /// stores. For every other key the rotation calls answer
    /// `UnsupportedOperationException`, so kmstop does not ask.
    pub fn can_rotate(&self) -> bool {
        self.facts.key_spec.as_deref() == Some("SYMMETRIC_DEFAULT")
            && self.facts.origin.as_deref().is_none_or(|o| o == "AWS_KMS")
            && !self.custom_key_store
    }
}

/// `GetKeyRotationStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationStatus {
    pub enabled: bool,
    pub period_days: Option<u32>,
    pub next_rotation: Option<DateTime<Utc>>,
}

/// `GetKeyLastUsage`: the last cryptographic use KMS recorded, and since
/// when it tracks (no use since then means "never used" as far as KMS
/// knows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUsage {
    pub last_used: Option<DateTime<Utc>>,
    pub tracking_start: Option<DateTime<Utc>>,
    /// The operation of that last use (`Decrypt`, `Sign`, …).
    pub operation: Option<String>,
    /// The CloudTrail `eventID` of that last use: the evidence to look up.
    pub event_id: Option<String>,
}

/// Inventory reads a second per account × region: well below the
/// documented quotas of the calls used (100/s for the list calls, 1000/s
/// and more for the per-key ones), which the account's own applications
/// share.
pub const READS_PER_SECOND: f64 = 40.0;
const READS_BURST: f64 = 20.0;
/// `GetKeyLastUsage` a second: its quota is only a few a second.
pub const LAST_USAGE_PER_SECOND: f64 = 3.0;
const LAST_USAGE_BURST: f64 = 1.0;
/// Tries of a throttled or failed `GetKeyLastUsage` (SDK backoff between).
const LAST_USAGE_ATTEMPTS: u32 = 4;

/// Client-side pacing, shared by every clone of a reader: below KMS's
/// quotas, so running `kmstop keys` twice in a row is not throttled.
#[derive(Debug, Clone)]
struct Pace {
    reads: Arc<Pacer>,
    last_usage: Arc<Pacer>,
}

/// KMS for one account × region: every call paced ([`READS_PER_SECOND`],
/// [`LAST_USAGE_PER_SECOND`]), standard SDK retries with backoff.
#[derive(Debug, Clone)]
pub struct KmsReader {
    client: aws_sdk_kms::Client,
    pace: Option<Pace>,
}

impl KmsReader {
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let conf = aws_sdk_kms::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .interceptor(AnswerLimit)
            .build();
        Self {
            client: aws_sdk_kms::Client::from_conf(conf),
            pace: Some(Pace {
                reads: Pacer::new(READS_PER_SECOND, READS_BURST),
                last_usage: Pacer::new(LAST_USAGE_PER_SECOND, LAST_USAGE_BURST),
            }),
        }
    }

    /// A reader over a prepared client, unpaced: unit tests give it a
    /// mocked one.
    #[cfg(test)]
    pub(crate) fn from_client(client: aws_sdk_kms::Client) -> Self {
        Self { client, pace: None }
    }

    /// Waits for a read's turn.
    async fn paced(&self) {
        if let Some(p) = &self.pace {
            p.reads.acquire().await;
        }
    }

    /// Every key of the region, all pages.
    pub async fn list_keys(&self) -> Result<Vec<ListedKey>, AwsError> {
        let mut keys = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            self.paced().await;
            let out = self
                .client
                .list_keys()
                .limit(LIST_KEYS_LIMIT)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
            keys.extend(out.keys().iter().filter_map(|k| {
                Some(ListedKey {
                    key_id: k.key_id()?.to_string(),
                    arn: k.key_arn().unwrap_or_default().to_string(),
                })
            }));
            marker = next_marker(out.truncated(), out.next_marker(), marker.as_deref());
            if marker.is_none() {
                break;
            }
        }
        Ok(keys)
    }

    /// Every alias of the region, all pages: one listing serves all keys,
    /// so no per-key alias calls are needed.
    pub async fn list_aliases(&self) -> Result<Vec<AliasEntry>, AwsError> {
        let mut aliases = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            self.paced().await;
            let out = self
                .client
                .list_aliases()
                .limit(LIST_ALIASES_LIMIT)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
            aliases.extend(out.aliases().iter().filter_map(|a| {
                Some(AliasEntry {
                    name: a.alias_name()?.to_string(),
                    target_key_id: a.target_key_id().map(str::to_string),
                })
            }));
            marker = next_marker(out.truncated(), out.next_marker(), marker.as_deref());
            if marker.is_none() {
                break;
            }
        }
        Ok(aliases)
    }

    /// `DescribeKey`; `id` may be a key id or ARN.
    pub async fn describe_key(&self, id: &str) -> Result<KeyDescription, AwsError> {
        self.paced().await;
        let out = self
            .client
            .describe_key()
            .key_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        let Some(m) = out.key_metadata() else {
            return Err(AwsError::new(
                ErrorKind::Other,
                format!("DescribeKey {id}: the answer has no KeyMetadata"),
            ));
        };
        let facts = KeyFacts {
            arn: m.arn().unwrap_or_default().to_string(),
            key_id: Some(m.key_id().to_string()),
            account: m.aws_account_id().map(str::to_string),
            description: m.description().map(str::to_string),
            state: m.key_state().map(|s| s.as_str().to_string()),
            key_manager: m.key_manager().map(|s| s.as_str().to_string()),
            key_spec: m.key_spec().map(|s| s.as_str().to_string()),
            key_usage: m.key_usage().map(|s| s.as_str().to_string()),
            origin: m.origin().map(|s| s.as_str().to_string()),
            multi_region: m.multi_region(),
            created: m.creation_date().and_then(from_smithy),
            deletion_date: m.deletion_date().and_then(from_smithy),
            ..KeyFacts::default()
        };
        Ok(KeyDescription {
            facts,
            custom_key_store: m.custom_key_store_id().is_some_and(|s| !s.is_empty()),
        })
    }

    /// `GetKeyRotationStatus`; `Ok(None)` when rotation does not apply to
    /// the key (`UnsupportedOperationException`).
    pub async fn rotation_status(&self, id: &str) -> Result<Option<RotationStatus>, AwsError> {
        self.paced().await;
        let out = match self
            .client
            .get_key_rotation_status()
            .key_id(id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let err = AwsError::from_sdk(&e);
                if err.kind == ErrorKind::Unsupported {
                    return Ok(None);
                }
                return Err(err);
            }
        };
        Ok(Some(RotationStatus {
            enabled: out.key_rotation_enabled(),
            period_days: out
                .rotation_period_in_days()
                .and_then(|d| u32::try_from(d).ok()),
            next_rotation: out.next_rotation_date().and_then(from_smithy),
        }))
    }

    /// The newest `RotationDate` of `ListKeyRotations` (all pages); `None`
    /// when the key was never rotated.
    pub async fn last_rotation(&self, id: &str) -> Result<Option<DateTime<Utc>>, AwsError> {
        let mut newest: Option<DateTime<Utc>> = None;
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            self.paced().await;
            let out = self
                .client
                .list_key_rotations()
                .key_id(id)
                .limit(LIST_ROTATIONS_LIMIT)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
            let page_newest = out
                .rotations()
                .iter()
                .filter_map(|r| r.rotation_date().and_then(from_smithy))
                .max();
            newest = newest.max(page_newest);
            marker = next_marker(out.truncated(), out.next_marker(), marker.as_deref());
            if marker.is_none() {
                break;
            }
        }
        Ok(newest)
    }

    /// The key policy document (JSON text). The policy name is given
    /// explicitly: `default` is the only one KMS has, and some endpoints
    /// (moto) insist on it.
    pub async fn key_policy(&self, id: &str) -> Result<Option<String>, AwsError> {
        self.paced().await;
        let out = self
            .client
            .get_key_policy()
            .key_id(id)
            .policy_name("default")
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        Ok(out.policy().map(str::to_string))
    }

    /// `GetKeyLastUsage`, paced on its own (it has a low quota) and
    /// retried with backoff when throttled. `Ok(None)` when the endpoint
    /// does not know the operation (older regions, moto): unknown, not a
    /// failure of the key.
    pub async fn last_usage(&self, id: &str) -> Result<Option<LastUsage>, AwsError> {
        if let Some(p) = &self.pace {
            p.last_usage.acquire().await;
        }
        let retry = RetryConfig::standard()
            .with_max_attempts(LAST_USAGE_ATTEMPTS)
            .with_initial_backoff(std::time::Duration::from_millis(500));
        let sent = self
            .client
            .get_key_last_usage()
            .key_id(id)
            .customize()
            .config_override(aws_sdk_kms::config::Builder::default().retry_config(retry))
            .send()
            .await;
        match sent {
            Ok(out) => Ok(Some(LastUsage {
                last_used: out
                    .key_last_usage()
                    .and_then(|u| u.timestamp())
                    .and_then(from_smithy),
                tracking_start: out.tracking_start_date().and_then(from_smithy),
                operation: out
                    .key_last_usage()
                    .and_then(|u| u.operation())
                    .map(|o| bounded_text(o.as_str())),
                event_id: out
                    .key_last_usage()
                    .and_then(|u| u.cloud_trail_event_id())
                    .map(bounded_text),
            })),
            Err(e) if is_unknown_operation(&e) => Ok(None),
            Err(e) => Err(AwsError::from_sdk(&e)),
        }
    }

    /// `ListGrants`, all pages: the grants that let a principal use the
    /// key without the key policy, so deleting it would break them. Keeps
    /// the first [`GRANTS_KEPT`] and counts the rest.
    pub async fn grants(&self, id: &str) -> Result<KeyGrants, AwsError> {
        let mut grants = KeyGrants::default();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_GRANT_PAGES {
            self.paced().await;
            let out = self
                .client
                .list_grants()
                .key_id(id)
                .limit(LIST_GRANTS_LIMIT)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
            for g in out.grants() {
                if grants.kept.len() < GRANTS_KEPT {
                    grants.kept.push(grant_of(g));
                } else {
                    grants.more += 1;
                }
            }
            marker = next_marker(out.truncated(), out.next_marker(), marker.as_deref());
            if marker.is_none() {
                return Ok(grants);
            }
        }
        // Still truncated after the last page read: say so.
        grants.incomplete = true;
        Ok(grants)
    }
}

/// A text from an answer, cut to [`TEXT_MAX`] characters: the endpoint is
/// not trusted to bound it.
fn bounded_text(s: &str) -> String {
    s.chars().take(TEXT_MAX).collect()
}

fn grant_of(g: &aws_sdk_kms::types::GrantListEntry) -> Grant {
    let text = |v: Option<&str>| v.map(bounded_text);
    Grant {
        grant_id: text(g.grant_id()).unwrap_or_default(),
        name: text(g.name()).filter(|n| !n.is_empty()),
        grantee: text(g.grantee_principal().or(g.grantee_service_principal())),
        retiring: text(g.retiring_principal().or(g.retiring_service_principal())),
        issuing_account: text(g.issuing_account()),
        operations: g
            .operations()
            .iter()
            .take(32)
            .map(|o| bounded_text(o.as_str()))
            .collect(),
        created: g.creation_date().and_then(from_smithy),
    }
}

/// The marker of the next page, or `None` when this was the last one (or
/// the endpoint repeats a marker, which would loop forever).
fn next_marker(truncated: bool, next: Option<&str>, previous: Option<&str>) -> Option<String> {
    match next {
        Some(m) if truncated && !m.is_empty() && Some(m) != previous => Some(m.to_string()),
        _ => None,
    }
}

/// The endpoint does not implement the operation: AWS says
/// `UnknownOperationException`, other servers 404, 501 or `NotImplemented`.
fn is_unknown_operation<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    let SdkError::ServiceError(service) = err else {
        return false;
    };
    matches!(
        service.err().code(),
        Some("UnknownOperationException" | "NotImplemented" | "InvalidAction")
    ) || matches!(service.raw().status().as_u16(), 404 | 501)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_stops_on_the_last_page_or_a_repeated_marker() {
        assert_eq!(next_marker(true, Some("m2"), Some("m1")), Some("m2".into()));
        assert_eq!(next_marker(false, Some("m2"), Some("m1")), None);
        assert_eq!(next_marker(true, None, Some("m1")), None);
        assert_eq!(next_marker(true, Some(""), None), None);
        assert_eq!(next_marker(true, Some("m1"), Some("m1")), None);
    }

    #[test]
    fn only_plain_symmetric_kms_keys_rotate() {
        let described = |spec: &str, origin: &str| KeyDescription {
            facts: KeyFacts {
                key_spec: Some(spec.into()),
                origin: Some(origin.into()),
                ..KeyFacts::default()
            },
            custom_key_store: false,
        };
        let base = described("SYMMETRIC_DEFAULT", "AWS_KMS");
        assert!(base.can_rotate());
        for spec in ["RSA_2048", "ECC_NIST_P256", "HMAC_256"] {
            assert!(!described(spec, "AWS_KMS").can_rotate(), "{spec}");
        }
        assert!(!described("SYMMETRIC_DEFAULT", "EXTERNAL").can_rotate());
        let hsm = KeyDescription {
            custom_key_store: true,
            ..base
        };
        assert!(!hsm.can_rotate());
    }
}
