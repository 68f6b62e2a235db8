//! `--who`: the calls of one credential, session, principal or network —
//! what a responder follows when a key has leaked.
//!
//! A selector names what to follow: `akid:AKIA…` (the access key id that
//! signed the call), `session:NAME` (an assumed role's session name),
//! `principal:role/orders-api` (a principal as kmstop shows it, or the
//! resource part of its ARN), `ip:203.0.113.7` or `ip:10.0.0.0/8`; or,
//! the other way round, `resource:ARN-or-name`: the data calls whose
//! encryption context names that resource ("who decrypted this secret?",
//! [`resource`]). A bare access key id or address is understood without
//! its prefix. Several selectors select the calls any of them matches.
//!
//! `crate::athena::who` renders each test as SQL for a report pushed down
//! to Athena: a change here is a change there, and `tests/it/athena_who.rs`
//! holds the two to the same answers.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::event::KmsEvent;

/// The longest selector value accepted: longer than any access key id,
/// session name (64), principal ARN or network.
const MAX_VALUE: usize = 2048;

/// One thing to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    AccessKey(String),
    Session(String),
    Principal(String),
    Network(IpNet),
    /// A resource an encryption context names, as written (`s3://…`
    /// stays so): [`resource::resource_is`].
    Resource(String),
}

/// Why a selector was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error(
        "empty selector: give akid:ID, session:NAME, principal:NAME, ip:ADDR[/LEN] or resource:ARN-OR-NAME"
    )]
    Empty,
    #[error("selector is {0} bytes long; at most {MAX_VALUE} are accepted")]
    TooLong(usize),
    #[error("{0:?} is not an address or network (ip: takes 203.0.113.7 or 10.0.0.0/8)")]
    BadNetwork(String),
    #[error(
        "{0:?} is neither an access key id nor an address: say which with akid:, session:, principal:, ip: or resource:"
    )]
    Ambiguous(String),
    #[error("unknown selector kind {0:?}: use akid:, session:, principal:, ip: or resource:")]
    UnknownKind(String),
    /// The text as given, control characters escaped.
    #[error(
        "\"{0}\" is not an access key id: AKIA, ASIA, ABIA or ACCA and 16 characters A-Z or 2-7, such as AKIAIOSFODNN7EXAMPLE"
    )]
    BadAccessKey(String),
    #[error("{0}")]
    BadResource(String),
}

impl Selector {
    /// Reads `akid:…`, `session:…`, `principal:…`, `ip:…`, or a bare
    /// access key id or address.
    ///
    /// # Errors
    /// Empty, overlong or unreadable selectors, with what to write instead.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let text = text.trim();
        if text.len() > MAX_VALUE {
            return Err(SelectorError::TooLong(text.len()));
        }
        let nonempty = |v: &str| {
            let v = v.trim();
            if v.is_empty() {
                Err(SelectorError::Empty)
            } else {
                Ok(v.to_owned())
            }
        };
        if text.is_empty() {
            return Err(SelectorError::Empty);
        }
        // ARNs hold colons too: only a known kind before the first colon
        // is a kind.
        if let Some((kind, value)) = text.split_once(':') {
            match kind.to_ascii_lowercase().as_str() {
                "akid" | "access-key" | "accesskeyid" => {
                    return access_key_id(&nonempty(value)?).map(Self::AccessKey);
                }
                "session" => return Ok(Self::Session(nonempty(value)?)),
                "principal" => return Ok(Self::Principal(nonempty(value)?)),
                "ip" => return network(&nonempty(value)?).map(Self::Network),
                "arn" => return Ok(Self::Principal(text.to_owned())),
                "resource" => {
                    let value = nonempty(value)?;
                    resource::check(&value).map_err(SelectorError::BadResource)?;
                    return Ok(Self::Resource(value));
                }
                _ => {}
            }
        }
        if looks_like_access_key(text) {
            return access_key_id(text).map(Self::AccessKey);
        }
        if let Ok(net) = network(text) {
            return Ok(Self::Network(net));
        }
        match text.split_once(':') {
            Some((kind, _)) if !kind.contains('/') && kind.len() <= 16 => {
                Err(SelectorError::UnknownKind(kind.to_owned()))
            }
            _ => Err(SelectorError::Ambiguous(text.to_owned())),
        }
    }

    /// True when `event` is a call this selector follows.
    #[must_use]
    pub fn matches(&self, event: &KmsEvent<'_>) -> bool {
        // The context is read only for a selector that asks about it.
        let named = if self.reads_resource() {
            resource::resource_of_call(event)
        } else {
            None
        };
        self.matches_caller(&Caller {
            principal: &event.principal,
            access_key_id: event.access_key_id.as_deref(),
            session_name: event.session_name.as_deref(),
            source_ip: event.source_ip.as_deref(),
            resource: named.as_ref().map(|r| (r.service, r.name.as_ref())),
        })
    }

    /// True when this selector reads the resource a call names
    /// ([`Caller::resource`]): others need not derive it.
    #[must_use]
    pub fn reads_resource(&self) -> bool {
        matches!(self, Self::Resource(_))
    }

    /// The same test on the caller's fields alone (a listed row).
    #[must_use]
    pub fn matches_caller(&self, caller: &Caller<'_>) -> bool {
        match self {
            Self::AccessKey(id) => caller
                .access_key_id
                .is_some_and(|a| a.eq_ignore_ascii_case(id)),
            Self::Session(name) => caller.session_name == Some(name.as_str()),
            Self::Principal(p) => principal_is(caller.principal, p),
            Self::Network(net) => caller
                .source_ip
                .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| net.contains(&ip)),
            Self::Resource(wanted) => caller
                .resource
                .is_some_and(|(service, name)| resource::resource_is(service, name, wanted)),
        }
    }

    /// Reads `text` as a selector only when it names its kind
    /// (`akid:…`, `ip:…`): a filter prompt's other text is a pattern.
    ///
    /// # Errors
    /// A named kind whose value cannot be read.
    pub fn parse_named(text: &str) -> Option<Result<Self, SelectorError>> {
        let (kind, _) = text.trim().split_once(':')?;
        matches!(
            kind.to_ascii_lowercase().as_str(),
            "akid" | "access-key" | "accesskeyid" | "session" | "principal" | "ip" | "resource"
        )
        .then(|| Self::parse(text))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AccessKey(id) => write!(f, "akid:{id}"),
            Self::Session(s) => write!(f, "session:{s}"),
            Self::Principal(p) => write!(f, "principal:{p}"),
            Self::Network(net) if net.prefix_len() == net.max_prefix_len() => {
                write!(f, "ip:{}", net.addr())
            }
            Self::Network(net) => write!(f, "ip:{net}"),
            Self::Resource(r) => write!(f, "resource:{r}"),
        }
    }
}

/// Who made a call, as a selector reads it.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub principal: &'a str,
    pub access_key_id: Option<&'a str>,
    pub session_name: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    /// The service and name of the resource a data call's context names
    /// ([`resource::resource_of_call`]); `None` for other calls, and where
    /// no selector [reads it](Selector::reads_resource).
    pub resource: Option<(&'a str, &'a str)>,
}

/// The IAM unique-id prefixes of credentials a call can be signed with:
/// long-term access keys, temporary (STS) keys, STS service bearer tokens
/// and context-specific credentials.
const ACCESS_KEY_PREFIXES: [&str; 4] = ["AKIA", "ASIA", "ABIA", "ACCA"];

/// Bare text meant as an access key id: a credential prefix, then letters
/// and digits only (checked, and refused with the reason, by
/// [`access_key_id`]); anything else is left to the other kinds.
fn looks_like_access_key(text: &str) -> bool {
    text.len() > 4
        && ACCESS_KEY_PREFIXES.iter().any(|p| text.starts_with(p))
        && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An access key id as IAM issues it: a credential prefix and 16
/// characters of upper-case base32 (A-Z, 2-7), 20 in all. Lower case is
/// read as upper case (the id is matched without regard to case anyway).
///
/// # Errors
/// Any other text, escaped for the terminal.
pub fn access_key_id(text: &str) -> Result<String, SelectorError> {
    let id = text.trim().to_ascii_uppercase();
    let valid = id.len() == 20
        && ACCESS_KEY_PREFIXES.iter().any(|p| id.starts_with(p))
        && id
            .bytes()
            .skip(4)
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    if valid {
        Ok(id)
    } else {
        Err(SelectorError::BadAccessKey(
            crate::text::escape_control(text.trim()).into_owned(),
        ))
    }
}

fn network(text: &str) -> Result<IpNet, SelectorError> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| SelectorError::BadNetwork(text.to_owned()))
}

/// The principal as shown (often an ARN), or the ARN's resource part
/// (`role/orders-api`, `user/alice`), or its name alone after the last `/`
/// when the selector has no `/` (`orders-api`).
fn principal_is(principal: &str, wanted: &str) -> bool {
    if principal == wanted {
        return true;
    }
    if !principal.starts_with("arn:") {
        return false;
    }
    let resource = principal.splitn(6, ':').nth(5).unwrap_or("");
    resource == wanted || (!wanted.contains('/') && resource.rsplit('/').next() == Some(wanted))
}

/// The selectors of one run: a call is followed when any matches. Empty
/// follows every call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Who {
    selectors: Vec<Selector>,
}

impl Who {
    #[must_use]
    pub fn new(selectors: Vec<Selector>) -> Self {
        Self { selectors }
    }

    /// The selectors, in the order given.
    #[must_use]
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// True when no selector narrows the calls.
    #[must_use]
    pub fn is_everyone(&self) -> bool {
        self.selectors.is_empty()
    }

    #[must_use]
    pub fn matches(&self, event: &KmsEvent<'_>) -> bool {
        self.selectors.is_empty() || self.selectors.iter().any(|s| s.matches(event))
    }

    /// The selectors as written back (`akid:…`, `ip:…/24`), for headers
    /// and the report's `who` field.
    #[must_use]
    pub fn labels(&self) -> Vec<String> {
        self.selectors.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.labels().join(" or "))
    }
}

pub mod resource;

#[cfg(test)]
mod tests;
