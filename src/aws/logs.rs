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

impl LogMessage {
    /// A log event as either call gives it; none without a message.
    fn of(stream: Option<&str>, message: Option<&str>) -> Option<Self> {
        Some(Self {
            stream: stream.unwrap_or_default().to_string(),
            message: message?.to_string(),
        })
    }
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
    /// `--endpoint-url` was given: used as it is, without host prefixes.
    given_endpoint: bool,
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
            given_endpoint: config.endpoint_url().is_some(),
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
            .filter_map(|e| LogMessage::of(e.log_stream_name(), e.message()))
            .collect();
        let next = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        Ok(LogPage { messages, next })
    }
}

/// What one second of a Live Tail session brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TailUpdate {
    pub messages: Vec<LogMessage>,
    /// More than 500 events matched in the second: these are a sample,
    /// and the rest will never come by this path.
    pub sampled: bool,
}

/// A running `StartLiveTail` session: an event stream, one update a
/// second, for at most three hours.
pub struct LiveTail {
    stream: aws_sdk_cloudwatchlogs::primitives::event_stream::EventReceiver<
        aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream,
        aws_sdk_cloudwatchlogs::types::error::StartLiveTailResponseStreamError,
    >,
}

impl LiveTail {
    /// The next update; `None` when the session ended.
    pub async fn next(&mut self) -> Result<Option<TailUpdate>, AwsError> {
        use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata as _;
        use aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream as Answer;
        loop {
            let answer = self.stream.recv().await.map_err(|e| {
                let code = e.code().map(str::to_string);
                let kind = code
                    .as_deref()
                    .map_or(ErrorKind::Network, super::kind_of_code);
                let message = e.message().map_or_else(|| e.to_string(), str::to_string);
                AwsError::new(
                    kind,
                    match code {
                        Some(code) => format!("{code}: {message}"),
                        None => format!("the Live Tail stream broke: {message}"),
                    },
                )
            })?;
            match answer {
                None => return Ok(None),
                Some(Answer::SessionUpdate(update)) => {
                    let messages = update
                        .session_results()
                        .iter()
                        .filter_map(|e| LogMessage::of(e.log_stream_name(), e.message()))
                        .collect();
                    let sampled = update.session_metadata().is_some_and(
                        aws_sdk_cloudwatchlogs::types::LiveTailSessionMetadata::sampled,
                    );
                    return Ok(Some(TailUpdate { messages, sampled }));
                }
                // The session's start, and whatever a newer service sends.
                Some(_) => {}
            }
        }
    }
}

impl LogsReader {
    /// Starts a Live Tail session on this group (named by its ARN, which
    /// `StartLiveTail` requires), with `pattern` applied server-side.
    pub async fn live_tail(&self, pattern: &str) -> Result<LiveTail, AwsError> {
        let call = self
            .client
            .start_live_tail()
            .log_group_identifiers(&self.group)
            .log_event_filter_pattern(pattern);
        let call = if self.given_endpoint {
            call.customize().interceptor(NoHostPrefix)
        } else {
            call.customize()
        };
        let out = call.send().await.map_err(|e| AwsError::from_sdk(&e))?;
        Ok(LiveTail {
            stream: out.response_stream,
        })
    }
}

/// `StartLiveTail` goes to `stream-` + the endpoint's host; an endpoint
/// given by `--endpoint-url` (the simulator, a proxy) is used as given.
#[derive(Debug)]
struct NoHostPrefix;

impl aws_smithy_runtime_api::client::interceptors::Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "kmstop::NoHostPrefix"
    }

    fn modify_before_retry_loop(
        &self,
        _context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        cfg.interceptor_state()
            .unset::<aws_smithy_runtime_api::client::endpoint::EndpointPrefix>();
        Ok(())
    }
}
