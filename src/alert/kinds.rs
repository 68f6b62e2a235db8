//! Per rule kind: turning a spec into its state (`compile`) and judging
//! one matching event against it (`judge`).

use chrono::Duration;

use super::engine::{DEFAULT_QUIET_MINUTES, EngineError, Limits, Rule};
use super::keys::{EventKeys, GroupPlan};
use super::lifecycle::Book;
use super::matcher::Matcher;
use super::spec::Field;
use super::spec::{Kind, RuleSpec};
use super::spike::{SpikeConfig, SpikeState};
use super::state::{Distinct, FxSet, GroupMap, Habit, KindState, Recent, field_value};

/// How the group of an alert that fired is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fired {
    /// The rule's group (`group_by` values).
    Group,
    /// The group was folded into `(other)`.
    Other,
    /// The rule's group and `field=value` (first-seen: the new value).
    Value(Field),
}

/// Updates a rule's state for one matching event of the group numbered
/// `group`; returns the alert's starting count when the rule's condition
/// holds, and how the alert's group is written. `keys` gives the numbers
/// of the event's values.
pub(super) fn judge(
    state: &mut KindState,
    group: u32,
    keys: &mut EventKeys<'_, '_>,
    time_ms: i64,
    started_ms: i64,
) -> Option<(u64, Fired)> {
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
            let value = keys.value(*field)?;
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
            let value = keys.value(f)?;
            let learning = time_ms < started_ms.saturating_add(*learning_ms);
            let room = *learned < *cap;
            let (new, folded) = groups.with(group, time_ms, FxSet::default, |set, folded| {
                if set.contains(&value) || !room {
                    return (false, folded);
                }
                set.insert(value);
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
            return fire.then_some((1, Fired::Value(f)));
        }
        KindState::Missing {
            field,
            minimum,
            learning_ms,
            groups,
        } => {
            let has = field_value(keys.event(), *field).is_some();
            let need = *minimum;
            let learning = time_ms < started_ms.saturating_add(*learning_ms);
            let (fire, folded) = groups.with(group, time_ms, Habit::default, |h, folded| {
                (h.observe(has, need), folded)
            });
            // A folded group mixes many groups' habits: it proves nothing;
            // a habit broken while learning was never one.
            (fire.then_some(1).filter(|_| !folded && !learning), folded)
        }
    };
    result.map(|n| (n, if folded { Fired::Other } else { Fired::Group }))
}

/// Takes `n` matching events of the group numbered `group` known only by
/// their number, in one bucket from `first_ms` to `last_ms`, as the
/// group's past: none of them can make the rule's condition hold (the
/// caller made sure), but a spike's baseline is made of them and an idle
/// group is judged from the last of them.
pub(super) fn count_only(state: &mut KindState, group: u32, first_ms: i64, last_ms: i64, n: u64) {
    match state {
        KindState::Every | KindState::FirstSeen { .. } => {}
        KindState::Missing { groups, .. } => {
            groups.with(group, first_ms, Habit::default, |h, _| h.add_with(n));
        }
        KindState::Threshold { groups, .. } => {
            groups.with(group, first_ms, Recent::default, |_, _| ());
            groups.with(group, last_ms, Recent::default, |_, _| ());
        }
        KindState::Distinct { groups, .. } => {
            groups.with(group, first_ms, Distinct::default, |_, _| ());
            groups.with(group, last_ms, Distinct::default, |_, _| ());
        }
        KindState::Spike { config, groups, .. } => {
            let cfg = *config;
            let fresh = || SpikeState::new(&cfg, first_ms);
            groups.with(group, first_ms, fresh, |s, _| {
                s.observe_many(&cfg, first_ms, n);
            });
            groups.with(group, last_ms, fresh, |_, _| ());
        }
    }
}

pub(super) fn compile(spec: RuleSpec, limits: Limits) -> Result<Rule, EngineError> {
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
        Kind::FirstSeen | Kind::Missing => per_value_state(&spec, limits)?,
    };
    let quiet = spec
        .quiet
        .map_or(Duration::minutes(DEFAULT_QUIET_MINUTES), |q| q.0);
    Ok(Rule {
        plan: GroupPlan::of(&spec.group_by),
        matcher,
        exclude,
        started_ms: None,
        state,
        book: Book::new(quiet, limits.alerts),
        spec,
    })
}

/// The kinds that judge each event's value of `field` against what the
/// group has seen (first-seen, missing): their groups never idle out.
fn per_value_state(spec: &RuleSpec, limits: Limits) -> Result<KindState, EngineError> {
    let missing = |kind: &'static str, field: &'static str| EngineError::Missing {
        rule: spec.id.clone(),
        kind,
        field,
    };
    Ok(if spec.kind == Kind::Missing {
        KindState::Missing {
            field: spec.field.ok_or_else(|| missing("missing", "field"))?,
            minimum: spec.minimum.ok_or_else(|| missing("missing", "minimum"))?,
            learning_ms: spec.learning.map_or(0, |l| l.0.num_milliseconds()),
            groups: GroupMap::new(limits.groups, None),
        }
    } else {
        KindState::FirstSeen {
            field: spec.field.ok_or_else(|| missing("first-seen", "field"))?,
            learning_ms: spec.learning.map_or(0, |l| l.0.num_milliseconds()),
            groups: GroupMap::new(limits.groups, None),
            learned: 0,
            cap: limits.learned,
        }
    })
}
