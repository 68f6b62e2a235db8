//! A rule's `match` (and `exclude`), compiled once so that testing an
//! event allocates nothing: regexes built, CIDRs parsed, outcomes folded
//! into a bit set. It runs for every event and every rule, so the cheap
//! comparisons come first and the key-policy parse (rare events only) last.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

pub use super::facts::EventFacts;
use super::policy;
use super::spec::{Direction, MatchSpec};
use crate::event::{
    KmsEvent, Outcome, account_of_key_reference, account_of_principal, is_service_principal,
};
use crate::inventory::{Inventory, KeyFacts};

/// Why a `match` table cannot be compiled: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for MatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for MatchError {}

/// The compiled form of a [`MatchSpec`]. Empty lists and `None` are no
/// condition; every condition given must hold.
#[derive(Debug, Clone)]
pub struct Matcher {
    event_names: Vec<Box<str>>,
    /// Bit per [`Outcome`]; 0 = any outcome.
    outcomes: u8,
    error_codes: Vec<Box<str>>,
    error_message: Option<Regex>,
    principal: Option<Regex>,
    key: Option<Regex>,
    alias: Option<Regex>,
    user_agent: Option<Regex>,
    session_name: Option<Regex>,
    source_nets: Vec<IpNet>,
    source_names: Vec<Box<str>>,
    source_ip_is_address: Option<bool>,
    regions: Vec<Box<str>>,
    event_types: Vec<Box<str>>,
    event_categories: Vec<Box<str>>,
    principal_types: Vec<Box<str>>,
    not_principal_types: Vec<Box<str>>,
    read_only: Option<bool>,
    context_key: Option<Box<str>>,
    context_value: Option<Regex>,
    cross_account: Option<bool>,
    direction: Option<Direction>,
    grant_outside_account: Option<bool>,
    destination_cross_account: Option<bool>,
    bypass_lockout_check: Option<bool>,
    /// Milliseconds of `key_created_by_caller_within`.
    created_within_ms: Option<i64>,
    expiration_models: Vec<Box<str>>,
    policy_public: Option<bool>,
    policy_allows_action: Option<Box<str>>,
    key_states: Vec<Box<str>>,
    key_rotation_enabled: Option<bool>,
    sigma: Option<super::sigma::SigmaCondition>,
    /// The conditions given, in the order they are tested: an event is
    /// asked only what the rule asks (most rules give one to four of the
    /// thirty conditions), so a condition left out costs nothing.
    conds: Box<[Cond]>,
    /// How many of `conds`, at the front, the engine's dispatch table
    /// already guarantees (the event name and the outcome).
    dispatched: usize,
}

/// One condition of a [`Matcher`]; each reads the matcher's own fields.
/// Every condition is a pure test of the event (and its key's facts), so
/// the order they are tested in never changes the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cond {
    EventNames,
    Outcomes,
    Regions,
    EventTypes,
    EventCategories,
    PrincipalTypes,
    NotPrincipalTypes,
    ReadOnly,
    ErrorCodes,
    Source,
    Principal,
    Key,
    Alias,
    UserAgent,
    SessionName,
    ErrorMessage,
    Context,
    CrossAccount,
    ExpirationModels,
    BypassLockoutCheck,
    CreatedByCaller,
    GrantOutside,
    DestinationCross,
    Policy,
    Sigma,
    KeyFacts,
}

fn outcome_bit(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Success => 1,
        Outcome::Denied => 2,
        Outcome::Error => 4,
    }
}

fn boxed(list: &[String]) -> Vec<Box<str>> {
    list.iter().map(|s| s.as_str().into()).collect()
}

fn regex(field: &'static str, pattern: Option<&String>) -> Result<Option<Regex>, MatchError> {
    pattern
        .map(|p| {
            Regex::new(p).map_err(|e| MatchError {
                field,
                message: regex_reason(p, &e),
            })
        })
        .transpose()
}

/// The regex crate's message spans several lines (pattern, caret, reason);
/// a config error is one line, so keep the reason only.
fn regex_reason(pattern: &str, error: &regex::Error) -> String {
    let text = error.to_string();
    let reason = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .trim_start_matches("error: ");
    format!("regex parse error in {pattern:?}: {reason}")
}

/// Text that was meant as an address or CIDR block (a `/`, or only the
/// characters of an IPv4 or IPv6 address) rather than a service name such
/// as `AWS Internal` or `delivery.logs.amazonaws.com`.
fn looks_like_ip(s: &str) -> bool {
    s.contains('/')
        || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        || (s.contains(':')
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'))
}

fn source_ips(list: &[String]) -> Result<(Vec<IpNet>, Vec<Box<str>>), MatchError> {
    let (mut nets, mut names) = (Vec::new(), Vec::new());
    for entry in list {
        if let Ok(net) = entry.parse::<IpNet>() {
            nets.push(net);
        } else if let Ok(addr) = entry.parse::<IpAddr>() {
            nets.push(IpNet::from(addr));
        } else if looks_like_ip(entry) {
            return Err(MatchError {
                field: "source_ips",
                message: format!("{entry:?} is not a CIDR block or address"),
            });
        } else {
            names.push(entry.as_str().into());
        }
    }
    Ok((nets, names))
}

fn non_empty(field: &'static str, list: &[String]) -> Result<(), MatchError> {
    if list.iter().any(String::is_empty) {
        return Err(MatchError {
            field,
            message: "an empty entry matches nothing".to_owned(),
        });
    }
    Ok(())
}

impl Matcher {
    pub fn compile(spec: &MatchSpec) -> Result<Matcher, MatchError> {
        non_empty("event_names", &spec.event_names)?;
        non_empty("error_codes", &spec.error_codes)?;
        non_empty("expiration_models", &spec.expiration_models)?;
        let (source_nets, source_names) = source_ips(&spec.source_ips)?;
        if let Some(ctx) = &spec.encryption_context
            && ctx.key.is_empty()
        {
            return Err(MatchError {
                field: "encryption_context",
                message: "key must not be empty".to_owned(),
            });
        }
        if spec
            .key_created_by_caller_within
            .is_some_and(|s| s.0 <= chrono::Duration::zero())
        {
            return Err(MatchError {
                field: "key_created_by_caller_within",
                message: "must be longer than 0s".to_owned(),
            });
        }
        if spec.policy_allows_action.as_deref() == Some("") {
            return Err(MatchError {
                field: "policy_allows_action",
                message: "must name an action such as kms:Encrypt".to_owned(),
            });
        }
        let mut matcher = Matcher {
            event_names: boxed(&spec.event_names),
            outcomes: spec.outcomes.iter().fold(0, |b, o| b | outcome_bit(*o)),
            error_codes: boxed(&spec.error_codes),
            error_message: regex("error_message", spec.error_message.as_ref())?,
            principal: regex("principal", spec.principal.as_ref())?,
            key: regex("key", spec.key.as_ref())?,
            alias: regex("alias", spec.alias.as_ref())?,
            user_agent: regex("user_agent", spec.user_agent.as_ref())?,
            session_name: regex("session_name", spec.session_name.as_ref())?,
            source_nets,
            source_names,
            source_ip_is_address: spec.source_ip_is_address,
            regions: boxed(&spec.regions),
            event_types: boxed(&spec.event_types),
            event_categories: boxed(&spec.event_categories),
            principal_types: boxed(&spec.principal_types),
            not_principal_types: boxed(&spec.not_principal_types),
            read_only: spec.read_only,
            context_key: spec
                .encryption_context
                .as_ref()
                .map(|c| c.key.as_str().into()),
            context_value: regex(
                "encryption_context",
                spec.encryption_context
                    .as_ref()
                    .and_then(|c| c.value.as_ref()),
            )?,
            cross_account: spec.cross_account,
            direction: spec.cross_account_direction,
            grant_outside_account: spec.grant_outside_account,
            destination_cross_account: spec.destination_cross_account,
            bypass_lockout_check: spec.bypass_policy_lockout_check,
            created_within_ms: spec
                .key_created_by_caller_within
                .map(|s| s.0.num_milliseconds()),
            expiration_models: boxed(&spec.expiration_models),
            policy_public: spec.policy_public,
            policy_allows_action: spec.policy_allows_action.as_deref().map(Into::into),
            key_states: boxed(&spec.key_states),
            key_rotation_enabled: spec.key_rotation_enabled,
            sigma: spec.sigma.clone(),
            conds: Box::default(),
            dispatched: 0,
        };
        matcher.conds = matcher.given();
        matcher.dispatched = matcher
            .conds
            .iter()
            .take_while(|c| matches!(c, Cond::EventNames | Cond::Outcomes))
            .count();
        Ok(matcher)
    }

    /// The conditions this matcher gives, cheap ones first; the event
    /// name and the outcome lead (the engine's dispatch decides them).
    fn given(&self) -> Box<[Cond]> {
        let all = [
            (Cond::EventNames, !self.event_names.is_empty()),
            (Cond::Outcomes, self.outcomes != 0),
            (Cond::Regions, !self.regions.is_empty()),
            (Cond::EventTypes, !self.event_types.is_empty()),
            (Cond::EventCategories, !self.event_categories.is_empty()),
            (Cond::PrincipalTypes, !self.principal_types.is_empty()),
            (
                Cond::NotPrincipalTypes,
                !self.not_principal_types.is_empty(),
            ),
            (Cond::ReadOnly, self.read_only.is_some()),
            (Cond::ErrorCodes, !self.error_codes.is_empty()),
            (
                Cond::Source,
                !self.source_nets.is_empty()
                    || !self.source_names.is_empty()
                    || self.source_ip_is_address.is_some(),
            ),
            (Cond::Principal, self.principal.is_some()),
            (Cond::Key, self.key.is_some()),
            (Cond::Alias, self.alias.is_some()),
            (Cond::UserAgent, self.user_agent.is_some()),
            (Cond::SessionName, self.session_name.is_some()),
            (Cond::ErrorMessage, self.error_message.is_some()),
            (Cond::Context, self.context_key.is_some()),
            (
                Cond::CrossAccount,
                self.cross_account.is_some() || self.direction.is_some(),
            ),
            (Cond::ExpirationModels, !self.expiration_models.is_empty()),
            (
                Cond::BypassLockoutCheck,
                self.bypass_lockout_check.is_some(),
            ),
            (Cond::CreatedByCaller, self.created_within_ms.is_some()),
            (Cond::GrantOutside, self.grant_outside_account.is_some()),
            (
                Cond::DestinationCross,
                self.destination_cross_account.is_some(),
            ),
            (
                Cond::Policy,
                self.policy_public.is_some() || self.policy_allows_action.is_some(),
            ),
            (Cond::Sigma, self.sigma.is_some()),
            (
                Cond::KeyFacts,
                !self.key_states.is_empty() || self.key_rotation_enabled.is_some(),
            ),
        ];
        all.into_iter()
            .filter_map(|(c, given)| given.then_some(c))
            .collect()
    }

    /// The event names the matcher is limited to; empty: any name.
    pub fn event_names(&self) -> &[Box<str>] {
        &self.event_names
    }

    /// The outcomes the matcher is limited to, as a bit per [`Outcome`]
    /// (`Success` 1, `Denied` 2, `Error` 4); 0: any outcome.
    pub(crate) fn outcome_bits(&self) -> u8 {
        self.outcomes
    }

    /// Whether `event` meets every condition. `inventory` supplies the key
    /// facts (`key_states`, `key_rotation_enabled`); an unknown key meets
    /// neither. `key_created_by_caller_within` needs the engine's memory
    /// of created keys: here it never holds.
    #[must_use]
    pub fn matches(&self, event: &KmsEvent<'_>, inventory: &Inventory) -> bool {
        self.matches_facts(&EventFacts::new(event, inventory))
    }

    /// [`Self::matches`] with what is found once per event shared by every
    /// rule that asks.
    pub fn matches_facts(&self, facts: &EventFacts<'_, '_>) -> bool {
        self.conds.iter().all(|&c| self.holds(c, facts))
    }

    /// [`Self::matches_facts`] for an event whose name and outcome are
    /// already known to be among the matcher's (the engine's dispatch).
    pub(crate) fn matches_dispatched(&self, facts: &EventFacts<'_, '_>) -> bool {
        self.conds[self.dispatched..]
            .iter()
            .all(|&c| self.holds(c, facts))
    }

    fn holds(&self, cond: Cond, facts: &EventFacts<'_, '_>) -> bool {
        let e = facts.event;
        match cond {
            Cond::EventNames => one_of(&self.event_names, Some(&e.event_name)),
            Cond::Outcomes => self.outcomes & outcome_bit(e.outcome) != 0,
            Cond::Regions => one_of(&self.regions, e.region.as_deref()),
            Cond::EventTypes => one_of(&self.event_types, e.event_type.as_deref()),
            Cond::EventCategories => one_of(&self.event_categories, e.event_category.as_deref()),
            Cond::PrincipalTypes => one_of(&self.principal_types, e.principal_type.as_deref()),
            Cond::NotPrincipalTypes => !(e.principal_type.as_deref())
                .is_some_and(|t| self.not_principal_types.iter().any(|n| **n == *t)),
            Cond::ReadOnly => self.read_only.is_none_or(|r| e.read_only == Some(r)),
            Cond::ErrorCodes => e
                .error_code
                .as_deref()
                .is_some_and(|c| self.error_codes.iter().any(|g| glob(g, c))),
            Cond::Source => self.source_matches(e.source_ip.as_deref()),
            Cond::Principal => re(self.principal.as_ref(), Some(&e.principal)),
            Cond::Key => re(self.key.as_ref(), e.key.as_ref().map(|k| k.arn.as_ref())),
            Cond::Alias => re(self.alias.as_ref(), e.alias.as_deref()),
            Cond::UserAgent => re(self.user_agent.as_ref(), e.user_agent.as_deref()),
            Cond::SessionName => re(self.session_name.as_ref(), e.session_name.as_deref()),
            Cond::ErrorMessage => re(self.error_message.as_ref(), e.error_message.as_deref()),
            Cond::Context => self.context_matches(e),
            Cond::CrossAccount => self.cross_account_matches(facts),
            Cond::ExpirationModels => {
                one_of(&self.expiration_models, e.call.expiration_model.as_deref())
            }
            Cond::BypassLockoutCheck => self
                .bypass_lockout_check
                .is_none_or(|want| e.call.bypass_lockout_check == Some(want)),
            Cond::CreatedByCaller => self
                .created_within_ms
                .is_none_or(|ms| facts.key_created_by_caller(ms)),
            Cond::GrantOutside => self
                .grant_outside_account
                .is_none_or(|want| grant_outside(facts) == Some(want)),
            Cond::DestinationCross => self
                .destination_cross_account
                .is_none_or(|want| destination_cross(facts) == Some(want)),
            Cond::Policy => self.policy_matches(e.key_policy.as_deref()),
            Cond::Sigma => self.sigma.as_ref().is_none_or(|s| s.matches(e)),
            Cond::KeyFacts => self.key_facts_match(facts.key_facts()),
        }
    }

    fn source_matches(&self, ip: Option<&str>) -> bool {
        let want_list = !self.source_nets.is_empty() || !self.source_names.is_empty();
        if !want_list && self.source_ip_is_address.is_none() {
            return true;
        }
        let Some(ip) = ip else { return false };
        let addr = ip.parse::<IpAddr>().ok();
        if self
            .source_ip_is_address
            .is_some_and(|want| want != addr.is_some())
        {
            return false;
        }
        !want_list
            || self.source_names.iter().any(|n| **n == *ip)
            || addr.is_some_and(|a| self.source_nets.iter().any(|n| n.contains(&a)))
    }

    fn context_matches(&self, e: &KmsEvent<'_>) -> bool {
        let Some(key) = &self.context_key else {
            return true;
        };
        e.encryption_context
            .iter()
            .any(|(k, v)| **k == **key && self.context_value.as_ref().is_none_or(|r| r.is_match(v)))
    }

    fn cross_account_matches(&self, facts: &EventFacts<'_, '_>) -> bool {
        let Some((cross, way)) = facts.cross() else {
            return false;
        };
        self.cross_account.is_none_or(|want| cross == want)
            && self.direction.is_none_or(|want| cross && way == want)
    }

    /// `policy_public = false` needs a policy that was read and found
    /// private; an event without a policy meets neither value.
    fn policy_matches(&self, policy: Option<&str>) -> bool {
        if self.policy_public.is_none() && self.policy_allows_action.is_none() {
            return true;
        }
        let Some(text) = policy else { return false };
        let found = policy::is_public(text);
        let want_public = self.policy_public.unwrap_or(true);
        found.public == want_public
            && self
                .policy_allows_action
                .as_deref()
                .is_none_or(|a| found.allows(a))
    }

    fn key_facts_match(&self, facts: Option<&KeyFacts>) -> bool {
        let Some(facts) = facts else {
            return false;
        };
        one_of(&self.key_states, facts.state.as_deref())
            && self
                .key_rotation_enabled
                .is_none_or(|want| facts.rotation_enabled == Some(want))
    }
}

/// Whether a grant's principals reach outside the key's account; `None`
/// when the event names no grant principal or no key account.
fn grant_outside(facts: &EventFacts<'_, '_>) -> Option<bool> {
    let e = facts.event;
    let owner = facts.key_account().or(e.recipient_account.as_deref())?;
    let named = [e.call.grantee.as_deref(), e.call.retiring.as_deref()];
    if named.iter().all(Option::is_none) {
        return None;
    }
    Some(
        named.into_iter().flatten().any(|p| {
            !is_service_principal(p) && account_of_principal(p).is_some_and(|a| a != owner)
        }),
    )
}

/// Whether a re-encryption's destination key is in another account than
/// the source key or the caller; `None` without a destination.
fn destination_cross(facts: &EventFacts<'_, '_>) -> Option<bool> {
    let e = facts.event;
    let destination = e.call.destination_key.as_deref()?;
    let caller = e
        .principal_account
        .as_deref()
        .or(e.recipient_account.as_deref());
    let to = account_of_key_reference(destination, caller)?;
    let source = facts.key_account();
    Some(source.is_some_and(|s| s != to) || caller.is_some_and(|c| c != to))
}

/// An empty list holds; otherwise the value must be present and listed.
fn one_of(list: &[Box<str>], value: Option<&str>) -> bool {
    list.is_empty() || value.is_some_and(|v| list.iter().any(|l| **l == *v))
}

fn re(pattern: Option<&Regex>, value: Option<&str>) -> bool {
    pattern.is_none_or(|r| value.is_some_and(|v| r.is_match(v)))
}

/// `*` matches any run of characters; everything else is literal and
/// case-sensitive, as CloudTrail's error codes and CIS's filters are.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_have_only_star() {
        assert!(glob("AccessDenied*", "AccessDenied"));
        assert!(glob("AccessDenied*", "AccessDeniedException"));
        assert!(!glob("AccessDenied*", "VpceAccessDenied"));
        assert!(glob(
            "*UnauthorizedOperation",
            "Client.UnauthorizedOperation"
        ));
        assert!(glob("*Access*", "VpceAccessDenied"));
        assert!(glob("AccessDenied", "AccessDenied"));
        assert!(!glob("AccessDenied", "AccessDeniedException"));
        assert!(!glob("AccessDenied", "accessdenied"));
        assert!(!glob("Access?enied", "AccessDenied"));
        assert!(glob("*", "x"));
    }

    #[test]
    fn ip_like_text_is_told_from_service_names() {
        for ip in [
            "10.0.0.0/33",
            "10.0.0.256",
            "fe80::zz/64",
            "1.2.3",
            "::1/129",
        ] {
            assert!(source_ips(&[ip.to_owned()]).is_err(), "{ip}");
        }
        for name in ["AWS Internal", "delivery.logs.amazonaws.com", "dead.beef"] {
            assert!(source_ips(&[name.to_owned()]).is_ok(), "{name}");
        }
        let (nets, names) =
            source_ips(&["10.0.0.0/8".to_owned(), "2001:db8::1".to_owned()]).expect("valid");
        assert_eq!((nets.len(), names.len()), (2, 0));
    }
}
