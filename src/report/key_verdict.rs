//! `kmstop keys --verdict`: "is this key safe to delete?" for each key, as
//! JSON, CSV or a table. The verdict is the dashboard's
//! ([`crate::deletion::deletion_verdict`]), over the window's calls counted
//! by [`crate::deletion::window::KeyUseTally`]. [`KeyVerdictRow`] is the
//! JSON contract; CSV has its scalar fields and the evidence joined.

use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::deletion::{SeenCall, Verdict, WindowUse};
use crate::inventory::KeyFacts;
use crate::text::{escape_control, for_csv, for_terminal};

/// A call as the verdict cites it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallCited {
    pub time: String,
    pub principal: String,
    /// The AWS service that made the call for the principal (`invokedBy`).
    pub via: Option<String>,
    pub event_name: String,
    pub error_code: Option<String>,
}

/// An AWS service's successful cryptographic calls on the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceUse {
    pub service: String,
    pub calls: u64,
}

/// One key's verdict as `--format json` prints it. Later versions add
/// fields; they never rename one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyVerdictRow {
    pub key_id: Option<String>,
    pub arn: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub aliases: Vec<String>,
    pub state: Option<String>,
    pub key_manager: Option<String>,
    /// `in use`, `not safe`, `unknown` or `no use seen`.
    pub safety: &'static str,
    /// The safety and the strongest reason, one line.
    pub headline: String,
    /// Every fact the verdict rests on, one line each.
    pub evidence: Vec<String>,
    /// The span of event history read.
    pub window_from: String,
    pub window_until: String,
    /// Successful cryptographic calls in the window, and their principals.
    pub uses: u64,
    pub users: u64,
    /// Calls naming the key that were refused or failed.
    pub failed: u64,
    pub services: Vec<ServiceUse>,
    pub last_use: Option<CallCited>,
    pub last_failed: Option<CallCited>,
    /// KMS's own last use (`GetKeyLastUsage`) and when its tracking began.
    pub kms_last_used: Option<String>,
    pub last_used_tracked_since: Option<String>,
    /// Grants that still let principals use the key (`ListGrants`).
    pub grants: Option<u64>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn cited(c: &SeenCall) -> CallCited {
    CallCited {
        time: rfc3339(c.time),
        principal: c.principal.clone(),
        via: c.via.clone(),
        event_name: c.event_name.clone(),
        error_code: c.error_code.clone(),
    }
}

impl KeyVerdictRow {
    #[must_use]
    pub fn new(k: &KeyFacts, window: &WindowUse, verdict: &Verdict) -> Self {
        Self {
            key_id: k.key_id.clone(),
            arn: k.arn.clone(),
            account: k.account.clone(),
            region: k.region.clone(),
            aliases: k.aliases.clone(),
            state: k.state.clone(),
            key_manager: k.key_manager.clone(),
            safety: verdict.safety.label(),
            headline: verdict.headline.clone(),
            evidence: verdict.evidence.clone(),
            window_from: rfc3339(window.from),
            window_until: rfc3339(window.until),
            uses: window.uses,
            users: window.users,
            failed: window.failed,
            services: window
                .services
                .iter()
                .map(|(service, calls)| ServiceUse {
                    service: service.clone(),
                    calls: *calls,
                })
                .collect(),
            last_use: window.last_use.as_ref().map(cited),
            last_failed: window.last_failed.as_ref().map(cited),
            kms_last_used: k.last_used.map(rfc3339),
            last_used_tracked_since: k.last_used_tracked_since.map(rfc3339),
            grants: k.grants.as_ref().map(crate::inventory::KeyGrants::count),
        }
    }
}

/// Every key's verdict as a JSON array.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_json(rows: &[KeyVerdictRow], mut out: impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, rows)?;
    writeln!(out)
}

const CSV_HEADER: [&str; 18] = [
    "key_id",
    "arn",
    "account",
    "region",
    "aliases",
    "state",
    "safety",
    "headline",
    "window_from",
    "window_until",
    "uses",
    "users",
    "failed",
    "services",
    "last_use_time",
    "last_use_principal",
    "grants",
    "evidence",
];

/// Every key's verdict as CSV: services as `service=calls;…`, the
/// evidence joined with ` | `, every text cell escaped and defused.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_csv(rows: &[KeyVerdictRow], out: impl Write) -> io::Result<()> {
    let text = |v: &str| for_csv(v).into_owned();
    let opt = |v: &Option<String>| for_csv(v.as_deref().unwrap_or_default()).into_owned();
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    for r in rows {
        let services: Vec<String> = r
            .services
            .iter()
            .map(|s| format!("{}={}", s.service, s.calls))
            .collect();
        w.write_record([
            opt(&r.key_id),
            text(&r.arn),
            opt(&r.account),
            opt(&r.region),
            text(&r.aliases.join(";")),
            opt(&r.state),
            r.safety.to_owned(),
            text(&r.headline),
            r.window_from.clone(),
            r.window_until.clone(),
            r.uses.to_string(),
            r.users.to_string(),
            r.failed.to_string(),
            text(&services.join(";")),
            r.last_use
                .as_ref()
                .map(|c| c.time.clone())
                .unwrap_or_default(),
            text(r.last_use.as_ref().map_or("", |c| c.principal.as_str())),
            r.grants.map(|g| g.to_string()).unwrap_or_default(),
            text(&r.evidence.join(" | ")),
        ])?;
    }
    w.flush()
}

/// Every key's verdict for a person: the key, the headline, the evidence
/// one line each, every text escaped for the terminal.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_table(rows: &[KeyVerdictRow], width: u16, mut out: impl Write) -> io::Result<()> {
    let width = usize::from(width.max(40));
    let shown = |s: &str, indent: usize| for_terminal(s, width.saturating_sub(indent));
    // Evidence is wrapped, not cut: every word of it is the point.
    let wrapped = |s: &str, first: &str, rest: &str| {
        let text = escape_control(s);
        textwrap::fill(
            &text,
            textwrap::Options::new(width)
                .initial_indent(first)
                .subsequent_indent(rest),
        )
    };
    for r in rows {
        let name = r.aliases.first().or(r.key_id.as_ref()).unwrap_or(&r.arn);
        let place = [r.key_id.as_deref(), r.region.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(out, "{}", shown(&format!("{name} ({place})"), 0))?;
        writeln!(out, "{}", wrapped(&r.headline, "  delete? ", "          "))?;
        for line in &r.evidence {
            writeln!(out, "{}", wrapped(line, "    · ", "      "))?;
        }
        writeln!(out)?;
    }
    if rows.is_empty() {
        writeln!(out, "No keys to judge.")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile_row() -> KeyVerdictRow {
        KeyVerdictRow {
            key_id: Some("k-1".into()),
            arn: "arn:aws:kms:us-east-1:111122223333:key/k-1".into(),
            account: Some("111122223333".into()),
            region: Some("us-east-1".into()),
            aliases: vec!["alias/\u{1b}[2Jx".into()],
            state: Some("Enabled".into()),
            key_manager: Some("CUSTOMER".into()),
            safety: "in use",
            headline: "in use: used Decrypt 3 s ago by =cmd|' /C calc'!A0".into(),
            evidence: vec![
                "window: 1 cryptographic call(s) by 1 principal(s)".into(),
                "AWS services (invokedBy): \u{1b}]0;pwned\u{7} 1".into(),
            ],
            window_from: "2026-12-01T00:00:00Z".into(),
            window_until: "2026-12-01T01:00:00Z".into(),
            uses: 1,
            users: 1,
            failed: 0,
            services: vec![ServiceUse {
                service: "\u{1b}]0;pwned\u{7}".into(),
                calls: 1,
            }],
            last_use: None,
            last_failed: None,
            kms_last_used: None,
            last_used_tracked_since: None,
            grants: Some(0),
        }
    }

    #[test]
    fn every_face_escapes_what_the_events_wrote() {
        let rows = [hostile_row()];
        let mut table = Vec::new();
        write_table(&rows, 60, &mut table).expect("writes");
        let table = String::from_utf8(table).expect("utf-8");
        assert!(
            !table.contains('\u{1b}') && !table.contains('\u{7}'),
            "{table:?}"
        );
        assert!(table.contains("delete? in use: used Decrypt"), "{table}");
        assert!(table.lines().all(|l| l.chars().count() <= 60), "{table}");

        let mut csv = Vec::new();
        write_csv(&rows, &mut csv).expect("writes");
        let csv = String::from_utf8(csv).expect("utf-8");
        assert!(!csv.contains('\u{1b}'), "{csv:?}");
        assert!(csv.contains("\\x1b]0;pwned"), "{csv}");

        let mut json = Vec::new();
        write_json(&rows, &mut json).expect("writes");
        let back: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(back[0]["services"][0]["calls"], 1);
        assert_eq!(back[0]["safety"], "in use");
    }
}
