//! The poller's counters and how they read as a `SourceStatus`: lag,
//! backlog, and — when the account outruns LookupEvents — the share of
//! events seen, measured rather than guessed.

use chrono::{DateTime, Duration, Utc};

use super::plan::{Plan, Scan};
use crate::feed::{Health, SourceId, SourceStatus};

pub struct Stats {
    pub source: SourceId,
    pub health: Health,
    pub events: u64,
    pub requests: u64,
    pub throttles: u64,
    pub errors: u64,
    pub duplicates: u64,
    pub malformed: u64,
    pub own_calls: u64,
    /// Events first found by a re-read: delivered late by CloudTrail.
    pub late_found: u64,
    /// From the delivery delays: the share of the last 5 min / 1 min in.
    pub recent_in: Option<f64>,
    pub minute_in: Option<f64>,
    pub delay_percentiles: Option<std::sync::Arc<[u16]>>,
    pub last_error: Option<String>,
    /// Events per second of event time, from the fresh scans.
    rate: Option<f64>,
    fresh_done: u64,
    last_sent: Option<SourceStatus>,
    last_sent_at: Option<DateTime<Utc>>,
}

impl Stats {
    pub fn new(source: SourceId) -> Self {
        Self {
            source,
            health: Health::Starting,
            events: 0,
            requests: 0,
            throttles: 0,
            errors: 0,
            duplicates: 0,
            malformed: 0,
            own_calls: 0,
            late_found: 0,
            recent_in: None,
            minute_in: None,
            delay_percentiles: None,
            last_error: None,
            rate: None,
            fresh_done: 0,
            last_sent: None,
            last_sent_at: None,
        }
    }

    pub fn successes(&self) -> u64 {
        self.requests - self.throttles - self.errors
    }

    /// Learns the arrival rate from a fresh scan that ended (finished or
    /// cut): the events it returned over the seconds they span.
    // Event counts and seconds are far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    pub fn observe_fresh(&mut self, scan: &Scan, last_page: u64) {
        self.fresh_done += 1;
        let events = scan.events + last_page;
        let from = scan
            .oldest_seen
            .map_or(scan.window.start, |o| o.max(scan.window.start));
        let seconds = ((scan.window.end - from).num_seconds() + 1).max(1) as f64;
        let sample = events as f64 / seconds;
        // Weigh by span: a 5-second window says little on its own.
        let weight = (seconds / 300.0).clamp(0.02, 1.0);
        self.rate = Some(self.rate.map_or(sample, |r| r + weight * (sample - r)));
    }

    pub fn health_after_success(&mut self, plan: &Plan, now: DateTime<Utc>) {
        let lag = now - plan.state.tip;
        let behind = lag > plan.settings.poll_interval * 3 + Duration::seconds(5);
        self.health = if self.fresh_done == 0 {
            Health::Starting
        } else if behind || plan.overloaded() {
            let oldest_cut = plan
                .state
                .gaps
                .iter()
                .filter(|g| !g.backfill)
                .map(|g| g.window.start)
                .min();
            let since = oldest_cut.map_or(plan.state.tip, |t| t.min(plan.state.tip));
            Health::Lagging {
                seconds: (now - since).num_seconds().max(0),
            }
        } else {
            Health::Ok
        };
        self.last_error = None;
    }

    // Estimates only: rounding a backlog to whole events is the point.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_sign_loss,
        clippy::cast_possible_truncation
    )]
    pub fn status(&self, plan: &Plan) -> SourceStatus {
        let rate = self.rate.unwrap_or(0.0);
        let backlog = (rate * plan.unread_seconds() as f64).round().max(0.0) as u64;
        let coverage = plan.overloaded().then(|| {
            let seen = self.events + self.own_calls;
            seen as f64 / (seen + backlog).max(1) as f64
        });
        SourceStatus {
            source: self.source.clone(),
            health: self.health.clone(),
            scanned_to: (self.fresh_done > 0).then(|| plan.state.tip - Duration::seconds(1)),
            backfill_from: plan.oldest_unread(),
            backlog_events: backlog,
            events: self.events,
            own_calls: self.own_calls,
            requests: self.requests,
            throttles: self.throttles,
            errors: self.errors,
            arrival_rate: rate,
            coverage,
            recent_in: self.recent_in,
            minute_in: self.minute_in,
            delay_percentiles: self.delay_percentiles.clone(),
            last_error: self.last_error.clone(),
        }
    }

    /// Whether `status` says something new: counters alone change with
    /// every page, so they are sent at most once a second.
    pub fn changed(&self, status: &SourceStatus) -> bool {
        let Some(last) = &self.last_sent else {
            return true;
        };
        if last.health != status.health
            || last.backfill_from.is_some() != status.backfill_from.is_some()
        {
            return true;
        }
        last != status
            && self
                .last_sent_at
                .is_none_or(|t| status.scanned_to.unwrap_or(t) - t >= Duration::seconds(1))
    }

    pub fn remember(&mut self, status: SourceStatus) {
        self.last_sent_at = status.scanned_to.or(self.last_sent_at);
        self.last_sent = Some(status);
    }
}
