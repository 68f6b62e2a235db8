//! The dashboard's queries over a trail's CloudTrail table: one pushed-down
//! aggregate that fills the panes (counts per time bucket × principal ×
//! key × event name × outcome), and one bounded query per drill-down for
//! a principal's or a key's events, whole. Both use the report's rules
//! for principal, key and outcome ([`crate::event::sql`]), its partition
//! predicates and its duplicate rule, so the dashboard counts what
//! `kmstop report --source athena://…` counts.

use chrono::{DateTime, Utc};

use super::TableAddress;
use super::answer::{Row, record_of};
use super::query::{
    ReportQuery, copy_number, detail_columns, partition_filter, scan_cte, time_literal,
};
use crate::event::sql::literal;
use crate::event::{Outcome, PackedEvent, Parsed, Plausible, parse_record};
use crate::inventory::Inventory;
use crate::report::TimeRange;
use crate::store::CountedEvent;
use crate::who::Who;

use super::who::who_sql;

/// At most this many time buckets in the window: the answer's rows stay
/// bounded whatever the window's length.
pub const MAX_BUCKETS: i64 = 2_000;
/// Bucket widths, narrowest first: the first that keeps the window within
/// [`MAX_BUCKETS`] is used.
const WIDTHS: [i64; 9] = [60, 300, 900, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400];
/// Events a drill-down query returns at most (the newest).
pub const DRILL_LIMIT: u64 = 1_000;

/// What the dashboard asks Athena about.
#[derive(Debug, Clone)]
pub struct DashboardQuery {
    pub table: TableAddress,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Event times outside are not events (as the report sets them aside).
    pub plausible: Plausible,
    /// `account` partition values (organization trail tables).
    pub accounts: Vec<String>,
    /// `region` partition values.
    pub regions: Vec<String>,
    /// `--who`: only the calls it selects are counted and shown.
    pub who: Who,
}

/// Whose events a drill-down asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrillQuery {
    Principal(String),
    Key(String),
    /// These events, by event id (an alert's samples).
    Events(Vec<String>),
}

impl DashboardQuery {
    /// The width of the aggregate's time buckets, in seconds: a minute, or
    /// wider for a long window so it has at most [`MAX_BUCKETS`].
    #[must_use]
    pub fn bucket_seconds(&self) -> i64 {
        let span = (self.until - self.since).num_seconds().max(1);
        WIDTHS
            .iter()
            .copied()
            .find(|w| (span + w - 1) / w <= MAX_BUCKETS)
            .unwrap_or_else(|| {
                let days = (span + MAX_BUCKETS * 86_400 - 1) / (MAX_BUCKETS * 86_400);
                days * 86_400
            })
    }

    /// The report's query over the same table, window, accounts and
    /// regions (no rules, no inventory: the caller adds what it wants).
    #[must_use]
    pub fn report_query(&self) -> ReportQuery {
        ReportQuery {
            table: self.table.clone(),
            range: TimeRange {
                since: Some(self.since),
                until: Some(self.until),
            },
            plausible: self.plausible,
            accounts: self.accounts.clone(),
            regions: self.regions.clone(),
            rules: Vec::new(),
            inventory: Inventory::default(),
            who: self.who.clone(),
            list_calls: false,
            // The alerts only: the Quota & cost pane does not read Athena.
            usage: false,
            // Nor does the Resources pane read this query (its windows
            // would cost Athena time for nothing).
            resources: false,
        }
    }

    /// The scan both queries start from: the window's KMS events, each
    /// once (the report's partitions, time range and duplicate rule), and
    /// whether `--who` selects each.
    fn events_cte(&self) -> String {
        let mut filter = vec!["eventsource = 'kms.amazonaws.com'".to_owned()];
        filter.extend(partition_filter(&self.report_query()));
        let earliest = self.since.max(self.plausible.earliest);
        format!(
            "WITH {scan}, events AS (
  SELECT *,
    {copy} AS copy,
    {selected} AS selected
  FROM scan
  WHERE NULLIF(eventname, '') IS NOT NULL AND t IS NOT NULL
    AND t >= {since} AND t <= {until}
)",
            scan = scan_cte(&self.table.sql(), &filter),
            copy = copy_number(),
            selected = who_sql(&self.who).unwrap_or_else(|| "true".to_owned()),
            since = time_literal(earliest),
            until = time_literal(self.until),
        )
    }

    /// The aggregate that fills the panes: one row per bucket × event name
    /// × principal × key × outcome × region, with its count; a denied
    /// call's source IP too (the Denied pane's addresses: denied calls are
    /// few, so this adds few rows, where every call's address would
    /// multiply them). With `--who`, the events it does not select are
    /// one row, every column but `selected` and `n` null.
    #[must_use]
    pub fn counts_sql(&self) -> String {
        let width = self.bucket_seconds();
        let columns = [
            (
                format!("CAST(floor(to_unixtime(t) / {width}) AS bigint) * {width}"),
                "bucket",
            ),
            ("eventname".to_owned(), "eventname"),
            ("principal".to_owned(), "principal"),
            ("key_arn".to_owned(), "key_arn"),
            ("outcome".to_owned(), "outcome"),
            ("NULLIF(awsregion, '')".to_owned(), "region"),
            (
                "CASE WHEN outcome = 'denied' THEN NULLIF(sourceipaddress, '') END".to_owned(),
                "denied_ip",
            ),
        ]
        .map(|(value, name)| {
            if self.who.is_everyone() {
                if value == name {
                    value
                } else {
                    format!("{value} AS {name}")
                }
            } else {
                format!("CASE WHEN selected THEN {value} END AS {name}")
            }
        });
        format!(
            "{events}
SELECT {columns},
  selected,
  count(*) AS n
FROM events
WHERE copy = 1
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
            events = self.events_cte(),
            columns = columns.join(",\n  "),
        )
    }

    /// One principal's or key's events in the window, newest first, at
    /// most [`DRILL_LIMIT`], each with how many there are in all.
    #[must_use]
    pub fn drill_sql(&self, drill: &DrillQuery) -> String {
        let condition = match drill {
            DrillQuery::Principal(p) => format!("principal = {}", literal(p)),
            DrillQuery::Key(k) => format!("key_arn = {}", literal(k)),
            DrillQuery::Events(ids) if ids.is_empty() => "false".to_owned(),
            DrillQuery::Events(ids) => {
                let ids: Vec<String> = ids.iter().map(|id| literal(id)).collect();
                format!("eventid IN ({})", ids.join(", "))
            }
        };
        let details = detail_columns(
            "json_format(json_extract(requestparameters, '$.encryptionContext'))",
            "whole",
        );
        format!(
            "{events}, matched AS (
  SELECT *, true AS whole, count(*) OVER () AS total
  FROM events
  WHERE copy = 1 AND selected AND {condition}
)
SELECT eventname{details},
  total
FROM matched
ORDER BY t DESC, eventid
LIMIT {DRILL_LIMIT}",
            events = self.events_cte(),
        )
    }
}

fn value<'r>(row: &'r Row<'_>, column: &str) -> Option<&'r str> {
    let index = *row.columns.get(column)?;
    row.values.get(index)?.as_deref()
}

/// A row of [`DashboardQuery::counts_sql`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountRow {
    /// Counted events (more than one when the count passes a bucket's).
    Counted(Vec<CountedEvent>),
    /// Distinct events `--who` did not select.
    LeftOut(u64),
}

/// A row of [`DashboardQuery::counts_sql`]'s answer; `None` when the row
/// is not what the query returns.
#[must_use]
pub fn counted(row: &Row<'_>) -> Option<CountRow> {
    let mut n: u64 = value(row, "n")?.parse().ok()?;
    match value(row, "selected")? {
        "true" => {}
        "false" => return Some(CountRow::LeftOut(n)),
        _ => return None,
    }
    let seconds: i64 = value(row, "bucket")?.parse().ok()?;
    let outcome = match value(row, "outcome")? {
        "success" => Outcome::Success,
        "denied" => Outcome::Denied,
        "error" => Outcome::Error,
        _ => return None,
    };
    let one = CountedEvent {
        time: DateTime::from_timestamp(seconds, 0)?,
        principal: value(row, "principal")?.to_owned(),
        key: value(row, "key_arn").map(str::to_owned),
        event_name: value(row, "eventname")?.to_owned(),
        outcome,
        region: value(row, "region").map(str::to_owned),
        source_ip: value(row, "denied_ip").map(str::to_owned),
        n: 0,
    };
    let mut all = Vec::new();
    while n > 0 {
        let part = u32::try_from(n).unwrap_or(u32::MAX);
        all.push(CountedEvent {
            n: part,
            ..one.clone()
        });
        n -= u64::from(part);
    }
    Some(CountRow::Counted(all))
}

/// A row of [`DashboardQuery::drill_sql`]'s answer: the event, rebuilt as
/// a record and read by the local parser (as the report reads its whole
/// events), and how many events matched in all.
#[must_use]
pub fn drilled(row: &Row<'_>) -> Option<(PackedEvent, u64)> {
    let total = value(row, "total")?.parse().ok()?;
    let text = record_of(row).to_string();
    match parse_record(&text) {
        Ok(Parsed::Kms(event)) => Some((PackedEvent::pack(&event), total)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::event::sql::{key_arn_sql, outcome_sql, principal_sql};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    fn query(since: &str, until: &str) -> DashboardQuery {
        DashboardQuery {
            table: "athena://db/t".parse().expect("address"),
            since: at(since),
            until: at(until),
            plausible: Plausible::at(at("2026-01-01T00:00:00Z")),
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into()],
            who: Who::default(),
        }
    }

    #[test]
    fn buckets_are_a_minute_or_wide_enough_for_two_thousand() {
        let q = query("2025-05-20T00:00:00Z", "2025-05-21T00:00:00Z");
        assert_eq!(q.bucket_seconds(), 60);
        let q = query("2025-05-14T00:00:00Z", "2025-05-21T00:00:00Z");
        assert_eq!(q.bucket_seconds(), 900);
        let q = query("2025-02-20T00:00:00Z", "2025-05-21T00:00:00Z");
        assert_eq!(q.bucket_seconds(), 10_800);
        let q = query("2015-01-01T00:00:00Z", "2025-05-21T00:00:00Z");
        assert_eq!(q.bucket_seconds() % 86_400, 0);
        let span = (q.until - q.since).num_seconds();
        assert!(span / q.bucket_seconds() <= MAX_BUCKETS);
    }

    #[test]
    fn the_queries_use_the_reports_partitions_and_duplicate_rule() {
        let q = query("2025-05-20T23:00:00Z", "2025-05-21T01:00:00Z");
        let report = super::super::query::report_sql(&q.report_query());
        for sql in [
            q.counts_sql(),
            q.drill_sql(&DrillQuery::Principal("it's".into())),
        ] {
            assert!(report.contains(&copy_number()), "the report's rule changed");
            for p in partition_filter(&q.report_query()) {
                assert!(sql.contains(&p), "{p}");
            }
            assert!(sql.contains(&principal_sql()));
            assert!(sql.contains(&key_arn_sql()));
            assert!(sql.contains(&outcome_sql()));
            assert!(sql.contains("eventsource = 'kms.amazonaws.com'"));
        }
        let drill = q.drill_sql(&DrillQuery::Key("arn:aws:kms:x:1:key/k'".into()));
        assert!(drill.contains("key_arn = 'arn:aws:kms:x:1:key/k'''"));
        assert!(drill.ends_with("LIMIT 1000"));
        let samples = q.drill_sql(&DrillQuery::Events(vec!["a".into(), "b'".into()]));
        assert!(samples.contains("eventid IN ('a', 'b''')"), "{samples}");
    }

    #[test]
    fn count_rows_become_counted_events_and_bad_ones_none() {
        let names = [
            "bucket",
            "eventname",
            "principal",
            "key_arn",
            "outcome",
            "region",
            "denied_ip",
            "selected",
            "n",
        ];
        let columns: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, c)| ((*c).to_owned(), i))
            .collect();
        let row = |values: &[Option<&str>]| -> Vec<Option<String>> {
            values.iter().map(|v| v.map(str::to_owned)).collect()
        };
        let good = row(&[
            Some("1747785600"),
            Some("Decrypt"),
            Some("arn:aws:iam::1:role/r"),
            None,
            Some("denied"),
            Some("eu-west-1"),
            Some("203.0.113.9"),
            Some("true"),
            Some("5000000000"),
        ]);
        let Some(CountRow::Counted(rows)) = counted(&Row {
            columns: &columns,
            values: &good,
        }) else {
            panic!("a count row");
        };
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows.iter().map(|r| u64::from(r.n)).sum::<u64>(),
            5_000_000_000
        );
        assert_eq!(rows[0].time, at("2025-05-21T00:00:00Z"));
        assert_eq!(
            (rows[0].key.as_deref(), rows[0].outcome),
            (None, Outcome::Denied)
        );
        assert_eq!(rows[1].source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(rows[1].region.as_deref(), Some("eu-west-1"));
        let bad = row(&[
            Some("x"),
            Some("Decrypt"),
            Some("p"),
            None,
            Some("success"),
            None,
            None,
            Some("true"),
            Some("1"),
        ]);
        assert!(
            counted(&Row {
                columns: &columns,
                values: &bad
            })
            .is_none()
        );
        // The events --who left out: one row, nothing but its count.
        let left_out = row(&[
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some("false"),
            Some("7"),
        ]);
        assert_eq!(
            counted(&Row {
                columns: &columns,
                values: &left_out
            }),
            Some(CountRow::LeftOut(7))
        );
        let unknown = row(&[None, None, None, None, None, None, None, None, Some("7")]);
        assert!(
            counted(&Row {
                columns: &columns,
                values: &unknown
            })
            .is_none()
        );
    }

    #[test]
    fn with_who_every_query_selects_and_the_rest_is_one_count() {
        let mut q = query("2025-05-20T23:00:00Z", "2025-05-21T01:00:00Z");
        q.who = Who::new(vec![crate::who::Selector::Session("it's".into())]);
        let selected = super::super::who::who_sql(&q.who).expect("a selection");
        let counts = q.counts_sql();
        assert!(
            counts.contains(&format!("{selected} AS selected")),
            "{counts}"
        );
        assert!(counts.contains("CASE WHEN selected THEN eventname END AS eventname"));
        let drill = q.drill_sql(&DrillQuery::Principal("p".into()));
        assert!(
            drill.contains("copy = 1 AND selected AND principal = 'p'"),
            "{drill}"
        );
        let report = super::super::query::report_sql(&q.report_query());
        assert!(report.contains(&format!("WHEN NOT {selected} THEN 'other'")));
        // The dashboard lists no calls: no events come back for that.
        assert!(!report.contains("listed_rank"), "{report}");
    }
}
