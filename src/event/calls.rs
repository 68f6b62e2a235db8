//! The few fields a count over many events reads of each (who called,
//! from which account and region, on which key, when, and how it ended),
//! borrowed from a [`KmsEvent`] or read in place from a held
//! [`super::PackedEvent`]: the same count over either, and over held
//! events without building a whole view of each.

use chrono::{DateTime, Utc};

use super::KmsEvent;

/// An event's caller, region, key, time and error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallFields<'e> {
    pub time: DateTime<Utc>,
    pub event_name: &'e str,
    pub region: Option<&'e str>,
    /// The account the record was delivered to.
    pub recipient_account: Option<&'e str>,
    pub principal: &'e str,
    /// `userIdentity.accountId`.
    pub principal_account: Option<&'e str>,
    pub key_arn: Option<&'e str>,
    pub error_code: Option<&'e str>,
}

impl CallFields<'_> {
    /// The account that owns the key (the ARN's fifth field), as
    /// [`super::KeyRef::account`] gives it.
    #[must_use]
    pub fn key_account(&self) -> Option<&str> {
        super::arn_account(self.key_arn?)
    }
}

impl KmsEvent<'_> {
    /// The fields [`CallFields`] holds, borrowed.
    #[must_use]
    pub fn call_fields(&self) -> CallFields<'_> {
        CallFields {
            time: self.time,
            event_name: &self.event_name,
            region: self.region.as_deref(),
            recipient_account: self.recipient_account.as_deref(),
            principal: &self.principal,
            principal_account: self.principal_account.as_deref(),
            key_arn: self.key.as_ref().map(|k| k.arn.as_ref()),
            error_code: self.error_code.as_deref(),
        }
    }
}
