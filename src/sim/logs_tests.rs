//! `FilterLogEvents` as a function of (history, clock, request): the group
//! holds exactly the ingested events, pages in time order across streams,
//! tokens that resume exactly, and the API's validation.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::events::Events;
use super::log_group::LogGroup;
use super::logs::filter_log_events;
use super::traffic::{DelayModel, Scenario, Traffic};
use super::world::{TrailSetup, World};

const ACCOUNT: &str = "111122223333";
const HOME: &str = "us-east-1";

fn origin() -> DateTime<Utc> {
    "2026-03-02T14:00:00Z".parse().expect("time")
}

fn group(scenario: Scenario, history_s: i64) -> LogGroup {
    let regions = vec![HOME.to_string(), "eu-west-1".to_string()];
    let world = World::build(5, ACCOUNT, &regions, origin(), TrailSetup::default(), true);
    let events = Events::new(Traffic {
        busy_rate: crate::sim::BUSY_RATE,
        world: Arc::new(world),
        seed: 5,
        scenario,
        delay: DelayModel {
            min: std::time::Duration::from_secs(5),
            max: std::time::Duration::from_mins(2),
        },
        first: origin().timestamp() - history_s,
        last: Some(origin().timestamp() - 60),
    });
    LogGroup::new(Arc::new(events), Duration::seconds(20))
}

fn call(g: &LogGroup, now: DateTime<Utc>, body: &Value) -> Result<Value, String> {
    let Value::Object(map) = body else {
        panic!("body must be an object");
    };
    filter_log_events(g, HOME, now, map).map_err(|e| format!("{}: {}", e.code, e.message))
}

/// Every event of every page, following tokens.
fn pages(g: &LogGroup, now: DateTime<Utc>, mut body: Value) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut count = 0;
    loop {
        let page = call(g, now, &body).expect("page");
        count += 1;
        all.extend(page["events"].as_array().cloned().unwrap_or_default());
        match page.get("nextToken") {
            Some(t) => body["nextToken"] = t.clone(),
            None => return (all, count),
        }
        assert!(count < 10_000, "paging does not end");
    }
}

fn truth(g: &LogGroup, now: DateTime<Utc>) -> BTreeSet<String> {
    let (from, through) = g.coverage(now);
    ["us-east-1", "eu-west-1"]
        .iter()
        .flat_map(|r| g.events.truth(r, from, through, now))
        .map(|t| t.event_id)
        .collect()
}

fn record_id(e: &Value) -> String {
    let message = e["message"].as_str().expect("message");
    let record: Value = serde_json::from_str(message).expect("record");
    record["eventID"].as_str().expect("eventID").to_string()
}

#[test]
fn small_pages_read_the_whole_group_exactly_once_in_time_order() {
    let g = group(Scenario::Default, 300);
    let now = origin();
    let (events, count) = pages(&g, now, json!({"logGroupName": g.name, "limit": 37}));
    assert!(count > 10, "{count} pages");
    let ids: Vec<String> = events.iter().map(record_id).collect();
    let distinct: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(distinct.len(), ids.len(), "an event repeated");
    assert_eq!(distinct, truth(&g, now));
    // Interleaved: time order across both streams.
    let streams: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["logStreamName"].as_str())
        .collect();
    assert_eq!(
        streams,
        BTreeSet::from([
            "111122223333_CloudTrail_eu-west-1",
            "111122223333_CloudTrail_us-east-1"
        ])
    );
    let times: Vec<i64> = events
        .iter()
        .filter_map(|e| e["timestamp"].as_i64())
        .collect();
    assert!(times.is_sorted(), "not in time order");
    for e in &events {
        assert_eq!(
            e["ingestionTime"].as_i64(),
            e["timestamp"].as_i64().map(|t| t + 20_000)
        );
        assert_eq!(e["eventId"].as_str().map(str::len), Some(56));
    }
    // Pages as large as a megabyte allows: the same events.
    let (whole, count) = pages(&g, now, json!({"logGroupIdentifier": g.arn}));
    assert!(count < 10, "{count}");
    assert_eq!(whole, events);
}

#[test]
fn only_ingested_events_and_inclusive_bounds() {
    let g = group(Scenario::Default, 300);
    // 10 s after the last event: the last 10 s of events are not ingested.
    let now = origin() - Duration::seconds(50);
    let (events, _) = pages(&g, now, json!({"logGroupName": g.name}));
    let newest = events
        .last()
        .and_then(|e| e["timestamp"].as_i64())
        .expect("events");
    assert!(newest <= (now - Duration::seconds(20)).timestamp_millis());
    assert_eq!(
        events.iter().map(record_id).collect::<BTreeSet<_>>(),
        truth(&g, now)
    );
    // startTime and endTime are both inclusive.
    let t = events[events.len() / 2]["timestamp"].as_i64().expect("t");
    let (exact, _) = pages(
        &g,
        now,
        json!({"logGroupName": g.name, "startTime": t, "endTime": t}),
    );
    let want = events
        .iter()
        .filter(|e| e["timestamp"].as_i64() == Some(t))
        .count();
    assert!(want > 0);
    assert_eq!(exact.len(), want);
    let (after, _) = pages(
        &g,
        now,
        json!({"logGroupName": g.name, "startTime": t + 1, "endTime": t + 999}),
    );
    assert!(after.is_empty());
}

#[test]
fn many_events_of_one_millisecond_page_exactly() {
    // Thirty seconds of events (generation stops a minute before now).
    let g = group(Scenario::Busy, 90);
    let now = origin();
    let (events, count) = pages(
        &g,
        now,
        json!({"logGroupName": g.name, "limit": 7, "logStreamNames": ["111122223333_CloudTrail_us-east-1"]}),
    );
    let ids: Vec<String> = events.iter().map(record_id).collect();
    let per_second = ids.len() / 30;
    assert!(per_second > 50, "{per_second} events a second");
    assert!(count > ids.len() / 7);
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
    let (from, through) = g.coverage(now);
    assert_eq!(ids.len(), g.events.truth(HOME, from, through, now).len());
}

#[test]
fn filter_patterns_and_stream_prefixes_select() {
    let g = group(Scenario::Default, 300);
    let now = origin();
    let (all, _) = pages(&g, now, json!({"logGroupName": g.name}));
    let decrypts = all
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("\"eventName\":\"Decrypt\""))
        })
        .count();
    assert!(decrypts > 0);
    let (only, _) = pages(
        &g,
        now,
        json!({"logGroupName": g.name, "limit": 50,
            "filterPattern": "{ ($.eventName = \"Decrypt\") && $.eventSource = \"kms.amazonaws.com\" }"}),
    );
    assert_eq!(only.len(), decrypts);
    let (eu, _) = pages(
        &g,
        now,
        json!({"logGroupName": g.name, "logStreamNamePrefix": "111122223333_CloudTrail_eu"}),
    );
    assert!(!eu.is_empty() && eu.len() < all.len());
    assert!(
        eu.iter()
            .all(|e| e["logStreamName"] == "111122223333_CloudTrail_eu-west-1")
    );
}

#[test]
fn pages_stay_under_a_megabyte() {
    let g = group(Scenario::Busy, 120);
    let page = call(&g, origin(), &json!({"logGroupName": g.name})).expect("page");
    let size = page.to_string().len();
    assert!(size <= 1 << 20, "{size}");
    assert!(size > 900_000, "the page stopped early: {size}");
    assert!(page["nextToken"].is_string());
}

#[test]
fn validation_as_the_api_reference_says() {
    let g = group(Scenario::Default, 300);
    let now = origin();
    for (body, code) in [
        (json!({}), "InvalidParameterException"),
        (
            json!({"logGroupName": g.name, "logGroupIdentifier": g.arn}),
            "InvalidParameterException",
        ),
        (json!({"logGroupName": "nope"}), "ResourceNotFoundException"),
        (
            json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:111122223333:log-group:nope"}),
            "ResourceNotFoundException",
        ),
        (
            json!({"logGroupName": g.name, "limit": 0}),
            "InvalidParameterException",
        ),
        (
            json!({"logGroupName": g.name, "limit": 10_001}),
            "InvalidParameterException",
        ),
        (
            json!({"logGroupName": g.name, "limit": "5"}),
            "SerializationException",
        ),
        (
            json!({"logGroupName": g.name, "startTime": 5, "endTime": 4}),
            "InvalidParameterException",
        ),
        (
            json!({"logGroupName": g.name, "startTime": -1}),
            "InvalidParameterException",
        ),
        (
            json!({"logGroupName": g.name, "filterPattern": "ERROR"}),
            "InvalidParameterException",
        ),
        (
            json!({"logGroupName": g.name, "logStreamNames": ["a"], "logStreamNamePrefix": "a"}),
            "InvalidParameterException",
        ),
        (
            json!({"logGroupName": g.name, "logStreamNames": []}),
            "InvalidParameterException",
        ),
        (
            json!({"logGroupName": g.name, "nextToken": "garbage"}),
            "InvalidParameterException",
        ),
        (
            json!({"logGroupName": "x".repeat(600)}),
            "InvalidParameterException",
        ),
        (json!({"logGroupName": 5}), "SerializationException"),
    ] {
        let got = call(&g, now, &body).expect_err(&body.to_string());
        assert!(got.starts_with(code), "{body}: {got}");
    }
    // The pattern's problem is named.
    let got = call(
        &g,
        now,
        &json!({"logGroupName": g.name, "filterPattern": "{ $.a = \"x*\" }"}),
    )
    .expect_err("wildcard");
    assert!(got.contains("wildcards"), "{got}");
    // A token continues only its own request.
    let page = call(&g, now, &json!({"logGroupName": g.name, "limit": 1})).expect("page");
    let token = page["nextToken"].clone();
    let other = json!({"logGroupName": g.name, "limit": 1, "startTime": 1, "nextToken": token});
    assert!(
        call(&g, now, &other)
            .expect_err("other")
            .starts_with("InvalidParameterException")
    );
    // The group lives in the home region only; the ARN's `:*` form names it.
    let Value::Object(map) = json!({"logGroupIdentifier": g.trail_arn()}) else {
        panic!()
    };
    assert!(filter_log_events(&g, HOME, now, &map).is_ok());
    let err = filter_log_events(&g, "eu-west-1", now, &map).expect_err("elsewhere");
    assert_eq!(err.code, "ResourceNotFoundException");
}
