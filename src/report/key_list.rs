//! `kmstop keys`: the key inventory as JSON, CSV or a table. [`KeyListRow`]
//! is the JSON contract; CSV has the same columns; the table is for people.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use clap::ValueEnum;
use serde::Serialize;

use super::table::{Column, Fit, cell, col, render};
use crate::inventory::KeyFacts;
use crate::text::for_csv;

/// How `kmstop keys` prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum KeysFormat {
    /// A table for a person, fitted to the terminal.
    #[default]
    Table,
    /// Every key as a JSON array (a stable contract for scripts).
    Json,
    /// Every key as CSV, the same columns as JSON.
    Csv,
}

/// The order of the rows (ties: account, region, key id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum KeySort {
    /// By first alias, else key id.
    #[default]
    Name,
    /// Oldest first.
    Created,
    /// Key state (`Disabled`, `Enabled`, `PendingDeletion`, …).
    State,
    /// Soonest deletion first; keys not scheduled for deletion last.
    Deletion,
    /// Least recently used first; unknown last.
    LastUsed,
    /// Account, then region.
    Region,
}

/// One key as `--format json` prints it. Values are spelled as KMS spells
/// them; times are RFC 3339; unknown is `null` (why, when kmstop knows, is
/// in `unreadable`). Later versions add fields; they never rename one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyListRow {
    pub key_id: Option<String>,
    pub arn: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub aliases: Option<Vec<String>>,
    pub description: Option<String>,
    pub state: Option<String>,
    pub key_manager: Option<String>,
    pub key_spec: Option<String>,
    pub key_usage: Option<String>,
    pub origin: Option<String>,
    pub multi_region: Option<bool>,
    pub rotation_enabled: Option<bool>,
    pub rotation_period_days: Option<u32>,
    pub next_rotation: Option<String>,
    pub last_rotated: Option<String>,
    pub deletion_date: Option<String>,
    pub days_until_deletion: Option<i64>,
    pub last_used: Option<String>,
    pub created: Option<String>,
    /// Fields kmstop could not read, with why: `no access`, `n/a`, `error`.
    pub unreadable: BTreeMap<String, String>,
    /// The operation and CloudTrail event id of the last use KMS recorded.
    pub last_used_operation: Option<String>,
    pub last_used_event_id: Option<String>,
    /// Grants on the key (`ListGrants`; customer-managed keys): each lets a
    /// principal use the key, so a key with grants is not safe to delete.
    pub grants: Option<u64>,
    /// Who the grants let use the key (the first 50 grants).
    pub grantees: Option<Vec<String>>,
    /// Since when KMS tracks the key's use (`GetKeyLastUsage`'s
    /// `TrackingStartDate`): a `last_used` of null with this set means
    /// "no use since then", not "unknown".
    pub last_used_tracked_since: Option<String>,
}

fn rfc3339(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

impl KeyListRow {
    pub fn new(k: &KeyFacts, now: DateTime<Utc>) -> Self {
        Self {
            key_id: k.key_id.clone(),
            arn: Some(k.arn.clone()).filter(|a| !a.is_empty()),
            account: k.account.clone(),
            region: k.region.clone(),
            aliases: (!k.unreadable.contains_key("aliases")).then(|| k.aliases.clone()),
            description: k.description.clone(),
            state: k.state.clone(),
            key_manager: k.key_manager.clone(),
            key_spec: k.key_spec.clone(),
            key_usage: k.key_usage.clone(),
            origin: k.origin.clone(),
            multi_region: k.multi_region,
            rotation_enabled: k.rotation_enabled,
            rotation_period_days: k.rotation_period_days,
            next_rotation: rfc3339(k.next_rotation),
            last_rotated: rfc3339(k.last_rotated),
            deletion_date: rfc3339(k.deletion_date),
            days_until_deletion: k.days_until_deletion(now),
            last_used: rfc3339(k.last_used),
            created: rfc3339(k.created),
            unreadable: k.unreadable.clone(),
            last_used_operation: k.last_used_operation.clone(),
            last_used_event_id: k.last_used_event_id.clone(),
            grants: k.grants.as_ref().map(crate::inventory::KeyGrants::count),
            grantees: k.grants.as_ref().map(|g| {
                g.kept
                    .iter()
                    .map(|g| g.grantee.clone().unwrap_or_default())
                    .collect()
            }),
            last_used_tracked_since: rfc3339(k.last_used_tracked_since),
        }
    }
}

/// `None` after every value: unknown and "not scheduled" go last.
fn some_first<T: Ord>(a: Option<&T>, b: Option<&T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The keys in the order `sort` asks for.
pub fn sorted(keys: &[KeyFacts], sort: KeySort) -> Vec<&KeyFacts> {
    let mut rows: Vec<&KeyFacts> = keys.iter().collect();
    let tie = |a: &KeyFacts, b: &KeyFacts| {
        (&a.account, &a.region, &a.key_id, &a.arn).cmp(&(&b.account, &b.region, &b.key_id, &b.arn))
    };
    rows.sort_by(|a, b| {
        let first = match sort {
            KeySort::Name => a.display_name().cmp(b.display_name()),
            KeySort::Created => some_first(a.created.as_ref(), b.created.as_ref()),
            KeySort::State => some_first(a.state.as_ref(), b.state.as_ref()),
            KeySort::Deletion => some_first(a.deletion_date.as_ref(), b.deletion_date.as_ref()),
            KeySort::LastUsed => some_first(a.last_used.as_ref(), b.last_used.as_ref()),
            KeySort::Region => Ordering::Equal,
        };
        first.then_with(|| tie(a, b))
    });
    rows
}

/// Every key as a pretty JSON array.
pub fn write_json(keys: &[&KeyFacts], now: DateTime<Utc>, mut out: impl Write) -> io::Result<()> {
    let rows: Vec<KeyListRow> = keys.iter().map(|k| KeyListRow::new(k, now)).collect();
    crate::text::json::to_writer_pretty(&mut out, &rows)?;
    writeln!(out)
}

const CSV_HEADER: [&str; 26] = [
    "key_id",
    "arn",
    "account",
    "region",
    "aliases",
    "description",
    "state",
    "key_manager",
    "key_spec",
    "key_usage",
    "origin",
    "multi_region",
    "rotation_enabled",
    "rotation_period_days",
    "next_rotation",
    "last_rotated",
    "deletion_date",
    "days_until_deletion",
    "last_used",
    "created",
    "unreadable",
    "last_used_operation",
    "last_used_event_id",
    "grants",
    "grantees",
    "last_used_tracked_since",
];

/// Every key as CSV: the JSON fields as columns, aliases joined with `;`,
/// unknown empty, every text cell escaped and defused against formulas.
pub fn write_csv(keys: &[&KeyFacts], now: DateTime<Utc>, out: impl Write) -> io::Result<()> {
    let text = |v: &Option<String>| for_csv(v.as_deref().unwrap_or_default()).into_owned();
    let shown = |v: Option<String>| v.unwrap_or_default();
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    for k in keys {
        let r = KeyListRow::new(k, now);
        let unreadable: Vec<String> = r
            .unreadable
            .iter()
            .map(|(f, why)| format!("{f}={why}"))
            .collect();
        w.write_record([
            text(&r.key_id),
            text(&r.arn),
            text(&r.account),
            text(&r.region),
            text(&r.aliases.as_ref().map(|a| a.join(";"))),
            text(&r.description),
            text(&r.state),
            text(&r.key_manager),
            text(&r.key_spec),
            text(&r.key_usage),
            text(&r.origin),
            shown(r.multi_region.map(|b| b.to_string())),
            shown(r.rotation_enabled.map(|b| b.to_string())),
            shown(r.rotation_period_days.map(|d| d.to_string())),
            shown(r.next_rotation),
            shown(r.last_rotated),
            shown(r.deletion_date),
            shown(r.days_until_deletion.map(|d| d.to_string())),
            shown(r.last_used),
            shown(r.created),
            for_csv(&unreadable.join(";")).into_owned(),
            text(&r.last_used_operation),
            text(&r.last_used_event_id),
            shown(r.grants.map(|n| n.to_string())),
            text(&r.grantees.as_ref().map(|g| g.join(";"))),
            shown(r.last_used_tracked_since),
        ])?;
    }
    w.flush()
}

/// What the table shows.
#[derive(Debug, Clone, Copy)]
pub struct KeyTableOptions {
    pub width: u16,
    /// Show AWS-managed keys too.
    pub all: bool,
}

/// Why a value is missing, in the table's words: the mark when there is
/// one (`no access`, `n/a`), else `?`.
fn missing(k: &KeyFacts, field: &str) -> String {
    match k.unreadable.get(field).map(String::as_str) {
        Some(mark @ ("no access" | "n/a")) => mark.to_string(),
        _ => "?".to_string(),
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn is_aws_managed(k: &KeyFacts) -> bool {
    k.key_manager.as_deref() == Some("AWS")
}

/// The rows for people: AWS-managed keys left out unless `all`, with a
/// line saying how many were.
pub fn write_table(
    keys: &[&KeyFacts],
    now: DateTime<Utc>,
    opts: KeyTableOptions,
    mut out: impl Write,
) -> io::Result<()> {
    const COLUMNS: [Column; 11] = [
        // Alias or key id: wrapping a UUID makes it unreadable.
        col("key", Fit::Fixed, 0),
        col("state", Fit::Fixed, 0),
        col("rotation", Fit::Fixed, 0),
        col("last used", Fit::Fixed, 2),
        col("grants", Fit::Fixed, 2),
        col("region", Fit::Fixed, 4),
        col("manager", Fit::Fixed, 5),
        col("last rotated", Fit::Fixed, 6),
        col("created", Fit::Fixed, 7),
        col("key id", Fit::Fixed, 8),
        col("description", Fit::Wrap, 3),
    ];
    let shown: Vec<&KeyFacts> = keys
        .iter()
        .copied()
        .filter(|k| opts.all || !is_aws_managed(k))
        .collect();
    let accounts: std::collections::BTreeSet<_> = keys.iter().map(|k| &k.account).collect();
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|k| {
            let region = match (&k.account, &k.region) {
                (Some(a), Some(r)) if accounts.len() > 1 => format!("{a}/{r}"),
                (_, Some(r)) => r.clone(),
                _ => "?".into(),
            };
            vec![
                name_cell(k),
                state_cell(k, now),
                rotation_cell(k),
                last_used_cell(k),
                k.grants
                    .as_ref()
                    .map_or_else(|| missing(k, "grants"), |g| g.count().to_string()),
                cell(&region),
                k.key_manager
                    .as_deref()
                    .map_or_else(|| missing(k, "key_manager"), cell),
                k.last_rotated.map_or_else(
                    || match k.unreadable.get("last_rotated") {
                        Some(_) => missing(k, "last_rotated"),
                        // ListKeyRotations answered with no rotation.
                        None => "never".into(),
                    },
                    day,
                ),
                k.created.map_or_else(|| missing(k, "created"), day),
                cell(k.key_id.as_deref().unwrap_or("?")),
                k.description
                    .as_deref()
                    .map_or_else(|| missing(k, "description"), cell),
            ]
        })
        .collect();
    render(&mut out, opts.width, &COLUMNS, &rows)?;
    let hidden = keys.len() - shown.len();
    if hidden > 0 {
        writeln!(
            out,
            " {hidden} AWS-managed key(s) not shown: --all shows them"
        )?;
    }
    Ok(())
}

/// When KMS last saw the key used; "none since DAY" when it tracked the
/// key from DAY and saw no use; `?` (or the mark) only when it cannot say.
fn last_used_cell(k: &KeyFacts) -> String {
    match (k.last_used, k.last_used_tracked_since) {
        (Some(t), _) => t.format("%Y-%m-%d %H:%M").to_string(),
        (None, Some(since)) if !k.unreadable.contains_key("last_used") => {
            format!("none since {}", day(since))
        }
        _ => missing(k, "last_used"),
    }
}

/// First alias (with how many more), else the key id; AWS-managed keys
/// marked, since they cannot be changed by the account.
fn name_cell(k: &KeyFacts) -> String {
    let mut name = cell(k.display_name());
    if k.aliases.len() > 1 {
        let _ = write!(name, " +{}", k.aliases.len() - 1);
    }
    if is_aws_managed(k) {
        name.push_str(" [AWS]");
    }
    name
}

fn state_cell(k: &KeyFacts, now: DateTime<Utc>) -> String {
    let Some(state) = k.state.as_deref() else {
        return missing(k, "state");
    };
    match (k.deletion_date, k.days_until_deletion(now)) {
        (Some(date), Some(days)) => format!("{} {} ({days} d)", cell(state), day(date)),
        _ => cell(state),
    }
}

fn rotation_cell(k: &KeyFacts) -> String {
    match (k.rotation_enabled, k.rotation_period_days) {
        (Some(true), Some(days)) => match k.next_rotation {
            Some(next) => format!("every {days} d, next {}", day(next)),
            None => format!("every {days} d"),
        },
        (Some(true), None) => "on".into(),
        (Some(false), _) => "off".into(),
        (None, _) => missing(k, "rotation_enabled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("test time").into()
    }

    fn key(id: &str, alias: &str, manager: &str) -> KeyFacts {
        KeyFacts {
            arn: format!("arn:aws:kms:us-east-1:111122223333:key/{id}"),
            key_id: Some(id.into()),
            account: Some("111122223333".into()),
            region: Some("us-east-1".into()),
            aliases: vec![alias.into()],
            key_manager: Some(manager.into()),
            state: Some("Enabled".into()),
            ..KeyFacts::default()
        }
    }

    #[test]
    fn json_spells_unknown_as_null_and_times_as_rfc3339() {
        let mut k = key("k1", "alias/a", "CUSTOMER");
        k.deletion_date = Some(t("2026-03-08T12:00:00Z"));
        k.unreadable.insert("aliases".into(), "no access".into());
        let row = KeyListRow::new(&k, t("2026-03-01T00:00:00Z"));
        let v = serde_json::to_value(&row).expect("json");
        assert_eq!(v["deletion_date"], "2026-03-08T12:00:00Z");
        assert_eq!(v["days_until_deletion"], 7);
        assert_eq!(
            v["aliases"],
            serde_json::Value::Null,
            "unreadable aliases are unknown"
        );
        assert_eq!(v["rotation_enabled"], serde_json::Value::Null);
        assert_eq!(v["unreadable"]["aliases"], "no access");
    }

    #[test]
    fn the_table_hides_aws_managed_keys_unless_asked() {
        let keys = [
            key("k1", "alias/mine", "CUSTOMER"),
            key("k2", "alias/aws/ebs", "AWS"),
        ];
        let refs: Vec<&KeyFacts> = keys.iter().collect();
        let now = t("2026-03-01T00:00:00Z");
        let mut out = Vec::new();
        let opts = KeyTableOptions {
            width: 200,
            all: false,
        };
        write_table(&refs, now, opts, &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(
            text.contains("alias/mine") && !text.contains("alias/aws/ebs"),
            "{text}"
        );
        assert!(text.contains("1 AWS-managed key(s) not shown"), "{text}");
        let mut out = Vec::new();
        write_table(&refs, now, KeyTableOptions { all: true, ..opts }, &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains("alias/aws/ebs [AWS]"), "{text}");
        assert!(!text.contains("not shown"), "{text}");
    }

    #[test]
    fn sorting_by_deletion_puts_the_soonest_first_and_the_rest_last() {
        let mut a = key("a", "alias/a", "CUSTOMER");
        let mut b = key("b", "alias/b", "CUSTOMER");
        let c = key("c", "alias/c", "CUSTOMER");
        a.deletion_date = Some(t("2026-03-20T00:00:00Z"));
        b.deletion_date = Some(t("2026-03-09T00:00:00Z"));
        let keys = [c, a, b];
        let order: Vec<_> = sorted(&keys, KeySort::Deletion)
            .iter()
            .map(|k| k.display_name().to_string())
            .collect();
        assert_eq!(order, ["alias/b", "alias/a", "alias/c"]);
        let order: Vec<_> = sorted(&keys, KeySort::Name)
            .iter()
            .map(|k| k.display_name().to_string())
            .collect();
        assert_eq!(order, ["alias/a", "alias/b", "alias/c"]);
    }
}
