//! CloudWatch Logs reads of a trail's log group: `FilterLogEvents` for
//! history — the one call `logs:FilterLogEvents` allows, and nothing else.

use aws_config::SdkConfig;

use super::answer_limit::AnswerLimit;
use super::error::{AwsError, ErrorKind};

/// What to search: the filter pattern and the milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterRequest<'a> {
    pub pattern: &'a str,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub next: Option<&'a str>,
}

/// One log event: a trail's log event holds one CloudTrail record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    pub stream: String,
    pub message: String,
}

/// One page of `FilterLogEvents`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPage {
    pub messages: Vec<LogMessage>,
    /// Pass back as `next` for the following page; `None` at the end.
    pub next: Option<String>,
}

/// One log group, reached in its own region. The SDK's retries stay on
/// (standard, 3 attempts, backing off on `ThrottlingException`).
#[derive(Debug, Clone)]
pub struct LogsReader {
    client: aws_sdk_cloudwatchlogs::Client,
    group: String,
}

impl LogsReader {
    /// A reader of the group `identifier` (a name, or an ARN), in `region`
    /// when given, else the configuration's.
    pub fn new(config: &SdkConfig, identifier: &str, region: Option<&str>) -> Self {
        let mut conf = aws_sdk_cloudwatchlogs::config::Builder::from(config);
        if let Some(region) = region {
            conf = conf.region(aws_config::Region::new(region.to_string()));
        }
        Self {
            client: aws_sdk_cloudwatchlogs::Client::from_conf(conf.build()),
            group: identifier.to_string(),
        }
    }

    /// One page of `FilterLogEvents` (at most 10,000 events or 1 MB).
    pub async fn filter_page(&self, request: FilterRequest<'_>) -> Result<LogPage, AwsError> {
        let call = self
            .client
            .filter_log_events()
            .set_start_time(request.start_ms)
            .set_end_time(request.end_ms)
            .filter_pattern(request.pattern)
            .set_next_token(request.next.map(str::to_string));
        // A name goes as `logGroupName`, which every endpoint knows; an
        // ARN needs `logGroupIdentifier`.
        let call = if self.group.starts_with("arn:") {
            call.log_group_identifier(&self.group)
        } else {
            call.log_group_name(&self.group)
        };
        let out = call
            .customize()
            .interceptor(AnswerLimit)
            .send()
            .await
            .map_err(|e| {
                let error = AwsError::from_sdk(&e);
                if error.kind == ErrorKind::NotFound {
                    AwsError::new(
                        ErrorKind::NotFound,
                        format!(
                            "log group {} does not exist (ResourceNotFoundException)",
                            self.group
                        ),
                    )
                } else {
                    error
                }
            })?;
        let messages = out
            .events()
            .iter()
            .filter_map(|e| {
                Some(LogMessage {
                    stream: e.log_stream_name().unwrap_or_default().to_string(),
                    message: e.message()?.to_string(),
                })
            })
            .collect();
        let next = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        Ok(LogPage { messages, next })
    }
}
