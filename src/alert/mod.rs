//! Alerts: rules (built-in and user-written, one TOML format), the engine
//! that evaluates them over events in event-time order, and the alerts'
//! lifecycle. Like the store, it never reads the clock: event times and
//! an explicit `now` drive every window.

pub mod builtin;
mod created;
pub mod engine;
mod facts;
mod intern;
mod keys;
mod kinds;
mod lifecycle;
pub mod matcher;
pub mod ordered;
pub mod policy;
pub mod rules_toml;
pub mod sigma;
pub mod spec;
pub mod spike;
mod state;
pub mod validate;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use engine::{Engine, EngineError, Limits};
pub use lifecycle::{AlertChange, Change};
pub use matcher::{MatchError, Matcher};
pub use ordered::Replay;
pub use spec::{
    Direction, Field, Kind, MatchSpec, OverrideSpec, RuleSpec, RulesFile, Severity, Span,
};
pub(crate) use state::{field_value, push_pair, write_group};

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    /// No matching event for the rule's quiet period.
    Resolved,
}

/// One alert: a rule firing for one group (a principal, key, IP… or the
/// whole rule when it has no `group_by`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    /// The grouped values, `field=value` joined by `, ` (empty without
    /// `group_by`).
    pub group: String,
    pub state: AlertState,
    /// Matching events since the alert first fired.
    pub count: u64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// A few event ids to look at (the first ones, at most five).
    pub sample_event_ids: Vec<String>,
    /// Acknowledged: listed, but no longer loud.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub acked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silenced_until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}
