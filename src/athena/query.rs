//! The one query a report pushes down to Athena. One scan of the table:
//! CloudTrail's JSON is not columnar, so every extra scan of the same
//! partitions would bill the same bytes again. It returns
//!
//! - counts per (event name, principal, key, outcome): totals, principals,
//!   keys and event names are sums over these rows;
//! - one row per event the report must see whole: control-plane calls,
//!   events some alert rule could match (the rule's exact matcher runs
//!   here, on the rebuilt event), and for a first-seen rule only each
//!   group's first sighting, and for a threshold or spike rule only the
//!   events whose buckets hold enough for it to fire ([`super::counted`]);
//! - one row per counted rule, group and bucket of the events it does not
//!   need whole (the group's past);
//! - one row per kind of event set aside (duplicates, out of range, …,
//!   and with `--who` the events it does not select);
//! - with `--who`, the earliest selected events whole, as many as the
//!   report lists.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::alert::{Field, Kind, RuleSpec};
use crate::event::Plausible;
use crate::event::sql::{key_arn_sql, literal, outcome_sql, principal_sql};
use crate::inventory::Inventory;
use crate::report::TimeRange;
use crate::report::who::MAX_CALLS;
use crate::who::Who;

use super::TableAddress;
use super::conditions::{in_list, refining_sql, rule_condition};
use super::counted::{counted_column_names, counted_columns, counted_rules, hot_group_column};
use super::who::who_sql;

/// What to ask for.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    pub table: TableAddress,
    pub range: TimeRange,
    pub plausible: Plausible,
    /// `account` partition values (organization trail tables).
    pub accounts: Vec<String>,
    /// `region` partition values.
    pub regions: Vec<String>,
    pub rules: Vec<RuleSpec>,
    /// Key facts (state, rotation) the rules' inventory conditions read.
    pub inventory: Inventory,
    /// `--who`: only the calls it selects are counted.
    pub who: Who,
    /// Whether the selected calls come back whole to be listed (the
    /// report's `who.calls`; the dashboard lists none).
    pub list_calls: bool,
    /// Whether the quota and cost sections are measured ([`super::usage`];
    /// the dashboard's alerts need neither).
    pub usage: bool,
    /// Whether the `resources` section is counted ([`super::resources`]).
    pub resources: bool,
}

/// The columns of a row describing one event (null on count rows), in
/// the order the query returns them after the count columns.
pub const DETAIL_COLUMNS: [(&str, &str); 33] = [
    ("d_id", "eventid"),
    ("d_time", "eventtime"),
    ("d_type", "eventtype"),
    ("d_category", "eventcategory"),
    ("d_region", "awsregion"),
    ("d_recipient", "recipientaccountid"),
    ("d_uid_type", "useridentity.type"),
    ("d_uid_arn", "useridentity.arn"),
    ("d_uid_account", "useridentity.accountid"),
    ("d_uid_principalid", "useridentity.principalid"),
    ("d_uid_invokedby", "useridentity.invokedby"),
    // `--who`'s calls list the key that signed each.
    ("d_uid_akid", "useridentity.accesskeyid"),
    (
        "d_uid_issuer",
        "useridentity.sessioncontext.sessionissuer.arn",
    ),
    ("d_ip", "sourceipaddress"),
    ("d_agent", "useragent"),
    ("d_error_code", "errorcode"),
    ("d_error_message", "errormessage"),
    ("d_readonly", "readonly"),
    // Only what the parser reads of `requestParameters`: a Decrypt's
    // whole request would be most of the answer's bytes.
    (
        "d_req_key",
        "json_extract_scalar(requestparameters, '$.keyId')",
    ),
    (
        "d_req_target",
        "json_extract_scalar(requestparameters, '$.targetKeyId')",
    ),
    (
        "d_req_alias",
        "json_extract_scalar(requestparameters, '$.aliasName')",
    ),
    (
        "d_req_policy",
        "json_extract_scalar(requestparameters, '$.policy')",
    ),
    ("d_req_context", "__context"),
    (
        "d_req_grantee",
        "json_extract_scalar(requestparameters, '$.granteePrincipal')",
    ),
    (
        "d_req_retiring",
        "json_extract_scalar(requestparameters, '$.retiringPrincipal')",
    ),
    (
        "d_req_destination",
        "json_extract_scalar(requestparameters, '$.destinationKeyId')",
    ),
    (
        "d_req_bypass",
        "json_extract_scalar(requestparameters, '$.bypassPolicyLockoutSafetyCheck')",
    ),
    (
        "d_req_expiration",
        "json_extract_scalar(requestparameters, '$.expirationModel')",
    ),
    (
        "d_req_valid_to",
        "json_extract_scalar(requestparameters, '$.validTo')",
    ),
    ("d_vpce", "vpcendpointid"),
    (
        "d_response_key",
        "json_extract_scalar(responseelements, '$.keyId')",
    ),
    ("d_res_key", "__resource_key"),
    ("d_res_alias", "__resource_alias"),
];

pub(crate) fn time_literal(t: DateTime<Utc>) -> String {
    format!(
        "from_iso8601_timestamp({})",
        literal(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    )
}

/// The `yyyy/MM/dd` partition a time's log files are filed under.
fn day(t: DateTime<Utc>) -> String {
    t.format("%Y/%m/%d").to_string()
}

/// Partition predicates: they decide the bytes scanned, so the bill.
pub(crate) fn partition_filter(q: &ReportQuery) -> Vec<String> {
    let mut filter = Vec::new();
    // A log file is filed under the day it was delivered, at or after its
    // events, up to a day later.
    if let Some(since) = q.range.since {
        filter.push(format!("\"timestamp\" >= {}", literal(&day(since))));
    }
    if let Some(until) = q.range.until {
        let last = until + crate::source::trail_layout::LATE_DELIVERY;
        filter.push(format!("\"timestamp\" <= {}", literal(&day(last))));
    }
    if !q.accounts.is_empty() {
        filter.push(in_list("account", &q.accounts));
    }
    if !q.regions.is_empty() {
        filter.push(in_list("region", &q.regions));
    }
    filter
}

/// Why events are needed whole: control-plane calls (no rule) and each
/// enabled rule's condition, over `peaked`; and the window columns those
/// conditions read.
fn wanted(
    rules: &[RuleSpec],
    inventory: &Inventory,
) -> (Vec<(Option<String>, String)>, Vec<String>) {
    let mut wanted = vec![(None, "lower(readonly) = 'false'".to_owned())];
    let mut windows = Vec::new();
    let counted = counted_rules(rules, inventory);
    for (i, rule) in counted.iter().enumerate() {
        windows.extend(rule.windows(i));
        wanted.push((Some(rule.id.clone()), rule.wanted(i)));
    }
    for rule in rules.iter().filter(|r| r.enabled) {
        if counted.iter().any(|c| c.id == rule.id) {
            continue;
        }
        let (condition, exact) = rule_condition(rule, inventory);
        let fields: Option<Vec<&str>> = rule
            .group_by
            .iter()
            .chain(&rule.field)
            .map(|f| refining_sql(*f))
            .collect();
        let condition = match fields {
            // Only a group's first sighting can make a first-seen alert
            // (ties included): the rest need not leave Athena.
            Some(fields) if rule.kind == Kind::FirstSeen && exact => {
                let column = format!("first_{}", windows.len());
                windows.push(format!(
                    "rank() OVER (PARTITION BY kind, ({condition}), {} ORDER BY t) AS {column}",
                    fields.join(", ")
                ));
                format!("(({condition}) AND {column} = 1)")
            }
            _ => format!("({condition})"),
        };
        wanted.push((Some(rule.id.clone()), condition));
    }
    (wanted, windows)
}

/// The rules a whole row's `wanted_by` numbers name: number `i` is the
/// `i`-th (from 1; 0 is a control-plane call).
#[must_use]
pub fn wanting_rules(rules: &[RuleSpec], inventory: &Inventory) -> Vec<String> {
    wanted(rules, inventory)
        .0
        .into_iter()
        .filter_map(|(rule, _)| rule)
        .collect()
}

/// The `UNNEST` that gives each event its rows: tag 0 (its count and
/// maybe its whole self), one tag per counted rule that counts it, with
/// `usage` tag -1 for its quota family's row, and with `resources` tag -2
/// for its resource's row.
fn tags(q: &ReportQuery) -> String {
    let (rules, inventory) = (&q.rules, &q.inventory);
    let counted = counted_rules(rules, inventory);
    let hot = hot_group_column(&counted);
    if counted.is_empty() && !q.usage && !q.resources {
        return format!("SELECT *, 0 AS tag, {hot} FROM marked");
    }
    let mut quota = if q.usage {
        format!(",\n      {}", super::usage::tag())
    } else {
        String::new()
    };
    if q.resources {
        let _ = write!(quota, ",\n      {}", super::resources::tag());
    }
    let tags = counted.iter().enumerate().fold(quota, |mut all, (i, r)| {
        let _ = write!(all, ",\n      {}", r.tag(i));
        all
    });
    format!(
        "SELECT marked.*, tag, {hot} FROM marked
  CROSS JOIN UNNEST(filter(ARRAY[0{tags}], x -> x IS NOT NULL)) AS u (tag)"
    )
}

/// The peaks of the counted rules' groups, as columns over `ranked`.
fn peaks(rules: &[RuleSpec], inventory: &Inventory) -> String {
    counted_rules(rules, inventory)
        .iter()
        .enumerate()
        .fold(String::new(), |mut all, (i, r)| {
            let _ = write!(all, ",\n    {}", r.peak(i));
            all
        })
}

/// The columns of a row describing one event (where `shown` holds), null
/// on count rows.
pub(crate) fn detail_columns(context: &str, shown: &str) -> String {
    let resource_alias = "element_at(filter(resources, r -> NULLIF(r.arn, '') IS NOT NULL \
        AND strpos(r.arn, 'alias/') > 0 AND NOT COALESCE((NULLIF(r.type, '') IS NULL \
        OR r.type = 'AWS::KMS::Key') AND substr(r.arn, 1, 4) = 'arn:' \
        AND strpos(r.arn, ':kms:') > 0 AND strpos(r.arn, ':key/') > 0, false)), 1).arn";
    let resource_key = "element_at(filter(resources, r -> (NULLIF(r.type, '') IS NULL \
        OR r.type = 'AWS::KMS::Key') AND substr(r.arn, 1, 4) = 'arn:' \
        AND strpos(r.arn, ':kms:') > 0 AND strpos(r.arn, ':key/') > 0), 1).arn";
    DETAIL_COLUMNS
        .iter()
        .fold(String::new(), |mut all, (name, column)| {
            let column = match *column {
                "__resource_key" => resource_key,
                "__resource_alias" => resource_alias,
                "__context" => context,
                c => c,
            };
            let _ = write!(all, ",\n  CASE WHEN {shown} THEN {column} END AS {name}");
            all
        })
}

/// The table's KMS records in the partitions asked for, with the parser's
/// time, principal, key and outcome: the first step of every query.
pub(super) fn scan_cte(table: &str, filter: &[String]) -> String {
    format!(
        "scan AS (
  SELECT *,
    try(from_iso8601_timestamp(eventtime)) AS t,
    {principal} AS principal,
    {key} AS key_arn,
    {outcome} AS outcome
  FROM {table}
  WHERE {filter}
)",
        principal = principal_sql(),
        key = key_arn_sql(),
        outcome = outcome_sql(),
        filter = filter.join("\n    AND "),
    )
}

/// The report's duplicate rule: an event is its identity's first copy
/// (event id, time and name; a record without an id is told apart by who
/// did what to which key, as the parser's event identity has it).
pub(super) fn copy_number() -> String {
    let identity_without_id = [
        "principal",
        "sourceipaddress",
        "key_arn",
        "errorcode",
        "useragent",
    ]
    .iter()
    .map(|c| format!("CASE WHEN trim(COALESCE(eventid, '')) = '' THEN COALESCE({c}, '') END"))
    .collect::<Vec<_>>()
    .join(", ");
    format!(
        "row_number() OVER (PARTITION BY COALESCE(eventid, ''), eventtime, eventname, {identity_without_id})"
    )
}

/// From the reasons for whole events: their columns (over `peaked`),
/// `whole` (over `wanting`) and the reasons' numbers a whole row carries.
fn want_columns(wanted: &[(Option<String>, String)]) -> (String, String, String) {
    let wants = wanted
        .iter()
        .enumerate()
        .fold(String::new(), |mut all, (i, (_, condition))| {
            let _ = write!(
                all,
                ",\n    COALESCE(kind = 'event' AND ({condition}), false) AS want_{i}"
            );
            all
        });
    let whole = (0..wanted.len())
        .map(|i| format!("want_{i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let wanted_by = (0..wanted.len())
        .map(|i| format!("CASE WHEN want_{i} THEN '{i}' END"))
        .collect::<Vec<_>>()
        .join(", ");
    (wants, whole, wanted_by)
}

/// `--who` in the report's query: the `kind` of an event it does not
/// select (a distinct one: copies stay duplicates, as the local report
/// has them), and when a selected event comes back to be listed (the
/// earliest [`MAX_CALLS`], in the local list's order), its rank a window.
fn selection(q: &ReportQuery, windows: &mut Vec<String>) -> (String, String) {
    let Some(who) = who_sql(&q.who) else {
        return (String::new(), "false".to_owned());
    };
    let other = format!("\n      WHEN NOT {who} THEN 'other'");
    if !q.list_calls {
        return (other, "false".to_owned());
    }
    windows.push(
        "row_number() OVER (PARTITION BY kind ORDER BY t, COALESCE(eventid, ''), eventname) \
         AS listed_rank"
            .to_owned(),
    );
    (
        other,
        format!("(kind = 'event' AND listed_rank <= {MAX_CALLS})"),
    )
}

/// A whole event's encryption context: only where a rule matches on it
/// or reads it.
fn context_sql(rules: &[RuleSpec]) -> &'static str {
    if rules.iter().any(|r| {
        r.enabled
            && (r.matcher.encryption_context.is_some()
                || r.group_by
                    .iter()
                    .chain(&r.field)
                    .chain(&r.distinct)
                    .any(|f| *f == Field::ContextKey))
    }) {
        "json_format(json_extract(requestparameters, '$.encryptionContext'))"
    } else {
        "CAST(NULL AS varchar)"
    }
}

/// The SQL of the report's one query.
#[must_use]
pub fn report_sql(q: &ReportQuery) -> String {
    let table = q.table.sql();
    let mut filter = vec!["eventsource = 'kms.amazonaws.com'".to_owned()];
    filter.extend(partition_filter(q));
    let since = q
        .range
        .since
        .map_or_else(|| "false".into(), |s| format!("t < {}", time_literal(s)));
    let until = q
        .range
        .until
        .map_or_else(|| "false".into(), |u| format!("t > {}", time_literal(u)));
    let (wanted, mut windows) = wanted(&q.rules, &q.inventory);
    let (wants, whole, wanted_by) = want_columns(&wanted);
    let (other, listed) = selection(q, &mut windows);
    let usage = super::usage::UsageSql::new(q.usage, &mut windows);
    let res = super::resources::ResourceSql::new(q.resources, &mut windows);
    let context = context_sql(&q.rules);
    let windows: String = windows.iter().fold(String::new(), |mut all, w| {
        all.push_str(",\n    ");
        all.push_str(w);
        all
    });
    // A counted rule's rows (tag > 0), quota and resource rows (tag < 0)
    // stay counts, whoever is listed.
    let shown = if listed == "false" {
        "tag = 0 AND whole"
    } else {
        "tag = 0 AND (whole OR listed)"
    };
    let details = detail_columns(context, shown);
    let counted_columns: String = counted_columns(&counted_rules(&q.rules, &q.inventory))
        .iter()
        .fold(String::new(), |mut all, c| {
            let _ = write!(all, ",\n  {c}");
            all
        });
    let tags = tags(q);
    let peaks = [peaks(&q.rules, &q.inventory), usage.peaks, res.peaks].concat();
    let groups: String = (1..=7
        + super::usage::GROUP_NAMES.len()
        + super::resources::GROUP_NAMES.len()
        + DETAIL_COLUMNS.len()
        + counted_column_names().len())
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH {scan}, classed AS (
  SELECT *,
    CASE WHEN NULLIF(eventname, '') IS NULL OR t IS NULL THEN 'malformed'
      WHEN t < {earliest} OR t > {latest} THEN 'implausible'
      WHEN {since} OR {until} THEN 'out_of_range'
      WHEN {copy} > 1 THEN 'duplicate'{other}
      ELSE 'event' END AS kind,
    CAST(round(to_unixtime(t) * 1000) AS bigint) AS t_ms{classed}
  FROM scan
){named}, ranked AS (
  SELECT *{windows}
  FROM {from}
), peaked AS (
  SELECT *{peaks}
  FROM ranked
), wanting AS (
  SELECT *{wants}{place}
  FROM peaked
), marked AS (
  SELECT *, {whole} AS whole, {listed} AS listed
  FROM wanting
), tagged AS (
  {tags}
)
SELECT CASE WHEN tag = 0 THEN kind WHEN tag = -1 THEN 'quota' WHEN tag = {resource_tag} THEN 'resource'
    ELSE 'counted' END AS kind,
  CASE WHEN tag = 0 AND kind = 'event' THEN eventname END AS eventname,
  CASE WHEN tag = 0 AND kind = 'event' THEN principal END AS principal,
  CASE WHEN tag = 0 AND kind = 'event' THEN key_arn END AS key_arn,
  CASE WHEN tag = 0 AND kind = 'event' THEN outcome END AS outcome{groups_usage}{groups_resources}{details}{counted_columns},
  CASE WHEN tag = 0 AND whole THEN concat_ws(',', {wanted_by}) END AS wanted_by,
  CASE WHEN tag = 0 AND listed THEN 'listed' END AS listed,
  count(*) AS n,
  to_unixtime(min(t)) AS first_time,
  to_unixtime(max(t)) AS last_time{aggregates}{aggregates_resources}
FROM tagged
GROUP BY {groups}",
        scan = scan_cte(&table, &filter),
        copy = copy_number(),
        classed = usage.classed,
        groups_usage = usage.groups,
        aggregates = usage.aggregates,
        named = res.named,
        from = res.from,
        place = res.place,
        resource_tag = super::resources::TAG,
        groups_resources = res.groups,
        aggregates_resources = res.aggregates,
        earliest = time_literal(q.plausible.earliest),
        // Athena's clock, not ours: the SQL stays the same text from one
        // run to the next (`Plausible::at` is a day past now too).
        latest = "current_timestamp + INTERVAL '1' DAY",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_the_window_and_a_day_of_late_delivery() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok()
        };
        let q = ReportQuery {
            table: "athena://db/t".parse().expect("address"),
            range: TimeRange {
                since: at("2025-05-20T23:00:00Z"),
                until: at("2025-05-21T01:00:00Z"),
            },
            plausible: Plausible::at(at("2026-01-01T00:00:00Z").expect("time")),
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into(), "it's".into()],
            rules: Vec::new(),
            inventory: Inventory::default(),
            who: Who::default(),
            list_calls: true,
            usage: true,
            resources: true,
        };
        assert_eq!(
            partition_filter(&q),
            [
                "\"timestamp\" >= '2025/05/20'",
                "\"timestamp\" <= '2025/05/22'",
                "account IN ('111122223333')",
                "region IN ('eu-west-1', 'it''s')",
            ]
        );
    }
}
