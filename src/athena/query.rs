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
//! - one row per kind of event set aside (duplicates, out of range, …).

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::alert::{Direction, Field, Kind, MatchSpec, RuleSpec};
use crate::event::Plausible;
use crate::event::sql::{key_arn_sql, literal, outcome_sql, principal_sql};
use crate::inventory::Inventory;
use crate::report::TimeRange;

use super::TableAddress;
use super::counted::{counted_column_names, counted_columns, counted_rules, hot_group_column};

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
}

/// The columns of a row describing one event (null on count rows), in
/// the order the query returns them after the count columns.
pub const DETAIL_COLUMNS: [(&str, &str); 32] = [
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

fn in_list(column: &str, values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| literal(v)).collect();
    format!("{column} IN ({})", items.join(", "))
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

/// A glob (`*` any run, all else literal) as a `LIKE` pattern.
fn like(glob: &str) -> String {
    let mut out = String::new();
    for c in glob.chars() {
        match c {
            '*' => out.push('%'),
            '%' | '_' | '!' => {
                out.push('!');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    format!("{} ESCAPE '!'", literal(&out))
}

/// Whether a regex is a plain string (no character means more than
/// itself), so that it matches where that string occurs.
fn plain(pattern: &str) -> bool {
    !pattern.is_empty()
        && pattern
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/_-=@,".contains(c))
}

/// The SQL of a rule's conditions this rendering knows, and whether they
/// are all its conditions (then the SQL is exact, else a wider net the
/// rule's own matcher narrows).
fn conditions(m: &MatchSpec, inventory: &Inventory) -> (Vec<String>, bool) {
    let mut sql = Vec::new();
    let list = |sql: &mut Vec<String>, column: &str, values: &[String]| {
        if !values.is_empty() {
            sql.push(in_list(column, values));
        }
    };
    list(&mut sql, "eventname", &m.event_names);
    let outcomes: Vec<String> = m.outcomes.iter().map(|o| o.as_str().to_owned()).collect();
    list(&mut sql, "outcome", &outcomes);
    list(&mut sql, "NULLIF(awsregion, '')", &m.regions);
    list(&mut sql, "NULLIF(eventtype, '')", &m.event_types);
    list(&mut sql, "NULLIF(eventcategory, '')", &m.event_categories);
    list(
        &mut sql,
        "NULLIF(useridentity.type, '')",
        &m.principal_types,
    );
    if !m.not_principal_types.is_empty() {
        sql.push(format!(
            "NOT COALESCE({}, false)",
            in_list("NULLIF(useridentity.type, '')", &m.not_principal_types)
        ));
    }
    if let Some(read_only) = m.read_only {
        sql.push(format!("lower(readonly) = '{read_only}'"));
    }
    if let Some(cross) = m.cross_account {
        // The caller's account against the key ARN's fifth field; false
        // when either is unknown, as the matcher has it.
        let op = if cross { "<>" } else { "=" };
        sql.push(format!(
            "COALESCE(NULLIF(useridentity.accountid, '') {op} NULLIF(split_part(key_arn, ':', 5), ''), false)"
        ));
    }
    if let Some(direction) = m.cross_account_direction {
        // Cross-account as above, and outbound when the trail's own
        // account (the recipient) is not the key's: the matcher's rule.
        let owner = "NULLIF(split_part(key_arn, ':', 5), '')";
        let cross = format!("COALESCE(NULLIF(useridentity.accountid, '') <> {owner}, false)");
        let outbound = format!("COALESCE(NULLIF(recipientaccountid, '') <> {owner}, false)");
        sql.push(match direction {
            Direction::Outbound => format!("{cross} AND {outbound}"),
            Direction::Inbound => format!("{cross} AND NOT {outbound}"),
        });
    }
    // A regex that is a plain string matches where the string occurs.
    for (pattern, column) in [(&m.key, "key_arn"), (&m.principal, "principal")] {
        if let Some(text) = pattern.as_deref().filter(|p| plain(p)) {
            sql.push(format!(
                "COALESCE(strpos({column}, {}) > 0, false)",
                literal(text)
            ));
        }
    }
    if !m.key_states.is_empty() || m.key_rotation_enabled.is_some() {
        // The inventory is known before the query: its keys with the
        // wanted facts are the condition (none: nothing can match).
        let mut keys: Vec<String> = inventory
            .iter()
            .filter(|f| {
                (m.key_states.is_empty()
                    || f.state
                        .as_deref()
                        .is_some_and(|s| m.key_states.iter().any(|w| w == s)))
                    && m.key_rotation_enabled
                        .is_none_or(|want| f.rotation_enabled == Some(want))
            })
            .map(|f| f.arn.clone())
            .collect();
        keys.sort();
        if keys.is_empty() {
            sql.push("false".to_owned());
        } else {
            sql.push(in_list("key_arn", &keys));
        }
    }
    if !m.error_codes.is_empty() {
        let globs: Vec<String> = m
            .error_codes
            .iter()
            .map(|g| format!("NULLIF(errorcode, '') LIKE {}", like(g)))
            .collect();
        sql.push(format!("({})", globs.join(" OR ")));
    }
    let rendered = MatchSpec {
        event_names: m.event_names.clone(),
        outcomes: m.outcomes.clone(),
        regions: m.regions.clone(),
        event_types: m.event_types.clone(),
        event_categories: m.event_categories.clone(),
        principal_types: m.principal_types.clone(),
        not_principal_types: m.not_principal_types.clone(),
        read_only: m.read_only,
        error_codes: m.error_codes.clone(),
        cross_account: m.cross_account,
        key_states: m.key_states.clone(),
        key_rotation_enabled: m.key_rotation_enabled,
        cross_account_direction: m.cross_account_direction,
        key: m.key.clone().filter(|p| plain(p)),
        principal: m.principal.clone().filter(|p| plain(p)),
        ..MatchSpec::default()
    };
    (sql, rendered == *m)
}

/// A field a rule groups by, as a column of the query.
pub(super) fn field_sql(field: Field) -> Option<&'static str> {
    Some(match field {
        Field::Principal => "principal",
        Field::Key => "key_arn",
        Field::Region => "NULLIF(awsregion, '')",
        Field::EventName => "eventname",
        Field::SourceIp => "NULLIF(sourceipaddress, '')",
        Field::UserAgent => "NULLIF(useragent, '')",
        Field::ErrorCode => "NULLIF(errorcode, '')",
        Field::PrincipalAccount => "NULLIF(useridentity.accountid, '')",
        Field::Alias
        | Field::SessionName
        | Field::KeyAccount
        | Field::SourceNetwork
        | Field::ContextKey => return None,
    })
}

/// Columns whose values tell apart at least every two values of `field`
/// tells apart: a first-seen rule's first sightings per these include its
/// first sightings per the field. A field the SQL cannot compute exactly
/// is refined by the columns it is made of: an address's network by the
/// address (a network's first call is the first call of one of its
/// addresses), the VPC endpoint kept apart.
fn refining_sql(field: Field) -> Option<&'static str> {
    match field {
        Field::SourceNetwork => Some("NULLIF(vpcendpointid, ''), NULLIF(sourceipaddress, '')"),
        f => field_sql(f),
    }
}

/// A rule's conditions with its exclusion, in SQL, and whether that is
/// exact (else a wider net the rule's matcher narrows).
pub(super) fn rule_condition(rule: &RuleSpec, inventory: &Inventory) -> (String, bool) {
    let joined = |sql: Vec<String>| {
        if sql.is_empty() {
            "true".to_owned()
        } else {
            sql.join(" AND ")
        }
    };
    let (sql, mut exact) = conditions(&rule.matcher, inventory);
    let mut condition = joined(sql);
    if let Some(exclude) = &rule.exclude {
        // An exclusion rendered exactly narrows exactly; one that is
        // not cannot be subtracted, and the net stays wide.
        let (sql, exclude_exact) = conditions(exclude, inventory);
        if exclude_exact {
            condition = format!("({condition}) AND NOT COALESCE(({}), false)", joined(sql));
        } else {
            exact = false;
        }
    }
    (condition, exact)
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
/// maybe its whole self), and one tag per counted rule that counts it.
fn tags(rules: &[RuleSpec], inventory: &Inventory) -> String {
    let counted = counted_rules(rules, inventory);
    let hot = hot_group_column(&counted);
    if counted.is_empty() {
        return format!("SELECT *, 0 AS tag, {hot} FROM marked");
    }
    let tags = counted
        .iter()
        .enumerate()
        .fold(String::new(), |mut all, (i, r)| {
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

/// The columns of a row describing one event, null on count rows.
pub(crate) fn detail_columns(context: &str) -> String {
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
            let _ = write!(all, ",\n  CASE WHEN whole THEN {column} END AS {name}");
            all
        })
}

/// What tells apart two records without an `eventID` (as the parser's
/// event identity has it), as the duplicate window's partition.
fn identity_without_id() -> String {
    [
        "principal",
        "sourceipaddress",
        "key_arn",
        "errorcode",
        "useragent",
    ]
    .iter()
    .map(|c| format!("CASE WHEN trim(COALESCE(eventid, '')) = '' THEN COALESCE({c}, '') END"))
    .collect::<Vec<_>>()
    .join(", ")
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
    let (wanted, windows) = wanted(&q.rules, &q.inventory);
    let (wants, whole, wanted_by) = want_columns(&wanted);
    // The encryption context only where a rule matches on it or reads it.
    let context = if q.rules.iter().any(|r| {
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
    };
    let windows: String = windows.iter().fold(String::new(), |mut all, w| {
        all.push_str(",\n    ");
        all.push_str(w);
        all
    });
    let identity_without_id = identity_without_id();
    let details = detail_columns(context);
    let counted_columns: String = counted_columns(&counted_rules(&q.rules, &q.inventory))
        .iter()
        .fold(String::new(), |mut all, c| {
            let _ = write!(all, ",\n  {c}");
            all
        });
    let tags = tags(&q.rules, &q.inventory);
    let peaks = peaks(&q.rules, &q.inventory);
    let groups: String = (1..=6 + DETAIL_COLUMNS.len() + counted_column_names().len())
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH scan AS (
  SELECT *,
    try(from_iso8601_timestamp(eventtime)) AS t,
    {principal} AS principal,
    {key} AS key_arn,
    {outcome} AS outcome
  FROM {table}
  WHERE {filter}
), classed AS (
  SELECT *,
    CASE WHEN NULLIF(eventname, '') IS NULL OR t IS NULL THEN 'malformed'
      WHEN t < {earliest} OR t > {latest} THEN 'implausible'
      WHEN {since} OR {until} THEN 'out_of_range'
      WHEN row_number() OVER (PARTITION BY COALESCE(eventid, ''), eventtime, eventname, {identity_without_id}) > 1 THEN 'duplicate'
      ELSE 'event' END AS kind,
    CAST(round(to_unixtime(t) * 1000) AS bigint) AS t_ms
  FROM scan
), ranked AS (
  SELECT *{windows}
  FROM classed
), peaked AS (
  SELECT *{peaks}
  FROM ranked
), wanting AS (
  SELECT *{wants}
  FROM peaked
), marked AS (
  SELECT *, {whole} AS whole
  FROM wanting
), tagged AS (
  {tags}
)
SELECT CASE WHEN tag = 0 THEN kind ELSE 'counted' END AS kind,
  CASE WHEN tag = 0 AND kind = 'event' THEN eventname END AS eventname,
  CASE WHEN tag = 0 AND kind = 'event' THEN principal END AS principal,
  CASE WHEN tag = 0 AND kind = 'event' THEN key_arn END AS key_arn,
  CASE WHEN tag = 0 AND kind = 'event' THEN outcome END AS outcome{details}{counted_columns},
  CASE WHEN whole THEN concat_ws(',', {wanted_by}) END AS wanted_by,
  count(*) AS n,
  to_unixtime(min(t)) AS first_time,
  to_unixtime(max(t)) AS last_time
FROM tagged
GROUP BY {groups}",
        principal = principal_sql(),
        key = key_arn_sql(),
        outcome = outcome_sql(),
        filter = filter.join("\n    AND "),
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
    fn globs_become_like_patterns_with_their_wildcards_escaped() {
        assert_eq!(like("AccessDenied*"), "'AccessDenied%' ESCAPE '!'");
        assert_eq!(like("a_b%c!*"), "'a!_b!%c!!%' ESCAPE '!'");
        assert_eq!(like("it's"), "'it''s' ESCAPE '!'");
    }

    #[test]
    fn a_rule_with_a_regex_is_widened_not_rendered() {
        let exact = MatchSpec {
            event_names: vec!["Decrypt".into()],
            ..MatchSpec::default()
        };
        assert!(conditions(&exact, &Inventory::default()).1);
        let regex = MatchSpec {
            principal: Some("role/.*App".into()),
            ..exact
        };
        let (sql, is_exact) = conditions(&regex, &Inventory::default());
        assert!(!is_exact);
        assert_eq!(sql, ["eventname IN ('Decrypt')"]);
    }

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
