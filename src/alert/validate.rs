//! What serde cannot check in a rule: kebab-case unique ids, the
//! parameters each kind uses (and only those), sane values, and matchers
//! that compile. Pure: problems come back with the rule they belong to;
//! `config` turns them into file positions.

use std::collections::HashSet;

use super::matcher::Matcher;
use super::spec::{Field, Kind, MatchSpec, OverrideSpec, RuleSpec, RulesFile};

/// Which table of the file a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Rule(usize),
    Override(usize),
}

/// One semantic problem: the table, the rule id, the field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub table: Table,
    pub rule: String,
    pub field: String,
    pub message: String,
}

/// The kind-specific parameters, by name, in the order the docs list them.
const PARAMS: [&str; 8] = [
    "count", "distinct", "window", "factor", "minimum", "baseline", "field", "learning",
];

/// The kind with its article, as messages say it: "an every rule".
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Every => "an every",
        Kind::Threshold => "a threshold",
        Kind::Spike => "a spike",
        Kind::FirstSeen => "a first-seen",
        Kind::Missing => "a missing",
    }
}

/// (allowed, required) parameters of a kind.
fn params_of(kind: Kind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        Kind::Every => (&[], &[]),
        Kind::Threshold => (&["count", "distinct", "window"], &["count", "window"]),
        // `learning` on a spike rule is a warm-up: no spike fires until
        // that long after the rule's first event (see spike.rs).
        Kind::Spike => (
            &["window", "factor", "minimum", "baseline", "learning"],
            &["window", "factor", "minimum", "baseline"],
        ),
        Kind::FirstSeen => (&["field", "learning"], &["field"]),
        Kind::Missing => (&["field", "minimum", "learning"], &["field", "minimum"]),
    }
}

fn param_set(rule: &RuleSpec, name: &str) -> bool {
    match name {
        "count" => rule.count.is_some(),
        "distinct" => rule.distinct.is_some(),
        "window" => rule.window.is_some(),
        "factor" => rule.factor.is_some(),
        "minimum" => rule.minimum.is_some(),
        "baseline" => rule.baseline.is_some(),
        "field" => rule.field.is_some(),
        "learning" => rule.learning.is_some(),
        _ => false,
    }
}

fn is_kebab_case(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The problems of one complete rule, as `(field, message)`.
pub fn check_rule(rule: &RuleSpec) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut say = |field: &str, message: String| out.push((field.to_owned(), message));
    if !is_kebab_case(&rule.id) {
        say(
            "id",
            format!(
                "{:?} is not kebab-case (like unauthorized-decrypt-spike)",
                rule.id
            ),
        );
    }
    if rule.title.trim().is_empty() {
        say("title", "must not be empty".to_owned());
    }
    let kind = kind_name(rule.kind);
    let (allowed, required) = params_of(rule.kind);
    for name in PARAMS {
        let set = param_set(rule, name);
        if set && !allowed.contains(&name) {
            let uses = if allowed.is_empty() {
                "none of count, distinct, window, factor, minimum, baseline, field, learning"
                    .to_owned()
            } else {
                allowed.join(", ")
            };
            say(
                name,
                format!("does not apply to {kind} rule (it uses {uses})"),
            );
        } else if !set && required.contains(&name) {
            say(name, format!("{kind} rule needs {name:?}"));
        }
    }
    check_values(rule, &mut say);
    let mut seen = HashSet::new();
    for field in &rule.group_by {
        if !seen.insert(field) {
            say(
                "group_by",
                format!("{} is listed twice", field_name(*field)),
            );
        }
    }
    for (name, own) in [("distinct", rule.distinct), ("field", rule.field)] {
        if let Some(f) = own.filter(|f| rule.group_by.contains(f)) {
            say(
                name,
                format!(
                    "{} is also in group_by: each group holds one value of it",
                    field_name(f)
                ),
            );
        }
    }
    check_match("match", &rule.matcher, &mut say);
    if let Some(exclude) = &rule.exclude {
        if *exclude == MatchSpec::default() {
            say("exclude", "an empty exclude ignores every event".to_owned());
        }
        check_match("exclude", exclude, &mut say);
    }
    out
}

fn check_values(rule: &RuleSpec, say: &mut impl FnMut(&str, String)) {
    if rule.count == Some(0) {
        say("count", "must be at least 1".to_owned());
    }
    if rule.minimum == Some(0) {
        say("minimum", "must be at least 1".to_owned());
    }
    if let Some(factor) = rule.factor.filter(|f| !(f.is_finite() && *f > 1.0)) {
        say("factor", format!("must be greater than 1 (got {factor})"));
    }
    for (name, span) in [("window", rule.window), ("quiet", rule.quiet)] {
        if span.is_some_and(|s| s.0 <= chrono::Duration::zero()) {
            say(name, "must be longer than 0s".to_owned());
        }
    }
    if let (Some(window), Some(baseline)) = (rule.window, rule.baseline)
        && baseline.0 <= window.0
    {
        say("baseline", "must be longer than window".to_owned());
    }
}

fn check_match(table: &str, spec: &MatchSpec, say: &mut impl FnMut(&str, String)) {
    if let Err(e) = Matcher::compile(spec) {
        say(&format!("{table}.{}", e.field), e.message);
    }
}

fn field_name(field: Field) -> String {
    serde_json::to_value(field)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The built-in with this id, overridden as `o` says.
pub fn merge(base: &RuleSpec, o: &OverrideSpec) -> RuleSpec {
    let mut rule = base.clone();
    rule.enabled = o.enabled.unwrap_or(rule.enabled);
    rule.severity = o.severity.unwrap_or(rule.severity);
    if let Some(group_by) = &o.group_by {
        rule.group_by.clone_from(group_by);
    }
    if let Some(matcher) = &o.matcher {
        rule.matcher = matcher.clone();
    }
    if o.exclude.is_some() {
        rule.exclude.clone_from(&o.exclude);
    }
    rule.count = o.count.or(rule.count);
    rule.distinct = o.distinct.or(rule.distinct);
    rule.window = o.window.or(rule.window);
    rule.factor = o.factor.or(rule.factor);
    rule.minimum = o.minimum.or(rule.minimum);
    rule.baseline = o.baseline.or(rule.baseline);
    rule.field = o.field.or(rule.field);
    rule.learning = o.learning.or(rule.learning);
    rule.quiet = o.quiet.or(rule.quiet);
    rule
}

/// Every problem of `file`, given the built-in rules its overrides name.
pub fn check_file(file: &RulesFile, builtins: &[RuleSpec]) -> Vec<Problem> {
    let mut out = Vec::new();
    let builtin_ids: HashSet<&str> = builtins.iter().map(|r| r.id.as_str()).collect();
    let mut ids = HashSet::new();
    for (i, rule) in file.rules.iter().enumerate() {
        let mut push = |field: String, message: String| {
            out.push(Problem {
                table: Table::Rule(i),
                rule: rule.id.clone(),
                field,
                message,
            });
        };
        if !ids.insert(rule.id.as_str()) {
            push(
                "id".to_owned(),
                "another rule in this file has this id".to_owned(),
            );
        } else if builtin_ids.contains(rule.id.as_str()) {
            push(
                "id".to_owned(),
                "a built-in rule has this id: change it with [[override]]".to_owned(),
            );
        }
        for (field, message) in check_rule(rule) {
            push(field, message);
        }
    }
    let mut overridden = HashSet::new();
    for (i, o) in file.overrides.iter().enumerate() {
        let mut push = |field: &str, message: String| {
            out.push(Problem {
                table: Table::Override(i),
                rule: o.id.clone(),
                field: field.to_owned(),
                message,
            });
        };
        let Some(base) = builtins.iter().find(|r| r.id == o.id) else {
            push(
                "id",
                format!(
                    "no built-in rule has id {:?} (kmstop rules lists them)",
                    o.id
                ),
            );
            continue;
        };
        if !overridden.insert(o.id.as_str()) {
            push("id", "this built-in is already overridden above".to_owned());
        }
        for (field, message) in check_rule(&merge(base, o)) {
            push(&field, message);
        }
    }
    out
}

/// The rules in effect: the built-ins with their overrides applied (a
/// disabled one stays listed, `enabled = false`), then the file's rules.
pub fn apply(builtins: &[RuleSpec], file: &RulesFile) -> Vec<RuleSpec> {
    builtins
        .iter()
        .map(
            |b| match file.overrides.iter().rev().find(|o| o.id == b.id) {
                Some(o) => merge(b, o),
                None => b.clone(),
            },
        )
        .chain(file.rules.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_case_ids() {
        for ok in ["a", "kms-key-disable-or-delete", "r2-d2"] {
            assert!(is_kebab_case(ok), "{ok}");
        }
        for bad in ["", "A", "a_b", "-a", "a-", "a--b", "a b", "é"] {
            assert!(!is_kebab_case(bad), "{bad}");
        }
    }
}
