//! The CloudTrail poller of one account × region: asks the plan for the
//! next request, waits for the region's pacer, sends it, and delivers each
//! new event once. Failures leave the plan untouched, so the same request
//! is sent again after a pause: throttles and 5xx never lose a page.

use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

use super::checkpoint::Checkpoint;
use super::delay::DelayModel;
use super::pacer::Pacer;
use super::plan::{Next, PRIOR_RECENT_REACH, Plan, PlanSettings, ScanKind};
use super::seen::SharedDelivered;
use super::stats::Stats;
use super::sweep::MAX_PAGES_WITHOUT_PROGRESS;
use crate::aws::{AwsError, CloudTrailReader, ErrorKind, LookupPage, LookupWindow};
use crate::clock::Clock;
use crate::event::{OwnIdentity, PackedEvent, Parsed, parse_record};
use crate::feed::{Commit, Health, SourceId, SourceMsg};
use crate::source::inventory::{InventoryHandle, changes_key};
use crate::source::outbox::Outbox;

/// One LookupEvents request: what the poller needs from AWS (the SDK
/// reader in production, an in-memory table in unit tests).
pub trait LookupApi: Send + Sync + 'static {
    fn lookup(
        &self,
        window: LookupWindow,
        token: Option<String>,
    ) -> impl Future<Output = Result<LookupPage, AwsError>> + Send;
}

impl LookupApi for CloudTrailReader {
    async fn lookup(
        &self,
        window: LookupWindow,
        token: Option<String>,
    ) -> Result<LookupPage, AwsError> {
        self.lookup_kms_page(window, token.as_deref()).await
    }
}

#[derive(Debug, Clone)]
pub struct PollerSettings {
    pub plan: PlanSettings,
    /// History read at start (newest first) when there is no checkpoint.
    pub backfill: Duration,
    /// Deliver kmstop's own KMS calls too (they are left out by default).
    pub include_own_calls: bool,
    /// Who kmstop runs as in this account: only its calls can be left out
    /// as its own (`None`: nothing is).
    pub own_identity: Option<OwnIdentity>,
    /// Resume from and save to this file.
    pub checkpoint: Option<PathBuf>,
    /// Hand each checkpoint save to the consumer ([`SourceMsg::Commit`])
    /// behind the events it covers, instead of saving it here: the
    /// consumer saves it once those events are written out.
    pub commit_by_consumer: bool,
    /// The longest pause between retries of a failing request.
    pub max_backoff: StdDuration,
    /// Credentials errors on the very first request mean the region is not
    /// enabled for the account (the identity was checked elsewhere): stop.
    pub first_error_means_unavailable: bool,
    /// The key inventory of the same source: an event that changes a key
    /// (`ScheduleKeyDeletion`, `DisableKey`, …) makes it re-read that key.
    pub inventory: Option<InventoryHandle>,
    /// The ids delivered, shared with the source's trail follower so
    /// each event is delivered once by whichever path is first.
    pub delivered: SharedDelivered,
}

impl Default for PollerSettings {
    fn default() -> Self {
        Self {
            plan: PlanSettings::default(),
            backfill: Duration::hours(1),
            include_own_calls: false,
            own_identity: None,
            checkpoint: None,
            commit_by_consumer: false,
            max_backoff: StdDuration::from_secs(30),
            first_error_means_unavailable: true,
            inventory: None,
            delivered: SharedDelivered::default(),
        }
    }
}

/// Everything one poller owns.
pub struct Poller<A> {
    api: A,
    source: SourceId,
    settings: PollerSettings,
    pacer: Arc<Pacer>,
    clock: Arc<dyn Clock>,
    to_app: Outbox,
    plan: Plan,
    delivered: SharedDelivered,
    stats: Stats,
    last_saved: Option<DateTime<Utc>>,
    delays: DelayModel,
    /// Events before this were history when the poller started: how late
    /// they were delivered says nothing about the delays now.
    started: DateTime<Utc>,
    /// Each running scan's tokens and event ids so far: pages that loop or
    /// go nowhere end the scan (see [`Poller::check_paging`]).
    paging: std::collections::HashMap<ScanKind, Paging>,
    /// Why the last scan was ended as stuck, for the next status.
    stuck: Option<String>,
}

/// How a poller ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// Asked to stop (its checkpoint, if any, is saved).
    Stopped,
    /// The consumer went away.
    Disconnected,
    /// The region cannot be read at all.
    Unavailable(String),
}

impl<A: LookupApi> Poller<A> {
    /// A poller that resumes from its checkpoint when there is a readable
    /// one, else backfills `settings.backfill`.
    pub fn new(
        api: A,
        source: SourceId,
        settings: PollerSettings,
        pacer: Arc<Pacer>,
        clock: Arc<dyn Clock>,
        to_app: impl Into<Outbox>,
    ) -> Self {
        let now = clock.now();
        let saved =
            settings
                .checkpoint
                .as_deref()
                .and_then(|path| match Checkpoint::load(path, &source) {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::warn!("{source}: ignoring checkpoint: {e}");
                        None
                    }
                });
        let delivered = settings.delivered.clone();
        let plan = match saved {
            Some(c) => {
                delivered.restore(c.delivered);
                Plan::resume(settings.plan.clone(), c.plan)
            }
            None => Plan::start(settings.plan.clone(), now, settings.backfill),
        };
        Self {
            api,
            stats: Stats::new(source.clone()),
            source,
            settings,
            pacer,
            clock,
            to_app: to_app.into(),
            plan,
            delivered,
            last_saved: None,
            delays: DelayModel::new(
                PRIOR_RECENT_REACH,
                Duration::seconds(30),
                Duration::minutes(5),
            ),
            started: now,
            paging: std::collections::HashMap::new(),
            stuck: None,
        }
    }

    /// Polls until `stop` turns true or the consumer goes away.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Ended {
        let ended = self.poll_loop(&mut stop).await;
        self.save_checkpoint().await;
        if let Ended::Unavailable(message) = &ended {
            self.stats.health = Health::Unavailable {
                message: message.clone(),
            };
            self.send_status(true).await;
        }
        ended
    }

    async fn poll_loop(&mut self, stop: &mut watch::Receiver<bool>) -> Ended {
        let mut failures: u32 = 0;
        loop {
            if *stop.borrow() {
                return Ended::Stopped;
            }
            let now = self.clock.now();
            let kind = match self.plan.next(now) {
                Next::Page(kind) => kind,
                Next::Wait(until) => {
                    if !self.send_status(false).await {
                        return Ended::Disconnected;
                    }
                    let wait = (until - now).to_std().unwrap_or(StdDuration::ZERO);
                    if stopped_during(stop, wait).await {
                        return Ended::Stopped;
                    }
                    continue;
                }
            };
            let Some((window, token)) = self.plan.request(kind) else {
                continue;
            };
            let request = (
                LookupWindow {
                    start: window.start,
                    end: window.end,
                },
                token.map(str::to_string),
            );
            tokio::select! {
                () = self.pacer.acquire() => {}
                _ = stop.changed() => return Ended::Stopped,
            }
            self.stats.requests += 1;
            let result = tokio::select! {
                r = self.api.lookup(request.0, request.1) => r,
                _ = stop.changed() => return Ended::Stopped,
            };
            match result {
                Ok(page) => {
                    failures = 0;
                    if !self.take_page(kind, page).await {
                        return Ended::Disconnected;
                    }
                }
                Err(e) => {
                    failures += 1;
                    if let Some(ended) = self.on_error(kind, &e, failures) {
                        return ended;
                    }
                    if !self.send_status(true).await {
                        return Ended::Disconnected;
                    }
                    if stopped_during(stop, self.backoff(&e, failures)).await {
                        return Ended::Stopped;
                    }
                }
            }
        }
    }

    /// Has the inventory re-read every key these events changed.
    fn ask_inventory(&self, events: &[PackedEvent]) {
        let Some(inventory) = &self.settings.inventory else {
            return;
        };
        for e in events {
            let e = e.view();
            if changes_key(&e.event_name)
                && let Some(key) = &e.key
            {
                inventory.refresh_key(&key.arn);
            }
        }
    }

    /// Delivers a page's new events and moves the plan on; false when the
    /// consumer is gone.
    async fn take_page(&mut self, kind: ScanKind, page: LookupPage) -> bool {
        let now = self.clock.now();
        let edge: Vec<String> = self
            .plan
            .scan(kind)
            .map_or_else(Vec::new, |s| s.edge_ids.clone());
        let mut times = Vec::with_capacity(page.events.len());
        let mut fresh_events = Vec::new();
        let page_ids: Vec<String> = page.events.iter().map(|e| e.event_id.clone()).collect();
        for item in page.events {
            let Some(record) = item.record.as_deref() else {
                self.stats.malformed += 1;
                continue;
            };
            let event = match parse_record(record) {
                Ok(Parsed::Kms(event)) => event,
                Ok(Parsed::NonKms) => continue,
                Err(e) => {
                    self.stats.malformed += 1;
                    tracing::warn!(
                        "{}: unreadable CloudTrailEvent {}: {e}",
                        self.source,
                        item.event_id
                    );
                    continue;
                }
            };
            times.push(event.time);
            let id = if item.event_id.is_empty() {
                event.event_id.to_string()
            } else {
                item.event_id.clone()
            };
            if edge.contains(&id) || !self.delivered.insert(&id, event.time) {
                self.stats.duplicates += 1;
                continue;
            }
            if kind != ScanKind::Gap && event.time >= self.started {
                self.delays.observe(now - event.time);
            }
            let overlap = self
                .plan
                .scan(kind)
                .and_then(|s| s.new_from)
                .is_some_and(|from| event.time < from);
            if matches!(kind, ScanKind::Reread | ScanKind::Recent) || overlap {
                self.stats.late_found += 1;
            }
            if !self.settings.include_own_calls
                && self
                    .settings
                    .own_identity
                    .as_ref()
                    .is_some_and(|me| me.made(&event))
            {
                self.stats.own_calls += 1;
                continue;
            }
            fresh_events.push(PackedEvent::pack(&event));
        }
        let delivered = fresh_events.len() as u64;
        self.ask_inventory(&fresh_events);
        if !fresh_events.is_empty() {
            fresh_events.sort_by_key(PackedEvent::time);
            let update = SourceMsg::Events {
                source: self.source.clone(),
                events: fresh_events,
            };
            if !self.to_app.send(update).await {
                return false;
            }
        }
        self.stats.events += delivered;
        let next_token = self.check_paging(kind, page.next_token, &page_ids);
        let finished_fresh = kind == ScanKind::Fresh && next_token.is_none();
        let scan = self.plan.scan(kind).cloned();
        let delivered_ids = &self.delivered;
        self.plan
            .on_page(kind, &times, next_token, |t| delivered_ids.at_second(t));
        if let Some(scan) = scan
            && (finished_fresh || (kind == ScanKind::Fresh && self.plan.scan(kind).is_none()))
        {
            self.stats.observe_fresh(&scan, times.len() as u64);
        }
        self.plan.recent_reach = self.delays.reach();
        self.stats.recent_in = self.delays.expected_in(Duration::minutes(5));
        self.stats.minute_in = self.delays.expected_in(Duration::minutes(1));
        self.stats.delay_percentiles = self.delays.percentiles().map(Into::into);
        self.stats.health_after_success(&self.plan, now);
        if let Some(message) = self.stuck.take() {
            self.stats.health = Health::Failing { message };
        }
        self.delivered.forget_before(self.plan.reread_horizon());
        if delivered > 0 {
            self.maybe_save(now).await;
        }
        self.send_status(false).await
    }

    /// Sorts a failure; `Some` when the poller must end.
    fn on_error(&mut self, kind: ScanKind, e: &AwsError, failures: u32) -> Option<Ended> {
        tracing::info!("{}: LookupEvents failed ({failures}): {e}", self.source);
        self.stats.last_error = Some(e.to_string());
        match e.kind {
            ErrorKind::Throttled => {
                self.stats.throttles += 1;
                self.stats.health = Health::Throttled;
            }
            ErrorKind::Credentials
                if self.settings.first_error_means_unavailable && self.stats.successes() == 0 =>
            {
                return Some(Ended::Unavailable(format!(
                    "not enabled for this account, or the credentials are not valid here: {e}"
                )));
            }
            _ => {
                self.stats.errors += 1;
                if e.code.as_deref() == Some("InvalidNextTokenException") {
                    self.plan.restart(kind);
                }
                self.stats.health = Health::Failing {
                    message: e.to_string(),
                };
            }
        }
        None
    }

    /// Longer pauses for longer failure streaks; permission and credential
    /// problems wait a minute (someone may be fixing them right now).
    fn backoff(&self, e: &AwsError, failures: u32) -> StdDuration {
        let base = match e.kind {
            ErrorKind::Credentials | ErrorKind::AccessDenied => StdDuration::from_mins(1),
            ErrorKind::Throttled => StdDuration::from_millis(500 * u64::from(failures.min(20))),
            _ => StdDuration::from_secs(1 << failures.min(5)),
        };
        base.min(self.settings.max_backoff.max(StdDuration::from_millis(100)))
    }

    /// Sends the status when it changed or `force`; false when the
    /// consumer is gone.
    async fn send_status(&mut self, force: bool) -> bool {
        let status = self.stats.status(&self.plan);
        if !force && !self.stats.changed(&status) {
            return true;
        }
        self.stats.remember(status.clone());
        self.to_app.send(SourceMsg::Status(status)).await
    }

    async fn maybe_save(&mut self, now: DateTime<Utc>) {
        let interval = save_interval(self.delivered.len());
        let due = self.last_saved.is_none_or(|t| now - t >= interval);
        if due {
            self.save_checkpoint().await;
            self.last_saved = Some(now);
        }
    }

    async fn save_checkpoint(&self) {
        let Some(path) = self.settings.checkpoint.clone() else {
            return;
        };
        let checkpoint = Checkpoint {
            source: self.source.clone(),
            plan: self.plan.state.clone(),
            delivered: self.delivered.snapshot(),
        };
        if self.settings.commit_by_consumer {
            let source = self.source.clone();
            let commit = Commit::new(move || {
                checkpoint.save(&path).map_err(|e| {
                    std::io::Error::other(format!(
                        "{source}: cannot save checkpoint {}: {e}",
                        path.display()
                    ))
                })
            });
            // A consumer that is gone has nothing left to commit.
            let _ = self.to_app.send(SourceMsg::Commit(commit)).await;
            return;
        }
        if let Err(e) = checkpoint.save(&path) {
            tracing::warn!(
                "{}: cannot save checkpoint {}: {e}",
                self.source,
                path.display()
            );
        }
    }
}

/// How often a checkpoint holding `ids` delivered ids is saved. Small:
/// after every delivering page, so a crash repeats little. Each save
/// writes every id, so larger ones space out: every 10 s, and with the
/// trail's millions of ids (15 minutes of a busy account) every 10 s per
/// 200 000, up to 2 minutes — a stop still saves, only a crash repeats.
fn save_interval(ids: usize) -> Duration {
    if ids < 20_000 {
        return Duration::zero();
    }
    let steps = i64::try_from(ids / 200_000)
        .unwrap_or(i64::MAX)
        .clamp(1, 12);
    Duration::seconds(10 * steps)
}

/// A scan's pages so far.
#[derive(Default)]
struct Paging {
    tokens: HashSet<String>,
    ids: HashSet<String>,
    idle: u32,
}

impl<A: LookupApi> Poller<A> {
    /// A scan's pages must end. A token given twice, or
    /// [`MAX_PAGES_WITHOUT_PROGRESS`] pages in a row with no event id new
    /// to the scan, end it here (a hostile or broken endpoint would
    /// otherwise keep kmstop paging forever, in silence); the region shows
    /// failing with why.
    fn check_paging(
        &mut self,
        kind: ScanKind,
        token: Option<String>,
        page_ids: &[String],
    ) -> Option<String> {
        let Some(token) = token else {
            self.paging.remove(&kind);
            return None;
        };
        let p = self.paging.entry(kind).or_default();
        let mut progressed = false;
        for id in page_ids {
            progressed |= p.ids.insert(id.clone());
        }
        p.idle = if progressed { 0 } else { p.idle + 1 };
        let why = if !p.tokens.insert(token.clone()) {
            "LookupEvents gave a NextToken it had given before: its pages loop"
        } else if p.idle >= MAX_PAGES_WITHOUT_PROGRESS {
            "LookupEvents sent page after page with no new event: its pages go nowhere"
        } else {
            return Some(token);
        };
        self.paging.remove(&kind);
        self.stats.errors += 1;
        tracing::warn!("{}: {why}; that scan was ended", self.source);
        self.stuck = Some(format!("{why}; that scan was ended"));
        None
    }
}

async fn stopped_during(stop: &mut watch::Receiver<bool>, wait: StdDuration) -> bool {
    if wait.is_zero() {
        return *stop.borrow();
    }
    tokio::select! {
        () = tokio::time::sleep(wait) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

#[cfg(test)]
mod save_tests {
    use super::*;

    #[test]
    fn saves_space_out_as_the_ids_grow() {
        assert_eq!(save_interval(19_999), Duration::zero());
        assert_eq!(save_interval(20_000), Duration::seconds(10));
        assert_eq!(save_interval(399_999), Duration::seconds(10));
        assert_eq!(save_interval(1_000_000), Duration::seconds(50));
        assert_eq!(save_interval(2_200_000), Duration::seconds(110));
        assert_eq!(save_interval(usize::MAX), Duration::minutes(2));
    }
}
