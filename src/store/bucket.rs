//! One time bucket: what happened during `bucket` seconds of event time.
//!
//! The combined (principal, key, event name, outcome) count is the one map
//! aggregates read: the per-principal, per-key, per-name and per-outcome
//! counts are its marginals, and a bucket rarely holds more distinct
//! combinations than events. Region and source IP are independent of it,
//! except that denied calls are also counted per source IP (the Denied
//! pane's top addresses), and in all (the denied series).

use crate::event::Outcome;

use super::hash::{FastMap, FastState};

/// A (principal, key, event name, outcome) combination, as interned ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Combo {
    pub principal: u32,
    pub key: u32,
    pub event_name: u32,
    pub outcome: Outcome,
}

impl Combo {
    pub fn is_denied(&self) -> bool {
        self.outcome == Outcome::Denied
    }
}

#[derive(Debug, Clone)]
pub struct Bucket {
    pub(super) total: u32,
    pub(super) denied: u32,
    pub(super) combos: FastMap<Combo, u32>,
    pub(super) regions: FastMap<u32, u32>,
    pub(super) source_ips: FastMap<u32, u32>,
    /// Denied calls per source IP (a subset of `source_ips`' ids).
    pub(super) denied_ips: FastMap<u32, u32>,
}

/// Which ids became referenced by this bucket for the first time.
pub(super) struct NewRefs {
    pub combo: bool,
    pub region: bool,
    pub source_ip: bool,
}

impl Bucket {
    pub(super) fn new(hasher: FastState) -> Self {
        Self {
            total: 0,
            denied: 0,
            combos: FastMap::with_hasher(hasher),
            regions: FastMap::with_hasher(hasher),
            source_ips: FastMap::with_hasher(hasher),
            denied_ips: FastMap::with_hasher(hasher),
        }
    }

    /// Counts `n` events of one combination, region and source IP.
    pub(super) fn add(&mut self, combo: Combo, region: u32, source_ip: u32, n: u32) -> NewRefs {
        self.total += n;
        if combo.is_denied() {
            self.denied += n;
            *self.denied_ips.entry(source_ip).or_insert(0) += n;
        }
        NewRefs {
            combo: bump(&mut self.combos, combo, n),
            region: bump(&mut self.regions, region, n),
            source_ip: bump(&mut self.source_ips, source_ip, n),
        }
    }

    /// Events counted in this bucket.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Denied calls counted in this bucket.
    pub fn denied(&self) -> u32 {
        self.denied
    }

    /// Distinct combinations: what a scan of [`Bucket::combos`] costs.
    pub fn combo_count(&self) -> usize {
        self.combos.len()
    }

    pub fn combos(&self) -> impl Iterator<Item = (Combo, u32)> + '_ {
        self.combos.iter().map(|(&c, &n)| (c, n))
    }

    pub fn regions(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.regions.iter().map(|(&r, &n)| (r, n))
    }

    pub fn source_ips(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.source_ips.iter().map(|(&r, &n)| (r, n))
    }

    /// Denied calls per source IP id.
    pub fn denied_ips(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.denied_ips.iter().map(|(&r, &n)| (r, n))
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// What [`Bucket::absorb`] found in both buckets.
pub(super) struct Shared {
    pub combos: Vec<Combo>,
    pub regions: Vec<u32>,
    pub source_ips: Vec<u32>,
}

impl Bucket {
    /// Adds `other`'s counts to this bucket's; says which combinations,
    /// regions and source IPs both mentioned.
    pub(super) fn absorb(&mut self, other: Bucket) -> Shared {
        self.total += other.total;
        self.denied += other.denied;
        for (ip, n) in other.denied_ips {
            *self.denied_ips.entry(ip).or_insert(0) += n;
        }
        Shared {
            combos: add_all(&mut self.combos, other.combos),
            regions: add_all(&mut self.regions, other.regions),
            source_ips: add_all(&mut self.source_ips, other.source_ips),
        }
    }
}

/// Adds `from`'s counts into `into`; returns the keys both held.
fn add_all<K: std::hash::Hash + Eq + Copy>(
    into: &mut FastMap<K, u32>,
    from: FastMap<K, u32>,
) -> Vec<K> {
    let mut both = Vec::new();
    for (k, n) in from {
        match into.entry(k) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                *e.get_mut() += n;
                both.push(k);
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(n);
            }
        }
    }
    both
}

/// Adds `n` to `map[k]`; true when `k` was not there.
fn bump<K: std::hash::Hash + Eq>(map: &mut FastMap<K, u32>, k: K, n: u32) -> bool {
    match map.entry(k) {
        std::collections::hash_map::Entry::Occupied(mut e) => {
            *e.get_mut() += n;
            false
        }
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(n);
            true
        }
    }
}
