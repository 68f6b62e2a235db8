//! Rules as people write them: the one format for built-in rules
//! (`builtin.toml`) and user rules (`rules.toml`). Parsing and checking
//! live in `config`, evaluation in `engine`; this is only the shape.

use std::fmt;

use chrono::Duration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::Outcome;

/// How loud an alert is; ordered from quietest to loudest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule counts before it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Every matching event fires (into its group's alert).
    Every,
    /// `count` matching events (or distinct values of `distinct`) within
    /// `window`.
    Threshold,
    /// The count in `window` is at least `minimum` and `factor` times the
    /// baseline learnt over the preceding `baseline`.
    Spike,
    /// A value of `field` never seen for the group before, once the
    /// `learning` period since the rule's first event is over.
    FirstSeen,
    /// An event without `field` in a group whose earlier events, at least
    /// `minimum` of them, all had it (a Decrypt without an encryption
    /// context on a key whose calls always carried one). Once a group has
    /// an event without it, the habit is broken and the group stays quiet.
    Missing,
}

/// An event field a rule can group by, count distinct values of, or learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Principal,
    /// The key ARN.
    Key,
    Alias,
    SourceIp,
    Region,
    EventName,
    UserAgent,
    SessionName,
    ErrorCode,
    /// `userIdentity.accountId`.
    PrincipalAccount,
    /// The account in the key ARN.
    KeyAccount,
    /// The network a call came from: its VPC endpoint id, else the /24 of
    /// an IPv4 or the /48 of an IPv6 source address; none for AWS
    /// services (a service name, `AWS Internal`).
    SourceNetwork,
    /// The first encryption-context key, in record order; none without a
    /// context.
    ContextKey,
}

/// Which way a cross-account call goes, as seen from the account whose
/// trail recorded it (`recipientAccountId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Another account's principal used this account's key (also when
    /// the record names no recipient account).
    Inbound,
    /// This account's principal used another account's key.
    Outbound,
}

/// A time span written as `90s`, `15m`, `2h`, `7d` or `1w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        crate::timespec::parse_age(&text).map(Span).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration: use e.g. 90s, 15m, 2h, 7d, 1w"
            ))
        })
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::timespec::format_age(self.0))
    }
}

/// Which events a rule looks at. Every condition given must hold; a list
/// holds when any of its entries does. Text patterns are regular
/// expressions (`regex` crate syntax, unanchored unless written `^…$`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchSpec {
    pub event_names: Vec<String>,
    pub outcomes: Vec<Outcome>,
    /// Glob patterns: `AccessDenied*` (CIS), `*UnauthorizedOperation`,
    /// `AccessDenied` exactly (Panther).
    pub error_codes: Vec<String>,
    pub error_message: Option<String>,
    pub principal: Option<String>,
    pub key: Option<String>,
    pub alias: Option<String>,
    pub user_agent: Option<String>,
    pub session_name: Option<String>,
    /// CIDR blocks (`10.0.0.0/8`) or exact strings (`AWS Internal`).
    pub source_ips: Vec<String>,
    /// Only calls whose `sourceIPAddress` is an IP address, not a service
    /// name (Panther's semantics).
    pub source_ip_is_address: Option<bool>,
    pub regions: Vec<String>,
    pub event_types: Vec<String>,
    pub event_categories: Vec<String>,
    pub principal_types: Vec<String>,
    pub not_principal_types: Vec<String>,
    pub read_only: Option<bool>,
    pub encryption_context: Option<ContextMatch>,
    /// The caller's account differs from the key's account.
    pub cross_account: Option<bool>,
    /// A cross-account call going this way (implies `cross_account`).
    pub cross_account_direction: Option<Direction>,
    /// `CreateGrant`: the grantee or retiring principal names an account
    /// other than the key's (an ARN's fifth field or an account id; AWS
    /// service principals are never outside).
    pub grant_outside_account: Option<bool>,
    /// `ReEncrypt`: the destination key is in another account than the
    /// source key or the caller (a bare id or alias name is the caller's).
    pub destination_cross_account: Option<bool>,
    /// `CreateKey` / `PutKeyPolicy` / `ReplicateKey` with
    /// `bypassPolicyLockoutSafetyCheck`.
    pub bypass_policy_lockout_check: Option<bool>,
    /// The call's key was made by the same principal (a successful
    /// `CreateKey` earlier in the stream) at most this long before: a
    /// rotation's new key, which its creator then points an alias at.
    pub key_created_by_caller_within: Option<Span>,
    /// `ImportKeyMaterial`'s `expirationModel` is one of these
    /// (`KEY_MATERIAL_EXPIRES`).
    pub expiration_models: Vec<String>,
    /// The key policy in the request lets everyone in (an Allow for
    /// Principal `*` without an org/account condition).
    pub policy_public: Option<bool>,
    /// With `policy_public`: the public statement also allows this action
    /// (Splunk's variant checks `kms:Encrypt`).
    pub policy_allows_action: Option<String>,
    /// Inventory fact: the key's state when the event is seen
    /// (`PendingDeletion`, `Disabled`, …).
    pub key_states: Vec<String>,
    /// Inventory fact: whether automatic rotation is on.
    pub key_rotation_enabled: Option<bool>,
    /// A Sigma rule's compiled condition (`--rules rule.yml`); never
    /// written in TOML.
    #[serde(skip)]
    pub sigma: Option<super::sigma::SigmaCondition>,
}

/// Matches an encryption-context entry: `key` exactly, `value` a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextMatch {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique, kebab-case: `unauthorized-decrypt-spike`.
    pub id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(default)]
    pub description: String,
    /// Where the logic comes from (e.g. `CIS AWS Foundations 4.7`, a
    /// Panther rule id).
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub kind: Kind,
    /// One alert per distinct value of these fields; none means one alert
    /// for the whole rule.
    #[serde(default)]
    pub group_by: Vec<Field>,
    #[serde(rename = "match", default)]
    pub matcher: MatchSpec,
    /// Events that also match this are ignored (CIS's exclusions).
    #[serde(default)]
    pub exclude: Option<MatchSpec>,
    /// threshold: how many.
    #[serde(default)]
    pub count: Option<u64>,
    /// threshold: count distinct values of this field instead of events.
    #[serde(default)]
    pub distinct: Option<Field>,
    /// threshold and spike: the window counted.
    #[serde(default)]
    pub window: Option<Span>,
    /// spike: how many times the baseline.
    #[serde(default)]
    pub factor: Option<f64>,
    /// spike: the least count that can be a spike; missing: how many
    /// events with the field make a habit.
    #[serde(default)]
    pub minimum: Option<u64>,
    /// spike: how far back the baseline looks.
    #[serde(default)]
    pub baseline: Option<Span>,
    /// first-seen: the field whose new values fire; missing: the field
    /// whose absence fires.
    #[serde(default)]
    pub field: Option<Field>,
    /// first-seen: how long after the first event the rule only learns.
    /// spike: how long after the first event it only learns baselines
    /// (none: a burst fires from the start). missing: how long after the
    /// first event a broken habit is only learnt, not reported.
    #[serde(default)]
    pub learning: Option<Span>,
    /// How long without a matching event before a firing alert resolves
    /// (default 15m).
    #[serde(default)]
    pub quiet: Option<Span>,
}

/// A change to a built-in rule, by id: `enabled = false` or new
/// parameters. Fields left out keep the built-in's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverrideSpec {
    pub id: String,
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub group_by: Option<Vec<Field>>,
    #[serde(rename = "match")]
    pub matcher: Option<MatchSpec>,
    pub exclude: Option<MatchSpec>,
    pub count: Option<u64>,
    pub distinct: Option<Field>,
    pub window: Option<Span>,
    pub factor: Option<f64>,
    pub minimum: Option<u64>,
    pub baseline: Option<Span>,
    pub field: Option<Field>,
    pub learning: Option<Span>,
    pub quiet: Option<Span>,
}

/// A rules file: `[[rule]]` tables and `[[override]]` tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesFile {
    #[serde(rename = "rule")]
    pub rules: Vec<RuleSpec>,
    #[serde(rename = "override")]
    pub overrides: Vec<OverrideSpec>,
}
