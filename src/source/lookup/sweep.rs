//! The historical sweep behind `report --source aws`: every KMS event of a
//! window in one account × region, paged at the region's pace and handed
//! on while it is read, oldest first, a chunk at a time — so memory holds a
//! few chunks, not the window. The records then go through exactly the
//! path log files take, so the report is the one the same events would
//! give from files.
//!
//! LookupEvents pages come newest first, so the window is read in slices,
//! oldest slice first, and a slice is handed on only once it has been read
//! whole (sorted): what leaves is in time order, which the report's alert
//! replay needs. Each slice is sized by how many events the one before
//! held: wide where the account is quiet (few requests), narrow where it
//! is busy (about half a chunk). A slice that turns out to hold more than a
//! chunk is cut: the whole seconds it read are held back until its older
//! rest has been read in narrower slices.
//!
//! Slices are inclusive windows of whole seconds, each starting the second
//! after the one before ends: CloudTrail's event times are whole seconds,
//! so every event of the window falls in exactly one slice.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

use super::pacer::Pacer;
use super::plan::floor_second;
use super::poller::LookupApi;
use crate::aws::{AwsError, LookupWindow};

/// `(event time, record)`.
pub type Record = (DateTime<Utc>, String);

/// Records handed on at a time, and the most a slice of more than one
/// second gathers before it is cut: a few MB.
pub const CHUNK: usize = 2000;
/// Records a slice is sized to hold, by the rate of the one before: half
/// a chunk, room for the rate to double before a slice has to be cut.
const TARGET: i64 = 1000;
/// The first slice's width, in seconds, before any rate is known.
const FIRST_WIDTH: i64 = 5 * 60;
/// The widest slice, in seconds: a quiet day costs a request.
const MAX_WIDTH: i64 = 24 * 3600;
/// How many times wider than the last a slice may grow at once.
const GROWTH: i64 = 8;
/// Newer parts of cut slices held back at most; past that a cut slice's
/// newer part is read again later rather than held.
const MAX_HELD: usize = 8;

/// How far ahead of the slowest sweep of the same report one may read:
/// half the report's alert replay lateness (two hours), so that events of
/// all regions reach it close enough in time order to be put back in it.
pub const AHEAD: Duration = Duration::minutes(60);

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Events handed on.
    pub events: u64,
    pub requests: u64,
    pub throttles: u64,
    pub errors: u64,
}

/// A sweep that could not read its window to the end.
#[derive(Debug)]
pub struct Stopped {
    pub error: AwsError,
    /// Every event of the window before this time was handed on, and none
    /// from it on.
    pub complete_before: DateTime<Utc>,
    pub swept: Swept,
}

/// Where a sweep's records go.
pub trait Outlet: Send {
    /// Waits until a slice starting at `from` may be read, and returns the
    /// newest time it may reach (at least `from`). Everything before
    /// `from` has been handed on.
    fn reach(&mut self, from: DateTime<Utc>) -> impl Future<Output = DateTime<Utc>> + Send;

    /// Takes records in time order, newer than any handed on before;
    /// false when nobody reads them any more.
    fn send(&mut self, records: Vec<Record>) -> impl Future<Output = bool> + Send;

    /// `events` handed on so far, the window read up to `until`.
    fn progress(&mut self, _events: u64, _until: DateTime<Utc>) {}
}

/// Transient failures in a row after which the sweep gives up on a region
/// (a quarter of an hour of throttles or 5xx is not a blip).
const MAX_FAILURES_IN_A_ROW: u32 = 60;

/// A request that failed after this long ran into the SDK's attempt
/// timeout (30 s; the reader sends each request once, this loop retries):
/// the endpoint does not answer. Two in a row end the sweep of the region
/// — a minute of silence — instead of sixty, half an hour.
const NO_ANSWER_AFTER: StdDuration = StdDuration::from_secs(25);
const MAX_NO_ANSWERS_IN_A_ROW: u32 = 2;

/// Pages in a row that bring no event not seen before, after which the
/// pages are taken to go nowhere (a real trail ends its pages instead).
pub const MAX_PAGES_WITHOUT_PROGRESS: u32 = 50;

/// An endpoint whose pages loop or go nowhere: the region fails with this
/// rather than reading forever in silence.
fn stuck(message: String) -> AwsError {
    AwsError {
        kind: crate::aws::ErrorKind::Other,
        code: None,
        message,
    }
}

/// The first whole second at or after `t`.
fn ceil_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_second(t);
    if floor < t {
        floor + Duration::seconds(1)
    } else {
        floor
    }
}

/// The newer part of a cut slice, waiting for its older rest.
struct Held {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    records: Vec<Record>,
}

/// Reads every event of `window` and hands it on to `outlet`, oldest slice
/// first, retrying the same request after transient failures.
pub async fn sweep<A: LookupApi, O: Outlet>(
    api: &A,
    pacer: &Pacer,
    window: LookupWindow,
    outlet: &mut O,
) -> Result<Swept, Stopped> {
    let mut swept = Swept::default();
    let mut from = ceil_second(window.start);
    let end = floor_second(window.end);
    let mut width = FIRST_WIDTH;
    // Newest at the bottom: each cut holds a part older than the last.
    let mut held: Vec<Held> = Vec::new();
    while from <= end {
        let reach = outlet.reach(from).await.max(from);
        let until = [
            from + Duration::seconds(width - 1),
            end,
            floor_second(reach),
            held.last().map_or(end, |h| h.from - Duration::seconds(1)),
        ]
        .into_iter()
        .min()
        .unwrap_or(end);
        let slice = LookupWindow {
            start: from,
            end: until,
        };
        let read = match read_slice(api, pacer, slice, &mut swept).await {
            Ok(read) => read,
            Err(error) => {
                return Err(Stopped {
                    error,
                    complete_before: from,
                    swept,
                });
            }
        };
        match read {
            Read::Whole(records) => {
                let seconds = (until - from).num_seconds() + 1;
                width = next_width(width, seconds, records.len());
                if !hand_on(outlet, records, &mut swept).await {
                    return Ok(swept);
                }
                from = until + Duration::seconds(1);
            }
            Read::Cut(records) => {
                // LookupEvents may have cut inside the oldest second read:
                // that second is read again with the older rest.
                let oldest = records.iter().map(|(t, _)| floor_second(*t)).min();
                let oldest = oldest.unwrap_or(from).max(from);
                width = ((until - oldest).num_seconds() / 2).max(1);
                if held.len() < MAX_HELD {
                    held.push(Held {
                        from: oldest + Duration::seconds(1),
                        until,
                        records: records.into_iter().filter(|(t, _)| *t > oldest).collect(),
                    });
                }
                continue;
            }
        }
        while held.last().is_some_and(|h| h.from == from) {
            let Some(part) = held.pop() else { break };
            if !hand_on(outlet, part.records, &mut swept).await {
                return Ok(swept);
            }
            from = part.until + Duration::seconds(1);
        }
        outlet.progress(swept.events, from);
    }
    Ok(swept)
}

/// The next slice's width: sized for [`TARGET`] events at the rate of the
/// slice just read (`seconds` long, `events` in it).
fn next_width(width: i64, seconds: i64, events: usize) -> i64 {
    let most = (width.max(seconds) * GROWTH).min(MAX_WIDTH);
    let sized = match i64::try_from(events) {
        Ok(n) if n > 0 => seconds.saturating_mul(TARGET) / n,
        _ => most,
    };
    sized.clamp(1, most)
}

/// Hands on a slice's records in time order, a chunk at a time; false
/// when nobody reads them any more.
async fn hand_on<O: Outlet>(outlet: &mut O, mut records: Vec<Record>, swept: &mut Swept) -> bool {
    records.sort_by_key(|(time, _)| *time);
    while !records.is_empty() {
        let rest = records.split_off(records.len().min(CHUNK));
        swept.events += records.len() as u64;
        if !outlet.send(std::mem::replace(&mut records, rest)).await {
            return false;
        }
    }
    true
}

enum Read {
    Whole(Vec<Record>),
    /// More than a chunk, and not the whole slice: the newest first.
    Cut(Vec<Record>),
}

async fn read_slice<A: LookupApi>(
    api: &A,
    pacer: &Pacer,
    slice: LookupWindow,
    swept: &mut Swept,
) -> Result<Read, AwsError> {
    // A single second cannot be cut: it is read whole, however busy.
    let cuttable = slice.end > slice.start;
    let mut pages = Pages::new(slice);
    let mut records = Vec::new();
    while let Some(page) = pages.next(api, pacer, swept).await? {
        records.extend(page);
        if cuttable && records.len() >= CHUNK {
            return Ok(Read::Cut(records));
        }
    }
    Ok(Read::Whole(records))
}

/// One slice being paged, with what tells a stuck endpoint from a slow
/// one. Its ids (which merge pages read again) are the slice's alone.
struct Pages {
    window: LookupWindow,
    ids: HashSet<String>,
    token: Option<String>,
    tokens: HashSet<String>,
    ended: bool,
    idle: u32,
    failures: u32,
    no_answers: u32,
}

impl Pages {
    fn new(window: LookupWindow) -> Self {
        Self {
            window,
            ids: HashSet::new(),
            token: None,
            tokens: HashSet::new(),
            ended: false,
            idle: 0,
            failures: 0,
            no_answers: 0,
        }
    }

    /// The next page's events not seen before in the slice; `None` once
    /// its pages have ended.
    async fn next<A: LookupApi>(
        &mut self,
        api: &A,
        pacer: &Pacer,
        swept: &mut Swept,
    ) -> Result<Option<Vec<Record>>, AwsError> {
        while !self.ended {
            pacer.acquire().await;
            swept.requests += 1;
            let sent = tokio::time::Instant::now();
            let answer = api.lookup(self.window, self.token.clone()).await;
            if answer.is_err() && sent.elapsed() >= NO_ANSWER_AFTER {
                self.no_answers += 1;
            } else {
                self.no_answers = 0;
            }
            match answer {
                Ok(page) => {
                    self.failures = 0;
                    let mut new = Vec::new();
                    for item in page.events {
                        let (Some(time), Some(record)) = (item.event_time, item.record) else {
                            continue;
                        };
                        // Outside the slice is another slice's (an endpoint
                        // that ignores the window would double every event).
                        let inside = time >= self.window.start && time <= self.window.end;
                        if inside && self.ids.insert(item.event_id) {
                            new.push((time, record));
                        }
                    }
                    self.turn(page.next_token, new.is_empty(), swept.requests)?;
                    return Ok(Some(new));
                }
                Err(e) => self.retry(e, swept).await?,
            }
        }
        Ok(None)
    }

    /// Follows a page's token, unless the pages loop or go nowhere.
    fn turn(&mut self, next: Option<String>, idle: bool, requests: u64) -> Result<(), AwsError> {
        self.idle = if idle { self.idle + 1 } else { 0 };
        match next {
            Some(next) if !self.tokens.insert(next.clone()) => Err(stuck(format!(
                "LookupEvents gave a NextToken it had given before: its pages loop (stopped after {requests} requests)"
            ))),
            Some(_) if self.idle >= MAX_PAGES_WITHOUT_PROGRESS => Err(stuck(format!(
                "LookupEvents sent {} pages in a row with no new event: its pages go nowhere (stopped after {requests} requests)",
                self.idle
            ))),
            Some(next) => {
                self.token = Some(next);
                Ok(())
            }
            None => {
                self.ended = true;
                Ok(())
            }
        }
    }

    /// Readies the same request again after a failure worth retrying, or
    /// gives up with it.
    async fn retry(&mut self, e: AwsError, swept: &mut Swept) -> Result<(), AwsError> {
        match e {
            e if e.code.as_deref() == Some("InvalidNextTokenException") && self.failures < 3 => {
                // Read the slice again from its newest page; ids merge.
                self.failures += 1;
                swept.errors += 1;
                self.token = None;
                self.tokens.clear();
                Ok(())
            }
            e if self.no_answers >= MAX_NO_ANSWERS_IN_A_ROW => Err(stuck(format!(
                "LookupEvents did not answer {} requests in a row (each failed after {} s or more): {}",
                self.no_answers,
                NO_ANSWER_AFTER.as_secs(),
                e.message
            ))),
            e if e.kind.is_transient() && self.failures < MAX_FAILURES_IN_A_ROW => {
                self.failures += 1;
                if e.kind == crate::aws::ErrorKind::Throttled {
                    swept.throttles += 1;
                } else {
                    swept.errors += 1;
                }
                let pause = StdDuration::from_millis(250 * u64::from(self.failures.min(40)));
                tokio::time::sleep(pause).await;
                Ok(())
            }
            e => Err(e),
        }
    }
}

/// Where each sweep of one report has got to, so that none reads more than
/// [`AHEAD`] past the slowest: a quiet region read to the end of the
/// window while a busy one is hours behind would make the busy one's
/// events too late for the alert replay to put back in order. The slowest
/// sweep is never held back, so every sweep gets to its end.
#[derive(Debug)]
pub struct Lockstep {
    at: watch::Sender<Vec<DateTime<Utc>>>,
}

impl Lockstep {
    /// `sweeps` sweeps, all starting at `start`.
    pub fn new(sweeps: usize, start: DateTime<Utc>) -> Self {
        Self {
            at: watch::Sender::new(vec![start; sweeps]),
        }
    }

    /// Sweep `who` has handed on everything before `from`: waits until it
    /// may read from there, and returns how far it may read.
    pub async fn reach(&self, who: usize, from: DateTime<Utc>) -> DateTime<Utc> {
        self.at.send_modify(|at| {
            if let Some(mine) = at.get_mut(who) {
                *mine = from;
            }
        });
        let bound = |at: &Vec<DateTime<Utc>>| {
            let others = at.iter().enumerate().filter(|(i, _)| *i != who);
            others
                .map(|(_, t)| *t)
                .min()
                .and_then(|slowest| slowest.checked_add_signed(AHEAD))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        let mut rx = self.at.subscribe();
        match rx.wait_for(|at| bound(at) >= from).await {
            Ok(at) => bound(&at),
            // Unreachable while `self` lives; nothing to wait for then.
            Err(_) => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// Sweep `who` has ended (read to its end, or failed): the others no
    /// longer wait for it.
    pub fn leave(&self, who: usize) {
        self.at.send_modify(|at| {
            if let Some(mine) = at.get_mut(who) {
                *mine = DateTime::<Utc>::MAX_UTC;
            }
        });
    }
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
