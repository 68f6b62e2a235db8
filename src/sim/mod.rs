//! A loopback AWS: CloudTrail, KMS, STS, S3 and CloudWatch Logs read APIs
//! on 127.0.0.1, close
//! enough to the real wire protocols that the AWS SDKs, boto3 and the AWS
//! CLI accept it with `--endpoint-url` and any credentials. The demo, the
//! live pollers' tests and `kmstop sim` run against it.
//!
//! ```text
//! world (keys, aliases, cast) ─┐
//! traffic (seed, scenario, region, second) -> events (slot cache + own calls)
//!                               └─ server (hyper): faults -> rate limits -> cloudtrail | kms | sts
//!                                   | s3 (trail_files) | logs, live_tail (log_group)
//! ```
//!
//! It only reads: no operation that would change anything exists here
//! ([`READ_ONLY_TARGETS`] lists what it answers; everything else is an
//! `UnknownOperationException`). Time comes from the injected clock only.

mod bucket;
pub mod cast;
mod cloudtrail;
mod endless;
mod events;
mod faults;
mod filter_pattern;
mod kms;
mod live_tail;
mod log_group;
mod logs;
mod render;
mod s3;
mod s3_dir;
mod server;
mod sts;
mod token;
mod traffic;
mod trail_files;
mod wire;
pub mod world;

#[cfg(test)]
mod logs_tests;
#[cfg(test)]
mod lookup_tests;
#[cfg(test)]
mod tests;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;

pub use bucket::Rate;
pub use events::TruthEvent;
pub use faults::{FaultKind, Faults};
pub use traffic::{BUSY_RATE, INCIDENT_LEN_S, INCIDENT_START_S, POLICY_CHANGE_S, Scenario};
pub use trail_files::Delivery as TrailDelivery;
pub use wire::{DEFAULT_REGION, credential_scope, region_of};
pub use world::{Rotation, SimAlias, SimKey, TrailSetup, World};

use crate::clock::{Clock, SystemClock};

/// The bucket the simulated account's trail is delivered to.
pub fn trail_bucket(account: &str) -> String {
    trail_files::TrailFiles::bucket(account)
}

/// The CloudWatch Logs log group the simulated account's trail delivers
/// to (in the home region, the first of the simulator's regions; one
/// stream per region, `<account>_CloudTrail_<region>`).
pub fn trail_log_group(account: &str) -> String {
    log_group::LogGroup::name_for(account)
}

/// Every target the simulator answers (canonical `X-Amz-Target` names;
/// STS under its JSON-protocol name). All are reads: a test can assert
/// that every request a client made is on this list.
pub const READ_ONLY_TARGETS: &[&str] = server::SERVED;

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// When it arrived (the simulator's clock).
    pub at: DateTime<Utc>,
    /// Canonical target (`CloudTrail_20131101.LookupEvents`,
    /// `TrentService.ListKeys`, `AWSSecurityTokenServiceV20110615.GetCallerIdentity`);
    /// an unknown target as sent; empty when the request named none.
    pub target: String,
    /// From the signature's credential scope.
    pub region: String,
    /// HTTP status answered; 0 when the connection was dropped.
    pub status: u16,
    /// The error code answered, if any.
    pub error: Option<String>,
    pub fault: Option<FaultKind>,
    pub user_agent: Option<String>,
}

/// Everything a simulator is made of.
#[derive(Clone)]
pub struct SimOptions {
    pub seed: u64,
    pub scenario: Scenario,
    /// 12-digit account id.
    pub account: String,
    pub regions: Vec<String>,
    /// How far before the start events already exist.
    pub history: Duration,
    /// No generated events after this time (the simulator's own calls are
    /// still recorded): a finite, exact ground truth for tests.
    pub events_until: Option<DateTime<Utc>>,
    /// Delivery delay: events become visible between these after their
    /// `eventTime` (mostly near the minimum).
    pub delay_min: Duration,
    pub delay_max: Duration,
    pub faults: Faults,
    /// `LookupEvents` limit per region (`None`: unlimited; a frozen clock
    /// never refills the bucket).
    pub lookup_rate: Option<Rate>,
    /// KMS limit per region.
    pub kms_rate: Option<Rate>,
    /// Record the KMS calls served as CloudTrail events.
    pub record_own_calls: bool,
    /// Some keys refuse the reader policy, rotation, tag and usage reads.
    pub denied_keys: bool,
    pub trail: TrailSetup,
    /// Events per second of the busy scenario's first region.
    pub busy_rate: f64,
    /// How the trail's objects land in its bucket.
    pub trail_delivery: TrailDelivery,
    /// How long after its `eventTime` a record is ingested into the trail's
    /// log group (`ingestionTime`); invisible to `FilterLogEvents` and Live
    /// Tail before.
    pub logs_lag: chrono::Duration,
    /// `FilterLogEvents` limit per region (`None`: unlimited).
    pub logs_rate: Option<Rate>,
    /// Directories served as buckets besides the trail's: (name, dir).
    pub dir_buckets: Vec<(String, std::path::PathBuf)>,
    /// 0: any free port.
    pub port: u16,
    pub clock: Arc<dyn Clock>,
    pub memory: SimMemory,
}

/// What the simulator keeps to answer again without working again: all of
/// it is ground truth it can generate or render anew, so the caps trade
/// memory for CPU only. The demo runs the simulator in the dashboard's
/// process, where its memory is the dashboard's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimMemory {
    /// Generated events (about 150 bytes each).
    pub events: usize,
    /// Rendered trail objects, gzip bytes.
    pub object_bytes: usize,
    /// Requests served, the newest (for `requests()`, the request log).
    pub requests: usize,
}

impl Default for SimMemory {
    /// A busy region's quarter hour of events (about 30 MB), and 32 MB of
    /// objects: the standalone simulator a benchmark reads hard.
    fn default() -> Self {
        Self {
            events: 200_000,
            object_bytes: 32 << 20,
            requests: 100_000,
        }
    }
}

impl SimMemory {
    /// For `kmstop demo`: a few minutes of the default account's events
    /// and a few objects; requests only when they are written out.
    #[must_use]
    pub fn demo(keep_requests: bool) -> Self {
        Self {
            events: 20_000,
            object_bytes: 2 << 20,
            requests: if keep_requests { 100_000 } else { 0 },
        }
    }
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            scenario: Scenario::Default,
            account: "111122223333".into(),
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            history: Duration::from_hours(1),
            events_until: None,
            delay_min: Duration::from_secs(5),
            delay_max: Duration::from_mins(2),
            faults: Faults::default(),
            lookup_rate: Some(Rate::LOOKUP_EVENTS),
            kms_rate: Some(Rate::KMS),
            record_own_calls: true,
            denied_keys: true,
            trail: TrailSetup::default(),
            busy_rate: traffic::BUSY_RATE,
            trail_delivery: TrailDelivery::default(),
            logs_lag: chrono::Duration::seconds(20),
            logs_rate: Some(Rate::FILTER_LOG_EVENTS),
            dir_buckets: Vec::new(),
            port: 0,
            clock: Arc::new(SystemClock),
            memory: SimMemory::default(),
        }
    }
}

impl std::fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOptions")
            .field("seed", &self.seed)
            .field("scenario", &self.scenario)
            .field("account", &self.account)
            .field("regions", &self.regions)
            .field("history", &self.history)
            .field("events_until", &self.events_until)
            .field("delay", &(self.delay_min..self.delay_max))
            .field("faults", &self.faults)
            .field("lookup_rate", &self.lookup_rate)
            .field("logs_lag", &self.logs_lag)
            .field("logs_rate", &self.logs_rate)
            .field("record_own_calls", &self.record_own_calls)
            .field("port", &self.port)
            .field("memory", &self.memory)
            .finish_non_exhaustive()
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn validate(o: &SimOptions) -> io::Result<()> {
    if o.account.len() != 12 || !o.account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!("account {:?} is not 12 digits", o.account)));
    }
    let plausible = |r: &String| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let distinct = o
        .regions
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if o.regions.is_empty() || !o.regions.iter().all(plausible) || distinct != o.regions.len() {
        return Err(invalid(format!("bad region list {:?}", o.regions)));
    }
    if o.logs_lag < chrono::Duration::zero() || o.logs_lag > chrono::Duration::days(1) {
        return Err(invalid("logs_lag must be between 0 and a day".into()));
    }
    if o.delay_min > o.delay_max {
        return Err(invalid("delay_min is above delay_max".into()));
    }
    o.faults.validate().map_err(invalid)
}

/// The simulator's entry point.
pub struct Sim;

impl Sim {
    /// Binds `127.0.0.1:port` and serves on a thread of its own with its
    /// own tokio runtime, so sync tests, async tests and the demo can all
    /// use it. The origin (scenario time zero) is the clock's now.
    pub fn start(options: SimOptions) -> io::Result<SimHandle> {
        validate(&options)?;
        let now = options.clock.now();
        let origin = now.with_nanosecond(0).unwrap_or(now);
        let world = World::build(
            options.seed,
            &options.account,
            &options.regions,
            origin,
            options.trail,
            options.denied_keys,
        );
        let history = chrono::Duration::from_std(options.history)
            .map_err(|e| invalid(format!("history: {e}")))?;
        let traffic = traffic::Traffic {
            world: Arc::new(world),
            seed: options.seed,
            scenario: options.scenario,
            delay: traffic::DelayModel {
                min: options.delay_min,
                max: options.delay_max,
            },
            first: (origin - history).timestamp(),
            last: options.events_until.map(|t| t.timestamp()),
            busy_rate: options.busy_rate,
        };
        let outage = (options.scenario == Scenario::Outage)
            .then(|| options.regions.last().cloned())
            .flatten();
        let events = Arc::new(events::Events::keeping(traffic, options.memory.events));
        let logs = Arc::new(log_group::LogGroup::new(events.clone(), options.logs_lag));
        let mut buckets = s3::Buckets::new(&options.regions[0]);
        buckets.add(
            &trail_files::TrailFiles::bucket(&options.account),
            Box::new(
                trail_files::TrailFiles::new(events.clone(), options.trail_delivery)
                    .keeping(options.memory.object_bytes),
            ),
        );
        for (name, dir) in &options.dir_buckets {
            let store = s3_dir::DirStore::open(dir, now)
                .map_err(|e| invalid(format!("bucket {name}: {}: {e}", dir.display())))?;
            buckets.add(name, Box::new(store));
        }
        let state = Arc::new(server::State::new(
            events,
            buckets,
            options.clock,
            faults::Injector::new(options.faults, outage, options.seed),
            options.lookup_rate,
            options.kms_rate,
            options.record_own_calls,
            logs,
            options.logs_rate,
            options.memory.requests,
        ));

        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, options.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kmstop-sim")
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let serving = state.clone();
        let thread = std::thread::Builder::new()
            .name("kmstop-sim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => server::serve(listener, serving, stopped).await,
                        Err(e) => tracing::error!("simulator cannot listen: {e}"),
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })?;
        Ok(SimHandle {
            addr,
            trail_delivery: options.trail_delivery,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// A running simulator; dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    trail_delivery: TrailDelivery,
    state: Arc<server::State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, for `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request so far (the newest 100 000), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests()
    }

    /// Every event of `region` with `start <= eventTime <= end` that
    /// exists by now, visible to LookupEvents or not, newest first.
    pub fn ground_truth(
        &self,
        region: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Vec<TruthEvent> {
        let now = self.state.clock.now();
        self.state.events.truth(region, start, end, now)
    }

    /// The event times the trail's delivered objects cover now: from the
    /// first object's start to the last delivered one's end (inclusive
    /// bounds, for [`Self::ground_truth`]).
    pub fn trail_coverage(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        self.trail_delivery
            .coverage(self.state.events.traffic.first, self.state.clock.now())
    }

    /// The event times whose records the trail's log group holds now
    /// (ingested: `eventTime + logs_lag <= now`), inclusive bounds for
    /// [`Self::ground_truth`]; `FilterLogEvents` over the whole group returns
    /// exactly those events of every region.
    pub fn log_coverage(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        self.state.logs.coverage(self.state.clock.now())
    }

    /// The trail's log group: its name (see [`trail_log_group`]) and ARN
    /// (`arn:aws:logs:<home region>:<account>:log-group:<name>`).
    pub fn log_group(&self) -> (String, String) {
        (self.state.logs.name.clone(), self.state.logs.arn.clone())
    }

    /// The log stream of `region` in the trail's log group.
    pub fn log_stream(&self, region: &str) -> Option<String> {
        let index = self.world().region_index(region)?;
        Some(self.state.logs.stream_name(index))
    }

    /// Live Tail sessions streaming now.
    pub fn live_tail_sessions(&self) -> usize {
        self.state.live.active()
    }

    /// The simulated account: keys, aliases, principals.
    pub fn world(&self) -> &World {
        &self.state.events.traffic.world
    }

    /// Scenario time zero.
    pub fn origin(&self) -> DateTime<Utc> {
        self.world().origin
    }

    /// Stops serving and waits for the server thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("endpoint", &self.endpoint())
            .finish_non_exhaustive()
    }
}
