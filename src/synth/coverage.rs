//! Scripted events that guarantee every record shape appears, even in corpora
//! too small for random draws to reach rare cases.

use rand::RngExt;

use super::ops::{DENIED_CODES, ERROR_CODES, OPS, index_of};
use super::plan::{Force, Planner};
use super::records::{KeyRef, SynthOutcome};
use super::text::{hostile_count, is_long_hostile};

impl Planner<'_> {
    /// Guarantees every shape appears even in tiny corpora.
    pub(super) fn coverage(&mut self) -> Vec<Force> {
        let u = self.u;
        let mut out = Vec::new();
        let by_name = |n: &str| index_of(n);
        out.extend((0..OPS.len()).map(|op| Force {
            op: Some(op),
            ..Force::default()
        }));
        for (i, id) in u.identities.iter().enumerate() {
            if id.scripted {
                continue;
            }
            let hostile = id
                .hostile
                .then(|| self.rng.random_range(0..hostile_count()) as u8);
            for _ in 0..2 {
                out.push(Force {
                    identity: Some(i),
                    hostile,
                    ..Force::default()
                });
            }
        }
        for h in 0..hostile_count() {
            let n = if is_long_hostile(h) { 2 } else { 1 };
            out.extend((0..n).map(|_| Force {
                hostile: Some(h as u8),
                op: by_name("Decrypt"),
                ..Force::default()
            }));
        }
        for code in DENIED_CODES {
            out.extend((0..2).map(|_| Force {
                outcome: Some(SynthOutcome::Denied(code)),
                op: by_name("Decrypt"),
                ..Force::default()
            }));
        }
        for code in ERROR_CODES {
            out.extend((0..2).map(|_| Force {
                outcome: Some(SynthOutcome::Error(code)),
                op: by_name("Decrypt"),
                ..Force::default()
            }));
        }
        for kr in [
            KeyRef::ResourceUntyped,
            KeyRef::RequestArn,
            KeyRef::AliasOnly,
        ] {
            out.extend((0..3).map(|_| Force {
                key_ref: Some(kr),
                op: by_name("Decrypt"),
                outcome: Some(SynthOutcome::Success),
                ..Force::default()
            }));
        }
        for name in [
            "ScheduleKeyDeletion",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
            "DeleteKey",
        ] {
            out.push(Force {
                op: by_name(name),
                key_ref: Some(KeyRef::ResponseOnly),
                outcome: Some(SynthOutcome::Success),
                ..Force::default()
            });
        }
        out
    }
}
