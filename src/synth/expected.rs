//! What a correct `kmstop report` must print for a corpus, computed from the
//! generator's own decisions (never by re-parsing its output).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::identities::Universe;
use super::plan::Planned;
use super::records::{KeyRef, SynthOutcome};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalCounts {
    pub events: u64,
    /// `eventName == "Decrypt"`, any outcome.
    pub decrypt: u64,
    pub denied: u64,
    /// Key ARNs this principal's events were attributed to.
    pub keys: BTreeSet<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCounts {
    /// The part after `key/` (UUID or `mrk-…`); multi-Region replicas share it.
    pub key_id: String,
    pub events: u64,
    pub denied: u64,
    pub principals: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// Distinct KMS events by (eventID, eventTime, eventName).
    pub events: u64,
    pub denied: u64,
    pub errors: u64,
    /// Min / max eventTime of KMS events.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub principals: BTreeMap<String, PrincipalCounts>,
    pub keys: BTreeMap<String, KeyCounts>,
    pub event_names: BTreeMap<String, u64>,
    /// Events with `readOnly == false`.
    pub control_plane: u64,
    /// Distinct non-KMS records.
    pub non_kms: u64,
    /// Extra KMS record copies (file copies + re-delivered records) that a
    /// correct reader drops.
    pub duplicate_records: u64,
    /// Distinct CloudTrail log files (with `Records`), excluding copies,
    /// digests and junk.
    pub files_written: u64,

    // Diagnostics beyond the report's own numbers.
    /// Extra non-KMS record copies inside duplicated files.
    pub non_kms_duplicate_records: u64,
    /// Duplicate copies of log files (`.json` twins and `overlap/` copies).
    pub duplicate_files: u64,
    /// Distinct log files written uncompressed (not copies).
    pub plain_json_files: u64,
    pub digest_files: u64,
    /// `README.txt` and `.DS_Store`: neither gzip nor JSON.
    pub junk_files: u64,
    /// Events delivered 30–90 min after their eventTime.
    pub late_events: u64,
    /// Denied events whose key appears only in `errorMessage`
    /// ("… on resource: `<key ARN>` …"); they are in `keys` and
    /// principals' `keys`. A reader that ignores errorMessage misses these.
    pub denied_key_from_message: u64,
    /// Distinct events whose eventID is also used by another distinct event.
    pub shared_event_id_events: u64,
    pub hostile_events: u64,
}

impl Expected {
    pub fn from_plan(u: &Universe, plan: &[Planned]) -> Self {
        let mut e = Expected::default();
        let mut id_uses: BTreeMap<u128, u64> = BTreeMap::new();
        for p in plan {
            let ev = p.event(u);
            let time = ev.time;
            if e.events == 0 || time < e.from {
                e.from = time;
            }
            if e.events == 0 || time > e.to {
                e.to = time;
            }
            e.events += 1;
            let denied = matches!(ev.outcome, SynthOutcome::Denied(_));
            e.denied += u64::from(denied);
            e.errors += u64::from(matches!(ev.outcome, SynthOutcome::Error(_)));
            e.control_plane += u64::from(!ev.op.read_only());
            e.hostile_events += u64::from(ev.hostile.is_some());
            *e.event_names.entry(ev.op.name.to_string()).or_default() += 1;
            *id_uses.entry(p.id).or_default() += 1;
            let principal = ev.principal();
            let key = ev.counted_key();
            if key.is_some() && ev.key_ref == KeyRef::DeniedMessage {
                e.denied_key_from_message += 1;
            }
            let pc = e
                .principals
                .entry(principal.clone())
                .or_insert_with(|| PrincipalCounts {
                    first_seen: time,
                    last_seen: time,
                    ..PrincipalCounts::default()
                });
            pc.events += 1;
            pc.decrypt += u64::from(ev.op.name == "Decrypt");
            pc.denied += u64::from(denied);
            pc.first_seen = pc.first_seen.min(time);
            pc.last_seen = pc.last_seen.max(time);
            if let (Some(arn), Some(k)) = (key, ev.key) {
                pc.keys.insert(arn.clone());
                let kc = e.keys.entry(arn).or_insert_with(|| KeyCounts {
                    key_id: k.id.clone(),
                    ..KeyCounts::default()
                });
                kc.events += 1;
                kc.denied += u64::from(denied);
                kc.principals.insert(principal);
            }
        }
        e.shared_event_id_events = id_uses.values().filter(|&&n| n > 1).sum();
        e
    }

    /// Internal consistency; used by tests and by the example before writing.
    pub fn check(&self) -> Result<(), String> {
        let sum = |f: fn(&PrincipalCounts) -> u64| self.principals.values().map(f).sum::<u64>();
        let checks = [
            ("principal events", sum(|p| p.events), self.events),
            ("principal denied", sum(|p| p.denied), self.denied),
            ("event names", self.event_names.values().sum(), self.events),
            (
                "decrypts",
                sum(|p| p.decrypt),
                self.event_names.get("Decrypt").copied().unwrap_or(0),
            ),
        ];
        for (what, got, want) in checks {
            if got != want {
                return Err(format!("{what}: {got} != {want}"));
            }
        }
        let key_events: u64 = self.keys.values().map(|k| k.events).sum();
        if key_events > self.events {
            return Err(format!("key events {key_events} > events {}", self.events));
        }
        for (arn, k) in &self.keys {
            if !arn.ends_with(&format!(":key/{}", k.key_id)) {
                return Err(format!("key id {} does not match {arn}", k.key_id));
            }
            for p in &k.principals {
                if !self
                    .principals
                    .get(p)
                    .is_some_and(|pc| pc.keys.contains(arn))
                {
                    return Err(format!("{arn}: principal {p:?} lacks the key"));
                }
            }
        }
        Ok(())
    }
}
