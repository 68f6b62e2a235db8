//! The quota and cost sections in every face of the report: table, CSV,
//! and the blocks Markdown and HTML lay out. Every text from an event
//! (accounts, regions, principals, keys) is escaped by the face.

use std::io::{self, Write};

use chrono::{DateTime, Utc};

use super::blocks::{Block, Cell, data, own, time};
use super::table::{Fit, cell, col, render};
use super::{QuotaRow, Report, TableOptions};
use crate::text::for_csv;

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn quota_text(r: &QuotaRow) -> String {
    r.quota_text()
}

fn pct_text(r: &QuotaRow) -> String {
    r.pct_text()
}

/// kmstop's own sentences about the sections: what was overridden, left
/// out or not subtracted.
#[must_use]
pub fn notes(report: &Report) -> Vec<String> {
    let (q, c) = (&report.quota, &report.cost);
    if !q.known {
        return vec![
            "Quota and cost: not known to this source (it returns counts, not each request)."
                .to_owned(),
        ];
    }
    let mut out = vec![format!(
        "Quotas: the documented defaults ({}), per calling account and region; peaks count every request, throttled ones included.",
        q.defaults_from
    )];
    if !q.overrides.is_empty() {
        out.push(format!(
            "Quotas overridden with --quota: {}.",
            q.overrides.join(", ")
        ));
    }
    if q.not_rated_requests > 0 {
        out.push(format!(
            "Not rated: {} requests of operations no documented quota covers (KMS's own calls, names kmstop does not know), counted per operation, not against a quota.",
            q.not_rated_requests
        ));
    }
    if !q.exact {
        out.push(format!(
            "Rates not exact past {} series-seconds: {} requests were not rated and peaks may read low.",
            q.series_seconds_cap, q.requests_not_rated
        ));
    }
    out.push(format!(
        "Cost: {} requests, {} at the prices of {}, billed to the calling account (also for another account's key). The free tier (20,000 requests a month per account) is not subtracted.",
        c.requests, c.usd, c.prices_from
    ));
    if !c.overrides.is_empty() {
        out.push(format!(
            "Prices overridden with --price: {}.",
            c.overrides.join(", ")
        ));
    }
    if c.unpriced_requests > 0 {
        out.push(format!(
            "{} GenerateDataKeyPair requests are not priced (ECC or RSA pairs cost differently; set --price GenerateDataKeyPair=USD).",
            c.unpriced_requests
        ));
    }
    out
}

/// The quota and cost blocks for Markdown and HTML.
#[must_use]
pub fn blocks(report: &Report, top: usize) -> Vec<Block> {
    let (q, c) = (&report.quota, &report.cost);
    let empty = if q.known {
        None
    } else {
        Some("Not known to this source.")
    };
    let quota_rows: Vec<Vec<Cell>> = q
        .rows
        .iter()
        .take(top)
        .map(|r| {
            vec![
                data(&r.account),
                data(&r.region),
                own(&r.family),
                own(&quota_text(r)),
                own(&r.peak_per_second),
                own(&time(r.peak_second)),
                own(&r.peak_minute_avg),
                own(&pct_text(r)),
                own(&r.throttled),
            ]
        })
        .collect();
    let principal_rows: Vec<Vec<Cell>> = c
        .principals
        .iter()
        .take(top)
        .map(|p| {
            vec![
                data(&p.principal),
                data(&p.account),
                own(&p.requests),
                own(&p.usd),
            ]
        })
        .collect();
    let key_rows: Vec<Vec<Cell>> = c
        .keys
        .iter()
        .take(top)
        .map(|k| {
            vec![
                data(&k.arn),
                own(&k.requests),
                own(&k.cross_account_requests),
                own(&k.usd),
            ]
        })
        .collect();
    vec![
        Block {
            title: "Request quotas",
            shown: quota_rows.len(),
            total: q.rows.len(),
            headers: &[
                "account",
                "region",
                "quota family",
                "quota /s",
                "peak /s",
                "peak second",
                "peak minute avg /s",
                "% of quota",
                "throttled",
            ],
            cut: "top",
            rows: quota_rows,
            empty,
        },
        not_rated_block(report, top, empty),
        Block {
            title: "Cost by principal",
            shown: principal_rows.len(),
            total: c.principals.len(),
            headers: &["principal", "billed account", "requests", "est. USD"],
            cut: "top",
            rows: principal_rows,
            empty,
        },
        Block {
            title: "Cost by key",
            shown: key_rows.len(),
            total: c.keys.len(),
            headers: &[
                "key",
                "requests",
                "from other accounts",
                "est. USD (callers')",
            ],
            cut: "top",
            rows: key_rows,
            empty,
        },
    ]
}

/// The requests no quota rates, per operation.
fn not_rated_block(report: &Report, top: usize, empty: Option<&'static str>) -> Block {
    let q = &report.quota;
    let rows: Vec<Vec<Cell>> = q
        .not_rated
        .iter()
        .take(top)
        .map(|r| vec![data(&r.operation), own(&r.reason.label()), own(&r.requests)])
        .collect();
    Block {
        title: "Requests not rated",
        shown: rows.len(),
        total: q.not_rated.len(),
        headers: &["operation", "why", "requests"],
        cut: "top",
        rows,
        empty: empty.or(Some("None: every request counted against a quota.")),
    }
}

fn heading(out: &mut impl Write, title: &str, shown: usize, total: usize) -> io::Result<()> {
    if shown < total {
        writeln!(out, "\n{title} (top {shown} of {total})")
    } else {
        writeln!(out, "\n{title} ({total})")
    }
}

fn write_notes(report: &Report, opts: TableOptions, out: &mut impl Write) -> io::Result<()> {
    for note in notes(report) {
        writeln!(out, "{}", textwrap::fill(&note, usize::from(opts.width)))?;
    }
    Ok(())
}

/// `--section quota` as a table.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_quota_table(
    report: &Report,
    opts: TableOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    const COLUMNS: [super::table::Column; 9] = [
        col("account", Fit::Wrap, 0),
        col("region", Fit::Wrap, 0),
        col("family", Fit::Fixed, 0),
        col("quota/s", Fit::Fixed, 0),
        col("peak/s", Fit::Number, 0),
        col("peak second", Fit::Fixed, 2),
        col("peak min avg/s", Fit::Fixed, 1),
        col("% quota", Fit::Fixed, 0),
        col("throttled", Fit::Number, 0),
    ];
    let rows = &report.quota.rows;
    heading(out, "REQUEST QUOTAS", rows.len().min(opts.top), rows.len())?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .take(opts.top)
        .map(|r| {
            vec![
                cell(&r.account),
                cell(&r.region),
                r.family.to_owned(),
                quota_text(r),
                r.peak_per_second.to_string(),
                r.peak_second.map_or_else(
                    || "-".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
                ),
                r.peak_minute_avg.to_string(),
                pct_text(r),
                r.throttled.to_string(),
            ]
        })
        .collect();
    render(out, opts.width, &COLUMNS, &cells)?;
    write_not_rated_table(report, opts, out)?;
    write_notes(report, opts, out)
}

/// The requests no quota rates, per operation (nothing when none).
fn write_not_rated_table(
    report: &Report,
    opts: TableOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    const COLUMNS: [super::table::Column; 3] = [
        col("operation", Fit::Wrap, 0),
        col("why", Fit::Fixed, 0),
        col("requests", Fit::Number, 0),
    ];
    let rows = &report.quota.not_rated;
    if rows.is_empty() {
        return Ok(());
    }
    heading(out, "NOT RATED", rows.len().min(opts.top), rows.len())?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .take(opts.top)
        .map(|r| {
            vec![
                cell(&r.operation),
                r.reason.label().to_owned(),
                r.requests.to_string(),
            ]
        })
        .collect();
    render(out, opts.width, &COLUMNS, &cells)?;
    writeln!(out)
}

/// `--section cost` as tables: per principal, per key.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_cost_table(
    report: &Report,
    opts: TableOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    const PRINCIPALS: [super::table::Column; 4] = [
        col("principal", Fit::Wrap, 0),
        col("billed account", Fit::Wrap, 1),
        col("requests", Fit::Number, 0),
        col("est. USD", Fit::Number, 0),
    ];
    const KEYS: [super::table::Column; 4] = [
        col("key", Fit::Wrap, 0),
        col("requests", Fit::Number, 0),
        col("cross-account", Fit::Number, 1),
        col("est. USD", Fit::Number, 0),
    ];
    let c = &report.cost;
    heading(
        out,
        "COST BY PRINCIPAL",
        c.principals.len().min(opts.top),
        c.principals.len(),
    )?;
    let cells: Vec<Vec<String>> = c
        .principals
        .iter()
        .take(opts.top)
        .map(|p| {
            vec![
                cell(&p.principal),
                cell(&p.account),
                p.requests.to_string(),
                p.usd.to_string(),
            ]
        })
        .collect();
    render(out, opts.width, &PRINCIPALS, &cells)?;
    heading(out, "COST BY KEY", c.keys.len().min(opts.top), c.keys.len())?;
    let cells: Vec<Vec<String>> = c
        .keys
        .iter()
        .take(opts.top)
        .map(|k| {
            vec![
                cell(&k.key),
                k.requests.to_string(),
                k.cross_account_requests.to_string(),
                k.usd.to_string(),
            ]
        })
        .collect();
    render(out, opts.width, &KEYS, &cells)?;
    writeln!(out)?;
    write_notes(report, opts, out)
}

/// `--section quota` as CSV.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_quota_csv<W: Write>(report: &Report, w: &mut csv::Writer<W>) -> csv::Result<()> {
    w.write_record([
        "account",
        "region",
        "family",
        "quota",
        "quota_overridden",
        "requests",
        "peak_per_second",
        "peak_second",
        "peak_minute_avg",
        "peak_minute",
        "pct_of_quota",
        "throttled",
        "operation",
        "not_rated",
    ])?;
    for r in &report.quota.rows {
        w.write_record([
            for_csv(&r.account).as_ref(),
            &for_csv(&r.region),
            r.family,
            &r.quota.map(|q| q.to_string()).unwrap_or_default(),
            if r.quota_overridden { "true" } else { "false" },
            &r.requests.to_string(),
            &r.peak_per_second.to_string(),
            &opt_time(r.peak_second),
            &r.peak_minute_avg.to_string(),
            &opt_time(r.peak_minute),
            &r.pct_of_quota.map(|p| p.to_string()).unwrap_or_default(),
            &r.throttled.to_string(),
            "",
            "",
        ])?;
    }
    // The requests no quota rates: one row per operation, no family.
    for r in &report.quota.not_rated {
        w.write_record([
            "",
            "",
            "",
            "",
            "",
            &r.requests.to_string(),
            "",
            "",
            "",
            "",
            "",
            "",
            &for_csv(&r.operation),
            r.reason.label(),
        ])?;
    }
    Ok(())
}

/// `--section cost` as CSV: one row per paying account, principal and key,
/// and the total, told apart by `kind`.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_cost_csv<W: Write>(report: &Report, w: &mut csv::Writer<W>) -> csv::Result<()> {
    w.write_record([
        "kind",
        "name",
        "billed_account",
        "requests",
        "usd",
        "unpriced_requests",
        "cross_account_requests",
    ])?;
    let c = &report.cost;
    let usd = |u: super::Usd| serde_json::to_string(&u).unwrap_or_default();
    w.write_record([
        "total",
        "",
        "",
        &c.requests.to_string(),
        &usd(c.usd),
        &c.unpriced_requests.to_string(),
        "",
    ])?;
    for a in &c.accounts {
        w.write_record([
            "account",
            &for_csv(&a.account),
            &for_csv(&a.account),
            &a.requests.to_string(),
            &usd(a.usd),
            &a.unpriced_requests.to_string(),
            "",
        ])?;
    }
    for p in &c.principals {
        w.write_record([
            "principal",
            &for_csv(&p.principal),
            &for_csv(&p.account),
            &p.requests.to_string(),
            &usd(p.usd),
            &p.unpriced_requests.to_string(),
            "",
        ])?;
    }
    for k in &c.keys {
        w.write_record([
            "key",
            &for_csv(&k.arn),
            "",
            &k.requests.to_string(),
            &usd(k.usd),
            &k.unpriced_requests.to_string(),
            &k.cross_account_requests.to_string(),
        ])?;
    }
    Ok(())
}
