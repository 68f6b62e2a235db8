//! `report --who` / `--access-key`: the calls of one credential, in time
//! order, across keys, accounts and regions — the timeline a responder
//! hands over when a key has leaked.

use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::{KmsEvent, Outcome};

/// The most calls a report lists; past it the earliest are kept and the
/// rest counted, so a selector that matches a whole account cannot grow
/// memory with the events.
pub const MAX_CALLS: usize = 10_000;

/// What `--who` selected, as `--format json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhoReport {
    /// The selectors, as understood (`akid:…`, `ip:10.0.0.0/8`); a call
    /// matching any of them is counted.
    pub selectors: Vec<String>,
    /// Distinct KMS events in the range that no selector matched: not
    /// counted anywhere in this report (nor replayed through the rules).
    pub other_events: u64,
    /// The selected calls, earliest first (at most [`MAX_CALLS`]).
    pub calls: Vec<CallRow>,
    /// Selected calls after the last one listed.
    pub calls_not_listed: u64,
}

/// One selected call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRow {
    pub time: DateTime<Utc>,
    pub event_name: String,
    pub outcome: Outcome,
    pub error_code: Option<String>,
    pub principal: String,
    /// The account of the caller (`userIdentity.accountId`).
    pub principal_account: Option<String>,
    pub access_key_id: Option<String>,
    pub session_name: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub region: Option<String>,
    /// The key id, when the call named a key.
    pub key: Option<String>,
    pub key_arn: Option<String>,
    /// The account owning the key: another account's key is cross-account use.
    pub key_account: Option<String>,
    pub event_id: String,
}

impl CallRow {
    fn from_event(e: &KmsEvent<'_>) -> Self {
        let owned = |t: &Option<std::borrow::Cow<'_, str>>| t.as_deref().map(str::to_owned);
        Self {
            time: e.time,
            event_name: e.event_name.clone().into_owned(),
            outcome: e.outcome,
            error_code: owned(&e.error_code),
            principal: e.principal.clone().into_owned(),
            principal_account: owned(&e.principal_account),
            access_key_id: owned(&e.access_key_id),
            session_name: owned(&e.session_name),
            source_ip: owned(&e.source_ip),
            user_agent: owned(&e.user_agent),
            region: owned(&e.region),
            key: e.key.as_ref().map(|k| k.key_id().to_owned()),
            key_arn: e.key.as_ref().map(|k| k.arn.clone().into_owned()),
            key_account: e.key.as_ref().and_then(|k| k.account()).map(str::to_owned),
            event_id: e.event_id.clone().into_owned(),
        }
    }

    /// Time order, ties by event id then name: the same for any number of
    /// reader threads.
    fn order(&self) -> (DateTime<Utc>, &str, &str) {
        (self.time, &self.event_id, &self.event_name)
    }
}

/// A call in the heap: the latest listed call on top, to be dropped first.
#[derive(Debug, PartialEq, Eq)]
struct ByTime(CallRow);

impl Ord for ByTime {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.order().cmp(&other.0.order())
    }
}

impl PartialOrd for ByTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One reader thread's selected calls: the earliest [`MAX_CALLS`], exact
/// whatever order the files are read in.
#[derive(Debug, Default)]
pub struct CallLog {
    kept: BinaryHeap<ByTime>,
    dropped: u64,
    pub(super) other_events: u64,
}

impl CallLog {
    pub fn add(&mut self, e: &KmsEvent<'_>) {
        if self.kept.len() >= MAX_CALLS {
            // Most calls of a long selection are later than the listed
            // ones: decide on the time before copying any text.
            let latest = self.kept.peek().map(|c| c.0.time);
            if latest.is_some_and(|t| e.time > t) {
                self.dropped += 1;
                return;
            }
        }
        self.push(CallRow::from_event(e));
    }

    fn push(&mut self, row: CallRow) {
        self.kept.push(ByTime(row));
        if self.kept.len() > MAX_CALLS {
            self.kept.pop();
            self.dropped += 1;
        }
    }

    pub fn merge(&mut self, other: Self) {
        self.dropped += other.dropped;
        self.other_events += other.other_events;
        for row in other.kept {
            self.push(row.0);
        }
    }

    #[must_use]
    pub fn finish(self, selectors: Vec<String>) -> WhoReport {
        let calls: Vec<CallRow> = self
            .kept
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect();
        WhoReport {
            selectors,
            other_events: self.other_events,
            calls,
            calls_not_listed: self.dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Parsed, parse_record};

    fn record(n: usize) -> String {
        // Seconds from a fixed hour, in an order no reader would choose.
        let second = (n * 7919) % 20_000;
        format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventID":"id-{second:05}",
            "eventTime":"2025-05-20T{:02}:{:02}:{:02}Z","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"}}}}"#,
            second / 3600,
            second / 60 % 60,
            second % 60
        )
    }

    fn log_of(ns: impl Iterator<Item = usize>) -> CallLog {
        let mut log = CallLog::default();
        for n in ns {
            let text = record(n);
            let Ok(Parsed::Kms(e)) = parse_record(&text) else {
                panic!("record {n} parses");
            };
            log.add(&e);
        }
        log
    }

    #[test]
    fn the_earliest_calls_are_kept_whatever_the_order_and_the_split() {
        // 7919 is prime to 20 000: the calls are the seconds 0..20 000, shuffled.
        let all = 20_000;
        let one = log_of(0..all).finish(Vec::new());
        let mut first = log_of((0..all).filter(|n| n % 3 == 0));
        first.merge(log_of((0..all).filter(|n| n % 3 != 0)));
        let split = first.finish(Vec::new());
        for report in [&one, &split] {
            assert_eq!(report.calls.len(), MAX_CALLS);
            assert_eq!(report.calls_not_listed, 10_000);
            assert!(report.calls.windows(2).all(|w| w[0].time < w[1].time));
        }
        assert_eq!(one, split);
        assert_eq!(one.calls[0].event_id, "id-00000");
        assert_eq!(
            one.calls[MAX_CALLS - 1].event_id,
            format!("id-{:05}", MAX_CALLS - 1)
        );
    }
}
