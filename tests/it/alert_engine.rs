//! The engine's lifecycle through its public API: resolve and re-fire,
//! ack, silence, ordering, caps with `(other)`, late events.

use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};
use kmstop::alert::{AlertState, Change, Engine, Limits, RuleSpec, RulesFile, Severity};
use kmstop::event::{KeyRef, KmsEvent, Outcome};
use kmstop::inventory::Inventory;

fn t0() -> DateTime<Utc> {
    "2024-05-01T00:00:00Z".parse().expect("time")
}

fn ev<'a>(secs: i64, name: &'a str, principal: &'a str, id: &'a str) -> KmsEvent<'a> {
    KmsEvent {
        time: t0() + Duration::seconds(secs),
        time_text: Cow::Borrowed(""),
        event_id: Cow::Borrowed(id),
        event_name: Cow::Borrowed(name),
        event_type: None,
        event_category: None,
        region: None,
        recipient_account: None,
        principal: Cow::Borrowed(principal),
        principal_type: None,
        principal_account: None,
        session_name: None,
        access_key_id: None,
        source_ip: None,
        user_agent: None,
        invoked_by: None,
        key: Some(KeyRef {
            arn: Cow::Borrowed("arn:aws:kms:us-east-1:111122223333:key/k"),
        }),
        alias: None,
        outcome: Outcome::Success,
        error_code: None,
        error_message: None,
        read_only: None,
        encryption_context: Vec::new(),
        key_policy: None,
        call: kmstop::event::CallDetail::default(),
        raw: None,
    }
}

fn rules(text: &str) -> Vec<RuleSpec> {
    toml::from_str::<RulesFile>(text).expect("rules").rules
}

const RULES: &str = r#"
[[rule]]
id = "disable"
title = "disable"
severity = "high"
kind = "every"
group_by = ["principal"]
match = { event_names = ["DisableKey"] }

[[rule]]
id = "burst"
title = "burst"
severity = "low"
kind = "threshold"
count = 3
window = "1m"
quiet = "5m"
group_by = ["principal"]
match = { event_names = ["Decrypt"] }
"#;

#[test]
fn fires_resolves_and_fires_again() {
    let mut e = Engine::new(rules(RULES), Inventory::default()).expect("engine");
    let fired = e.observe(&ev(0, "DisableKey", "a", "1"));
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].change, Change::Fired);
    assert!(e.observe(&ev(60, "DisableKey", "a", "2")).is_empty());
    let a = e.alerts()[0].clone();
    assert_eq!((a.count, a.sample_event_ids.len()), (2, 2));
    // Quiet (15 min default) passes as event time moves on.
    let changes = e.observe(&ev(60 + 15 * 60, "Decrypt", "x", "3"));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].change, Change::Resolved);
    let again = e.observe(&ev(3600, "DisableKey", "a", "4"));
    assert_eq!(again[0].change, Change::Fired);
    assert_eq!(again[0].alert.count, 1);
    assert_eq!(again[0].alert.first, t0() + Duration::hours(1));
    assert_eq!(again[0].alert.sample_event_ids, vec!["4".to_owned()]);
    let resolved = e.tick(t0() + Duration::hours(2));
    assert_eq!(resolved.len(), 1);
    assert_eq!(e.alerts()[0].state, AlertState::Resolved);
}

#[test]
fn threshold_counts_the_window_and_orders_alerts() {
    let mut e = Engine::new(rules(RULES), Inventory::default()).expect("engine");
    assert!(e.observe(&ev(0, "Decrypt", "b", "1")).is_empty());
    assert!(e.observe(&ev(70, "Decrypt", "b", "2")).is_empty());
    assert!(
        e.observe(&ev(80, "Decrypt", "b", "3")).is_empty(),
        "first fell out"
    );
    let fired = e.observe(&ev(90, "Decrypt", "b", "4"));
    assert_eq!(fired[0].alert.count, 3);
    e.observe(&ev(100, "DisableKey", "a", "5"));
    let order: Vec<(&str, Severity)> = e
        .alerts()
        .iter()
        .map(|a| (a.rule.as_str(), a.severity))
        .collect();
    assert_eq!(
        order,
        vec![("disable", Severity::High), ("burst", Severity::Low)]
    );
    // The burst resolves after its own 5 minutes; resolved sorts last.
    e.tick(t0() + Duration::seconds(100 + 6 * 60));
    let states: Vec<AlertState> = e.alerts().iter().map(|a| a.state).collect();
    assert_eq!(states, vec![AlertState::Firing, AlertState::Resolved]);
    let _ = e.tick(t0() + Duration::hours(1));
    assert_eq!(
        e.alerts()[0].rule,
        "disable",
        "most severe first among resolved"
    );
}

#[test]
fn ack_and_silence() {
    let mut e = Engine::new(rules(RULES), Inventory::default()).expect("engine");
    e.observe(&ev(0, "DisableKey", "a", "1"));
    assert!(e.ack("disable", "principal=a"));
    assert!(!e.ack("disable", "principal=nobody"));
    assert!(e.alerts()[0].acked);
    e.silence("disable", None, t0() + Duration::hours(1));
    assert!(e.alerts().is_empty(), "silenced alerts are hidden");
    assert_eq!(e.all_alerts().len(), 1);
    // A new group of a silenced rule fires silently.
    assert!(e.observe(&ev(60, "DisableKey", "b", "2")).is_empty());
    e.silence("disable", Some("principal=c"), t0() + Duration::hours(3));
    e.tick(t0() + Duration::hours(2));
    assert_eq!(e.alerts().len(), 2, "the rule silence ended");
    let c = e.observe(&ev(2 * 3600 + 60, "DisableKey", "c", "3"));
    assert!(c.is_empty(), "group c is still silenced");
    let d = e.observe(&ev(2 * 3600 + 61, "DisableKey", "d", "4"));
    assert_eq!(d.len(), 1);
}

#[test]
fn groups_past_the_cap_fold_into_other() {
    let limits = Limits {
        groups: 10,
        alerts: 5,
        ..Limits::default()
    };
    let mut e = Engine::with_limits(rules(RULES), Inventory::default(), limits).expect("engine");
    let names: Vec<String> = (0..1000).map(|i| format!("attacker-{i}")).collect();
    for (i, n) in (0..).zip(&names) {
        e.observe(&ev(i, "DisableKey", n, "x"));
        for _ in 0..3 {
            e.observe(&ev(i, "Decrypt", n, "y"));
        }
    }
    let (groups, alerts) = e.held();
    assert!(groups <= 11, "{groups}");
    assert!(alerts <= 12, "{alerts}");
    let other = e
        .alerts()
        .into_iter()
        .filter(|a| a.group == "(other)")
        .count();
    assert_eq!(other, 2, "one (other) alert per rule");
}

#[test]
fn a_flood_of_distinct_values_keeps_the_engine_bounded() {
    let limits = Limits {
        groups: 10,
        alerts: 5,
        learned: 100,
        ..Limits::default()
    };
    let first_seen = r#"
[[rule]]
id = "new-principal"
title = "new principal"
severity = "low"
kind = "first-seen"
field = "principal"
learning = "0s"
group_by = ["key"]
"#;
    let specs = rules(&format!("{RULES}{first_seen}"));
    let mut e = Engine::with_limits(specs, Inventory::default(), limits).expect("engine");
    let mut most = 0;
    for i in 0..200_000 {
        let name = format!("attacker-{i}");
        e.observe(&ev(i, "Decrypt", &name, "y"));
        most = most.max(e.interned());
    }
    // The texts are cleaned down to what the rules hold once they reach
    // 65,536; without that they would be one per attacker.
    assert!(most <= 65_600, "{most}");
    let (groups, alerts) = e.held();
    assert!(groups <= 22, "{groups}");
    assert!(alerts <= 12, "{alerts}");
}

#[test]
fn late_events_still_count() {
    let mut e = Engine::new(rules(RULES), Inventory::default()).expect("engine");
    e.observe(&ev(100, "Decrypt", "b", "1"));
    e.observe(&ev(110, "Decrypt", "b", "2"));
    let fired = e.observe(&ev(90, "Decrypt", "b", "late"));
    assert_eq!(
        fired.len(),
        1,
        "a late event inside the window completes it"
    );
    let late_every = e.observe(&ev(0, "DisableKey", "a", "old"));
    assert_eq!(late_every.len(), 1);
}

#[test]
fn bad_rules_are_refused() {
    let mut r = rules(RULES);
    r[1].window = None;
    assert!(Engine::new(r, Inventory::default()).is_err());
    let mut r = rules(RULES);
    r[1].id = "disable".into();
    assert!(Engine::new(r, Inventory::default()).is_err());
}
