//! kmstop's own calls. Its inventory reads are KMS management events, so
//! CloudTrail records them like anyone's; the SDK's app name puts
//! `app/kmstop` in their `userAgent`, which is how they are told apart and
//! kept out of the rates instead of kmstop reporting itself as a busy
//! principal.

/// The user-agent token the AWS SDK writes for kmstop's app name.
pub const OWN_APP_TOKEN: &str = "app/kmstop";

/// True when the `userAgent` of a record is one of kmstop's own calls: the
/// token must stand alone (space-separated), so `app/kmstop-fork` is not.
pub fn is_own_call(user_agent: &str) -> bool {
    user_agent
        .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
        .any(|token| token == OWN_APP_TOKEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_user_agent_with_the_app_name_is_own() {
        assert!(is_own_call(
            "aws-sdk-rust/1.3.9 ua/2.1 api/kms/1.129.0 os/linux lang/rust/1.95.0 app/kmstop"
        ));
        assert!(is_own_call("[aws-sdk-rust/1.3.9 app/kmstop m/E]"));
    }

    #[test]
    fn others_are_not() {
        assert!(!is_own_call(
            "aws-cli/2.15.30 Python/3.11.8 command/kms.describe-key"
        ));
        assert!(!is_own_call("aws-sdk-rust/1.3.9 app/kmstop-fork"));
        assert!(!is_own_call("app/kmstopper"));
        assert!(!is_own_call(""));
    }
}
