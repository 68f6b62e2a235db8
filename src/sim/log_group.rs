//! The simulated trail as CloudTrail delivers it to CloudWatch Logs: one
//! log group per account in the home region, one stream per region
//! (`<account>_CloudTrail_<region>`), one log event per record (the same
//! compact JSON the trail's S3 objects hold), ingested `lag` after its
//! `eventTime`. Events come from [`Events`], as the S3 objects' do: the
//! group is a view, not a copy.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::events::Events;
use super::traffic::SimEvent;

/// One log event of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Index of the region, which is the stream.
    pub region: usize,
    /// The record's `eventID`: unique, and in string order within a second.
    pub id: String,
    /// Milliseconds: the record's `eventTime`.
    pub timestamp: i64,
    pub ingestion: i64,
}

impl LogEvent {
    /// CloudWatch's `eventId`: 56 digits, unique per event (the time, then
    /// the record's UUID as a number).
    pub fn event_id(&self) -> String {
        let hex: String = self.id.chars().filter(char::is_ascii_hexdigit).collect();
        let n = u128::from_str_radix(&hex, 16)
            .unwrap_or_else(|_| u128::from(super::token::fingerprint(&[&self.id])));
        format!("{:017}{n:039}", self.timestamp.max(0))
    }
}

pub struct LogGroup {
    pub events: Arc<Events>,
    pub lag: Duration,
    pub name: String,
    pub arn: String,
    /// Where the group lives: the trail's home region.
    pub home: String,
}

impl LogGroup {
    pub fn new(events: Arc<Events>, lag: Duration) -> Self {
        let w = &events.traffic.world;
        let home = w
            .regions
            .first()
            .cloned()
            .unwrap_or_else(|| super::DEFAULT_REGION.to_string());
        let name = Self::name_for(&w.account);
        let arn = format!("arn:aws:logs:{home}:{}:log-group:{name}", w.account);
        Self {
            events,
            lag,
            name,
            arn,
            home,
        }
    }

    /// The group's name for `account`, as the CloudTrail console creates it.
    pub fn name_for(account: &str) -> String {
        format!("aws-cloudtrail-logs-{account}")
    }

    /// The ARN as `DescribeTrails` reports it (`:*` for all streams).
    pub fn trail_arn(&self) -> String {
        format!("{}:*", self.arn)
    }

    pub fn stream_name(&self, region: usize) -> String {
        let w = &self.events.traffic.world;
        let name = w.regions.get(region).map_or("", String::as_str);
        format!("{}_CloudTrail_{name}", w.account)
    }

    pub fn streams(&self) -> usize {
        self.events.traffic.world.regions.len()
    }

    /// Whether `identifier` (a name, or an ARN with or without `:*`) is
    /// this group, asked in `region`.
    pub fn is_named(&self, identifier: &str, region: &str) -> bool {
        region == self.home
            && (identifier == self.name
                || identifier == self.arn
                || identifier.strip_suffix(":*") == Some(self.arn.as_str()))
    }

    fn lag_ms(&self) -> i64 {
        self.lag.num_milliseconds().max(0)
    }

    /// The newest second whose events are ingested by `now`.
    pub fn newest_second(&self, now: DateTime<Utc>) -> i64 {
        (now.timestamp_millis() - self.lag_ms()).div_euclid(1000)
    }

    /// The first second whose events are ingested after `at`.
    pub fn first_second_after(&self, at: DateTime<Utc>) -> i64 {
        self.newest_second(at) + 1
    }

    /// The first second with events.
    pub fn first_second(&self) -> i64 {
        self.events.traffic.first
    }

    /// The events of second `s` in the streams `regions` (ascending), in
    /// [`LogEvent::key`] order, each with what renders its message.
    /// Visibility is the caller's: the whole second is ingested at once.
    pub fn second(&self, s: i64, regions: &[usize]) -> Vec<(LogEvent, SimEvent)> {
        if self.events.traffic.world.trail.excludes_kms {
            return Vec::new();
        }
        let timestamp = s.saturating_mul(1000);
        let mut out = Vec::new();
        for &region in regions {
            // `slot` is newest first (id descending).
            for ev in self.events.slot(region, s).into_iter().rev() {
                let log = LogEvent {
                    region,
                    id: ev.id.clone(),
                    timestamp,
                    ingestion: timestamp.saturating_add(self.lag_ms()),
                };
                out.push((log, ev));
            }
        }
        out
    }

    /// The message of a log event: the record the trail's S3 object holds.
    pub fn message(&self, log: &LogEvent, ev: &SimEvent) -> String {
        self.events.render(log.region, ev).json.clone()
    }

    /// The stream indices a request selects: names, a prefix, or all.
    pub fn select_streams(&self, names: Option<&[String]>, prefix: Option<&str>) -> Vec<usize> {
        (0..self.streams())
            .filter(|&r| {
                let name = self.stream_name(r);
                names.is_none_or(|n| n.contains(&name))
                    && prefix.is_none_or(|p| name.starts_with(p))
            })
            .collect()
    }

    /// The event times whose log events are ingested by `now`, both ends
    /// inclusive (the end before the start when none is yet).
    pub fn coverage(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let at = |s: i64| Utc.timestamp_opt(s, 0).single().unwrap_or_default();
        (at(self.first_second()), at(self.newest_second(now)))
    }
}
