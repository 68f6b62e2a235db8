//! `logs://LOG_GROUP` on the command line: a trail's CloudWatch Logs log
//! group, by name or ARN, and the filter pattern that asks CloudWatch Logs
//! for the KMS events of a question only.

use std::fmt;

use super::trail_layout::Selection;
use crate::aws::KMS_EVENT_SOURCE;

/// A log group to read: its name, and its region when an ARN named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupUrl {
    pub name: String,
    /// From `arn:aws:logs:REGION:…`; otherwise the profile's (or the
    /// first `--region`).
    pub region: Option<String>,
    /// The ARN as given (without a trailing `:*`), for the calls that take
    /// one (`StartLiveTail`).
    pub arn: Option<String>,
}

/// CloudWatch Logs' own limit on a group name's length.
const MAX_NAME: usize = 512;

impl LogGroupUrl {
    /// Parses `logs://NAME` or `logs://arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`.
    ///
    /// # Errors
    /// Not a `logs://` address, or a name CloudWatch Logs cannot have.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("logs://")
            .ok_or_else(|| format!("{text}: not a logs://LOG_GROUP address"))?;
        if let Some(arn) = rest.strip_prefix("arn:") {
            return Self::from_arn(text, arn);
        }
        check_name(text, rest)?;
        Ok(Self {
            name: rest.to_string(),
            region: None,
            arn: None,
        })
    }

    fn from_arn(text: &str, arn: &str) -> Result<Self, String> {
        let arn = arn.strip_suffix(":*").unwrap_or(arn);
        let parts: Vec<&str> = arn.splitn(5, ':').collect();
        let [partition, "logs", region, account, group] = parts[..] else {
            return Err(format!(
                "{text}: not a log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME)"
            ));
        };
        let name = group.strip_prefix("log-group:").ok_or_else(|| {
            format!("{text}: not a log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME)")
        })?;
        let region_ok = !region.is_empty()
            && region.len() <= 32
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        if !region_ok || !account_ok || !partition.starts_with("aws") {
            return Err(format!(
                "{text}: the ARN's partition, region or account is not one AWS has"
            ));
        }
        check_name(text, name)?;
        Ok(Self {
            name: name.to_string(),
            region: Some(region.to_string()),
            arn: Some(format!("arn:{arn}")),
        })
    }

    /// What `FilterLogEvents` and `StartLiveTail` take to name the group:
    /// the ARN when there is one.
    pub fn identifier(&self) -> &str {
        self.arn.as_deref().unwrap_or(&self.name)
    }
}

/// Log group names are 1–512 of `[A-Za-z0-9._/#-]` (CloudWatch Logs'
/// rule), which also keeps them out of the terminal's way.
fn check_name(text: &str, name: &str) -> Result<(), String> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'#'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{text}: not a log group name (1 to 512 of letters, digits, '.', '-', '_', '/', '#')"
        ))
    }
}

impl fmt::Display for LogGroupUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "logs://{}", self.name)
    }
}

/// The filter pattern that keeps a question's KMS events: CloudWatch Logs
/// applies it before paging, so pages carry nothing kmstop would drop.
/// Values come from flags already checked to be account ids and region
/// names, so they cannot break out of their quotes.
#[must_use]
pub fn filter_pattern(selection: &Selection) -> String {
    let mut terms = vec![format!("($.eventSource = \"{KMS_EVENT_SOURCE}\")")];
    let any_of = |field: &str, values: &[String]| {
        let alternatives: Vec<String> = values
            .iter()
            .map(|v| format!("$.{field} = \"{v}\""))
            .collect();
        format!("({})", alternatives.join(" || "))
    };
    if !selection.accounts.is_empty() {
        terms.push(any_of("recipientAccountId", &selection.accounts));
    }
    if !selection.regions.is_empty() {
        terms.push(any_of("awsRegion", &selection.regions));
    }
    format!("{{ {} }}", terms.join(" && "))
}

/// The milliseconds `FilterLogEvents` should search: log events carry
/// their record's `eventTime`, so the question's range, with a minute's
/// slack each side for clocks; the report trims to the range itself.
#[must_use]
pub fn time_range_ms(selection: &Selection) -> (Option<i64>, Option<i64>) {
    let slack = chrono::Duration::minutes(1);
    (
        selection.since.map(|t| (t - slack).timestamp_millis()),
        selection.until.map(|t| (t + slack).timestamp_millis()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_arns() {
        let url = LogGroupUrl::parse("logs://aws-cloudtrail-logs-1/org").expect("name");
        assert_eq!(url.name, "aws-cloudtrail-logs-1/org");
        assert_eq!(url.region, None);
        assert_eq!(url.to_string(), "logs://aws-cloudtrail-logs-1/org");
        let url =
            LogGroupUrl::parse("logs://arn:aws:logs:eu-west-1:111122223333:log-group:trail:*")
                .expect("arn");
        assert_eq!(url.name, "trail");
        assert_eq!(url.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            url.identifier(),
            "arn:aws:logs:eu-west-1:111122223333:log-group:trail"
        );
    }

    #[test]
    fn refuses_what_cloudwatch_logs_cannot_name() {
        for bad in [
            "logs://",
            "logs://a b",
            "logs://a\u{1b}[2J",
            "logs://a\"b",
            "s3://bucket",
            "logs://arn:aws:logs:eu-west-1:1234:log-group:x",
            "logs://arn:aws:s3:eu-west-1:111122223333:log-group:x",
            "logs://arn:aws:logs:EU:111122223333:log-group:x",
        ] {
            assert!(LogGroupUrl::parse(bad).is_err(), "{bad}");
        }
        let long = format!("logs://{}", "a".repeat(513));
        assert!(LogGroupUrl::parse(&long).is_err());
    }

    #[test]
    fn the_pattern_asks_for_kms_events_of_the_selection() {
        let all = filter_pattern(&Selection::default());
        assert_eq!(all, "{ ($.eventSource = \"kms.amazonaws.com\") }");
        let some = filter_pattern(&Selection {
            accounts: vec!["111122223333".into(), "444455556666".into()],
            regions: vec!["eu-west-1".into()],
            ..Selection::default()
        });
        assert_eq!(
            some,
            "{ ($.eventSource = \"kms.amazonaws.com\") && ($.recipientAccountId = \"111122223333\" || $.recipientAccountId = \"444455556666\") && ($.awsRegion = \"eu-west-1\") }"
        );
    }
}
