//! Spike detection: is this group's count in the current window far above
//! its own recent past?
//!
//! # Method: EWMA of bucket counts
//!
//! Each group keeps the current `window` as [`BUCKETS`] event-time buckets
//! and one number for its past: an exponentially weighted moving average
//! of the buckets that have *left* the window (empty buckets count as
//! zeros). The baseline for a window is that average times [`BUCKETS`]. An
//! event is a spike when, counting it,
//!
//! ```text
//! count(window) >= minimum  and  count(window) >= factor * baseline
//! ```
//!
//! A group with no history has a baseline of zero, so a burst of at least
//! `minimum` is a spike on its own.
//!
//! The smoothing is `alpha = 2 / (N + 1)` with `N` the buckets in
//! `baseline`, i.e. the average's centre of mass lies about half the
//! baseline back.
//!
//! Why EWMA rather than median/MAD:
//! - **Memory.** O(1) per group (one float, ten small counters), however
//!   long the baseline. Median/MAD needs every bucket of the baseline kept
//!   per group (an hour of 30 s buckets is 120 counters), and the engine
//!   tracks up to thousands of principals, keys and source IPs per rule.
//! - **Gaps cost nothing.** A group idle for `k` buckets decays in closed
//!   form (`(1 - alpha)^k`), so an idle principal costs no work.
//! - **The firing test is a ratio, not a z-score.** `factor × baseline`
//!   needs a level, not a spread, and with the mostly-zero bucket series
//!   of denied calls a median is zero (every small clump would be a
//!   "spike") while the mean keeps the rate of background noise.
//! - **Slow growth is tracked.** The average lags a ramp by about half the
//!   baseline; growth that doubles in an hour gives a ratio near 1.5 —
//!   far below any useful factor.
//!
//! The cost is robustness: a past burst raises the average for a while
//! (it decays by `e^-2` over one baseline), so a second burst right after
//! the first needs to be larger to count. For an alert that is already
//! firing that is the wanted behaviour: a burst that goes on becomes the
//! new normal and the alert resolves.
//!
//! Everything is driven by event time in milliseconds; nothing here reads
//! the clock. Late events land in their bucket while it is still inside
//! the window and are otherwise ignored. Groups, their caps and idle
//! eviction are the engine's (`state::GroupMap`): a group idle for
//! [`SpikeConfig::idle_ms`] has a baseline that decayed to noise and is
//! dropped.

use chrono::Duration;

/// Buckets per window: the window slides in steps of a tenth of itself.
pub const BUCKETS: usize = 10;
/// [`BUCKETS`] for bucket-number arithmetic.
const SPAN: i64 = 10;

/// The ring slot of a bucket number.
fn slot(bucket: i64) -> usize {
    usize::try_from(bucket.rem_euclid(SPAN)).unwrap_or(0)
}

/// A count as a float; counts here are far below 2^52.
fn float(n: u64) -> f64 {
    u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
}

/// The shortest bucket: one second.
const MIN_BUCKET_MS: i64 = 1_000;

/// Parameters of one spike rule, in the units the detector works in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeConfig {
    bucket_ms: i64,
    alpha: f64,
    factor: f64,
    minimum: u64,
    idle_ms: i64,
}

impl SpikeConfig {
    /// `window`: what is counted now; `baseline`: how far back the past
    /// reaches; a spike is at least `minimum` events and `factor` times
    /// the baseline. Spans shorter than a bucket are raised to one.
    #[must_use]
    pub fn new(window: Duration, baseline: Duration, factor: f64, minimum: u64) -> Self {
        let window_ms = window.num_milliseconds().max(MIN_BUCKET_MS * SPAN);
        let bucket_ms = (window_ms / SPAN).max(MIN_BUCKET_MS);
        let baseline_ms = baseline.num_milliseconds().max(bucket_ms);
        let n = float(u64::try_from(baseline_ms / bucket_ms).unwrap_or(1).max(1));
        Self {
            bucket_ms,
            alpha: 2.0 / (n + 1.0),
            factor: if factor.is_finite() {
                factor.max(0.0)
            } else {
                1.0
            },
            minimum: minimum.max(1),
            idle_ms: bucket_ms * SPAN + 2 * baseline_ms,
        }
    }

    /// How long a group may go without events before its state is
    /// worthless (window plus two baselines: the average has decayed to
    /// under 2 %).
    #[must_use]
    pub fn idle_ms(&self) -> i64 {
        self.idle_ms
    }

    #[must_use]
    pub fn bucket_ms(&self) -> i64 {
        self.bucket_ms
    }

    /// The average's smoothing: each bucket that leaves the window weighs
    /// `alpha`, the past `1 - alpha`.
    #[must_use]
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    #[must_use]
    pub fn factor(&self) -> f64 {
        self.factor
    }
}

/// What one event made of its group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// Events in the current window, this one included.
    pub count: u64,
    /// Expected events per window from the recent past.
    pub baseline: f64,
    pub spike: bool,
}

/// One group's past and present.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeState {
    /// Bucket number (time / bucket) of the newest bucket.
    head: i64,
    counts: [u32; BUCKETS],
    /// Average events per bucket over the buckets that left the window.
    ewma: f64,
}

impl SpikeState {
    /// A group first seen at `time_ms`: no history.
    #[must_use]
    pub fn new(cfg: &SpikeConfig, time_ms: i64) -> Self {
        Self {
            head: time_ms.div_euclid(cfg.bucket_ms),
            counts: [0; BUCKETS],
            ewma: 0.0,
        }
    }

    /// Counts an event at `time_ms` and judges the window.
    pub fn observe(&mut self, cfg: &SpikeConfig, time_ms: i64) -> Verdict {
        self.observe_many(cfg, time_ms, 1)
    }

    /// Counts `n` events of one bucket at once, judged as the last of
    /// them would be: the state depends on bucket counts only, so this is
    /// the state `n` calls of [`SpikeState::observe`] leave.
    pub fn observe_many(&mut self, cfg: &SpikeConfig, time_ms: i64, n: u64) -> Verdict {
        let bucket = time_ms.div_euclid(cfg.bucket_ms);
        self.advance(cfg, bucket);
        let late = self.head - bucket >= SPAN;
        if !late {
            let c = &mut self.counts[slot(bucket)];
            *c = c.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        }
        let count = self.window_count();
        let baseline = self.baseline();
        Verdict {
            count,
            baseline,
            spike: !late && count >= cfg.minimum && float(count) >= cfg.factor * baseline,
        }
    }

    /// Events in the current window.
    #[must_use]
    pub fn window_count(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }

    /// Expected events per window.
    #[must_use]
    pub fn baseline(&self) -> f64 {
        self.ewma * float(SPAN.unsigned_abs())
    }

    /// Moves the window so that `bucket` is inside it: every bucket that
    /// leaves feeds the average, and a long gap decays it in one step.
    fn advance(&mut self, cfg: &SpikeConfig, bucket: i64) {
        let steps = bucket - self.head;
        if steps <= 0 {
            return;
        }
        let keep = 1.0 - cfg.alpha;
        let leaving = steps.min(SPAN);
        for b in self.head + 1..=self.head + leaving {
            // Bucket `b` reuses the slot of bucket `b - BUCKETS`, which leaves.
            let c = &mut self.counts[slot(b)];
            self.ewma = keep * self.ewma + cfg.alpha * f64::from(*c);
            *c = 0;
        }
        let idle = steps - leaving;
        if idle > 0 {
            // Each idle bucket is a zero observation.
            self.ewma *= keep.powi(i32::try_from(idle).unwrap_or(i32::MAX));
        }
        self.head = bucket;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SpikeConfig {
        // 5-minute window (30 s buckets), 1 h baseline, ×5, at least 20.
        SpikeConfig::new(Duration::minutes(5), Duration::hours(1), 5.0, 20)
    }

    const MIN: i64 = 60_000;

    #[test]
    fn a_burst_without_history_is_a_spike_at_the_minimum() {
        let c = cfg();
        let mut s = SpikeState::new(&c, 0);
        let verdicts: Vec<Verdict> = (0..25).map(|i| s.observe(&c, i * 1_000)).collect();
        assert!(verdicts[..19].iter().all(|v| !v.spike));
        assert!(verdicts[19].spike, "{:?}", verdicts[19]);
        assert_eq!(verdicts[19].count, 20);
    }

    #[test]
    fn steady_noise_is_not_a_spike() {
        let c = cfg();
        let mut s = SpikeState::new(&c, 0);
        // Ten a minute for a day: 50 a window, well above the minimum.
        let mut fired_after_warmup = 0;
        for i in 0..(24 * 60 * 10) {
            let v = s.observe(&c, i * 6_000);
            if v.spike && i > 10 * 60 {
                fired_after_warmup += 1;
            }
        }
        assert_eq!(fired_after_warmup, 0);
        let b = s.baseline();
        assert!((b - 50.0).abs() < 5.0, "baseline {b}");
    }

    #[test]
    fn a_burst_over_noise_is_a_spike() {
        let c = cfg();
        let mut s = SpikeState::new(&c, 0);
        let mut t = 0;
        for _ in 0..600 {
            s.observe(&c, t);
            t += 6_000; // ten a minute: 50 a window
        }
        let spikes = (0..300)
            .map(|i| s.observe(&c, t + i * 100))
            .filter(|v| v.spike)
            .count();
        assert!(spikes > 0);
    }

    #[test]
    fn idle_gaps_decay_the_baseline() {
        let c = cfg();
        let mut s = SpikeState::new(&c, 0);
        for i in 0..1000 {
            s.observe(&c, i * 1_000);
        }
        let before = s.baseline();
        s.observe(&c, 1000 * 1_000 + 3 * 60 * MIN);
        assert!(
            s.baseline() < before / 100.0,
            "{before} -> {}",
            s.baseline()
        );
    }

    #[test]
    fn late_events_land_in_their_bucket_or_are_ignored() {
        let c = cfg();
        let mut s = SpikeState::new(&c, 10 * MIN);
        s.observe(&c, 10 * MIN);
        assert_eq!(s.observe(&c, 8 * MIN).count, 2);
        let v = s.observe(&c, 2 * MIN);
        assert_eq!(v.count, 2);
        assert!(!v.spike);
    }

    #[test]
    fn many_at_once_leave_the_state_one_by_one_leaves() {
        let c = cfg();
        let (mut one, mut many) = (SpikeState::new(&c, 0), SpikeState::new(&c, 0));
        for (bucket, n) in [(0, 3), (1, 0), (4, 7), (30, 2), (200, 25)] {
            let at = bucket * c.bucket_ms() + 5;
            for _ in 0..n {
                one.observe(&c, at);
            }
            if n > 0 {
                many.observe_many(&c, at, n);
            }
            assert_eq!(one, many);
        }
    }

    #[test]
    fn degenerate_parameters_are_tamed() {
        let c = SpikeConfig::new(Duration::zero(), Duration::zero(), f64::NAN, 0);
        assert_eq!(c.bucket_ms(), MIN_BUCKET_MS);
        let mut s = SpikeState::new(&c, 0);
        assert!(s.observe(&c, 0).spike);
    }
}
