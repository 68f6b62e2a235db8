//! "Who decrypted what": the report's data calls grouped by the resource
//! their encryption context names (a secret, a bucket or object, a table,
//! a trail…), with how many principals and keys touched each.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{earliest, latest};
use crate::event::resource::{is_data_call, resource_of};
use crate::event::{KmsEvent, Outcome};

/// Distinct resources a report names; calls on others are counted in
/// `resources_other`, so hostile contexts cannot grow memory without end.
pub const MAX_RESOURCES: usize = 10_000;
/// Principals and keys remembered per resource (counted exactly up to it).
const MAX_PER_RESOURCE: usize = 1_000;

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
}

#[derive(Debug, Default)]
struct One {
    bucket_key: bool,
    calls: u64,
    denied: u64,
    principals: HashSet<Box<str>>,
    keys: HashSet<Box<str>>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

fn remember(set: &mut HashSet<Box<str>>, value: &str) {
    if set.len() < MAX_PER_RESOURCE && !set.contains(value) {
        set.insert(value.into());
    }
}

/// One reader thread's resources.
#[derive(Debug, Default)]
pub struct ResourceTally {
    /// By service, then by name: looked up by the borrowed name, so a
    /// call on a known resource allocates nothing.
    by: HashMap<&'static str, HashMap<Box<str>, One>>,
    /// Distinct resources in `by`.
    len: usize,
    /// Calls on resources past [`MAX_RESOURCES`].
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
        let names = self.by.entry(r.service).or_default();
        let one = match names.get_mut(r.name.as_ref()) {
            Some(one) => one,
            None if self.len >= MAX_RESOURCES => {
                self.other += 1;
                return;
            }
            None => {
                self.len += 1;
                names.entry(r.name.as_ref().into()).or_default()
            }
        };
        one.bucket_key |= r.bucket_key;
        one.calls += 1;
        one.denied += u64::from(e.outcome == Outcome::Denied);
        remember(&mut one.principals, &e.principal);
        if let Some(key) = &e.key {
            remember(&mut one.keys, &key.arn);
        }
        one.first = earliest(one.first, Some(e.time));
        one.last = latest(one.last, Some(e.time));
    }

    pub fn merge(&mut self, other: Self) {
        self.other += other.other;
        for (service, name, o) in other
            .by
            .into_iter()
            .flat_map(|(service, names)| names.into_iter().map(move |(n, o)| (service, n, o)))
        {
            let names = self.by.entry(service).or_default();
            if !names.contains_key(&name) {
                if self.len >= MAX_RESOURCES {
                    self.other += o.calls;
                    continue;
                }
                self.len += 1;
            }
            let one = names.entry(name).or_default();
            one.bucket_key |= o.bucket_key;
            one.calls += o.calls;
            one.denied += o.denied;
            for p in o.principals {
                remember(&mut one.principals, &p);
            }
            for k in o.keys {
                remember(&mut one.keys, &k);
            }
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
            .map(|(service, name, o)| ResourceRow {
                service: service.to_owned(),
                resource: name.into(),
                bucket_key: o.bucket_key,
                calls: o.calls,
                denied: o.denied,
                principals: o.principals.len() as u64,
                keys: o.keys.len() as u64,
                first_seen: o.first,
                last_seen: o.last,
            })
            .collect();
        rows.sort_by(|a, b| {
            b.calls
                .cmp(&a.calls)
                .then_with(|| a.service.cmp(&b.service))
                .then_with(|| a.resource.cmp(&b.resource))
        });
        (rows, self.other)
    }
}
