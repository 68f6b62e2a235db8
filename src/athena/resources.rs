//! The report's `resources` section ("who decrypted what") pushed down to
//! Athena, in the report's one query ([`super::query`]): no second scan
//! (a second query would bill every byte again).
//!
//! # The resource of a call
//!
//! Generated from the one table of context keys
//! ([`crate::event::resource::KEYS`]) the file report reads: the value of
//! the most specific key the context holds as a string, else the context's
//! first string pair as `key=value` (service `other`), cut to
//! [`MAX_RESOURCE`] bytes on a character boundary. The first pair is read
//! from the context's JSON text with a pattern that steps over pairs whose
//! values are numbers, booleans, nulls, or objects and arrays one level
//! deep; KMS takes only string values, so a context nested deeper before
//! its first string pair cannot come from KMS (the file report would name
//! that pair, Athena no resource).
//!
//! # Counting
//!
//! Window functions count each resource's calls, denied calls, time span,
//! distinct principals and keys, each caller's calls, and rank callers as
//! the file report samples them: past [`FOLLOWED_CALLERS`] callers on one
//! resource, the ones whose kept names have the lowest SHA-256 ([`caller_rank`],
//! which Athena computes alike) are followed, and the busiest
//! [`TOP_CALLERS`] of those are listed, ties by name. Resources are placed
//! busiest first (ties by service then name), and only the calls of the
//! first [`MAX_RESOURCES`] resources' listed callers come back as rows
//! (tag -2), one per resource and caller, carrying the resource's counts;
//! every other resource comes back in one row, whose sum is
//! `resources_other`. The windows cost Athena time, not bytes.
//!
//! Athena ranks every resource; the file report follows at most
//! [`crate::report::resources::FOLLOWED`] (40,000) distinct ones by their
//! names' hash. Past that many, Athena's list is the exact busiest, the
//! file report's those of its sample.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::answer::Row;
use crate::event::resource::{DATA_CALLS, KEYS, MAX_RESOURCE, is_bucket_key};
use crate::event::sql::literal;
use crate::report::resources::{
    CallerRow, FOLLOWED_CALLERS, MAX_CALLER, MAX_RESOURCES, ResourceRow, TOP_CALLERS, sort_rows,
};

#[cfg(doc)]
use crate::report::resources::caller_rank;

/// A resource row's tag in `tagged` (0 counts, -1 quota).
pub const TAG: i32 = -2;

/// Principals and keys a resource's row tells apart (as the file report).
const TOLD_APART: u64 = 1_000;

/// The partition of one resource's calls.
const RESOURCE: &str = "r_service, r_name";

/// A JSON string token (its escapes kept).
const STRING: &str = r#""(?:[^"\\]|\\.)*""#;

/// The UTF-8 length of `x` in bytes, in functions both engines have
/// (Trino's `length(to_utf8(…))` has no `DuckDB` spelling sqlglot writes):
/// one byte a character, one more past U+007F, U+07FF and U+FFFF.
fn utf8_length(x: &str) -> String {
    let beyond =
        |last: &str| format!("length(regexp_replace({x}, '[\\x{{00}}-\\x{{{last}}}]', ''))");
    format!(
        "(length({x}) + {} + {} + {})",
        beyond("7F"),
        beyond("7FF"),
        beyond("FFFF")
    )
}

/// `x` cut to at most `max` bytes on a character boundary, as
/// [`crate::report::resources`] and [`crate::event::resource`] cut names.
#[must_use]
pub fn cut_sql(x: &str, max: usize) -> String {
    let prefix = utf8_length(&format!("substr({x}, 1, i)"));
    format!(
        "CASE WHEN {x} IS NULL OR length({x}) * 4 <= {max} OR {whole} <= {max} THEN {x} \
         ELSE substr({x}, 1, cardinality(filter(sequence(1, {max}), i -> {prefix} <= {max}))) END",
        whole = utf8_length(x)
    )
}

/// The value of context key `key` when it is a string (`r_ctx` is the
/// context's JSON).
fn string_value(key: &str) -> String {
    let path = literal(&format!("$[\"{key}\"]"));
    format!(
        "CASE WHEN substr(json_format(json_extract(r_ctx, {path})), 1, 1) = '\"' \
         THEN json_extract_scalar(r_ctx, {path}) END"
    )
}

/// The pattern of a context's JSON text up to its first string pair,
/// capturing its key (1) and value (2) as JSON string tokens.
fn first_pair_pattern() -> String {
    let flat = format!("(?:[^{{}}\\[\\]\"]|{STRING})*");
    let other = format!("(?:-?[0-9][0-9.eE+-]*|true|false|null|\\{{{flat}\\}}|\\[{flat}\\])");
    format!(r"^\{{\s*(?:{STRING}\s*:\s*{other}\s*,\s*)*({STRING})\s*:\s*({STRING})")
}

/// A JSON string token decoded.
fn decoded(token: &str) -> String {
    format!("json_extract_scalar(concat('[', {token}, ']'), '$[0]')")
}

/// The CTE (over `classed`, named `named`) that gives each distinct data
/// call its resource: `r_service`, `r_name` and the caller's kept name
/// `r_caller` (null for every other row).
#[must_use]
fn named_cte() -> String {
    let calls: Vec<String> = DATA_CALLS.iter().map(|c| literal(c)).collect();
    let values = KEYS
        .iter()
        .enumerate()
        .fold(String::new(), |mut all, (i, (key, _))| {
            let _ = write!(all, ",\n      {} AS r_v{i}", string_value(key));
            all
        });
    let pattern = literal(&first_pair_pattern());
    let services = KEYS
        .iter()
        .enumerate()
        .fold(String::new(), |mut all, (i, (_, service))| {
            let _ = write!(all, " WHEN r_v{i} IS NOT NULL THEN {}", literal(service));
            all
        });
    let names: Vec<String> = (0..KEYS.len()).map(|i| format!("r_v{i}")).collect();
    format!(
        "named AS (
  SELECT *,
    {name} AS r_name,
    CASE WHEN r_service IS NOT NULL THEN {caller} END AS r_caller
  FROM (
    SELECT *,
      CASE{services} WHEN r_first_key IS NOT NULL THEN 'other' END AS r_service,
      COALESCE({names}, r_first_key || '=' || r_first_value) AS r_raw
    FROM (
      SELECT *{values},
        {first_key} AS r_first_key,
        {first_value} AS r_first_value
      FROM (
        SELECT *,
          CASE WHEN kind = 'event' AND eventname IN ({calls})
            THEN json_extract(requestparameters, '$.encryptionContext') END AS r_ctx
        FROM classed
      )
    )
  )
)",
        name = cut_sql("r_raw", MAX_RESOURCE),
        caller = cut_sql("principal", MAX_CALLER),
        names = names.join(", "),
        calls = calls.join(", "),
        first_key = decoded(&format!("regexp_extract(json_format(r_ctx), {pattern}, 1)")),
        first_value = decoded(&format!("regexp_extract(json_format(r_ctx), {pattern}, 2)")),
    )
}

/// The section's parts of the report's query; without it (`on` false),
/// no CTE, no windows and null columns, so the answer's columns stay.
pub struct ResourceSql {
    /// The `named` CTE after `classed` (with its leading comma), or nothing.
    pub named: String,
    /// What `ranked` reads: `named` or `classed`.
    pub from: &'static str,
    /// Columns `peaked` adds.
    pub peaks: String,
    /// The column `wanting` adds.
    pub place: String,
    /// Group columns of the final `SELECT`, after the quota's.
    pub groups: String,
    /// Aggregate columns of the final `SELECT`, after the quota's.
    pub aggregates: String,
}

impl ResourceSql {
    /// The parts, the windows `ranked` adds pushed onto `windows`.
    #[must_use]
    pub fn new(on: bool, windows: &mut Vec<String>) -> Self {
        let (named, from, peaks, place) = if on {
            windows.extend(window_columns());
            (
                format!(", {}", named_cte()),
                "named",
                peak_columns(),
                place_column(),
            )
        } else {
            (String::new(), "classed", String::new(), String::new())
        };
        Self {
            named,
            from,
            peaks,
            place,
            groups: group_columns(on),
            aggregates: aggregate_columns(on),
        }
    }
}

/// The windows `ranked` adds.
#[must_use]
fn window_columns() -> Vec<String> {
    let over = |by: &str| format!("OVER (PARTITION BY {RESOURCE}{by})");
    vec![
        format!("count(*) {} AS r_calls", over("")),
        format!(
            "sum(CASE WHEN outcome = 'denied' THEN 1 ELSE 0 END) {} AS r_denied",
            over("")
        ),
        format!("min(t) {} AS r_first", over("")),
        format!("max(t) {} AS r_last", over("")),
        format!("count(*) {} AS r_caller_calls", over(", principal")),
        format!(
            "dense_rank() {} AS r_principal_n",
            over(" ORDER BY principal")
        ),
        format!(
            "dense_rank() {} AS r_key_n",
            over(" ORDER BY key_arn ASC NULLS LAST")
        ),
        // Who a caller is, and its place in the sample.
        format!(
            "dense_rank() {} AS r_follow",
            over(" ORDER BY to_hex(sha256(to_utf8(r_caller))), r_caller, principal")
        ),
        format!("row_number() {} = 1 AS r_head", over("")),
    ]
}

/// The columns `peaked` adds: distinct principals and keys, each caller's
/// place among the listed, and each resource's place (on its first row).
#[must_use]
fn peak_columns() -> String {
    let head = |c: &str| format!("CASE WHEN r_head THEN {c} END");
    format!(
        ",
    max(r_principal_n) OVER (PARTITION BY {RESOURCE}) AS r_principals,
    max(CASE WHEN key_arn IS NOT NULL THEN r_key_n END) OVER (PARTITION BY {RESOURCE}) AS r_keys,
    dense_rank() OVER (PARTITION BY {RESOURCE} ORDER BY CASE WHEN r_follow <= {FOLLOWED_CALLERS} \
     THEN 0 ELSE 1 END, r_caller_calls DESC, r_caller, r_follow) AS r_top,
    rank() OVER (PARTITION BY r_head, r_service IS NULL ORDER BY {} DESC, {}, {}) AS r_head_place",
        head("r_calls"),
        head("r_service"),
        head("r_name")
    )
}

/// The column `wanting` adds: each resource's place, on every row.
#[must_use]
fn place_column() -> String {
    format!(
        ",\n    max(CASE WHEN r_head THEN r_head_place END) OVER (PARTITION BY {RESOURCE}) AS r_place"
    )
}

/// The tag a data call adds to `tagged`'s `UNNEST`: a listed caller's call
/// on a listed resource, or the first call on a resource not listed.
#[must_use]
pub fn tag() -> String {
    format!(
        "CASE WHEN r_service IS NOT NULL AND ((r_place <= {MAX_RESOURCES} AND r_top <= {TOP_CALLERS}) \
         OR (r_place > {MAX_RESOURCES} AND r_head)) THEN {TAG} END"
    )
}

/// The names of [`group_columns`], in order.
pub const GROUP_NAMES: [&str; 4] = ["r_service", "r_name", "r_caller", "r_caller_id"];

/// The names of [`aggregate_columns`], in order.
pub const AGGREGATE_NAMES: [&str; 8] = [
    "r_caller_denied",
    "r_calls",
    "r_denied",
    "r_principals",
    "r_keys",
    "r_first",
    "r_last",
    "r_unlisted",
];

/// The group columns of the final `SELECT` (null unless `on`).
#[must_use]
fn group_columns(on: bool) -> String {
    let listed = format!("tag = {TAG} AND r_place <= {MAX_RESOURCES}");
    let columns: [(String, &str); 4] = if on {
        [
            (
                format!("CASE WHEN {listed} THEN r_service END"),
                "r_service",
            ),
            (format!("CASE WHEN {listed} THEN r_name END"), "r_name"),
            (format!("CASE WHEN {listed} THEN r_caller END"), "r_caller"),
            (
                format!("CASE WHEN {listed} THEN r_follow END"),
                "r_caller_id",
            ),
        ]
    } else {
        [
            ("CAST(NULL AS varchar)".to_owned(), "r_service"),
            ("CAST(NULL AS varchar)".to_owned(), "r_name"),
            ("CAST(NULL AS varchar)".to_owned(), "r_caller"),
            ("CAST(NULL AS bigint)".to_owned(), "r_caller_id"),
        ]
    };
    columns
        .iter()
        .fold(String::new(), |mut all, (value, name)| {
            let _ = write!(all, ",\n  {value} AS {name}");
            all
        })
}

/// The aggregate columns of the final `SELECT` (null unless `on`).
#[must_use]
fn aggregate_columns(on: bool) -> String {
    let on_tag = |what: &str| format!("CASE WHEN tag = {TAG} {what}");
    let listed = format!("AND r_place <= {MAX_RESOURCES}");
    let columns: Vec<String> = if on {
        vec![
            format!(
                "sum({})",
                on_tag("AND outcome = 'denied' THEN 1 ELSE 0 END")
            ),
            format!("max({})", on_tag(&format!("{listed} THEN r_calls END"))),
            format!("max({})", on_tag(&format!("{listed} THEN r_denied END"))),
            format!(
                "max({})",
                on_tag(&format!("{listed} THEN r_principals END"))
            ),
            format!("max({})", on_tag(&format!("{listed} THEN r_keys END"))),
            format!(
                "to_unixtime(min({}))",
                on_tag(&format!("{listed} THEN r_first END"))
            ),
            format!(
                "to_unixtime(max({}))",
                on_tag(&format!("{listed} THEN r_last END"))
            ),
            format!(
                "sum({})",
                on_tag(&format!("AND r_place > {MAX_RESOURCES} THEN r_calls END"))
            ),
        ]
    } else {
        AGGREGATE_NAMES
            .iter()
            .map(|_| "CAST(NULL AS bigint)".to_owned())
            .collect()
    };
    columns
        .iter()
        .zip(AGGREGATE_NAMES)
        .fold(String::new(), |mut all, (value, name)| {
            let _ = write!(all, ",\n  {value} AS {name}");
            all
        })
}

/// One resource as its rows come in.
#[derive(Default)]
struct Gathered {
    calls: u64,
    denied: u64,
    principals: u64,
    keys: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    callers: Vec<CallerRow>,
}

/// The section's rows as they are paged in.
#[derive(Default)]
pub struct ResourceRows {
    by: HashMap<(String, String), Gathered>,
    unlisted: u64,
}

fn time(row: &Row<'_>, column: &str) -> Option<DateTime<Utc>> {
    let seconds: f64 = row.get(column)?.parse().ok()?;
    #[allow(clippy::cast_possible_truncation)]
    DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64)
}

impl ResourceRows {
    /// Reads a resource row of `n` calls; false when it is not what the
    /// query returns.
    pub fn add(&mut self, row: &Row<'_>, n: u64) -> bool {
        let number = |column: &str| row.get(column).and_then(|v| v.parse::<u64>().ok());
        let (Some(service), Some(name), Some(caller)) =
            (row.get("r_service"), row.get("r_name"), row.get("r_caller"))
        else {
            // The row of the resources not listed.
            return match number("r_unlisted") {
                Some(calls) if row.get("r_service").is_none() => {
                    self.unlisted += calls;
                    true
                }
                _ => false,
            };
        };
        let (Some(calls), Some(denied), Some(principals), Some(keys)) = (
            number("r_calls"),
            number("r_denied"),
            number("r_principals"),
            number("r_keys").or(Some(0)),
        ) else {
            return false;
        };
        let g = self
            .by
            .entry((service.to_owned(), name.to_owned()))
            .or_default();
        g.calls = calls;
        g.denied = denied;
        g.principals = principals;
        g.keys = keys;
        g.first = time(row, "r_first");
        g.last = time(row, "r_last");
        g.callers.push(CallerRow {
            principal: caller.to_owned(),
            calls: n,
            denied: number("r_caller_denied").unwrap_or(0),
        });
        true
    }

    /// The section's rows and the calls on resources not listed, as the
    /// file report has them.
    #[must_use]
    pub fn finish(self) -> (Vec<ResourceRow>, u64) {
        let mut rows: Vec<ResourceRow> = self
            .by
            .into_iter()
            .map(|((service, resource), mut g)| {
                g.callers.sort_by(|a, b| {
                    b.calls
                        .cmp(&a.calls)
                        .then_with(|| a.principal.cmp(&b.principal))
                });
                g.callers.truncate(TOP_CALLERS);
                let principals = g.principals.min(TOLD_APART);
                ResourceRow {
                    bucket_key: is_bucket_key(&service, &resource),
                    service,
                    resource,
                    calls: g.calls,
                    denied: g.denied,
                    principals,
                    keys: g.keys.min(TOLD_APART),
                    first_seen: g.first,
                    last_seen: g.last,
                    more_callers: principals.saturating_sub(g.callers.len() as u64),
                    top_callers: g.callers,
                    callers_sampled: g.principals > FOLLOWED_CALLERS as u64,
                }
            })
            .collect();
        sort_rows(&mut rows);
        (rows, self.unlisted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_pair_pattern_steps_over_values_that_are_not_strings() {
        let re = regex::Regex::new(&first_pair_pattern()).expect("a pattern");
        let first = |json: &str| {
            re.captures(json)
                .map(|c| (c[1].to_owned(), c[2].to_owned()))
        };
        assert_eq!(
            first(r#"{"a":1,"b":null,"c":{"d":"}"},"e":["x\"]"],"k\"":"v\\"}"#),
            Some((r#""k\"""#.to_owned(), r#""v\\""#.to_owned()))
        );
        assert_eq!(first(r#"{"a":1}"#), None);
        assert_eq!(first("{}"), None);
    }
}
