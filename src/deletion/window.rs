//! What the events of a window say of each key, counted event by event:
//! the [`super::WindowUse`] the verdict judges. The dashboard counts the
//! events it holds; `kmstop keys --verdict` the events it swept; both
//! through [`KeyUse::count`], so the two cannot disagree on a call.
//!
//! Pure: no I/O, no clock.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{SeenCall, WindowUse, is_cryptographic};
use crate::event::{KmsEvent, Outcome};

/// Distinct principals and services counted per key: past these, more
/// are counted as calls, not named (event text is the record writer's).
pub const MAX_USERS: usize = 10_000;
pub const MAX_SERVICES: usize = 64;

/// One key's calls in the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUse {
    pub uses: u64,
    users: HashSet<Box<str>>,
    /// Users past [`MAX_USERS`]: counted as at least one more.
    users_over: bool,
    pub failed: u64,
    /// The newest successful cryptographic call, and its event id (ties
    /// of time go to the larger id, so any read order gives the same).
    last_use: Option<(SeenCall, Box<str>)>,
    last_failed: Option<(SeenCall, Box<str>)>,
    /// Successful cryptographic calls per AWS service that made them for
    /// a principal (`invokedBy`).
    services: HashMap<Box<str>, u64>,
    services_other: u64,
}

fn seen(e: &KmsEvent<'_>) -> SeenCall {
    SeenCall {
        time: e.time,
        principal: e.principal.to_string(),
        via: e.invoked_by.as_deref().map(str::to_owned),
        event_name: e.event_name.to_string(),
        error_code: e.error_code.as_deref().map(str::to_owned),
    }
}

/// Keeps the newer of `slot` and `candidate`.
fn newest(slot: &mut Option<(SeenCall, Box<str>)>, candidate: (SeenCall, Box<str>)) {
    if is_newer(slot.as_ref(), candidate.0.time, &candidate.1) {
        *slot = Some(candidate);
    }
}

/// Whether a call at `time` with `id` is newer than the one in `slot`
/// (asked before the call is copied: most calls are not).
fn is_newer(slot: Option<&(SeenCall, Box<str>)>, time: DateTime<Utc>, id: &str) -> bool {
    slot.is_none_or(|(c, held)| (time, id) > (c.time, held.as_ref()))
}

/// `e` into `slot` when it is newer.
fn newest_event(slot: &mut Option<(SeenCall, Box<str>)>, e: &KmsEvent<'_>) {
    if is_newer(slot.as_ref(), e.time, &e.event_id) {
        *slot = Some((seen(e), e.event_id.as_ref().into()));
    }
}

impl KeyUse {
    /// Counts one call naming the key.
    pub fn count(&mut self, e: &KmsEvent<'_>) {
        if e.outcome != Outcome::Success {
            self.failed += 1;
            newest_event(&mut self.last_failed, e);
            return;
        }
        if !is_cryptographic(&e.event_name) {
            return;
        }
        self.uses += 1;
        if !self.users.contains(e.principal.as_ref()) {
            if self.users.len() < MAX_USERS {
                self.users.insert(e.principal.as_ref().into());
            } else {
                self.users_over = true;
            }
        }
        if let Some(via) = e.invoked_by.as_deref() {
            self.add_service(via, 1);
        }
        newest_event(&mut self.last_use, e);
    }

    fn add_service(&mut self, via: &str, n: u64) {
        if let Some(c) = self.services.get_mut(via) {
            *c += n;
        } else if self.services.len() < MAX_SERVICES {
            self.services.insert(via.into(), n);
        } else {
            self.services_other += n;
        }
    }

    /// Folds another thread's counts of the same key into these.
    pub fn merge(&mut self, other: Self) {
        self.uses += other.uses;
        self.failed += other.failed;
        self.users_over |= other.users_over;
        for u in other.users {
            if self.users.len() < MAX_USERS {
                self.users.insert(u);
            } else if !self.users.contains(&u) {
                self.users_over = true;
            }
        }
        for (via, n) in other.services {
            self.add_service(&via, n);
        }
        self.services_other += other.services_other;
        if let Some(c) = other.last_use {
            newest(&mut self.last_use, c);
        }
        if let Some(c) = other.last_failed {
            newest(&mut self.last_failed, c);
        }
    }

    /// The services by calls, most first (ties by name), the ones past
    /// [`MAX_SERVICES`] summed as `(other services)`.
    #[must_use]
    pub fn services(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .services
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if self.services_other > 0 {
            out.push(("(other services)".to_owned(), self.services_other));
        }
        out
    }

    /// What the verdict judges, over `from..=until`.
    #[must_use]
    pub fn window(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> WindowUse {
        WindowUse {
            from,
            until,
            uses: self.uses,
            users: self.users.len() as u64 + u64::from(self.users_over),
            failed: self.failed,
            last_use: self.last_use.as_ref().map(|(c, _)| c.clone()),
            last_failed: self.last_failed.as_ref().map(|(c, _)| c.clone()),
            services: self.services(),
            services_partial: false,
        }
    }
}

/// Every wanted key's calls, by key ARN.
#[derive(Debug, Clone, Default)]
pub struct KeyUseTally {
    /// The keys to count (the events name many more).
    wanted: HashSet<Box<str>>,
    keys: HashMap<Box<str>, KeyUse>,
}

impl KeyUseTally {
    /// A tally of the calls naming any of `arns`.
    #[must_use]
    pub fn new<'a>(arns: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            wanted: arns.into_iter().map(Into::into).collect(),
            keys: HashMap::new(),
        }
    }

    /// Counts `e` when it names a wanted key.
    pub fn count(&mut self, e: &KmsEvent<'_>) {
        let Some(arn) = e.key.as_ref().map(|k| k.arn.as_ref()) else {
            return;
        };
        if !self.wanted.contains(arn) {
            return;
        }
        if let Some(k) = self.keys.get_mut(arn) {
            k.count(e);
        } else {
            let mut k = KeyUse::default();
            k.count(e);
            self.keys.insert(arn.into(), k);
        }
    }

    /// Folds another thread's tally into this one.
    pub fn merge(&mut self, other: Self) {
        for (arn, o) in other.keys {
            self.keys.entry(arn).or_default().merge(o);
        }
    }

    /// The key's window (no calls: all zero).
    #[must_use]
    pub fn window(&self, arn: &str, from: DateTime<Utc>, until: DateTime<Utc>) -> WindowUse {
        self.keys.get(arn).map_or_else(
            || KeyUse::default().window(from, until),
            |k| k.window(from, until),
        )
    }
}
