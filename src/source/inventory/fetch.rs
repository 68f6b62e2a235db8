//! Reading the key facts of one account × region: one `ListKeys` and one
//! `ListAliases` for the region, then a few read calls per key, a handful
//! of keys at a time. A key whose call fails keeps its row: the field is
//! marked in [`KeyFacts::unreadable`] and the rest of the key is read.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::aws::{AliasEntry, AwsError, ErrorKind, KeyDescription, KmsReader, ListedKey};
use crate::feed::SourceId;
use crate::inventory::KeyFacts;

/// Keys read at the same time: enough to read a few hundred keys in
/// seconds, few enough to stay far below KMS's per-account request quotas.
pub const CONCURRENCY: usize = 4;
/// How long a `GetKeyLastUsage` answer is reused: the API has a low quota
/// and "last used" moves slowly at the scale a person reads it.
pub const LAST_USAGE_TTL: Duration = Duration::hours(1);

/// [`KeyFacts::unreadable`] marks.
pub const NO_ACCESS: &str = "no access";
pub const NOT_APPLICABLE: &str = "n/a";
/// The call failed for another reason (reported as a problem).
pub const FAILED: &str = "error";

/// The fields `DescribeKey` fills, marked together when it fails.
const DESCRIBE_FIELDS: &[&str] = &[
    "description",
    "state",
    "key_manager",
    "key_spec",
    "key_usage",
    "origin",
    "multi_region",
    "created",
    "deletion_date",
];
const ROTATION_FIELDS: &[&str] = &["rotation_enabled", "rotation_period_days", "next_rotation"];

/// The keys of one region, and what could not be read (one line each,
/// for stderr or a log; the keys themselves carry the marks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionInventory {
    pub keys: Vec<KeyFacts>,
    pub problems: Vec<String>,
}

/// `GetKeyLastUsage` answers by key id, reused for [`LAST_USAGE_TTL`]
/// (and kept on disk between quick runs of `kmstop keys`: [`super::disk`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastUsageCache {
    entries: HashMap<String, (DateTime<Utc>, LastUsed)>,
    /// When the endpoint said it does not know the operation: it is not
    /// asked again until the TTL has passed.
    unknown_operation_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum LastUsed {
    /// Kept for caches written before tracking starts were kept.
    Known(Option<DateTime<Utc>>),
    /// Kept for caches written before the evidence was kept.
    Tracked(Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    /// The last use, since when KMS tracks it, and the use's operation and
    /// CloudTrail event id.
    Evidenced {
        used: Option<DateTime<Utc>>,
        since: Option<DateTime<Utc>>,
        operation: Option<String>,
        event_id: Option<String>,
    },
    NoAccess,
}

impl LastUsed {
    /// Whether the texts are as short as the reader keeps them: a cache
    /// file is not trusted to be.
    fn is_bounded(&self) -> bool {
        match self {
            Self::Evidenced {
                operation,
                event_id,
                ..
            } => [operation, event_id]
                .iter()
                .all(|t| t.as_ref().is_none_or(|t| t.len() <= 2048)),
            _ => true,
        }
    }
}

impl LastUsageCache {
    fn fresh(at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now - at < LAST_USAGE_TTL
    }

    /// The cached answer for `key_id`, if still fresh.
    fn get(&self, key_id: &str, now: DateTime<Utc>) -> Option<LastUsed> {
        self.entries
            .get(key_id)
            .filter(|(at, _)| Self::fresh(*at, now))
            .map(|(_, v)| v.clone())
    }

    fn endpoint_lacks_it(&self, now: DateTime<Utc>) -> bool {
        self.unknown_operation_at
            .is_some_and(|at| Self::fresh(at, now))
    }

    /// Answers at most `ttl` old and none from the future (a file's time
    /// never moves the clock); at most `max` of them, and only for ids
    /// shaped like key ids. What a cache read from disk keeps.
    pub fn keep_recent(&mut self, now: DateTime<Utc>, ttl: Duration, max: usize) {
        let recent = |at: DateTime<Utc>| at <= now && now - at < ttl;
        self.entries
            .retain(|id, (at, v)| recent(*at) && is_key_id(id) && v.is_bounded());
        if self.entries.len() > max {
            self.entries.clear();
        }
        self.unknown_operation_at = self.unknown_operation_at.filter(|at| recent(*at));
    }

    /// A cache holding one answer (tests).
    #[cfg(test)]
    pub(super) fn with_answer(
        mut self,
        key_id: &str,
        at: DateTime<Utc>,
        last_used: Option<DateTime<Utc>>,
    ) -> Self {
        self.entries
            .insert(key_id.to_owned(), (at, LastUsed::Known(last_used)));
        self
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.unknown_operation_at.is_none()
    }

    /// Forgets keys that no longer exist and stale answers.
    fn prune(&mut self, listed: &[ListedKey], now: DateTime<Utc>) {
        self.entries
            .retain(|id, (at, _)| Self::fresh(*at, now) && listed.iter().any(|k| &k.key_id == id));
    }
}

/// What reading one key produced, before it is folded into the region.
struct KeyRead {
    facts: KeyFacts,
    problems: Vec<String>,
    /// A new `GetKeyLastUsage` answer to cache.
    last_used: Option<LastUsed>,
    /// The endpoint does not implement `GetKeyLastUsage`.
    unknown_operation: bool,
}

/// Shared by the keys of one pass: once `GetKeyLastUsage` failed (other
/// than access denied), the rest of the pass does not ask.
#[derive(Clone)]
struct LastUsagePlan {
    stop: Arc<AtomicBool>,
}

/// Reads every key of the region. Only a failure of `ListKeys` fails the
/// region; everything else marks fields.
pub async fn fetch_region(
    reader: &KmsReader,
    source: &SourceId,
    cache: &mut LastUsageCache,
    now: DateTime<Utc>,
) -> Result<RegionInventory, AwsError> {
    let listed = reader.list_keys().await?;
    let mut problems = Vec::new();
    let aliases = read_aliases(reader, source, &mut problems).await;
    cache.prune(&listed, now);
    let plan = LastUsagePlan {
        stop: Arc::new(AtomicBool::new(cache.endpoint_lacks_it(now))),
    };
    let jobs: Vec<(ListedKey, Option<LastUsed>)> = listed
        .into_iter()
        .map(|k| {
            let cached = cache.get(&k.key_id, now);
            (k, cached)
        })
        .collect();
    let reads = bounded(jobs, CONCURRENCY, |(key, cached)| {
        let reader = reader.clone();
        let source = source.clone();
        let aliases = aliases.clone();
        let plan = plan.clone();
        async move { read_key(&reader, &source, key, &aliases, cached, &plan).await }
    })
    .await;
    let mut keys = Vec::with_capacity(reads.len());
    for read in reads {
        remember(cache, &read, now);
        problems.extend(read.problems);
        keys.push(read.facts);
    }
    Ok(RegionInventory { keys, problems })
}

/// Reads one key (by id or ARN) afresh, aliases included: what an event
/// that changed the key asks for. `Ok(None)` when the key no longer
/// exists.
pub async fn fetch_key(
    reader: &KmsReader,
    source: &SourceId,
    id: &str,
    cache: &mut LastUsageCache,
    now: DateTime<Utc>,
) -> Result<Option<(KeyFacts, Vec<String>)>, AwsError> {
    let description = reader.describe_key(id).await;
    let listed = match &description {
        Ok(d) => ListedKey {
            arn: d.facts.arn.clone(),
            key_id: d.facts.key_id.clone().unwrap_or_else(|| id.to_string()),
        },
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        // A key the reader may not describe keeps its row, as in a full
        // read, when the request named it by ARN (events do).
        Err(e) if e.kind == ErrorKind::AccessDenied => match key_id_of_arn(id) {
            Some(key_id) => ListedKey {
                arn: id.to_string(),
                key_id: key_id.to_string(),
            },
            None => return Err(e.clone()),
        },
        Err(e) => return Err(e.clone()),
    };
    let mut problems = Vec::new();
    let aliases = read_aliases(reader, source, &mut problems).await;
    let plan = LastUsagePlan {
        stop: Arc::new(AtomicBool::new(cache.endpoint_lacks_it(now))),
    };
    let cached = cache.get(&listed.key_id, now);
    let read = read_described(reader, source, listed, description, &aliases, cached, &plan).await;
    remember(cache, &read, now);
    problems.extend(read.problems);
    Ok(Some((read.facts, problems)))
}

/// A KMS key id: a UUID, or `mrk-` and hex for a multi-Region key.
fn is_key_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `…:key/<id>` → `<id>`.
fn key_id_of_arn(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?
        .split_once(":key/")
        .map(|(_, id)| id)
        .filter(|id| !id.is_empty())
}

fn remember(cache: &mut LastUsageCache, read: &KeyRead, now: DateTime<Utc>) {
    if read.unknown_operation {
        cache.unknown_operation_at = Some(now);
    }
    if let (Some(value), Some(id)) = (&read.last_used, read.facts.key_id.as_ref()) {
        cache.entries.insert(id.clone(), (now, value.clone()));
    }
}

/// Alias names by target key id, each list sorted; an error marks every
/// key's aliases instead (carried in the `Err`).
type Aliases = Result<HashMap<String, Vec<String>>, &'static str>;

async fn read_aliases(
    reader: &KmsReader,
    source: &SourceId,
    problems: &mut Vec<String>,
) -> Arc<Aliases> {
    let aliases = match reader.list_aliases().await {
        Ok(list) => Ok(by_key(list)),
        Err(e) => {
            let mark = mark_for(&e);
            if mark == FAILED {
                problems.push(format!("{source}: ListAliases: {e}"));
            }
            Err(mark)
        }
    };
    Arc::new(aliases)
}

fn by_key(list: Vec<AliasEntry>) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for alias in list {
        if let Some(target) = alias.target_key_id {
            map.entry(target).or_default().push(alias.name);
        }
    }
    for names in map.values_mut() {
        names.sort();
    }
    map
}

/// How a failed call marks its field.
fn mark_for(err: &AwsError) -> &'static str {
    match err.kind {
        ErrorKind::AccessDenied => NO_ACCESS,
        ErrorKind::Unsupported => NOT_APPLICABLE,
        // The key's state forbids the call (pending import, unavailable):
        // the fact does not exist for it right now.
        _ if err.code.as_deref() == Some("KMSInvalidStateException") => NOT_APPLICABLE,
        _ => FAILED,
    }
}

fn mark(unreadable: &mut BTreeMap<String, String>, fields: &[&str], value: &str) {
    for f in fields {
        unreadable.insert((*f).to_string(), value.to_string());
    }
}

async fn read_key(
    reader: &KmsReader,
    source: &SourceId,
    listed: ListedKey,
    aliases: &Aliases,
    cached: Option<LastUsed>,
    plan: &LastUsagePlan,
) -> KeyRead {
    let description = reader.describe_key(&listed.key_id).await;
    read_described(reader, source, listed, description, aliases, cached, plan).await
}

/// The per-key calls after `DescribeKey`: rotation, rotations, policy,
/// last usage.
async fn read_described(
    reader: &KmsReader,
    source: &SourceId,
    listed: ListedKey,
    description: Result<KeyDescription, AwsError>,
    aliases: &Aliases,
    cached: Option<LastUsed>,
    plan: &LastUsagePlan,
) -> KeyRead {
    let id = listed.key_id.clone();
    let mut problems = Vec::new();
    let mut problem = |call: &str, e: &AwsError| {
        problems.push(format!("{source}: key {id}: {call}: {e}"));
    };
    let (mut facts, can_rotate) = match description {
        Ok(d) => {
            let can = d.can_rotate();
            (d.facts, Some(can))
        }
        Err(e) => {
            let m = mark_for(&e);
            if m == FAILED {
                problem("DescribeKey", &e);
            }
            let mut facts = KeyFacts::default();
            mark(&mut facts.unreadable, DESCRIBE_FIELDS, m);
            (facts, None)
        }
    };
    // The listing and the source name the key; DescribeKey may add its
    // account.
    if !listed.arn.is_empty() {
        facts.arn = listed.arn;
    }
    facts.key_id = Some(listed.key_id.clone());
    facts.account.get_or_insert_with(|| source.account.clone());
    facts.region = Some(source.region.clone());
    match aliases {
        Ok(map) => facts.aliases = map.get(&listed.key_id).cloned().unwrap_or_default(),
        Err(m) => mark(&mut facts.unreadable, &["aliases"], m),
    }
    if can_rotate == Some(false) {
        // Asymmetric, HMAC, imported or custom-store keys: rotation does
        // not exist for them, so kmstop does not ask.
        mark(&mut facts.unreadable, ROTATION_FIELDS, NOT_APPLICABLE);
        mark(&mut facts.unreadable, &["last_rotated"], NOT_APPLICABLE);
    } else {
        match reader.rotation_status(&id).await {
            Ok(Some(status)) => {
                facts.rotation_enabled = Some(status.enabled);
                facts.rotation_period_days = status.period_days;
                facts.next_rotation = status.next_rotation;
                if !status.enabled {
                    // No automatic rotation: no period, no next date.
                    mark(
                        &mut facts.unreadable,
                        &["rotation_period_days", "next_rotation"],
                        NOT_APPLICABLE,
                    );
                }
            }
            Ok(None) => mark(&mut facts.unreadable, ROTATION_FIELDS, NOT_APPLICABLE),
            Err(e) => {
                let m = mark_for(&e);
                if m == FAILED {
                    problem("GetKeyRotationStatus", &e);
                }
                mark(&mut facts.unreadable, ROTATION_FIELDS, m);
            }
        }
        match reader.last_rotation(&id).await {
            Ok(date) => facts.last_rotated = date,
            Err(e) => {
                let m = mark_for(&e);
                if m == FAILED {
                    problem("ListKeyRotations", &e);
                }
                mark(&mut facts.unreadable, &["last_rotated"], m);
            }
        }
    }
    match reader.key_policy(&id).await {
        Ok(policy) => facts.policy = policy,
        Err(e) => {
            let m = mark_for(&e);
            if m == FAILED {
                problem("GetKeyPolicy", &e);
            }
            mark(&mut facts.unreadable, &["policy"], m);
        }
    }
    read_grants(reader, &id, &mut facts, &mut problem).await;
    let (last_used, unknown_operation) = if cached.is_some() {
        (None, false)
    } else {
        read_last_usage(reader, &id, plan, &mut problem).await
    };
    show_last_used(&mut facts, last_used.clone().or(cached));
    KeyRead {
        facts,
        problems,
        last_used,
        unknown_operation,
    }
}

/// Puts a `GetKeyLastUsage` answer (new or cached) into the key's facts.
fn show_last_used(facts: &mut KeyFacts, shown: Option<LastUsed>) {
    match shown {
        Some(LastUsed::Known(t)) => facts.last_used = t,
        Some(LastUsed::Tracked(t, since)) => {
            facts.last_used = t;
            facts.last_used_tracked_since = since;
        }
        Some(LastUsed::Evidenced {
            used,
            since,
            operation,
            event_id,
        }) => {
            facts.last_used = used;
            facts.last_used_tracked_since = since;
            facts.last_used_operation = operation;
            facts.last_used_event_id = event_id;
        }
        Some(LastUsed::NoAccess) => mark(&mut facts.unreadable, &["last_used"], NO_ACCESS),
        None => {}
    }
}

/// `ListGrants` for a customer-managed key (or one whose manager is
/// unknown): who may use it through a grant. AWS-managed keys cannot be
/// deleted, so their grants are not asked for.
async fn read_grants(
    reader: &KmsReader,
    id: &str,
    facts: &mut KeyFacts,
    problem: &mut impl FnMut(&str, &AwsError),
) {
    if facts.key_manager.as_deref() == Some("AWS") {
        mark(&mut facts.unreadable, &["grants"], NOT_APPLICABLE);
        return;
    }
    match reader.grants(id).await {
        Ok(grants) => facts.grants = Some(grants),
        Err(e) => {
            let m = mark_for(&e);
            if m == FAILED {
                problem("ListGrants", &e);
            }
            mark(&mut facts.unreadable, &["grants"], m);
        }
    }
}

/// `GetKeyLastUsage` for one key unless the pass stopped asking. An
/// endpoint without the operation, or any failure but access denied,
/// leaves the field unknown and stops the pass from asking again.
async fn read_last_usage(
    reader: &KmsReader,
    id: &str,
    plan: &LastUsagePlan,
    problem: &mut impl FnMut(&str, &AwsError),
) -> (Option<LastUsed>, bool) {
    if plan.stop.load(Ordering::Relaxed) {
        return (None, false);
    }
    match reader.last_usage(id).await {
        Ok(Some(usage)) => (
            Some(LastUsed::Evidenced {
                used: usage.last_used,
                since: usage.tracking_start,
                operation: usage.operation,
                event_id: usage.event_id,
            }),
            false,
        ),
        Ok(None) => {
            plan.stop.store(true, Ordering::Relaxed);
            (None, true)
        }
        Err(e) if e.kind == ErrorKind::AccessDenied => (Some(LastUsed::NoAccess), false),
        Err(e) => {
            // Report only the first failure of the pass, not one per key.
            if !plan.stop.swap(true, Ordering::Relaxed) {
                problem("GetKeyLastUsage (last_used left unknown)", &e);
            }
            (None, false)
        }
    }
}

/// Runs `f` over `items` with at most `limit` in flight; results in the
/// order of `items`. A panic in a task is re-raised here.
async fn bounded<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let total = items.len();
    let mut results: Vec<Option<R>> = (0..total).map(|_| None).collect();
    let mut pending = items.into_iter().enumerate();
    let mut running = JoinSet::new();
    loop {
        while running.len() < limit.max(1) {
            let Some((i, item)) = pending.next() else {
                break;
            };
            let fut = f(item);
            running.spawn(async move { (i, fut.await) });
        }
        match running.join_next().await {
            Some(Ok((i, r))) => results[i] = Some(r),
            Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
            None => break,
        }
    }
    results.into_iter().flatten().collect()
}
