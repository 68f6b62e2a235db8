//! The only place kmstop reads the wall clock. Everything else takes `now`
//! as an argument, so tests drive time exactly.

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned read
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that says what it is told: for tests and replays.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A clock tests move by hand; shared between threads (a simulator and
/// the test driving it).
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    #[must_use]
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(now))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Time that runs `speed` times faster than `base` from `origin` on: the
/// demo's `--speed`, so a day of simulated traffic plays in minutes.
pub struct ScaledClock {
    base: std::sync::Arc<dyn Clock>,
    base_start: DateTime<Utc>,
    origin: DateTime<Utc>,
    speed: f64,
}

impl ScaledClock {
    /// Simulated time is `origin` now and advances `speed` seconds per
    /// second of `base` (a non-finite or negative speed counts as 1).
    #[must_use]
    pub fn new(base: std::sync::Arc<dyn Clock>, origin: DateTime<Utc>, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed >= 0.0 {
            speed
        } else {
            1.0
        };
        Self {
            base_start: base.now(),
            base,
            origin,
            speed,
        }
    }
}

/// `base` itself at speed 1, else a [`ScaledClock`] from `base`'s now:
/// the demo's and the simulator's `--speed`.
#[must_use]
pub fn at_speed(base: &std::sync::Arc<dyn Clock>, speed: f64) -> std::sync::Arc<dyn Clock> {
    if (speed - 1.0).abs() < f64::EPSILON {
        return std::sync::Arc::clone(base);
    }
    let origin = base.now();
    std::sync::Arc::new(ScaledClock::new(std::sync::Arc::clone(base), origin, speed))
}

impl std::fmt::Debug for ScaledClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScaledClock")
            .field("origin", &self.origin)
            .field("speed", &self.speed)
            .finish_non_exhaustive()
    }
}

impl Clock for ScaledClock {
    #[allow(clippy::cast_precision_loss)] // microseconds of a run fit f64 exactly
    fn now(&self) -> DateTime<Utc> {
        let real = (self.base.now() - self.base_start)
            .num_microseconds()
            .unwrap_or(i64::MAX);
        let scaled = (real as f64 * self.speed).clamp(i64::MIN as f64, i64::MAX as f64);
        self.origin + chrono::Duration::microseconds(scaled as i64)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn scaled_clock_runs_faster_from_its_origin() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("time");
        let base = Arc::new(ManualClock::new(t0));
        let origin: DateTime<Utc> = "2025-06-01T12:00:00Z".parse().expect("time");
        let clock = ScaledClock::new(base.clone(), origin, 60.0);
        assert_eq!(clock.now(), origin);
        base.advance(chrono::Duration::seconds(2));
        assert_eq!(clock.now(), origin + chrono::Duration::minutes(2));
    }
}
