//! What kmstop knows about keys beyond the events: their state, rotation
//! and deletion date. The live inventory poller fills it from KMS; tests
//! and rules take it as plain data.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Facts about one key, each `None` when unknown (no access, not yet read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyFacts {
    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    pub arn: String,
    /// As KMS names it: `Enabled`, `Disabled`, `PendingDeletion`, …
    pub state: Option<String>,
    pub rotation_enabled: Option<bool>,
    pub deletion_date: Option<DateTime<Utc>>,
    /// The key policy document (JSON text).
    pub policy: Option<String>,
    /// `AWS` for AWS-managed keys, `CUSTOMER` for customer-managed ones.
    pub key_manager: Option<String>,
}

/// Facts by key ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    keys: HashMap<String, KeyFacts>,
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
