//! The HTTP side: one hyper HTTP/1.1 connection per client, routing by
//! `X-Amz-Target` (`awsJson1_1`) or form `Action` (STS awsQuery), faults and
//! rate limits applied before the handlers, every request logged.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

use super::bucket::{Rate, TokenBucket};
use super::endless::Endless;
use super::events::Events;
use super::faults::{FaultKind, Injector, fault_error};
use super::live_tail::{self, LiveTailBody, Sessions};
use super::log_group::LogGroup;
use super::render::Served;
use super::s3::{self, Buckets, S3Answer, s3_request_of, s3_response};
use super::wire::{AwsError, Service, Target, form_pairs, json_object, parse_target, region_of};
use super::{RequestRecord, cloudtrail, kms, logs, sts};
use crate::clock::Clock;

/// The largest request body read.
const BODY_LIMIT: usize = 1 << 20;

/// An answer's body: whole, or (a hostile endpoint) without end, or a
/// Live Tail event stream.
pub(super) type Answer = Either<Full<Bytes>, Either<Endless, LiveTailBody>>;

pub struct State {
    pub events: Arc<Events>,
    pub s3_buckets: Buckets,
    pub clock: Arc<dyn Clock>,
    pub faults: Injector,
    pub lookup_rate: Option<Rate>,
    pub kms_rate: Option<Rate>,
    pub record_own_calls: bool,
    /// The trail's CloudWatch Logs log group.
    pub logs: Arc<LogGroup>,
    /// `FilterLogEvents` limit per region.
    pub logs_rate: Option<Rate>,
    /// Live Tail sessions, ended all at once when the server stops.
    pub live: Sessions,
    buckets: Mutex<HashMap<BucketKey, TokenBucket>>,
    log: Mutex<VecDeque<RequestRecord>>,
    /// Requests the log keeps, the newest ([`super::SimMemory`]).
    log_limit: usize,
    request_counter: AtomicU64,
}

/// A rate limit's bucket: service, region, and the operation when it has a
/// quota of its own.
type BucketKey = (Service, String, Option<&'static str>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        events: Arc<Events>,
        s3_buckets: Buckets,
        clock: Arc<dyn Clock>,
        faults: Injector,
        lookup_rate: Option<Rate>,
        kms_rate: Option<Rate>,
        record_own_calls: bool,
        logs: Arc<LogGroup>,
        logs_rate: Option<Rate>,
        log_limit: usize,
    ) -> Self {
        Self {
            events,
            s3_buckets,
            clock,
            faults,
            lookup_rate,
            kms_rate,
            record_own_calls,
            logs,
            logs_rate,
            live: Sessions::default(),
            buckets: Mutex::new(HashMap::new()),
            log: Mutex::new(VecDeque::new()),
            log_limit,
            request_counter: AtomicU64::new(0),
        }
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.log).iter().cloned().collect()
    }

    fn log(&self, record: RequestRecord) {
        if self.log_limit == 0 {
            return;
        }
        let mut log = lock(&self.log);
        log.push_back(record);
        while log.len() > self.log_limit {
            log.pop_front();
        }
    }

    fn request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        // splitmix64: distinct, stable ids in UUID shape.
        let mut x = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        crate::synth::text::fmt_uuid((u128::from(x ^ (x >> 31)) << 64) | u128::from(n))
    }

    /// False when the rate limit of `service` in `region` is exceeded, or
    /// the operation's own (`GetKeyLastUsage`, while KMS is limited).
    fn admit(&self, service: Service, operation: &str, region: &str) -> bool {
        let rate = match service {
            Service::CloudTrail if operation == "LookupEvents" => self.lookup_rate,
            Service::Kms => self.kms_rate,
            Service::Logs if operation == "FilterLogEvents" => self.logs_rate,
            _ => None,
        };
        let Some(rate) = rate else {
            return true;
        };
        let now = self.clock.now();
        let mut buckets = lock(&self.buckets);
        let mut take = |op: Option<&'static str>, rate: Rate| {
            buckets
                .entry((service, region.to_string(), op))
                .or_insert_with(|| TokenBucket::new(rate))
                .try_take(now)
        };
        if service == Service::Kms
            && operation == "GetKeyLastUsage"
            && !take(Some("GetKeyLastUsage"), Rate::KMS_LAST_USAGE)
        {
            return false;
        }
        take(None, rate)
    }
}

/// Serves until `shutdown` fires.
pub async fn serve(listener: TcpListener, state: Arc<State>, mut shutdown: oneshot::Receiver<()>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => {
                // Streams end cleanly rather than being cut off.
                state.live.close();
                return;
            }
        };
        let Ok((stream, peer)) = accepted else {
            // Out of file descriptors and the like: try again shortly.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let killer = kill.clone();
            let service = hyper::service::service_fn(move |req| {
                handle(state.clone(), peer, req, killer.clone())
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            // Dropping the connection future closes the socket unanswered.
            tokio::select! {
                _ = conn => {}
                () = kill.notified() => {}
            }
        });
    }
}

#[derive(Clone, Copy)]
enum Protocol {
    Json,
    Query,
}

fn respond(protocol: Protocol, status: u16, body: String, request_id: &str) -> Response<Answer> {
    let content_type = match protocol {
        Protocol::Json => "application/x-amz-json-1.1",
        Protocol::Query => "text/xml",
    };
    let mut response = Response::new(Answer::Left(Full::new(Bytes::from(body))));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

fn error_response(protocol: Protocol, e: &AwsError, request_id: &str) -> Response<Answer> {
    let body = match protocol {
        Protocol::Json => e.json_body(),
        Protocol::Query => e.xml_body(request_id),
    };
    respond(protocol, e.status, body, request_id)
}

/// What a request asks for: its routed target (if any), the name it is
/// logged under, and its members.
struct Routed {
    target: Option<Target>,
    logged: String,
    protocol: Protocol,
    params: Result<Map<String, Value>, AwsError>,
}

fn route(target_header: Option<&str>, body: &[u8]) -> Routed {
    if let Some(header) = target_header {
        let target = parse_target(header);
        let logged = target
            .as_ref()
            .map_or_else(|| header.to_string(), Target::canonical);
        return Routed {
            target,
            logged,
            protocol: Protocol::Json,
            params: json_object(body),
        };
    }
    // awsQuery: STS is the only such service here.
    let pairs = form_pairs(body);
    let action = pairs
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone());
    let target = action.map(|operation| Target {
        service: Service::Sts,
        operation,
    });
    let logged = target.as_ref().map_or_else(String::new, Target::canonical);
    let params = if target.is_some() {
        Ok(pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect())
    } else {
        Err(AwsError::client("MissingAction", "Missing Action"))
    };
    Routed {
        target,
        logged,
        protocol: Protocol::Query,
        params,
    }
}

async fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
    kill: Arc<Notify>,
) -> Result<Response<Answer>, Infallible> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let target_header = header("x-amz-target");
    let region = region_of(header(AUTHORIZATION.as_str()).as_deref());
    let s3_request = s3_request_of(&req, target_header.is_some());
    let user_agent = header(USER_AGENT.as_str());
    let body = Limited::new(req.into_body(), BODY_LIMIT).collect().await;
    let body = body
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let routed = route(target_header.as_deref(), &body);
    let request_id = state.request_id();
    let now = state.clock.now();
    let logged = match &s3_request {
        Some((method, path, query)) => format!("S3.{}", s3::operation(method, path, query)),
        None => routed.logged.clone(),
    };
    let mut record = RequestRecord {
        at: now,
        target: logged,
        region: region.clone(),
        status: 0,
        error: None,
        fault: None,
        user_agent: user_agent.clone(),
    };

    let draw = state.faults.draw(&region);
    record.fault = draw.fault;
    if let Some(delay) = draw.delay {
        tokio::time::sleep(delay).await;
    }
    if draw.fault == Some(FaultKind::Drop) {
        state.log(record);
        kill.notify_one();
        let never: Infallible = std::future::pending().await;
        match never {}
    }
    if draw.fault == Some(FaultKind::Garbage) {
        record.status = 200;
        state.log(record);
        return Ok(respond(
            routed.protocol,
            200,
            GARBAGE.to_string(),
            &request_id,
        ));
    }
    if draw.fault == Some(FaultKind::Huge) {
        record.status = 200;
        state.log(record);
        let mut response = respond(routed.protocol, 200, String::new(), &request_id);
        *response.body_mut() = Answer::Right(Either::Left(Endless::new()));
        return Ok(response);
    }
    let service = routed.target.as_ref().map(|t| t.service);
    if let Some(request) = s3_request {
        let fault = draw.fault.and_then(|f| fault_error(f, None));
        let response = s3_response(
            answer_s3(&state, request, fault, now).await,
            &request_id,
            &mut record,
        );
        state.log(record);
        return Ok(response);
    }
    let fault = draw.fault.and_then(|f| fault_error(f, service));
    let live_tail = routed
        .target
        .as_ref()
        .is_some_and(|t| t.service == Service::Logs && t.operation == "StartLiveTail");
    if fault.is_none() && live_tail {
        let response = start_live_tail(&state, &routed, &region, &request_id, &mut record);
        state.log(record);
        return Ok(response);
    }
    let protocol = routed.protocol;
    let outcome = match fault {
        Some(e) => Err(e),
        None => run(&state, routed, &region, now, user_agent, peer, &request_id).await,
    };
    let response = match outcome {
        Ok(body) => {
            record.status = 200;
            respond(protocol, 200, body, &request_id)
        }
        Err(e) => {
            record.status = e.status;
            record.error = Some(e.code.to_string());
            error_response(protocol, &e, &request_id)
        }
    };
    state.log(record);
    Ok(response)
}

/// Dispatches a request no fault intercepted. A `FilterLogEvents` page
/// renders up to 10 000 records: off the threads that answer the others.
async fn run(
    state: &Arc<State>,
    routed: Routed,
    region: &str,
    now: chrono::DateTime<Utc>,
    user_agent: Option<String>,
    peer: SocketAddr,
    request_id: &str,
) -> Result<String, AwsError> {
    let logs = routed
        .target
        .as_ref()
        .is_some_and(|t| t.service == Service::Logs);
    if !logs {
        return dispatch(
            state,
            &routed,
            region,
            now,
            user_agent.as_deref(),
            peer,
            request_id,
        );
    }
    let (state, region, id) = (state.clone(), region.to_string(), request_id.to_string());
    tokio::task::spawn_blocking(move || {
        dispatch(
            &state,
            &routed,
            &region,
            now,
            user_agent.as_deref(),
            peer,
            &id,
        )
    })
    .await
    .unwrap_or_else(|_| Err(AwsError::new(500, "InternalFailure", "internal error")))
}

/// `StartLiveTail`: an event stream on success, else the usual error.
fn start_live_tail(
    state: &State,
    routed: &Routed,
    region: &str,
    request_id: &str,
    record: &mut RequestRecord,
) -> Response<Answer> {
    let started = routed
        .params
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|params| {
            live_tail::start(
                &state.logs,
                &state.live,
                state.clock.clone(),
                region,
                params,
                request_id,
            )
        });
    match started {
        Ok(body) => {
            record.status = 200;
            let mut response = Response::new(Answer::Right(Either::Right(body)));
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/vnd.amazon.eventstream"),
            );
            if let Ok(id) = HeaderValue::from_str(request_id) {
                headers.insert("x-amzn-requestid", id);
            }
            response
        }
        Err(e) => {
            record.status = e.status;
            record.error = Some(e.code.to_string());
            error_response(routed.protocol, &e, request_id)
        }
    }
}

/// An S3 request's answer: the fault's, or the bucket's. Rendering a busy
/// region's trail object takes a while: off the threads that answer the
/// other calls.
async fn answer_s3(
    state: &Arc<State>,
    request: (hyper::Method, String, String),
    fault: Option<AwsError>,
    now: chrono::DateTime<Utc>,
) -> Result<S3Answer, AwsError> {
    if let Some(e) = fault {
        return Err(e);
    }
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        s3::handle(&state.s3_buckets, &request.0, &request.1, &request.2, now)
    })
    .await
    .unwrap_or_else(|_| Err(AwsError::new(500, "InternalError", "internal error")))
}

/// What a broken or hostile endpoint answers: the start of the right
/// shape, then bytes that are not JSON (or XML), control characters in it.
const GARBAGE: &str =
    "{\"Events\": [{\"EventId\": \"\u{1b}[2J\", \"CloudTrailEvent\": \x00\x01<<not json";

/// Runs a request that no fault intercepted; the answer's body text.
#[allow(clippy::too_many_arguments)]
fn dispatch(
    state: &State,
    routed: &Routed,
    region: &str,
    now: chrono::DateTime<Utc>,
    user_agent: Option<&str>,
    peer: SocketAddr,
    request_id: &str,
) -> Result<String, AwsError> {
    let Some(target) = &routed.target else {
        return Err(match &routed.params {
            Err(e) => e.clone(),
            Ok(_) => AwsError::unknown_operation(),
        });
    };
    let params = routed.params.as_ref().map_err(Clone::clone)?;
    let op = target.operation.as_str();
    if !state.admit(target.service, op, region) {
        return Err(fault_error(FaultKind::Throttle, Some(target.service))
            .unwrap_or_else(AwsError::unknown_operation));
    }
    let world = &state.events.traffic.world;
    let value = match (target.service, op) {
        (Service::Sts, "GetCallerIdentity") => {
            return Ok(sts::get_caller_identity(
                world,
                state.faults.forged_account(),
                request_id,
            ));
        }
        (Service::Sts, _) => {
            return Err(AwsError::client(
                "InvalidAction",
                format!("Could not find operation {op} for version 2011-06-15"),
            ));
        }
        (Service::CloudTrail, "LookupEvents") => {
            cloudtrail::lookup_events(&state.events, region, now, params)
        }
        (Service::CloudTrail, "DescribeTrails") => {
            cloudtrail::describe_trails(world, &state.logs, region, params)
        }
        (Service::CloudTrail, "GetEventSelectors") => {
            cloudtrail::get_event_selectors(world, params)
        }
        (Service::CloudTrail, "GetTrailStatus") => {
            cloudtrail::get_trail_status(world, &state.logs, now, params)
        }
        (Service::Logs, "FilterLogEvents") => {
            logs::filter_log_events(&state.logs, region, now, params)
        }
        // StartLiveTail streams: `handle` answers it before dispatching.
        (Service::CloudTrail | Service::Logs, _) => Err(AwsError::unknown_operation()),
        (Service::Kms, _) => {
            let Some(answer) = kms::handle(&state.events, region, now, op, params) else {
                return Err(AwsError::unknown_operation());
            };
            if state.record_own_calls {
                state.events.record_own(&Served {
                    region,
                    time: now,
                    event_id: 0,
                    operation: op,
                    key: answer.key,
                    params,
                    error: answer.answer.as_ref().err(),
                    user_agent,
                    source_ip: &peer.ip().to_string(),
                });
            }
            answer.answer
        }
    }?;
    Ok(value.to_string())
}

/// Canonical names of every operation the simulator answers: all reads.
pub const SERVED: &[&str] = &[
    "CloudTrail_20131101.LookupEvents",
    "CloudTrail_20131101.DescribeTrails",
    "CloudTrail_20131101.GetEventSelectors",
    "CloudTrail_20131101.GetTrailStatus",
    "TrentService.ListKeys",
    "TrentService.DescribeKey",
    "TrentService.GetKeyRotationStatus",
    "TrentService.ListKeyRotations",
    "TrentService.ListAliases",
    "TrentService.GetKeyPolicy",
    "TrentService.ListKeyPolicies",
    "TrentService.GetKeyLastUsage",
    "TrentService.ListGrants",
    "TrentService.ListResourceTags",
    "AWSSecurityTokenServiceV20110615.GetCallerIdentity",
    "Logs_20140328.FilterLogEvents",
    "Logs_20140328.StartLiveTail",
    "S3.HeadBucket",
    "S3.ListObjectsV2",
    "S3.GetObject",
];
