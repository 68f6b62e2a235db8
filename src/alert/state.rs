//! Per-rule, per-group state of the engine: bounded maps of groups, the
//! fields groups are made of, and what each rule kind remembers.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasherDefault;

use super::spec::Field;
use super::spike::{SpikeConfig, SpikeState};
use crate::event::{KmsEvent, NetText, network_of};

/// The group that stands for every group past a rule's cap.
pub const OTHER_GROUP: &str = "(other)";

/// What a missing field's value reads as in a group.
pub const NONE_VALUE: &str = "(none)";

/// A small, fast, non-cryptographic hasher (`FxHash`). Group keys come from
/// events, but the maps are capped, so a flood of colliding strings costs
/// time in one rule's map, never memory.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }

    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;
pub type FxMap<K, V> = HashMap<K, V, FxBuild>;
pub type FxSet<K> = HashSet<K, FxBuild>;

/// A field's value: borrowed from the event, or a network written into a
/// small buffer, so that reading any field allocates nothing.
#[derive(Debug, Clone, Copy)]
pub enum FieldText<'e> {
    Text(&'e str),
    Net(NetText),
}

impl std::ops::Deref for FieldText<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Self::Text(t) => t,
            Self::Net(n) => n.as_str(),
        }
    }
}

/// The value of `field` in `event`, if the event has one.
pub fn field_value<'e>(event: &'e KmsEvent<'_>, field: Field) -> Option<FieldText<'e>> {
    match field {
        Field::SourceNetwork => match event.call.vpc_endpoint.as_deref() {
            Some(endpoint) => Some(FieldText::Text(endpoint)),
            None => network_of(event.source_ip.as_deref()?).map(FieldText::Net),
        },
        f => text_value(event, f).map(FieldText::Text),
    }
}

fn text_value<'e>(event: &'e KmsEvent<'_>, field: Field) -> Option<&'e str> {
    match field {
        Field::Principal => Some(event.principal.as_ref()),
        Field::Key => event.key.as_ref().map(|k| k.arn.as_ref()),
        Field::Alias => event.alias.as_deref(),
        Field::SourceIp => event.source_ip.as_deref(),
        Field::Region => event.region.as_deref(),
        Field::EventName => Some(event.event_name.as_ref()),
        Field::UserAgent => event.user_agent.as_deref(),
        Field::SessionName => event.session_name.as_deref(),
        Field::ErrorCode => event.error_code.as_deref(),
        Field::PrincipalAccount => event.principal_account.as_deref(),
        Field::KeyAccount => event.key.as_ref().and_then(|k| k.account()),
        Field::ContextKey => event.encryption_context.first().map(|(k, _)| k.as_ref()),
        Field::SourceNetwork => None,
    }
}

/// A field's name as rules write it.
pub fn field_name(field: Field) -> &'static str {
    match field {
        Field::Principal => "principal",
        Field::Key => "key",
        Field::Alias => "alias",
        Field::SourceIp => "source_ip",
        Field::Region => "region",
        Field::EventName => "event_name",
        Field::UserAgent => "user_agent",
        Field::SessionName => "session_name",
        Field::ErrorCode => "error_code",
        Field::PrincipalAccount => "principal_account",
        Field::KeyAccount => "key_account",
        Field::SourceNetwork => "source_network",
        Field::ContextKey => "context_key",
    }
}

/// Writes `field=value` pairs joined by `, ` into `out` (cleared first);
/// a missing value reads `(none)`.
pub fn write_group(out: &mut String, fields: &[Field], event: &KmsEvent<'_>) {
    out.clear();
    for (i, &f) in fields.iter().enumerate() {
        let value = field_value(event, f);
        push_pair(out, i > 0, f, value.as_deref().unwrap_or(NONE_VALUE));
    }
}

/// Appends one `field=value` pair.
pub fn push_pair(out: &mut String, comma: bool, field: Field, value: &str) {
    if comma {
        out.push_str(", ");
    }
    // Plain pushes: the formatting machinery costs more than the copy, and
    // this runs for every matching event of every grouped rule.
    out.push_str(field_name(field));
    out.push('=');
    out.push_str(value);
}

/// One group's state and when it last saw an event.
#[derive(Debug, Clone)]
struct Slot<T> {
    last_ms: i64,
    value: T,
}

/// Groups of one rule, at most `cap` of them; past the cap, new groups are
/// folded into one `(other)` group. Groups idle for `idle_ms` (when given)
/// are dropped when room is needed and on [`GroupMap::sweep`].
///
/// Groups are known by the engine's number for their text (see
/// [`super::intern`]), so a lookup hashes and compares four bytes rather
/// than an ARN.
#[derive(Debug, Clone)]
pub struct GroupMap<T> {
    map: FxMap<u32, Slot<T>>,
    other: Option<Slot<T>>,
    cap: usize,
    idle_ms: Option<i64>,
    /// Events that went to `(other)` because the map was full.
    pub folded_events: u64,
}

impl<T> GroupMap<T> {
    pub fn new(cap: usize, idle_ms: Option<i64>) -> Self {
        Self {
            map: FxMap::default(),
            other: None,
            cap: cap.max(1),
            idle_ms,
            folded_events: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len() + usize::from(self.other.is_some())
    }

    /// Runs `f` on the state of group `key` (made by `make` if new) and
    /// tells it whether the group was folded into `(other)`.
    pub fn with<R>(
        &mut self,
        key: u32,
        now_ms: i64,
        make: impl FnOnce() -> T,
        f: impl FnOnce(&mut T, bool) -> R,
    ) -> R {
        let idle = self.idle_ms;
        let stale = |slot: &Slot<T>| idle.is_some_and(|i| now_ms - slot.last_ms > i);
        if let Some(slot) = self.map.get_mut(&key) {
            // An idle group starts afresh whether or not a sweep dropped
            // it yet: a rule's verdicts must not depend on when sweeps ran
            // (every so many events, on ticks), or a replay of fewer
            // events (Athena's) would judge differently.
            if stale(slot) {
                slot.value = make();
            }
            slot.last_ms = slot.last_ms.max(now_ms);
            return f(&mut slot.value, false);
        }
        if self.map.len() >= self.cap {
            self.sweep(now_ms);
        }
        if self.map.len() >= self.cap {
            self.folded_events += 1;
            let slot = match self.other.take() {
                Some(mut slot) if !stale(&slot) => {
                    slot.last_ms = slot.last_ms.max(now_ms);
                    slot
                }
                _ => Slot {
                    last_ms: now_ms,
                    value: make(),
                },
            };
            return f(&mut self.other.insert(slot).value, true);
        }
        let slot = self.map.entry(key).or_insert(Slot {
            last_ms: now_ms,
            value: make(),
        });
        f(&mut slot.value, false)
    }

    /// Every group held and its state, `(other)` last (as `None`).
    pub fn each(&self) -> impl Iterator<Item = (Option<u32>, &T)> {
        self.map
            .iter()
            .map(|(&k, s)| (Some(k), &s.value))
            .chain(self.other.iter().map(|s| (None, &s.value)))
    }

    /// Drops groups idle for longer than the idle span.
    pub fn sweep(&mut self, now_ms: i64) {
        let Some(idle) = self.idle_ms else { return };
        self.map.retain(|_, s| now_ms - s.last_ms <= idle);
        if self
            .other
            .as_ref()
            .is_some_and(|s| now_ms - s.last_ms > idle)
        {
            self.other = None;
        }
    }
}

/// Threshold counting events: the newest `count` event times, sorted.
#[derive(Debug, Clone, Default)]
pub struct Recent(VecDeque<i64>);

impl Recent {
    /// Adds an event and returns how many of the kept events fall within
    /// `window_ms` ending at the newest (at most `cap`).
    pub fn push(&mut self, time_ms: i64, cap: usize, window_ms: i64) -> u64 {
        let at = self.0.partition_point(|&t| t <= time_ms);
        self.0.insert(at, time_ms);
        while self.0.len() > cap {
            self.0.pop_front();
        }
        let newest = self.0.back().copied().unwrap_or(time_ms);
        self.0.iter().filter(|&&t| newest - t < window_ms).count() as u64
    }
}

/// Threshold counting distinct values: the newest time of each value seen
/// in the window, at most `cap` values (the oldest leaves first). The
/// engine's values are numbers, one per text (see [`super::intern`]).
#[derive(Debug, Clone, Default)]
pub struct Distinct(Vec<(u32, i64)>);

impl Distinct {
    /// Adds a value seen at `time_ms`; returns the distinct values within
    /// `window_ms` of the newest time.
    pub fn push(&mut self, value: u32, time_ms: i64, cap: usize, window_ms: i64) -> u64 {
        match self.0.iter_mut().find(|(v, _)| *v == value) {
            Some((_, t)) => *t = (*t).max(time_ms),
            None => self.0.push((value, time_ms)),
        }
        let newest = self.0.iter().map(|&(_, t)| t).max().unwrap_or(time_ms);
        self.0.retain(|&(_, t)| newest - t < window_ms);
        while self.0.len() > cap {
            if let Some(oldest) = self
                .0
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(i, _)| i)
            {
                self.0.swap_remove(oldest);
            }
        }
        self.0.len() as u64
    }

    /// The values held.
    pub fn values(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().map(|&(v, _)| v)
    }
}

/// A missing rule's group: how many events had the field, and whether
/// one came without it (then the habit is broken for good).
#[derive(Debug, Clone, Copy, Default)]
pub struct Habit {
    with: u64,
    broken: bool,
}

impl Habit {
    /// Counts `n` events that had the field, unless the habit is broken.
    pub fn add_with(&mut self, n: u64) {
        if !self.broken {
            self.with = self.with.saturating_add(n);
        }
    }

    /// Counts one event; true when it is the first without the field
    /// after at least `minimum` with it.
    pub fn observe(&mut self, has: bool, minimum: u64) -> bool {
        if self.broken {
            return false;
        }
        if has {
            self.with = self.with.saturating_add(1);
            return false;
        }
        self.broken = true;
        self.with >= minimum
    }
}

/// What a rule kind remembers between events. Groups and values are
/// known by their numbers in the engine's [`super::intern::Interner`].
#[derive(Debug)]
pub enum KindState {
    Every,
    Threshold {
        count: u64,
        window_ms: i64,
        groups: GroupMap<Recent>,
    },
    Distinct {
        field: Field,
        count: u64,
        window_ms: i64,
        groups: GroupMap<Distinct>,
    },
    Spike {
        config: SpikeConfig,
        learning_ms: i64,
        groups: GroupMap<SpikeState>,
    },
    FirstSeen {
        field: Field,
        learning_ms: i64,
        groups: GroupMap<FxSet<u32>>,
        /// Values learnt over all groups; past the cap nothing new is
        /// learnt and nothing fires (the rule is saturated).
        learned: usize,
        cap: usize,
    },
    Missing {
        field: Field,
        minimum: u64,
        /// How long after the rule's first event a broken habit is only
        /// learnt (the group is quiet from then on), not reported.
        learning_ms: i64,
        groups: GroupMap<Habit>,
    },
}

impl KindState {
    /// Drops idle groups.
    pub fn sweep(&mut self, now_ms: i64) {
        match self {
            Self::Every | Self::FirstSeen { .. } | Self::Missing { .. } => {}
            Self::Threshold { groups, .. } => groups.sweep(now_ms),
            Self::Distinct { groups, .. } => groups.sweep(now_ms),
            Self::Spike { groups, .. } => groups.sweep(now_ms),
        }
    }

    /// Every number the state holds (group keys and values), for the
    /// interner's clean-up.
    pub fn numbers(&self, out: &mut impl FnMut(u32)) {
        fn keys<T>(groups: &GroupMap<T>, out: &mut impl FnMut(u32)) {
            for (k, _) in groups.each() {
                if let Some(k) = k {
                    out(k);
                }
            }
        }
        match self {
            Self::Every => {}
            Self::Threshold { groups, .. } => keys(groups, out),
            Self::Spike { groups, .. } => keys(groups, out),
            Self::Missing { groups, .. } => keys(groups, out),
            Self::Distinct { groups, .. } => {
                keys(groups, out);
                for (_, d) in groups.each() {
                    for v in d.values() {
                        out(v);
                    }
                }
            }
            Self::FirstSeen { groups, .. } => {
                keys(groups, out);
                for (_, set) in groups.each() {
                    for &v in set {
                        out(v);
                    }
                }
            }
        }
    }

    /// Groups held, `(other)` included.
    pub fn groups(&self) -> usize {
        match self {
            Self::Every => 0,
            Self::Threshold { groups, .. } => groups.len(),
            Self::Distinct { groups, .. } => groups.len(),
            Self::Spike { groups, .. } => groups.len(),
            Self::FirstSeen { groups, .. } => groups.len(),
            Self::Missing { groups, .. } => groups.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_map_folds_past_its_cap_and_frees_idle_groups() {
        let mut m: GroupMap<u32> = GroupMap::new(2, Some(100));
        let bump = |m: &mut GroupMap<u32>, k: u32, t: i64| {
            m.with(
                k,
                t,
                || 0,
                |v, folded| {
                    *v += 1;
                    (*v, folded)
                },
            )
        };
        assert_eq!(bump(&mut m, 1, 0), (1, false));
        assert_eq!(bump(&mut m, 2, 0), (1, false));
        assert_eq!(bump(&mut m, 3, 50), (1, true));
        assert_eq!(bump(&mut m, 4, 60), (2, true));
        assert_eq!(m.folded_events, 2);
        assert_eq!(bump(&mut m, 1, 90), (2, false));
        // b idle since 0: swept when e needs room.
        assert_eq!(bump(&mut m, 5, 150), (1, false));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn an_idle_group_starts_afresh_whether_or_not_it_was_swept() {
        let bump = |m: &mut GroupMap<u32>, t: i64| {
            m.with(
                1,
                t,
                || 0,
                |v, _| {
                    *v += 1;
                    *v
                },
            )
        };
        let mut swept: GroupMap<u32> = GroupMap::new(10, Some(100));
        let mut unswept = swept.clone();
        assert_eq!(bump(&mut swept, 0), 1);
        assert_eq!(bump(&mut unswept, 0), 1);
        swept.sweep(150);
        assert_eq!(bump(&mut swept, 150), 1);
        assert_eq!(bump(&mut unswept, 150), 1, "idle past 100: fresh");
        assert_eq!(bump(&mut unswept, 200), 2, "not idle: kept");
    }

    #[test]
    fn recent_counts_within_the_window_of_the_newest() {
        let mut r = Recent::default();
        assert_eq!(r.push(0, 3, 10), 1);
        assert_eq!(r.push(5, 3, 10), 2);
        assert_eq!(r.push(12, 3, 10), 2);
        assert_eq!(r.push(1, 3, 10), 2, "late event, outside the window");
        assert_eq!(r.push(11, 3, 10), 3);
    }

    #[test]
    fn a_habit_fires_once_when_first_broken_after_enough_events() {
        let mut h = Habit::default();
        assert!(!h.observe(true, 2));
        assert!(!h.observe(true, 2));
        assert!(h.observe(false, 2));
        assert!(!h.observe(false, 2), "broken already");
        assert!(!h.observe(true, 2));
        assert!(!h.observe(false, 2));
        let mut young = Habit::default();
        assert!(!young.observe(true, 2));
        assert!(!young.observe(false, 2), "one event is no habit");
        assert!(!young.observe(true, 2));
        assert!(!young.observe(true, 2));
        assert!(!young.observe(false, 2), "broken before it was a habit");
    }

    #[test]
    fn distinct_counts_values_in_the_window() {
        let mut d = Distinct::default();
        assert_eq!(d.push(1, 0, 6, 10), 1);
        assert_eq!(d.push(1, 1, 6, 10), 1);
        assert_eq!(d.push(2, 2, 6, 10), 2);
        assert_eq!(d.push(3, 10, 6, 10), 3);
        assert_eq!(d.push(4, 11, 6, 10), 3, "a fell out");
    }
}
