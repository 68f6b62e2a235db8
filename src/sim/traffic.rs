//! The account's KMS traffic, generated lazily: the events of one region
//! in one second are a pure function of (seed, scenario, region, second),
//! so the simulator keeps no event list and can answer any window, in any
//! order of requests, with the same events.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::RngExt;

use crate::synth::ops::{self, Op, OpClass};
use crate::synth::records::{KeyRef, SynthOutcome};
use crate::synth::text::{SynthRng, derived_rng, new_uuid};

use super::cast::{ADMIN, COMPROMISED};
use super::render::Rendered;
use super::world::World;

/// What the account is going through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Scenario {
    /// Steady traffic, a few events per second per region; ~30 s after the
    /// start a compromised role is refused Decrypt several times a second
    /// for a minute, and ~3 min after the start an admin opens a key policy.
    #[default]
    Default,
    /// A trickle: a few events a minute.
    Quiet,
    /// ~200 events/s in the first region, beyond what LookupEvents can
    /// deliver (2 requests/s × 50 events).
    Busy,
    /// The default story, with the last region always throttled or failing.
    Outage,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::Default,
        Scenario::Quiet,
        Scenario::Busy,
        Scenario::Outage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Default => "default",
            Scenario::Quiet => "quiet",
            Scenario::Busy => "busy",
            Scenario::Outage => "outage",
        }
    }

    fn code(self) -> u64 {
        match self {
            Scenario::Default => 1,
            Scenario::Quiet => 2,
            Scenario::Busy => 3,
            Scenario::Outage => 4,
        }
    }

    fn has_incident(self) -> bool {
        matches!(self, Scenario::Default | Scenario::Outage)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| format!("unknown scenario {s:?} (default, quiet, busy, outage)"))
    }
}

/// When the incident's denied Decrypts start, after the origin, and how long
/// they last, at what rate (events/s).
pub const INCIDENT_START_S: i64 = 30;
pub const INCIDENT_LEN_S: i64 = 60;
const INCIDENT_RATE: f64 = 5.0;
/// When the admin opens the `partner-share` key policy.
pub const POLICY_CHANGE_S: i64 = 180;
/// Events per second of the busy region, unless told otherwise.
pub const BUSY_RATE: f64 = 200.0;

/// A call made by one of the world's principals.
#[derive(Debug, Clone)]
pub struct Call {
    pub principal: usize,
    pub op: &'static Op,
    pub key: Option<usize>,
    pub key_ref: KeyRef,
    pub outcome: SynthOutcome,
    /// Seeds the record's cosmetic fields (agent, IP, context).
    pub render_seed: u64,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    Traffic(Call),
    /// A call the simulator served itself, recorded as it happened.
    Own(Arc<Rendered>),
}

/// One event of one region.
#[derive(Debug, Clone)]
pub struct SimEvent {
    /// `eventTime`, whole epoch seconds.
    pub time: i64,
    /// The `eventID` as formatted (fixed-width lowercase hex, so string
    /// order is numeric order).
    pub id: String,
    /// When LookupEvents starts returning it.
    pub visible_at: DateTime<Utc>,
    pub kind: EventKind,
}

impl SimEvent {
    pub fn event_time(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.time, 0).single().unwrap_or_default()
    }
}

/// How late CloudTrail delivers: uniform draws skewed towards `min` (most
/// events come quickly, a few take up to `max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayModel {
    pub min: std::time::Duration,
    pub max: std::time::Duration,
}

impl DelayModel {
    pub fn draw(&self, rng: &mut SynthRng) -> Duration {
        let (min, max) = (
            self.min.as_millis(),
            self.max.as_millis().max(self.min.as_millis()),
        );
        let u: f64 = rng.random();
        #[allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]
        let ms = min + ((max - min) as f64 * u * u * u) as u128;
        Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
    }
}

const PURPOSE_SLOT: u64 = 0x5157_0100;

/// Knuth's sampler for small means; a rounded normal for large ones.
#[allow(clippy::cast_sign_loss)]
fn poisson(rng: &mut SynthRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        let (u1, u2): (f64, f64) = (rng.random::<f64>().max(f64::MIN_POSITIVE), rng.random());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        return (mean + z * mean.sqrt()).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut k = 0;
    let mut p: f64 = rng.random();
    while p > limit {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

fn pick<'a, T>(rng: &mut SynthRng, weighted: &'a [(T, f64)]) -> Option<&'a T> {
    let total: f64 = weighted.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in weighted {
        if x < *w {
            return Some(item);
        }
        x -= w;
    }
    weighted.last().map(|(item, _)| item)
}

fn region_hash(region: &str) -> u64 {
    super::token::fingerprint(&[region])
}

/// The generator: the world, the story and the delivery model.
#[derive(Debug)]
pub struct Traffic {
    pub world: Arc<World>,
    pub seed: u64,
    pub scenario: Scenario,
    pub delay: DelayModel,
    /// The first second with events (`origin - history`).
    pub first: i64,
    /// The last second with generated events, if generation stops.
    pub last: Option<i64>,
    /// Events per second of the busy scenario's first region.
    pub busy_rate: f64,
}

impl Traffic {
    /// How much of each principal's home rate region `region` sees at `t`.
    fn factor(&self, region: usize, t: DateTime<Utc>) -> f64 {
        let home = if region == 0 { 1.0 } else { 0.5 };
        match self.scenario {
            Scenario::Quiet => home * 0.03,
            Scenario::Busy if region == 0 => {
                let total: f64 = self.world.principals.iter().map(|p| p.rate_at(t)).sum();
                if total > 0.0 {
                    self.busy_rate / total
                } else {
                    0.0
                }
            }
            Scenario::Default | Scenario::Outage | Scenario::Busy => home,
        }
    }

    /// The generated events of `region` (an index into the world's regions)
    /// at second `slot`, newest-first order (by id, descending).
    pub fn slot(&self, region: usize, slot: i64) -> Vec<SimEvent> {
        let w = &self.world;
        if slot < self.first || self.last.is_some_and(|l| slot > l) || region >= w.regions.len() {
            return Vec::new();
        }
        let region_name = &w.regions[region];
        #[allow(clippy::cast_sign_loss)]
        let index = region_hash(region_name) ^ (slot as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut rng = derived_rng(self.seed, PURPOSE_SLOT + self.scenario.code(), index);
        let t = Utc.timestamp_opt(slot, 0).single().unwrap_or_default();
        let factor = self.factor(region, t);
        let mut calls = Vec::new();
        for (pi, p) in w.principals.iter().enumerate() {
            for _ in 0..poisson(&mut rng, p.rate_at(t) * factor) {
                if let Some(call) = self.call(&mut rng, region_name, pi) {
                    calls.push(call);
                }
            }
        }
        self.story(&mut rng, region, slot, &mut calls);
        let mut out: Vec<SimEvent> = calls
            .into_iter()
            .map(|call| SimEvent {
                time: slot,
                id: crate::synth::text::fmt_uuid(new_uuid(&mut rng)),
                visible_at: t + self.delay.draw(&mut rng),
                kind: EventKind::Traffic(call),
            })
            .collect();
        out.sort_by(|a, b| b.id.cmp(&a.id));
        out
    }

    /// One ordinary call of principal `pi`.
    fn call(&self, rng: &mut SynthRng, region: &str, pi: usize) -> Option<Call> {
        let p = &self.world.principals[pi];
        let op = ops::find(pick(rng, p.ops)?)?;
        let key = if op.needs_key() {
            let name = p.keys[rng.random_range(0..p.keys.len())];
            Some(self.world.key_named(region, name)?)
        } else {
            None
        };
        let data_plane = matches!(
            op.class,
            OpClass::Crypto | OpClass::Asymmetric | OpClass::Mac
        );
        let unusable = key.is_some_and(|k| self.world.keys[k].state != "Enabled");
        let (outcome, key_ref) = if data_plane && unusable {
            (
                SynthOutcome::Error("KMSInvalidStateException"),
                KeyRef::Resource,
            )
        } else if rng.random_bool(p.denied) {
            (SynthOutcome::Denied("AccessDenied"), KeyRef::DeniedMessage)
        } else if key.is_some() {
            (SynthOutcome::Success, KeyRef::Resource)
        } else {
            (SynthOutcome::Success, KeyRef::None)
        };
        Some(Call {
            principal: pi,
            op,
            key,
            key_ref,
            outcome,
            render_seed: rng.random(),
        })
    }

    /// The scenario's scripted events in `slot`.
    fn story(&self, rng: &mut SynthRng, region: usize, slot: i64, calls: &mut Vec<Call>) {
        if !self.scenario.has_incident() || region != 0 {
            return;
        }
        let w = &self.world;
        let since = slot - w.origin.timestamp();
        let who = |name: &str| w.principals.iter().position(|p| p.name() == name);
        let region_name = &w.regions[0];
        if (INCIDENT_START_S..INCIDENT_START_S + INCIDENT_LEN_S).contains(&since)
            && let (Some(pi), Some(op)) = (who(COMPROMISED), ops::find("Decrypt"))
        {
            for _ in 0..poisson(rng, INCIDENT_RATE) {
                let key =
                    ["app-data", "payments", "orders", "hr-payroll"][rng.random_range(0..4usize)];
                calls.push(Call {
                    principal: pi,
                    op,
                    key: w.key_named(region_name, key),
                    key_ref: KeyRef::DeniedMessage,
                    outcome: SynthOutcome::Denied("AccessDenied"),
                    render_seed: rng.random(),
                });
            }
        }
        if since == POLICY_CHANGE_S
            && let (Some(pi), Some(op)) = (who(ADMIN), ops::find("PutKeyPolicy"))
        {
            calls.push(Call {
                principal: pi,
                op,
                key: w.key_named(region_name, "partner-share"),
                key_ref: KeyRef::Resource,
                outcome: SynthOutcome::Success,
                render_seed: rng.random(),
            });
        }
    }
}
