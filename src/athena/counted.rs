//! Counting rules (thresholds, spikes) pushed down as counts per bucket.
//!
//! A threshold or spike rule matches a great many events (every
//! successful Decrypt, for a Decrypt-volume spike) but fires on few: only
//! where enough of them fall close together. Athena counts a rule's
//! matching events per group and bucket with window functions, and an
//! event comes back whole only where its bucket's neighbourhood holds
//! enough events for the rule's condition to be met there; every other
//! bucket comes back as one count row, which the engine takes as the
//! group's past ([`crate::alert::Engine::observe_counted`]) without
//! judging it.
//!
//! Why that is exact (`B` is the bucket width, `b` an event's bucket):
//! - A spike judges the events of buckets `b-9 ..= b` (its window), so an
//!   event whose ten buckets hold fewer than `minimum` matching events
//!   cannot be a spike, and its bucket's count is all its later verdicts
//!   read of it (the detector keeps counts per bucket).
//! - A threshold counts events within `window = B` of the newest: at most
//!   buckets `b-1` and `b`. An event can fire only if those hold `count`
//!   events; it can add to another's count only if that other lies in
//!   `b` or `b+1`. So a bucket is needed whole when buckets `b-1, b` or
//!   `b, b+1` hold `count` events; the others add nothing to any count
//!   that can reach `count`.
//! - A group whose buckets never come near the condition is never judged
//!   to fire, so its past is not read at all: one row per rule carries
//!   only its first time (a rule's learning starts at its first match).
//!
//! The one thing counts cannot reproduce is which group folds into
//! `(other)` once a rule holds its cap of active groups: that depends on
//! every event's time. Below the cap the alerts are the local ones.

use std::fmt::Write as _;

use crate::alert::spike::{BUCKETS, SpikeConfig};
use crate::alert::{Field, Kind, RuleSpec};
use crate::inventory::Inventory;

use super::conditions::{field_sql, rule_condition};

/// The fields a counted rule's group may be made of, in the order of the
/// query's `g_…` columns.
pub const GROUP_FIELDS: [(Field, &str); 8] = [
    (Field::Principal, "g_principal"),
    (Field::Key, "g_key"),
    (Field::Region, "g_region"),
    (Field::EventName, "g_event_name"),
    (Field::SourceIp, "g_source_ip"),
    (Field::UserAgent, "g_user_agent"),
    (Field::ErrorCode, "g_error_code"),
    (Field::PrincipalAccount, "g_principal_account"),
];

/// A rule whose matching events are counted per group and bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedRule {
    pub id: String,
    pub fields: Vec<Field>,
    pub bucket_ms: i64,
    /// Buckets before an event's that its verdict reads.
    back: i64,
    /// Whether the next bucket's verdicts read this one (thresholds).
    ahead: bool,
    /// Events the condition needs within `back + 1` buckets.
    need: u64,
    /// For a spike: the buckets of its past read for a floor under its
    /// baseline, and what their sum times this must not exceed.
    floor: Option<(i64, f64)>,
    /// For a habit (`missing`) rule: when an event surely has the field
    /// (SQL that implies the parser finds it). Its events are counted per
    /// stretch between events that may lack it, which come back whole.
    habit: Option<String>,
    /// The rule's conditions, exactly, in SQL.
    condition: String,
}

/// The rules whose events can be counted: enabled thresholds and spikes
/// that need more than one event, whose conditions render exactly and
/// whose groups are columns. In rule order: a row's `counted_rule` is an
/// index into this list plus one.
#[must_use]
pub fn counted_rules(rules: &[RuleSpec], inventory: &Inventory) -> Vec<CountedRule> {
    rules
        .iter()
        .filter(|r| r.enabled)
        .filter_map(|r| counted_rule(r, inventory))
        .collect()
}

fn counted_rule(rule: &RuleSpec, inventory: &Inventory) -> Option<CountedRule> {
    if rule
        .group_by
        .iter()
        .any(|f| !GROUP_FIELDS.iter().any(|(g, _)| g == f))
    {
        return None;
    }
    if rule.kind == Kind::Missing {
        return habit_rule(rule, inventory);
    }
    let window = rule.window?.0;
    let (bucket_ms, back, ahead, need, floor) = match rule.kind {
        Kind::Spike => {
            let cfg = SpikeConfig::new(window, rule.baseline?.0, rule.factor?, rule.minimum?);
            let back = i64::try_from(BUCKETS).ok()? - 1;
            let floor = Some(baseline_floor(&cfg));
            (cfg.bucket_ms(), back, false, rule.minimum?.max(1), floor)
        }
        Kind::Threshold => (window.num_milliseconds(), 1, true, rule.count?, None),
        Kind::Every | Kind::FirstSeen | Kind::Missing => return None,
    };
    let (condition, exact) = rule_condition(rule, inventory);
    (exact && need > 1 && bucket_ms > 0).then(|| CountedRule {
        id: rule.id.clone(),
        fields: rule.group_by.clone(),
        bucket_ms,
        back,
        ahead,
        need,
        floor,
        habit: None,
        condition,
    })
}

/// A `missing` rule: only the first event of a group without the field
/// can fire, after the events before it that had it. SQL cannot read the
/// field exactly as the parser does, so every event that may lack it
/// comes back whole (with every event at the same time: their order is
/// the engine's), and the events that surely have it come back as one
/// count per stretch between those.
fn habit_rule(rule: &RuleSpec, inventory: &Inventory) -> Option<CountedRule> {
    let sure = match rule.field? {
        // The first entry of the context (as the engine's JSON writes
        // it) is a string: the parser keeps at least that pair.
        Field::ContextKey => r#"regexp_like(COALESCE(json_format(json_extract(requestparameters, '$.encryptionContext')), ''), '^\{"[^"\\]*":"')"#.to_owned(),
        f => format!("{} IS NOT NULL", field_sql(f)?),
    };
    let (condition, exact) = rule_condition(rule, inventory);
    exact.then(|| CountedRule {
        id: rule.id.clone(),
        fields: rule.group_by.clone(),
        bucket_ms: 0,
        back: 0,
        ahead: false,
        need: 0,
        floor: None,
        habit: Some(sure),
        condition,
    })
}

/// A floor under a spike's baseline from the sum of `m` buckets of its
/// past: the average weighs the bucket that left the window last
/// `alpha`, the one before `alpha (1 - alpha)`, …, so over the last `m`
/// that left, every bucket weighs at least `alpha (1 - alpha)^(m-1)`,
/// and the baseline (ten buckets' worth) is at least ten times that times
/// their sum. `m = 1 / alpha` makes the floor highest for a steady rate
/// (about 0.37 of the baseline). A group the engine keeps starts afresh
/// only after hours idle, so those buckets are in its past. Slightly
/// lowered, so rounding can only widen the net.
fn baseline_floor(cfg: &SpikeConfig) -> (i64, f64) {
    let alpha = cfg.alpha();
    #[allow(clippy::cast_possible_truncation)]
    let m = ((1.0 / alpha).round() as i64).clamp(1, 10_000);
    let weight = alpha * (1.0 - alpha).powi(i32::try_from(m - 1).unwrap_or(i32::MAX));
    let span = f64::from(u32::try_from(BUCKETS).unwrap_or(10));
    (m, cfg.factor() * span * weight * 0.999)
}

impl CountedRule {
    /// The start of an event's bucket, in epoch milliseconds.
    fn bucket(&self) -> String {
        format!("(t_ms - mod(t_ms, {}))", self.bucket_ms)
    }

    fn partition(&self) -> String {
        let mut by = vec!["kind".to_owned(), format!("({})", self.condition)];
        by.extend(
            self.fields
                .iter()
                .filter_map(|f| field_sql(*f).map(str::to_owned)),
        );
        by.join(", ")
    }

    /// Whether an event of rule number `i` could fire in its own bucket
    /// (over `ranked`).
    fn could_fire(&self, i: usize) -> String {
        if self.habit.is_some() {
            return format!("counted_{i}_back = 1");
        }
        let mut hot = format!("counted_{i}_back >= {}", self.need);
        if let Some((_, times)) = self.floor {
            hot = format!("{hot} AND counted_{i}_back >= {times:.12} * counted_{i}_past");
        }
        hot
    }

    /// The window columns of rule number `i` (over `classed`).
    #[must_use]
    pub fn windows(&self, i: usize) -> Vec<String> {
        if let Some(sure) = &self.habit {
            let partition = self.partition();
            let unsure = format!("CASE WHEN {sure} THEN 0 ELSE 1 END");
            return vec![
                // The stretch: events that may lack the field up to now.
                format!(
                    "sum({unsure}) OVER (PARTITION BY {partition} ORDER BY t \
                     RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS counted_{i}_bucket"
                ),
                // Whether one of them is at this very time.
                format!("max({unsure}) OVER (PARTITION BY {partition}, t) AS counted_{i}_back"),
            ];
        }
        let over = |frame: String| {
            format!(
                "count(*) OVER (PARTITION BY {} ORDER BY {} RANGE BETWEEN {frame})",
                self.partition(),
                self.bucket()
            )
        };
        let mut columns = vec![
            format!("{} AS counted_{i}_bucket", self.bucket()),
            format!(
                "{} AS counted_{i}_back",
                over(format!(
                    "{} PRECEDING AND CURRENT ROW",
                    self.back * self.bucket_ms
                ))
            ),
        ];
        if self.ahead {
            columns.push(format!(
                "{} AS counted_{i}_ahead",
                over(format!("CURRENT ROW AND {} FOLLOWING", self.bucket_ms))
            ));
        }
        if let Some((m, _)) = self.floor {
            // The `m` buckets that left the window last.
            let span = i64::try_from(BUCKETS).unwrap_or(10);
            columns.push(format!(
                "{} AS counted_{i}_past",
                over(format!(
                    "{} PRECEDING AND {} PRECEDING",
                    (span + m - 1) * self.bucket_ms,
                    span * self.bucket_ms
                ))
            ));
        }
        columns
    }

    /// The peak of rule number `i`'s counts over its whole group (over
    /// `ranked`): a group that never comes near the condition has a past
    /// nobody reads.
    #[must_use]
    pub fn peak(&self, i: usize) -> String {
        format!(
            "max(CASE WHEN {} THEN 1 ELSE 0 END) OVER (PARTITION BY {}) AS counted_{i}_peak",
            self.could_fire(i),
            self.partition()
        )
    }

    /// Whether a counted event of rule number `i` belongs to a group that
    /// ever comes near the condition (over `peaked`).
    fn hot_group(i: usize) -> String {
        format!("counted_{i}_peak = 1")
    }

    /// When rule number `i` needs an event whole.
    #[must_use]
    pub fn wanted(&self, i: usize) -> String {
        let mut hot = self.could_fire(i);
        if self.ahead {
            hot = format!("{hot} OR counted_{i}_ahead >= {}", self.need);
        }
        format!("(({}) AND ({hot}))", self.condition)
    }

    /// The tag of an event of rule number `i` that is counted, not whole.
    #[must_use]
    pub fn tag(&self, i: usize) -> String {
        format!(
            "CASE WHEN kind = 'event' AND NOT whole AND COALESCE(({}), false) THEN {} END",
            self.condition,
            i + 1
        )
    }
}

/// The columns that describe a counted row (null on every other row): its
/// rule (`counted_rule`, 0 elsewhere), bucket and group values. A group
/// that never comes near its rule's condition is one row per rule,
/// without bucket or group: only its first time is read (when the rule
/// started, for its learning period).
#[must_use]
pub fn counted_columns(rules: &[CountedRule]) -> Vec<String> {
    let tags = |keep: &dyn Fn(&CountedRule) -> bool| -> Vec<String> {
        rules
            .iter()
            .enumerate()
            .filter(|(_, r)| keep(r))
            .map(|(i, _)| (i + 1).to_string())
            .collect()
    };
    let mut columns = vec!["tag AS counted_rule".to_owned()];
    let buckets = (0..rules.len()).fold(String::new(), |mut all, i| {
        let _ = write!(all, " WHEN {} THEN counted_{i}_bucket", i + 1);
        all
    });
    columns.push(if rules.is_empty() {
        "CAST(NULL AS bigint) AS counted_bucket".to_owned()
    } else {
        format!("CASE WHEN hot_group THEN CASE tag{buckets} END END AS counted_bucket")
    });
    for (field, name) in GROUP_FIELDS {
        let tags = tags(&|r: &CountedRule| r.fields.contains(&field));
        let sql = field_sql(field).unwrap_or("NULL");
        columns.push(if tags.is_empty() {
            format!("CAST(NULL AS varchar) AS {name}")
        } else {
            format!(
                "CASE WHEN hot_group AND tag IN ({}) THEN {sql} END AS {name}",
                tags.join(", ")
            )
        });
    }
    columns
}

/// Whether a row's counted group is hot (false for tag 0), over `tagged`.
#[must_use]
pub fn hot_group_column(rules: &[CountedRule]) -> String {
    let cases = (0..rules.len()).fold(String::new(), |mut all, i| {
        let _ = write!(all, " WHEN {} THEN {}", i + 1, CountedRule::hot_group(i));
        all
    });
    if rules.is_empty() {
        "false AS hot_group".to_owned()
    } else {
        format!("CASE tag{cases} ELSE false END AS hot_group")
    }
}

/// The names of [`counted_columns`], in order.
#[must_use]
pub fn counted_column_names() -> Vec<&'static str> {
    let mut names = vec!["counted_rule", "counted_bucket"];
    names.extend(GROUP_FIELDS.iter().map(|(_, name)| *name));
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::builtin;
    use crate::alert::spike::SpikeState;
    use proptest::prelude::*;

    proptest! {
        /// The floor the query puts under a spike's baseline is never
        /// above the baseline the engine judges with: whatever the
        /// counts per bucket, an event the query leaves out could not
        /// have fired.
        #[test]
        fn the_baseline_floor_never_exceeds_the_engines_baseline(
            counts in proptest::collection::vec(0u64..400, 1..300),
            factor in 1.0f64..20.0,
        ) {
            let cfg = SpikeConfig::new(
                chrono::Duration::minutes(5),
                chrono::Duration::hours(1),
                factor,
                20,
            );
            let (m, times) = baseline_floor(&cfg);
            let m = usize::try_from(m).unwrap_or(1);
            let mut state = SpikeState::new(&cfg, 0);
            for (b, &n) in counts.iter().enumerate() {
                let at = i64::try_from(b).unwrap_or(0) * cfg.bucket_ms();
                // One more event in bucket `b`: the verdict's baseline.
                let verdict = state.observe(&cfg, at);
                // The query's past: buckets b-10-m+1 ..= b-10.
                let past: u64 = (b.saturating_sub(BUCKETS + m - 1)..=b.saturating_sub(BUCKETS))
                    .filter(|&k| b >= BUCKETS && k + BUCKETS <= b)
                    .map(|k| counts[k].max(1))
                    .sum();
                let floor = times * f64::from(u32::try_from(past).unwrap_or(u32::MAX));
                prop_assert!(
                    floor <= factor * verdict.baseline + 1e-9,
                    "bucket {b}: floor {floor} above factor x baseline {}",
                    factor * verdict.baseline
                );
                if n > 1 {
                    state.observe_many(&cfg, at, n - 1);
                }
            }
        }
    }

    #[test]
    fn the_builtin_spikes_and_thresholds_are_counted_where_they_can_be() {
        let counted = counted_rules(&builtin::rules(), &Inventory::default());
        let ids: Vec<&str> = counted.iter().map(|r| r.id.as_str()).collect();
        assert!(ids.contains(&"decrypt-volume-spike"), "{ids:?}");
        assert!(ids.contains(&"unauthorized-spike-by-key"), "{ids:?}");
        // A threshold of one needs every event: nothing to count.
        assert!(!ids.contains(&"unauthorized-kms-call"), "{ids:?}");
        let spike = counted
            .iter()
            .find(|r| r.id == "decrypt-volume-spike")
            .expect("counted");
        assert_eq!(spike.bucket_ms, 30_000);
        assert!(spike.windows(0)[1].contains("RANGE BETWEEN 270000 PRECEDING AND CURRENT ROW"));
    }
}
