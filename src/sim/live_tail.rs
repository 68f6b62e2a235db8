//! CloudWatch Logs' `StartLiveTail` over the trail's log group: an AWS
//! event stream (`application/vnd.amazon.eventstream`, chunked) that opens,
//! as every awsJson event stream does, with an `initial-response` event
//! (the operation's other output members: none, `{}`; botocore refuses a
//! stream without it, the Rust SDK skips it), then a `sessionStart` event, then sends a `sessionUpdate` every second
//! holding the log events ingested since the last one (at most 500: a
//! uniform sample above that, flagged `sampled`), and ends after three
//! hours of the simulator's clock with a `SessionTimeoutException`, or as
//! soon as the client goes away or the simulator stops. Frames are encoded
//! by `aws-smithy-eventstream`, the SDK's own codec.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use chrono::{DateTime, Duration, Utc};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use rand::RngExt;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};

use super::filter_pattern::Pattern;
use super::log_group::{LogEvent, LogGroup};
use super::logs::{invalid, names_member, not_found, pattern_member};
use super::traffic::SimEvent;
use super::wire::AwsError;
use crate::clock::Clock;
use crate::synth::text::derived_rng;

/// Events in one update, at most; more are sampled down to this.
pub const MAX_RESULTS: usize = 500;
/// A session's length on the simulator's clock.
pub fn session_length() -> Duration {
    Duration::hours(3)
}
/// Live Tail's quota of concurrent sessions per account.
const MAX_SESSIONS: usize = 15;
const MAX_GROUPS: usize = 10;
/// An update covers at most the newest this many seconds: a clock that
/// runs fast (the demo's `--speed`) cannot make one update render hours.
const MAX_WINDOW_SECONDS: i64 = 120;
/// Frames waiting for a slow reader; the session waits when it is full.
const QUEUED_FRAMES: usize = 4;
const PURPOSE_SAMPLE: u64 = 0x5157_1a11;

/// The simulator's live sessions: how many, and the signal that ends them
/// all when it stops.
pub struct Sessions {
    closing: watch::Sender<bool>,
    active: Arc<AtomicUsize>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            closing: watch::Sender::new(false),
            active: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Sessions {
    /// Ends every session (the simulator is stopping).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

/// Counts a session while it lives.
struct Active(Arc<AtomicUsize>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What one tick of a session produces.
#[derive(Debug, PartialEq)]
pub enum Step {
    Update {
        sampled: bool,
        results: Vec<(LogEvent, String)>,
    },
    Timeout,
}

/// A session's state, apart from the network: pure given `now`.
pub struct Session {
    group: Arc<LogGroup>,
    identifier: String,
    streams: Vec<usize>,
    pattern: Pattern,
    started: DateTime<Utc>,
    /// Events ingested after this are not sent yet.
    last: DateTime<Utc>,
    updates: u64,
}

impl Session {
    pub fn new(
        group: Arc<LogGroup>,
        identifier: String,
        streams: Vec<usize>,
        pattern: Pattern,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            group,
            identifier,
            streams,
            pattern,
            started: now,
            last: now,
            updates: 0,
        }
    }

    /// The update due at `now`: the events ingested since the last one.
    pub fn poll(&mut self, now: DateTime<Utc>) -> Step {
        if now - self.started >= session_length() {
            return Step::Timeout;
        }
        self.updates += 1;
        if now <= self.last {
            // The clock stood still (or went back): nothing new.
            return Step::Update {
                sampled: false,
                results: Vec::new(),
            };
        }
        let hi = self.group.newest_second(now);
        let from = self.group.first_second_after(self.last);
        let lo = from.max(hi - MAX_WINDOW_SECONDS + 1);
        self.last = now;
        let mut matching: Vec<(LogEvent, SimEvent, Option<String>)> = Vec::new();
        for second in lo..=hi {
            for (log, ev) in self.group.second(second, &self.streams) {
                if self.pattern.is_all() {
                    matching.push((log, ev, None));
                } else {
                    let message = self.group.message(&log, &ev);
                    if self.pattern.matches(&message) {
                        matching.push((log, ev, Some(message)));
                    }
                }
            }
        }
        let sampled = lo > from || matching.len() > MAX_RESULTS;
        if matching.len() > MAX_RESULTS {
            let seed = self.group.events.traffic.seed;
            sample(&mut matching, MAX_RESULTS, seed, self.updates);
        }
        let results = matching
            .into_iter()
            .map(|(log, ev, message)| {
                let message = message.unwrap_or_else(|| self.group.message(&log, &ev));
                (log, message)
            })
            .collect();
        Step::Update { sampled, results }
    }

    /// The `sessionUpdate` payload of an update.
    fn update_json(&self, sampled: bool, results: &[(LogEvent, String)]) -> Value {
        let results: Vec<Value> = results
            .iter()
            .map(|(e, message)| {
                json!({
                    "logStreamName": self.group.stream_name(e.region),
                    "logGroupIdentifier": self.identifier,
                    "message": message,
                    "timestamp": e.timestamp,
                    "ingestionTime": e.ingestion,
                })
            })
            .collect();
        json!({"sessionMetadata": {"sampled": sampled}, "sessionResults": results})
    }
}

/// Keeps a uniform sample of `n` of `items`, in their order.
pub fn sample<T>(items: &mut Vec<T>, n: usize, seed: u64, round: u64) {
    if items.len() <= n {
        return;
    }
    let mut rng = derived_rng(seed, PURPOSE_SAMPLE, round);
    let len = items.len();
    let mut index: Vec<usize> = (0..len).collect();
    // A partial Fisher-Yates shuffle picks n distinct indices uniformly.
    for i in 0..n {
        let j = rng.random_range(i..len);
        index.swap(i, j);
    }
    let mut keep = vec![false; len];
    for &i in &index[..n] {
        keep[i] = true;
    }
    let mut flags = keep.into_iter();
    items.retain(|_| flags.next().unwrap_or(false));
}

fn string_header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_string().into()))
}

fn encode(message: &Message) -> Bytes {
    let mut buf = Vec::new();
    // Only oversized headers fail to encode; ours are fixed and short.
    if let Err(e) = write_message_to(message, &mut buf) {
        tracing::error!("live tail frame: {e}");
    }
    Bytes::from(buf)
}

/// An `event` message of the stream.
pub fn event_frame(event_type: &str, payload: &Value) -> Bytes {
    encode(&Message::new_from_parts(
        vec![
            string_header(":event-type", event_type),
            string_header(":message-type", "event"),
            string_header(":content-type", "application/json"),
        ],
        payload.to_string().into_bytes(),
    ))
}

/// An `exception` message of the stream: a modelled error, after which
/// the stream ends.
pub fn exception_frame(exception_type: &str, message: &str) -> Bytes {
    encode(&Message::new_from_parts(
        vec![
            string_header(":exception-type", exception_type),
            string_header(":message-type", "exception"),
            string_header(":content-type", "application/json"),
        ],
        json!({"message": message}).to_string().into_bytes(),
    ))
}

/// The response body: frames as the session produces them. Dropping it
/// (the client went away) ends the session.
pub struct LiveTailBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for LiveTailBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|frame| frame.map(|b| Ok(Frame::data(b))))
    }

    fn size_hint(&self) -> SizeHint {
        // No length: the stream goes out chunked.
        SizeHint::default()
    }
}

/// A checked `StartLiveTail` request.
struct Request {
    identifiers: Vec<String>,
    names: Option<Vec<String>>,
    prefixes: Option<Vec<String>>,
    pattern_text: Option<String>,
    pattern: Pattern,
}

fn request(group: &LogGroup, region: &str, body: &Map<String, Value>) -> Result<Request, AwsError> {
    let identifiers = match body.get("logGroupIdentifiers") {
        None | Some(Value::Null) => return Err(invalid("logGroupIdentifiers is required")),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(AwsError::serialization(
                "logGroupIdentifiers must be a list",
            ));
        }
    };
    if identifiers.is_empty() || identifiers.len() > MAX_GROUPS {
        return Err(invalid(format!(
            "logGroupIdentifiers must hold between 1 and {MAX_GROUPS} log group ARNs"
        )));
    }
    let mut ids = Vec::new();
    for v in identifiers {
        let Some(id) = v.as_str().filter(|s| !s.is_empty() && s.len() <= 2048) else {
            return Err(invalid(
                "each of logGroupIdentifiers must be a log group ARN",
            ));
        };
        if id.ends_with('*') {
            return Err(invalid(format!(
                "log group ARN {id} must not end with an asterisk (*)"
            )));
        }
        if !id.starts_with("arn:") {
            return Err(invalid(format!("{id}: specify each log group by its ARN")));
        }
        if !group.is_named(id, region) {
            return Err(not_found());
        }
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_string());
        }
    }
    let names = names_member(body, "logStreamNames")?;
    let prefixes = names_member(body, "logStreamNamePrefixes")?;
    if names.is_some() && prefixes.is_some() {
        return Err(invalid(
            "logStreamNames and logStreamNamePrefixes are mutually exclusive: specify only one",
        ));
    }
    if (names.is_some() || prefixes.is_some()) && identifiers.len() > 1 {
        return Err(invalid(
            "logStreamNames and logStreamNamePrefixes need exactly one log group",
        ));
    }
    let pattern = pattern_member(body, "logEventFilterPattern")?;
    let pattern_text = body
        .get("logEventFilterPattern")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Request {
        identifiers: ids,
        names,
        prefixes,
        pattern_text,
        pattern,
    })
}

/// Starts a session: checks the request, then streams from a task of its
/// own. The body's first frames are `initial-response` and `sessionStart`.
pub fn start(
    group: &Arc<LogGroup>,
    sessions: &Sessions,
    clock: Arc<dyn Clock>,
    region: &str,
    body: &Map<String, Value>,
    request_id: &str,
) -> Result<LiveTailBody, AwsError> {
    let req = request(group, region, body)?;
    let streams: Vec<usize> = (0..group.streams())
        .filter(|&r| {
            let name = group.stream_name(r);
            req.names.as_ref().is_none_or(|n| n.contains(&name))
                && req
                    .prefixes
                    .as_ref()
                    .is_none_or(|p| p.iter().any(|p| name.starts_with(p.as_str())))
        })
        .collect();
    let taken = sessions
        .active
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MAX_SESSIONS).then_some(n + 1)
        });
    if taken.is_err() {
        return Err(AwsError::client(
            "LimitExceededException",
            format!(
                "You have exceeded the maximum number of concurrent Live Tail sessions ({MAX_SESSIONS})."
            ),
        ));
    }
    let active = Active(sessions.active.clone());
    let mut start = json!({
        "requestId": request_id,
        "sessionId": crate::synth::text::fmt_uuid(u128::from(super::token::fingerprint(&[request_id, "session"])) << 64
            | u128::from(super::token::fingerprint(&[request_id]))),
        "logGroupIdentifiers": req.identifiers,
    });
    if let Some(n) = &req.names {
        start["logStreamNames"] = json!(n);
    }
    if let Some(p) = &req.prefixes {
        start["logStreamNamePrefixes"] = json!(p);
    }
    if let Some(p) = &req.pattern_text {
        start["logEventFilterPattern"] = json!(p);
    }
    let (tx, rx) = mpsc::channel(QUEUED_FRAMES);
    // The channel is empty: the first two frames always fit.
    let _ = tx.try_send(event_frame("initial-response", &json!({})));
    let _ = tx.try_send(event_frame("sessionStart", &start));
    let identifier = req.identifiers.first().cloned().unwrap_or_default();
    let session = Session::new(group.clone(), identifier, streams, req.pattern, clock.now());
    tokio::spawn(run(
        session,
        clock,
        tx,
        sessions.closing.subscribe(),
        active,
    ));
    Ok(LiveTailBody { rx })
}

/// A session's life: an update a second until it times out, the client
/// goes away (the body, and its receiver, dropped) or the simulator stops.
async fn run(
    mut session: Session,
    clock: Arc<dyn Clock>,
    tx: mpsc::Sender<Bytes>,
    mut closing: watch::Receiver<bool>,
    _active: Active,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: the first update comes a second later.
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = tx.closed() => return,
            _ = closing.wait_for(|c| *c) => return,
        }
        let now = clock.now();
        // Rendering a busy second takes a while: off the serving threads.
        let Ok((back, step)) = tokio::task::spawn_blocking(move || {
            let step = session.poll(now);
            (session, step)
        })
        .await
        else {
            return;
        };
        session = back;
        let (frame, last) = match step {
            Step::Update { sampled, results } => (
                event_frame("sessionUpdate", &session.update_json(sampled, &results)),
                false,
            ),
            Step::Timeout => (
                exception_frame(
                    "SessionTimeoutException",
                    "Live Tail session has ended as it reached its maximum session time of 3 hours.",
                ),
                true,
            ),
        };
        tokio::select! {
            sent = tx.send(frame) => if sent.is_err() { return },
            _ = closing.wait_for(|c| *c) => return,
        }
        if last {
            return;
        }
    }
}

#[cfg(test)]
#[path = "live_tail_tests.rs"]
mod tests;
