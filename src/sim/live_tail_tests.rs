//! Live Tail sessions without the network: what each update holds, the
//! 500-event sample, the three-hour end, and frames the SDK's codec reads.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_smithy_eventstream::frame::read_message_from;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::*;
use crate::sim::events::Events;
use crate::sim::traffic::{DelayModel, Scenario, Traffic};
use crate::sim::world::{TrailSetup, World};

fn origin() -> DateTime<Utc> {
    "2026-03-02T14:00:00Z".parse().expect("time")
}

fn group(scenario: Scenario) -> Arc<LogGroup> {
    let regions = vec!["us-east-1".to_string(), "eu-west-1".to_string()];
    let world = World::build(
        9,
        "111122223333",
        &regions,
        origin(),
        TrailSetup::default(),
        true,
    );
    let events = Events::new(Traffic {
        busy_rate: crate::sim::BUSY_RATE,
        world: Arc::new(world),
        seed: 9,
        scenario,
        delay: DelayModel {
            min: std::time::Duration::from_secs(5),
            max: std::time::Duration::from_mins(2),
        },
        first: origin().timestamp() - 600,
        last: None,
    });
    Arc::new(LogGroup::new(Arc::new(events), Duration::seconds(20)))
}

fn session(g: &Arc<LogGroup>, pattern: Pattern, now: DateTime<Utc>) -> Session {
    Session::new(g.clone(), g.arn.clone(), vec![0, 1], pattern, now)
}

#[test]
fn each_update_holds_the_events_ingested_since_the_last() {
    let g = group(Scenario::Default);
    let t0 = origin();
    let mut s = session(&g, Pattern::All, t0);
    let mut seen = Vec::new();
    for step in 1..=30 {
        let now = t0 + Duration::milliseconds(1000 * step + 250);
        let Step::Update { sampled, results } = s.poll(now) else {
            panic!("timed out");
        };
        assert!(!sampled);
        for (e, message) in results {
            assert!(e.ingestion <= now.timestamp_millis());
            assert!(e.ingestion > t0.timestamp_millis());
            assert!(message.contains(&e.id));
            seen.push(e.id);
        }
    }
    // Exactly the events ingested in (t0, t0 + 30.25 s]: event times in
    // (t0 - 20 s, t0 + 10.25 s].
    let mut want = BTreeSet::new();
    for region in ["us-east-1", "eu-west-1"] {
        let truth = g.events.truth(
            region,
            t0 - Duration::seconds(19),
            t0 + Duration::seconds(10),
            t0 + Duration::minutes(1),
        );
        want.extend(truth.into_iter().map(|t| t.event_id));
    }
    let got: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(got.len(), seen.len(), "an event sent twice");
    assert_eq!(got, want);
    // A clock standing still: empty updates.
    let now = t0 + Duration::milliseconds(30_250);
    assert_eq!(
        s.poll(now),
        Step::Update {
            sampled: false,
            results: Vec::new()
        }
    );
}

#[test]
fn above_500_a_second_is_sampled_uniformly() {
    let g = group(Scenario::Busy);
    let t0 = origin();
    let mut s = session(&g, Pattern::All, t0);
    // Five seconds of a busy region at once: over a thousand events.
    let Step::Update { sampled, results } = s.poll(t0 + Duration::seconds(5)) else {
        panic!("timed out");
    };
    assert!(sampled);
    assert_eq!(results.len(), MAX_RESULTS);
    let times: Vec<i64> = results.iter().map(|(e, _)| e.timestamp).collect();
    assert!(times.is_sorted());
    // Uniform: every one of the five seconds is represented.
    assert_eq!(times.iter().collect::<BTreeSet<_>>().len(), 5);

    let mut items: Vec<u32> = (0..10_000).collect();
    sample(&mut items, 500, 1, 1);
    assert_eq!(items.len(), 500);
    assert!(items.is_sorted());
    let low = items.iter().filter(|&&i| i < 5000).count();
    assert!((200..=300).contains(&low), "{low}");
    let mut few = vec![1, 2, 3];
    sample(&mut few, 500, 1, 1);
    assert_eq!(few, vec![1, 2, 3]);
}

#[test]
fn a_pattern_filters_and_three_hours_end_the_session() {
    let g = group(Scenario::Default);
    let t0 = origin();
    let pattern = Pattern::parse(r#"{ $.eventName = "Decrypt" }"#).expect("pattern");
    let mut s = session(&g, pattern, t0);
    let Step::Update { results, .. } = s.poll(t0 + Duration::seconds(60)) else {
        panic!("timed out");
    };
    assert!(!results.is_empty());
    assert!(
        results
            .iter()
            .all(|(_, m)| m.contains("\"eventName\":\"Decrypt\""))
    );
    assert!(matches!(
        s.poll(t0 + Duration::minutes(179)),
        Step::Update { .. }
    ));
    assert_eq!(s.poll(t0 + Duration::hours(3)), Step::Timeout);
}

fn header(m: &Message, name: &str) -> String {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

#[test]
fn frames_read_back_with_the_sdk_codec() {
    let grp = group(Scenario::Default);
    let t0 = origin();
    let sess = session(&grp, Pattern::All, t0);
    let ev = LogEvent {
        region: 1,
        id: "x".into(),
        timestamp: 5000,
        ingestion: 25_000,
    };
    let frame = event_frame(
        "sessionUpdate",
        &sess.update_json(true, &[(ev, "{\"a\":1}".into())]),
    );
    let msg = read_message_from(&frame[..]).expect("frame");
    assert_eq!(header(&msg, ":event-type"), "sessionUpdate");
    assert_eq!(header(&msg, ":message-type"), "event");
    assert_eq!(header(&msg, ":content-type"), "application/json");
    let payload: Value = serde_json::from_slice(msg.payload()).expect("json");
    assert_eq!(payload["sessionMetadata"]["sampled"], true);
    let row = &payload["sessionResults"][0];
    assert_eq!(row["logStreamName"], "111122223333_CloudTrail_eu-west-1");
    assert_eq!(row["logGroupIdentifier"], grp.arn.as_str());
    assert_eq!(row["timestamp"], 5000);
    assert_eq!(row["ingestionTime"], 25_000);
    assert_eq!(row["message"], "{\"a\":1}");

    let frame = exception_frame("SessionTimeoutException", "over");
    let msg = read_message_from(&frame[..]).expect("frame");
    assert_eq!(header(&msg, ":message-type"), "exception");
    assert_eq!(header(&msg, ":exception-type"), "SessionTimeoutException");
    assert_eq!(msg.payload().as_ref(), b"{\"message\":\"over\"}");
}

#[test]
fn requests_are_checked() {
    let g = group(Scenario::Quiet);
    let sessions = Sessions::default();
    let clock: Arc<dyn Clock> = Arc::new(crate::clock::FixedClock(origin()));
    let arn = g.arn.clone();
    for (body, code) in [
        (serde_json::json!({}), "InvalidParameterException"),
        (
            serde_json::json!({"logGroupIdentifiers": []}),
            "InvalidParameterException",
        ),
        (
            serde_json::json!({"logGroupIdentifiers": [g.name]}),
            "InvalidParameterException",
        ),
        (
            serde_json::json!({"logGroupIdentifiers": [format!("{arn}:*")]}),
            "InvalidParameterException",
        ),
        (
            serde_json::json!({"logGroupIdentifiers": ["arn:aws:logs:us-east-1:1:log-group:x"]}),
            "ResourceNotFoundException",
        ),
        (
            serde_json::json!({"logGroupIdentifiers": [arn], "logStreamNames": ["a"], "logStreamNamePrefixes": ["a"]}),
            "InvalidParameterException",
        ),
        (
            serde_json::json!({"logGroupIdentifiers": [arn], "logEventFilterPattern": "%x%"}),
            "InvalidParameterException",
        ),
        (
            serde_json::json!({"logGroupIdentifiers": "x"}),
            "SerializationException",
        ),
    ] {
        let Value::Object(map) = &body else { panic!() };
        let err = start(&g, &sessions, clock.clone(), "us-east-1", map, "req")
            .err()
            .unwrap_or_else(|| panic!("{body} was accepted"));
        assert_eq!(err.code, code, "{body}");
    }
    assert_eq!(sessions.active(), 0);
}
