//! The simulator's event history: generated seconds (cached, bounded) and
//! the KMS calls it served itself, merged per region and second.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use rand::SeedableRng;

use crate::synth::text::{SynthRng, fmt_uuid, new_uuid};

use super::render::{Rendered, Served, render_call, render_own};
use super::traffic::{EventKind, SimEvent, Traffic};

/// Own calls kept per region; the oldest go first.
const OWN_LIMIT: usize = 100_000;

/// One event as the ground truth lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthEvent {
    pub region: String,
    pub event_id: String,
    pub time: DateTime<Utc>,
    pub visible_at: DateTime<Utc>,
    pub event_name: String,
    /// kmstop's principal (role ARN, user ARN, or service name).
    pub principal: String,
    pub error_code: Option<String>,
}

#[derive(Default)]
struct SlotCache {
    map: HashMap<(usize, i64), Arc<Vec<SimEvent>>>,
    order: VecDeque<(usize, i64)>,
    events: usize,
}

pub struct Events {
    pub traffic: Traffic,
    cache: Mutex<SlotCache>,
    /// Generated events the cache keeps at most ([`super::SimMemory`]).
    kept: usize,
    /// Per region: own calls by (time, id).
    own: Mutex<Vec<BTreeMap<(i64, String), SimEvent>>>,
    own_rng: Mutex<SynthRng>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Events {
    #[cfg(test)]
    pub fn new(traffic: Traffic) -> Self {
        Self::keeping(traffic, super::SimMemory::default().events)
    }

    /// Keeps at most `kept` generated events for answering again.
    pub fn keeping(traffic: Traffic, kept: usize) -> Self {
        let regions = traffic.world.regions.len();
        let own_rng = SynthRng::seed_from_u64(traffic.seed ^ 0x0000_5157_0300);
        Self {
            traffic,
            cache: Mutex::new(SlotCache::default()),
            kept,
            own: Mutex::new(vec![BTreeMap::new(); regions]),
            own_rng: Mutex::new(own_rng),
        }
    }

    fn generated(&self, region: usize, slot: i64) -> Arc<Vec<SimEvent>> {
        if let Some(hit) = lock(&self.cache).map.get(&(region, slot)) {
            return hit.clone();
        }
        // Generated outside the lock: a pure function, so a race only
        // computes the same second twice.
        let events = Arc::new(self.traffic.slot(region, slot));
        let mut cache = lock(&self.cache);
        if cache.map.insert((region, slot), events.clone()).is_none() {
            cache.order.push_back((region, slot));
            cache.events += events.len();
        }
        while cache.events > self.kept && cache.order.len() > 1 {
            if let Some(old) = cache.order.pop_front()
                && let Some(gone) = cache.map.remove(&old)
            {
                cache.events -= gone.len();
            }
        }
        events
    }

    /// Every event of `region` at second `slot`, newest-first (id
    /// descending), visible or not.
    pub fn slot(&self, region: usize, slot: i64) -> Vec<SimEvent> {
        let generated = self.generated(region, slot);
        let own = lock(&self.own);
        let Some(own) = own.get(region) else {
            return Vec::new();
        };
        let mut out: Vec<SimEvent> = own
            .range((slot, String::new())..(slot + 1, String::new()))
            .map(|(_, e)| e.clone())
            .collect();
        if out.is_empty() {
            return generated.as_ref().clone();
        }
        out.extend(generated.iter().cloned());
        out.sort_by(|a, b| b.id.cmp(&a.id));
        out
    }

    pub fn render(&self, region: usize, ev: &SimEvent) -> Arc<Rendered> {
        match &ev.kind {
            EventKind::Traffic(call) => Arc::new(render_call(&self.traffic, region, ev, call)),
            EventKind::Own(r) => r.clone(),
        }
    }

    /// Records a KMS call the simulator served, visible after the delivery
    /// delay like any other event.
    pub fn record_own(&self, served: &Served<'_>) {
        let w = &self.traffic.world;
        let Some(region) = w.region_index(served.region) else {
            return;
        };
        let mut rng = lock(&self.own_rng);
        let id = new_uuid(&mut rng);
        let served = Served {
            event_id: id,
            ..*served
        };
        let Some(rendered) = render_own(w, &served, &mut rng) else {
            return;
        };
        let time = served.time.timestamp();
        let event = SimEvent {
            time,
            id: fmt_uuid(id),
            visible_at: served.time + self.traffic.delay.draw(&mut rng),
            kind: EventKind::Own(Arc::new(rendered)),
        };
        drop(rng);
        let mut own = lock(&self.own);
        if let Some(map) = own.get_mut(region) {
            map.insert((time, event.id.clone()), event);
            while map.len() > OWN_LIMIT {
                map.pop_first();
            }
        }
    }

    /// Every event of `region` with `start <= eventTime <= end` that exists
    /// by `now`, visible or not, newest first.
    pub fn truth(
        &self,
        region: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<TruthEvent> {
        let w = &self.traffic.world;
        let Some(ri) = w.region_index(region) else {
            return Vec::new();
        };
        let lo = ceil_secs(start).max(self.traffic.first);
        let hi = end.min(now).timestamp();
        let mut out = Vec::new();
        for slot in (lo..=hi).rev() {
            for ev in self.slot(ri, slot) {
                let (event_name, principal, error_code) = match &ev.kind {
                    EventKind::Traffic(call) => (
                        call.op.name.to_string(),
                        w.principals[call.principal].identity.principal(),
                        call.outcome.code().map(str::to_string),
                    ),
                    EventKind::Own(r) => (
                        r.event_name.clone(),
                        r.principal.clone(),
                        r.error_code.clone(),
                    ),
                };
                out.push(TruthEvent {
                    region: region.to_string(),
                    time: ev.event_time(),
                    event_id: ev.id,
                    visible_at: ev.visible_at,
                    event_name,
                    principal,
                    error_code,
                });
            }
        }
        out
    }
}

/// The first whole second at or after `t`.
pub fn ceil_secs(t: DateTime<Utc>) -> i64 {
    let s = t.timestamp();
    if t.timestamp_subsec_nanos() > 0 {
        s + 1
    } else {
        s
    }
}
