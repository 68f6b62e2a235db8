//! `LookupEvents` as a function of (history, clock, request): filters,
//! validation, and pages that stay put while events arrive.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::cloudtrail::lookup_events;
use super::events::Events;
use super::traffic::{DelayModel, Scenario, Traffic};
use super::world::{TrailSetup, World};

fn origin() -> DateTime<Utc> {
    "2026-03-02T14:00:00Z".parse().expect("time")
}

fn events() -> Events {
    let regions = vec!["us-east-1".to_string()];
    let world = World::build(
        4,
        "111122223333",
        &regions,
        origin(),
        TrailSetup::default(),
        true,
    );
    Events::new(Traffic {
        busy_rate: crate::sim::BUSY_RATE,
        world: Arc::new(world),
        seed: 4,
        scenario: Scenario::Default,
        delay: DelayModel {
            min: std::time::Duration::from_secs(5),
            max: std::time::Duration::from_mins(2),
        },
        first: origin().timestamp() - 600,
        last: None,
    })
}

fn call(e: &Events, now: DateTime<Utc>, body: &Value) -> Result<Value, String> {
    let Value::Object(map) = body else {
        panic!("body must be an object");
    };
    lookup_events(e, "us-east-1", now, map).map_err(|err| err.code.to_string())
}

fn ids(page: &Value) -> Vec<String> {
    page["Events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["EventId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn window(from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    json!({"StartTime": from.timestamp(), "EndTime": to.timestamp()})
}

#[test]
fn attributes_filter_like_cloudtrail() {
    let e = events();
    let now = origin();
    let mut body = window(now - Duration::minutes(8), now - Duration::minutes(3));
    let all = call(&e, now, &body).expect("page");
    let first = &all["Events"][0];
    for (key, value) in [
        ("EventName", first["EventName"].clone()),
        ("EventId", first["EventId"].clone()),
        ("Username", first["Username"].clone()),
        ("AccessKeyId", first["AccessKeyId"].clone()),
        (
            "ResourceName",
            first["Resources"][0]["ResourceName"].clone(),
        ),
        ("ResourceType", json!("AWS::KMS::Key")),
        ("ReadOnly", json!("true")),
        ("EventSource", json!("kms.amazonaws.com")),
    ] {
        body["LookupAttributes"] = json!([{"AttributeKey": key, "AttributeValue": value}]);
        let page = call(&e, now, &body).expect("filtered");
        assert!(
            ids(&page).contains(&first["EventId"].as_str().unwrap_or_default().to_string()),
            "{key}"
        );
        for ev in page["Events"].as_array().into_iter().flatten() {
            let matches = match key {
                "ResourceName" | "ResourceType" => {
                    ev["Resources"].as_array().into_iter().flatten().any(|r| {
                        r[if key == "ResourceName" {
                            "ResourceName"
                        } else {
                            "ResourceType"
                        }] == value
                    })
                }
                _ => ev[key] == value,
            };
            assert!(matches, "{key}={value}: {ev}");
        }
    }
    body["LookupAttributes"] =
        json!([{"AttributeKey": "EventSource", "AttributeValue": "s3.amazonaws.com"}]);
    assert!(ids(&call(&e, now, &body).expect("none")).is_empty());
}

#[test]
fn bad_requests_get_aws_errors() {
    let e = events();
    let now = origin();
    for (body, code) in [
        (json!({"MaxResults": 0}), "InvalidMaxResultsException"),
        (json!({"MaxResults": "ten"}), "SerializationException"),
        (json!({"StartTime": "yesterday"}), "SerializationException"),
        (
            json!({"LookupAttributes": {"AttributeKey": "EventName"}}),
            "SerializationException",
        ),
        (
            json!({"LookupAttributes": [{"AttributeKey": "Color", "AttributeValue": "red"}]}),
            "InvalidLookupAttributesException",
        ),
        (
            json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": ""}]}),
            "InvalidLookupAttributesException",
        ),
        (
            json!({"EventCategory": "data"}),
            "InvalidEventCategoryException",
        ),
        (json!({"NextToken": 5}), "SerializationException"),
        (json!({"NextToken": "@@@"}), "InvalidNextTokenException"),
    ] {
        assert_eq!(call(&e, now, &body).expect_err("refused"), code, "{body}");
    }
    // Insights are a category the simulated account has none of.
    let insight = call(&e, now, &json!({"EventCategory": "insight"})).expect("insight");
    assert!(ids(&insight).is_empty());
}

#[test]
fn pages_stay_put_while_late_events_arrive() {
    let e = events();
    // The last two minutes are still arriving: read them while they do.
    let (from, to) = (origin() - Duration::minutes(2), origin());
    let body = json!({"StartTime": from.timestamp(), "EndTime": to.timestamp(), "MaxResults": 10});
    let mut now = origin();
    let visible_at_start: BTreeSet<String> = e
        .truth("us-east-1", from, to, now)
        .into_iter()
        .filter(|t| t.visible_at <= now)
        .map(|t| t.event_id)
        .collect();
    let mut seen = Vec::new();
    let mut page = call(&e, now, &body).expect("first");
    loop {
        seen.extend(ids(&page));
        let Some(token) = page["NextToken"].as_str().map(str::to_string) else {
            break;
        };
        now += Duration::seconds(3);
        let mut next = body.clone();
        next["NextToken"] = json!(token);
        page = call(&e, now, &next).expect("next");
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice");
    assert!(
        visible_at_start.is_subset(&unique),
        "nothing visible at the start is skipped"
    );
    // A re-read once everything is delivered catches the rest.
    let later = to + Duration::minutes(3);
    let mut all = BTreeSet::new();
    let mut page = call(&e, later, &body).expect("re-read");
    loop {
        all.extend(ids(&page));
        let Some(token) = page["NextToken"].as_str().map(str::to_string) else {
            break;
        };
        let mut next = body.clone();
        next["NextToken"] = json!(token);
        page = call(&e, later, &next).expect("next");
    }
    let truth: BTreeSet<String> = e
        .truth("us-east-1", from, to, later)
        .into_iter()
        .map(|t| t.event_id)
        .collect();
    assert_eq!(all, truth);
    assert!(unique.len() < truth.len(), "some events were late");
}
