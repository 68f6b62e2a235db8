//! `--format csv`: one section of the report as one CSV table, every text
//! cell escaped and defused against formula injection.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use clap::ValueEnum;

use super::Report;
use crate::alert::AlertState;
use crate::text::for_csv;

/// Which table of the report to print (CSV holds one table per file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Section {
    #[default]
    Principals,
    /// Alerts from replaying the rules over the events.
    Alerts,
    Keys,
    /// Principals that were refused, most refused first.
    Denied,
    ControlPlane,
    EventNames,
    /// The calls --who / --access-key selected, in time order.
    Calls,
    /// Data calls by the resource their encryption context names (who
    /// decrypted what).
    Resources,
    /// Request rates against the KMS request quotas, per calling account
    /// and region.
    Quota,
    /// Estimated request cost per paying account, principal and key.
    Cost,
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Writes `section` of `report` as CSV.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_csv(report: &Report, section: Section, out: impl Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    match section {
        Section::Principals | Section::Denied => {
            w.write_record([
                "principal",
                "events",
                "decrypt",
                "denied",
                "keys",
                "first_seen",
                "last_seen",
            ])?;
            for p in super::table::rows_for(report, section) {
                w.write_record([
                    for_csv(&p.principal).as_ref(),
                    &p.events.to_string(),
                    &p.decrypt.to_string(),
                    &p.denied.to_string(),
                    &p.keys.to_string(),
                    &time(p.first_seen),
                    &time(p.last_seen),
                ])?;
            }
        }
        Section::Keys => {
            w.write_record(["key", "arn", "events", "denied", "principals"])?;
            for k in &report.keys {
                w.write_record([
                    for_csv(&k.key).as_ref(),
                    &for_csv(&k.arn),
                    &k.events.to_string(),
                    &k.denied.to_string(),
                    &k.principals.to_string(),
                ])?;
            }
        }
        Section::ControlPlane => {
            w.write_record([
                "time",
                "event_name",
                "principal",
                "key",
                "key_arn",
                "alias",
                "outcome",
                "error_code",
                "event_id",
            ])?;
            for c in &report.control_plane {
                let opt =
                    |s: &Option<String>| for_csv(s.as_deref().unwrap_or_default()).into_owned();
                w.write_record([
                    time(Some(c.time)).as_str(),
                    &for_csv(&c.event_name),
                    &for_csv(&c.principal),
                    &opt(&c.key),
                    &opt(&c.key_arn),
                    &opt(&c.alias),
                    c.outcome.as_str(),
                    &opt(&c.error_code),
                    &for_csv(&c.event_id),
                ])?;
            }
        }
        Section::Alerts => write_alerts(report, &mut w)?,
        Section::Calls => write_calls(report, &mut w)?,
        Section::Resources => write_resources(report, &mut w)?,
        Section::Quota => super::usage_out::write_quota_csv(report, &mut w)?,
        Section::Cost => super::usage_out::write_cost_csv(report, &mut w)?,
        Section::EventNames => {
            w.write_record(["event_name", "events"])?;
            for (name, n) in &report.event_names {
                w.write_record([for_csv(name).as_ref(), &n.to_string()])?;
            }
        }
    }
    w.flush()
}

/// The selected calls; without a selection, only the header (a script
/// reading it gets columns, not a surprise).
fn write_calls<W: Write>(report: &Report, w: &mut csv::Writer<W>) -> csv::Result<()> {
    w.write_record([
        "time",
        "event_name",
        "outcome",
        "error_code",
        "principal",
        "principal_account",
        "access_key_id",
        "session_name",
        "source_ip",
        "user_agent",
        "region",
        "key",
        "key_arn",
        "key_account",
        "event_id",
    ])?;
    let opt = |s: &Option<String>| for_csv(s.as_deref().unwrap_or_default()).into_owned();
    for c in report.who.iter().flat_map(|w| &w.calls) {
        w.write_record([
            time(Some(c.time)).as_str(),
            &for_csv(&c.event_name),
            c.outcome.as_str(),
            &opt(&c.error_code),
            &for_csv(&c.principal),
            &opt(&c.principal_account),
            &opt(&c.access_key_id),
            &opt(&c.session_name),
            &opt(&c.source_ip),
            &opt(&c.user_agent),
            &opt(&c.region),
            &opt(&c.key),
            &opt(&c.key_arn),
            &opt(&c.key_account),
            &for_csv(&c.event_id),
        ])?;
    }
    Ok(())
}

/// Who decrypted what: data calls by the resource their context names.
fn write_resources<W: Write>(report: &Report, w: &mut csv::Writer<W>) -> csv::Result<()> {
    w.write_record([
        "service",
        "resource",
        "bucket_key",
        "calls",
        "denied",
        "principals",
        "keys",
        "first_seen",
        "last_seen",
        "top_callers",
        "more_callers",
        "callers_sampled",
    ])?;
    for r in &report.resources {
        w.write_record([
            for_csv(&r.service).as_ref(),
            &for_csv(&r.resource),
            if r.bucket_key { "true" } else { "false" },
            &r.calls.to_string(),
            &r.denied.to_string(),
            &r.principals.to_string(),
            &r.keys.to_string(),
            &time(r.first_seen),
            &time(r.last_seen),
            &for_csv(&top_callers(r)),
            &r.more_callers.to_string(),
            if r.callers_sampled { "true" } else { "false" },
        ])?;
    }
    Ok(())
}

/// A resource's top callers in one cell: `principal=calls/denied`, `;`
/// between them (an ARN holds `:` and `/`, never `;` or `=`… unless
/// hostile: then the row is still one cell, quoted).
fn top_callers(r: &crate::report::resources::ResourceRow) -> String {
    r.top_callers
        .iter()
        .map(|c| format!("{}={}/{}", c.principal, c.calls, c.denied))
        .collect::<Vec<_>>()
        .join(";")
}

fn write_alerts<W: Write>(report: &Report, w: &mut csv::Writer<W>) -> csv::Result<()> {
    w.write_record([
        "rule",
        "severity",
        "state",
        "group",
        "count",
        "first",
        "last",
        "title",
        "sample_event_ids",
    ])?;
    for a in &report.alerts {
        w.write_record([
            for_csv(&a.rule).as_ref(),
            a.severity.as_str(),
            match a.state {
                AlertState::Firing => "firing",
                AlertState::Resolved => "resolved",
            },
            &for_csv(&a.group),
            &a.count.to_string(),
            &time(Some(a.first)),
            &time(Some(a.last)),
            &for_csv(&a.title),
            &for_csv(&a.sample_event_ids.join(" ")),
        ])?;
    }
    Ok(())
}
