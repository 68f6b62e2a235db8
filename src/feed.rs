//! What every source tells the rest of kmstop: plain owned data that the
//! sources (log files, LookupEvents pollers, the key inventory) send over a
//! bounded channel to whoever consumes them (the dashboard, `kmstop
//! tail`). No tokio, no terminal: the app loop owns the store and only
//! ever receives these messages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::PackedEvent;
use crate::inventory::KeyFacts;
use crate::store::CountedEvent;

/// Who kmstop is in one account, from STS `GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerIdentity {
    /// The profile it was loaded with (`None`: the default chain).
    pub profile: Option<String>,
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// One account × region that kmstop reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceId {
    pub account: String,
    pub region: String,
}

impl SourceId {
    /// Whether both parts are what AWS writes (12 digits; `us-east-1`):
    /// only then may they name a file. The account id comes from an
    /// endpoint's answer and the region from flags or an API: neither is
    /// trusted with a path.
    pub fn is_safe(&self) -> bool {
        is_account_id(&self.account) && is_region(&self.region)
    }
}

/// Exactly 12 ASCII digits, as AWS account ids are.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// A region name as AWS writes them: `us-east-1`, `us-gov-west-1`.
pub fn is_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let letters = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    name.len() <= 32
        && parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(letters)
        && parts
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

/// How one source is doing, in the words the header shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Health {
    /// Connecting, or the first scan has not finished.
    Starting,
    /// Up to date within the poll interval.
    Ok,
    /// Behind: the newest fully read time is this many seconds old.
    Lagging { seconds: i64 },
    /// The last requests were throttled (it keeps retrying the same page).
    Throttled,
    /// The last requests failed; it keeps retrying. The message says why.
    Failing { message: String },
    /// The region cannot be used at all (not enabled, no access); it is not
    /// retried.
    Unavailable { message: String },
}

/// The CloudTrail poller's state for one source, sent whenever it changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStatus {
    pub source: SourceId,
    pub health: Health,
    /// Every event up to this time has been read at least once.
    pub scanned_to: Option<DateTime<Utc>>,
    /// Oldest time the backfill still has to read (`None` once it is done).
    pub backfill_from: Option<DateTime<Utc>>,
    /// Events waiting to be read, estimated from the pages still ahead.
    pub backlog_events: u64,
    /// Events delivered to consumers (each exactly once).
    pub events: u64,
    /// kmstop's own inventory reads left out (see `OwnIdentity::made`).
    pub own_calls: u64,
    pub requests: u64,
    pub throttles: u64,
    pub errors: u64,
    /// Events per second the account produces, as measured by the poller.
    pub arrival_rate: f64,
    /// When the account produces more events than LookupEvents can
    /// deliver: the share of events read so far (0–1). `None` when keeping up.
    pub coverage: Option<f64>,
    /// The share (0–1) of the last 5 minutes' and the last minute's events
    /// expected to be in already, from the delivery delays seen: the rest
    /// CloudTrail has not made visible yet. `None` until enough delays are
    /// seen.
    pub recent_in: Option<f64>,
    pub minute_in: Option<f64>,
    /// The learned delays (first read − `eventTime`) at the percentiles
    /// 0…100, so a consumer can work out what share of a span is in at
    /// its own time, later than the poll's (`expected_in`).
    #[serde(skip)]
    pub delay_percentiles: Option<std::sync::Arc<[u16]>>,
    pub last_error: Option<String>,
}

impl SourceStatus {
    /// The share (0–1) of the events of the `span_secs` (60, 300, 900) before
    /// `now` expected to be in: worked out at `now` from the delays when
    /// they are known, else the poll's own figure.
    #[must_use]
    pub fn share_in_at(&self, span_secs: i64, now: DateTime<Utc>) -> Option<f64> {
        match (&self.delay_percentiles, self.scanned_to) {
            (Some(p), Some(read_to)) => {
                // `scanned_to` is the second before the read.
                let lag = (now - read_to).num_seconds() - 1;
                Some(expected_in(p, span_secs, lag))
            }
            _ if span_secs <= 60 => self.minute_in,
            _ if span_secs <= 300 => self.recent_in,
            _ => None,
        }
    }
}

/// The share (0–1) of the events of the `span_secs` before a moment that
/// are expected to have been read by then, when the last read was
/// `lag_secs` before it: an event `a` seconds old then was `a - lag` old at
/// the read, and was in if its delay was at most that. From the delay
/// percentiles of `SourceStatus::delay_percentiles`.
// Counts and seconds are far below 2^52.
#[allow(clippy::cast_precision_loss)]
pub fn expected_in(percentiles: &[u16], span_secs: i64, lag_secs: i64) -> f64 {
    if percentiles.is_empty() || span_secs <= 0 {
        return 1.0;
    }
    let n = percentiles.len() as f64;
    let total: f64 = (0..span_secs)
        .map(|age| {
            let at_read = age - lag_secs.max(0);
            percentiles.partition_point(|&d| i64::from(d) <= at_read) as f64 / n
        })
        .sum();
    total / span_secs as f64
}

/// How a share of the recent minutes reads: `~92 %`, never `100 %` for an
/// estimate that is not exact.
pub fn share_in(share: f64) -> String {
    let pct = (share * 100.0).clamp(0.0, 100.0);
    if pct >= 99.5 {
        "~99 %".to_string()
    } else {
        format!("~{pct:.0} %")
    }
}

/// The time up to which every usable source has delivered every event
/// (the earliest `scanned_to`, unavailable sources aside): events up to it
/// can go to the alert engine in time order. `None` while some source has
/// not said, or there is none.
pub fn watermark<'a>(
    statuses: impl IntoIterator<Item = &'a SourceStatus>,
) -> Option<DateTime<Utc>> {
    let mut mark: Option<DateTime<Utc>> = None;
    for s in statuses {
        if matches!(s.health, Health::Unavailable { .. }) {
            continue;
        }
        let t = s.scanned_to?;
        mark = Some(mark.map_or(t, |m| m.min(t)));
    }
    mark
}

/// A checkpoint save that must wait until the events sent before it are
/// written out: the consumer runs it then, so a checkpoint never claims an
/// event that was only in a channel or a buffer when kmstop stopped.
pub struct Commit(Box<dyn FnOnce() -> std::io::Result<()> + Send>);

impl Commit {
    pub fn new(save: impl FnOnce() -> std::io::Result<()> + Send + 'static) -> Self {
        Self(Box::new(save))
    }

    /// Saves; call once everything sent before it is out.
    ///
    /// # Errors
    /// The save's own.
    pub fn run(self) -> std::io::Result<()> {
        (self.0)()
    }
}

impl std::fmt::Debug for Commit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Commit")
    }
}

/// What reading log files saw, summed over all inputs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScanStats {
    pub files_read: u64,
    pub files_failed: u64,
    /// Files in a directory that were neither gzip nor JSON.
    pub not_log_files: u64,
    /// CloudTrail digest files (integrity manifests without records).
    pub digest_files: u64,
    pub records: u64,
    pub kms_records: u64,
    pub non_kms: u64,
    pub malformed: u64,
}

impl std::ops::AddAssign for ScanStats {
    fn add_assign(&mut self, o: Self) {
        self.files_read += o.files_read;
        self.files_failed += o.files_failed;
        self.not_log_files += o.not_log_files;
        self.digest_files += o.digest_files;
        self.records += o.records;
        self.kms_records += o.kms_records;
        self.non_kms += o.non_kms;
        self.malformed += o.malformed;
    }
}

/// How reading one account × region's trail (its S3 objects) is going.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrailStatus {
    pub source: SourceId,
    /// Where the trail is read: `s3://bucket/prefix/`.
    pub location: String,
    pub health: Health,
    /// The newest event time of the objects read: the trail is complete
    /// up to about here (CloudTrail delivers a region's minutes in order).
    pub read_to: Option<DateTime<Utc>>,
    pub objects: u64,
    /// Events the trail delivered first (LookupEvents had not).
    pub events: u64,
}

/// How CloudWatch Logs Live Tail of one account × region's trail is
/// going: seconds-fresh events, but a sample when the group passes 500
/// events a second, so it never makes a minute complete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveTailStatus {
    pub source: SourceId,
    /// The log group: `logs://NAME`.
    pub location: String,
    pub health: Health,
    /// The last update was a sample (more than 500 events in its second).
    pub sampled: bool,
    /// Updates that were samples, since the start.
    pub sampled_updates: u64,
    /// Events Live Tail delivered first (no other path had).
    pub events: u64,
}

/// Where an event's record lies in a log file: the dashboard drops the
/// record's text (or, from S3, keeps only the newest arrivals') and reads
/// it again when asked (the JSON drill-down, an export), so holding every
/// event costs its fields, not its record. `start` and `len` are byte
/// offsets into the file's text as read (inflated, BOM stripped, bytes
/// that are not UTF-8 read as U+FFFD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAt {
    /// Shared by every event of the file.
    pub file: std::sync::Arc<RecordFile>,
    pub start: u32,
    pub len: u32,
}

impl RecordAt {
    /// The record lies in S3 (not in a local file).
    pub fn in_s3(&self) -> bool {
        matches!(self.file.as_ref(), RecordFile::Object { .. })
    }
}

/// A log file whose records can be read again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordFile {
    Local(std::path::PathBuf),
    /// A trail's object in S3, read again with `GetObject`.
    Object {
        bucket: String,
        key: String,
    },
}

impl std::fmt::Display for RecordFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(path) => write!(f, "{}", path.display()),
            Self::Object { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// Reads a record again from a local file; the error says why not. Given
/// to the dashboard by whoever reads files, so the app itself reads none.
/// (A record in S3 is asked for like a live one: [`RecordAsk`].)
pub type RecordReader = fn(&RecordAt) -> Result<String, String>;

/// An event the dashboard no longer holds the record of, asked for again
/// from where it lies (an S3 object), or else from CloudTrail's event
/// history (`LookupEvents` by its id) in the account and region that
/// logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAsk {
    pub event_id: String,
    /// Where it lies, when in an S3 object: read there, not from
    /// CloudTrail.
    pub at: Option<RecordAt>,
    /// The event's `recipientAccountId` (`None`: the only account read in
    /// the region).
    pub account: Option<String>,
    pub region: String,
}

/// What came of a [`RecordAsk`]: the record as CloudTrail holds it
/// (`None`: it holds no event of that id), or why it could not be had.
/// Not yet checked to be the event asked about: the dashboard does that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAnswer {
    pub event_id: String,
    pub record: Result<Option<String>, String>,
}

/// How the dashboard's Athena queries are going (`--source athena://…`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AthenaStatus {
    /// `athena://…`
    pub table: String,
    /// The window asked about.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The width of the aggregate's time buckets.
    pub bucket_secs: i64,
    /// What runs now, in words (`None`: nothing runs).
    pub running: Option<String>,
    /// Bytes scanned by the queries that ended, and what Athena bills for
    /// them (each query at least its minimum).
    pub scanned_bytes: u64,
    pub billed_bytes: u64,
    pub queries: u32,
    /// Rows of the aggregate read so far.
    pub rows: u64,
    /// The aggregate's answer is all in.
    pub counts_done: bool,
    /// How many alerts the report's query found, once it is all in.
    pub alerts: Option<usize>,
    /// Why the report's query (the alerts) gave no answer.
    pub alerts_failed: Option<String>,
    /// Why the last query gave no answer.
    pub failed: Option<String>,
}

/// The events an Athena drill-down query returned.
#[derive(Debug)]
pub struct QueriedEvents {
    /// What was asked, as the drill-down names it (`principal:…`, `key:…`).
    pub target: String,
    pub events: Vec<PackedEvent>,
    /// How many events matched in all (more than returned when capped).
    pub total: u64,
    /// Why the query gave no answer.
    pub failed: Option<String>,
}

/// A message from a source.
#[derive(Debug)]
pub enum SourceMsg {
    /// Athena: counts of events (no events): the aggregate's rows.
    Counted(Vec<CountedEvent>),
    /// Athena: how many distinct events in the window `--who` did not
    /// select (the aggregate counts them apart).
    LeftOut(u64),
    /// Athena: how the queries are going.
    Athena(AthenaStatus),
    /// Athena: a drill-down's events (or why there are none).
    Queried(QueriedEvents),
    /// Athena: the alerts of the report's pushed-down query, finished
    /// (shown instead of the dashboard's own engine's).
    Alerts(Vec<crate::alert::Alert>),
    /// A caller identity resolved (one per profile).
    Identity(CallerIdentity),
    /// New events from one source, each delivered once (duplicates and
    /// re-reads already merged away).
    Events {
        source: SourceId,
        events: Vec<PackedEvent>,
    },
    /// Facts about keys: a full inventory of one source, or one key after
    /// an event changed it.
    Keys {
        source: SourceId,
        keys: Vec<KeyFacts>,
        complete: bool,
    },
    Status(SourceStatus),
    /// How the trail of one source is read.
    Trail(TrailStatus),
    /// How Live Tail of one source's trail log group is going.
    LiveTail(LiveTailStatus),
    /// The source's checkpoint, to save once the events before it are out.
    Commit(Commit),
    /// Log files: the events of one file (in the file's order), each with
    /// where its record lies when it can be read again.
    FileEvents(Vec<(PackedEvent, Option<RecordAt>)>),
    /// Log files: this many of the inputs are read.
    FilesRead {
        done: usize,
        /// Unknown while a bucket is still being listed.
        total: Option<usize>,
    },
    /// Log files: a file failed or held bad pieces (file and reason).
    FileProblem(String),
    /// Log files: all are read; what the reading saw.
    FilesDone(ScanStats),
    /// Live: an event's record read again for the dashboard's drill-down.
    Record(RecordAnswer),
}

#[cfg(test)]
mod tests {
    use super::expected_in;

    #[test]
    fn what_is_in_falls_as_time_passes_since_the_read() {
        // Every event visible at once: all in at the read...
        let instant = [0u16; 101];
        assert!((expected_in(&instant, 60, 0) - 1.0).abs() < 1e-9);
        // ...but ten seconds later the newest ten of sixty are not read yet.
        assert!((expected_in(&instant, 60, 10) - 50.0 / 60.0).abs() < 1e-9);
        // Delays spread evenly over 0..100 s: at the read, the mean over
        // ages 0..59 of (age + 1) / 101 of the percentiles.
        let spread: Vec<u16> = (0..=100).collect();
        let want = (1..=60).map(f64::from).sum::<f64>() / 101.0 / 60.0;
        assert!((expected_in(&spread, 60, 0) - want).abs() < 1e-9);
        assert!(expected_in(&spread, 60, 15) < want);
    }
}
