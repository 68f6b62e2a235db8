//! How late CloudTrail makes events visible to LookupEvents in one account
//! × region, learned from what the poller sees: for each event first
//! delivered, the time it was first read minus its `eventTime`.
//!
//! A first read is at most a poll interval after the event became visible,
//! so the learned delays are upper bounds: the reach they give the
//! freshness re-reads is generous and the completeness they estimate errs
//! low, never high.

use std::collections::VecDeque;

use chrono::Duration;

/// The last this many delays are kept: about a minute of a busy account,
/// many minutes of a quiet one.
const SAMPLES: usize = 4096;
/// Below this many samples the prior decides.
const MIN_SAMPLES: usize = 64;
/// Longest delay recorded: later events are found by the backstop
/// re-reads, and a stale data time must not widen the reach without end.
const MAX_DELAY_SECS: u16 = 1800;

#[derive(Debug, Clone)]
pub struct DelayModel {
    /// Delays in whole seconds, oldest first.
    recent: VecDeque<u16>,
    /// Used until enough delays are seen.
    prior_reach: Duration,
    /// The freshness re-reads reach at least this far back...
    min_reach: Duration,
    /// ...and at most this far (the backstop re-reads take the rest).
    max_reach: Duration,
}

impl DelayModel {
    pub fn new(prior_reach: Duration, min_reach: Duration, max_reach: Duration) -> Self {
        Self {
            recent: VecDeque::with_capacity(SAMPLES),
            prior_reach,
            min_reach,
            max_reach: max_reach.max(min_reach),
        }
    }

    /// Records one event's delay (negative ones, from skewed clocks, as 0).
    pub fn observe(&mut self, delay: Duration) {
        let secs = delay.num_seconds().clamp(0, i64::from(MAX_DELAY_SECS));
        if self.recent.len() == SAMPLES {
            self.recent.pop_front();
        }
        self.recent
            .push_back(u16::try_from(secs).unwrap_or(MAX_DELAY_SECS));
    }

    pub fn samples(&self) -> usize {
        self.recent.len()
    }

    fn sorted(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self.recent.iter().copied().collect();
        v.sort_unstable();
        v
    }

    /// The delay `q` (0–1) of the events seen, `None` before enough are.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.recent.len() < MIN_SAMPLES {
            return None;
        }
        let v = self.sorted();
        Some(Duration::seconds(i64::from(v[rank(v.len(), q)])))
    }

    /// How far back the freshness re-reads must look to find 99 % of
    /// events as soon as they are visible: the 99th percentile delay plus a
    /// margin, within bounds.
    pub fn reach(&self) -> Duration {
        let learned = self
            .quantile(0.99)
            .map_or(self.prior_reach, |q| q + q / 4 + Duration::seconds(10));
        learned.clamp(self.min_reach, self.max_reach)
    }

    /// The delays at the percentiles 0, 1, …, 100 (101 values), for a
    /// consumer that needs the shares at its own time (see
    /// `feed::expected_in`). `None` before enough delays are seen.
    pub fn percentiles(&self) -> Option<Vec<u16>> {
        if self.recent.len() < MIN_SAMPLES {
            return None;
        }
        let v = self.sorted();
        Some(
            (0..=100)
                .map(|p| v[rank(v.len(), f64::from(p) / 100.0)])
                .collect(),
        )
    }

    /// The share (0–1) of the events of the last `span` that are expected
    /// to be visible already, if they came at an even rate: the mean over
    /// ages 0..span of the share of delays up to that age. `None` before
    /// enough delays are seen.
    // Counts and seconds are far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    pub fn expected_in(&self, span: Duration) -> Option<f64> {
        if self.recent.len() < MIN_SAMPLES {
            return None;
        }
        let span = span.num_seconds().max(1);
        let v = self.sorted();
        let n = v.len() as f64;
        let mut below = 0usize;
        let mut sum = 0.0;
        for age in 0..span {
            while below < v.len() && i64::from(v[below]) <= age {
                below += 1;
            }
            sum += below as f64 / n;
        }
        Some(sum / span as f64)
    }
}

// q is in 0..=1 and len is small: the rank fits.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn rank(len: usize, q: f64) -> usize {
    let r = (q.clamp(0.0, 1.0) * (len - 1) as f64).round() as usize;
    r.min(len - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> DelayModel {
        DelayModel::new(
            Duration::minutes(2),
            Duration::seconds(30),
            Duration::minutes(5),
        )
    }

    #[test]
    fn the_prior_decides_until_enough_delays_are_seen() {
        let mut m = model();
        for _ in 0..MIN_SAMPLES - 1 {
            m.observe(Duration::seconds(3));
        }
        assert_eq!(m.reach(), Duration::minutes(2));
        assert_eq!(m.expected_in(Duration::minutes(5)), None);
        m.observe(Duration::seconds(3));
        assert_eq!(m.reach(), Duration::seconds(30), "3 s delays: the floor");
    }

    #[test]
    fn the_reach_follows_the_slowest_percent_within_bounds() {
        let mut m = model();
        for i in 0..1000 {
            m.observe(Duration::seconds(if i % 100 < 98 { 5 } else { 80 }));
        }
        // p99 = 80 s, plus a quarter and 10 s.
        assert_eq!(m.reach(), Duration::seconds(110));
        for _ in 0..SAMPLES {
            m.observe(Duration::days(3));
        }
        assert_eq!(m.reach(), Duration::minutes(5), "capped");
        for _ in 0..SAMPLES {
            m.observe(Duration::seconds(-40));
        }
        assert_eq!(
            m.quantile(0.5),
            Some(Duration::zero()),
            "skew is 0, not negative"
        );
    }

    #[test]
    fn completeness_is_the_mean_visible_share_over_the_span() {
        let mut m = model();
        for _ in 0..100 {
            m.observe(Duration::seconds(10));
        }
        // Ages 0..9 s hold nothing visible, 10..59 s everything: 50/60.
        let c = m
            .expected_in(Duration::seconds(60))
            .expect("enough delays seen");
        assert!((c - 50.0 / 60.0).abs() < 1e-9, "{c}");
        let c5 = m
            .expected_in(Duration::minutes(5))
            .expect("enough delays seen");
        assert!((c5 - 290.0 / 300.0).abs() < 1e-9, "{c5}");
    }
}
