//! Who the credentials belong to: STS `GetCallerIdentity`, which needs no
//! permission, so it is the first call and the one that fails fast with a
//! message a person can act on.

use aws_config::SdkConfig;

use super::answer_limit::AnswerLimit;
use super::error::{AwsError, ErrorKind};
use super::targets::profile_label;
use crate::feed::CallerIdentity;

/// Who the credentials are; a failure says what to do about it
/// ([`explain`]).
pub async fn caller_identity(
    config: &SdkConfig,
    profile: Option<&str>,
) -> Result<CallerIdentity, AwsError> {
    identify(config, profile)
        .await
        .map_err(|e| explain(&e, profile))
}

/// [`caller_identity`] with the SDK's error as it is (doctor words the fix
/// on a line of its own).
pub async fn identify(
    config: &SdkConfig,
    profile: Option<&str>,
) -> Result<CallerIdentity, AwsError> {
    let client = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(config)
            .interceptor(AnswerLimit)
            .build(),
    );
    let out = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(&e))?;
    // The account id names files (checkpoints, caches): an endpoint that
    // answers anything but 12 digits is refused here, once for all.
    let account = out.account().unwrap_or_default();
    if !crate::feed::is_account_id(account) {
        return Err(AwsError {
            kind: super::ErrorKind::Other,
            code: None,
            message: format!(
                "GetCallerIdentity answered an account id that is not 12 digits: {}",
                crate::text::escape_control(&account.chars().take(40).collect::<String>())
            ),
        });
    }
    Ok(CallerIdentity {
        profile: profile.map(str::to_string),
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
        user_id: out.user_id().unwrap_or_default().to_string(),
    })
}

/// What is wrong with the credentials, and what to run about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialHint {
    pub problem: &'static str,
    pub fix: String,
}

/// The one place that turns a credentials failure into what to do: the
/// dashboard, `tail`, `keys`, `report --source aws` and `doctor` all ask
/// it. `None` when the error is not about credentials.
pub fn credential_hint(err: &AwsError, profile: Option<&str>) -> Option<CredentialHint> {
    let lower = err.message.to_ascii_lowercase();
    let login = profile.map_or_else(
        || "aws sso login".to_string(),
        |p| format!("aws sso login --profile {p}"),
    );
    let code = err.code.as_deref();
    if lower.contains("sso") && (lower.contains("expired") || lower.contains("token")) {
        return Some(CredentialHint {
            problem: "the SSO session has expired or was never started",
            fix: format!("run `{login}`"),
        });
    }
    if matches!(code, Some("ExpiredToken" | "ExpiredTokenException")) || lower.contains("expired") {
        return Some(CredentialHint {
            problem: "the credentials have expired",
            fix: format!("refresh them: `{login}`, a new session token, or your credential helper"),
        });
    }
    if matches!(
        code,
        Some("InvalidClientTokenId" | "UnrecognizedClientException" | "SignatureDoesNotMatch")
    ) {
        return Some(CredentialHint {
            problem: "AWS does not accept these credentials",
            fix: "check the access key and secret, or sign in again".to_string(),
        });
    }
    // The SDK tries the environment, the profile, web identity, the
    // container and last the instance metadata service (IMDS): a machine
    // with none of them fails with whatever IMDS said, which names no fix.
    let nothing_found = [
        "no providers in chain",
        "no credentials",
        "credentialsnotloaded",
        "credential provider was not enabled",
        "imds",
        "instance metadata",
    ]
    .iter()
    .any(|m| lower.contains(m));
    if nothing_found || err.kind == ErrorKind::Credentials {
        let profile_hint = if profile.is_some() {
            ", or check the profile in ~/.aws/config"
        } else {
            ", set AWS_PROFILE"
        };
        return Some(CredentialHint {
            problem: "no credentials found",
            fix: format!(
                "run `aws configure` (access keys) or `{login}` (IAM Identity Center){profile_hint}, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ),
        });
    }
    None
}

/// The SDK's words on one line: its "tried these providers" list comes
/// as indented lines.
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Turns a credentials failure into what to do about it, naming the
/// profile; other errors only get the profile's name.
pub fn explain(err: &AwsError, profile: Option<&str>) -> AwsError {
    let who = profile_label(profile);
    match credential_hint(err, profile) {
        Some(hint) => AwsError {
            kind: ErrorKind::Credentials,
            code: err.code.clone(),
            message: format!(
                "{who}: {}: {} (the AWS SDK said: {})",
                hint.problem,
                hint.fix,
                one_line(&err.message)
            ),
        },
        None => AwsError {
            kind: err.kind,
            code: err.code.clone(),
            message: format!("{who}: {}", err.message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: ErrorKind, code: Option<&str>, message: &str) -> AwsError {
        AwsError {
            kind,
            code: code.map(str::to_owned),
            message: message.to_owned(),
        }
    }

    #[test]
    fn every_way_of_having_no_credentials_says_what_to_run() {
        for message in [
            // IMDS reachable but refusing (a laptop on a network that
            // answers 169.254.169.254, a container with IMDS off).
            "dispatch failure: other: an error occurred while loading credentials: failed to load IMDS session token: service error: request forbidden: IMDS is disabled or the caller has insufficient permissions.",
            // IMDS unreachable.
            "dispatch failure: other: the credential provider was not enabled: no credentials found in chain. Attempted:\n  Environment: the credential provider was not enabled\n  Ec2InstanceMetadata: could not communicate with IMDS: timeout",
            "dispatch failure: other: no providers in chain provided credentials",
        ] {
            let e = explain(&err(ErrorKind::Credentials, None, message), None);
            assert_eq!(e.kind, ErrorKind::Credentials);
            assert!(
                e.message.starts_with(
                    "the default credentials: no credentials found: run `aws configure`"
                ),
                "{}",
                e.message
            );
            assert!(e.message.contains("aws sso login"), "{}", e.message);
            assert!(!e.message.contains('\n'), "{}", e.message);
        }
        let e = explain(
            &err(
                ErrorKind::Credentials,
                None,
                "failed to load IMDS session token",
            ),
            Some("prod"),
        );
        assert!(
            e.message.contains("aws sso login --profile prod"),
            "{}",
            e.message
        );
    }

    #[test]
    fn expired_and_refused_credentials_have_their_own_fix() {
        let sso = credential_hint(
            &err(ErrorKind::Credentials, None, "the SSO token has expired"),
            Some("dev"),
        )
        .expect("a hint");
        assert_eq!(sso.fix, "run `aws sso login --profile dev`");
        let expired = credential_hint(
            &err(ErrorKind::Credentials, Some("ExpiredToken"), "x"),
            None,
        )
        .expect("a hint");
        assert_eq!(expired.problem, "the credentials have expired");
        let refused = credential_hint(
            &err(ErrorKind::Credentials, Some("InvalidClientTokenId"), "x"),
            None,
        )
        .expect("a hint");
        assert_eq!(refused.problem, "AWS does not accept these credentials");
        assert_eq!(
            credential_hint(
                &err(ErrorKind::Throttled, Some("Throttling"), "slow down"),
                None
            ),
            None
        );
    }
}
