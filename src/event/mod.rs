//! The normalized KMS event: one CloudTrail record, reduced to what kmstop
//! counts and shows, with the original record kept for drill-down.
//!
//! Parsing borrows from the input buffer wherever the JSON text allows it
//! (`Cow::Borrowed`), so the hot path of `report` allocates almost nothing;
//! [`KmsEvent::into_owned`] detaches an event for stores that outlive the
//! buffer.

mod calls;
mod detail;
pub(crate) mod nesting;
mod normalize;
mod own;
pub use time::Plausible;
mod packed;
pub mod record;
pub mod resource;
mod shared;
pub mod sql;
mod time;

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use calls::CallFields;
pub use detail::{
    CallDetail, NetText, account_of_key_reference, account_of_principal, is_service_principal,
    network_of,
};
pub use nesting::{MAX_DEPTH, too_deep};
pub use normalize::{ParseError, Parsed, normalize, parse_record};
pub use own::{OWN_READS, OwnIdentity, is_own_call};
pub use packed::{HeldText, PackedEvent, TallyFields};
pub use record::{MaybeObj, Record};
pub use time::parse_event_time;

/// The only `eventSource` kmstop counts.
pub const KMS_EVENT_SOURCE: &str = "kms.amazonaws.com";

/// How a call ended, as kmstop classifies `errorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    /// Refused by IAM, a key policy, a grant or a VPC endpoint policy.
    Denied,
    /// Any other error code (invalid state, bad ciphertext, throttling, …).
    Error,
}

impl Outcome {
    /// `AccessDenied` in any case and position covers `AccessDenied`,
    /// `AccessDeniedException` and `VpceAccessDenied`; the EC2-style
    /// `*UnauthorizedOperation` is what CIS's filter also matches.
    #[must_use]
    pub fn from_error_code(code: Option<&str>) -> Self {
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            return Self::Success;
        };
        let marker = sql::DENIED_CONTAINS.as_bytes();
        let denied = code
            .as_bytes()
            .windows(marker.len())
            .any(|w| w.eq_ignore_ascii_case(marker))
            || code.ends_with(sql::DENIED_ENDS_WITH);
        if denied { Self::Denied } else { Self::Error }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The KMS key an event acted on, when the record names one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct KeyRef<'a> {
    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    pub arn: Cow<'a, str>,
}

/// The account in an ARN (its fifth field), if not empty.
#[must_use]
pub fn arn_account(arn: &str) -> Option<&str> {
    // Rules ask this of nearly every event: find the colons by byte
    // (ASCII ':' never occurs inside a UTF-8 sequence), which is
    // cheaper than a `split` iterator for a prefix this short.
    let mut colons = 0;
    let mut start = None;
    for (i, &b) in arn.as_bytes().iter().enumerate() {
        if b == b':' {
            colons += 1;
            if colons == 4 {
                start = Some(i + 1);
            } else if colons == 5 {
                return arn.get(start?..i).filter(|a| !a.is_empty());
            }
        }
    }
    arn.get(start?..).filter(|a| !a.is_empty())
}

impl KeyRef<'_> {
    /// The key id (`1234abcd-…` or `mrk-…`): the ARN's part after `key/`.
    #[must_use]
    pub fn key_id(&self) -> &str {
        self.arn
            .rsplit_once(":key/")
            .map_or(self.arn.as_ref(), |(_, id)| id)
    }

    /// The account that owns the key (the ARN's fifth field).
    #[must_use]
    pub fn account(&self) -> Option<&str> {
        arn_account(&self.arn)
    }

    #[must_use]
    pub fn into_owned(self) -> KeyRef<'static> {
        KeyRef {
            arn: Cow::Owned(self.arn.into_owned()),
        }
    }
}

/// One KMS event from CloudTrail, normalized.
#[derive(Debug, Clone)]
pub struct KmsEvent<'a> {
    pub time: DateTime<Utc>,
    /// `eventTime` exactly as recorded: part of the identity, so two copies
    /// of one record compare equal even where the parsed time would not.
    pub time_text: Cow<'a, str>,
    pub event_id: Cow<'a, str>,
    pub event_name: Cow<'a, str>,
    pub event_type: Option<Cow<'a, str>>,
    /// `Management`, `NetworkActivity` (VPC endpoint events), …; absent on
    /// older events.
    pub event_category: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
    pub recipient_account: Option<Cow<'a, str>>,
    /// Who made the call, collapsed so that every session of one role is
    /// one principal (see [`parse_record`] for the rule).
    pub principal: Cow<'a, str>,
    /// `userIdentity.type` (`AssumedRole`, `IAMUser`, `AWSService`, …).
    pub principal_type: Option<Cow<'a, str>>,
    /// `userIdentity.accountId`: differs from the key's account on
    /// cross-account use.
    pub principal_account: Option<Cow<'a, str>>,
    /// The role session name of an assumed role (SSO user, instance id…).
    pub session_name: Option<Cow<'a, str>>,
    /// `userIdentity.accessKeyId`: the credential that signed the call
    /// (`AKIA…` long-term, `ASIA…` temporary) — what a responder follows
    /// when a key has leaked.
    pub access_key_id: Option<Cow<'a, str>>,
    pub source_ip: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub invoked_by: Option<Cow<'a, str>>,
    pub key: Option<KeyRef<'a>>,
    /// An alias the call referenced (`alias/orders`), kept apart from the
    /// key because an alias alone does not identify a key.
    pub alias: Option<Cow<'a, str>>,
    pub outcome: Outcome,
    pub error_code: Option<Cow<'a, str>>,
    pub error_message: Option<Cow<'a, str>>,
    pub read_only: Option<bool>,
    /// `requestParameters.encryptionContext` in record order: what was
    /// encrypted or decrypted (an S3 object, a secret, a table…).
    pub encryption_context: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// `requestParameters.policy` of `CreateKey` / `PutKeyPolicy`: the key
    /// policy as JSON text, for the policy-opened-to-everyone check.
    pub key_policy: Option<Cow<'a, str>>,
    /// What only some calls carry (grants, re-encryption, imports, VPC
    /// endpoints).
    pub call: CallDetail<'a>,
    /// The whole original record as JSON text, for drill-down; `None` when
    /// the reader was asked not to keep it (`report` never shows it).
    pub raw: Option<Cow<'a, str>>,
}

/// What makes two records the same event. `eventID` alone is not unique in
/// real data (AWS documentation reuses ids across different events). A
/// record without one is told apart by who called, from where, on which
/// key, with what outcome: two different calls in one second must not
/// merge (a denied call would vanish).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventIdentity<'e> {
    pub event_id: &'e str,
    pub event_time: &'e str,
    pub event_name: &'e str,
    /// Only for records without an `eventID`: the caller, source address,
    /// key, error code and user agent.
    pub without_id: Option<[&'e str; 5]>,
}

/// What a report counts of an event besides its identity: two copies of
/// one identity that differ here disagree, and the report says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Substance<'e> {
    pub principal: &'e str,
    pub key: &'e str,
    pub error_code: &'e str,
    pub source_ip: &'e str,
    pub region: &'e str,
    pub account: &'e str,
    pub user_agent: &'e str,
}

impl KmsEvent<'_> {
    #[must_use]
    pub fn substance(&self) -> Substance<'_> {
        Substance {
            principal: &self.principal,
            key: self.key.as_ref().map_or("", |k| k.arn.as_ref()),
            error_code: self.error_code.as_deref().unwrap_or(""),
            source_ip: self.source_ip.as_deref().unwrap_or(""),
            region: self.region.as_deref().unwrap_or(""),
            account: self.recipient_account.as_deref().unwrap_or(""),
            user_agent: self.user_agent.as_deref().unwrap_or(""),
        }
    }

    #[must_use]
    pub fn identity(&self) -> EventIdentity<'_> {
        EventIdentity {
            event_id: &self.event_id,
            event_time: &self.time_text,
            event_name: &self.event_name,
            without_id: self.event_id.trim().is_empty().then(|| {
                [
                    self.principal.as_ref(),
                    self.source_ip.as_deref().unwrap_or(""),
                    self.key.as_ref().map_or("", |k| k.arn.as_ref()),
                    self.error_code.as_deref().unwrap_or(""),
                    self.user_agent.as_deref().unwrap_or(""),
                ]
            }),
        }
    }

    /// The original record text, as it appeared in the source.
    #[must_use]
    pub fn raw_json(&self) -> Option<&str> {
        self.raw.as_deref()
    }

    #[must_use]
    pub fn is_decrypt(&self) -> bool {
        self.event_name == "Decrypt"
    }

    /// True for calls that change a key or its access (`readOnly: false`).
    #[must_use]
    pub fn is_control_plane(&self) -> bool {
        self.read_only == Some(false)
    }

    /// Detaches the event from the buffer it was parsed from.
    #[must_use]
    pub fn into_owned(self) -> KmsEvent<'static> {
        fn own(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        fn own_opt(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(own)
        }
        KmsEvent {
            time: self.time,
            time_text: own(self.time_text),
            event_id: own(self.event_id),
            event_name: own(self.event_name),
            event_type: own_opt(self.event_type),
            event_category: own_opt(self.event_category),
            region: own_opt(self.region),
            recipient_account: own_opt(self.recipient_account),
            principal: own(self.principal),
            principal_type: own_opt(self.principal_type),
            principal_account: own_opt(self.principal_account),
            session_name: own_opt(self.session_name),
            access_key_id: own_opt(self.access_key_id),
            source_ip: own_opt(self.source_ip),
            user_agent: own_opt(self.user_agent),
            invoked_by: own_opt(self.invoked_by),
            key: self.key.map(KeyRef::into_owned),
            alias: own_opt(self.alias),
            outcome: self.outcome,
            error_code: own_opt(self.error_code),
            error_message: own_opt(self.error_message),
            read_only: self.read_only,
            encryption_context: self
                .encryption_context
                .into_iter()
                .map(|(k, v)| (own(k), own(v)))
                .collect(),
            key_policy: own_opt(self.key_policy),
            call: self.call.into_owned(),
            raw: own_opt(self.raw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_follows_error_code() {
        assert_eq!(Outcome::from_error_code(None), Outcome::Success);
        assert_eq!(Outcome::from_error_code(Some("")), Outcome::Success);
        for denied in [
            "AccessDenied",
            "AccessDeniedException",
            "VpceAccessDenied",
            "accessdenied",
            "Client.UnauthorizedOperation",
        ] {
            assert_eq!(
                Outcome::from_error_code(Some(denied)),
                Outcome::Denied,
                "{denied}"
            );
        }
        for error in [
            "KMSInvalidStateException",
            "InvalidCiphertextException",
            "UnauthorizedOperationFoo",
        ] {
            assert_eq!(
                Outcome::from_error_code(Some(error)),
                Outcome::Error,
                "{error}"
            );
        }
    }

    #[test]
    fn key_ref_splits_its_arn() {
        let key = KeyRef {
            arn: "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
                .into(),
        };
        assert_eq!(key.key_id(), "mrk-1234abcd12ab34cd56ef1234567890ab");
        assert_eq!(key.account(), Some("111122223333"));
    }
}
