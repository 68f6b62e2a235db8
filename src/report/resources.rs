//! "Who decrypted what": the report's data calls grouped by the resource
//! their encryption context names (a secret, a bucket or object, a table,
//! a trail…), with how many principals and keys touched each and who
//! called on it most.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{earliest, latest};
use crate::event::resource::{is_data_call, resource_of};
use crate::event::{KmsEvent, Outcome};

/// Resources a report lists at most, busiest first; calls on the others
/// are counted in `resources_other`.
pub const MAX_RESOURCES: usize = 10_000;
/// Resources a tally follows at most, so hostile contexts cannot grow
/// memory without end. Past it the resources whose names hash highest
/// leave, so which ones are followed depends only on their names: the
/// same for any order of files and any number of threads.
pub const FOLLOWED: usize = 4 * MAX_RESOURCES;
/// Principals and keys remembered per resource (counted exactly up to it).
const MAX_PER_RESOURCE: usize = 1_000;
/// Callers a resource's row names, busiest first.
pub const TOP_CALLERS: usize = 5;
/// Principals whose calls on one resource are counted by name. Past it the
/// ones whose names rank highest ([`caller_rank`]) leave, so the callers
/// followed depend only on their names, and a followed caller's counts are
/// exact.
pub const FOLLOWED_CALLERS: usize = 32;
/// The longest caller name kept (names come from the record).
pub const MAX_CALLER: usize = 1024;

/// Where a resource stands in the sample: its name's hash (fixed keys,
/// so the same in every run), then the names for the rare tie.
type Rank = (u64, &'static str, Box<str>);

fn rank_of(service: &'static str, name: &str) -> Rank {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    service.hash(&mut h);
    name.hash(&mut h);
    (h.finish(), service, name.into())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRow {
    pub service: String,
    pub resource: String,
    /// S3 with a Bucket Key: the context names the bucket, not an object.
    pub bucket_key: bool,
    /// `Decrypt`, `Encrypt`, `GenerateDataKey*`, `ReEncrypt` calls naming it.
    pub calls: u64,
    pub denied: u64,
    /// Distinct principals (at most 1,000 are told apart).
    pub principals: u64,
    /// Distinct keys (at most 1,000 are told apart).
    pub keys: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// Its busiest callers (at most [`TOP_CALLERS`]), busiest first, ties
    /// by name.
    pub top_callers: Vec<CallerRow>,
    /// Distinct principals beyond `top_callers` ("and M more"; of the at
    /// most 1,000 told apart).
    pub more_callers: u64,
    /// More than [`FOLLOWED_CALLERS`] principals called on it: then
    /// `top_callers` are the busiest of the 32 whose names hash lowest
    /// ([`caller_rank`]: the same for any read order, and in Athena), not
    /// necessarily the busiest of all.
    pub callers_sampled: bool,
}

/// The report's order of resource rows, whatever counted them (files or
/// Athena): most calls first, then by service and name.
pub fn sort_rows(rows: &mut [ResourceRow]) {
    rows.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.resource.cmp(&b.resource))
    });
}

/// One principal's data calls on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerRow {
    pub principal: String,
    pub calls: u64,
    pub denied: u64,
}

impl ResourceRow {
    /// Its top callers as one line of raw (unescaped) text, each as
    /// `principal calls` with `(N denied)` when some were: `role/a 12 (2
    /// denied), user/b 3, and 4 more`. Escape it for its output.
    #[must_use]
    pub fn callers_text(&self) -> String {
        let mut parts: Vec<String> = self
            .top_callers
            .iter()
            .map(|c| {
                if c.denied > 0 {
                    format!("{} {} ({} denied)", c.principal, c.calls, c.denied)
                } else {
                    format!("{} {}", c.principal, c.calls)
                }
            })
            .collect();
        if self.more_callers > 0 {
            parts.push(format!("and {} more", self.more_callers));
        }
        if self.callers_sampled {
            parts.push("(of a sample of 32 callers)".to_owned());
        }
        parts.join(", ")
    }
}

/// A followed caller: its name's hash (who it is, with the name), and its
/// rank in the sample once it is needed.
#[derive(Debug)]
struct Caller {
    hash: u64,
    name: Box<str>,
    calls: u64,
    denied: u64,
    /// [`caller_rank`] of `name`, computed only when more callers than
    /// [`FOLLOWED_CALLERS`] call on one resource.
    rank: Option<[u8; 32]>,
}

/// Where a caller named `name` (as kept: at most [`MAX_CALLER`] bytes)
/// stands in the sample: the SHA-256 of its name, which Athena computes
/// alike (`sha256(to_utf8(…))`, [`crate::athena`]), then the name.
#[must_use]
pub fn caller_rank(name: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(name.as_bytes()).into()
}

impl Caller {
    fn rank(&mut self) -> [u8; 32] {
        *self.rank.get_or_insert_with(|| caller_rank(&self.name))
    }
}

/// The callers of one resource, at most [`FOLLOWED_CALLERS`] of them.
#[derive(Debug, Default)]
struct Callers {
    followed: Vec<Caller>,
    /// Some caller was let go or not followed.
    sampled: bool,
}

impl Callers {
    fn add(&mut self, hash: u64, name: &str, calls: u64, denied: u64) {
        if let Some(c) = self
            .followed
            .iter_mut()
            .find(|c| c.hash == hash && *c.name == *name)
        {
            c.calls += calls;
            c.denied += denied;
            return;
        }
        let mut new = Caller {
            hash,
            name: name.into(),
            calls,
            denied,
            rank: None,
        };
        if self.followed.len() < FOLLOWED_CALLERS {
            self.followed.push(new);
            return;
        }
        self.sampled = true;
        let new_rank = (new.rank(), new.name.clone());
        for c in &mut self.followed {
            c.rank();
        }
        if let Some(last) = self
            .followed
            .iter_mut()
            .max_by(|a, b| (a.rank, &a.name).cmp(&(b.rank, &b.name)))
            && (Some(new_rank.0), &new_rank.1) < (last.rank, &last.name)
        {
            *last = new;
        }
    }

    fn merge(&mut self, other: Self) {
        self.sampled |= other.sampled;
        for c in other.followed {
            self.add(c.hash, &c.name, c.calls, c.denied);
        }
    }

    /// The busiest, ties by name.
    fn top(mut self) -> Vec<CallerRow> {
        self.followed
            .sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
        self.followed
            .into_iter()
            .take(TOP_CALLERS)
            .map(|c| CallerRow {
                principal: c.name.into(),
                calls: c.calls,
                denied: c.denied,
            })
            .collect()
    }
}

#[derive(Debug, Default)]
struct One {
    bucket_key: bool,
    calls: u64,
    denied: u64,
    /// Told apart by their texts' hashes (fixed keys): a resource called
    /// by two principals costs two numbers, not two copies of their ARNs.
    principals: HashSet<u64>,
    keys: HashSet<u64>,
    callers: Callers,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

fn remember(set: &mut HashSet<u64>, value: &str) {
    remember_hash(set, text_hash(value));
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn remember_hash(set: &mut HashSet<u64>, hash: u64) {
    if set.len() < MAX_PER_RESOURCE {
        set.insert(hash);
    }
}

fn text_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// One reader thread's resources.
#[derive(Debug, Default)]
pub struct ResourceTally {
    /// By service, then by name: looked up by the borrowed name, so a
    /// call on a known resource allocates nothing.
    by: HashMap<&'static str, HashMap<Box<str>, One>>,
    /// The followed resources by rank: the last leaves first.
    ranks: std::collections::BTreeSet<Rank>,
    /// Calls on resources not followed.
    other: u64,
}

impl ResourceTally {
    pub fn add(&mut self, e: &KmsEvent<'_>) {
        if !is_data_call(&e.event_name) {
            return;
        }
        let Some(r) = resource_of(&e.encryption_context) else {
            return;
        };
        let known = self
            .by
            .get(r.service)
            .is_some_and(|names| names.contains_key(r.name.as_ref()));
        if !known && !self.make_room(rank_of(r.service, &r.name), 1) {
            return;
        }
        let names = self.by.entry(r.service).or_default();
        let one = if known {
            names.get_mut(r.name.as_ref())
        } else {
            Some(names.entry(r.name.as_ref().into()).or_default())
        };
        let Some(one) = one else { return };
        one.bucket_key |= r.bucket_key;
        one.calls += 1;
        let denied = u64::from(e.outcome == Outcome::Denied);
        one.denied += denied;
        let principal = text_hash(&e.principal);
        remember_hash(&mut one.principals, principal);
        one.callers
            .add(principal, cut(&e.principal, MAX_CALLER), 1, denied);
        if let Some(key) = &e.key {
            remember(&mut one.keys, &key.arn);
        }
        one.first = earliest(one.first, Some(e.time));
        one.last = latest(one.last, Some(e.time));
    }

    /// Follows the resource ranked `rank` if it belongs in the sample,
    /// letting the highest-ranked one go (its calls into `other`) when
    /// full; false, with its `calls` counted as other, when it does not.
    fn make_room(&mut self, rank: Rank, calls: u64) -> bool {
        if self.ranks.len() >= FOLLOWED {
            match self.ranks.last() {
                Some(last) if *last < rank => {
                    self.other += calls;
                    return false;
                }
                _ => {}
            }
            if let Some((_, service, name)) = self.ranks.pop_last()
                && let Some(gone) = self.by.get_mut(service).and_then(|n| n.remove(&name))
            {
                self.other += gone.calls;
            }
        }
        self.ranks.insert(rank);
        true
    }

    pub fn merge(&mut self, other: Self) {
        self.other += other.other;
        for (service, name, o) in other
            .by
            .into_iter()
            .flat_map(|(service, names)| names.into_iter().map(move |(n, o)| (service, n, o)))
        {
            let known = self.by.get(service).is_some_and(|n| n.contains_key(&name));
            if !known && !self.make_room(rank_of(service, &name), o.calls) {
                continue;
            }
            let one = self.by.entry(service).or_default().entry(name).or_default();
            one.bucket_key |= o.bucket_key;
            one.calls += o.calls;
            one.denied += o.denied;
            for p in o.principals {
                remember_hash(&mut one.principals, p);
            }
            for k in o.keys {
                remember_hash(&mut one.keys, k);
            }
            one.callers.merge(o.callers);
            one.first = earliest(one.first, o.first);
            one.last = latest(one.last, o.last);
        }
    }

    /// The rows, busiest first (ties by service then name), and the calls
    /// on resources past the cap.
    #[must_use]
    pub fn finish(self) -> (Vec<ResourceRow>, u64) {
        let mut rows: Vec<ResourceRow> = self
            .by
            .into_iter()
            .flat_map(|(service, names)| names.into_iter().map(move |(n, o)| (service, n, o)))
            .map(|(service, name, o)| {
                let callers_sampled = o.callers.sampled;
                let top_callers = o.callers.top();
                let principals = o.principals.len() as u64;
                ResourceRow {
                    service: service.to_owned(),
                    resource: name.into(),
                    bucket_key: o.bucket_key,
                    calls: o.calls,
                    denied: o.denied,
                    principals,
                    keys: o.keys.len() as u64,
                    first_seen: o.first,
                    last_seen: o.last,
                    more_callers: principals.saturating_sub(top_callers.len() as u64),
                    top_callers,
                    callers_sampled,
                }
            })
            .collect();
        sort_rows(&mut rows);
        let unlisted: u64 = rows.iter().skip(MAX_RESOURCES).map(|r| r.calls).sum();
        rows.truncate(MAX_RESOURCES);
        (rows, self.other + unlisted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Parsed, parse_record};

    fn tally_of(records: &[String]) -> ResourceTally {
        let mut t = ResourceTally::default();
        for r in records {
            if let Ok(Parsed::Kms(e)) = parse_record(r) {
                t.add(&e);
            }
        }
        t
    }

    /// Past the sample's size, which resources are listed depends on their
    /// names only: any split of the calls between threads, merged in any
    /// order, lists the same rows with the same counts.
    #[test]
    fn the_list_is_the_same_for_any_split_past_the_cap() {
        let distinct = FOLLOWED + 2_000;
        let records: Vec<String> = (0..distinct + 3_000)
            .map(|i| {
                let secret = i % distinct;
                format!(
                    r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z","eventID":"e{i}",
                    "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u"}},
                    "requestParameters":{{"encryptionContext":{{"SecretARN":"arn:aws:secretsmanager:us-east-1:111122223333:secret:s{secret}"}}}}}}"#
                )
            })
            .collect();
        let whole = tally_of(&records).finish();
        assert_eq!(whole.0.len(), MAX_RESOURCES);
        let listed: u64 = whole.0.iter().map(|r| r.calls).sum();
        assert_eq!(listed + whole.1, records.len() as u64);
        // Busiest first: the sampled ones of the 3,000 secrets called twice.
        assert!(whole.0.windows(2).all(|w| w[0].calls >= w[1].calls));
        let twice = whole.0.iter().filter(|r| r.calls == 2).count();
        assert!(twice > 2_000 && twice <= 3_000, "{twice}");
        for split in [7, 1_000, 30_001] {
            let (a, b) = records.split_at(split);
            let mut first = tally_of(b);
            first.merge(tally_of(a));
            assert_eq!(first.finish(), whole, "split at {split}");
            let (a, b) = records.split_at(split);
            let mut second = tally_of(a);
            second.merge(tally_of(b));
            assert_eq!(
                second.finish(),
                whole,
                "split at {split}, merged the other way"
            );
        }
    }
}
