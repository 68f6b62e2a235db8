//! `e`: the current view as a file's contents. Tables become CSV (cells
//! escaped and formula-proofed by [`crate::text::for_csv`]); event lists
//! become JSONL, one record per line (the original record when held); the
//! Quota & cost pane becomes JSON, its `quota` and `cost` as the report's.
//! Writing the file is the loop's job.

use crate::app::log::EventKey;
use crate::app::{App, Pane, Section};
use crate::text::for_csv;

/// The file extension and contents for the current view.
pub fn current_view(app: &App) -> (&'static str, String, &'static str) {
    let s = &app.snapshot;
    if let (Some(d), Some(v)) = (app.drills.last(), &s.drill) {
        return drill_view(app, d.current(), v);
    }
    match app.focus {
        Pane::Principals => (
            "csv",
            csv(
                &principal_header(),
                s.principals.iter().map(principal_record),
            ),
            "principals",
        ),
        Pane::Keys => (
            "csv",
            csv(&key_header(), s.keys.iter().map(key_record)),
            "keys",
        ),
        Pane::Denied => (
            "csv",
            csv(
                &["kind", "name", "count", "spike_factor"],
                s.denied_rows.iter().map(|r| {
                    vec![
                        r.kind.label().to_owned(),
                        r.name.to_string(),
                        r.count.to_string(),
                        r.factor.map(|f| format!("{f:.2}")).unwrap_or_default(),
                    ]
                }),
            ),
            "denied",
        ),
        Pane::Alerts => (
            "csv",
            csv(
                &[
                    "state", "severity", "rule", "group", "count", "first", "last", "resolved",
                ],
                s.alerts.iter().map(|a| {
                    let e = &a.episode;
                    vec![
                        if a.firing { "firing" } else { "resolved" }.to_owned(),
                        e.severity.to_string(),
                        e.rule.clone(),
                        e.group.clone(),
                        e.count.to_string(),
                        e.first.to_rfc3339(),
                        e.last.to_rfc3339(),
                        e.resolved.map(|r| r.to_rfc3339()).unwrap_or_default(),
                    ]
                }),
            ),
            "alerts",
        ),
        Pane::Events => (
            "jsonl",
            jsonl(app, s.events.iter().map(|e| e.key)),
            "events",
        ),
        Pane::Resources => (
            "csv",
            csv(
                &resource_header(),
                s.resources.rows.iter().map(resource_record),
            ),
            "resources",
        ),
        Pane::Usage => ("json", usage_json(app), "quota-cost"),
    }
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// The report's `resources` columns.
fn resource_header() -> Vec<&'static str> {
    vec![
        "service",
        "resource",
        "bucket_key",
        "calls",
        "denied",
        "principals",
        "keys",
        "last_seen",
    ]
}

fn resource_record(r: &crate::app::resources::ResourceRow) -> Vec<String> {
    vec![
        r.service.to_owned(),
        r.name.to_string(),
        r.bucket_key.to_string(),
        r.calls.to_string(),
        r.denied.to_string(),
        r.principals.to_string(),
        r.keys.to_string(),
        time(r.last),
    ]
}

/// A drill-down section as a file.
fn drill_view(
    app: &App,
    section: Section,
    v: &crate::app::query::DrillView,
) -> (&'static str, String, &'static str) {
    match section {
        Section::Events => (
            "jsonl",
            jsonl(app, v.events.iter().map(|e| e.key)),
            "drill-events",
        ),
        Section::Keys => (
            "csv",
            csv(&key_header(), v.keys.iter().map(key_record)),
            "drill-keys",
        ),
        Section::Principals => (
            "csv",
            csv(
                &principal_header(),
                v.principals.iter().map(principal_record),
            ),
            "drill-principals",
        ),
        Section::Contexts => (
            "csv",
            csv(
                &["kind", "context_key", "value", "count"],
                v.contexts.iter().map(|c| {
                    vec![
                        c.kind.to_owned(),
                        c.key.clone(),
                        c.value.clone(),
                        c.count.to_string(),
                    ]
                }),
            ),
            "drill-contexts",
        ),
        Section::Callers => (
            "csv",
            csv(
                &["principal", "calls", "denied", "last_seen"],
                v.callers.iter().map(|c| {
                    vec![
                        c.name.clone(),
                        c.calls.to_string(),
                        c.denied.to_string(),
                        time(c.last),
                    ]
                }),
            ),
            "drill-callers",
        ),
        Section::Resources => (
            "csv",
            csv(&resource_header(), v.resources.iter().map(resource_record)),
            "drill-resources",
        ),
    }
}

/// The Quota & cost pane's answer as the report's JSON writes its `quota`
/// and `cost`, with the window it covers.
fn usage_json(app: &App) -> String {
    let a = &app.snapshot.usage.answer;
    let value = serde_json::json!({
        "from": a.from,
        "until": a.until,
        "events": a.events,
        "covers": a.coverage.note().unwrap_or_else(|| "every event of the window".to_owned()),
        "quota": a.quota,
        "cost": a.cost,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

fn principal_header() -> Vec<&'static str> {
    vec![
        "principal",
        "calls",
        "decrypt",
        "denied",
        "rate_1m",
        "rate_5m",
        "rate_15m",
        "keys",
        "first_seen",
        "last_seen",
    ]
}

fn principal_record(r: &crate::app::query::PrincipalRow) -> Vec<String> {
    let t =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    vec![
        r.name.to_string(),
        r.calls.to_string(),
        r.decrypt.to_string(),
        r.denied.to_string(),
        format!("{:.2}", r.rates[0]),
        format!("{:.2}", r.rates[1]),
        format!("{:.2}", r.rates[2]),
        r.keys.to_string(),
        t(r.first),
        t(r.last),
    ]
}

fn key_header() -> Vec<&'static str> {
    vec![
        "key",
        "arn",
        "state",
        "deletion_days",
        "calls",
        "denied",
        "principals",
        "last_seen",
    ]
}

fn key_record(r: &crate::app::query::KeyRow) -> Vec<String> {
    vec![
        r.label.clone(),
        r.arn.clone(),
        r.facts
            .as_ref()
            .and_then(|f| f.state.clone())
            .unwrap_or_default(),
        r.deletion_days.map(|d| d.to_string()).unwrap_or_default(),
        r.calls.to_string(),
        r.denied.to_string(),
        r.principals.to_string(),
        r.last_seen.map(|t| t.to_rfc3339()).unwrap_or_default(),
    ]
}

fn csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(r.iter().map(|c| for_csv(c).into_owned()));
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

fn jsonl(app: &App, events: impl Iterator<Item = EventKey>) -> String {
    let mut out = String::new();
    for key in events {
        let Some(entry) = app.data.log.get(key) else {
            continue;
        };
        let v = entry.event.view();
        let line = app
            .record_of(entry)
            .ok()
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(&raw).ok())
            .map_or_else(
                || {
                    serde_json::json!({
                        "eventTime": v.time_text, "eventID": v.event_id, "eventName": v.event_name,
                        "principal": v.principal, "key": v.key.as_ref().map(|k| k.arn.as_ref()),
                        "outcome": v.outcome.as_str(), "errorCode": v.error_code,
                        "sourceIPAddress": v.source_ip, "userAgent": v.user_agent, "awsRegion": v.region,
                    })
                    .to_string()
                },
                |val| val.to_string(),
            );
        out.push_str(&line);
        out.push('\n');
    }
    out
}
