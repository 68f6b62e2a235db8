//! Recognising kmstop's own calls in CloudTrail. Its inventory reads are
//! KMS management events too; without this, kmstop would report itself as
//! a busy principal of every key it watches.
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

#[cfg(test)]
mod tests {
    use super::*;

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
