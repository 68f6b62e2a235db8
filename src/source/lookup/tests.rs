//! The poller against an in-memory LookupEvents with late delivery,
//! throttles and 5xx, on tokio's paused clock: an hour of polling runs in
//! a blink and every event must arrive exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, watch};

use super::test_clock::TokioClock;
use super::*;
use crate::aws::{AwsError, ErrorKind, LookedUp, LookupPage, LookupWindow};
use crate::clock::Clock;
use crate::feed::{SourceId, SourceMsg};

#[derive(Clone)]
struct FakeEvent {
    id: String,
    time: DateTime<Utc>,
    visible_at: DateTime<Utc>,
    record: String,
}

struct FakeTrail {
    events: Vec<FakeEvent>,
    clock: Arc<TokioClock>,
    faults: Mutex<ChaCha8Rng>,
    throttle: f64,
    server_error: f64,
    requests: Mutex<u64>,
    asked_at: Mutex<Vec<DateTime<Utc>>>,
}

/// kmstop's own identity in the fake account.
const KMSTOP_ARN: &str = "arn:aws:sts::111122223333:assumed-role/kmstop-reader/kmstop";

/// Settings of a poller that runs as [`KMSTOP_ARN`].
fn as_kmstop() -> PollerSettings {
    PollerSettings {
        own_identity: crate::event::OwnIdentity::from_arn(KMSTOP_ARN),
        ..PollerSettings::default()
    }
}

/// One of kmstop's own inventory reads, as CloudTrail records it.
fn own_record(id: &str, time: DateTime<Utc>) -> String {
    serde_json::json!({
        "eventVersion": "1.08",
        "eventSource": "kms.amazonaws.com",
        "eventName": "DescribeKey",
        "eventTime": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventID": id,
        "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "userAgent": "aws-sdk-rust/1 app/kmstop",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": KMSTOP_ARN,
            "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {
                "type": "Role",
                "arn": "arn:aws:iam::111122223333:role/kmstop-reader",
                "accountId": "111122223333"
            }}
        }
    })
    .to_string()
}

fn record(id: &str, time: DateTime<Utc>, agent: &str) -> String {
    serde_json::json!({
        "eventVersion": "1.08",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "eventTime": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventID": id,
        "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "userAgent": agent,
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/app/s",
            "accountId": "111122223333"
        }
    })
    .to_string()
}

impl LookupApi for Arc<FakeTrail> {
    async fn lookup(
        &self,
        window: LookupWindow,
        token: Option<String>,
    ) -> Result<LookupPage, AwsError> {
        *self.requests.lock().expect("lock") += 1;
        self.asked_at.lock().expect("lock").push(self.clock.now());
        {
            let mut rng = self.faults.lock().expect("lock");
            let roll: f64 = rng.random();
            if roll < self.throttle {
                return Err(AwsError {
                    kind: ErrorKind::Throttled,
                    code: Some("ThrottlingException".into()),
                    message: "Rate exceeded".into(),
                });
            }
            if roll < self.throttle + self.server_error {
                return Err(AwsError::new(ErrorKind::Server, "InternalFailure"));
            }
        }
        let now = self.clock.now();
        let mut hits: Vec<&FakeEvent> = self
            .events
            .iter()
            .filter(|e| e.visible_at <= now && e.time >= window.start && e.time <= window.end)
            .collect();
        hits.sort_by(|a, b| (b.time, &b.id).cmp(&(a.time, &a.id)));
        // The token is the (time, id) of the last event returned.
        if let Some(token) = &token {
            let (secs, id) = token.split_once('/').expect("token");
            let cursor = (
                DateTime::from_timestamp(secs.parse().expect("secs"), 0).expect("t"),
                id,
            );
            hits.retain(|e| (e.time, e.id.as_str()) < cursor);
        }
        let page: Vec<LookedUp> = hits
            .iter()
            .take(50)
            .map(|e| LookedUp {
                event_id: e.id.clone(),
                event_time: Some(e.time),
                record: Some(e.record.clone()),
            })
            .collect();
        let next_token = (hits.len() > 50).then(|| {
            let last = hits[49];
            format!("{}/{}", last.time.timestamp(), last.id)
        });
        Ok(LookupPage {
            events: page,
            next_token,
        })
    }
}

fn origin() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("valid")
}

/// Events from `origin - 1h` to `origin + minutes`, `per_minute` a minute,
/// each delivered 0–8 minutes late.
fn trail(seed: u64, minutes: i64, per_minute: usize, clock: &Arc<TokioClock>) -> Arc<FakeTrail> {
    trail_with_delays(seed, minutes, per_minute, 0..480, clock)
}

/// Like `trail`, each event delivered `delays` seconds late (uniform).
fn trail_with_delays(
    seed: u64,
    minutes: i64,
    per_minute: usize,
    delays: std::ops::Range<i64>,
    clock: &Arc<TokioClock>,
) -> Arc<FakeTrail> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut events = Vec::new();
    for m in -60..minutes {
        for i in 0..per_minute {
            let time = origin() + Duration::minutes(m) + Duration::seconds(rng.random_range(0..60));
            let late = Duration::seconds(rng.random_range(delays.clone()));
            let id = format!("ev-{m}-{i}");
            // kmstop's own read, then a caller that only claims to be
            // kmstop (its user agent): never left out.
            let record = match i {
                0 => own_record(&id, time),
                1 => record(&id, time, "aws-sdk-rust/1 app/kmstop"),
                _ => record(&id, time, "boto3"),
            };
            events.push(FakeEvent {
                record,
                id,
                time,
                visible_at: time + late,
            });
        }
    }
    Arc::new(FakeTrail {
        events,
        clock: Arc::clone(clock),
        faults: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0xfa17)),
        throttle: 0.15,
        server_error: 0.05,
        requests: Mutex::new(0),
        asked_at: Mutex::new(Vec::new()),
    })
}

async fn run_for(
    trail: &Arc<FakeTrail>,
    clock: &Arc<TokioClock>,
    settings: PollerSettings,
    minutes: i64,
    ids: &mut HashMap<String, u32>,
) {
    run_timed(trail, clock, settings, minutes, ids, &mut HashMap::new()).await;
}

/// `run_for` that also notes when each event first reached the consumer.
async fn run_timed(
    trail: &Arc<FakeTrail>,
    clock: &Arc<TokioClock>,
    settings: PollerSettings,
    minutes: i64,
    ids: &mut HashMap<String, u32>,
    arrived: &mut HashMap<String, DateTime<Utc>>,
) {
    let (tx, mut rx) = mpsc::channel(64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let source = SourceId {
        account: "111122223333".into(),
        region: "us-east-1".into(),
    };
    let poller = Poller::new(
        Arc::clone(trail),
        source,
        settings,
        Pacer::lookup_events(),
        Arc::clone(clock) as Arc<dyn Clock>,
        tx,
    );
    let task = tokio::spawn(poller.run(stop_rx));
    let deadline =
        tokio::time::Instant::now() + std::time::Duration::from_mins(minutes.cast_unsigned());
    loop {
        tokio::select! {
            update = rx.recv() => match update {
                Some(SourceMsg::Events { events, .. }) => {
                    for e in events {
                        let id = e.view().event_id.to_string();
                        arrived.entry(id.clone()).or_insert_with(|| clock.now());
                        *ids.entry(id).or_default() += 1;
                    }
                }
                Some(_) => {}
                None => break,
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    stop_tx.send(true).expect("stop");
    while let Some(update) = rx.recv().await {
        if let SourceMsg::Events { events, .. } = update {
            for e in events {
                *ids.entry(e.view().event_id.to_string()).or_default() += 1;
            }
        }
    }
    assert_eq!(task.await.expect("poller"), Ended::Stopped);
}

fn expected_ids(trail: &FakeTrail, until: DateTime<Utc>) -> Vec<String> {
    let mut ids: Vec<String> = trail
        .events
        .iter()
        .filter(|e| e.time < until && !e.record.contains("DescribeKey"))
        .map(|e| e.id.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(start_paused = true)]
async fn every_event_once_despite_faults_and_late_delivery() {
    let clock = Arc::new(TokioClock {
        origin: origin(),
        start: tokio::time::Instant::now(),
    });
    let trail = trail(7, 10, 30, &clock);
    let mut ids = HashMap::new();
    // Events stop at +10 min; run long enough for the +20 min re-reads.
    run_for(&trail, &clock, as_kmstop(), 45, &mut ids).await;
    let doubled: Vec<_> = ids.iter().filter(|&(_, n)| *n > 1).collect();
    assert!(doubled.is_empty(), "delivered twice: {doubled:?}");
    let mut got: Vec<String> = ids.into_keys().collect();
    got.sort();
    assert_eq!(got, expected_ids(&trail, origin() + Duration::minutes(10)));
}

#[tokio::test(start_paused = true)]
async fn a_restart_from_the_checkpoint_neither_misses_nor_repeats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(TokioClock {
        origin: origin(),
        start: tokio::time::Instant::now(),
    });
    let trail = trail(11, 20, 20, &clock);
    let settings = PollerSettings {
        checkpoint: Some(dir.path().join("cp.json")),
        ..as_kmstop()
    };
    let mut ids = HashMap::new();
    run_for(&trail, &clock, settings.clone(), 7, &mut ids).await;
    // Down for three minutes, then up again until everything settled.
    tokio::time::sleep(std::time::Duration::from_mins(3)).await;
    run_for(&trail, &clock, settings, 50, &mut ids).await;
    let doubled: Vec<_> = ids.iter().filter(|&(_, n)| *n > 1).collect();
    assert!(doubled.is_empty(), "delivered twice: {doubled:?}");
    let mut got: Vec<String> = ids.into_keys().collect();
    got.sort();
    assert_eq!(got, expected_ids(&trail, origin() + Duration::minutes(20)));
}

#[tokio::test(start_paused = true)]
async fn a_quiet_account_costs_eighteen_requests_a_minute() {
    let clock = Arc::new(TokioClock {
        origin: origin(),
        start: tokio::time::Instant::now(),
    });
    let mut quiet = trail(3, 60, 2, &clock);
    let fake = Arc::get_mut(&mut quiet).expect("unshared");
    fake.throttle = 0.0;
    fake.server_error = 0.0;
    let settings = PollerSettings {
        backfill: Duration::zero(),
        ..PollerSettings::default()
    };
    run_for(&quiet, &clock, settings, 40, &mut HashMap::new()).await;
    // From minute 20 on both re-reads run: 12 polls a minute, 4 freshness
    // re-reads and one batched re-read for each of the two delays.
    let from = origin() + Duration::minutes(20);
    let to = origin() + Duration::minutes(40);
    let steady = quiet
        .asked_at
        .lock()
        .expect("lock")
        .iter()
        .filter(|t| **t >= from && **t < to)
        .count();
    assert!(
        (350..=370).contains(&steady),
        "{steady} requests in 20 minutes"
    );
}

#[tokio::test(start_paused = true)]
async fn a_quiet_account_costs_few_requests() {
    let clock = Arc::new(TokioClock {
        origin: origin(),
        start: tokio::time::Instant::now(),
    });
    let trail = trail(3, 30, 2, &clock);
    let mut ids = HashMap::new();
    let settings = PollerSettings {
        backfill: Duration::zero(),
        ..PollerSettings::default()
    };
    run_for(&trail, &clock, settings, 30, &mut ids).await;
    let requests = *trail.requests.lock().expect("lock");
    // 12 fresh polls a minute, 4 freshness re-reads and two batched
    // re-reads, plus retries of the 20 % injected failures: about 23 a
    // minute.
    assert!(requests < 30 * 26, "{requests} requests in 30 minutes");
}

/// Latencies after visibility (seconds, sorted) and requests a minute of
/// one schedule over the quiet account of issue 11's target.
struct Freshness {
    delays: Vec<i64>,
    latencies: Vec<i64>,
    per_minute: f64,
}

#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
impl Freshness {
    fn share_within(&self, secs: i64) -> f64 {
        self.latencies.iter().filter(|l| **l <= secs).count() as f64 / self.latencies.len() as f64
    }

    fn quantiles(of: &[i64]) -> String {
        let at = |q: f64| of[((of.len() - 1) as f64 * q) as usize];
        format!(
            "p50 {:>3} s, p95 {:>3} s, p99 {:>3} s, max {:>4} s",
            at(0.5),
            at(0.95),
            at(0.99),
            at(1.0)
        )
    }
}

/// 120 events a minute (2 a second) whose visibility delays are spread
/// evenly over the first minute, read for 36 minutes under `plan`;
/// minutes 3 to 28 measured (the delays learned, every event visible and
/// past its +5 min re-read well before the end).
#[allow(clippy::cast_precision_loss)]
async fn freshness(plan: PlanSettings) -> Freshness {
    let clock = Arc::new(TokioClock {
        origin: origin(),
        start: tokio::time::Instant::now(),
    });
    let mut quiet = trail_with_delays(5, 34, 120, 0..60, &clock);
    let fake = Arc::get_mut(&mut quiet).expect("unshared");
    fake.throttle = 0.0;
    fake.server_error = 0.0;
    let settings = PollerSettings {
        plan,
        backfill: Duration::zero(),
        include_own_calls: true,
        ..PollerSettings::default()
    };
    let (mut ids, mut arrived) = (HashMap::new(), HashMap::new());
    run_timed(&quiet, &clock, settings, 36, &mut ids, &mut arrived).await;
    let doubled: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "events delivered twice: {:?}",
        &doubled[..doubled.len().min(10)]
    );
    let (from, to) = (
        origin() + Duration::minutes(3),
        origin() + Duration::minutes(28),
    );
    let measured: Vec<&FakeEvent> = quiet
        .events
        .iter()
        .filter(|e| e.time >= from && e.time < to)
        .collect();
    let mut latencies: Vec<i64> = measured
        .iter()
        .map(|e| {
            let at = arrived
                .get(&e.id)
                .unwrap_or_else(|| panic!("{} never arrived", e.id));
            (*at - e.visible_at).num_seconds()
        })
        .collect();
    latencies.sort_unstable();
    let mut delays: Vec<i64> = measured
        .iter()
        .map(|e| (e.visible_at - e.time).num_seconds())
        .collect();
    delays.sort_unstable();
    let asked = quiet.asked_at.lock().expect("lock");
    let steady = asked.iter().filter(|t| **t >= from && **t < to).count();
    Freshness {
        delays,
        latencies,
        per_minute: steady as f64 / 25.0,
    }
}

/// Issue 11's target: with delivery delays spread over the first minute, a
/// quiet account (2 events a second) has ≥ 95 % of its events delivered
/// within 15 s of becoming visible and ≥ 99 % within 60 s, each exactly
/// once, for ≤ 30 requests a minute. Measured beside the schedule it
/// replaced (each minute read once, then again at +5 and +20 min), whose
/// figures BENCHMARKS.md quotes from this test's output.
#[tokio::test(start_paused = true)]
async fn events_arrive_within_seconds_of_becoming_visible() {
    let now = freshness(PlanSettings::default()).await;
    let before = freshness(PlanSettings {
        recent_every: Duration::days(365),
        fresh_overlap: Duration::zero(),
        ..PlanSettings::default()
    })
    .await;
    eprintln!(
        "delay to visible        {}",
        Freshness::quantiles(&now.delays)
    );
    for (name, f) in [("kmstop now", &now), ("read once, +5/+20 min", &before)] {
        eprintln!(
            "{name:<23} {}; {:.1} % within 15 s, {:.1} % within 60 s; {:.1} requests/min",
            Freshness::quantiles(&f.latencies),
            f.share_within(15) * 100.0,
            f.share_within(60) * 100.0,
            f.per_minute
        );
    }
    assert!(
        now.share_within(15) >= 0.95,
        "{:.3} within 15 s",
        now.share_within(15)
    );
    assert!(
        now.share_within(60) >= 0.99,
        "{:.3} within 60 s",
        now.share_within(60)
    );
    assert!(
        now.per_minute <= 30.0,
        "{:.1} requests a minute",
        now.per_minute
    );
}

/// An endpoint whose pages never end: every answer holds one new event of
/// the window and the same token (`looping`), or no event and a new token.
struct NeverEnds {
    looping: bool,
    asked: Mutex<u64>,
}

impl LookupApi for Arc<NeverEnds> {
    async fn lookup(
        &self,
        window: LookupWindow,
        token: Option<String>,
    ) -> Result<LookupPage, AwsError> {
        let n = {
            let mut asked = self.asked.lock().expect("lock");
            *asked += 1;
            *asked
        };
        let next = if self.looping {
            "same".to_string()
        } else {
            format!("t-{n}")
        };
        let events = if self.looping || token.is_none() {
            let id = format!("nowhere-{n}");
            vec![LookedUp {
                record: Some(record(&id, window.end, "boto3")),
                event_id: id,
                event_time: Some(window.end),
            }]
        } else {
            Vec::new()
        };
        Ok(LookupPage {
            events,
            next_token: Some(next),
        })
    }
}

/// Issue 12: pages that loop or go nowhere end their scan and show the
/// region failing with why; the poller goes on polling (and stops when
/// asked), instead of paging forever in silence.
#[tokio::test(start_paused = true)]
async fn pages_that_never_end_fail_the_scan_not_the_poller() {
    for looping in [true, false] {
        let clock = Arc::new(TokioClock {
            origin: origin(),
            start: tokio::time::Instant::now(),
        });
        let api = Arc::new(NeverEnds {
            looping,
            asked: Mutex::new(0),
        });
        let (tx, mut rx) = mpsc::channel(64);
        let (stop_tx, stop_rx) = watch::channel(false);
        let poller = Poller::new(
            Arc::clone(&api),
            SourceId {
                account: "111122223333".into(),
                region: "us-east-1".into(),
            },
            PollerSettings {
                backfill: Duration::zero(),
                ..PollerSettings::default()
            },
            Pacer::lookup_events(),
            Arc::clone(&clock) as Arc<dyn Clock>,
            tx,
        );
        let task = tokio::spawn(poller.run(stop_rx));
        let mut why = None;
        let mut events = 0;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_mins(3);
        while why.is_none() || events < 3 {
            tokio::select! {
                update = rx.recv() => match update {
                    Some(SourceMsg::Status(s)) => {
                        if let crate::feed::Health::Failing { message } = s.health {
                            why = Some(message);
                        }
                    }
                    Some(SourceMsg::Events { events: e, .. }) => events += e.len(),
                    Some(_) => {}
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        let why = why.unwrap_or_else(|| panic!("looping {looping}: never said failing"));
        let want = if looping { "loop" } else { "go nowhere" };
        assert!(why.contains(want), "{why}");
        assert!(events >= 3, "it went on polling: {events} events");
        stop_tx.send(true).expect("stop");
        while rx.recv().await.is_some() {}
        assert_eq!(task.await.expect("poller"), Ended::Stopped);
    }
}
