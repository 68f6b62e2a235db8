//! Strings to dense `u32` ids, with a cap per dimension.
//!
//! Dense ids let buckets and aggregates index plain vectors instead of
//! hashing strings. Past the cap, new values fold into [`OTHER`], so a flood
//! of distinct attacker strings costs a counter, not memory. Ids are
//! reference-counted by the buckets that mention them and reused once the
//! last such bucket leaves retention, so the cap limits what is *in
//! retention*, not what was ever seen.

use std::hash::BuildHasher;
use std::sync::Arc;

use super::hash::{FastMap, FastState};
use super::heavy::{self, HeavyFolded};
use crate::event::HeldText;

/// The id every value beyond the cap folds into.
pub const OTHER: u32 = 0;
/// The id of an absent value (a call that names no key, no source IP…).
pub const NONE: u32 = 1;
const RESERVED: usize = 2;

pub const OTHER_LABEL: &str = "(other)";
pub const NONE_LABEL: &str = "(none)";

/// How many distinct folded values are tracked before the count becomes a
/// lower bound; 64 k hashes are ~1.5 MB per dimension.
const FOLD_TRACK_CAP: usize = 65_536;

/// What the `(other)` entry of a dimension holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Folded {
    /// Distinct values folded while inside retention (give or take one
    /// sweep interval, see `Interner::sweep_folded`).
    pub distinct: usize,
    /// True when more were folded than could be tracked: `distinct` is then
    /// a lower bound.
    pub saturated: bool,
}

/// An interned name, shared: a row that shows it costs a reference
/// count, not a copy. Compares and prints as its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Name(Arc<str>);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Self(s.into())
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Self(s.into())
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

#[derive(Debug)]
pub struct Interner {
    ids: FastMap<Name, u32>,
    names: Vec<Option<Name>>,
    /// The reserved ids' labels, shared like the names.
    other_label: Name,
    none_label: Name,
    refs: Vec<u32>,
    free: Vec<u32>,
    cap: usize,
    live: usize,
    /// Hash of each folded value -> last bucket index it was seen in.
    folded: FastMap<u64, i64>,
    folded_saturated: bool,
    /// The heaviest folded values, which earn a name past the cap.
    heavy: HeavyFolded,
    hasher: FastState,
    /// Bumped whenever a name comes or goes.
    version: u64,
    /// A shared-table number ([`crate::event::HeldText`]) -> the id its
    /// text was interned as; only trusted where `shared_of` agrees, since
    /// ids are reused once freed.
    by_shared: Vec<u32>,
    /// Id -> the shared number it was last found by ([`NO_SHARED`] for
    /// none); reset when the id is freed.
    shared_of: Vec<u32>,
}

/// In `shared_of`: the id was not found by a shared number.
const NO_SHARED: u32 = u32::MAX;

impl Interner {
    pub fn new(cap: usize, hasher: FastState) -> Self {
        Self {
            ids: FastMap::with_hasher(hasher),
            names: vec![None, None],
            other_label: OTHER_LABEL.into(),
            none_label: NONE_LABEL.into(),
            refs: vec![0; RESERVED],
            free: Vec::new(),
            cap,
            live: 0,
            folded: FastMap::with_hasher(hasher),
            folded_saturated: false,
            heavy: HeavyFolded::default(),
            hasher,
            version: 0,
            by_shared: Vec::new(),
            shared_of: vec![NO_SHARED; RESERVED],
        }
    }

    /// The id of `name`, interning it if there is room; `bucket` dates the
    /// sighting for the folded-value count.
    pub fn intern(&mut self, name: &str, bucket: i64) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        if self.live >= self.cap && !self.promoted(name, bucket) {
            return OTHER;
        }
        let boxed = Name::from(name);
        let id = if let Some(id) = self.free.pop() {
            self.names[id as usize] = Some(boxed.clone());
            id
        } else {
            self.names.push(Some(boxed.clone()));
            self.refs.push(0);
            self.shared_of.push(NO_SHARED);
            (self.names.len() - 1) as u32
        };
        self.ids.insert(boxed, id);
        self.live += 1;
        self.version += 1;
        id
    }

    pub fn intern_opt(&mut self, name: Option<&str>, bucket: i64) -> u32 {
        name.map_or(NONE, |n| self.intern(n, bucket))
    }

    /// [`Self::intern`] for a text the process's shared table numbers
    /// `number`: found by that number while the id it was interned as
    /// still names it, else interned by text (folding and all) and
    /// remembered.
    pub fn intern_held(&mut self, held: HeldText<'_>, bucket: i64) -> u32 {
        let Some(number) = held.shared else {
            return self.intern(held.text, bucket);
        };
        let at = number as usize;
        if let Some(&id) = self.by_shared.get(at)
            && self.shared_of.get(id as usize) == Some(&number)
        {
            return id;
        }
        let id = self.intern(held.text, bucket);
        if (id as usize) >= RESERVED {
            if self.by_shared.len() <= at {
                self.by_shared.resize(at + 1, OTHER);
            }
            // A number found before under another id loses it.
            let was = std::mem::replace(&mut self.shared_of[id as usize], number);
            if let Some(old) = self.by_shared.get_mut(was as usize) {
                *old = OTHER;
            }
            self.by_shared[at] = id;
        }
        id
    }

    pub fn intern_held_opt(&mut self, held: Option<HeldText<'_>>, bucket: i64) -> u32 {
        held.map_or(NONE, |h| self.intern_held(h, bucket))
    }

    /// Notes a sighting of `name` past the cap; true when it is one of the
    /// heaviest folded values and there is room to name it (its sightings
    /// until now stay in `(other)`).
    fn promoted(&mut self, name: &str, bucket: i64) -> bool {
        let h = self.hasher.hash_one(name);
        if self.heavy.sighting(h) && self.live < heavy::named_limit(self.cap) {
            self.heavy.forget(h);
            self.folded.remove(&h);
            return true;
        }
        self.note_folded(h, bucket);
        false
    }

    fn note_folded(&mut self, h: u64, bucket: i64) {
        if let Some(last) = self.folded.get_mut(&h) {
            *last = (*last).max(bucket);
        } else if self.folded.len() < FOLD_TRACK_CAP {
            self.folded.insert(h, bucket);
        } else {
            self.folded_saturated = true;
        }
    }

    /// Forgets folded values last seen before `cutoff`. O(tracked), so the
    /// store calls it every few percent of the retention, not per bucket.
    pub fn sweep_folded(&mut self, cutoff: i64) {
        self.folded.retain(|_, last| *last >= cutoff);
        self.heavy.decay();
        if self.folded.len() < FOLD_TRACK_CAP {
            self.folded_saturated = false;
        }
    }

    /// Buckets became `factor` times wider: the indices folded values were
    /// last seen in follow.
    pub fn rescale_folded(&mut self, factor: i64) {
        for last in self.folded.values_mut() {
            *last = last.div_euclid(factor);
        }
    }

    pub fn folded(&self) -> Folded {
        Folded {
            distinct: self.folded.len(),
            saturated: self.folded_saturated,
        }
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: u32) -> Option<&str> {
        match id {
            OTHER => Some(OTHER_LABEL),
            NONE => Some(NONE_LABEL),
            _ => self.names.get(id as usize)?.as_deref(),
        }
    }

    /// The shared name of `id` (the label of a reserved id).
    pub fn shared(&self, id: u32) -> Option<Name> {
        match id {
            OTHER => Some(self.other_label.clone()),
            NONE => Some(self.none_label.clone()),
            _ => self.names.get(id as usize)?.clone(),
        }
    }

    /// Changes whenever a name was interned or freed: what the names are
    /// is unchanged while it stays the same.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// One past the largest id ever handed out: the length of per-id vectors.
    pub fn id_bound(&self) -> usize {
        self.names.len()
    }

    /// Named values currently interned (the reserved ids excluded).
    pub fn live(&self) -> usize {
        self.live
    }

    pub fn is_live(&self, id: u32) -> bool {
        (id as usize) < RESERVED || self.names.get(id as usize).is_some_and(Option::is_some)
    }

    pub fn retain(&mut self, id: u32) {
        self.refs[id as usize] += 1;
    }

    /// Drops one reference; true when the id was freed (its per-id state
    /// must then be reset by the caller).
    pub fn release(&mut self, id: u32) -> bool {
        self.refs[id as usize] -= 1;
        self.free_if_unreferenced(id)
    }

    /// Frees an id that was interned but never referenced (its event or
    /// pair was then refused), so it does not hold a slot forever.
    pub fn free_if_unreferenced(&mut self, id: u32) -> bool {
        if self.refs[id as usize] > 0 || (id as usize) < RESERVED {
            return false;
        }
        if let Some(name) = self.names[id as usize].take() {
            self.ids.remove(&name);
            self.shared_of[id as usize] = NO_SHARED;
            self.free.push(id);
            self.live -= 1;
            self.version += 1;
            return true;
        }
        false
    }

    /// Ids currently naming a value or reserved, in id order.
    pub fn live_ids(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.names.len() as u32).filter(|&id| self.is_live(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_past_the_cap_and_counts_distinct_folded_values() {
        let mut i = Interner::new(2, FastState::random());
        let a = i.intern("a", 0);
        let b = i.intern("b", 0);
        assert!(a >= 2 && b >= 2 && a != b);
        assert_eq!(i.intern("a", 0), a);
        assert_eq!(i.intern("c", 0), OTHER);
        assert_eq!(i.intern("d", 5), OTHER);
        assert_eq!(i.intern("c", 6), OTHER);
        assert_eq!(i.folded().distinct, 2);
        i.sweep_folded(6);
        assert_eq!(i.folded().distinct, 1);
    }

    #[test]
    fn a_heavy_value_past_the_cap_is_named_though_a_flood_filled_it() {
        let mut i = Interner::new(100, FastState::random());
        for n in 0..100 {
            assert_ne!(i.intern(&format!("flood-{n}"), 0), OTHER);
        }
        let mut named = None;
        for n in 0..2_000 {
            let id = if n % 5 == 0 {
                i.intern("203.0.113.9", 0)
            } else {
                i.intern(&format!("more-{n}"), 0)
            };
            if n % 5 == 0 && id != OTHER {
                named.get_or_insert((n, id));
            } else if n % 5 != 0 {
                assert_eq!(id, OTHER, "a one-off value was named");
            }
        }
        let (at, id) = named.expect("the heavy value gets a name");
        assert!(at < 200, "named after {at} sightings");
        assert_eq!(i.name(id), Some("203.0.113.9"));
        assert_eq!(i.intern("203.0.113.9", 0), id, "and keeps it");
        assert_eq!(i.live(), 101);
    }

    #[test]
    fn released_ids_are_reused_and_make_room() {
        let mut i = Interner::new(1, FastState::random());
        let a = i.intern("a", 0);
        i.retain(a);
        i.retain(a);
        assert!(!i.release(a));
        assert_eq!(i.intern("b", 0), OTHER);
        assert!(i.release(a));
        assert_eq!(i.get("a"), None);
        assert_eq!(i.intern("b", 0), a);
        assert_eq!(i.name(a), Some("b"));
        assert_eq!(i.name(OTHER), Some(OTHER_LABEL));
    }
}
