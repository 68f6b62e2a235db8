//! The columns each pane can be sorted by, as one type: the sort and the
//! header marker name a column the same way, so they cannot drift apart
//! (sorting Principals by name once showed no marker, because the sort
//! said "name" and the header "principal").

use super::{Pane, SortState};

/// A column a pane is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Calls,
    Rate1m,
    Rate5m,
    Rate15m,
    Denied,
    DeniedShare,
    Keys,
    Principals,
    Deletion,
    Count,
    Spike,
    State,
    Severity,
    First,
    Last,
    Time,
    /// The Events pane's caller.
    Principal,
    Event,
    Outcome,
    /// The row's name: principal, key, rule, resource or the denied
    /// row's label (Quota & cost: account, region, family).
    Name,
    /// The AWS service a resource belongs to.
    Service,
    /// Quota & cost: the busiest second's share of the quota.
    QuotaShare,
    /// Quota & cost: the busiest second's requests.
    Peak,
    /// Quota & cost: calls refused with `ThrottlingException`.
    Throttled,
}

/// The pane's sort columns in the order `s` cycles through them; the
/// first is the pane's default.
pub fn sort_keys(pane: Pane) -> &'static [SortKey] {
    use SortKey::{
        Calls, Count, Deletion, Denied, DeniedShare, Event, First, Keys, Last, Name, Outcome, Peak,
        Principal, Principals, QuotaShare, Rate1m, Rate5m, Rate15m, Service, Severity, Spike,
        State, Throttled, Time,
    };
    match pane {
        Pane::Principals => &[
            Calls,
            Rate1m,
            Rate5m,
            Rate15m,
            Denied,
            DeniedShare,
            Keys,
            First,
            Last,
            Name,
        ],
        Pane::Denied => &[Count, Spike, Name],
        Pane::Keys => &[Calls, Rate1m, Denied, Principals, Deletion, Last, Name],
        Pane::Alerts => &[State, Severity, Count, First, Last, Name],
        Pane::Events => &[Time, Principal, Event, Outcome],
        Pane::Resources => &[Calls, Denied, Principals, Keys, Last, Service, Name],
        Pane::Usage => &[QuotaShare, Peak, Throttled, Calls, Name],
    }
}

impl SortState {
    /// The column this state sorts `pane` by.
    pub fn key(self, pane: Pane) -> SortKey {
        let keys = sort_keys(pane);
        keys.get(self.column).copied().unwrap_or(keys[0])
    }
}
