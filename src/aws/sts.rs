//! Who the credentials belong to: STS `GetCallerIdentity`, which needs no
//! permission, so it is the first call and the one that fails fast with a
//! message a person can act on.

use aws_config::SdkConfig;

use super::error::{AwsError, ErrorKind};
use super::targets::profile_label;
use crate::live::CallerIdentity;

pub async fn caller_identity(
    config: &SdkConfig,
    profile: Option<&str>,
) -> Result<CallerIdentity, AwsError> {
    let client = aws_sdk_sts::Client::new(config);
    let out = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| explain(&AwsError::from_sdk(&e), profile))?;
    Ok(CallerIdentity {
        profile: profile.map(str::to_string),
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
        user_id: out.user_id().unwrap_or_default().to_string(),
    })
}

/// Turns a credentials failure into what to do about it.
pub fn explain(err: &AwsError, profile: Option<&str>) -> AwsError {
    let who = profile_label(profile);
    let lower = err.message.to_ascii_lowercase();
    let login = profile.map_or_else(
        || "aws sso login".to_string(),
        |p| format!("aws sso login --profile {p}"),
    );
    let hint = if lower.contains("sso") && (lower.contains("expired") || lower.contains("token")) {
        Some(format!(
            "the SSO session has expired or was never started: run `{login}`"
        ))
    } else if matches!(
        err.code.as_deref(),
        Some("ExpiredToken" | "ExpiredTokenException")
    ) || lower.contains("expired")
    {
        Some("the credentials have expired: refresh them (`aws sso login`, a new session token, or your credential helper)".to_string())
    } else if lower.contains("no providers in chain")
        || lower.contains("credentialsnotloaded")
        || lower.contains("no credentials")
    {
        Some(format!(
            "no credentials found: run `aws configure` or `{login}`, set AWS_PROFILE, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        ))
    } else if matches!(
        err.code.as_deref(),
        Some("InvalidClientTokenId" | "UnrecognizedClientException" | "SignatureDoesNotMatch")
    ) {
        Some(
            "AWS does not accept these credentials: check the access key, or sign in again"
                .to_string(),
        )
    } else {
        None
    };
    match hint {
        Some(hint) => AwsError {
            kind: ErrorKind::Credentials,
            code: err.code.clone(),
            message: format!("{who}: {hint} ({})", err.message),
        },
        None => AwsError {
            kind: err.kind,
            code: err.code.clone(),
            message: format!("{who}: {}", err.message),
        },
    }
}
