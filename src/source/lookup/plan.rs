//! Which LookupEvents request one account × region sends next: the pure
//! planning half of the poller (no I/O, time passed in).
//!
//! Time is cut into whole-second windows that never overlap: CloudTrail's
//! `eventTime` has whole seconds and `StartTime`/`EndTime` are inclusive, so
//! `[t0, t1 - 1s]` and `[t1, t2 - 1s]` hold disjoint events. Three kinds of
//! scan share the region's 2 requests/s, in this priority:
//!
//! 1. **fresh** — every poll interval, `[tip, now - 1s]`, newest first; the
//!    tip then moves on. The scan also reads the last `fresh_overlap` again
//!    (most late events become visible within seconds). When a fresh scan
//!    would take more than `max_fresh_pages` (the account outruns
//!    LookupEvents), its older, unread rest becomes a gap, so the screen
//!    stays live and the shortfall is counted instead of silently growing a
//!    lag.
//! 2. **recent** — freshness: every `recent_every`, the stretch from
//!    `recent_reach` ago (learned from the delivery delays, see `delay`) to
//!    where the fresh overlap begins is read again, so an event that becomes
//!    visible after its stretch's first read is on screen within seconds,
//!    not at the +5 min re-read. At most `recent_max_pages` a time: an
//!    account that busy leaves the rest to the re-reads.
//! 3. **re-read** — the completeness backstop: each window is read again
//!    once its end is `rereads[i]` old (default +5 and +20 min). Due windows
//!    are batched (a minute's worth of 5-second slices in one request) and
//!    merged when adjacent, so a quiet account pays two extra requests a
//!    minute.
//! 4. **gap** — the backfill at start, and the rests cut off fresh scans;
//!    newest first, read when nothing fresher is waiting.
//!
//! A scan's window is frozen while it is paged (`NextToken` is valid only
//! for the identical request), and a failed request leaves the plan as it
//! was, so the next attempt is the same request: no page is ever skipped.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

/// An inclusive window of whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondsWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl SecondsWindow {
    pub fn seconds(&self) -> i64 {
        (self.end - self.start).num_seconds() + 1
    }
}

#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub poll_interval: Duration,
    /// How old a window's end must be for each re-read.
    pub rereads: Vec<Duration>,
    /// How long due re-reads wait to be batched with the next ones.
    pub reread_batch: Duration,
    /// Longest window one re-read scan covers.
    pub max_reread_span: Duration,
    /// Pages a fresh scan may take before its older rest becomes a gap.
    pub max_fresh_pages: u32,
    /// How much the first fresh scan reads (the rest of the backfill is a
    /// gap, read newest first after it).
    pub first_fresh: Duration,
    /// How much already-read time each fresh scan reads again.
    pub fresh_overlap: Duration,
    /// How often the recent past is read again for freshness.
    pub recent_every: Duration,
    /// Pages one freshness re-read may take.
    pub recent_max_pages: u32,
}

impl Default for PlanSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::seconds(5),
            rereads: vec![Duration::minutes(5), Duration::minutes(20)],
            reread_batch: Duration::seconds(60),
            max_reread_span: Duration::minutes(15),
            max_fresh_pages: 40,
            first_fresh: Duration::minutes(2),
            fresh_overlap: Duration::seconds(15),
            recent_every: Duration::seconds(15),
            recent_max_pages: 4,
        }
    }
}

/// How far back freshness re-reads look until the poller has learned the
/// delivery delays.
pub const PRIOR_RECENT_REACH: Duration = Duration::minutes(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScanKind {
    Fresh,
    Recent,
    Reread,
    Gap,
}

/// A window still to be re-read; `stage` indexes `PlanSettings::rereads`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    pub window: SecondsWindow,
    pub stage: usize,
}

/// A window never read, with the ids already seen in its newest second
/// (a cut can fall inside a second).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub window: SecondsWindow,
    pub edge_ids: Vec<String>,
    /// The history asked for at start, rather than a rest cut off a fresh
    /// scan because the account outran LookupEvents.
    #[serde(default)]
    pub backfill: bool,
}

/// A scan being paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    pub kind: ScanKind,
    pub window: SecondsWindow,
    pub token: Option<String>,
    pub pages: u32,
    pub events: u64,
    /// When its first page was asked for: decides which re-reads remain.
    pub started: DateTime<Utc>,
    /// Oldest event time returned so far (pages come newest first).
    pub oldest_seen: Option<DateTime<Utc>>,
    /// For re-reads: the slices merged into this window.
    pub slices: Vec<Slice>,
    /// For gaps: ids to drop because the cut already delivered them.
    pub edge_ids: Vec<String>,
    /// For fresh scans: where the never-read part begins (the part before
    /// it is the overlap, read again).
    #[serde(default)]
    pub new_from: Option<DateTime<Utc>>,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Ask for the next page of this scan.
    Page(ScanKind),
    /// Nothing is due before this time.
    Wait(DateTime<Utc>),
}

/// The planner's whole state; serializable, so a restart resumes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanState {
    /// The next fresh scan starts here: every second before it is read, or
    /// a gap.
    pub tip: DateTime<Utc>,
    pub last_fresh: Option<DateTime<Utc>>,
    pub rereads: Vec<Slice>,
    /// Newest first.
    pub gaps: Vec<Gap>,
    pub fresh: Option<Scan>,
    pub reread: Option<Scan>,
    pub gap: Option<Scan>,
    #[serde(default)]
    pub recent: Option<Scan>,
    #[serde(default)]
    pub last_recent: Option<DateTime<Utc>>,
}

pub struct Plan {
    pub settings: PlanSettings,
    pub state: PlanState,
    /// How far back freshness re-reads look; the poller sets it from the
    /// delays it learns.
    pub recent_reach: Duration,
}

/// Whole seconds, rounded down.
pub fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::seconds(1)).unwrap_or(t)
}

impl Plan {
    /// A new plan at `now` that backfills `backfill` of history.
    pub fn start(settings: PlanSettings, now: DateTime<Utc>, backfill: Duration) -> Self {
        let now = floor_second(now);
        let from = now - backfill.max(Duration::zero());
        let tip = (now - settings.first_fresh).max(from);
        let mut gaps = Vec::new();
        if from < tip {
            gaps.push(Gap {
                window: SecondsWindow {
                    start: from,
                    end: tip - Duration::seconds(1),
                },
                edge_ids: Vec::new(),
                backfill: true,
            });
        }
        let state = PlanState {
            tip,
            last_fresh: None,
            rereads: Vec::new(),
            gaps,
            fresh: None,
            reread: None,
            gap: None,
            recent: None,
            last_recent: None,
        };
        Self {
            settings,
            state,
            recent_reach: PRIOR_RECENT_REACH,
        }
    }

    /// Resumes a saved plan: the fresh scan goes on from the saved tip, so
    /// nothing between the runs is missed.
    pub fn resume(settings: PlanSettings, state: PlanState) -> Self {
        Self {
            settings,
            state,
            recent_reach: PRIOR_RECENT_REACH,
        }
    }

    /// The scan of this kind, if one is being paged.
    pub fn scan(&self, kind: ScanKind) -> Option<&Scan> {
        match kind {
            ScanKind::Fresh => self.state.fresh.as_ref(),
            ScanKind::Recent => self.state.recent.as_ref(),
            ScanKind::Reread => self.state.reread.as_ref(),
            ScanKind::Gap => self.state.gap.as_ref(),
        }
    }

    fn scan_mut(&mut self, kind: ScanKind) -> &mut Option<Scan> {
        match kind {
            ScanKind::Fresh => &mut self.state.fresh,
            ScanKind::Recent => &mut self.state.recent,
            ScanKind::Reread => &mut self.state.reread,
            ScanKind::Gap => &mut self.state.gap,
        }
    }

    /// Decides the next request, starting a scan when one is due.
    pub fn next(&mut self, now: DateTime<Utc>) -> Next {
        let now = floor_second(now);
        if self.state.fresh.is_some() {
            return Next::Page(ScanKind::Fresh);
        }
        let fresh_due = self
            .state
            .last_fresh
            .map_or(now, |t| t + self.settings.poll_interval);
        if now >= fresh_due && self.state.tip < now {
            self.state.last_fresh = Some(now);
            let tip = self.state.tip;
            // An account LookupEvents cannot keep up with gets no overlap:
            // its requests go to reading what was never read.
            let overlap = if self.overloaded() {
                Duration::zero()
            } else {
                self.settings.fresh_overlap
            };
            // Only time whose ids are remembered is read again (see
            // `recent_window`).
            let again_from = (now - overlap).max(self.reread_horizon());
            let mut scan = new_scan(
                ScanKind::Fresh,
                SecondsWindow {
                    start: tip.min(again_from),
                    end: now - Duration::seconds(1),
                },
                now,
            );
            scan.new_from = Some(tip);
            self.state.fresh = Some(scan);
            return Next::Page(ScanKind::Fresh);
        }
        if self.state.recent.is_some() {
            return Next::Page(ScanKind::Recent);
        }
        if let Some(scan) = self.take_due_recent(now) {
            self.state.recent = Some(scan);
            return Next::Page(ScanKind::Recent);
        }
        if self.state.reread.is_some() {
            return Next::Page(ScanKind::Reread);
        }
        if let Some(scan) = self.take_due_rereads(now) {
            self.state.reread = Some(scan);
            return Next::Page(ScanKind::Reread);
        }
        if self.state.gap.is_some() {
            return Next::Page(ScanKind::Gap);
        }
        if !self.state.gaps.is_empty() {
            let gap = self.state.gaps.remove(0);
            let mut scan = new_scan(ScanKind::Gap, gap.window, now);
            scan.edge_ids = gap.edge_ids;
            self.state.gap = Some(scan);
            return Next::Page(ScanKind::Gap);
        }
        let next_reread = self
            .state
            .rereads
            .iter()
            .map(|s| self.due(s) + self.settings.reread_batch)
            .min();
        let mut wake = next_reread.map_or(fresh_due, |r| r.min(fresh_due));
        if let Some(recent_due) = self.recent_due() {
            wake = wake.min(recent_due);
        }
        Next::Wait(wake.max(now + Duration::seconds(1)))
    }

    /// The stretch a freshness re-read covers at `now`: from `recent_reach`
    /// ago to where the fresh scan's overlap begins, within what was read.
    fn recent_window(&self, now: DateTime<Utc>) -> Option<SecondsWindow> {
        // Only time read before, whose ids are still remembered: a re-read
        // of time never read, or read so long ago that its ids are
        // forgotten, would deliver events a second time.
        let mut start = (now - self.recent_reach).max(self.reread_horizon());
        let unread = (self.state.gaps.iter().map(|g| g.window))
            .chain(self.state.gap.iter().map(|s| s.window));
        for window in unread {
            if window.end >= start {
                start = window.end + Duration::seconds(1);
            }
        }
        let end = (now - self.settings.fresh_overlap).min(self.state.tip) - Duration::seconds(1);
        (start <= end && self.settings.recent_max_pages > 0).then_some(SecondsWindow { start, end })
    }

    fn recent_due(&self) -> Option<DateTime<Utc>> {
        self.state.last_fresh?;
        Some(
            self.state
                .last_recent
                .map_or(self.state.tip, |t| t + self.settings.recent_every),
        )
    }

    fn take_due_recent(&mut self, now: DateTime<Utc>) -> Option<Scan> {
        if self.recent_due()? > now {
            return None;
        }
        let window = self.recent_window(now)?;
        self.state.last_recent = Some(now);
        Some(new_scan(ScanKind::Recent, window, now))
    }

    fn due(&self, slice: &Slice) -> DateTime<Utc> {
        slice.window.end + self.settings.rereads[slice.stage]
    }

    /// Starts a re-read when the oldest due slice has waited its batch
    /// time: every slice due by then that joins it without a hole, up to
    /// the longest span, in one window.
    fn take_due_rereads(&mut self, now: DateTime<Utc>) -> Option<Scan> {
        let oldest_due = self.state.rereads.iter().map(|s| self.due(s)).min()?;
        if oldest_due + self.settings.reread_batch > now {
            return None;
        }
        let mut due: Vec<Slice> = Vec::new();
        let mut rest: Vec<Slice> = Vec::new();
        for slice in std::mem::take(&mut self.state.rereads) {
            if self.due(&slice) <= now {
                due.push(slice);
            } else {
                rest.push(slice);
            }
        }
        due.sort_by_key(|s| s.window.start);
        let first = due.first()?.window;
        let mut window = first;
        let mut taken = Vec::new();
        for slice in due {
            let joins = slice.window.start <= window.end + Duration::seconds(1)
                && slice.window.end - window.start < self.settings.max_reread_span;
            if taken.is_empty() || joins {
                window.end = window.end.max(slice.window.end);
                taken.push(slice);
            } else {
                rest.push(slice);
            }
        }
        self.state.rereads = rest;
        let mut scan = new_scan(ScanKind::Reread, window, now);
        scan.slices = taken;
        Some(scan)
    }

    /// The request the scan of `kind` sends next.
    pub fn request(&self, kind: ScanKind) -> Option<(SecondsWindow, Option<&str>)> {
        self.scan(kind).map(|s| (s.window, s.token.as_deref()))
    }

    /// Records a page of `kind`: `times` are the event times it returned,
    /// `next_token` the token for the next page. `edge_ids` gives, when a
    /// fresh scan is cut, the ids already seen at its oldest second.
    pub fn on_page(
        &mut self,
        kind: ScanKind,
        times: &[DateTime<Utc>],
        next_token: Option<String>,
        edge_ids: impl FnOnce(DateTime<Utc>) -> Vec<String>,
    ) {
        let max_fresh_pages = self.settings.max_fresh_pages;
        let recent_max_pages = self.settings.recent_max_pages;
        let Some(scan) = self.scan_mut(kind).as_mut() else {
            return;
        };
        scan.pages += 1;
        scan.events += times.len() as u64;
        if let Some(oldest) = times.iter().min() {
            scan.oldest_seen = Some(scan.oldest_seen.map_or(*oldest, |o| o.min(*oldest)));
        }
        scan.token = next_token;
        let new_from = scan.new_from.unwrap_or(scan.window.start);
        let cut = kind == ScanKind::Fresh
            && scan.token.is_some()
            && scan.pages >= max_fresh_pages
            && scan.oldest_seen.is_some_and(|o| o > new_from);
        // The never-read part is done once the pages reach before it.
        let fresh_done = kind == ScanKind::Fresh
            && scan.token.is_some()
            && scan.oldest_seen.is_some_and(|o| o < new_from);
        let recent_done = kind == ScanKind::Recent && scan.pages >= recent_max_pages;
        if scan.token.is_some() && !cut && !fresh_done && !recent_done {
            return;
        }
        let Some(scan) = self.scan_mut(kind).take() else {
            return;
        };
        let new_from = scan.new_from.unwrap_or(scan.window.start);
        if cut {
            let oldest = scan.oldest_seen.unwrap_or(new_from);
            self.add_gap(Gap {
                window: SecondsWindow {
                    start: new_from,
                    end: oldest,
                },
                edge_ids: edge_ids(oldest),
                backfill: false,
            });
            let read = SecondsWindow {
                start: oldest,
                end: scan.window.end,
            };
            self.schedule_rereads(read, 0, scan.started);
            self.state.tip = scan.window.end + Duration::seconds(1);
            return;
        }
        match kind {
            ScanKind::Fresh => {
                self.state.tip = scan.window.end + Duration::seconds(1);
                let read = SecondsWindow {
                    start: new_from.min(scan.window.end),
                    end: scan.window.end,
                };
                self.schedule_rereads(read, 0, scan.started);
            }
            // Freshness only: the backstop re-reads of this stretch stay.
            ScanKind::Recent => {}
            ScanKind::Gap => self.schedule_rereads(scan.window, 0, scan.started),
            ScanKind::Reread => {
                for slice in scan.slices {
                    self.schedule_rereads(slice.window, slice.stage + 1, scan.started);
                }
            }
        }
    }

    /// Queues the re-reads from `stage` on that are still worth doing: a
    /// second read after its re-read's due time already showed all that
    /// re-read would. So only the newest part of a backfill is re-read.
    fn schedule_rereads(&mut self, window: SecondsWindow, stage: usize, read_at: DateTime<Utc>) {
        let mut upper = window.end;
        for i in stage..self.settings.rereads.len() {
            let lower = window
                .start
                .max(read_at - self.settings.rereads[i] + Duration::seconds(1));
            if lower <= upper {
                self.state.rereads.push(Slice {
                    window: SecondsWindow {
                        start: lower,
                        end: upper,
                    },
                    stage: i,
                });
                upper = lower - Duration::seconds(1);
            }
        }
    }

    fn add_gap(&mut self, gap: Gap) {
        let at = self
            .state
            .gaps
            .iter()
            .position(|g| g.window.end < gap.window.end)
            .unwrap_or(self.state.gaps.len());
        self.state.gaps.insert(at, gap);
    }

    /// Drops the token of a scan whose token AWS refused, so the window is
    /// read again from its newest page (duplicates are merged away).
    pub fn restart(&mut self, kind: ScanKind) {
        if let Some(scan) = self.scan_mut(kind).as_mut() {
            scan.token = None;
        }
    }

    /// Seconds of event time never read yet: gaps and unfinished scans.
    pub fn unread_seconds(&self) -> i64 {
        let gaps: i64 = self.state.gaps.iter().map(|g| g.window.seconds()).sum();
        let open: i64 = [&self.state.fresh, &self.state.gap]
            .into_iter()
            .flatten()
            .map(|s| {
                let oldest = s.oldest_seen.unwrap_or(s.window.end);
                let from = s.new_from.unwrap_or(s.window.start);
                (oldest - from).num_seconds().max(0)
            })
            .sum();
        gaps + open
    }

    /// Whether some of the recent past was cut off because the account
    /// produces more events than LookupEvents delivers.
    pub fn overloaded(&self) -> bool {
        self.state.gaps.iter().any(|g| !g.backfill)
    }

    /// The oldest time still to be read for the first time, if any.
    pub fn oldest_unread(&self) -> Option<DateTime<Utc>> {
        let gaps = self.state.gaps.iter().map(|g| g.window.start);
        let scan = self.state.gap.iter().map(|s| s.window.start);
        gaps.chain(scan).min()
    }

    /// The earliest event time that may still come again — in a re-read,
    /// or in a scan whose re-reads are not planned yet: ids delivered
    /// before it need not be remembered.
    pub fn reread_horizon(&self) -> DateTime<Utc> {
        let pending = self.state.rereads.iter().map(|s| s.window.start);
        let active = [
            &self.state.fresh,
            &self.state.recent,
            &self.state.reread,
            &self.state.gap,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.window.start);
        pending.chain(active).min().unwrap_or(self.state.tip)
    }
}

fn new_scan(kind: ScanKind, window: SecondsWindow, now: DateTime<Utc>) -> Scan {
    Scan {
        kind,
        window,
        token: None,
        pages: 0,
        events: 0,
        started: now,
        oldest_seen: None,
        slices: Vec::new(),
        edge_ids: Vec::new(),
        new_from: None,
    }
}
