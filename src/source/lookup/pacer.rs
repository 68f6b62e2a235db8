//! One token bucket per account × region: LookupEvents allows 2 requests a
//! second there, shared by every lookup, so every request of that region
//! waits here first — retries included.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A shared pacer; clone the `Arc` to share it.
#[derive(Debug)]
pub struct Pacer {
    per_second: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

impl Pacer {
    /// `per_second` requests a second on average, at most `burst` at once.
    pub fn new(per_second: f64, burst: f64) -> Arc<Self> {
        let burst = burst.max(1.0);
        Arc::new(Self {
            per_second: per_second.max(0.001),
            burst,
            bucket: Mutex::new(Bucket {
                tokens: 1.0,
                last: Instant::now(),
            }),
        })
    }

    /// LookupEvents' documented rate: 2 a second, no burst beyond one.
    pub fn lookup_events() -> Arc<Self> {
        Self::new(2.0, 1.0)
    }

    /// Waits until a request may be sent, and takes its token.
    pub async fn acquire(&self) {
        let wait = {
            let mut b = self.bucket.lock().await;
            let now = Instant::now();
            let refill = now.duration_since(b.last).as_secs_f64() * self.per_second;
            b.tokens = (b.tokens + refill).min(self.burst);
            b.last = now;
            b.tokens -= 1.0;
            if b.tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-b.tokens / self.per_second)
            }
        };
        // The token is already taken (the balance may go negative), so
        // concurrent callers queue up behind each other in order.
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_the_rate_across_callers() {
        let pacer = Pacer::new(2.0, 1.0);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let p = Arc::clone(&pacer);
            tasks.push(tokio::spawn(async move {
                for _ in 0..4 {
                    p.acquire().await;
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        // 12 requests at 2/s with one free token: 11 waits of 0.5 s.
        let took = start.elapsed().as_secs_f64();
        assert!((5.4..=5.6).contains(&took), "took {took}s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rested_pacer_lets_one_request_through_at_once() {
        let pacer = Pacer::new(2.0, 1.0);
        tokio::time::sleep(Duration::from_secs(10)).await;
        let start = Instant::now();
        pacer.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        pacer.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
    }
}
