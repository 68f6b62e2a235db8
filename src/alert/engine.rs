//! The rule engine: events in (in event-time order), alert changes out.
//!
//! ```text
//! let mut engine = Engine::new(builtin::rules(), inventory)?;
//! for event in events_sorted_by_time { sink(engine.observe(&event)); }
//! sink(engine.tick(last_event_time + quiet));
//! show(engine.alerts());
//! ```
//!
//! Each enabled rule is compiled once (its matcher and exclusion); per
//! event, each rule whose matcher holds updates its kind's state for the
//! event's group (`group_by` values, `field=value, …`), and when the
//! rule's condition holds the event goes to the group's alert:
//!
//! | kind        | condition at an event                                        |
//! |-------------|--------------------------------------------------------------|
//! | every       | always                                                       |
//! | threshold   | ≥ `count` events (or `distinct` values) within `window`     |
//! | spike       | see [`super::spike`]; quiet while the rule is `learning`     |
//! | first-seen  | a value of `field` new to the group, after `learning`        |
//! | missing     | no `field`, after ≥ `minimum` events of the group all had it |
//!
//! First-seen alerts are one per new value: the alert's group is the
//! rule's group plus `field=value`, and the alert counts that first
//! sighting only.
//!
//! Time never comes from the clock: the engine's "now" is the newest event
//! time seen or the latest `tick`, whichever is later. Firing alerts whose
//! quiet period has passed are resolved as event time moves on, so a
//! replay resolves and re-fires alerts exactly as live ingest would.
//! Memory is bounded: groups per rule and alerts per rule are capped
//! ([`Limits`]), the excess folded into an `(other)` group.

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use super::created::CreatedKeys;
use super::intern::Interner;
use super::keys::{EventKeys, GroupPlan, OTHER, none_id};
use super::kinds::{Fired, compile, count_only, judge};
use super::lifecycle::{AlertChange, Book, Change, Hit, Silence, silenced_until};
use super::matcher::{EventFacts, MatchError, Matcher};
use super::spec::RuleSpec;
use super::state::{KindState, OTHER_GROUP, push_pair, write_group};
use super::{Alert, AlertState};
use crate::event::{KmsEvent, Outcome};
use crate::inventory::Inventory;

/// How long a firing alert waits for another matching event before it
/// resolves, unless the rule says otherwise.
pub const DEFAULT_QUIET_MINUTES: i64 = 15;

/// Why rules could not be turned into an engine.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("rule {rule}: {source}")]
    Match {
        rule: String,
        #[source]
        source: MatchError,
    },
    #[error("rule {rule}: a {kind} rule needs `{field}`")]
    Missing {
        rule: String,
        kind: &'static str,
        field: &'static str,
    },
    #[error("rule {rule}: {reason}")]
    Invalid { rule: String, reason: String },
    #[error("rule id {0} is used twice")]
    DuplicateId(String),
}

/// Memory bounds, per rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Groups whose state a rule keeps; more fold into `(other)`.
    pub groups: usize,
    /// Alerts a rule keeps (resolved ones make room first).
    pub alerts: usize,
    /// Values a first-seen rule learns over all its groups.
    pub learned: usize,
    /// The largest threshold `count` (each group keeps that many times).
    pub threshold_count: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            groups: 10_000,
            alerts: 1_000,
            learned: 200_000,
            threshold_count: 100_000,
        }
    }
}

pub(super) struct Rule {
    pub(super) spec: RuleSpec,
    /// How the rule's group gets its number.
    pub(super) plan: GroupPlan,
    pub(super) matcher: Matcher,
    pub(super) exclude: Option<Matcher>,
    /// The time of the rule's first matching event (learning starts).
    pub(super) started_ms: Option<i64>,
    pub(super) state: KindState,
    pub(super) book: Book,
}

/// Alert rules over a stream of events.
pub struct Engine {
    rules: Vec<Rule>,
    inventory: Inventory,
    silences: Vec<Silence>,
    now: Option<DateTime<Utc>>,
    /// The earliest time a firing alert may be due to resolve.
    next_due: Option<DateTime<Utc>>,
    /// Scratch for an alert's group text, reused so matching allocates
    /// nothing.
    group: String,
    /// Scratch for the text of a group of several fields.
    key_text: String,
    /// Events seen since the last sweep of idle groups.
    since_sweep: u64,
    /// The shortest quiet period of any rule.
    min_quiet: Duration,
    /// Which rules an event can match by its name and outcome alone, so
    /// the rest are not asked: most rules watch a few control-plane calls,
    /// most events are Decrypts.
    dispatch: Dispatch,
    /// Numbers for the texts the rules' state is keyed by.
    interner: Interner,
    /// The number of `(none)`, a missing value in a group.
    none: u32,
    /// The keys seen created and by whom, kept only when a rule asks.
    created: Option<CreatedKeys>,
}

/// The rules an event is offered to, by its name and outcome: indices into
/// the rules, ascending (the order alert changes come out in). A rule
/// limited to some names is in those names' rows only; one limited to
/// some outcomes only in those outcomes' columns.
struct Dispatch {
    names: NameTable,
    /// Per row (0: a name no rule lists), per outcome.
    rows: Vec<[Box<[u32]>; 3]>,
}

fn outcome_index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Success => 0,
        Outcome::Denied => 1,
        Outcome::Error => 2,
    }
}

const OUTCOMES: [Outcome; 3] = [Outcome::Success, Outcome::Denied, Outcome::Error];

impl Dispatch {
    fn of(rules: &[Rule]) -> Self {
        let mut names = NameTable::default();
        for rule in rules {
            for name in rule.matcher.event_names() {
                names.add(name);
            }
        }
        let row = |name: Option<&str>| -> [Box<[u32]>; 3] {
            OUTCOMES.map(|outcome| {
                let bit = match outcome {
                    Outcome::Success => 1,
                    Outcome::Denied => 2,
                    Outcome::Error => 4,
                };
                rules
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| {
                        let listed = r.matcher.event_names();
                        let outcomes = r.matcher.outcome_bits();
                        (listed.is_empty()
                            || name.is_some_and(|n| listed.iter().any(|l| **l == *n)))
                            && (outcomes == 0 || outcomes & bit != 0)
                    })
                    .map(|(i, _)| u32::try_from(i).unwrap_or(u32::MAX))
                    .collect()
            })
        };
        let mut rows = vec![row(None)];
        rows.extend(names.names.iter().map(|n| row(Some(n))));
        Self { names, rows }
    }

    /// The rules an event named `name` with `outcome` may match.
    fn rules(&self, name: &str, outcome: Outcome) -> &[u32] {
        &self.rows[self.names.row(name)][outcome_index(outcome)]
    }
}

/// The event names rules list, each with its row (1 and up), found by a
/// cheap look at the name's length and a few bytes, then one comparison.
#[derive(Default)]
struct NameTable {
    names: Vec<Box<str>>,
    /// Per bucket, the rows of the names that fall in it.
    buckets: Vec<Vec<u32>>,
}

/// Buckets of the name table (a power of two).
const NAME_BUCKETS: usize = 64;

fn bucket(name: &str) -> usize {
    let b = name.as_bytes();
    let (first, last) = (b.first().copied(), b.last().copied());
    let middle = b.get(b.len() / 2).copied();
    let mix = b.len()
        ^ usize::from(first.unwrap_or(0)).rotate_left(2)
        ^ usize::from(middle.unwrap_or(0)).rotate_left(4)
        ^ usize::from(last.unwrap_or(0)).rotate_left(1);
    mix & (NAME_BUCKETS - 1)
}

impl NameTable {
    fn add(&mut self, name: &str) {
        if self.buckets.is_empty() {
            self.buckets = vec![Vec::new(); NAME_BUCKETS];
        }
        if self.row(name) != 0 {
            return;
        }
        self.names.push(name.into());
        let row = u32::try_from(self.names.len()).unwrap_or(0);
        self.buckets[bucket(name)].push(row);
    }

    /// The row of `name`; 0 when no rule lists it.
    fn row(&self, name: &str) -> usize {
        let Some(bucket) = self.buckets.get(bucket(name)) else {
            return 0;
        };
        bucket
            .iter()
            .map(|&r| r as usize)
            .find(|&r| *self.names[r - 1] == *name)
            .unwrap_or(0)
    }
}

/// Events between sweeps of idle groups (sweeps also run on every tick).
const SWEEP_EVERY: u64 = 1 << 16;

impl Engine {
    /// Compiles the enabled rules.
    pub fn new(rules: Vec<RuleSpec>, inventory: Inventory) -> Result<Self, EngineError> {
        Self::with_limits(rules, inventory, Limits::default())
    }

    pub fn with_limits(
        rules: Vec<RuleSpec>,
        inventory: Inventory,
        limits: Limits,
    ) -> Result<Self, EngineError> {
        let mut seen = std::collections::HashSet::new();
        let mut compiled = Vec::new();
        let mut interner = Interner::new();
        let none = none_id(&mut interner);
        for spec in rules {
            if !seen.insert(spec.id.clone()) {
                return Err(EngineError::DuplicateId(spec.id));
            }
            if spec.enabled {
                compiled.push(compile(spec, limits)?);
            }
        }
        let asks_created = compiled.iter().any(|r: &Rule| {
            std::iter::once(&r.spec.matcher)
                .chain(&r.spec.exclude)
                .any(|m| m.key_created_by_caller_within.is_some())
        });
        Ok(Self {
            min_quiet: compiled
                .iter()
                .map(|r: &Rule| r.book.quiet)
                .min()
                .unwrap_or(Duration::minutes(DEFAULT_QUIET_MINUTES)),
            dispatch: Dispatch::of(&compiled),
            rules: compiled,
            inventory,
            silences: Vec::new(),
            now: None,
            next_due: None,
            group: String::new(),
            key_text: String::new(),
            since_sweep: 0,
            none,
            interner,
            created: asks_created.then(CreatedKeys::default),
        })
    }

    /// The rules being evaluated (enabled ones only).
    pub fn rules(&self) -> impl Iterator<Item = &RuleSpec> {
        self.rules.iter().map(|r| &r.spec)
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// New key facts; rules that read them see them from the next event.
    pub fn set_inventory(&mut self, inventory: Inventory) {
        self.inventory = inventory;
    }

    /// The engine's now: the newest event time or tick seen.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        self.now
    }

    /// Evaluates one event. Events should come in event-time order; a late
    /// one still counts for every and first-seen rules, and for windows it
    /// still falls into.
    pub fn observe(&mut self, event: &KmsEvent<'_>) -> Vec<AlertChange> {
        let mut out = Vec::new();
        self.advance(event.time, &mut out);
        self.clean_if_due();
        let time_ms = event.time.timestamp_millis();
        self.since_sweep += 1;
        let sweep = self.since_sweep >= SWEEP_EVERY;
        if sweep {
            self.since_sweep = 0;
        }
        let mut fired = false;
        if sweep {
            for rule in &mut self.rules {
                rule.state.sweep(time_ms);
            }
        }
        let candidates = self.dispatch.rules(&event.event_name, event.outcome);
        // What rules read beyond the event's fields, and the numbers of
        // its values, found once for every rule that asks.
        let mut facts = EventFacts::new(event, &self.inventory);
        if let Some(created) = &mut self.created {
            created.observe(event);
            facts = facts.with_created(created);
        }
        let mut keys = EventKeys::new(event, &mut self.interner, self.none, &mut self.key_text);
        for &i in candidates {
            let rule = &mut self.rules[i as usize];
            if !rule.matcher.matches_dispatched(&facts)
                || rule
                    .exclude
                    .as_ref()
                    .is_some_and(|x| x.matches_facts(&facts))
            {
                continue;
            }
            let started = *rule.started_ms.get_or_insert(time_ms);
            let group = keys.group(rule.plan, &rule.spec.group_by);
            let Some((initial_count, how)) =
                judge(&mut rule.state, group, &mut keys, time_ms, started)
            else {
                continue;
            };
            fired = true;
            let key = match how {
                Fired::Group => Some(group),
                Fired::Other => Some(OTHER),
                Fired::Value(_) => None,
            };
            let mut hit = Hit {
                group: "",
                time: event.time,
                event_id: &event.event_id,
                initial_count,
            };
            let (found, mut alert) = key.map_or((false, None), |key| {
                rule.book.record_by_key(key, &hit, &self.silences)
            });
            if !found {
                write_alert_group(&mut self.group, &rule.spec.group_by, how, event);
                hit.group = &self.group;
                alert = rule.book.record(&rule.spec, key, &hit, &self.silences);
            }
            if let Some(alert) = alert {
                out.push(AlertChange {
                    change: Change::Fired,
                    alert,
                });
            }
        }
        if fired {
            let due = event.time + self.min_quiet;
            self.next_due = Some(self.next_due.map_or(due, |d| d.min(due)));
        }
        out
    }

    /// Drops the interner's texts no rule holds any more, once it has
    /// grown enough since the last time.
    fn clean_if_due(&mut self) {
        if !self.interner.due() {
            return;
        }
        let mut held = vec![self.none];
        for rule in &self.rules {
            rule.state.numbers(&mut |n| held.push(n));
            held.extend(rule.book.keys());
        }
        self.interner.clean(&mut held);
    }

    /// Takes `n` events that rule `rule` matched, of `event`'s group, in one
    /// of the rule's buckets from `event.time` to `last`, known only by
    /// their number (a report pushed down to Athena): they are the group's
    /// past, never judged. The caller guarantees none of them could have
    /// fired (see `athena::counted`); `event` needs only the group's fields
    /// and the first time. Returns the alerts that resolved as time moved.
    pub fn observe_counted(
        &mut self,
        rule: &str,
        event: &KmsEvent<'_>,
        last: DateTime<Utc>,
        n: u64,
    ) -> Vec<AlertChange> {
        let mut out = Vec::new();
        self.advance(event.time, &mut out);
        self.clean_if_due();
        let first_ms = event.time.timestamp_millis();
        let last_ms = last.timestamp_millis().max(first_ms);
        if let Some(r) = self.rules.iter_mut().find(|r| r.spec.id == rule) {
            r.started_ms.get_or_insert(first_ms);
            let mut keys = EventKeys::new(event, &mut self.interner, self.none, &mut self.key_text);
            let group = keys.group(r.plan, &r.spec.group_by);
            count_only(&mut r.state, group, first_ms, last_ms, n);
        }
        out
    }

    /// Rule `rule` matched an event at `time` that is known only as part of
    /// a count, in a group whose state no verdict reads: only the rule's
    /// start (of its learning period) may move.
    pub fn note_match(&mut self, rule: &str, time: DateTime<Utc>) {
        if let Some(r) = self.rules.iter_mut().find(|r| r.spec.id == rule) {
            r.started_ms.get_or_insert(time.timestamp_millis());
        }
    }

    /// Moves time to `now` (if later): resolves alerts quiet for their
    /// rule's quiet period, ends silences, drops idle groups.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<AlertChange> {
        let mut out = Vec::new();
        self.advance(now, &mut out);
        let now = self.now.unwrap_or(now);
        self.resolve(now, &mut out);
        self.silences.retain(|s| s.until > now);
        let now_ms = now.timestamp_millis();
        for rule in &mut self.rules {
            rule.state.sweep(now_ms);
            for alert in rule.book.alerts_mut() {
                if alert.silenced_until.is_some_and(|u| u <= now) {
                    alert.silenced_until = None;
                }
            }
        }
        out
    }

    /// Visible alerts (not silenced): firing first, then by severity
    /// (loudest first), then most recent first.
    pub fn alerts(&self) -> Vec<&Alert> {
        let now = self.now;
        let mut v: Vec<&Alert> = self
            .all()
            .filter(|a| a.silenced_until.is_none_or(|u| now.is_some_and(|n| u <= n)))
            .collect();
        sort_alerts(&mut v);
        v
    }

    /// Every alert, silenced ones included, in the same order.
    pub fn all_alerts(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self.all().collect();
        sort_alerts(&mut v);
        v
    }

    fn all(&self) -> impl Iterator<Item = &Alert> {
        self.rules.iter().flat_map(|r| r.book.alerts())
    }

    /// Acknowledges an alert: it stays listed, but quiet. Re-firing after
    /// it resolved clears the ack. False when there is no such alert.
    pub fn ack(&mut self, rule: &str, group: &str) -> bool {
        self.rules
            .iter_mut()
            .find(|r| r.spec.id == rule)
            .and_then(|r| r.book.get_mut(group))
            .map(|a| a.acked = true)
            .is_some()
    }

    /// Hides a rule's alerts (or one group's) until `until`: they keep
    /// their state but report no changes and are left out of
    /// [`Engine::alerts`].
    pub fn silence(&mut self, rule: &str, group: Option<&str>, until: DateTime<Utc>) {
        let silence = Silence {
            rule: rule.to_owned(),
            group: group.map(str::to_owned),
            until,
        };
        self.silences.push(silence);
        let now = self.now.unwrap_or(DateTime::<Utc>::MIN_UTC);
        for r in self.rules.iter_mut().filter(|r| r.spec.id == rule) {
            for alert in r.book.alerts_mut() {
                alert.silenced_until = silenced_until(&self.silences, rule, &alert.group, now);
            }
        }
    }

    /// Groups and alerts held, for memory checks: (groups, alerts).
    pub fn held(&self) -> (usize, usize) {
        self.rules
            .iter()
            .fold((0, 0), |(g, a), r| (g + r.state.groups(), a + r.book.len()))
    }

    /// Texts the engine has numbers for (groups' and values'), for memory
    /// checks: bounded by what the rules hold (see [`super::intern`]).
    pub fn interned(&self) -> usize {
        self.interner.len()
    }

    fn advance(&mut self, time: DateTime<Utc>, out: &mut Vec<AlertChange>) {
        if self.now.is_some_and(|n| n >= time) {
            return;
        }
        self.now = Some(time);
        if self.next_due.is_some_and(|d| d <= time) {
            self.resolve(time, out);
        }
    }

    fn resolve(&mut self, now: DateTime<Utc>, out: &mut Vec<AlertChange>) {
        let mut next: Option<DateTime<Utc>> = None;
        for rule in &mut self.rules {
            if let Some(due) = rule.book.resolve_due(now, out) {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        self.next_due = next;
    }
}

/// Writes the group of an alert that fired: the rule's group, `(other)`,
/// or the rule's group and the new value (first-seen).
fn write_alert_group(
    out: &mut String,
    group_by: &[super::spec::Field],
    how: Fired,
    event: &KmsEvent<'_>,
) {
    match how {
        Fired::Group => write_group(out, group_by, event),
        Fired::Other => {
            out.clear();
            out.push_str(OTHER_GROUP);
        }
        Fired::Value(field) => {
            write_group(out, group_by, event);
            // Fired only for an event that has the value.
            let value = super::state::field_value(event, field);
            let comma = !out.is_empty();
            push_pair(out, comma, field, value.as_deref().unwrap_or_default());
        }
    }
}

fn sort_alerts(v: &mut [&Alert]) {
    v.sort_by(|a, b| {
        let firing = |x: &Alert| x.state == AlertState::Firing;
        firing(b)
            .cmp(&firing(a))
            .then(b.severity.cmp(&a.severity))
            .then(b.last.cmp(&a.last))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.group.cmp(&b.group))
    });
}
