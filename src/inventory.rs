//! What kmstop knows about keys beyond the events: their state, rotation
//! and deletion date. The live inventory poller fills it from KMS; tests
//! and rules take it as plain data.

use crate::store::FastMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Facts about one key, each `None` when unknown (no access, not yet read).
/// Names and values follow KMS (`DescribeKey`, `GetKeyRotationStatus`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyFacts {
    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    pub arn: String,
    /// The bare key id (a UUID, or `mrk-…` for multi-Region keys).
    pub key_id: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Alias names pointing at the key, e.g. `alias/orders`, sorted.
    pub aliases: Vec<String>,
    pub description: Option<String>,
    /// As KMS names it: `Enabled`, `Disabled`, `PendingDeletion`, …
    pub state: Option<String>,
    /// `AWS` for AWS-managed keys, `CUSTOMER` for customer-managed ones.
    pub key_manager: Option<String>,
    /// `SYMMETRIC_DEFAULT`, `RSA_2048`, `HMAC_256`, …
    pub key_spec: Option<String>,
    /// `ENCRYPT_DECRYPT`, `SIGN_VERIFY`, `GENERATE_VERIFY_MAC`, …
    pub key_usage: Option<String>,
    /// `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM`, `EXTERNAL_KEY_STORE`.
    pub origin: Option<String>,
    pub multi_region: Option<bool>,
    pub created: Option<DateTime<Utc>>,
    pub rotation_enabled: Option<bool>,
    pub rotation_period_days: Option<u32>,
    pub next_rotation: Option<DateTime<Utc>>,
    pub last_rotated: Option<DateTime<Utc>>,
    pub deletion_date: Option<DateTime<Utc>>,
    /// When the key was last used for a cryptographic operation, as KMS
    /// tracks it (`GetKeyLastUsage`).
    pub last_used: Option<DateTime<Utc>>,
    /// Since when KMS tracks the key's use (`TrackingStartDate`): no
    /// `last_used` means unused since then, not unused ever.
    pub last_used_tracked_since: Option<DateTime<Utc>>,
    /// The operation of that last use (`Decrypt`, `Sign`, …).
    pub last_used_operation: Option<String>,
    /// The CloudTrail `eventID` of that last use: the evidence.
    pub last_used_event_id: Option<String>,
    /// The grants on the key (`ListGrants`), for customer-managed keys:
    /// each lets a principal use the key whatever its policy says.
    pub grants: Option<KeyGrants>,
    /// The key policy document (JSON text).
    pub policy: Option<String>,
    /// Fields that could not be read, by field name, with why: `"no access"`
    /// (`AccessDeniedException`) or `"n/a"` (the key cannot have it, e.g.
    /// rotation of an asymmetric key). The field itself stays `None`.
    pub unreadable: std::collections::BTreeMap<String, String>,
}

/// The grants on one key: the first few kept, the rest counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyGrants {
    pub kept: Vec<Grant>,
    /// Grants beyond `kept`.
    pub more: u64,
    /// The listing stopped before its last page: there may be more still.
    pub incomplete: bool,
}

impl KeyGrants {
    /// How many grants the listing found.
    pub fn count(&self) -> u64 {
        self.kept.len() as u64 + self.more
    }
}

/// One grant as `ListGrants` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Grant {
    pub grant_id: String,
    pub name: Option<String>,
    /// Who may use the key through the grant (a principal ARN or a service).
    pub grantee: Option<String>,
    pub retiring: Option<String>,
    pub issuing_account: Option<String>,
    /// `Decrypt`, `GenerateDataKey`, `CreateGrant`, …
    pub operations: Vec<String>,
    pub created: Option<DateTime<Utc>>,
}

impl KeyFacts {
    /// Whole days from `now` until the key is deleted, if it is scheduled;
    /// 0 on the last day.
    pub fn days_until_deletion(&self, now: DateTime<Utc>) -> Option<i64> {
        self.deletion_date.map(|d| (d - now).num_days().max(0))
    }

    /// Whether the key is known to have had no cryptographic use since
    /// `cutoff`: `Some(true)` when its last use (or, never used, the start
    /// of KMS's tracking) is at or before `cutoff`; `None` when KMS's
    /// answer is missing, refused, or its tracking started after `cutoff`.
    pub fn unused_since(&self, cutoff: DateTime<Utc>) -> Option<bool> {
        match (self.last_used, self.last_used_tracked_since) {
            (Some(used), _) => Some(used <= cutoff),
            (None, Some(tracked)) if tracked <= cutoff => Some(true),
            _ => None,
        }
    }

    /// The first alias, else the key id, else the ARN: how a person names it.
    pub fn display_name(&self) -> &str {
        self.aliases
            .first()
            .map(String::as_str)
            .or(self.key_id.as_deref())
            .unwrap_or(&self.arn)
    }
}

/// Facts by key ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    // Looked up per event by rules on key state: a fast seeded hash.
    keys: FastMap<String, KeyFacts>,
}

impl Inventory {
    #[must_use]
    pub fn new(facts: impl IntoIterator<Item = KeyFacts>) -> Self {
        Self {
            keys: facts.into_iter().map(|f| (f.arn.clone(), f)).collect(),
        }
    }

    /// Adds or replaces the facts of one key.
    pub fn update(&mut self, facts: KeyFacts) {
        self.keys.insert(facts.arn.clone(), facts);
    }

    #[must_use]
    pub fn get(&self, arn: &str) -> Option<&KeyFacts> {
        self.keys.get(arn)
    }

    pub fn iter(&self) -> impl Iterator<Item = &KeyFacts> {
        self.keys.values()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
