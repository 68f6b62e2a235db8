//! Running the alert engine over a report's events: the reader threads
//! pick out the events some rule could match, and the feed replays them to
//! the engine in event-time order.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::alert::Replay;
use crate::alert::{Alert, AlertChange, Engine, EngineError, Matcher, RuleSpec};
use crate::event::{KmsEvent, PackedEvent};
use crate::inventory::Inventory;

/// How far behind the newest event a log file may still deliver one:
/// CloudTrail usually delivers within minutes, rarely past an hour.
const LATENESS_MINUTES: i64 = 120;
/// Events held for ordering at most (about 100 MB): a very busy account
/// fills two hours faster than that, and then order is kept for as far
/// back as this many events reach.
const MAX_HELD: usize = 200_000;
/// Events held whatever their times (about 20 MB): a report of up to this
/// many alert-relevant events replays them in exact time order, however
/// its files are named, copied or ordered.
const HELD_WHOLE: usize = 50_000;

/// Which events the engine needs: those some enabled rule's matcher
/// takes. Checked on the reader threads, so the engine's lock is taken
/// once per file, for just those events.
pub struct Interest {
    matchers: Vec<Matcher>,
    /// The enabled rules' ids, in the order of `matchers`.
    ids: Vec<String>,
    inventory: Inventory,
}

impl Interest {
    /// # Errors
    /// A rule whose conditions do not compile.
    pub fn new(rules: &[RuleSpec], inventory: &Inventory) -> Result<Self, EngineError> {
        let matchers = rules
            .iter()
            .filter(|r| r.enabled)
            .map(|r| {
                Matcher::compile(&r.matcher).map_err(|source| EngineError::Match {
                    rule: r.id.clone(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        let ids = rules
            .iter()
            .filter(|r| r.enabled)
            .map(|r| r.id.clone())
            .collect();
        Ok(Self {
            matchers,
            ids,
            inventory: inventory.clone(),
        })
    }

    /// The ids of the rules whose matcher takes `event`.
    pub fn wanting<'i>(&'i self, event: &'i KmsEvent<'_>) -> impl Iterator<Item = &'i str> {
        self.matchers
            .iter()
            .zip(&self.ids)
            .filter(|(m, _)| m.matches(event, &self.inventory))
            .map(|(_, id)| id.as_str())
    }

    #[must_use]
    pub fn wants(&self, event: &KmsEvent<'_>) -> bool {
        self.matchers
            .iter()
            .any(|m| m.matches(event, &self.inventory))
    }
}

/// Where an event goes among events of the same time: the order of their
/// ids, the same whichever file a copy was read from first.
#[must_use]
pub fn tie_of(event_id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    event_id.hash(&mut h);
    h.finish()
}

/// The engine behind its replay buffer. It runs on its own thread, fed
/// one file's events at a time, so readers never wait for it.
pub struct AlertFeed {
    /// Files finished out of order wait here for the ones before them,
    /// so the replay sees files in input order whatever the threads do:
    /// the same input gives the same alerts.
    waiting: BTreeMap<usize, Vec<PackedEvent>>,
    next_file: usize,
    /// Boxed: the heap moves its entries around.
    replay: Replay<Box<PackedEvent>>,
    engine: Engine,
    changes: Vec<AlertChange>,
}

impl AlertFeed {
    #[must_use]
    pub fn new(engine: Engine) -> Self {
        Self {
            waiting: BTreeMap::new(),
            next_file: 0,
            replay: Replay::new(Duration::minutes(LATENESS_MINUTES), MAX_HELD).holding(HELD_WHOLE),
            engine,
            changes: Vec::new(),
        }
    }

    /// Takes the events of input number `file` (every input must come,
    /// even with none) and runs the engine over every event now safely in
    /// order.
    pub fn push(&mut self, file: usize, events: Vec<PackedEvent>) {
        self.waiting.insert(file, events);
        while let Some(events) = self.waiting.remove(&self.next_file) {
            self.next_file += 1;
            for event in events {
                let tie = event.event_id_with(tie_of);
                self.replay.push_tied(event.time(), tie, Box::new(event));
            }
        }
        while let Some((_, event)) = self.replay.pop_ready() {
            let changes = self.engine.observe(&event.view());
            self.changes.extend(changes);
        }
    }

    /// Events that reached the engine after newer ones had been replayed
    /// (files far out of time order in a run too large to hold whole).
    #[must_use]
    pub fn late(&self) -> u64 {
        self.replay.late()
    }

    /// Runs the rest, resolves what was quiet by `end` (the last event
    /// time), and returns the visible alerts and every change in order.
    #[must_use]
    pub fn finish(mut self, end: Option<DateTime<Utc>>) -> (Vec<Alert>, Vec<AlertChange>) {
        // Every input reached `push` (a reader that panics takes the whole
        // report down with it), so nothing is left waiting here.
        debug_assert!(self.waiting.is_empty());
        while let Some((_, event)) = self.replay.pop_any() {
            let changes = self.engine.observe(&event.view());
            self.changes.extend(changes);
        }
        if let Some(end) = end {
            let changes = self.engine.tick(end);
            self.changes.extend(changes);
        }
        let alerts = self.engine.alerts().into_iter().cloned().collect();
        (alerts, self.changes)
    }
}
