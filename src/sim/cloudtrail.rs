//! CloudTrail's read calls: `LookupEvents` as the API reference describes
//! it (one attribute, inclusive window, newest first, ≤ 50 a page, a token
//! bound to its request), and the trail calls a coverage check uses.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::events::{Events, ceil_secs};
use super::log_group::LogGroup;
use super::token::{Cursor, fingerprint};
use super::traffic::{EventKind, SimEvent};
use super::wire::{Answer, AwsError, epoch_to_time, time_to_epoch};
use super::world::World;

const MAX_RESULTS: u64 = 50;
const ATTRIBUTE_KEYS: &[&str] = &[
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
];
const TRAIL_NAME: &str = "management-events";

fn bad_attributes(message: &str) -> AwsError {
    AwsError::client("InvalidLookupAttributesException", message)
}

/// The one lookup attribute of a request, if any.
fn attribute(body: &Map<String, Value>) -> Result<Option<(String, String)>, AwsError> {
    let list = match body.get("LookupAttributes") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(AwsError::serialization("LookupAttributes must be a list")),
    };
    match list.as_slice() {
        [] => Ok(None),
        [one] => {
            let key = one.get("AttributeKey").and_then(Value::as_str);
            let value = one.get("AttributeValue").and_then(Value::as_str);
            match (key, value) {
                (Some(k), Some(v)) if ATTRIBUTE_KEYS.contains(&k) && !v.is_empty() => {
                    Ok(Some((k.to_string(), v.to_string())))
                }
                (Some(k), _) if !ATTRIBUTE_KEYS.contains(&k) => Err(bad_attributes(&format!(
                    "Invalid attribute key: {k}. Valid keys: {}",
                    ATTRIBUTE_KEYS.join(", ")
                ))),
                _ => Err(bad_attributes(
                    "Each lookup attribute needs an AttributeKey and a non-empty AttributeValue.",
                )),
            }
        }
        _ => Err(bad_attributes(
            "You can specify only one lookup attribute per request.",
        )),
    }
}

fn time_member(body: &Map<String, Value>, name: &str) -> Result<Option<DateTime<Utc>>, AwsError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => epoch_to_time(v)
            .map(Some)
            .ok_or_else(|| AwsError::serialization(format!("{name} must be a timestamp"))),
    }
}

fn max_results(body: &Map<String, Value>) -> Result<usize, AwsError> {
    let bad = || {
        AwsError::client(
            "InvalidMaxResultsException",
            "Value for MaxResults must be between 1 and 50.",
        )
    };
    match body.get("MaxResults") {
        None | Some(Value::Null) => Ok(MAX_RESULTS as usize),
        Some(v) => match v.as_u64() {
            Some(n @ 1..=MAX_RESULTS) => Ok(n as usize),
            Some(_) => Err(bad()),
            None if v.is_number() => Err(bad()),
            None => Err(AwsError::serialization("MaxResults must be an integer")),
        },
    }
}

/// Whether `ev` matches the attribute without rendering its record;
/// `None` when only the record can tell.
fn cheap_match(attr: &(String, String), ev: &SimEvent) -> Option<bool> {
    let (key, value) = attr;
    let (name, read_only) = match &ev.kind {
        EventKind::Traffic(call) => (call.op.name, call.op.read_only()),
        EventKind::Own(r) => (r.event_name.as_str(), r.read_only),
    };
    match key.as_str() {
        "EventId" => Some(ev.id == *value),
        "EventName" => Some(name == value),
        "EventSource" => Some(value == crate::event::KMS_EVENT_SOURCE),
        "ReadOnly" => Some(value == if read_only { "true" } else { "false" }),
        _ => None,
    }
}

fn event_json(ev: &SimEvent, r: &super::render::Rendered) -> Value {
    let mut out = json!({
        "EventId": ev.id,
        "EventName": r.event_name,
        "ReadOnly": if r.read_only { "true" } else { "false" },
        "EventTime": ev.time,
        "EventSource": crate::event::KMS_EVENT_SOURCE,
        "Resources": r.resources.iter()
            .map(|(t, n)| json!({"ResourceType": t, "ResourceName": n}))
            .collect::<Vec<_>>(),
        "CloudTrailEvent": r.json,
    });
    if let Some(k) = &r.access_key_id {
        out["AccessKeyId"] = json!(k);
    }
    if let Some(u) = &r.username {
        out["Username"] = json!(u);
    }
    out
}

/// A `LookupEvents` request, checked.
struct Query {
    attr: Option<(String, String)>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max: usize,
    insight: bool,
    request: u64,
    cursor: Option<Cursor>,
}

fn query(body: &Map<String, Value>, region: &str, now: DateTime<Utc>) -> Result<Query, AwsError> {
    let attr = attribute(body)?;
    let start = time_member(body, "StartTime")?;
    let end = time_member(body, "EndTime")?;
    let max = max_results(body)?;
    let category = body.get("EventCategory").and_then(Value::as_str);
    if let Some(c) = category
        && c != "insight"
    {
        return Err(AwsError::client(
            "InvalidEventCategoryException",
            format!("Invalid event category: {c}"),
        ));
    }
    let (from, to) = (
        start.unwrap_or(now - Duration::days(90)),
        end.unwrap_or(now),
    );
    if from > to {
        return Err(AwsError::client(
            "InvalidTimeRangeException",
            "Start time must be before end time.",
        ));
    }
    // The token binds the request as sent (and its region): an omitted
    // EndTime means "now" on every page, so it is not an explicit time.
    let millis =
        |t: Option<DateTime<Utc>>| t.map_or("-".into(), |t| t.timestamp_millis().to_string());
    let (ak, av) = attr.clone().unwrap_or_default();
    let request = fingerprint(&[
        region,
        &millis(start),
        &millis(end),
        &ak,
        &av,
        category.unwrap_or(""),
    ]);
    let cursor = match body.get("NextToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => match Cursor::decode(t) {
            Some(c) if c.request == request => Some(c),
            _ => {
                return Err(AwsError::client(
                    "InvalidNextTokenException",
                    "Invalid NextToken: it does not belong to this request.",
                ));
            }
        },
        Some(_) => return Err(AwsError::serialization("NextToken must be a string")),
    };
    Ok(Query {
        attr,
        from,
        to,
        max,
        insight: category.is_some(),
        request,
        cursor,
    })
}

pub fn lookup_events(
    events: &Events,
    region: &str,
    now: DateTime<Utc>,
    body: &Map<String, Value>,
) -> Answer {
    let Query {
        attr,
        from,
        to,
        max,
        insight,
        request,
        cursor,
    } = query(body, region, now)?;
    let world = &events.traffic.world;
    let Some(ri) = world.region_index(region).filter(|_| !insight) else {
        return Ok(json!({"Events": []}));
    };
    let hi = to.min(now).timestamp();
    let hi = cursor.as_ref().map_or(hi, |c| hi.min(c.time));
    let lo = ceil_secs(from).max(events.traffic.first);
    let mut page = Vec::new();
    let mut more = false;
    'walk: for slot in (lo..=hi).rev() {
        for ev in events.slot(ri, slot) {
            if cursor
                .as_ref()
                .is_some_and(|c| slot == c.time && ev.id >= c.id)
                || ev.visible_at > now
            {
                continue;
            }
            let rendered = match attr.as_ref().map(|a| (a, cheap_match(a, &ev))) {
                Some((_, Some(false))) => continue,
                None | Some((_, Some(true))) => None,
                Some(((k, v), None)) => {
                    let r = events.render(ri, &ev);
                    let hit = match k.as_str() {
                        "Username" => r.username.as_deref() == Some(v),
                        "AccessKeyId" => r.access_key_id.as_deref() == Some(v),
                        "ResourceType" => r.resources.iter().any(|(t, _)| t == v),
                        _ => r.resources.iter().any(|(_, n)| n == v),
                    };
                    if !hit {
                        continue;
                    }
                    Some(r)
                }
            };
            if page.len() == max {
                more = true;
                break 'walk;
            }
            page.push((ev, rendered));
        }
    }
    let next = more.then(|| {
        page.last().map(|(ev, _)| {
            Cursor {
                request,
                time: ev.time,
                id: ev.id.clone(),
            }
            .encode()
        })
    });
    let items: Vec<Value> = page
        .into_iter()
        .map(|(ev, r)| {
            let r = r.unwrap_or_else(|| events.render(ri, &ev));
            event_json(&ev, &r)
        })
        .collect();
    let mut out = json!({"Events": items});
    if let Some(Some(token)) = next {
        out["NextToken"] = json!(token);
    }
    Ok(out)
}

fn home(world: &World) -> &str {
    world.regions.first().map_or("us-east-1", String::as_str)
}

fn trail_arn(world: &World) -> String {
    format!(
        "arn:aws:cloudtrail:{}:{}:trail/{TRAIL_NAME}",
        home(world),
        world.account
    )
}

/// Whether `name` (a trail name or ARN) is the account's trail.
fn is_our_trail(world: &World, name: &str) -> bool {
    name == TRAIL_NAME || name == trail_arn(world)
}

fn trail(world: &World, logs: &LogGroup) -> Value {
    let custom = world.trail.excludes_kms || world.trail.advanced_selectors;
    let mut t = json!({
        "Name": TRAIL_NAME,
        "S3BucketName": super::trail_files::TrailFiles::bucket(&world.account),
        "IncludeGlobalServiceEvents": true,
        "IsMultiRegionTrail": true,
        "HomeRegion": home(world),
        "TrailARN": trail_arn(world),
        "LogFileValidationEnabled": true,
        "HasCustomEventSelectors": custom,
        "HasInsightSelectors": false,
        "IsOrganizationTrail": false,
        "CloudWatchLogsLogGroupArn": logs.trail_arn(),
        "CloudWatchLogsRoleArn": format!(
            "arn:aws:iam::{}:role/CloudTrailRoleForCloudWatchLogs_{TRAIL_NAME}",
            world.account
        ),
    });
    if let Some(k) = world.key_named(home(world), "cloudtrail-logs") {
        t["KmsKeyId"] = json!(world.keys[k].arn());
    }
    t
}

pub fn describe_trails(
    world: &World,
    logs: &LogGroup,
    region: &str,
    body: &Map<String, Value>,
) -> Answer {
    let names: Vec<&str> = match body.get("trailNameList") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        Some(_) => return Err(AwsError::serialization("trailNameList must be a list")),
    };
    let shadows = body
        .get("includeShadowTrails")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let wanted = names.is_empty() || names.iter().any(|n| is_our_trail(world, n));
    let visible = shadows || region == home(world);
    let list = if wanted && visible {
        vec![trail(world, logs)]
    } else {
        Vec::new()
    };
    Ok(json!({"trailList": list}))
}

fn named_trail<'a>(
    world: &World,
    body: &'a Map<String, Value>,
    member: &str,
) -> Result<&'a str, AwsError> {
    let name = body
        .get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| AwsError::validation(format!("{member} is required")))?;
    if is_our_trail(world, name) {
        Ok(name)
    } else {
        Err(AwsError::client(
            "TrailNotFoundException",
            format!("Unknown trail: {name} for the user: {}", world.account),
        ))
    }
}

pub fn get_event_selectors(world: &World, body: &Map<String, Value>) -> Answer {
    named_trail(world, body, "TrailName")?;
    let excluded: Vec<&str> = if world.trail.excludes_kms {
        vec![crate::event::KMS_EVENT_SOURCE]
    } else {
        Vec::new()
    };
    if world.trail.advanced_selectors {
        let mut fields = vec![json!({"Field": "eventCategory", "Equals": ["Management"]})];
        if !excluded.is_empty() {
            fields.push(json!({"Field": "eventSource", "NotEquals": excluded}));
        }
        return Ok(json!({
            "TrailARN": trail_arn(world),
            "AdvancedEventSelectors": [{"Name": "Management events selector", "FieldSelectors": fields}],
        }));
    }
    Ok(json!({
        "TrailARN": trail_arn(world),
        "EventSelectors": [{
            "ReadWriteType": "All",
            "IncludeManagementEvents": true,
            "DataResources": [],
            "ExcludeManagementEventSources": excluded,
        }],
    }))
}

pub fn get_trail_status(
    world: &World,
    logs: &LogGroup,
    now: DateTime<Utc>,
    body: &Map<String, Value>,
) -> Answer {
    named_trail(world, body, "Name")?;
    let started = world.origin - Duration::days(400);
    let delivered = now - Duration::minutes(3);
    Ok(json!({
        "IsLogging": true,
        "LatestDeliveryTime": time_to_epoch(delivered),
        "StartLoggingTime": time_to_epoch(started),
        "LatestDigestDeliveryTime": time_to_epoch(delivered - Duration::minutes(20)),
        "LatestDeliveryAttemptTime": delivered.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "LatestDeliveryAttemptSucceeded": delivered.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "TimeLoggingStarted": started.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "TimeLoggingStopped": "",
        "LatestNotificationAttemptTime": "",
        "LatestNotificationAttemptSucceeded": "",
        "LatestCloudWatchLogsDeliveryTime": time_to_epoch(now - logs.lag),
    }))
}
