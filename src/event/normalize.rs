//! From a raw CloudTrail record to a [`KmsEvent`]: the principal, key and
//! outcome rules live here and nowhere else.

use std::borrow::Cow;

use thiserror::Error;

use super::record::{Record, Resource, Text, UserIdentity};
use super::sql::{PRINCIPAL_RULE, PrincipalStep, UNKNOWN_PRINCIPAL};
use super::{CallDetail, KMS_EVENT_SOURCE, KeyRef, KmsEvent, Outcome, parse_event_time};

/// What one record turned out to be.
#[derive(Debug)]
pub enum Parsed<'a> {
    Kms(Box<KmsEvent<'a>>),
    /// A CloudTrail record of another service, sharing the log file.
    NonKms,
}

/// Why a record could not be read as a KMS event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("record is not a JSON object: {0}")]
    NotAnObject(String),
    #[error("record has no eventSource")]
    NoEventSource,
    #[error("record has no eventName")]
    NoEventName,
    #[error("record has no eventTime")]
    NoEventTime,
    #[error("eventTime {0:?} is not a time")]
    BadEventTime(String),
    #[error("record nests deeper than {} levels", super::nesting::MAX_DEPTH)]
    TooDeep,
}

/// Parses one record (`raw` is the record's JSON object).
///
/// # Errors
/// A record that is not an object, or lacks `eventSource`, `eventName` or a
/// readable `eventTime`. Every other field may be missing or mistyped.
pub fn parse_record(raw: &str) -> Result<Parsed<'_>, ParseError> {
    // serde would also read an array as a struct, field by position.
    if !raw.trim_start().starts_with('{') {
        let preview: String = raw.trim_start().chars().take(20).collect();
        return Err(ParseError::NotAnObject(preview));
    }
    if super::nesting::too_deep(raw) {
        return Err(ParseError::TooDeep);
    }
    let rec: Record<'_> =
        sonic_rs::from_str(raw).map_err(|e| ParseError::NotAnObject(e.to_string()))?;
    normalize(rec, Some(raw))
}

/// Normalizes a record read by [`parse_record`] or by a container reader
/// that parsed it in place; `raw` is its text when the caller kept it.
///
/// # Errors
/// As [`parse_record`].
pub fn normalize<'a>(rec: Record<'a>, raw: Option<&'a str>) -> Result<Parsed<'a>, ParseError> {
    let Some(source) = rec.event_source.as_deref() else {
        return Err(ParseError::NoEventSource);
    };
    if source != KMS_EVENT_SOURCE {
        return Ok(Parsed::NonKms);
    }
    let event_name = rec.event_name.take().ok_or(ParseError::NoEventName)?;
    let time_text = rec.event_time.take().ok_or(ParseError::NoEventTime)?;
    let time = parse_event_time(&time_text)
        .ok_or_else(|| ParseError::BadEventTime(time_text.clone().into_owned()))?;

    let mut identity = rec.user_identity.0;
    let region = rec.region.take();
    let recipient_account = rec.recipient_account.take();
    let request = rec.request_parameters.0;
    let call = CallDetail {
        grantee: request.grantee_principal.take(),
        retiring: request.retiring_principal.take(),
        destination_key: request.destination_key_id.take(),
        bypass_lockout_check: request.bypass_lockout_check.0,
        expiration_model: request.expiration_model.take(),
        valid_to: request.valid_to.take(),
        vpc_endpoint: rec.vpc_endpoint_id.take(),
    };
    let response = rec.response_elements.0;
    let error_message = rec.error_message.take();

    let mut refs = KeyRefs::default();
    refs.take_resources(rec.resources.0);
    let key_home = KeyHome {
        region: region.as_deref(),
        account: recipient_account
            .as_deref()
            .or_else(|| identity.account_id.as_deref()),
    };
    for candidate in [&response.key_id, &request.key_id, &request.target_key_id] {
        refs.take_parameter(candidate, &key_home);
    }
    if let Some(alias) = request.alias_name.as_deref() {
        refs.alias_from(alias);
    }
    if refs.key.is_none()
        && let Some(msg) = error_message.as_deref()
    {
        refs.key = key_arn_in_message(msg).map(|arn| KeyRef {
            arn: Cow::Owned(arn.to_owned()),
        });
    }

    let error_code = rec.error_code.take();
    let session_name = session_name(&identity);
    let access_key_id = std::mem::take(&mut identity.access_key_id)
        .take()
        .filter(|k| !k.is_empty());
    let (principal, principal_type, principal_account, invoked_by) = principal_of(identity);
    Ok(Parsed::Kms(Box::new(KmsEvent {
        time,
        time_text,
        event_id: rec.event_id.take().unwrap_or_default(),
        event_name,
        event_type: rec.event_type.take(),
        event_category: rec.event_category.take(),
        region,
        recipient_account,
        principal,
        principal_type,
        principal_account,
        session_name,
        access_key_id,
        source_ip: rec.source_ip.take(),
        user_agent: rec.user_agent.take(),
        invoked_by,
        key: refs.key,
        alias: refs.alias,
        outcome: Outcome::from_error_code(error_code.as_deref()),
        error_code,
        error_message,
        read_only: rec.read_only.0,
        key_policy: request.policy.take(),
        encryption_context: request.encryption_context.0,
        call,
        raw: raw.map(Cow::Borrowed),
    })))
}

type PrincipalParts<'a> = (
    Cow<'a, str>,
    Option<Cow<'a, str>>,
    Option<Cow<'a, str>>,
    Option<Cow<'a, str>>,
);

/// The principal rule ([`PRINCIPAL_RULE`], shared with its SQL
/// rendering): every session of a role is one principal; services are
/// named by `invokedBy`; a caller from another account by its account.
fn principal_of(identity: UserIdentity<'_>) -> PrincipalParts<'_> {
    let kind = identity.kind.take();
    let mut issuer = identity.session_context.0.session_issuer.0.arn.take();
    let mut arn = identity.arn.take();
    let mut principal_id = identity.principal_id.take();
    let invoked_by = identity.invoked_by.take();
    let account = identity.account_id.take();
    let principal = PRINCIPAL_RULE
        .iter()
        .find_map(|step| match step {
            PrincipalStep::IssuerOfAssumedRole => {
                if kind.as_deref() == Some("AssumedRole") {
                    issuer.take()
                } else {
                    None
                }
            }
            PrincipalStep::ServiceOfAwsService => {
                if kind.as_deref() == Some("AWSService") {
                    invoked_by.clone()
                } else {
                    None
                }
            }
            PrincipalStep::Arn => arn.take(),
            PrincipalStep::InvokedBy => invoked_by.clone(),
            PrincipalStep::Account => account.as_ref().map(|a| Cow::Owned(format!("account:{a}"))),
            PrincipalStep::PrincipalId => principal_id.take(),
        })
        .unwrap_or(Cow::Borrowed(UNKNOWN_PRINCIPAL));
    (principal, kind, account, invoked_by)
}

/// The session part of `arn:aws:sts::A:assumed-role/<role>/<session>`.
fn session_name<'a>(identity: &UserIdentity<'a>) -> Option<Cow<'a, str>> {
    let arn = identity.arn.0.as_ref()?;
    let (_, path) = arn.split_once(":assumed-role/")?;
    let (_, session) = path.split_once('/')?;
    if session.is_empty() {
        return None;
    }
    Some(match arn {
        Cow::Borrowed(arn) => Cow::Borrowed(&arn[arn.len() - session.len()..]),
        Cow::Owned(_) => Cow::Owned(session.to_owned()),
    })
}

/// Where a bare key id lives: the call's region and the recipient account
/// (a bare id can only name a key of the caller's own account).
struct KeyHome<'r> {
    region: Option<&'r str>,
    account: Option<&'r str>,
}

#[derive(Default)]
struct KeyRefs<'a> {
    key: Option<KeyRef<'a>>,
    alias: Option<Cow<'a, str>>,
}

impl<'a> KeyRefs<'a> {
    fn take_resources(&mut self, resources: Vec<Resource<'a>>) {
        for resource in resources {
            let typed_key = matches!(resource.kind.as_deref(), None | Some("AWS::KMS::Key"));
            let Some(arn) = resource.arn.take() else {
                continue;
            };
            if is_key_arn(&arn) && typed_key {
                if self.key.is_none() {
                    self.key = Some(KeyRef { arn });
                }
            } else {
                self.alias_from(&arn);
            }
        }
    }

    fn take_parameter(&mut self, value: &Text<'a>, home: &KeyHome<'_>) {
        let Some(value) = value.0.as_ref().filter(|v| !v.is_empty()) else {
            return;
        };
        if value.starts_with("alias/") || value.contains(":alias/") {
            self.alias_from(value);
        } else if self.key.is_some() {
        } else if is_key_arn(value) {
            self.key = Some(KeyRef { arn: value.clone() });
        } else if looks_like_key_id(value)
            && let (Some(region), Some(account)) = (home.region, home.account)
        {
            let partition = partition_of(region);
            self.key = Some(KeyRef {
                arn: Cow::Owned(format!(
                    "arn:{partition}:kms:{region}:{account}:key/{value}"
                )),
            });
        }
    }

    /// Keeps the first alias name seen, as `alias/<name>`.
    fn alias_from(&mut self, text: &str) {
        if self.alias.is_some() {
            return;
        }
        if let Some(pos) = text.find("alias/") {
            self.alias = Some(Cow::Owned(text[pos..].to_owned()));
        }
    }
}

fn is_key_arn(text: &str) -> bool {
    text.starts_with("arn:") && text.contains(":kms:") && text.contains(":key/")
}

/// A key id is a UUID or `mrk-` + 32 hex digits; placeholders such as
/// `"1"` or `EXAMPLE_KEY_ID` are not keys.
fn looks_like_key_id(text: &str) -> bool {
    (8..=64).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && text.contains('-')
}

fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Denied calls often carry neither `resources` nor `requestParameters`;
/// the message still names the key: `… on resource: arn:aws:kms:…:key/…`.
fn key_arn_in_message(message: &str) -> Option<&str> {
    message.match_indices("arn:").find_map(|(start, _)| {
        let rest = &message[start..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ')' | '('))
            .unwrap_or(rest.len());
        let arn = rest[..end].trim_end_matches(['.', ';']);
        is_key_arn(arn).then_some(arn)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> KmsEvent<'static> {
        match parse_record(json).expect("parses") {
            Parsed::Kms(e) => e.into_owned(),
            Parsed::NonKms => panic!("not KMS"),
        }
    }

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn assumed_role_sessions_collapse_to_the_role() {
        let e = parse(
            r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/App/i-0abc",
              "accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/App"}}}}"#,
        );
        assert_eq!(e.principal, "arn:aws:iam::111122223333:role/App");
        assert_eq!(e.session_name.as_deref(), Some("i-0abc"));
        assert_eq!(e.principal_type.as_deref(), Some("AssumedRole"));
    }

    #[test]
    fn principal_fallbacks_in_order() {
        let base = r#""eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z""#;
        let cases = [
            (
                r#"{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}"#,
                "cloudtrail.amazonaws.com",
            ),
            (
                r#"{"type":"IAMUser","arn":"arn:aws:iam::1:user/Alice","invokedBy":"x"}"#,
                "arn:aws:iam::1:user/Alice",
            ),
            (
                r#"{"accountId":"111122223333","invokedBy":"AWS Internal"}"#,
                "AWS Internal",
            ),
            (
                r#"{"type":"AWSAccount","principalId":"AIDAX","accountId":"444455556666"}"#,
                "account:444455556666",
            ),
            (r#"{"principalId":"AIDAX"}"#, "AIDAX"),
            (r#""...""#, "unknown"),
            ("null", "unknown"),
        ];
        for (identity, want) in cases {
            let e = parse(&format!("{{{base},\"userIdentity\":{identity}}}"));
            assert_eq!(e.principal, want, "{identity}");
        }
    }

    #[test]
    fn key_from_resources_then_response_then_request() {
        let e = parse(&format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"UpdateAlias","eventTime":"2025-01-01T00:00:00Z",
            "resources":[{{"type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:111122223333:alias/app"}},{{"ARN":"{KEY}"}}]}}"#
        ));
        assert_eq!(e.key.as_ref().map(|k| k.arn.as_ref()), Some(KEY));
        assert_eq!(e.alias.as_deref(), Some("alias/app"));

        let e = parse(
            r#"{"eventSource":"kms.amazonaws.com","eventName":"DescribeKey","eventTime":"2025-01-01T00:00:00Z",
            "awsRegion":"us-east-1","recipientAccountId":"111122223333","requestParameters":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}}"#,
        );
        assert_eq!(e.key.as_ref().map(|k| k.arn.as_ref()), Some(KEY));

        let e = parse(
            r#"{"eventSource":"kms.amazonaws.com","eventName":"Encrypt","eventTime":"2025-01-01T00:00:00Z",
            "awsRegion":"us-east-1","recipientAccountId":"111122223333","requestParameters":{"keyId":"alias/orders"}}"#,
        );
        assert!(e.key.is_none());
        assert_eq!(e.alias.as_deref(), Some("alias/orders"));
    }

    #[test]
    fn denied_call_key_comes_from_the_message() {
        let e = parse(&format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
            "errorCode":"AccessDenied","requestParameters":null,
            "errorMessage":"User: arn:aws:sts::1:assumed-role/R/s is not authorized to perform: kms:Decrypt on resource: {KEY} because no resource-based policy allows the kms:Decrypt action"}}"#
        ));
        assert_eq!(e.outcome, Outcome::Denied);
        assert_eq!(e.key.as_ref().map(|k| k.arn.as_ref()), Some(KEY));
    }

    #[test]
    fn other_sources_and_broken_records() {
        let other = r#"{"eventSource":"s3.amazonaws.com"}"#;
        assert!(matches!(parse_record(other), Ok(Parsed::NonKms)));
        for (json, want) in [
            ("[1]", "not a JSON object"),
            (r#"{"eventName":"Decrypt"}"#, "no eventSource"),
            (
                r#"{"eventSource":"kms.amazonaws.com","eventTime":"2025-01-01T00:00:00Z"}"#,
                "no eventName",
            ),
            (
                r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"soon"}"#,
                "not a time",
            ),
        ] {
            let err = parse_record(json).expect_err(json).to_string();
            assert!(err.contains(want), "{json}: {err}");
        }
    }
}
