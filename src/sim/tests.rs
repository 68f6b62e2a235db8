//! The generator and the event history without the HTTP server:
//! determinism, and that the scenario tells the story it promises.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::cast::COMPROMISED;
use super::events::Events;
use super::traffic::{DelayModel, EventKind, Scenario, Traffic};
use super::world::{TrailSetup, World};
use crate::alert::{Change, Engine, builtin};
use crate::event::{Outcome, Parsed, parse_record};
use crate::inventory::Inventory;

const ACCOUNT: &str = "111122223333";

fn origin() -> DateTime<Utc> {
    "2026-03-02T14:00:00Z".parse().expect("time")
}

fn events(seed: u64, scenario: Scenario, history_s: i64) -> Events {
    let regions = vec!["us-east-1".to_string(), "eu-west-1".to_string()];
    let world = World::build(
        seed,
        ACCOUNT,
        &regions,
        origin(),
        TrailSetup::default(),
        true,
    );
    Events::new(Traffic {
        busy_rate: crate::sim::BUSY_RATE,
        world: Arc::new(world),
        seed,
        scenario,
        delay: DelayModel {
            min: std::time::Duration::from_secs(5),
            max: std::time::Duration::from_mins(2),
        },
        first: origin().timestamp() - history_s,
        last: None,
    })
}

#[test]
fn same_seed_same_events_whatever_the_request_pattern() {
    let a = events(7, Scenario::Default, 600);
    let b = events(7, Scenario::Default, 600);
    let now = origin() + Duration::minutes(5);
    let (start, end) = (origin() - Duration::minutes(10), now);
    // b is asked for odd sub-windows first, in reverse, then as a whole.
    for minute in (0..15).rev().step_by(3) {
        let from = start + Duration::minutes(minute);
        let _ = b.truth("us-east-1", from, from + Duration::seconds(61), now);
    }
    let ta = a.truth("us-east-1", start, end, now);
    let tb = b.truth("us-east-1", start, end, now);
    assert!(ta.len() > 1000, "{}", ta.len());
    assert_eq!(ta, tb);
    // Rendering is as stable as generation.
    for (x, y) in a
        .slot(0, origin().timestamp())
        .iter()
        .zip(b.slot(0, origin().timestamp()))
    {
        assert_eq!(a.render(0, x).json, b.render(0, &y).json);
    }
    // Another seed, another account.
    let c = events(8, Scenario::Default, 600);
    assert_ne!(c.truth("us-east-1", start, end, now), ta);
    // Regions differ, and newest come first.
    assert_ne!(a.truth("eu-west-1", start, end, now), ta);
    assert!(
        ta.windows(2)
            .all(|w| (w[0].time, &w[0].event_id) >= (w[1].time, &w[1].event_id))
    );
}

#[test]
fn history_and_delivery_delay_bound_the_events() {
    let e = events(3, Scenario::Default, 300);
    let now = origin() + Duration::minutes(2);
    let all = e.truth("us-east-1", origin() - Duration::hours(2), now, now);
    let first = all.last().expect("events").time;
    assert!(first >= origin() - Duration::seconds(300));
    for t in &all {
        let delay = t.visible_at - t.time;
        assert!(
            delay >= Duration::seconds(5) && delay <= Duration::seconds(120),
            "{delay}"
        );
    }
    // Out of order: some later event is visible before an earlier one.
    assert!(
        all.windows(2).any(|w| w[0].visible_at < w[1].visible_at),
        "delivery is out of order"
    );
}

/// Every record of the window, parsed by kmstop's own parser, in time order.
fn parsed_window(
    e: &Events,
    region: usize,
    from: i64,
    to: i64,
) -> Vec<crate::event::KmsEvent<'static>> {
    let mut out = Vec::new();
    for slot in from..=to {
        for ev in e.slot(region, slot).iter().rev() {
            let r = e.render(region, ev);
            let Ok(Parsed::Kms(parsed)) = parse_record(&r.json) else {
                panic!("record does not parse: {}", r.json);
            };
            assert_eq!(parsed.event_id, ev.id.as_str());
            assert_eq!(parsed.principal, r.principal.as_str());
            out.push(parsed.into_owned());
        }
    }
    out
}

#[test]
fn the_default_story_fires_the_decrypt_spike_rule_for_the_compromised_role() {
    let e = events(11, Scenario::Default, 3600);
    let o = origin().timestamp();
    let events = parsed_window(&e, 0, o - 3600, o + 240);
    let compromised = format!("arn:aws:iam::{ACCOUNT}:role/{COMPROMISED}");
    let denied_burst = events
        .iter()
        .filter(|ev| ev.principal == compromised && ev.outcome == Outcome::Denied)
        .count();
    assert!(denied_burst >= 200, "{denied_burst}");
    let mut engine = Engine::new(builtin::rules(), Inventory::default()).expect("engine");
    let mut fired = BTreeSet::new();
    for ev in &events {
        for c in engine.observe(ev) {
            if c.change == Change::Fired {
                fired.insert((c.alert.rule.clone(), c.alert.group.clone(), c.alert.first));
            }
        }
    }
    let spikes: Vec<_> = fired
        .iter()
        .filter(|(rule, _, _)| rule == "unauthorized-decrypt-spike")
        .collect();
    assert_eq!(spikes.len(), 1, "{spikes:?}");
    let (_, group, first) = spikes[0];
    assert_eq!(group, &format!("principal={compromised}"));
    assert!(
        first.timestamp() >= o + 30 && first.timestamp() < o + 90,
        "{first}"
    );
    // The pending-deletion key is still called, and the policy opens up.
    let names: BTreeSet<&str> = fired.iter().map(|(r, _, _)| r.as_str()).collect();
    assert!(names.contains("pending-deletion-key-in-use"), "{names:?}");
    assert!(names.contains("kms-key-policy-public"), "{names:?}");
}

#[test]
fn scenarios_have_their_volumes() {
    let o = origin().timestamp();
    let count = |scenario, region| {
        let e = events(5, scenario, 600);
        (o - 60..o).map(|s| e.slot(region, s).len()).sum::<usize>()
    };
    let default = count(Scenario::Default, 0);
    assert!((60..1200).contains(&default), "default {default}");
    let quiet = count(Scenario::Quiet, 0);
    assert!(quiet < default / 10, "quiet {quiet}");
    let busy = count(Scenario::Busy, 0);
    assert!((10_000..14_000).contains(&busy), "busy {busy}");
    assert!(count(Scenario::Busy, 1) < 1200);
    // Busy records still parse (a sample).
    let e = events(5, Scenario::Busy, 60);
    let sample = e.slot(0, o - 1);
    assert!(sample.len() > 100);
    for ev in &sample {
        assert!(matches!(ev.kind, EventKind::Traffic(_)));
        assert!(parse_record(&e.render(0, ev).json).is_ok());
    }
}
