//! The key drill-down's answer to "is this key safe to delete?": the
//! window's counts and newest calls for [`crate::deletion`] to judge.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::App;
use super::query::MAX_EVENT_SCAN;
use crate::deletion::{SeenCall, Verdict, WindowUse, deletion_verdict, is_cryptographic};
use crate::event::Outcome;
use crate::store::Dim;

/// The verdict on the key `arn` over `from..=t`. Counts come from the
/// store's buckets (every event of the window); the newest call of each
/// kind from the events kept for drill-down, when they reach back to it.
pub(super) fn key_verdict(
    app: &App,
    arn: &str,
    window_start: i64,
    from: DateTime<Utc>,
    t: DateTime<Utc>,
) -> Verdict {
    let store = &app.data.store;
    let mut window = WindowUse {
        from,
        until: t,
        uses: 0,
        users: 0,
        failed: 0,
        last_use: None,
        last_failed: None,
    };
    if let Some(id) = store.id(Dim::Key, arn) {
        let mut users = HashSet::new();
        for (_, b) in store.buckets_in(window_start, store.bucket_index(t)) {
            for (c, n) in b.combos() {
                if c.key != id {
                    continue;
                }
                if c.outcome != Outcome::Success {
                    window.failed += u64::from(n);
                } else if is_cryptographic(store.name(Dim::EventName, c.event_name)) {
                    window.uses += u64::from(n);
                    users.insert(c.principal);
                }
            }
        }
        window.users = users.len() as u64;
    }
    let wanted = (window.uses > 0, window.failed > 0);
    for e in app.data.log.newest_first(from, t).take(MAX_EVENT_SCAN) {
        if (window.last_use.is_some() || !wanted.0) && (window.last_failed.is_some() || !wanted.1) {
            break;
        }
        if e.event.key_arn() != Some(arn) {
            continue;
        }
        let v = e.event.view();
        let call = || SeenCall {
            time: v.time,
            principal: v.principal.to_string(),
            via: v.invoked_by.as_deref().map(str::to_owned),
            event_name: v.event_name.to_string(),
            error_code: v.error_code.as_deref().map(str::to_owned),
        };
        if v.outcome != Outcome::Success {
            if window.last_failed.is_none() {
                window.last_failed = Some(call());
            }
        } else if window.last_use.is_none() && is_cryptographic(&v.event_name) {
            window.last_use = Some(call());
        }
    }
    // Ages are told from the view's time, as every pane tells them.
    deletion_verdict(app.data.inventory.get(arn), &window, t)
}
