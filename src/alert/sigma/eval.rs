//! The compiled form of a Sigma rule's condition: a tree of tests on the
//! fields of a [`KmsEvent`], evaluated without allocating.

use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

use crate::event::KmsEvent;

/// A CloudTrail field kmstop holds, by its Sigma (`CloudTrail` JSON) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigmaField {
    EventName,
    EventType,
    EventCategory,
    EventId,
    Region,
    SourceIp,
    UserAgent,
    ErrorCode,
    ErrorMessage,
    ReadOnly,
    RecipientAccount,
    PrincipalType,
    /// kmstop's principal: the role ARN for an assumed role (every session
    /// of a role is one principal), else the caller's ARN.
    PrincipalArn,
    PrincipalAccount,
    AccessKeyId,
    InvokedBy,
    /// The role ARN of an assumed role's session; absent for other callers.
    SessionIssuerArn,
    /// The key ARN kmstop resolved for the call.
    KeyArn,
}

/// The field names a Sigma rule may use, and what each reads.
pub(crate) const FIELDS: &[(&str, SigmaField)] = &[
    ("eventName", SigmaField::EventName),
    ("eventType", SigmaField::EventType),
    ("eventCategory", SigmaField::EventCategory),
    ("eventID", SigmaField::EventId),
    ("awsRegion", SigmaField::Region),
    ("sourceIPAddress", SigmaField::SourceIp),
    ("userAgent", SigmaField::UserAgent),
    ("errorCode", SigmaField::ErrorCode),
    ("errorMessage", SigmaField::ErrorMessage),
    ("readOnly", SigmaField::ReadOnly),
    ("recipientAccountId", SigmaField::RecipientAccount),
    ("userIdentity.type", SigmaField::PrincipalType),
    ("userIdentity.arn", SigmaField::PrincipalArn),
    ("userIdentity.accountId", SigmaField::PrincipalAccount),
    ("userIdentity.accessKeyId", SigmaField::AccessKeyId),
    ("userIdentity.invokedBy", SigmaField::InvokedBy),
    (
        "userIdentity.sessionContext.sessionIssuer.arn",
        SigmaField::SessionIssuerArn,
    ),
    ("resources.ARN", SigmaField::KeyArn),
];

impl SigmaField {
    pub(crate) fn value<'e>(self, e: &'e KmsEvent<'_>) -> Option<&'e str> {
        match self {
            Self::EventName => Some(&e.event_name),
            Self::EventType => e.event_type.as_deref(),
            Self::EventCategory => e.event_category.as_deref(),
            Self::EventId => Some(&e.event_id).filter(|id| !id.is_empty()).map(|v| &**v),
            Self::Region => e.region.as_deref(),
            Self::SourceIp => e.source_ip.as_deref(),
            Self::UserAgent => e.user_agent.as_deref(),
            Self::ErrorCode => e.error_code.as_deref(),
            Self::ErrorMessage => e.error_message.as_deref(),
            Self::ReadOnly => e.read_only.map(|r| if r { "true" } else { "false" }),
            Self::RecipientAccount => e.recipient_account.as_deref(),
            Self::PrincipalType => e.principal_type.as_deref(),
            Self::PrincipalArn => Some(&e.principal).filter(|p| !p.is_empty()).map(|v| &**v),
            Self::PrincipalAccount => e.principal_account.as_deref(),
            Self::AccessKeyId => e.access_key_id.as_deref(),
            Self::InvokedBy => e.invoked_by.as_deref(),
            Self::SessionIssuerArn => (e.principal_type.as_deref() == Some("AssumedRole")
                && !e.principal.is_empty())
            .then_some(&*e.principal),
            Self::KeyArn => e.key.as_ref().map(|k| &*k.arn),
        }
    }
}

/// One test of one field's value.
#[derive(Debug)]
pub(crate) enum Test {
    /// The value equals this ASCII text, case-insensitively unless `cased`.
    Equals { text: Box<str>, cased: bool },
    /// The value matches the pattern (wildcards and modifiers compiled in).
    Pattern(Regex),
    /// The value is an address inside the block.
    Cidr(IpNet),
    /// The field is there (`true`) or not (`false`): `|exists`, `null`.
    Present(bool),
}

impl Test {
    pub(crate) fn holds(&self, value: Option<&str>) -> bool {
        match self {
            Self::Equals { text, cased } => value.is_some_and(|v| {
                if *cased {
                    v == &**text
                } else {
                    v.eq_ignore_ascii_case(text)
                }
            }),
            Self::Pattern(re) => value.is_some_and(|v| re.is_match(v)),
            Self::Cidr(net) => value
                .and_then(|v| v.parse::<IpAddr>().ok())
                .is_some_and(|a| net.contains(&a)),
            Self::Present(want) => value.is_some() == *want,
        }
    }
}

/// A condition over an event.
#[derive(Debug)]
pub(crate) enum Expr {
    Const(bool),
    Test(SigmaField, Test),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    pub(crate) fn matches(&self, e: &KmsEvent<'_>) -> bool {
        match self {
            Self::Const(b) => *b,
            Self::Test(field, test) => test.holds(field.value(e)),
            Self::And(all) => all.iter().all(|x| x.matches(e)),
            Self::Or(any) => any.iter().any(|x| x.matches(e)),
            Self::Not(x) => !x.matches(e),
        }
    }

    /// `And` of `parts` with constants folded away.
    pub(crate) fn and(parts: Vec<Expr>) -> Expr {
        let mut kept = Vec::new();
        for p in parts {
            match p {
                Self::Const(true) => {}
                Self::Const(false) => return Self::Const(false),
                p => kept.push(p),
            }
        }
        match kept.len() {
            0 => Self::Const(true),
            1 => kept.pop().unwrap_or(Self::Const(true)),
            _ => Self::And(kept),
        }
    }

    /// `Or` of `parts` with constants folded away.
    pub(crate) fn or(parts: Vec<Expr>) -> Expr {
        let mut kept = Vec::new();
        for p in parts {
            match p {
                Self::Const(false) => {}
                Self::Const(true) => return Self::Const(true),
                p => kept.push(p),
            }
        }
        match kept.len() {
            0 => Self::Const(false),
            1 => kept.pop().unwrap_or(Self::Const(false)),
            _ => Self::Or(kept),
        }
    }

    pub(crate) fn not(inner: Expr) -> Expr {
        match inner {
            Self::Const(b) => Self::Const(!b),
            Self::Not(x) => *x,
            x => Self::Not(Box::new(x)),
        }
    }
}
