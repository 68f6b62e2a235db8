//! A clock for tests on tokio's paused time.

use chrono::{DateTime, Duration, Utc};

use crate::clock::Clock;

/// Wall time that follows tokio's (paused) clock.
pub struct TokioClock {
    pub origin: DateTime<Utc>,
    pub start: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().duration_since(self.start);
        self.origin + Duration::from_std(elapsed).unwrap_or_default()
    }
}
