//! The Quota & cost pane: the report's quota and cost sections for the
//! dashboard's window at the cursor, and the principals behind each quota
//! row.
//!
//! # One calculation
//!
//! The figures come from [`UsageTally`], the tally `kmstop report` counts
//! its quota and cost sections with, fed the window's held events: the
//! same records give the same peaks, shares, throttled counts and prices
//! in both. Only the principals behind a row are counted here, in a second
//! pass once the row's busiest second is known.
//!
//! # Exact, or said so
//!
//! The window is the other panes' (whole buckets, see [`window_range`]).
//! The event log holds a bounded number of events (400 000 from files,
//! 100 000 live); when it has let go of events of the window for room, the
//! figures are those of the events it still holds and the pane says so
//! ([`Coverage`]). On Athena the log holds only what drill-downs fetched:
//! nothing is counted, and the pane says why and that `kmstop report
//! --source athena://…` measures both sections ([`crate::athena::usage`]).
//!
//! # Cheap
//!
//! Counted only while the pane is in focus, and kept while its key — the
//! log's generation, the window's ends and the `--quota`/`--price` values
//! — is unchanged: a redraw, a second of a live clock inside one bucket,
//! a source's status cost nothing. Sorting, filtering and moving the
//! selection reorder the kept answer without counting again.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use super::resources::Coverage;
use super::resources::window_range;
use super::sort_key::SortKey;
use super::tables::key_label;
use super::{App, Filter, Mode, Pane, SortState};
use crate::aggregate::quota::{FAMILIES, family_of};
use crate::aggregate::usage::{
    CostSection, QuotaRow, QuotaSection, UsageSettings, UsageTally, calling_account,
};
use crate::event::CallFields;

/// Principals listed behind a quota row at most, busiest first.
pub const MAX_DRIVERS: usize = 20;

/// A principal behind a quota row: its calls of the row's family in the
/// row's account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Driver {
    pub principal: String,
    pub calls: u64,
    /// Of those, in the row's busiest second.
    pub at_peak: u64,
    pub throttled: u64,
}

/// The dashboard's aggregate counts per time bucket, not per second, and
/// its report query follows the query's window, not the pane's: the pane
/// points to the report, which measures both sections in Athena.
const ATHENA: &str = "not known on Athena's dashboard (counts per bucket): kmstop report --source athena://… gives it";

/// The window's answer, as the report would give it for the same events.
#[derive(Debug, Clone)]
pub struct UsageAnswer {
    pub quota: QuotaSection,
    pub cost: CostSection,
    /// The principals behind each row of `quota.rows` (same index).
    pub drivers: Vec<Vec<Driver>>,
    /// Events counted.
    pub events: u64,
    pub coverage: Coverage,
    /// The window counted, `[from, until)`.
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// What an answer was counted from: while it is unchanged, so is the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AnswerKey {
    log: u64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    athena: bool,
    settings: UsageSettings,
}

/// What the shown order was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OrderKey {
    sort: SortState,
    filter: Option<String>,
}

/// The pane's rows: the answer, and the order and filter it is shown in
/// (indices into its rows).
#[derive(Debug, Clone)]
pub struct UsageTable {
    key: Option<AnswerKey>,
    order_key: Option<OrderKey>,
    pub answer: Arc<UsageAnswer>,
    /// Quota rows shown, in the pane's sort (the list's rows).
    pub quota_rows: Vec<usize>,
    /// Cost by principal and by key that pass the filter, dearest first.
    pub principals: Vec<usize>,
    pub keys: Vec<usize>,
    /// The shown keys' names: alias or key id, as the Keys pane has them.
    pub key_labels: Vec<String>,
}

impl Default for UsageTable {
    fn default() -> Self {
        Self {
            key: None,
            order_key: None,
            answer: Arc::new(UsageAnswer {
                quota: QuotaSection::not_known(),
                cost: CostSection::not_known(),
                drivers: Vec::new(),
                events: 0,
                coverage: Coverage::Whole,
                from: DateTime::<Utc>::MIN_UTC,
                until: DateTime::<Utc>::MIN_UTC,
            }),
            quota_rows: Vec::new(),
            principals: Vec::new(),
            keys: Vec::new(),
            key_labels: Vec::new(),
        }
    }
}

impl UsageTable {
    /// The `i`th quota row shown, and the principals behind it.
    pub fn row(&self, i: usize) -> Option<(&QuotaRow, &[Driver])> {
        let at = *self.quota_rows.get(i)?;
        let row = self.answer.quota.rows.get(at)?;
        let drivers = self.answer.drivers.get(at).map_or(&[][..], Vec::as_slice);
        Some((row, drivers))
    }
}

/// The pane's rows for the window `[from, t]` while it is in focus, else
/// the last ones (not drawn, and counted again when it is).
pub(super) fn shown(app: &App, from: DateTime<Utc>, t: DateTime<Utc>) -> Arc<UsageTable> {
    let previous = &app.snapshot.usage;
    if app.focus != Pane::Usage {
        return Arc::clone(previous);
    }
    let (start, until) = window_range(app, from, t);
    let key = AnswerKey {
        log: app.data.log.generation(),
        from: start,
        until,
        athena: matches!(app.mode, Mode::Athena(_)),
        settings: app.usage.clone(),
    };
    let pane = &app.panes[Pane::Usage.index()];
    let order_key = OrderKey {
        sort: pane.sort,
        filter: pane.filter.as_ref().map(|f| f.text.clone()),
    };
    let same_answer = previous.key.as_ref() == Some(&key);
    if same_answer && previous.order_key.as_ref() == Some(&order_key) {
        return Arc::clone(previous);
    }
    let answer = if same_answer {
        Arc::clone(&previous.answer)
    } else {
        Arc::new(count(app, &key))
    };
    let labels: Vec<String> = answer
        .cost
        .keys
        .iter()
        .map(|k| key_label(&k.arn, app.data.inventory.get(&k.arn)))
        .collect();
    let (quota_rows, principals, keys) = order(&answer, &labels, pane.sort, pane.filter.as_ref());
    let key_labels = keys.iter().map(|&i| labels[i].clone()).collect();
    Arc::new(UsageTable {
        key: Some(key),
        order_key: Some(order_key),
        answer,
        quota_rows,
        principals,
        keys,
        key_labels,
    })
}

/// Counts the held events of `[key.from, key.until)`.
fn count(app: &App, key: &AnswerKey) -> UsageAnswer {
    let (from, until) = (key.from, key.until);
    if key.athena {
        return UsageAnswer {
            quota: QuotaSection::not_known(),
            cost: CostSection::not_known(),
            drivers: Vec::new(),
            events: 0,
            coverage: Coverage::Unknown(ATHENA),
            from,
            until,
        };
    }
    let log = &app.data.log;
    let events = log.range(from, until).len();
    let parts = super::threads::threads_for(events, 2 * COUNTED_PER_THREAD);
    let (tally, callers) = tally_in_parts(log, from, until, parts);
    let events = events as u64;
    let quota = tally.quota(&key.settings);
    let cost = tally.cost(&key.settings);
    let drivers = drivers(&quota.rows, &callers, &app.data.log);
    let coverage = super::resources::coverage(app, from, events);
    UsageAnswer {
        quota,
        cost,
        drivers,
        events,
        coverage,
        from,
        until,
    }
}

#[derive(Default)]
struct DriverCount {
    calls: u64,
    at_peak: u64,
    throttled: u64,
}

type Fast<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Calls of a quota family by calling account, region and principal, and
/// the throttled ones: counted in the tally's pass.
type Callers<'e> = Fast<(&'e str, &'e str, u8, &'e str), (u64, u64)>;

/// Events a thread counts at least: the 300 k corpus's whole day is
/// counted on every core (~0.3 µs an event), a few thousand on one.
const COUNTED_PER_THREAD: usize = 16_384;

/// The tally and callers of the held events of `[from, until)`, counted
/// in `parts` parts on threads of their own and merged: the same answer
/// as one pass (the report merges its readers' tallies the same way).
fn tally_in_parts(
    log: &super::log::EventLog,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    parts: usize,
) -> (UsageTally, Callers<'_>) {
    let parts = log.range_parts(from, until, parts);
    let mut tallies = super::threads::on_threads(parts, tally_of).into_iter();
    let (mut tally, mut callers) = tallies.next().unwrap_or_default();
    for (t, c) in tallies {
        tally.merge(t);
        for (key, (calls, throttled)) in c {
            let sum = callers.entry(key).or_default();
            sum.0 += calls;
            sum.1 += throttled;
        }
    }
    (tally, callers)
}

/// The window's tally, as the report counts it, and its callers.
fn tally_of<'e>(events: impl Iterator<Item = &'e super::log::Entry>) -> (UsageTally, Callers<'e>) {
    let mut tally = UsageTally::default();
    let mut callers = Callers::default();
    for e in events {
        let fields = e.event.call_fields();
        tally.count_call(&fields);
        count_caller(&mut callers, &fields);
    }
    (tally, callers)
}

/// Counts `e`'s call toward its family's callers.
fn count_caller<'e>(callers: &mut Callers<'e>, e: &CallFields<'e>) {
    let Some(family) = family_of(e.event_name) else {
        return;
    };
    let key = (
        calling_account(e),
        e.region.unwrap_or("-"),
        family,
        e.principal,
    );
    let c = callers.entry(key).or_default();
    c.0 += 1;
    c.1 += u64::from(e.error_code == Some("ThrottlingException"));
}

/// The principals behind each row: their calls of its family in its
/// account and region, those in its busiest second (read again from the
/// log, which is in time order: only that second's events), and the
/// throttled ones; busiest first, at most [`MAX_DRIVERS`] a row.
fn drivers(
    rows: &[QuotaRow],
    callers: &Callers<'_>,
    log: &super::log::EventLog,
) -> Vec<Vec<Driver>> {
    let row_of: Fast<(&str, &str, &str), usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.account.as_str(), r.region.as_str(), r.family), i))
        .collect();
    let mut counts: Vec<Fast<&str, DriverCount>> = rows.iter().map(|_| Fast::default()).collect();
    for (&(account, region, family, principal), &(calls, throttled)) in callers {
        let name = FAMILIES[usize::from(family)].name;
        if let Some(&row) = row_of.get(&(account, region, name)) {
            let c = counts[row].entry(principal).or_default();
            c.calls += calls;
            c.throttled += throttled;
        }
    }
    for (row, r) in rows.iter().enumerate() {
        let Some(peak) = r.peak_second else {
            continue;
        };
        for entry in log.range(peak, peak + chrono::Duration::seconds(1)) {
            let e = entry.event.call_fields();
            let same = family_of(e.event_name).map(|f| FAMILIES[usize::from(f)].name)
                == Some(r.family)
                && calling_account(&e) == r.account
                && e.region.unwrap_or("-") == r.region;
            if let (true, Some(c)) = (same, counts[row].get_mut(e.principal)) {
                c.at_peak += 1;
            }
        }
    }
    counts
        .into_iter()
        .map(|map| {
            let mut list: Vec<Driver> = map
                .into_iter()
                .map(|(principal, c)| Driver {
                    principal: principal.to_owned(),
                    calls: c.calls,
                    at_peak: c.at_peak,
                    throttled: c.throttled,
                })
                .collect();
            list.sort_by(|a, b| {
                (b.calls, b.at_peak)
                    .cmp(&(a.calls, a.at_peak))
                    .then_with(|| a.principal.cmp(&b.principal))
            });
            list.truncate(MAX_DRIVERS);
            list
        })
        .collect()
}

/// The report's order: highest share of the quota first, then the busiest
/// second, then by name.
fn report_order(a: &QuotaRow, b: &QuotaRow) -> Ordering {
    b.pct_of_quota
        .cmp(&a.pct_of_quota)
        .then(b.peak_per_second.cmp(&a.peak_per_second))
        .then_with(|| by_name(a, b))
}

fn by_name(a: &QuotaRow, b: &QuotaRow) -> Ordering {
    (&a.account, &a.region, a.family).cmp(&(&b.account, &b.region, b.family))
}

/// The shown quota rows, principals and keys: those the filter matches,
/// quota rows in the pane's sort (numbers largest first, names A to Z;
/// `S` reverses), costs dearest first.
fn order(
    answer: &UsageAnswer,
    key_labels: &[String],
    sort: SortState,
    filter: Option<&Filter>,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let matches = |texts: &[&str]| filter.is_none_or(|f| texts.iter().any(|t| f.regex.is_match(t)));
    let rows = &answer.quota.rows;
    let mut quota: Vec<usize> = (0..rows.len())
        .filter(|&i| matches(&[&rows[i].account, &rows[i].region, rows[i].family]))
        .collect();
    let key = sort.key(Pane::Usage);
    quota.sort_by(|&a, &b| {
        let (a, b) = (&rows[a], &rows[b]);
        let ord = match key {
            SortKey::Peak => b.peak_per_second.cmp(&a.peak_per_second),
            SortKey::Throttled => b.throttled.cmp(&a.throttled),
            SortKey::Calls => b.requests.cmp(&a.requests),
            SortKey::Name => by_name(a, b),
            _ => Ordering::Equal,
        };
        let ord = ord.then_with(|| report_order(a, b));
        if sort.reversed { ord.reverse() } else { ord }
    });
    let cost = &answer.cost;
    let principals = (0..cost.principals.len())
        .filter(|&i| matches(&[&cost.principals[i].principal, &cost.principals[i].account]))
        .collect();
    let keys = (0..cost.keys.len())
        .filter(|&i| matches(&[&cost.keys[i].arn, &key_labels[i]]))
        .collect();
    (quota, principals, keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::log::EventLog;
    use crate::event::{PackedEvent, Parsed, parse_record};

    /// Calls of every quota family and none, by principals of two
    /// accounts in three regions, some throttled, on keys of either
    /// account, several in each second.
    fn event(i: u32) -> PackedEvent {
        let names = [
            "Decrypt",
            "GenerateDataKey",
            "CreateKey",
            "DescribeKey",
            "Sign",
            "ListAliases",
        ];
        let account = ["111122223333", "444455556666"][(i % 2) as usize];
        let owner = ["111122223333", "444455556666"][(i / 7 % 2) as usize];
        let region = ["us-east-1", "eu-west-1", "ap-south-1"][(i / 3 % 3) as usize];
        let error = if i.is_multiple_of(11) {
            r#","errorCode":"ThrottlingException""#
        } else {
            ""
        };
        let raw = format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"{name}","eventTime":"2025-01-01T00:{m:02}:{s:02}Z","eventID":"e{i}","awsRegion":"{region}","recipientAccountId":"{account}","userIdentity":{{"type":"IAMUser","accountId":"{account}","arn":"arn:aws:iam::{account}:user/u{p}"}},"resources":[{{"ARN":"arn:aws:kms:{region}:{owner}:key/k{k}"}}]{error}}}"#,
            name = names[(i % 6) as usize],
            m = i / 240,
            s = i / 4 % 60,
            p = i % 7,
            k = i % 5,
        );
        match parse_record(&raw) {
            Ok(Parsed::Kms(e)) => PackedEvent::pack(&e),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn counted_in_parts_the_answer_is_that_of_one_pass() {
        let mut log = EventLog::new(10_000, 0);
        log.push_all((0..2_400).map(|i| (event(i), None)).collect());
        let from = DateTime::<Utc>::MIN_UTC;
        let until = DateTime::<Utc>::MAX_UTC;
        let settings = UsageSettings::default();
        let (one, one_callers) = tally_in_parts(&log, from, until, 1);
        let quota = one.quota(&settings);
        assert!(quota.rows.len() > 6 && quota.rows.iter().any(|r| r.throttled > 0));
        for parts in [2, 3, 7] {
            let (many, callers) = tally_in_parts(&log, from, until, parts);
            assert_eq!(many.quota(&settings), quota, "{parts} parts");
            assert_eq!(many.cost(&settings), one.cost(&settings), "{parts} parts");
            assert_eq!(callers, one_callers, "{parts} parts");
        }
    }
}
