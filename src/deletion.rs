//! "Is this key safe to delete?": a plain verdict from what the events of
//! the window show, what KMS says of the key's last use, and the grants
//! that still exist, with the evidence for each part of it.
//!
//! Deleting a key destroys every ciphertext made under it, so the verdict
//! leans to "not safe": any use, any grant, any denied call that says
//! someone still wants the key, or any part kmstop could not read, keeps
//! the key from being called safe.

use chrono::{DateTime, Duration, Utc};

use crate::inventory::KeyFacts;

/// The operations `GetKeyLastUsage` tracks: a key's cryptographic use.
pub const CRYPTOGRAPHIC_OPERATIONS: &[&str] = &[
    "Decapsulate",
    "Decrypt",
    "DeriveSharedSecret",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];

#[must_use]
pub fn is_cryptographic(event_name: &str) -> bool {
    CRYPTOGRAPHIC_OPERATIONS.contains(&event_name)
}

/// One call of the window, as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenCall {
    pub time: DateTime<Utc>,
    pub principal: String,
    /// The AWS service that made the call for the principal
    /// (`invokedBy`), e.g. `s3.amazonaws.com`.
    pub via: Option<String>,
    pub event_name: String,
    pub error_code: Option<String>,
}

/// What the events of the window say of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowUse {
    /// The span the counts cover: the verdict says nothing of before it.
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Successful cryptographic calls, and how many principals made them.
    pub uses: u64,
    pub users: u64,
    /// Calls naming the key that were refused or failed (a disabled or
    /// pending-deletion key fails every call): someone still wants it.
    pub failed: u64,
    /// The newest successful cryptographic call, when the events at hand
    /// hold it (counts may outlive the events kept for drill-down).
    pub last_use: Option<SeenCall>,
    pub last_failed: Option<SeenCall>,
    /// The AWS services that made the successful cryptographic calls for
    /// a principal (`invokedBy`), with their calls, most first.
    pub services: Vec<(String, u64)>,
    /// The services were read from fewer calls than `uses` counts (the
    /// events kept for drill-down do not reach back over the window).
    pub services_partial: bool,
}

/// How safe deleting the key looks, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Safety {
    /// Used in the window, or by KMS's account within it.
    InUse,
    /// Not used, but something would break or is still asked for: grants,
    /// refused or failed calls.
    NotSafe,
    /// A part could not be read: no verdict.
    Unknown,
    /// Nothing seen, nothing holding it.
    NoUseSeen,
}

impl Safety {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::InUse => "in use",
            Self::NotSafe => "not safe",
            Self::Unknown => "unknown",
            Self::NoUseSeen => "no use seen",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub safety: Safety,
    /// One line: the label and the strongest reason.
    pub headline: String,
    /// Every fact the verdict rests on, one line each.
    pub evidence: Vec<String>,
}

/// A duration as a person says it: `45 s`, `12 min`, `3 h`, `5 d`.
#[must_use]
pub fn age(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=89 => format!("{s} s"),
        90..=5_399 => format!("{} min", (s + 30) / 60),
        5_400..=172_799 => format!("{} h", (s + 1_800) / 3_600),
        _ => format!("{} d", (s + 43_200) / 86_400),
    }
}

fn call_text(c: &SeenCall, now: DateTime<Utc>) -> String {
    let via = c
        .via
        .as_deref()
        .map(|v| format!(" via {v}"))
        .unwrap_or_default();
    let error = c
        .error_code
        .as_deref()
        .map(|e| format!(", {e}"))
        .unwrap_or_default();
    format!(
        "{} {} ago by {}{via}{error}",
        c.event_name,
        age(now - c.time),
        c.principal
    )
}

/// `2025-05-20 10:00–11:59 UTC`, the date said once when it is one day.
fn span(from: DateTime<Utc>, until: DateTime<Utc>) -> String {
    if from.date_naive() == until.date_naive() {
        format!(
            "{}–{} UTC",
            from.format("%Y-%m-%d %H:%M"),
            until.format("%H:%M")
        )
    } else {
        format!(
            "{}–{} UTC",
            from.format("%Y-%m-%d %H:%M"),
            until.format("%Y-%m-%d %H:%M")
        )
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// What KMS says of the last use: (evidence line, used within the
/// window?, readable?).
fn kms_last_use(
    facts: Option<&KeyFacts>,
    window: &WindowUse,
    now: DateTime<Utc>,
) -> (String, bool, bool) {
    let Some(f) = facts else {
        return (
            "KMS last use: the key is not in the inventory".into(),
            false,
            false,
        );
    };
    if let Some(why) = f.unreadable.get("last_used") {
        return (format!("KMS last use: not readable ({why})"), false, false);
    }
    match (f.last_used, f.last_used_tracked_since) {
        (Some(t), _) => {
            let op = f.last_used_operation.as_deref().unwrap_or("a call");
            let id = f
                .last_used_event_id
                .as_deref()
                .map(|id| format!(", event {id}"))
                .unwrap_or_default();
            (
                format!("KMS last use: {op} {} ago ({}{id})", age(now - t), day(t)),
                t >= window.from,
                true,
            )
        }
        (None, Some(since)) => (
            format!("KMS last use: none since tracking began {}", day(since)),
            false,
            true,
        ),
        (None, None) => ("KMS last use: unknown".into(), false, false),
    }
}

/// The grants line and whether any grant holds the key (`None`: not read).
fn grants_line(facts: Option<&KeyFacts>) -> (String, Option<u64>) {
    let Some(f) = facts else {
        return ("grants: not read".into(), None);
    };
    if let Some(why) = f.unreadable.get("grants") {
        return (format!("grants: not readable ({why})"), None);
    }
    let Some(g) = &f.grants else {
        return ("grants: not read".into(), None);
    };
    let n = g.count();
    if n == 0 && !g.incomplete {
        return ("grants: none".into(), Some(0));
    }
    let who: Vec<String> = g
        .kept
        .iter()
        .take(3)
        .map(|g| {
            let grantee = g.grantee.as_deref().unwrap_or("?");
            format!("{grantee} ({})", g.operations.join(", "))
        })
        .collect();
    let more = if g.incomplete { "+" } else { "" };
    (
        format!("grants: {n}{more} — {}", who.join("; ")),
        Some(n.max(1)),
    )
}

/// The AWS services that used the key in the window (`invokedBy`).
fn services_line(window: &WindowUse) -> String {
    let of = if window.services_partial {
        " (in the calls held, not all of the window's)"
    } else {
        ""
    };
    if window.services.is_empty() {
        return format!("AWS services (invokedBy): none{of}");
    }
    let named: Vec<String> = window
        .services
        .iter()
        .map(|(service, n)| format!("{service} {n}"))
        .collect();
    format!("AWS services (invokedBy): {}{of}", named.join(", "))
}

/// The verdict on deleting the key, at `now`.
#[must_use]
pub fn deletion_verdict(
    facts: Option<&KeyFacts>,
    window: &WindowUse,
    now: DateTime<Utc>,
) -> Verdict {
    let mut evidence = vec![format!(
        "window {}: {} cryptographic call(s) by {} principal(s)",
        span(window.from, window.until),
        window.uses,
        window.users
    )];
    evidence.push(services_line(window));
    if window.failed > 0 {
        let last = window
            .last_failed
            .as_ref()
            .map(|c| format!("; last {}", call_text(c, now)))
            .unwrap_or_default();
        evidence.push(format!("refused or failed calls: {}{last}", window.failed));
    }
    let (kms_line, kms_in_window, kms_known) = kms_last_use(facts, window, now);
    evidence.push(kms_line);
    let (grants, grant_count) = grants_line(facts);
    evidence.push(grants);
    if let Some(f) = facts {
        if let Some(state) = f.state.as_ref().filter(|s| *s != "Enabled") {
            let deletion = f
                .deletion_date
                .map(|d| format!(", deleted on {}", day(d)))
                .unwrap_or_default();
            evidence.push(format!("state: {state}{deletion}"));
        }
        if f.key_manager.as_deref() == Some("AWS") {
            evidence.push("AWS-managed: AWS deletes it, you cannot".into());
        }
    }
    let (safety, reason) = if let Some(c) = &window.last_use {
        (Safety::InUse, format!("used {}", call_text(c, now)))
    } else if window.uses > 0 {
        let n = window.uses;
        (
            Safety::InUse,
            format!("{n} cryptographic call(s) in the window"),
        )
    } else if kms_in_window {
        (Safety::InUse, "KMS recorded a use within the window".into())
    } else if let Some(n @ 1..) = grant_count {
        (
            Safety::NotSafe,
            format!("{n} grant(s) still let principals use it"),
        )
    } else if window.failed > 0 {
        let n = window.failed;
        (
            Safety::NotSafe,
            format!("{n} refused or failed call(s) still ask for it"),
        )
    } else if !kms_known || grant_count.is_none() {
        (Safety::Unknown, "a part could not be read (below)".into())
    } else {
        (
            Safety::NoUseSeen,
            "nothing in the window, KMS's last use before it, no grants \
             (disable it first and watch for refused calls before scheduling deletion)"
                .into(),
        )
    };
    Verdict {
        safety,
        headline: format!("{}: {reason}", safety.label()),
        evidence,
    }
}

pub mod window;

#[cfg(test)]
mod tests;
