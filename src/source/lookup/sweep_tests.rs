//! The sweep against in-memory LookupEvents on tokio's paused clock: every
//! event of the window handed on once, in time order, at close to the
//! minimum of requests; sweeps of one report kept within [`AHEAD`] of each
//! other; a failure that says how far the window is complete.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::TimeZone;

use super::*;
use crate::aws::{ErrorKind, LookedUp, LookupPage};

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a time")
        + Duration::seconds(seconds)
}

/// LookupEvents over fixed events: both ends of a window inclusive, pages
/// of 50 newest first, as CloudTrail and the simulator answer.
#[derive(Default)]
struct Trail {
    /// `(time, id)`.
    events: Vec<(DateTime<Utc>, String)>,
    requests: AtomicU64,
    /// Events sent in all pages, re-read ones included.
    served: AtomicU64,
    windows: Mutex<Vec<LookupWindow>>,
    /// Fails every request from this one on with an error not worth
    /// retrying.
    fail_from: Option<u64>,
}

impl Trail {
    fn new(events: Vec<DateTime<Utc>>) -> Self {
        let events = events
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, format!("e-{i:08}")))
            .collect();
        Self {
            events,
            ..Self::default()
        }
    }

    /// One event every `every` seconds over `[from, to)`.
    fn steady(from: i64, to: i64, every: usize) -> Vec<DateTime<Utc>> {
        (from..to).step_by(every).map(at).collect()
    }
}

impl LookupApi for Arc<Trail> {
    async fn lookup(
        &self,
        window: LookupWindow,
        token: Option<String>,
    ) -> Result<LookupPage, AwsError> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if self.fail_from.is_some_and(|from| n >= from) {
            return Err(AwsError {
                kind: ErrorKind::Other,
                code: Some("AccessDeniedException".into()),
                message: "not allowed".into(),
            });
        }
        self.windows.lock().expect("lock").push(window);
        let mut hits: Vec<&(DateTime<Utc>, String)> = self
            .events
            .iter()
            .filter(|(t, _)| *t >= window.start && *t <= window.end)
            .collect();
        hits.sort_by(|a, b| b.cmp(a));
        let skip: usize = token.map_or(0, |t| t.parse().expect("a token"));
        let page: Vec<LookedUp> = hits
            .iter()
            .skip(skip)
            .take(50)
            .map(|(t, id)| LookedUp {
                event_id: id.clone(),
                event_time: Some(*t),
                record: Some(id.clone()),
            })
            .collect();
        self.served.fetch_add(page.len() as u64, Ordering::Relaxed);
        let next_token = (hits.len() > skip + 50).then(|| (skip + 50).to_string());
        Ok(LookupPage {
            events: page,
            next_token,
        })
    }
}

/// Keeps what a sweep hands on, each record with the sweep that sent it.
struct Collect {
    who: usize,
    got: Arc<Mutex<Vec<(usize, Record)>>>,
    chunks: Arc<AtomicUsize>,
    lockstep: Option<Arc<Lockstep>>,
}

impl Collect {
    fn alone() -> Self {
        Self {
            who: 0,
            got: Arc::default(),
            chunks: Arc::default(),
            lockstep: None,
        }
    }

    fn records(&self) -> Vec<Record> {
        let got = self.got.lock().expect("lock");
        got.iter().map(|(_, r)| r.clone()).collect()
    }
}

impl Outlet for Collect {
    async fn reach(&mut self, from: DateTime<Utc>) -> DateTime<Utc> {
        match &self.lockstep {
            Some(lockstep) => lockstep.reach(self.who, from).await,
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    async fn send(&mut self, records: Vec<Record>) -> bool {
        assert!(records.len() <= CHUNK, "a chunk of {}", records.len());
        self.chunks.fetch_add(1, Ordering::Relaxed);
        let mut got = self.got.lock().expect("lock");
        got.extend(records.into_iter().map(|r| (self.who, r)));
        true
    }
}

fn fast() -> Arc<Pacer> {
    Pacer::new(1000.0, 1000.0)
}

/// Quiet hours around a burst of 20 events a second (cut slices, held
/// parts, narrow and wide slices), events on the window's first and last
/// seconds and just outside them.
fn uneven_day() -> (Vec<DateTime<Utc>>, LookupWindow) {
    let (start, end) = (3600, 7 * 3600);
    let mut times = Trail::steady(0, 8 * 3600, 37);
    for s in 3 * 3600..3 * 3600 + 900 {
        times.extend(std::iter::repeat_n(at(s), 20));
    }
    times.extend([start - 1, start, start, end, end + 1].map(at));
    let window = LookupWindow {
        start: at(start),
        end: at(end),
    };
    (times, window)
}

#[tokio::test(start_paused = true)]
async fn every_event_of_the_window_once_in_time_order_in_chunks() {
    let (times, window) = uneven_day();
    for (start, end) in [
        (window.start, window.end),
        // Between seconds: the same whole seconds.
        (
            window.start - Duration::milliseconds(500),
            window.end + Duration::milliseconds(500),
        ),
    ] {
        let trail = Arc::new(Trail::new(times.clone()));
        let mut out = Collect::alone();
        let window = LookupWindow { start, end };
        let swept = sweep(&trail, &fast(), window, &mut out)
            .await
            .expect("swept");
        let got = out.records();
        let mut want: Vec<String> = (trail.events.iter())
            .filter(|(t, _)| *t >= window.start && *t <= window.end)
            .map(|(_, id)| id.clone())
            .collect();
        let mut ids: Vec<String> = got.iter().map(|(_, id)| id.clone()).collect();
        ids.sort();
        want.sort();
        if ids != want {
            let doubled = ids.windows(2).filter(|w| w[0] == w[1]).count();
            let missing = want.iter().filter(|id| ids.binary_search(id).is_err());
            panic!(
                "{} handed on for {} events: {doubled} twice, {} missing",
                ids.len(),
                want.len(),
                missing.count()
            );
        }
        assert_eq!(swept.events, want.len() as u64);
        assert!(
            got.windows(2).all(|w| w[0].0 <= w[1].0),
            "handed on in time order"
        );
        assert!(out.chunks.load(Ordering::Relaxed) * CHUNK >= want.len());
        // Slices are whole seconds inside the window.
        for w in trail.windows.lock().expect("lock").iter() {
            assert!(w.start >= window.start && w.end <= window.end, "{w:?}");
            assert_eq!(
                (floor_second(w.start), floor_second(w.end)),
                (w.start, w.end)
            );
        }
        // Cut slices read again only their oldest second.
        let served = trail.served.load(Ordering::Relaxed);
        assert!(
            served <= want.len() as u64 + 400,
            "{served} served for {}",
            want.len()
        );
        let minimum = want.len().div_ceil(50) as u64;
        assert!(
            swept.requests <= minimum * 110 / 100 + 10,
            "{} requests for {} events",
            swept.requests,
            want.len()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_quiet_window_costs_a_request_a_day() {
    let trail = Arc::new(Trail::new(Trail::steady(0, 10 * 24 * 3600, 3600)));
    let window = LookupWindow {
        start: at(0),
        end: at(10 * 24 * 3600 - 1),
    };
    let mut out = Collect::alone();
    let swept = sweep(&trail, &fast(), window, &mut out)
        .await
        .expect("swept");
    assert_eq!(swept.events, 240);
    assert!(swept.requests <= 14, "{} requests", swept.requests);
}

/// A quiet region read to the window's end before a busy one has read its
/// first hour would make the busy one's events hours late for the report's
/// alert replay: no record leaves more than [`AHEAD`] behind the newest.
#[tokio::test(start_paused = true)]
async fn sweeps_of_one_report_stay_within_reach_of_each_other() {
    let window = LookupWindow {
        start: at(0),
        end: at(4 * 3600 - 1),
    };
    let trails = [
        Arc::new(Trail::new(Trail::steady(0, 4 * 3600, 600))),
        Arc::new(Trail::new(Trail::steady(0, 4 * 3600, 1))),
    ];
    let lockstep = Arc::new(Lockstep::new(2, window.start));
    let got = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (who, trail) in trails.into_iter().enumerate() {
        let mut out = Collect {
            who,
            got: Arc::clone(&got),
            chunks: Arc::default(),
            lockstep: Some(Arc::clone(&lockstep)),
        };
        let lockstep = Arc::clone(&lockstep);
        tasks.push(tokio::spawn(async move {
            // LookupEvents' own pace: the busy region takes hours.
            let swept = sweep(&trail, &Pacer::lookup_events(), window, &mut out).await;
            lockstep.leave(who);
            swept.expect("swept").events
        }));
    }
    let mut events = 0;
    for task in tasks {
        events += task.await.expect("a sweep");
    }
    assert_eq!(events, 24 + 4 * 3600);
    let got = got.lock().expect("lock");
    let mut newest = window.start;
    let mut quiet_done_at = None;
    for (i, (who, (time, _))) in got.iter().enumerate() {
        assert!(*time >= newest - AHEAD, "{time} after {newest}");
        newest = newest.max(*time);
        if *who == 0 {
            quiet_done_at = Some(i);
        }
    }
    // Not a test of nothing: the quiet region ended among the busy one's.
    assert!(quiet_done_at.is_some_and(|i| i < got.len() - 1000));
}

#[tokio::test(start_paused = true)]
async fn a_failed_sweep_says_how_far_the_window_is_complete() {
    let trail = Arc::new(Trail {
        fail_from: Some(60),
        ..Trail::new(Trail::steady(0, 6 * 3600, 2))
    });
    let window = LookupWindow {
        start: at(0),
        end: at(6 * 3600 - 1),
    };
    let mut out = Collect::alone();
    let stopped = sweep(&trail, &fast(), window, &mut out)
        .await
        .expect_err("a failure");
    assert_eq!(stopped.error.code.as_deref(), Some("AccessDeniedException"));
    let before = stopped.complete_before;
    assert!(before > window.start, "some of it was read");
    let got = out.records();
    let want = trail.events.iter().filter(|(t, _)| *t < before).count();
    assert_eq!(got.len(), want, "everything before {before}");
    assert!(
        got.iter().all(|(t, _)| *t < before),
        "nothing from {before}"
    );
    assert_eq!(stopped.swept.events, want as u64);
}

/// An endpoint whose every page hands out a token: `loop_after` pages
/// of new tokens, then the first one again (`None`: new tokens
/// forever, over empty pages).
struct Endless {
    loop_after: Option<usize>,
    asked: AtomicUsize,
}

impl LookupApi for Endless {
    async fn lookup(
        &self,
        _window: LookupWindow,
        _token: Option<String>,
    ) -> Result<LookupPage, AwsError> {
        let n = self.asked.fetch_add(1, Ordering::Relaxed);
        let token = match self.loop_after {
            Some(k) if n >= k => "t-0".to_string(),
            _ => format!("t-{n}"),
        };
        let events = if n == 0 {
            vec![LookedUp {
                event_id: "e-1".into(),
                event_time: Some(at(0)),
                record: Some("{}".into()),
            }]
        } else {
            Vec::new()
        };
        Ok(LookupPage {
            events,
            next_token: Some(token),
        })
    }
}

fn hour() -> LookupWindow {
    LookupWindow {
        start: at(0),
        end: at(3600),
    }
}

#[tokio::test]
async fn pages_that_loop_or_go_nowhere_fail_the_region() {
    let pacer = fast();
    let looping = Endless {
        loop_after: Some(3),
        asked: 0.into(),
    };
    let err = sweep(&looping, &pacer, hour(), &mut Collect::alone())
        .await
        .expect_err("a loop is an error");
    assert!(err.error.message.contains("loop"), "{}", err.error.message);
    assert_eq!(err.complete_before, at(0));
    let nowhere = Endless {
        loop_after: None,
        asked: 0.into(),
    };
    let err = sweep(&nowhere, &pacer, hour(), &mut Collect::alone())
        .await
        .expect_err("endless empty pages are an error");
    assert!(
        err.error.message.contains("go nowhere"),
        "{}",
        err.error.message
    );
    assert!(
        nowhere.asked.into_inner() <= MAX_PAGES_WITHOUT_PROGRESS as usize + 1,
        "stopped promptly"
    );
}

/// An endpoint that never answers: every request ends in the SDK's
/// attempt timeout, 30 s later.
struct Silent {
    asked: AtomicUsize,
}

impl LookupApi for Silent {
    async fn lookup(
        &self,
        _window: LookupWindow,
        _token: Option<String>,
    ) -> Result<LookupPage, AwsError> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(StdDuration::from_secs(30)).await;
        Err(AwsError::new(
            ErrorKind::Network,
            "operation timeout (all attempts including retries) occurred after 30s",
        ))
    }
}

/// Issue 12: a region that never answers ends its sweep after two
/// timed-out requests (a minute), not sixty (half an hour).
#[tokio::test(start_paused = true)]
async fn an_endpoint_that_never_answers_fails_the_region() {
    let silent = Silent { asked: 0.into() };
    let err = sweep(&silent, &fast(), hour(), &mut Collect::alone())
        .await
        .expect_err("silence is an error");
    assert!(
        err.error.message.contains("did not answer 2"),
        "{}",
        err.error.message
    );
    assert_eq!(silent.asked.into_inner(), 2);
}
