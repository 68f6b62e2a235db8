//! Following one account's trail in S3 as it lands, beside LookupEvents:
//! each region's folder is listed again every interval from a few minutes
//! before the newest object read (CloudTrail can deliver several files in
//! one minute, and names them with a random suffix, so "after the last
//! key" alone would miss one), new objects are fetched and parsed by the
//! file reader's parser, and their events go through the source's one
//! set of delivered ids: each event is delivered once, by whichever path
//! brought it first.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use tokio::sync::watch;

use super::container::read_container;
use super::decode::{MAX_INFLATED, Sniffed, gunzip, sniff};
use super::lookup::SharedDelivered;
use super::outbox::Outbox;
use super::s3_notice::created_objects;
use super::s3_walk::{Leaf, WalkStats, Walker};
use super::trail_layout::{
    S3Url, Selection, TrailFileName, Verdict, day_prefix, start_after_time, verdict,
};
use crate::aws::{AwsError, ErrorKind, ListRequest, S3Reader, SqsReader};
use crate::clock::Clock;
use crate::event::{OwnIdentity, PackedEvent, Parsed, parse_record};
use crate::feed::{Health, SourceId, SourceMsg, TrailStatus};

/// How far before the newest object read each listing starts: later
/// files of the same minutes are still found.
const RELIST: Duration = Duration::minutes(15);
/// Events a message carries at most (see [`TrailFollower::read`]):
/// `tail`'s channel holds 64 messages and the dashboard's 256, so a slow
/// consumer makes the follower wait with 16 k or 64 k events queued, not
/// a whole object's.
const CHUNK: usize = 250;
/// The minutes before its delivery a CloudTrail file covers.
const FILE_SPAN: Duration = Duration::minutes(5);

/// One account's trail and the regions to follow in it.
pub struct TrailFollower {
    pub reader: S3Reader,
    pub url: S3Url,
    pub account: String,
    /// Each region's source and its delivered ids (shared with its
    /// LookupEvents poller).
    pub regions: Vec<(SourceId, SharedDelivered)>,
    /// Events before this are left out, as the pollers' backfill does.
    pub from: DateTime<Utc>,
    pub interval: StdDuration,
    pub own_identity: Option<OwnIdentity>,
    pub include_own_calls: bool,
    pub clock: Arc<dyn Clock>,
    pub tx: Outbox,
    /// New objects come as notifications on this queue (`--sqs-queue`)
    /// instead of by listing, after one listing for what came before.
    pub queue: Option<SqsReader>,
}

/// One region's folder being followed.
struct Leg {
    source: SourceId,
    ids: SharedDelivered,
    prefix: String,
    /// Keys read within [`RELIST`] of the newest: not fetched again.
    seen: BTreeSet<String>,
    /// The delivery stamp of the newest object read.
    newest: Option<DateTime<Utc>>,
    status: TrailStatus,
}

impl TrailFollower {
    /// Follows until `stop` or the consumer goes away.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut legs = match self.legs().await {
            Ok(legs) => legs,
            Err(message) => {
                for (_, ids) in &self.regions {
                    ids.set_trail_floor(None);
                }
                let location = self.url.to_string();
                say_unavailable(&self.regions, &location, &message, &self.tx).await;
                return;
            }
        };
        loop {
            for leg in &mut legs {
                if !self.poll(leg).await {
                    return;
                }
            }
            if let Some(queue) = &self.queue {
                self.follow_queue(queue, &mut legs, &mut stop).await;
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Reads the objects the queue's notifications name, as they come,
    /// and deletes each message once every object of the followed folders
    /// it names is read; a message whose object could not be read comes
    /// back after the queue's visibility timeout and is tried again.
    async fn follow_queue(
        &self,
        queue: &SqsReader,
        legs: &mut [Leg],
        stop: &mut watch::Receiver<bool>,
    ) {
        loop {
            let received = tokio::select! {
                received = queue.receive() => received,
                _ = stop.changed() => return,
            };
            let messages = match received {
                Ok(messages) => messages,
                Err(e) => {
                    for leg in legs.iter_mut() {
                        leg.status.health = Health::Failing {
                            message: format!("--sqs-queue: {e}"),
                        };
                        if !self.tx.send(SourceMsg::Trail(leg.status.clone())).await {
                            return;
                        }
                    }
                    tokio::select! {
                        () = tokio::time::sleep(self.interval) => continue,
                        _ = stop.changed() => return,
                    }
                }
            };
            let named: Vec<Vec<(usize, String)>> = messages
                .iter()
                .map(|m| self.followed(legs, &m.body))
                .collect();
            for (index, leg) in legs.iter_mut().enumerate() {
                let keys: Vec<String> = named
                    .iter()
                    .flatten()
                    .filter(|(i, k)| *i == index && !leg.seen.contains(k))
                    .map(|(_, k)| k.clone())
                    .collect();
                if !self.take(leg, keys, None).await {
                    return;
                }
            }
            for (message, keys) in messages.iter().zip(&named) {
                if keys.iter().all(|(i, k)| legs[*i].seen.contains(k))
                    && let Err(e) = queue.delete(&message.receipt).await
                {
                    tracing::warn!("--sqs-queue: cannot delete a handled message: {e}");
                }
            }
        }
    }

    /// The objects a notification names in the followed folders, each
    /// with its leg: the bucket must be the trail's and the key a log
    /// file under a followed region's folder.
    fn followed(&self, legs: &[Leg], body: &str) -> Vec<(usize, String)> {
        created_objects(body)
            .into_iter()
            .filter(|c| c.bucket == self.url.bucket)
            .filter(|c| verdict(&c.key, &Selection::default()) == Verdict::Read)
            .filter_map(|c| {
                let leg = legs.iter().position(|l| c.key.starts_with(&l.prefix))?;
                Some((leg, c.key))
            })
            .collect()
    }

    fn status(&self, source: &SourceId, health: Health) -> TrailStatus {
        new_status(source, &self.url.to_string(), health)
    }

    /// Each region's folder in the trail (organization trails included).
    async fn legs(&self) -> Result<Vec<Leg>, String> {
        let selection = Selection {
            accounts: vec![self.account.clone()],
            regions: self.regions.iter().map(|(s, _)| s.region.clone()).collect(),
            ..Selection::default()
        };
        let stats = WalkStats::default();
        let walker = Walker {
            reader: &self.reader,
            url: &self.url,
            selection: &selection,
            stats: &stats,
        };
        let (leaves, failures) = walker.leaves().await;
        if let Some(failure) = failures.first() {
            return Err(failure.to_string());
        }
        let mut legs = Vec::new();
        for leaf in leaves {
            let Leaf::Region(prefix) = leaf else {
                continue;
            };
            let region = prefix
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            let Some((source, ids)) = self.regions.iter().find(|(s, _)| s.region == region) else {
                continue;
            };
            // Until the trail has read them, the ids from here are kept.
            ids.set_trail_floor(Some(self.from));
            legs.push(Leg {
                source: source.clone(),
                ids: ids.clone(),
                prefix,
                seen: BTreeSet::new(),
                newest: None,
                status: self.status(source, Health::Starting),
            });
        }
        if legs.is_empty() {
            return Err(format!(
                "no folder of account {} for these regions in the trail",
                self.account
            ));
        }
        Ok(legs)
    }

    /// Lists one region's new objects and delivers their new events;
    /// false when the consumer is gone.
    async fn poll(&self, leg: &mut Leg) -> bool {
        let now = self.clock.now();
        // A file holds events from before its delivery stamp only, so
        // none stamped before `from` (a minute early, for clocks) is
        // needed; later listings start a while before the newest file,
        // for files of the same minutes delivered late.
        let floor = self.from - Duration::minutes(1);
        let since = leg.newest.map_or(floor, |n| (n - RELIST).max(floor));
        let mut fresh = Vec::new();
        let mut failure = None;
        for day in days(since, now) {
            let prefix = day_prefix(&leg.prefix, day);
            let after = start_after_time(&leg.prefix, day, since);
            match self.list(&prefix, after.as_deref()).await {
                Ok(keys) => fresh.extend(keys.into_iter().filter(|k| !leg.seen.contains(k))),
                Err(e) => failure = Some(e),
            }
        }
        self.take(leg, fresh, failure).await
    }

    /// Reads the new objects `fresh` in delivery order, delivers their new
    /// events, and says how the leg is; false when the consumer is gone.
    async fn take(&self, leg: &mut Leg, mut fresh: Vec<String>, failure: Option<AwsError>) -> bool {
        let now = self.clock.now();
        let mut failure = failure;
        fresh.sort_by_cached_key(|k| (stamp_of(k), k.clone()));
        fresh.dedup();
        for key in fresh {
            match self.read(leg, &key).await {
                Ok(consumer_alive) => {
                    if !consumer_alive {
                        return false;
                    }
                    leg.seen.insert(key.clone());
                    leg.status.objects += 1;
                    // Names come from the bucket: a stamp in the future
                    // must not move the listing (or "complete to") past now.
                    if let Some(stamp) = stamp_of(&key).map(|s| s.min(now)) {
                        leg.newest = leg.newest.max(Some(stamp));
                        // A quiet region's files hold no KMS event, yet
                        // say the minutes before their delivery are read.
                        leg.status.read_to = leg.status.read_to.max(Some(stamp - FILE_SPAN));
                    }
                }
                Err(e) if e.kind == ErrorKind::AccessDenied || e.kind == ErrorKind::NotFound => {
                    failure = Some(e);
                }
                Err(e) => {
                    // Asked again at the next listing.
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(newest) = leg.newest {
            let forget = newest - RELIST - Duration::minutes(5);
            leg.seen = leg
                .seen
                .split_off(&day_prefix(&leg.prefix, forget.date_naive()));
        }
        leg.ids
            .set_trail_floor(Some(leg.status.read_to.map_or(self.from, |t| t - RELIST)));
        let health = match failure {
            Some(e) if e.kind == ErrorKind::AccessDenied => Health::Unavailable {
                message: e.to_string(),
            },
            Some(e) => Health::Failing {
                message: e.to_string(),
            },
            None => match leg.status.read_to {
                Some(t) if now - t > Duration::minutes(20) => Health::Lagging {
                    seconds: (now - t).num_seconds(),
                },
                _ => Health::Ok,
            },
        };
        leg.status.health = health;
        self.tx.send(SourceMsg::Trail(leg.status.clone())).await
    }

    async fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<String>, AwsError> {
        let request = ListRequest {
            prefix,
            delimited: false,
            start_after: after,
            continuation: None,
        };
        let page = self.reader.list_all(request, || {}).await?;
        let selection = Selection::default();
        Ok(page
            .objects
            .into_iter()
            .map(|o| o.key)
            .filter(|k| verdict(k, &selection) == Verdict::Read)
            .collect())
    }

    /// Delivers one object's events that no path delivered before, in
    /// time order and in chunks of [`CHUNK`], packing each chunk only when
    /// it is sent: a busy account's object holds tens of thousands of
    /// events, and the bounded channel then holds packed copies of a few
    /// chunks, not of the whole object. False when the consumer is gone.
    async fn read(&self, leg: &mut Leg, key: &str) -> Result<bool, AwsError> {
        let now = self.clock.now();
        let bytes = self.reader.get(key, MAX_INFLATED).await?;
        let mut inflated = Vec::new();
        let raw = match sniff(&bytes) {
            Sniffed::Gzip => {
                gunzip(&bytes, &mut inflated)
                    .map_err(|e| AwsError::new(ErrorKind::Other, format!("{key}: {e}")))?;
                drop(bytes);
                &inflated
            }
            _ => &bytes,
        };
        // Read in place; only a file with bytes that are not UTF-8 is
        // copied (a busy account's file inflates to tens of MB). The strict
        // check first: it is several times faster than the lossy one.
        let text = match std::str::from_utf8(raw) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(raw),
        };
        let contents = read_container(&text)
            .map_err(|e| AwsError::new(ErrorKind::Other, format!("{key}: {e}")))?;
        let mut events = Vec::new();
        for item in &contents.items {
            let Ok(Parsed::Kms(event)) = parse_record(item.raw()) else {
                continue;
            };
            leg.status.read_to = leg.status.read_to.max(Some(event.time.min(now)));
            if event.time < self.from || !leg.ids.insert(&event.event_id, event.time) {
                continue;
            }
            let own = self.own_identity.as_ref().is_some_and(|me| me.made(&event));
            if own && !self.include_own_calls {
                continue;
            }
            events.push(event);
        }
        events.sort_by_key(|e| e.time);
        leg.status.events += events.len() as u64;
        for chunk in events.chunks(CHUNK) {
            let msg = SourceMsg::Events {
                source: leg.source.clone(),
                events: chunk.iter().map(|e| PackedEvent::pack(e)).collect(),
            };
            if !self.tx.send(msg).await {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn new_status(source: &SourceId, location: &str, health: Health) -> TrailStatus {
    TrailStatus {
        source: source.clone(),
        location: location.to_owned(),
        health,
        read_to: None,
        objects: 0,
        events: 0,
    }
}

/// Says once for each region why its trail is not read.
async fn say_unavailable(
    regions: &[(SourceId, SharedDelivered)],
    location: &str,
    message: &str,
    tx: &Outbox,
) {
    for (source, _) in regions {
        let health = Health::Unavailable {
            message: message.to_owned(),
        };
        if !tx
            .send(SourceMsg::Trail(new_status(source, location, health)))
            .await
        {
            return;
        }
    }
}

/// The delivery days from `since` to `now`.
fn days(since: DateTime<Utc>, now: DateTime<Utc>) -> Vec<NaiveDate> {
    since
        .date_naive()
        .iter_days()
        .take_while(|d| *d <= now.date_naive())
        .collect()
}

fn stamp_of(key: &str) -> Option<DateTime<Utc>> {
    TrailFileName::parse(key.rsplit('/').next().unwrap_or_default()).map(|f| f.stamp)
}

/// What following one account's trail starts from.
pub struct FollowSetup {
    pub config: aws_config::SdkConfig,
    pub account: String,
    pub regions: Vec<(SourceId, SharedDelivered)>,
    pub choice: super::trail_find::TrailChoice,
    /// `--sqs-queue`: the queue of the bucket's notifications.
    pub queue_url: Option<String>,
    /// The pollers' backfill start.
    pub from: DateTime<Utc>,
    /// When the pollers resumed from checkpoints: the oldest event time
    /// whose id they restored. Before it, nothing is known of what was
    /// delivered before the restart, so the trail starts there.
    pub resumed_from: Option<DateTime<Utc>>,
    pub interval: StdDuration,
    pub own_identity: Option<OwnIdentity>,
    pub include_own_calls: bool,
    pub clock: Arc<dyn Clock>,
    pub tx: Outbox,
}

/// Finds the account's trail and follows it; when there is none, says why
/// once for each region and ends (LookupEvents goes on alone).
pub async fn follow(setup: FollowSetup, stop: watch::Receiver<bool>) {
    let names: Vec<String> = setup
        .regions
        .iter()
        .map(|(s, _)| s.region.clone())
        .collect();
    let found = super::trail_find::find_trail(&setup.config, &names, &setup.choice).await;
    let (url, reader) = match found {
        Ok(found) => found,
        Err(why) => {
            let location = match &setup.choice {
                super::trail_find::TrailChoice::Named(name) => format!("trail {name}"),
                _ => "--trail auto".to_string(),
            };
            let message = format!("no trail to read: {why}");
            say_unavailable(&setup.regions, &location, &message, &setup.tx).await;
            return;
        }
    };
    let from = setup.resumed_from.map_or(setup.from, |t| t.max(setup.from));
    TrailFollower {
        reader,
        url,
        account: setup.account,
        regions: setup.regions,
        from,
        interval: setup.interval,
        own_identity: setup.own_identity,
        include_own_calls: setup.include_own_calls,
        clock: setup.clock,
        tx: setup.tx,
        queue: setup
            .queue_url
            .map(|url| SqsReader::new(&setup.config, &url)),
    }
    .run(stop)
    .await;
}

#[cfg(test)]
#[path = "trail_follow_tests.rs"]
mod tests;
