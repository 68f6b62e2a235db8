//! From the rows of the report's query ([`super::query`]) to the report:
//! count rows are summed into the same rows a local report counts, and
//! each whole event is rebuilt as a CloudTrail record and read by the
//! local parser, so control-plane rows and alerts come from the one
//! parser and the one rule engine.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::counted::{CountedRule, GROUP_FIELDS, counted_column_names, counted_rules};
use super::query::{DETAIL_COLUMNS, wanting_rules};
use super::resources::ResourceRows;
use super::usage::{AGGREGATE_NAMES, GROUP_NAMES, UsageRows};
use crate::alert::{Alert, AlertChange, Engine, EngineError};
use crate::event::{CallDetail, KeyRef, KmsEvent, Outcome, PackedEvent, Parsed, parse_record};
use crate::report::alerts::{Interest, tie_of};
use crate::report::who::CallLog;
use crate::report::{
    ControlPlaneRow, KeyRow, PrincipalRow, Report, ReportSettings, Skipped, Timeline, earliest,
    latest, sort_rows,
};

/// What a report pushed down to Athena cannot know: the `SerDe` drops what
/// it cannot read and Athena names no files.
pub const NOT_KNOWN: &[&str] = &[
    "non_kms",
    "malformed_records_the_serde_dropped",
    "files_failed",
    "not_log_files",
    "digest_files",
    "conflicting_copies",
];

/// [`NOT_KNOWN`] and the `resources` section, for a query that does not
/// count it (`ReportQuery::resources` false: the dashboard's).
pub const NOT_KNOWN_WITHOUT_RESOURCES: &[&str] = &[
    "non_kms",
    "malformed_records_the_serde_dropped",
    "files_failed",
    "not_log_files",
    "digest_files",
    "conflicting_copies",
    "resources",
];

/// A result row: its values by column name.
pub struct Row<'r> {
    pub columns: &'r HashMap<String, usize>,
    pub values: &'r [Option<String>],
}

impl Row<'_> {
    pub(super) fn get(&self, column: &str) -> Option<&str> {
        let index = *self.columns.get(column)?;
        self.values.get(index)?.as_deref()
    }

    fn count(&self) -> u64 {
        self.get("n").and_then(|n| n.parse().ok()).unwrap_or(0)
    }

    fn time(&self, column: &str) -> Option<DateTime<Utc>> {
        let seconds: f64 = self.get(column)?.parse().ok()?;
        // Whole milliseconds: the double carries them exactly for any
        // CloudTrail time.
        #[allow(clippy::cast_possible_truncation)]
        DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64)
    }
}

#[derive(Default)]
struct PrincipalSum {
    events: u64,
    decrypt: u64,
    denied: u64,
    keys: HashSet<String>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct KeySum {
    events: u64,
    denied: u64,
    principals: HashSet<String>,
}

/// Sums the rows as they are paged in.
pub struct Answer {
    report: Report,
    principals: HashMap<String, PrincipalSum>,
    keys: HashMap<String, KeySum>,
    whole: Vec<PackedEvent>,
    interest: Interest,
    /// Rows that were not what the query returns (an engine bug).
    pub unreadable_rows: u64,
    /// Events that came back whole, by the rules that asked for them.
    wanted_by: HashMap<String, u64>,
    /// The rules the query's `wanted_by` numbers name.
    wanting_rules: Vec<String>,
    /// The rules whose quiet buckets came back as counts, and those counts.
    counted_rules: Vec<CountedRule>,
    counted: Vec<Counted>,
    /// `--who`'s selectors as written back (`None`: everyone), the calls
    /// listed, and the distinct events it did not select.
    who: Option<Vec<String>>,
    calls: CallLog,
    other_events: u64,
    /// The quota and cost sections' rows ([`super::usage`]).
    /// Boxed: the dashboard holds an answer across its query's awaits.
    usage: Box<UsageRows>,
    /// Whether the query asked for them (`ReportQuery::usage`): else the
    /// sections stay `known: false`.
    pub usage_sections: bool,
    /// The `resources` section's rows ([`super::resources`]).
    resources: Box<ResourceRows>,
    /// Whether the query counted it (`ReportQuery::resources`): else the
    /// report says it cannot know it.
    pub resource_section: bool,
}

/// Events of one counted rule's group and bucket, known by their number.
struct Counted {
    rule: usize,
    /// The group's fields; the time is the bucket's first event's.
    event: PackedEvent,
    last: DateTime<Utc>,
    n: u64,
    /// Whether the group ever came near the rule's condition: else only
    /// the first time is known (and needed).
    hot: bool,
}

impl Answer {
    /// # Errors
    /// A rule that does not compile.
    pub fn new(settings: &ReportSettings) -> Result<Self, EngineError> {
        Ok(Self {
            report: Report {
                events: 0,
                denied: 0,
                errors: 0,
                from: None,
                to: None,
                principals: Vec::new(),
                keys: Vec::new(),
                event_names: BTreeMap::new(),
                control_plane: Vec::new(),
                timeline: Timeline::default(),
                skipped: Skipped {
                    not_known: NOT_KNOWN,
                    ..Skipped::default()
                },
                files_read: 0,
                alerts: Vec::new(),
                alerts_out_of_order: 0,
                who: None,
                resources: Vec::new(),
                resources_other: 0,
                quota: crate::report::QuotaSection::not_known(),
                cost: crate::report::CostSection::not_known(),
            },
            principals: HashMap::new(),
            keys: HashMap::new(),
            whole: Vec::new(),
            interest: Interest::new(&settings.rules, &settings.inventory)?,
            unreadable_rows: 0,
            wanted_by: HashMap::new(),
            wanting_rules: wanting_rules(&settings.rules, &settings.inventory),
            counted_rules: counted_rules(&settings.rules, &settings.inventory),
            counted: Vec::new(),
            who: (!settings.who.is_everyone()).then(|| settings.who.labels()),
            calls: CallLog::default(),
            other_events: 0,
            usage: Box::default(),
            usage_sections: true,
            resources: Box::default(),
            resource_section: true,
        })
    }

    pub fn add(&mut self, row: &Row<'_>) {
        let n = row.count();
        let skipped = &mut self.report.skipped;
        match row.get("kind") {
            Some("event") => self.add_events(row, n),
            Some("duplicate") => skipped.duplicates += n,
            Some("out_of_range") => skipped.out_of_range += n,
            Some("implausible") => skipped.implausible_time += n,
            Some("malformed") => skipped.malformed += n,
            Some("other") => self.other_events += n,
            Some("counted") => self.add_counted(row, n),
            Some("quota") if self.usage.add_quota(row, n) => {}
            Some("resource") if self.resources.add(row, n) => {}
            _ => self.unreadable_rows += 1,
        }
    }

    fn add_events(&mut self, row: &Row<'_>, n: u64) {
        let (Some(name), Some(principal), Some(outcome)) = (
            row.get("eventname"),
            row.get("principal"),
            row.get("outcome"),
        ) else {
            self.unreadable_rows += 1;
            return;
        };
        let denied = if outcome == Outcome::Denied.as_str() {
            n
        } else {
            0
        };
        let (first, last) = (row.time("first_time"), row.time("last_time"));
        let r = &mut self.report;
        r.events += n;
        r.denied += denied;
        r.errors += if outcome == Outcome::Error.as_str() {
            n
        } else {
            0
        };
        r.from = earliest(r.from, first);
        r.to = latest(r.to, last);
        *r.event_names.entry(name.to_owned()).or_default() += n;
        let key = row.get("key_arn");
        self.usage.add_count(row, name, principal, n);
        let p = self.principals.entry(principal.to_owned()).or_default();
        p.events += n;
        p.decrypt += if name == "Decrypt" { n } else { 0 };
        p.denied += denied;
        p.first = earliest(p.first, first);
        p.last = latest(p.last, last);
        if let Some(key) = key {
            p.keys.insert(key.to_owned());
            let k = self.keys.entry(key.to_owned()).or_default();
            k.events += n;
            k.denied += denied;
            k.principals.insert(principal.to_owned());
        }
        if row.get("d_time").is_some() {
            self.add_whole(row);
        }
    }

    /// Rebuilds the record from its columns and reads it as a log file's:
    /// a call `--who` lists, an event the rules or the control-plane list
    /// want, or both.
    fn add_whole(&mut self, row: &Row<'_>) {
        let text = record_of(row).to_string();
        let Ok(Parsed::Kms(event)) = parse_record(&text) else {
            self.unreadable_rows += 1;
            return;
        };
        if row.get("listed").is_some() {
            self.calls.add(&event);
        }
        // Listed only: the rules see it no more than without `--who`.
        if row.get("wanted_by").is_none() {
            return;
        }
        if event.is_control_plane() {
            self.report
                .control_plane
                .push(ControlPlaneRow::from_event(&event));
        }
        // Why it came back (the query says): counted for the heaviest
        // rules hint. Whether the engine needs it is the matchers' call.
        for i in row
            .get("wanted_by")
            .into_iter()
            .flat_map(|w| w.split(','))
            .filter_map(|i| i.parse::<usize>().ok())
        {
            if let Some(rule) = i.checked_sub(1).and_then(|i| self.wanting_rules.get(i)) {
                *self.wanted_by.entry(rule.clone()).or_default() += 1;
            }
        }
        if self.interest.wants(&event) {
            self.whole.push(PackedEvent::pack(&event));
        }
    }

    /// A counted rule's quiet bucket: its group, times and count.
    fn add_counted(&mut self, row: &Row<'_>, n: u64) {
        let rule = row
            .get("counted_rule")
            .and_then(|t| t.parse::<usize>().ok())
            .and_then(|t| t.checked_sub(1))
            .filter(|&t| t < self.counted_rules.len());
        let (Some(rule), Some(first), Some(last)) =
            (rule, row.time("first_time"), row.time("last_time"))
        else {
            self.unreadable_rows += 1;
            return;
        };
        let value = |name: &str| {
            GROUP_FIELDS
                .iter()
                .find(|(_, column)| *column == name)
                .and_then(|(_, column)| row.get(column))
                .map(|v| Cow::Owned(v.to_owned()))
        };
        let event = KmsEvent {
            time: first,
            time_text: Cow::Borrowed(""),
            event_id: Cow::Borrowed(""),
            event_name: value("g_event_name").unwrap_or_default(),
            event_type: None,
            event_category: None,
            region: value("g_region"),
            recipient_account: None,
            principal: value("g_principal").unwrap_or_default(),
            principal_type: None,
            principal_account: value("g_principal_account"),
            session_name: None,
            access_key_id: None,
            source_ip: value("g_source_ip"),
            user_agent: value("g_user_agent"),
            invoked_by: None,
            key: value("g_key").map(|arn| KeyRef { arn }),
            alias: None,
            outcome: Outcome::Success,
            error_code: value("g_error_code"),
            error_message: None,
            read_only: None,
            encryption_context: Vec::new(),
            key_policy: None,
            call: CallDetail::default(),
            raw: None,
        };
        self.counted.push(Counted {
            rule,
            event: PackedEvent::pack(&event),
            last,
            n,
            hot: row.get("counted_bucket").is_some(),
        });
    }

    /// Events that came back whole for the alert rules, and the rules
    /// that wanted most of them, most first.
    #[must_use]
    pub fn whole_events(&self) -> (usize, Vec<(String, u64)>) {
        let mut rules: Vec<(String, u64)> = self
            .wanted_by
            .iter()
            .map(|(id, n)| (id.clone(), *n))
            .collect();
        rules.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        (self.whole.len(), rules)
    }

    /// The report, its alerts replayed in event-time order (ties by event
    /// id, as a local report orders them).
    ///
    /// # Errors
    /// A rule that does not compile.
    pub fn finish(
        self,
        settings: &ReportSettings,
    ) -> Result<(Report, Vec<AlertChange>), EngineError> {
        let principals: Vec<PrincipalRow> = self
            .principals
            .into_iter()
            .map(|(principal, p)| PrincipalRow {
                principal,
                events: p.events,
                decrypt: p.decrypt,
                denied: p.denied,
                keys: p.keys.len() as u64,
                first_seen: p.first,
                last_seen: p.last,
            })
            .collect();
        let keys: Vec<KeyRow> = self
            .keys
            .into_iter()
            .map(|(arn, k)| KeyRow::new(arn, k.events, k.denied, k.principals.len() as u64))
            .collect();
        let mut report = self.report;
        if self.usage_sections {
            (report.quota, report.cost) = self.usage.finish(&settings.usage);
        }
        if self.resource_section {
            (report.resources, report.resources_other) = self.resources.finish();
        } else {
            report.skipped.not_known = NOT_KNOWN_WITHOUT_RESOURCES;
        }
        report.principals = principals;
        report.keys = keys;
        report.who = self.who.map(|selectors| {
            let mut who = self.calls.finish(selectors);
            who.other_events = self.other_events;
            // Athena lists the earliest; the rest are the selected events
            // that did not come back.
            who.calls_not_listed = report.events.saturating_sub(who.calls.len() as u64);
            who
        });
        sort_rows(&mut report);
        let (alerts, changes) = replay(
            self.whole,
            self.counted,
            &self.counted_rules,
            settings,
            report.to,
        )?;
        report.alerts = alerts;
        Ok((report, changes))
    }
}

/// Runs the engine over the whole events and the counted buckets in
/// event-time order; equal times in the order of the events' ids, as a
/// local report has them (a counted bucket shares no group and bucket
/// with a whole event of its rule, so where it falls among equals does
/// not matter).
fn replay(
    whole: Vec<PackedEvent>,
    counted: Vec<Counted>,
    rules: &[CountedRule],
    settings: &ReportSettings,
    end: Option<DateTime<Utc>>,
) -> Result<(Vec<Alert>, Vec<AlertChange>), EngineError> {
    enum Item {
        Whole(PackedEvent),
        Counted(Counted),
    }
    let mut items: Vec<(DateTime<Utc>, u64, Item)> = whole
        .into_iter()
        .map(|e| (e.time(), e.event_id_with(tie_of), Item::Whole(e)))
        .chain(
            counted
                .into_iter()
                .map(|c| (c.event.time(), 0, Item::Counted(c))),
        )
        .collect();
    items.sort_by_key(|(time, tie, _)| (*time, *tie));
    let mut engine = Engine::new(settings.rules.clone(), settings.inventory.clone())?;
    let mut changes = Vec::new();
    for (_, _, item) in items {
        match item {
            Item::Whole(e) => changes.extend(engine.observe(&e.view())),
            Item::Counted(c) => {
                let Some(rule) = rules.get(c.rule) else {
                    continue;
                };
                if c.hot {
                    changes.extend(engine.observe_counted(&rule.id, &c.event.view(), c.last, c.n));
                } else {
                    engine.note_match(&rule.id, c.event.time());
                }
            }
        }
    }
    if let Some(end) = end {
        changes.extend(engine.tick(end));
    }
    let alerts = engine.alerts().into_iter().cloned().collect();
    Ok((alerts, changes))
}

/// The CloudTrail record a row describes, as far as the parser reads it.
pub(crate) fn record_of(row: &Row<'_>) -> Value {
    let text = |column: &str| row.get(column).map_or(Value::Null, |v| json!(v));
    let mut identity = Map::new();
    for (field, column) in [
        ("type", "d_uid_type"),
        ("arn", "d_uid_arn"),
        ("accountId", "d_uid_account"),
        ("principalId", "d_uid_principalid"),
        ("invokedBy", "d_uid_invokedby"),
        ("accessKeyId", "d_uid_akid"),
    ] {
        identity.insert(field.to_owned(), text(column));
    }
    identity.insert(
        "sessionContext".to_owned(),
        json!({ "sessionIssuer": { "arn": text("d_uid_issuer") } }),
    );
    let mut resources = Vec::new();
    if let Some(arn) = row.get("d_res_key") {
        resources.push(json!({ "ARN": arn, "type": "AWS::KMS::Key" }));
    }
    if let Some(arn) = row.get("d_res_alias") {
        resources.push(json!({ "ARN": arn, "type": "AWS::KMS::Alias" }));
    }
    let context = row
        .get("d_req_context")
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .unwrap_or(Value::Null);
    let request = json!({
        "keyId": text("d_req_key"),
        "targetKeyId": text("d_req_target"),
        "aliasName": text("d_req_alias"),
        "policy": text("d_req_policy"),
        "encryptionContext": context,
        "granteePrincipal": text("d_req_grantee"),
        "retiringPrincipal": text("d_req_retiring"),
        "destinationKeyId": text("d_req_destination"),
        "bypassPolicyLockoutSafetyCheck": text("d_req_bypass"),
        "expirationModel": text("d_req_expiration"),
        "validTo": text("d_req_valid_to"),
    });
    json!({
        "eventSource": crate::event::KMS_EVENT_SOURCE,
        "eventID": text("d_id"),
        "eventTime": text("d_time"),
        "eventName": text("eventname"),
        "eventType": text("d_type"),
        "eventCategory": text("d_category"),
        "awsRegion": text("d_region"),
        "recipientAccountId": text("d_recipient"),
        "userIdentity": identity,
        "sourceIPAddress": text("d_ip"),
        "userAgent": text("d_agent"),
        "errorCode": text("d_error_code"),
        "errorMessage": text("d_error_message"),
        "readOnly": text("d_readonly"),
        "requestParameters": request,
        "responseElements": { "keyId": text("d_response_key") },
        "resources": resources,
        "vpcEndpointId": text("d_vpce"),
    })
}

/// Every column the query returns, in order.
#[must_use]
pub fn columns() -> Vec<&'static str> {
    let mut all = vec!["kind", "eventname", "principal", "key_arn", "outcome"];
    all.extend(GROUP_NAMES);
    all.extend(super::resources::GROUP_NAMES);
    all.extend(DETAIL_COLUMNS.iter().map(|(name, _)| *name));
    all.extend(counted_column_names());
    all.extend(["wanted_by", "listed", "n", "first_time", "last_time"]);
    all.extend(AGGREGATE_NAMES);
    all.extend(super::resources::AGGREGATE_NAMES);
    all
}
