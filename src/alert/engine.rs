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

use super::lifecycle::{AlertChange, Book, Change, Hit, Silence, silenced_until};
use super::matcher::{MatchError, Matcher};
use super::spec::{Kind, RuleSpec};
use super::spike::{SpikeConfig, SpikeState};
use super::state::{
    Distinct, FxSet, GroupMap, KindState, OTHER_GROUP, Recent, field_value, push_pair, write_group,
};
use super::{Alert, AlertState};
use crate::event::KmsEvent;
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

struct Rule {
    spec: RuleSpec,
    matcher: Matcher,
    exclude: Option<Matcher>,
    /// The time of the rule's first matching event (learning starts).
    started_ms: Option<i64>,
    state: KindState,
    book: Book,
}

/// Alert rules over a stream of events.
pub struct Engine {
    rules: Vec<Rule>,
    inventory: Inventory,
    silences: Vec<Silence>,
    now: Option<DateTime<Utc>>,
    /// The earliest time a firing alert may be due to resolve.
    next_due: Option<DateTime<Utc>>,
    /// Scratch for group text, reused so matching allocates nothing.
    group: String,
    /// Events seen since the last sweep of idle groups.
    since_sweep: u64,
    /// The shortest quiet period of any rule.
    min_quiet: Duration,
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
        for spec in rules {
            if !seen.insert(spec.id.clone()) {
                return Err(EngineError::DuplicateId(spec.id));
            }
            if spec.enabled {
                compiled.push(compile(spec, limits)?);
            }
        }
        Ok(Self {
            min_quiet: compiled
                .iter()
                .map(|r: &Rule| r.book.quiet)
                .min()
                .unwrap_or(Duration::minutes(DEFAULT_QUIET_MINUTES)),
            rules: compiled,
            inventory,
            silences: Vec::new(),
            now: None,
            next_due: None,
            group: String::new(),
            since_sweep: 0,
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
        let time_ms = event.time.timestamp_millis();
        self.since_sweep += 1;
        let sweep = self.since_sweep >= SWEEP_EVERY;
        if sweep {
            self.since_sweep = 0;
        }
        let mut fired = false;
        for rule in &mut self.rules {
            if sweep {
                rule.state.sweep(time_ms);
            }
            if !rule.matcher.matches(event, &self.inventory)
                || rule
                    .exclude
                    .as_ref()
                    .is_some_and(|x| x.matches(event, &self.inventory))
            {
                continue;
            }
            let started = *rule.started_ms.get_or_insert(time_ms);
            write_group(&mut self.group, &rule.spec.group_by, event);
            let Some(initial_count) =
                judge(&mut rule.state, &mut self.group, event, time_ms, started)
            else {
                continue;
            };
            let hit = Hit {
                group: &self.group,
                time: event.time,
                event_id: &event.event_id,
                initial_count,
            };
            if let Some(alert) = rule.book.record(&rule.spec, &hit, &self.silences) {
                out.push(AlertChange {
                    change: Change::Fired,
                    alert,
                });
            }
            fired = true;
        }
        if fired {
            let due = event.time + self.min_quiet;
            self.next_due = Some(self.next_due.map_or(due, |d| d.min(due)));
        }
        out
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

/// Updates a rule's state for one matching event; returns the alert's
/// starting count when the rule's condition holds. May extend `group`
/// (first-seen) or replace it with `(other)` (a folded group).
fn judge(
    state: &mut KindState,
    group: &mut String,
    event: &KmsEvent<'_>,
    time_ms: i64,
    started_ms: i64,
) -> Option<u64> {
    let (result, folded) = match state {
        KindState::Every => (Some(1), false),
        KindState::Threshold {
            count,
            window_ms,
            groups,
        } => {
            let (cap, window, need) = (*count as usize, *window_ms, *count);
            groups.with(group, time_ms, Recent::default, |r, folded| {
                let n = r.push(time_ms, cap, window);
                ((n >= need).then_some(n), folded)
            })
        }
        KindState::Distinct {
            field,
            count,
            window_ms,
            groups,
        } => {
            let value = field_value(event, *field)?;
            let (cap, window, need) = (*count as usize, *window_ms, *count);
            groups.with(group, time_ms, Distinct::default, |d, folded| {
                let n = d.push(value, time_ms, cap, window);
                ((n >= need).then_some(n), folded)
            })
        }
        KindState::Spike {
            config,
            learning_ms,
            groups,
        } => {
            let learning = time_ms < started_ms.saturating_add(*learning_ms);
            let cfg = *config;
            groups.with(
                group,
                time_ms,
                || SpikeState::new(&cfg, time_ms),
                |s, folded| {
                    let v = s.observe(&cfg, time_ms);
                    ((v.spike && !learning).then_some(v.count), folded)
                },
            )
        }
        KindState::FirstSeen {
            field,
            learning_ms,
            groups,
            learned,
            cap,
        } => {
            let f = *field;
            let value = field_value(event, f)?;
            let learning = time_ms < started_ms.saturating_add(*learning_ms);
            let room = *learned < *cap;
            let (new, folded) = groups.with(group, time_ms, FxSet::default, |set, folded| {
                if set.contains(value) || !room {
                    return (false, folded);
                }
                set.insert(value.into());
                (true, folded)
            });
            if new {
                *learned += 1;
            }
            if folded {
                // Values of folded groups are not attributable: learn only.
                return None;
            }
            let fire = new && !learning;
            if fire {
                push_pair(group, !group.is_empty(), f, value);
            }
            (fire.then_some(1), false)
        }
    };
    if folded {
        group.clear();
        group.push_str(OTHER_GROUP);
    }
    result
}

fn compile(spec: RuleSpec, limits: Limits) -> Result<Rule, EngineError> {
    let matcher = Matcher::compile(&spec.matcher).map_err(|source| EngineError::Match {
        rule: spec.id.clone(),
        source,
    })?;
    let exclude = spec
        .exclude
        .as_ref()
        .map(Matcher::compile)
        .transpose()
        .map_err(|source| EngineError::Match {
            rule: spec.id.clone(),
            source,
        })?;
    let missing = |kind: &'static str, field: &'static str| EngineError::Missing {
        rule: spec.id.clone(),
        kind,
        field,
    };
    let positive = |d: Duration, what: &str| {
        if d > Duration::zero() {
            Ok(d.num_milliseconds())
        } else {
            Err(EngineError::Invalid {
                rule: spec.id.clone(),
                reason: format!("`{what}` must be positive"),
            })
        }
    };
    let window = spec.window.map(|w| w.0);
    let state = match spec.kind {
        Kind::Every => KindState::Every,
        Kind::Threshold => {
            let count = spec.count.ok_or_else(|| missing("threshold", "count"))?;
            let window_ms = positive(
                window.ok_or_else(|| missing("threshold", "window"))?,
                "window",
            )?;
            if count == 0 || count > limits.threshold_count {
                return Err(EngineError::Invalid {
                    rule: spec.id.clone(),
                    reason: format!("`count` must be 1 to {}", limits.threshold_count),
                });
            }
            match spec.distinct {
                Some(field) => KindState::Distinct {
                    field,
                    count,
                    window_ms,
                    groups: GroupMap::new(limits.groups, Some(window_ms)),
                },
                None => KindState::Threshold {
                    count,
                    window_ms,
                    groups: GroupMap::new(limits.groups, Some(window_ms)),
                },
            }
        }
        Kind::Spike => {
            let window = window.ok_or_else(|| missing("spike", "window"))?;
            let baseline = spec.baseline.ok_or_else(|| missing("spike", "baseline"))?.0;
            let factor = spec.factor.ok_or_else(|| missing("spike", "factor"))?;
            let minimum = spec.minimum.ok_or_else(|| missing("spike", "minimum"))?;
            positive(window, "window")?;
            positive(baseline, "baseline")?;
            if !(factor.is_finite() && factor >= 1.0) {
                return Err(EngineError::Invalid {
                    rule: spec.id.clone(),
                    reason: "`factor` must be a number ≥ 1".into(),
                });
            }
            let config = SpikeConfig::new(window, baseline, factor, minimum);
            KindState::Spike {
                config,
                learning_ms: spec.learning.map_or(0, |l| l.0.num_milliseconds()),
                groups: GroupMap::new(limits.groups, Some(config.idle_ms())),
            }
        }
        Kind::FirstSeen => KindState::FirstSeen {
            field: spec.field.ok_or_else(|| missing("first-seen", "field"))?,
            learning_ms: spec.learning.map_or(0, |l| l.0.num_milliseconds()),
            groups: GroupMap::new(limits.groups, None),
            learned: 0,
            cap: limits.learned,
        },
    };
    let quiet = spec
        .quiet
        .map_or(Duration::minutes(DEFAULT_QUIET_MINUTES), |q| q.0);
    Ok(Rule {
        matcher,
        exclude,
        started_ms: None,
        state,
        book: Book::new(quiet, limits.alerts),
        spec,
    })
}
