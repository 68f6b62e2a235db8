//! CloudWatch Logs' `FilterLogEvents` over the trail's log group, as the
//! API reference describes it: the group by name or identifier (not
//! both), streams by names or a prefix (not both), `startTime` and
//! `endTime` in milliseconds (events before the start or later than the
//! end are not returned: both bounds inclusive), a filter pattern, up to
//! `limit` (1..=10000) events a page and never past 1 MB, interleaved across
//! streams in time order. The `nextToken` is a position (the last event
//! returned), bound to its request, so paging neither skips nor repeats an
//! event even when many share a millisecond.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::filter_pattern::Pattern;
use super::log_group::{LogEvent, LogGroup};
use super::token::fingerprint;
use super::wire::{Answer, AwsError};

const MAX_LIMIT: u64 = 10_000;
/// A page's JSON body stays under this.
const MAX_PAGE_BYTES: usize = 1 << 20;
/// What a page's body holds besides its events (braces, member names,
/// the token).
const PAGE_OVERHEAD: usize = 1024;
/// A page stops after scanning this many seconds or events, with a token
/// to go on, so a request over days of history (or a pattern matching
/// nothing) costs one bounded page at a time. The API allows partial and
/// empty pages with a `nextToken`.
const SCAN_SECONDS: i64 = 3600;
const SCAN_EVENTS: usize = 50_000;
const MAX_STREAM_NAMES: usize = 100;
const MAX_NAME_LEN: usize = 512;
const MAX_IDENTIFIER_LEN: usize = 2048;

pub fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::client("InvalidParameterException", message)
}

pub fn not_found() -> AwsError {
    AwsError::client(
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
}

/// Where a page ended: strictly after this key, for one exact request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    #[serde(rename = "r")]
    pub request: u64,
    /// Epoch second of the last event returned (or scanned).
    #[serde(rename = "s")]
    pub second: i64,
    /// Its stream; `u64::MAX` when the whole second was scanned.
    #[serde(rename = "g")]
    pub stream: u64,
    #[serde(rename = "i")]
    pub id: String,
}

impl Position {
    pub fn encode(&self) -> String {
        STANDARD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// `None` for anything this simulator did not hand out.
    pub fn decode(token: &str) -> Option<Self> {
        if token.len() > 1024 {
            return None;
        }
        serde_json::from_slice(&STANDARD.decode(token.trim()).ok()?).ok()
    }

    /// Whether `e` (of this position's second or later) comes after it.
    fn before(&self, e: &LogEvent) -> bool {
        let stream = e.region as u64;
        e.timestamp.div_euclid(1000) > self.second
            || stream > self.stream
            || (stream == self.stream && e.id.as_str() > self.id.as_str())
    }
}

/// A string member: absent, or a string of 1..=`max` bytes.
pub fn string_member<'a>(
    body: &'a Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<Option<&'a str>, AwsError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(Some(s)),
        Some(Value::String(_)) => Err(invalid(format!(
            "{name} must be between 1 and {max} characters long"
        ))),
        Some(_) => Err(AwsError::serialization(format!("{name} must be a string"))),
    }
}

/// A list of names: absent, or 1..=100 strings of 1..=512 bytes.
pub fn names_member(
    body: &Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<String>>, AwsError> {
    let list = match body.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(AwsError::serialization(format!("{name} must be a list"))),
    };
    if list.is_empty() || list.len() > MAX_STREAM_NAMES {
        return Err(invalid(format!(
            "{name} must hold between 1 and {MAX_STREAM_NAMES} items"
        )));
    }
    list.iter()
        .map(|v| match v.as_str() {
            Some(s) if !s.is_empty() && s.len() <= MAX_NAME_LEN => Ok(s.to_string()),
            Some(_) => Err(invalid(format!(
                "each of {name} must be between 1 and {MAX_NAME_LEN} characters long"
            ))),
            None => Err(AwsError::serialization(format!("{name} must hold strings"))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn millis_member(body: &Map<String, Value>, name: &str) -> Result<Option<i64>, AwsError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(ms) if ms >= 0 => Ok(Some(ms)),
            Some(_) => Err(invalid(format!("{name} must not be negative"))),
            None => Err(AwsError::serialization(format!(
                "{name} must be an integer (milliseconds)"
            ))),
        },
    }
}

fn limit(body: &Map<String, Value>) -> Result<usize, AwsError> {
    match body.get("limit") {
        None | Some(Value::Null) => Ok(MAX_LIMIT as usize),
        Some(v) => match v.as_u64() {
            Some(n @ 1..=MAX_LIMIT) => Ok(n as usize),
            Some(_) => Err(invalid(format!("limit must be between 1 and {MAX_LIMIT}"))),
            None if v.is_number() => {
                Err(invalid(format!("limit must be between 1 and {MAX_LIMIT}")))
            }
            None => Err(AwsError::serialization("limit must be an integer")),
        },
    }
}

/// A pattern member, parsed; its problems as `InvalidParameterException`.
pub fn pattern_member(body: &Map<String, Value>, name: &str) -> Result<Pattern, AwsError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(Pattern::All),
        Some(Value::String(s)) => Pattern::parse(s).map_err(invalid),
        Some(_) => Err(AwsError::serialization(format!("{name} must be a string"))),
    }
}

/// A `FilterLogEvents` request, checked.
struct Query {
    streams: Vec<usize>,
    /// Seconds to scan, both inclusive.
    first: i64,
    last: i64,
    pattern: Pattern,
    limit: usize,
    request: u64,
    after: Option<Position>,
}

fn query(
    group: &LogGroup,
    region: &str,
    now: DateTime<Utc>,
    body: &Map<String, Value>,
) -> Result<Query, AwsError> {
    let name = string_member(body, "logGroupName", MAX_NAME_LEN)?;
    let identifier = string_member(body, "logGroupIdentifier", MAX_IDENTIFIER_LEN)?;
    let wanted = match (name, identifier) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "LogGroupName and LogGroupIdentifier are mutually exclusive: specify only one",
            ));
        }
        (None, None) => {
            return Err(invalid(
                "Either LogGroupName or LogGroupIdentifier must be specified",
            ));
        }
        (Some(n), None) => n,
        (None, Some(i)) => i,
    };
    let names = names_member(body, "logStreamNames")?;
    let prefix = string_member(body, "logStreamNamePrefix", MAX_NAME_LEN)?;
    if names.is_some() && prefix.is_some() {
        return Err(invalid(
            "logStreamNames and logStreamNamePrefix are mutually exclusive: specify only one",
        ));
    }
    let start = millis_member(body, "startTime")?;
    let end = millis_member(body, "endTime")?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(invalid("startTime must not be after endTime"));
    }
    let pattern_text = match body.get("filterPattern") {
        Some(Value::String(s)) => s.as_str(),
        _ => "",
    };
    let pattern = pattern_member(body, "filterPattern")?;
    let limit = limit(body)?;
    if !group.is_named(wanted, region) {
        return Err(not_found());
    }
    // The token binds the request as sent: an omitted end means "now" on
    // every page.
    let ms = |t: Option<i64>| t.map_or_else(|| "-".to_string(), |t| t.to_string());
    let names_key = names
        .as_ref()
        .map_or_else(|| "-".to_string(), |n| n.join("\u{0}"));
    let request = fingerprint(&[
        &group.arn,
        &names_key,
        prefix.unwrap_or("-"),
        &ms(start),
        &ms(end),
        pattern_text,
    ]);
    let after = match body.get("nextToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => match Position::decode(t) {
            Some(p) if p.request == request => Some(p),
            _ => return Err(invalid("The specified nextToken is invalid.")),
        },
        Some(_) => return Err(AwsError::serialization("nextToken must be a string")),
    };
    // Events before the start or later than the end are not returned;
    // every event's timestamp is a whole second.
    let first = start.map_or(i64::MIN, |s| s.div_euclid(1000) + i64::from(s % 1000 != 0));
    let last = end.map_or(i64::MAX, |e| e.div_euclid(1000));
    let first = first.max(group.first_second());
    let last = last.min(group.newest_second(now));
    Ok(Query {
        streams: group.select_streams(names.as_deref(), prefix),
        first,
        last,
        pattern,
        limit,
        request,
        after,
    })
}

fn item(group: &LogGroup, e: &LogEvent, message: &str) -> Value {
    json!({
        "logStreamName": group.stream_name(e.region),
        "timestamp": e.timestamp,
        "message": message,
        "ingestionTime": e.ingestion,
        "eventId": e.event_id(),
    })
}

pub fn filter_log_events(
    group: &LogGroup,
    region: &str,
    now: DateTime<Utc>,
    body: &Map<String, Value>,
) -> Answer {
    let q = query(group, region, now, body)?;
    let start = q.after.as_ref().map_or(q.first, |p| q.first.max(p.second));
    let mut page: Vec<Value> = Vec::new();
    let mut bytes = PAGE_OVERHEAD;
    let mut resume: Option<Position> = None;
    let mut examined = 0;
    let mut second = start;
    'walk: while second <= q.last && !q.streams.is_empty() {
        if second - start >= SCAN_SECONDS || examined >= SCAN_EVENTS {
            // Budget spent: go on after the last second scanned.
            resume = Some(Position {
                request: q.request,
                second: second - 1,
                stream: u64::MAX,
                id: String::new(),
            });
            break;
        }
        for (log, ev) in group.second(second, &q.streams) {
            if q.after.as_ref().is_some_and(|p| !p.before(&log)) {
                continue;
            }
            examined += 1;
            let message = group.message(&log, &ev);
            if !q.pattern.matches(&message) {
                continue;
            }
            let value = item(group, &log, &message);
            let size = value.to_string().len() + 1;
            if page.len() == q.limit || (bytes + size > MAX_PAGE_BYTES && !page.is_empty()) {
                break 'walk;
            }
            bytes += size;
            page.push(value);
            resume = Some(Position {
                request: q.request,
                second,
                stream: log.region as u64,
                id: log.id,
            });
        }
        second += 1;
    }
    // A token only when the walk stopped before the end of the range.
    let more = second <= q.last && !q.streams.is_empty();
    let mut out = json!({"events": page, "searchedLogStreams": []});
    if more && let Some(p) = resume {
        out["nextToken"] = json!(p.encode());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(second: i64, stream: u64, id: &str) -> Position {
        Position {
            request: fingerprint(&["g", "-"]),
            second,
            stream,
            id: id.into(),
        }
    }

    fn ev(second: i64, region: usize, id: &str) -> LogEvent {
        LogEvent {
            region,
            id: id.into(),
            timestamp: second * 1000,
            ingestion: second * 1000 + 20_000,
        }
    }

    #[test]
    fn tokens_are_opaque_and_round_trip() {
        let p = pos(1_700_000_000, 1, "0000a-b");
        let token = p.encode();
        assert!(!token.contains('{') && !token.contains("0000a"), "{token}");
        assert_eq!(Position::decode(&token), Some(p));
        let long = "A".repeat(2000);
        for bad in ["", "abc", "!!!", &STANDARD.encode(b"{\"r\":1}"), &long] {
            assert_eq!(Position::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_position_resumes_at_the_exact_event() {
        let p = pos(100, 1, "b");
        // Same second: later streams, and later ids of the same stream.
        assert!(!p.before(&ev(100, 0, "z")));
        assert!(!p.before(&ev(100, 1, "a")));
        assert!(!p.before(&ev(100, 1, "b")), "never repeats the last event");
        assert!(p.before(&ev(100, 1, "c")), "never skips the next one");
        assert!(p.before(&ev(100, 2, "a")));
        assert!(p.before(&ev(101, 0, "a")));
        // A whole second scanned.
        let whole = pos(100, u64::MAX, "");
        assert!(!whole.before(&ev(100, 5, "zzz")));
        assert!(whole.before(&ev(101, 0, "")));
    }

    #[test]
    fn event_ids_are_56_digits_and_distinct() {
        let a = ev(1_700_000_000, 0, "0a6c3f5e-0000-4000-8000-000000000001");
        let b = ev(1_700_000_000, 0, "0a6c3f5e-0000-4000-8000-000000000002");
        let (ia, ib) = (a.event_id(), b.event_id());
        assert_eq!(ia.len(), 56, "{ia}");
        assert!(ia.bytes().all(|c| c.is_ascii_digit()), "{ia}");
        assert_ne!(ia, ib);
        assert!(ia < ib, "ids of one millisecond sort as the events do");
    }
}
