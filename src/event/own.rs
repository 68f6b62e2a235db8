//! Recognising kmstop's own calls in CloudTrail. Its inventory reads are
//! KMS management events too; without this, kmstop would report itself as
//! a busy principal of every key it watches.
//!
//! The user agent alone proves nothing: any SDK can add `app/kmstop`
//! (`AWS_SDK_UA_APP_ID`), and a call left out is a call an attacker hid.
//! So a call is kmstop's own only when all of it says so
//! ([`OwnIdentity::made`]): the caller is the identity kmstop itself runs
//! as (`GetCallerIdentity`), the call is one of the reads kmstop makes and
//! it succeeded, and the user agent carries kmstop's token. A refused or
//! failed call is never left out.
//!
//! The SDK puts the app name in the `User-Agent` it sends, which CloudTrail
//! records as `userAgent`: `aws-sdk-rust/1.x ua/2.1 api/kms/1.x os/linux
//! lang/rust/1.x m/E app/kmstop` (aws-runtime's `AwsUserAgent`). The token
//! is `app/` + the name, space-separated from its neighbours, except that
//! the SDK writes an optional build-time `md/…` suffix straight after it
//! without a space.

/// The app name kmstop gives the SDK. The core does not import the AWS
/// layer, so it is spelled here and a test holds it equal to
/// `aws::APP_NAME`.
const APP_NAME: &str = "kmstop";

/// Whether a CloudTrail `userAgent` is one of kmstop's own SDK calls: it
/// carries the `app/kmstop` token exactly (not `app/kmstop-fork`, not
/// `app/kmstop` inside another token).
pub fn is_own_call(user_agent: &str) -> bool {
    user_agent
        .split(|c: char| c.is_ascii_whitespace())
        // CloudTrail wraps some user agents in brackets: `[aws-cli/2 …]`.
        .map(|token| token.trim_matches(|c| c == '[' || c == ']'))
        .any(|token| {
            token.strip_prefix("app/").is_some_and(|rest| {
                rest.strip_prefix(APP_NAME)
                    .is_some_and(|after| after.is_empty() || after.starts_with("md/"))
            })
        })
}

/// The KMS reads kmstop's inventory makes: nothing else can be its own.
pub const OWN_READS: &[&str] = &[
    "ListKeys",
    "ListAliases",
    "DescribeKey",
    "GetKeyRotationStatus",
    "ListKeyRotations",
    "GetKeyPolicy",
    "GetKeyLastUsage",
    "ListGrants",
];

/// Who kmstop runs as in one account, from the ARN `GetCallerIdentity`
/// returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnIdentity {
    account: String,
    caller: Caller,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// `arn:aws:sts::A:assumed-role/<role>/<session>`: CloudTrail names the
    /// role (with its path) and the session apart.
    Session { role: String, session: String },
    /// A user, root or federated user: CloudTrail records the same ARN.
    Arn(String),
}

impl OwnIdentity {
    /// `None` for an ARN that names no caller (then nothing is left out).
    pub fn from_arn(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_partition), Some(service), Some(_region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let resource = parts.next()?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let caller = match (service, resource.strip_prefix("assumed-role/")) {
            ("sts", Some(rest)) => {
                let (role, session) = rest.split_once('/')?;
                if role.is_empty() || session.is_empty() {
                    return None;
                }
                Caller::Session {
                    role: role.to_owned(),
                    session: session.to_owned(),
                }
            }
            _ => Caller::Arn(arn.to_owned()),
        };
        Some(Self {
            account: account.to_owned(),
            caller,
        })
    }

    /// Whether `event` is one of kmstop's own inventory reads: made by
    /// this identity, a read kmstop makes, successful, and carrying
    /// kmstop's user agent token.
    pub fn made(&self, event: &super::KmsEvent<'_>) -> bool {
        event.outcome == super::Outcome::Success
            && event.error_code.is_none()
            && event.read_only != Some(false)
            && OWN_READS.contains(&event.event_name.as_ref())
            && event.user_agent.as_deref().is_some_and(is_own_call)
            && self.is_caller(event)
    }

    fn is_caller(&self, event: &super::KmsEvent<'_>) -> bool {
        match &self.caller {
            Caller::Session { role, session } => {
                event.principal_type.as_deref() == Some("AssumedRole")
                    && event.principal_account.as_deref() == Some(self.account.as_str())
                    && event.session_name.as_deref() == Some(session.as_str())
                    // The issuer `arn:aws:iam::A:role/<path/>role`.
                    && event
                        .principal
                        .strip_prefix(&format!("arn:aws:iam::{}:role/", self.account))
                        .and_then(|p| p.rsplit('/').next())
                        == Some(role.as_str())
            }
            Caller::Arn(arn) => event.principal.as_ref() == arn.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Parsed, parse_record};

    fn event(
        identity: &str,
        name: &str,
        ua: &str,
        error: Option<&str>,
    ) -> super::super::KmsEvent<'static> {
        let error = error.map_or(String::new(), |e| format!(r#","errorCode":"{e}""#));
        let raw = format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"{name}","eventTime":"2025-01-01T00:00:00Z","eventID":"1","userAgent":"{ua}","userIdentity":{identity}{error}}}"#
        );
        match parse_record(&raw) {
            Ok(Parsed::Kms(e)) => e.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    const UA: &str = "aws-sdk-rust/1.3.9 app/kmstop";
    const ROLE: &str = r#"{"type":"AssumedRole","accountId":"111122223333","arn":"arn:aws:sts::111122223333:assumed-role/kmstop-reader/alice","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/ops/kmstop-reader","accountId":"111122223333"}}}"#;

    #[test]
    fn own_only_when_identity_call_outcome_and_agent_all_say_so() {
        let me =
            OwnIdentity::from_arn("arn:aws:sts::111122223333:assumed-role/kmstop-reader/alice")
                .expect("an assumed role");
        assert!(me.made(&event(ROLE, "DescribeKey", UA, None)));
        // The user agent alone: another session of the role, another role.
        let bob = ROLE.replace(
            "assumed-role/kmstop-reader/alice",
            "assumed-role/kmstop-reader/bob",
        );
        assert!(!me.made(&event(&bob, "DescribeKey", UA, None)));
        let other = ROLE.replace("ops/kmstop-reader", "ops/intruder");
        assert!(!me.made(&event(&other, "DescribeKey", UA, None)));
        // A call kmstop never makes, or a refused one, is never its own.
        assert!(!me.made(&event(ROLE, "Decrypt", UA, None)));
        assert!(!me.made(&event(ROLE, "DescribeKey", UA, Some("AccessDenied"))));
        // Without the token it is the same identity used by something else.
        assert!(!me.made(&event(ROLE, "DescribeKey", "aws-cli/2", None)));
        let user = OwnIdentity::from_arn("arn:aws:iam::111122223333:user/ops").expect("a user");
        let as_user = r#"{"type":"IAMUser","accountId":"111122223333","arn":"arn:aws:iam::111122223333:user/ops"}"#;
        assert!(user.made(&event(as_user, "ListAliases", UA, None)));
        assert!(!me.made(&event(as_user, "ListAliases", UA, None)));
        assert_eq!(
            OwnIdentity::from_arn("arn:aws:sts::../..:assumed-role/x/y"),
            None
        );
        assert_eq!(OwnIdentity::from_arn("nonsense"), None);
    }

    #[test]
    fn the_name_is_the_one_the_sdk_is_given() {
        assert_eq!(APP_NAME, crate::aws::APP_NAME);
    }

    #[test]
    fn recognises_the_token_the_sdk_writes() {
        // As aws-runtime formats it, app name last.
        assert!(is_own_call(
            "aws-sdk-rust/1.3.9 ua/2.1 api/kms/1.129.0 os/linux lang/rust/1.95.0 m/E,b app/kmstop"
        ));
        // With framework metadata after it, or the build-time md/ suffix
        // the SDK glues on without a space.
        assert!(is_own_call(
            "aws-sdk-rust/1.3.9 ua/2.1 api/kms/1.129.0 os/linux lang/rust/1.95.0 app/kmstopmd/ci"
        ));
        assert!(is_own_call("[aws-sdk-rust/1.3.9 app/kmstop]"));
        assert!(is_own_call("app/kmstop lib/other"));
    }

    #[test]
    fn other_callers_are_not_kmstop() {
        for ua in [
            "",
            "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64 prompt/off command/kms.decrypt",
            "aws-sdk-rust/1.3.9 ua/2.1 api/kms/1.129.0 os/linux lang/rust/1.95.0 app/kmstop2",
            "aws-sdk-rust/1.3.9 app/kmstop-fork",
            "aws-sdk-rust/1.3.9 app/KMSTOP",
            "Boto3/1.34 md/app/kmstop",
            "kms.amazonaws.com",
            "myapp/kmstop",
            "AWS Internal",
        ] {
            assert!(!is_own_call(ua), "{ua}");
        }
    }
}
