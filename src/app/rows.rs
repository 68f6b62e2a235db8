//! The rows the panes show, as the snapshot holds them: numbers and
//! shared names, ready to sort and draw.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Filter;
use super::episodes::Episode;
use super::log::{Entry, EventKey};
use crate::event::Outcome;
use crate::inventory::KeyFacts;
use crate::store::Name;

#[derive(Debug, Clone, Default)]
pub struct PrincipalRow {
    pub id: u32,
    pub name: Name,
    /// The name's place among the principals' names: rows compare by it
    /// as by the name.
    pub rank: u32,
    /// Counts in the window.
    pub calls: u64,
    pub decrypt: u64,
    pub denied: u64,
    /// Calls per minute over 1, 5, 15 minutes before the view time.
    pub rates: [f64; 3],
    pub denied_share: Option<f64>,
    /// Keys used in retention.
    pub keys: u32,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// Calls per minute over the hour before the view time.
    pub spark: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Default)]
pub struct KeyRow {
    pub arn: String,
    /// Alias, else key id.
    pub label: String,
    pub facts: Option<KeyFacts>,
    pub calls: u64,
    pub denied: u64,
    pub rates: [f64; 3],
    pub principals: u32,
    pub last_seen: Option<DateTime<Utc>>,
    pub deletion_days: Option<i64>,
    pub spark: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeniedKind {
    Principal,
    Key,
    SourceIp,
}

impl DeniedKind {
    pub fn label(self) -> &'static str {
        match self {
            DeniedKind::Principal => "principal",
            DeniedKind::Key => "key",
            DeniedKind::SourceIp => "source ip",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DeniedRow {
    pub kind: DeniedKind,
    pub name: Name,
    pub label: Name,
    /// For principals and source IPs: the label's place among its kind's
    /// names (rows of one kind compare by it as by the label).
    pub rank: Option<u32>,
    pub count: u64,
    /// Denied calls per minute lately against the window's average.
    pub factor: Option<f64>,
    /// The `(other)` row: values past the cap, folded together. Listed
    /// after every real value whatever the sort, so a sum of many never
    /// outranks the heaviest one named.
    pub folded: bool,
}

/// Counts per bucket, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub bucket_secs: i64,
    pub first_index: i64,
    pub calls: Vec<u64>,
    pub denied: Vec<u64>,
}

#[derive(Debug, Clone)]
pub struct AlertRow {
    /// Shared with the alert history: a row costs a reference count.
    pub episode: Arc<Episode>,
    /// Firing at the view time.
    pub firing: bool,
    /// The episode's place by (rule, group), and its rule's among the
    /// rules: rows compare by them as by those texts.
    pub name_rank: u32,
    pub rule_rank: u32,
}

#[derive(Debug, Clone)]
pub struct EventRow {
    pub key: EventKey,
    pub time: DateTime<Utc>,
    pub name: String,
    pub principal: String,
    pub key_label: Option<String>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub source_ip: Option<String>,
    pub region: Option<String>,
    pub user_agent: Option<String>,
    /// The credential that signed the call: matched by the `/` filter, so
    /// `/ASIA…` finds what a leaked key did.
    pub access_key_id: Option<String>,
    pub session_name: Option<String>,
    /// The service and name of the resource a data call's context names,
    /// for a `resource:` filter.
    pub resource: Option<(&'static str, String)>,
}

/// An event the Events pane lists: where it sits in the log. Its texts
/// are read from the log when its row is drawn: the pane shows a few dozen
/// of up to [`super::query::MAX_EVENT_ROWS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef {
    pub key: EventKey,
    pub time: DateTime<Utc>,
    pub outcome: Outcome,
}

impl EventRef {
    pub(super) fn of(e: &Entry) -> Self {
        Self {
            key: e.key(),
            time: e.event.time(),
            outcome: e.event.outcome(),
        }
    }
}

impl EventRow {
    pub fn from_entry(e: &Entry) -> Self {
        let v = e.event.view();
        Self {
            key: e.key(),
            time: v.time,
            name: v.event_name.into_owned(),
            principal: v.principal.into_owned(),
            key_label: v.key.as_ref().map(|k| k.key_id().to_owned()),
            outcome: v.outcome,
            error: v.error_code.map(std::borrow::Cow::into_owned),
            source_ip: v.source_ip.map(std::borrow::Cow::into_owned),
            region: v.region.map(std::borrow::Cow::into_owned),
            user_agent: v.user_agent.map(std::borrow::Cow::into_owned),
            access_key_id: v.access_key_id.map(std::borrow::Cow::into_owned),
            session_name: v.session_name.map(std::borrow::Cow::into_owned),
            resource: crate::aggregate::resources::resource_of_event(&e.event)
                .map(|r| (r.service, r.name.into_owned())),
        }
    }

    pub(super) fn matches(&self, f: &Filter) -> bool {
        if let Some(selector) = &f.selector {
            return selector.matches_caller(&crate::who::Caller {
                principal: &self.principal,
                access_key_id: self.access_key_id.as_deref(),
                session_name: self.session_name.as_deref(),
                source_ip: self.source_ip.as_deref(),
                resource: self.resource.as_ref().map(|(s, n)| (*s, n.as_str())),
            });
        }
        [
            Some(self.name.as_str()),
            Some(self.principal.as_str()),
            self.key_label.as_deref(),
            Some(self.outcome.as_str()),
            self.error.as_deref(),
            self.source_ip.as_deref(),
            self.region.as_deref(),
            self.user_agent.as_deref(),
            self.access_key_id.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|t| f.regex.is_match(t))
    }
}
