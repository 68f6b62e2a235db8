//! What `kmstop keys --format json` must print, from a list of expected
//! keys that either moto or the simulator supplies: every key once, no
//! other key, and every field equal.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One key as the server holds it, in kmstop's JSON field names. Times are
/// compared as instants; `None` expects JSON `null`.
#[derive(Debug, Clone, Default)]
pub struct ExpectedKey {
    pub key_id: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    /// Sorted alias names; `None` expects `null` (aliases unreadable).
    pub aliases: Option<Vec<String>>,
    pub description: Option<String>,
    pub state: Option<String>,
    pub key_manager: Option<String>,
    pub key_spec: Option<String>,
    pub key_usage: Option<String>,
    pub rotation_enabled: Option<bool>,
    pub rotation_period_days: Option<u32>,
    pub next_rotation: Option<DateTime<Utc>>,
    pub last_rotated: Option<DateTime<Utc>>,
    pub deletion_date: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub created: Option<DateTime<Utc>>,
    /// Marks that must be in `unreadable` (others may be there too: which
    /// fields a server leaves out differs between servers).
    pub unreadable: BTreeMap<String, String>,
    /// Who the key's grants name, in `ListGrants` order; `None`: not
    /// checked.
    pub grantees: Option<Vec<String>>,
}

/// The window the command ran in: `days_until_deletion` is whole days
/// from the command's own clock, anywhere in it.
#[derive(Debug, Clone, Copy)]
pub struct RanBetween {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Compares the printed JSON array with `expected`; panics with every
/// difference at once.
pub fn assert_keys_json(printed: &Value, expected: &[ExpectedKey], ran: RanBetween) {
    let rows = printed
        .as_array()
        .expect("kmstop keys --format json prints an array");
    let mut problems = Vec::new();
    // By ARN: a multi-Region key has one id in several regions.
    let mut printed_ids: Vec<&str> = rows
        .iter()
        .map(|r| r["arn"].as_str().unwrap_or("<no arn>"))
        .collect();
    printed_ids.sort_unstable();
    let mut expected_ids: Vec<&str> = expected.iter().map(|k| k.arn.as_str()).collect();
    expected_ids.sort_unstable();
    if printed_ids != expected_ids {
        problems.push(format!(
            "key ids differ:\n  printed  {printed_ids:?}\n  expected {expected_ids:?}"
        ));
    }
    for want in expected {
        let Some(row) = rows.iter().find(|r| r["arn"] == want.arn.as_str()) else {
            continue;
        };
        compare_key(row, want, ran, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "kmstop keys differs from the server:\n{}\nprinted:\n{}",
        problems.join("\n"),
        serde_json::to_string_pretty(printed).unwrap_or_default()
    );
}

fn compare_key(row: &Value, want: &ExpectedKey, ran: RanBetween, problems: &mut Vec<String>) {
    let id = &want.key_id;
    let mut check = |field: &str, expected: Value| {
        if row[field] != expected {
            problems.push(format!(
                "{id}: {field}: printed {}, expected {expected}",
                row[field]
            ));
        }
    };
    let text = |v: &Option<String>| v.as_ref().map_or(Value::Null, |s| Value::from(s.as_str()));
    check("key_id", Value::from(want.key_id.as_str()));
    check("arn", Value::from(want.arn.as_str()));
    check("account", Value::from(want.account.as_str()));
    check("region", Value::from(want.region.as_str()));
    check(
        "aliases",
        want.aliases
            .as_ref()
            .map_or(Value::Null, |a| Value::from(a.clone())),
    );
    check("description", text(&want.description));
    check("state", text(&want.state));
    check("key_manager", text(&want.key_manager));
    check("key_spec", text(&want.key_spec));
    check("key_usage", text(&want.key_usage));
    check(
        "rotation_enabled",
        want.rotation_enabled.map_or(Value::Null, Value::from),
    );
    check(
        "rotation_period_days",
        want.rotation_period_days.map_or(Value::Null, Value::from),
    );
    if let Some(grantees) = &want.grantees {
        check("grantees", Value::from(grantees.clone()));
        check("grants", Value::from(grantees.len()));
    }
    for (field, t) in [
        ("next_rotation", want.next_rotation),
        ("last_rotated", want.last_rotated),
        ("deletion_date", want.deletion_date),
        ("last_used", want.last_used),
        ("created", want.created),
    ] {
        compare_time(row, id, field, t, problems);
    }
    let days = &row["days_until_deletion"];
    match want.deletion_date {
        None if !days.is_null() => problems.push(format!(
            "{id}: days_until_deletion: printed {days}, expected null"
        )),
        None => {}
        Some(d) => {
            // Whole days, counted from some instant while the command ran.
            let latest = (d - ran.start).num_days().max(0);
            let earliest = (d - ran.end).num_days().max(0);
            let ok = days
                .as_i64()
                .is_some_and(|n| (earliest..=latest).contains(&n));
            if !ok {
                problems.push(format!(
                    "{id}: days_until_deletion: printed {days}, expected {earliest}..={latest}"
                ));
            }
        }
    }
    for (field, why) in &want.unreadable {
        let got = &row["unreadable"][field];
        if got != why.as_str() {
            problems.push(format!(
                "{id}: unreadable.{field}: printed {got}, expected \"{why}\""
            ));
        }
        if !row[field.as_str()].is_null() {
            problems.push(format!("{id}: {field} is marked {why} but not null"));
        }
    }
}

fn compare_time(
    row: &Value,
    id: &str,
    field: &str,
    expected: Option<DateTime<Utc>>,
    problems: &mut Vec<String>,
) {
    let printed = &row[field];
    let parsed = printed.as_str().map(DateTime::parse_from_rfc3339);
    let ok = match (expected, parsed) {
        (None, None) => printed.is_null(),
        (Some(want), Some(Ok(got))) => got == want,
        _ => false,
    };
    if !ok {
        problems.push(format!(
            "{id}: {field}: printed {printed}, expected {}",
            expected.map_or_else(|| "null".to_string(), |t| t.to_rfc3339())
        ));
    }
}
