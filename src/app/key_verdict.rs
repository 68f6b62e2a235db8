//! The key drill-down's answer to "is this key safe to delete?": the
//! window's counts and newest calls for [`crate::deletion`] to judge.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::App;
use super::query::MAX_EVENT_SCAN;
use crate::deletion::window::KeyUse;
use crate::deletion::{Verdict, WindowUse, deletion_verdict, is_cryptographic};
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
        services: Vec::new(),
        services_partial: false,
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
    // The newest calls and the services from the events kept for
    // drill-down, counted as `keys --verdict` counts the events it reads.
    let mut held = KeyUse::default();
    for e in app.data.log.newest_first(from, t).take(MAX_EVENT_SCAN) {
        if e.event.key_arn() == Some(arn) {
            held.count(&e.event.view());
        }
    }
    let from_held = held.window(from, t);
    window.last_use = from_held.last_use;
    window.last_failed = from_held.last_failed;
    window.services = from_held.services;
    window.services_partial = held.uses < window.uses;
    // Ages are told from the view's time, as every pane tells them.
    deletion_verdict(app.data.inventory.get(arn), &window, t)
}
