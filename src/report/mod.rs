//! `kmstop report`: who used which keys, who was refused, what changed.
//!
//! The [`Report`] struct is the JSON contract; the table and CSV faces
//! render the same struct for people and spreadsheets.

pub mod alerts;
mod blocks;
mod csv;
mod html;
pub mod key_list;
pub mod key_verdict;
mod markdown;
mod md_timeline;
pub mod resources;
mod table;
mod tally;
mod timeline;
mod usage_out;
pub mod who;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use self::csv::{Section, write_csv};
pub use crate::aggregate::usage::{
    CostRow, CostSection, KeyCost, Milli, PrincipalCost, QuotaRow, QuotaSection, UsageSettings,
    UsageTally, Usd,
};
pub use html::{escape_html, write_html};
pub use markdown::{escape_markdown, write_markdown};
pub use table::{TableOptions, write_table};
pub use tally::{Tally, TimeRange};
pub use timeline::{Bar, Timeline};

use self::alerts::{AlertFeed, Interest};
use crate::alert::{Alert, AlertChange, Engine, EngineError, RuleSpec};
use crate::dedup::SeenSet;
use crate::event::{KmsEvent, Outcome};
use crate::inventory::Inventory;
use crate::source::files::{InputQueue, Problem, scan};

/// The report, exactly as `--format json` prints it. Later versions add
/// fields; they never rename or remove one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Distinct KMS events in the range.
    pub events: u64,
    pub denied: u64,
    pub errors: u64,
    /// First and last `eventTime` counted.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub principals: Vec<PrincipalRow>,
    pub keys: Vec<KeyRow>,
    pub event_names: BTreeMap<String, u64>,
    pub control_plane: Vec<ControlPlaneRow>,
    /// Calls and denied calls per minute, for the handed-over formats
    /// (empty where the source cannot say: Athena returns counts).
    #[serde(skip)]
    pub timeline: Timeline,
    pub skipped: Skipped,
    pub files_read: u64,
    /// The alert rules replayed over the events in event-time order:
    /// loudest and firing first.
    pub alerts: Vec<Alert>,
    /// Events the rules saw out of time order: they reached the replay
    /// after newer ones had left it (only in runs of over 50,000
    /// alert-relevant events whose files are far out of time order). When
    /// zero, the alerts are those of an exact time-ordered replay.
    pub alerts_out_of_order: u64,
    /// "Who decrypted what": data calls by the resource their encryption
    /// context names, busiest first (empty where the source cannot say).
    pub resources: Vec<resources::ResourceRow>,
    /// Data calls on resources not listed: past 10,000 distinct ones, the
    /// list holds the busiest of a sample of 40,000 chosen by a hash of
    /// their names, so it is the same for any read order.
    pub resources_other: u64,
    /// `--who` / `--access-key`: what was selected, what was left out,
    /// and the selected calls in time order. Absent without a selector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub who: Option<who::WhoReport>,
    /// Request rates per calling account and region against the KMS
    /// request quotas, with the throttled calls.
    pub quota: QuotaSection,
    /// What the requests cost, per paying account, principal and key.
    pub cost: CostSection,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalRow {
    pub principal: String,
    pub events: u64,
    /// `Decrypt` calls of any outcome.
    pub decrypt: u64,
    pub denied: u64,
    /// Distinct keys this principal's events named.
    pub keys: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    /// The key id: `1234abcd-…` or `mrk-…`.
    pub key: String,
    pub arn: String,
    pub events: u64,
    pub denied: u64,
    pub principals: u64,
}

impl KeyRow {
    pub(crate) fn new(arn: String, events: u64, denied: u64, principals: u64) -> Self {
        let key = crate::event::KeyRef {
            arn: arn.as_str().into(),
        }
        .key_id()
        .to_owned();
        Self {
            key,
            arn,
            events,
            denied,
            principals,
        }
    }
}

/// A call that changed a key or its access (`readOnly: false`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlPlaneRow {
    pub time: DateTime<Utc>,
    pub event_name: String,
    pub principal: String,
    /// The key id, when the event names a key.
    pub key: Option<String>,
    pub key_arn: Option<String>,
    pub alias: Option<String>,
    pub outcome: Outcome,
    pub error_code: Option<String>,
    pub event_id: String,
}

impl ControlPlaneRow {
    pub(crate) fn from_event(e: &KmsEvent<'_>) -> Self {
        Self {
            time: e.time,
            event_name: e.event_name.clone().into_owned(),
            principal: e.principal.clone().into_owned(),
            key: e.key.as_ref().map(|k| k.key_id().to_owned()),
            key_arn: e.key.as_ref().map(|k| k.arn.clone().into_owned()),
            alias: e.alias.clone().map(std::borrow::Cow::into_owned),
            outcome: e.outcome,
            error_code: e.error_code.clone().map(std::borrow::Cow::into_owned),
            event_id: e.event_id.clone().into_owned(),
        }
    }
}

/// Puts the rows in the contract's order: principals and keys busiest
/// first (ties by name), key changes in time order.
pub(crate) fn sort_rows(report: &mut Report) {
    report.principals.sort_by(|a, b| {
        b.events
            .cmp(&a.events)
            .then_with(|| a.principal.cmp(&b.principal))
    });
    report
        .keys
        .sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.arn.cmp(&b.arn)));
    report.control_plane.sort_by(|a, b| {
        (a.time, &a.event_id, &a.event_name).cmp(&(b.time, &b.event_id, &b.event_name))
    });
}

/// The earlier of two optional times.
pub(crate) fn earliest(
    a: Option<DateTime<Utc>>,
    b: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    a.into_iter().chain(b).min()
}

/// The later of two optional times.
pub(crate) fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.into_iter().chain(b).max()
}

/// What was read but not counted, and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Records of other AWS services in the same log files.
    pub non_kms: u64,
    /// Pieces that were not readable records (file and place on stderr).
    pub malformed: u64,
    /// Files that could not be read or parsed (path and reason on stderr).
    pub files_failed: u64,
    /// Second and later copies of the same event.
    pub duplicates: u64,
    /// Copies of a counted event that disagree with it (same `eventID`,
    /// time and name; another caller, key, outcome, address, region,
    /// account or user agent): not counted; the first copy read is.
    pub conflicting_copies: u64,
    /// KMS events outside `--since`/`--until`.
    pub out_of_range: u64,
    /// KMS events whose `eventTime` no real event can have (before
    /// CloudTrail, or more than a day past the clock): set aside.
    pub implausible_time: u64,
    /// Files in directories that were neither gzip nor JSON.
    pub not_log_files: u64,
    pub digest_files: u64,
    /// Account × regions whose LookupEvents sweep failed (`--source aws`;
    /// each named on stderr with its reason and the time it had read up
    /// to): their events before that time are in the report, none after.
    pub regions_failed: u64,
    /// Buckets, S3 folders and log groups that could not be read
    /// (`--source s3://…`, `logs://…`; each named with its reason on
    /// stderr): their events are not in the report.
    pub prefixes_failed: u64,
    /// The counts above that the source cannot know, so its zero means
    /// "not known", not "none" (a report pushed down to Athena cannot see
    /// the records its `SerDe` could not read, nor the files). Only printed
    /// when the source has such gaps.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub not_known: &'static [&'static str],
}

/// What a report covers and which rules it replays.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub range: TimeRange,
    /// Event times outside are set aside (`skipped.implausible_time`).
    pub plausible: crate::event::Plausible,
    pub threads: usize,
    pub rules: Vec<RuleSpec>,
    pub inventory: Inventory,
    /// Only the calls these select are counted (`--who`).
    pub who: crate::who::Who,
    /// `--quota` and `--price` values.
    pub usage: UsageSettings,
}

impl ReportSettings {
    /// The whole input, the built-in rules, no inventory facts.
    #[must_use]
    pub fn new(threads: usize) -> Self {
        Self {
            range: TimeRange::default(),
            // Callers with a clock narrow this to `Plausible::at(now)`.
            plausible: crate::event::Plausible::at(
                DateTime::<Utc>::MAX_UTC - chrono::Duration::days(2),
            ),
            threads,
            rules: crate::alert::builtin::rules(),
            inventory: Inventory::default(),
            who: crate::who::Who::default(),
            usage: UsageSettings::default(),
        }
    }
}

/// Reads `inputs` and counts them into a report, replaying the events
/// through the alert rules in event-time order. Also returns every alert
/// change of the replay, in order, for the alerts log.
///
/// # Errors
/// A rule that does not compile (rules from files are validated before
/// this, so only a broken built-in could).
pub fn build_report(
    inputs: &dyn InputQueue,
    settings: &ReportSettings,
    on_problem: &(dyn Fn(Problem) + Sync),
) -> Result<(Report, Vec<AlertChange>), EngineError> {
    let engine = Engine::new(settings.rules.clone(), settings.inventory.clone())?;
    let interest = Interest::new(&settings.rules, &settings.inventory)?;
    let seen = SeenSet::default();
    let range = settings.range;
    // A few files' worth of events may wait for the engine; more would
    // only grow memory while the readers run ahead.
    let (sender, receiver) = std::sync::mpsc::sync_channel(settings.threads.max(1) * 4);
    let (report, (alerts, changes)) = std::thread::scope(|scope| {
        let engine_thread = scope.spawn(move || {
            let mut feed = AlertFeed::new(engine);
            for (file, events) in receiver {
                feed.push(file, events);
            }
            feed
        });
        let plausible = settings.plausible;
        let new_tally = || {
            Tally::new(
                &seen,
                range,
                plausible,
                &interest,
                &settings.who,
                sender.clone(),
            )
        };
        let (tallies, stats) = scan(inputs, settings.threads, new_tally, on_problem);
        let mut tallies = tallies.into_iter();
        let mut total = tallies.next().unwrap_or_else(new_tally);
        for tally in tallies {
            total.merge(tally);
        }
        let report = total.finish_with(&stats, &settings.usage);
        drop(sender);
        let feed = engine_thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let end = report.to;
        let late = feed.late();
        (
            Report {
                alerts_out_of_order: late,
                ..report
            },
            feed.finish(end),
        )
    });
    let report = Report { alerts, ..report };
    Ok((report, changes))
}
