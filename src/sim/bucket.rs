//! A token bucket timed by the injected clock: LookupEvents' 2 requests/s
//! per region, KMS's looser per-region quota. A frozen clock never refills
//! it, so tests on a fixed clock turn the limit off instead.

use chrono::{DateTime, Utc};

/// A rate limit: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    /// CloudTrail `LookupEvents`: 2 requests/s per account and region.
    pub const LOOKUP_EVENTS: Rate = Rate {
        per_second: 2.0,
        burst: 2.0,
    };
    /// CloudWatch Logs `FilterLogEvents`: 5 requests/s per account and
    /// region.
    pub const FILTER_LOG_EVENTS: Rate = Rate {
        per_second: 5.0,
        burst: 5.0,
    };
    /// KMS read calls: a shared, generous quota (AWS's are 100s/s).
    pub const KMS: Rate = Rate {
        per_second: 100.0,
        burst: 100.0,
    };
    /// KMS `GetKeyLastUsage`: a low quota of its own ("a few per second"),
    /// on top of the shared one.
    pub const KMS_LAST_USAGE: Rate = Rate {
        per_second: 5.0,
        burst: 5.0,
    };
}

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: Rate,
    tokens: f64,
    last: Option<DateTime<Utc>>,
}

impl TokenBucket {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            tokens: rate.burst,
            last: None,
        }
    }

    /// Takes one token at `now`; false when the bucket is empty (throttle).
    /// Time going backwards refills nothing.
    #[allow(clippy::cast_precision_loss)]
    pub fn try_take(&mut self, now: DateTime<Utc>) -> bool {
        if let Some(last) = self.last {
            let micros = (now - last).num_microseconds().unwrap_or(i64::MAX).max(0);
            let refill = micros as f64 / 1e6 * self.rate.per_second;
            self.tokens = (self.tokens + refill).min(self.rate.burst);
        }
        if self.last.is_none_or(|last| now > last) {
            self.last = Some(now);
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn two_per_second_with_a_burst_of_two() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("time");
        let mut b = TokenBucket::new(Rate::LOOKUP_EVENTS);
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0));
        assert!(!b.try_take(t0 + Duration::milliseconds(400)));
        assert!(b.try_take(t0 + Duration::milliseconds(500)));
        assert!(!b.try_take(t0 + Duration::milliseconds(600)));
        // A long pause refills only up to the burst.
        let later = t0 + Duration::seconds(60);
        assert!(b.try_take(later));
        assert!(b.try_take(later));
        assert!(!b.try_take(later));
        // Time going backwards neither refills nor breaks the bucket.
        assert!(!b.try_take(t0));
        // Sustained: 20 s of requests every 100 ms pass about 2/s.
        let passed = (1..=200)
            .filter(|i| b.try_take(later + Duration::milliseconds(100 * i)))
            .count();
        assert!((40..=41).contains(&passed), "{passed}");
    }
}
