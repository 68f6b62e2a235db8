//! The report's quota and cost sections pushed down to Athena, in the
//! report's one query ([`super::query`]), and read back into the same
//! sections the file report prints ([`crate::aggregate::usage`]).
//!
//! # Cost
//!
//! The count rows (per event name, principal, key and outcome) also carry
//! the calling account, which pays ("the AWS account that makes the API
//! request is charged", also for another account's key): a principal's
//! name does not say it (`AWS Internal`, a service). The rows multiply
//! only where one principal calls from several accounts. Each row is then
//! priced as [`UsageTally::count_priced`] prices a file's events.
//!
//! # Quota
//!
//! Rates are per calling account, region and family, measured per second.
//! Folded into the report's scan, not a second query: `CloudTrail`'s JSON
//! is not columnar, so a second query would bill every byte again (Trino
//! does not materialize a `WITH` query read twice either). Nor does each
//! second come back as a row (a day of the 300 k benchmark corpus has
//! 193,691 of them: 194 result pages of 1,000 rows): window functions
//! count each event's second and calendar minute (`ranked`), the busiest
//! of each per account, region and family (`peaked`), and one tag row per
//! event in a family (`tagged`, tag -1) is summed into one row per
//! account, region and family with its requests, throttled calls, peaks,
//! their earliest second and minute, and its distinct seconds. Ties go to
//! the earliest second and minute, as [`crate::aggregate::quota::peaks`]
//! has them. The windows cost Athena time, not bytes.

use std::fmt::Write as _;

use super::answer::Row;
use crate::aggregate::quota::{FAMILIES, Peaks, family_of};
use crate::aggregate::usage::{
    CostSection, Measured, QuotaSection, UsageSettings, UsageTally, quota_section,
};
use crate::event::sql::literal;

/// A quota row's tag in `tagged` (0 is an event's count, positive tags
/// are counted rules).
const TAG: i32 = -1;

/// The group of a quota row: calling account, region, family.
const GROUP: &str = "kind, caller_account, q_region, q_family";

/// The family an event name counts against ([`crate::aggregate::quota::family_of`]:
/// the first family that lists it), as its index; null outside them.
fn family_sql() -> String {
    let cases = FAMILIES
        .iter()
        .enumerate()
        .fold(String::new(), |mut all, (i, f)| {
            let names: Vec<String> = f.operations.iter().map(|op| literal(op)).collect();
            let _ = write!(all, " WHEN eventname IN ({}) THEN {i}", names.join(", "));
            all
        });
    format!("CASE{cases} END")
}

/// The columns `classed` adds: the calling account
/// ([`crate::aggregate::usage::calling_account`]: `userIdentity.accountId`,
/// else the recipient account, else `-`), the region (`-` when none), the
/// family, and the event's Unix second and calendar minute.
#[must_use]
fn classed_columns() -> String {
    format!(
        ",
    COALESCE(NULLIF(useridentity.accountid, ''), NULLIF(recipientaccountid, ''), '-') AS caller_account,
    COALESCE(NULLIF(awsregion, ''), '-') AS q_region,
    {family} AS q_family,
    CAST(floor(to_unixtime(t)) AS bigint) AS q_second,
    CAST(floor(to_unixtime(t) / 60) AS bigint) * 60 AS q_minute",
        family = family_sql()
    )
}

/// The windows `ranked` adds: requests in each event's second and minute,
/// and one event of each second marked (to count the distinct seconds).
#[must_use]
fn window_columns() -> [String; 3] {
    [
        format!("count(*) OVER (PARTITION BY {GROUP}, q_second) AS q_second_n"),
        format!("row_number() OVER (PARTITION BY {GROUP}, q_second) = 1 AS q_second_first"),
        format!("count(*) OVER (PARTITION BY {GROUP}, q_minute) AS q_minute_n"),
    ]
}

/// The columns `peaked` adds: the busiest second's and minute's requests
/// of each event's account, region and family.
#[must_use]
fn peak_columns() -> String {
    format!(
        ",
    max(q_second_n) OVER (PARTITION BY {GROUP}) AS q_peak_n,
    max(q_minute_n) OVER (PARTITION BY {GROUP}) AS q_peak_minute_n"
    )
}

/// The tag an event in a quota family adds to `tagged`'s `UNNEST`.
#[must_use]
pub fn tag() -> String {
    format!("CASE WHEN kind = 'event' AND q_family IS NOT NULL THEN {TAG} END")
}

/// The group columns of the final `SELECT` (after `outcome`): the calling
/// account on count and quota rows, region and family on quota rows.
/// Without the sections (`usage` false) they are null.
#[must_use]
fn group_columns(usage: bool) -> [String; 3] {
    if !usage {
        return [
            "CAST(NULL AS varchar) AS caller_account".to_owned(),
            "CAST(NULL AS varchar) AS q_region".to_owned(),
            "CAST(NULL AS integer) AS q_family".to_owned(),
        ];
    }
    [
        format!(
            "CASE WHEN (tag = 0 AND kind = 'event') OR tag = {TAG} THEN caller_account END AS caller_account"
        ),
        format!("CASE WHEN tag = {TAG} THEN q_region END AS q_region"),
        format!("CASE WHEN tag = {TAG} THEN q_family END AS q_family"),
    ]
}

/// The aggregate columns of the final `SELECT` (after `last_time`).
#[must_use]
fn aggregate_columns(usage: bool) -> String {
    let columns: [(String, &str); 6] = if usage {
        let on = |what: &str| format!("CASE WHEN tag = {TAG} {what}");
        [
            (
                format!(
                    "sum({})",
                    on("AND errorcode = 'ThrottlingException' THEN 1 END")
                ),
                "q_throttled",
            ),
            (format!("max({})", on("THEN q_peak_n END")), "q_peak_n"),
            (
                format!("min({})", on("AND q_second_n = q_peak_n THEN q_second END")),
                "q_peak_second",
            ),
            (
                format!("max({})", on("THEN q_peak_minute_n END")),
                "q_peak_minute_n",
            ),
            (
                format!(
                    "min({})",
                    on("AND q_minute_n = q_peak_minute_n THEN q_minute END")
                ),
                "q_peak_minute",
            ),
            (
                format!("sum({})", on("AND q_second_first THEN 1 END")),
                "q_seconds",
            ),
        ]
    } else {
        AGGREGATE_NAMES.map(|name| ("CAST(NULL AS bigint)".to_owned(), name))
    };
    columns
        .iter()
        .fold(String::new(), |mut all, (value, name)| {
            let _ = write!(all, ",\n  {value} AS {name}");
            all
        })
}

/// The sections' parts of the report's query; without them (`usage`
/// false), no windows and null columns, so the answer's columns stay.
pub struct UsageSql {
    /// Columns `classed` adds.
    pub classed: String,
    /// Columns `peaked` adds.
    pub peaks: String,
    /// Group columns of the final `SELECT`, after `outcome`.
    pub groups: String,
    /// Aggregate columns of the final `SELECT`, after `last_time`.
    pub aggregates: String,
}

impl UsageSql {
    /// The parts, the windows `ranked` adds pushed onto `windows`.
    #[must_use]
    pub fn new(usage: bool, windows: &mut Vec<String>) -> Self {
        let (classed, peaks) = if usage {
            windows.extend(window_columns());
            (classed_columns(), peak_columns())
        } else {
            (String::new(), String::new())
        };
        let groups = group_columns(usage)
            .iter()
            .fold(String::new(), |mut all, c| {
                let _ = write!(all, ",\n  {c}");
                all
            });
        Self {
            classed,
            peaks,
            groups,
            aggregates: aggregate_columns(usage),
        }
    }
}

/// The names of [`group_columns`], in order.
pub const GROUP_NAMES: [&str; 3] = ["caller_account", "q_region", "q_family"];

/// The names of [`aggregate_columns`], in order.
pub const AGGREGATE_NAMES: [&str; 6] = [
    "q_throttled",
    "q_peak_n",
    "q_peak_second",
    "q_peak_minute_n",
    "q_peak_minute",
    "q_seconds",
];

/// A quota row of the answer, measured.
struct QuotaMeasure {
    account: String,
    region: String,
    peaks: Peaks,
    throttled: u64,
}

/// The sections' rows as they are paged in.
#[derive(Default)]
pub struct UsageRows {
    tally: UsageTally,
    measured: Vec<QuotaMeasure>,
    seconds: u64,
}

impl UsageRows {
    /// Prices a count row's `n` requests.
    pub fn add_count(&mut self, row: &Row<'_>, name: &str, principal: &str, n: u64) {
        let account = row.get("caller_account").unwrap_or("-");
        self.tally
            .count_priced(principal, account, row.get("key_arn"), name, n);
        if family_of(name).is_none() {
            self.tally.count_not_rated(name, n);
        }
    }

    /// Reads a quota row; false when it is not what the query returns.
    pub fn add_quota(&mut self, row: &Row<'_>, n: u64) -> bool {
        let number = |column: &str| row.get(column).and_then(|v| v.parse::<i64>().ok());
        let count = |column: &str| row.get(column).map_or(Some(0), |v| v.parse::<u64>().ok());
        let family = number("q_family")
            .and_then(|f| u8::try_from(f).ok())
            .filter(|f| usize::from(*f) < FAMILIES.len());
        let (
            Some(account),
            Some(region),
            Some(family),
            Some(peak_per_second),
            Some(peak_second),
            Some(peak_minute_requests),
            Some(peak_minute),
            Some(throttled),
            Some(seconds),
        ) = (
            row.get("caller_account"),
            row.get("q_region"),
            family,
            number("q_peak_n").and_then(|v| u64::try_from(v).ok()),
            number("q_peak_second"),
            number("q_peak_minute_n").and_then(|v| u64::try_from(v).ok()),
            number("q_peak_minute"),
            count("q_throttled"),
            count("q_seconds"),
        )
        else {
            return false;
        };
        self.seconds += seconds;
        self.measured.push(QuotaMeasure {
            account: account.to_owned(),
            region: region.to_owned(),
            peaks: Peaks {
                family,
                series: 0,
                requests: n,
                peak_second,
                peak_per_second,
                peak_minute,
                peak_minute_requests,
            },
            throttled,
        });
        true
    }

    /// The two sections, as the file report computes them from the same
    /// measures. Athena counts every second (no cap): exact.
    #[must_use]
    pub fn finish(&self, settings: &UsageSettings) -> (QuotaSection, CostSection) {
        let measured = self.measured.iter().map(|m| Measured {
            account: &m.account,
            region: &m.region,
            peaks: m.peaks,
            throttled: m.throttled,
        });
        // The not-rated requests come from the count rows, as the file
        // report's from each event: the tally's own quota section holds
        // them (and no measures: Athena's come from the quota rows).
        let not_rated = self.tally.quota(settings).not_rated;
        (
            quota_section(measured, self.seconds, 0, not_rated, settings),
            self.tally.cost(settings),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_family_case_names_each_operation_s_first_family() {
        let sql = family_sql();
        for (i, f) in FAMILIES.iter().enumerate() {
            for op in f.operations {
                let first = sql
                    .split(" WHEN ")
                    .position(|case| case.contains(&format!("'{op}'")))
                    .and_then(|p| p.checked_sub(1));
                assert_eq!(first, family_of(op).map(usize::from), "{op}");
                assert!(first.is_some_and(|p| p <= i), "{op}");
            }
        }
    }

    #[test]
    fn quota_rows_read_back_or_are_refused() {
        let names: Vec<&str> = GROUP_NAMES
            .iter()
            .chain(&AGGREGATE_NAMES)
            .copied()
            .collect();
        let columns: std::collections::HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| ((*n).to_owned(), i))
            .collect();
        let values = |family: &str| -> Vec<Option<String>> {
            [
                "111122223333",
                "eu-west-1",
                family,
                "",
                "7",
                "1747735205",
                "9",
                "1747735200",
                "4",
            ]
            .iter()
            .map(|v| (!v.is_empty()).then(|| (*v).to_owned()))
            .collect()
        };
        let mut rows = UsageRows::default();
        let good = values("0");
        assert!(rows.add_quota(
            &Row {
                columns: &columns,
                values: &good
            },
            12
        ));
        for bad in ["", "200", "-1", "x"] {
            let bad = values(bad);
            assert!(!rows.add_quota(
                &Row {
                    columns: &columns,
                    values: &bad
                },
                1
            ));
        }
        let (quota, _) = rows.finish(&UsageSettings::default());
        assert_eq!(quota.series_seconds, 4);
        assert!(quota.exact);
        let row = &quota.rows[0];
        assert_eq!(
            (row.family, row.requests, row.peak_per_second, row.throttled),
            ("symmetric", 12, 7, 0)
        );
    }
}
