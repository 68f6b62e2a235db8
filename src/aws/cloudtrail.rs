//! CloudTrail reads: `LookupEvents` for KMS events (and for one event by
//! its id, the dashboard's drill-down), and the trail calls
//! `doctor` uses to see whether trails drop KMS events.

use aws_config::SdkConfig;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, Utc};

use super::answer_limit::AnswerLimit;
use super::error::{AwsError, ErrorKind};
use super::time::{from_smithy, to_smithy};

/// The event source kmstop asks LookupEvents for: its only lookup attribute.
pub const KMS_EVENT_SOURCE: &str = "kms.amazonaws.com";
/// LookupEvents' page size limit.
pub const PAGE_SIZE: i32 = 50;

/// A time window as LookupEvents takes it (both ends inclusive). A scan
/// freezes its window while paging: a `NextToken` is only valid with the
/// identical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LookupWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One result of LookupEvents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookedUp {
    pub event_id: String,
    pub event_time: Option<DateTime<Utc>>,
    /// The full CloudTrail record, as a JSON string.
    pub record: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupPage {
    pub events: Vec<LookedUp>,
    pub next_token: Option<String>,
}

/// What `DescribeTrails` + `GetEventSelectors` say about one trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailInfo {
    pub name: String,
    pub arn: Option<String>,
    pub home_region: Option<String>,
    pub multi_region: bool,
    pub organization: bool,
    /// Where it delivers its files.
    pub s3_bucket: Option<String>,
    pub s3_prefix: Option<String>,
    /// The CloudWatch Logs log group it also sends to, if any (its ARN,
    /// without the `:*` CloudTrail adds).
    pub log_group_arn: Option<String>,
}

/// CloudTrail for one account × region. Its SDK retries are off: the
/// poller retries itself, through its pacer, so every attempt is paced and
/// counted and a page is never skipped.
#[derive(Debug, Clone)]
pub struct CloudTrailReader {
    client: aws_sdk_cloudtrail::Client,
}

impl CloudTrailReader {
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let conf = aws_sdk_cloudtrail::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .retry_config(RetryConfig::disabled())
            .interceptor(AnswerLimit)
            .build();
        Self {
            client: aws_sdk_cloudtrail::Client::from_conf(conf),
        }
    }

    /// A reader over a client built elsewhere (tests with mocked answers).
    #[cfg(test)]
    pub(crate) fn from_client(client: aws_sdk_cloudtrail::Client) -> Self {
        Self { client }
    }

    /// One page of KMS events in `window`, newest first.
    pub async fn lookup_kms_page(
        &self,
        window: LookupWindow,
        next_token: Option<&str>,
    ) -> Result<LookupPage, AwsError> {
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventSource)
            .attribute_value(KMS_EVENT_SOURCE)
            .build()
            .map_err(|e| AwsError::new(ErrorKind::Other, e.to_string()))?;
        let out = self
            .client
            .lookup_events()
            .lookup_attributes(attribute)
            .start_time(to_smithy(window.start))
            .end_time(to_smithy(window.end))
            .max_results(PAGE_SIZE)
            .set_next_token(next_token.map(str::to_string))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        let events = out
            .events()
            .iter()
            .map(|e| LookedUp {
                event_id: e.event_id().unwrap_or_default().to_string(),
                event_time: e.event_time().and_then(from_smithy),
                record: e.cloud_trail_event().map(str::to_string),
            })
            .collect();
        Ok(LookupPage {
            events,
            next_token: out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        })
    }

    /// The event with this id, as LookupEvents has it (`None`: it has no
    /// such event: never, or more than 90 days ago). A few pages at most:
    /// an id names one event, but an answer may come empty with a token.
    pub async fn lookup_event(&self, event_id: &str) -> Result<Option<LookedUp>, AwsError> {
        const PAGES: usize = 3;
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventId)
            .attribute_value(event_id)
            .build()
            .map_err(|e| AwsError::new(ErrorKind::Other, e.to_string()))?;
        let mut token = None;
        for _ in 0..PAGES {
            let out = self
                .client
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
            let events = out.events();
            let named = events.iter().find(|e| e.event_id() == Some(event_id));
            if let Some(e) = named.or(events.first()) {
                return Ok(Some(LookedUp {
                    event_id: e.event_id().unwrap_or_default().to_string(),
                    event_time: e.event_time().and_then(from_smithy),
                    record: e.cloud_trail_event().map(str::to_string),
                }));
            }
            token = out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(None)
    }

    /// The trails visible from this region (shadow trails of other regions
    /// included, as the AWS CLI shows them).
    pub async fn describe_trails(&self) -> Result<Vec<TrailInfo>, AwsError> {
        let out = self
            .client
            .describe_trails()
            .include_shadow_trails(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        Ok(out
            .trail_list()
            .iter()
            .map(|t| TrailInfo {
                name: t.name().unwrap_or_default().to_string(),
                arn: t.trail_arn().map(str::to_string),
                home_region: t.home_region().map(str::to_string),
                multi_region: t.is_multi_region_trail().unwrap_or(false),
                organization: t.is_organization_trail().unwrap_or(false),
                s3_bucket: t.s3_bucket_name().map(str::to_string),
                s3_prefix: t.s3_key_prefix().map(str::to_string),
                log_group_arn: t
                    .cloud_watch_logs_log_group_arn()
                    .map(|arn| arn.strip_suffix(":*").unwrap_or(arn).to_string()),
            })
            .collect())
    }

    /// Whether the trail's selectors leave KMS events out (basic selectors
    /// with `ExcludeManagementEventSources`, or advanced ones that filter
    /// `eventSource` away from KMS or drop management events).
    pub async fn trail_excludes_kms(&self, trail: &str) -> Result<bool, AwsError> {
        let out = self
            .client
            .get_event_selectors()
            .trail_name(trail)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        let basic = out.event_selectors();
        if !basic.is_empty() {
            let logs_kms = basic.iter().any(|s| {
                s.include_management_events().unwrap_or(true)
                    && !s
                        .exclude_management_event_sources()
                        .iter()
                        .any(|src| src == KMS_EVENT_SOURCE)
            });
            return Ok(!logs_kms);
        }
        let advanced = out.advanced_event_selectors();
        if advanced.is_empty() {
            // No selectors at all: the default logs every management event.
            return Ok(false);
        }
        Ok(!advanced.iter().any(advanced_selector_logs_kms))
    }
}

/// An advanced selector logs KMS events when it selects the Management
/// category and none of its `eventSource` conditions leave KMS out.
fn advanced_selector_logs_kms(selector: &aws_sdk_cloudtrail::types::AdvancedEventSelector) -> bool {
    let fields = selector.field_selectors();
    let management = fields
        .iter()
        .any(|f| f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management"));
    let kms_dropped = fields.iter().any(|f| {
        f.field() == "eventSource"
            && (f.not_equals().iter().any(|v| v == KMS_EVENT_SOURCE)
                || (!f.equals().is_empty() && !f.equals().iter().any(|v| v == KMS_EVENT_SOURCE)))
    });
    management && !kms_dropped
}
