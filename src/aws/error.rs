//! What went wrong with an AWS call, sorted into the few kinds kmstop acts
//! on differently: retry later (throttled, server, network), mark a field
//! (access denied, unsupported), or tell the person what to fix
//! (credentials).

use std::error::Error as StdError;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::answer_limit::AnswerTooLarge;

/// How kmstop reacts to a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Over the API's rate: wait and send the same request again.
    Throttled,
    /// 5xx or an internal failure: wait and send the same request again.
    Server,
    /// No answer (refused, reset, dropped, timed out): wait and retry.
    Network,
    /// The caller may not do this (IAM or key policy).
    AccessDenied,
    /// The operation does not apply here (e.g. rotation of an asymmetric
    /// key), or the endpoint does not know it.
    Unsupported,
    NotFound,
    /// No usable credentials: missing, expired, invalid. Not retried.
    Credentials,
    /// A request kmstop built wrongly, or anything else.
    Other,
}

impl ErrorKind {
    /// Worth sending the same request again after a pause.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Throttled | Self::Server | Self::Network)
    }
}

/// A failed AWS call: its kind, the AWS error code when there is one, and
/// a message for people (already including the cause chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) if !self.message.contains(code.as_str()) => {
                write!(f, "{code}: {}", self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

impl StdError for AwsError {}

impl AwsError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// Sorts an SDK error by its AWS code, HTTP status and cause chain.
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let message = chain_text(err);
        // An answer past the size cap is refused, not asked for again,
        // whichever stage of the call it ended.
        if has_cause::<AnswerTooLarge>(err) {
            return Self::new(ErrorKind::Other, message);
        }
        match err {
            SdkError::ServiceError(service) => {
                let code = service.err().code().map(str::to_string);
                let status = Some(service.raw().status().as_u16());
                let kind = code
                    .as_deref()
                    .map_or(ErrorKind::Other, kind_of_code)
                    .or_status(status);
                let message = service.err().message().map_or(message, str::to_string);
                Self {
                    kind,
                    code,
                    message,
                }
            }
            SdkError::TimeoutError(_) => Self::new(ErrorKind::Network, message),
            SdkError::DispatchFailure(dispatch) => {
                let kind = if has_cause::<CredentialsError>(err) {
                    ErrorKind::Credentials
                } else if dispatch.is_io() || dispatch.is_timeout() || dispatch.is_other() {
                    ErrorKind::Network
                } else {
                    ErrorKind::Other
                };
                Self::new(kind, message)
            }
            SdkError::ResponseError(_) => Self::new(ErrorKind::Server, message),
            _ if has_cause::<CredentialsError>(err) => Self::new(ErrorKind::Credentials, message),
            _ => Self::new(ErrorKind::Other, message),
        }
    }
}

trait OrStatus {
    fn or_status(self, status: Option<u16>) -> ErrorKind;
}

impl OrStatus for ErrorKind {
    fn or_status(self, status: Option<u16>) -> ErrorKind {
        match (self, status) {
            (ErrorKind::Other, Some(429)) => ErrorKind::Throttled,
            (ErrorKind::Other, Some(s)) if s >= 500 => ErrorKind::Server,
            (kind, _) => kind,
        }
    }
}

/// The kind an AWS error code means, across CloudTrail, KMS and STS.
pub fn kind_of_code(code: &str) -> ErrorKind {
    match code {
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        | "SlowDown" => ErrorKind::Throttled,
        "InternalFailure"
        | "InternalServerError"
        | "InternalException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "KMSInternalException"
        | "DependencyTimeoutException"
        | "InternalError" => ErrorKind::Server,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            ErrorKind::AccessDenied
        }
        "UnsupportedOperationException"
        | "UnknownOperationException"
        | "OperationNotPermittedException" => ErrorKind::Unsupported,
        "NotFoundException"
        | "TrailNotFoundException"
        | "ResourceNotFoundException"
        | "NoSuchBucket"
        | "NoSuchKey" => ErrorKind::NotFound,
        "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => ErrorKind::Credentials,
        _ => ErrorKind::Other,
    }
}

fn has_cause<T: StdError + 'static>(err: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<T>().is_some() {
            return true;
        }
        current = e.source();
    }
    false
}

/// The error and its causes on one line: the SDK's top-level messages
/// ("dispatch failure") say little without them.
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_sort_into_kinds() {
        assert_eq!(kind_of_code("ThrottlingException"), ErrorKind::Throttled);
        assert_eq!(
            kind_of_code("AccessDeniedException"),
            ErrorKind::AccessDenied
        );
        assert_eq!(kind_of_code("ExpiredToken"), ErrorKind::Credentials);
        assert_eq!(
            kind_of_code("UnsupportedOperationException"),
            ErrorKind::Unsupported
        );
        assert_eq!(kind_of_code("InternalFailure"), ErrorKind::Server);
        assert_eq!(kind_of_code("InvalidNextTokenException"), ErrorKind::Other);
        assert!(ErrorKind::Throttled.is_transient());
        assert!(!ErrorKind::Credentials.is_transient());
    }

    #[test]
    fn unknown_codes_fall_back_on_the_status() {
        assert_eq!(ErrorKind::Other.or_status(Some(503)), ErrorKind::Server);
        assert_eq!(ErrorKind::Other.or_status(Some(429)), ErrorKind::Throttled);
        assert_eq!(ErrorKind::Other.or_status(Some(400)), ErrorKind::Other);
        assert_eq!(
            ErrorKind::AccessDenied.or_status(Some(500)),
            ErrorKind::AccessDenied
        );
    }
}
