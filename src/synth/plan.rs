//! Decides every event up front (who, what, which key, outcome, when) as
//! compact structs, so expectations come from intent rather than re-parsing
//! and records can be rendered lazily, file by file.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rand::RngExt;
use rand::seq::IndexedRandom;

use super::identities::{IdentityKind, KeyUsage, Universe};
use super::noise::NoiseKind;
use super::ops::{DENIED_CODES, OPS, Op, OpClass, index_of};
use super::records::{KeyRef, SynthEvent, SynthOutcome};
use super::spec::CorpusSpec;
use super::text::{SynthRng, hostile_count, new_uuid};

/// One distinct KMS event.
#[derive(Debug, Clone, Copy)]
pub struct Planned {
    /// Unix seconds.
    pub t: i64,
    pub id: u128,
    pub op: u8,
    pub identity: u16,
    pub key: Option<u16>,
    pub key_ref: KeyRef,
    pub outcome: SynthOutcome,
    pub hostile: Option<u8>,
    pub region: u8,
    pub recipient: u8,
}

impl Planned {
    pub fn op(&self) -> &'static Op {
        &OPS[self.op as usize]
    }

    pub fn time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.t, 0).unwrap_or_default()
    }

    pub fn event<'a>(&self, u: &'a Universe) -> SynthEvent<'a> {
        SynthEvent {
            time: self.time(),
            event_id: self.id,
            op: self.op(),
            identity: &u.identities[self.identity as usize],
            key: self.key.map(|k| &u.keys[k as usize]),
            key_ref: self.key_ref,
            region: &u.regions[self.region as usize],
            recipient_account: &u.accounts[self.recipient as usize],
            outcome: self.outcome,
            hostile: self.hostile.map(|h| u.hostile_strings[h as usize].as_str()),
        }
    }
}

/// One non-KMS record.
#[derive(Debug, Clone, Copy)]
pub struct NoisePlan {
    pub t: i64,
    pub id: u128,
    pub kind: NoiseKind,
    pub account: u8,
    pub region: u8,
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Force {
    pub(super) op: Option<usize>,
    pub(super) identity: Option<usize>,
    pub(super) key: Option<usize>,
    pub(super) outcome: Option<SynthOutcome>,
    pub(super) key_ref: Option<KeyRef>,
    pub(super) hostile: Option<u8>,
    pub(super) time: Option<i64>,
}

pub(super) struct Planner<'a> {
    spec: &'a CorpusSpec,
    pub(super) u: &'a Universe,
    pub(super) rng: &'a mut SynthRng,
    start: i64,
    span: i64,
}

fn usage_fits(op: &Op, usage: KeyUsage) -> bool {
    match op.class {
        OpClass::Crypto | OpClass::Service => usage == KeyUsage::Symmetric,
        OpClass::Asymmetric => usage == KeyUsage::Sign,
        OpClass::Mac => usage == KeyUsage::Hmac,
        _ => true,
    }
}

fn weighted<T: Copy>(rng: &mut SynthRng, items: &[(T, f64)]) -> Option<T> {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for &(item, w) in items {
        if x < w {
            return Some(item);
        }
        x -= w;
    }
    items.last().map(|(i, _)| *i)
}

impl Planner<'_> {
    /// Office-hours-shaped traffic, so rate views have peaks and troughs.
    fn random_time(&mut self) -> i64 {
        loop {
            let t = self.start + self.rng.random_range(0..self.span.max(1));
            let secs = u32::try_from(t.rem_euclid(86_400)).unwrap_or_default();
            let day = f64::from(secs) / 86_400.0;
            let w = 0.55 + 0.45 * (std::f64::consts::TAU * (day - 0.3)).sin();
            if self.rng.random::<f64>() < w {
                return t;
            }
        }
    }

    fn random_op(&mut self, allowed: Option<&[&'static str]>) -> usize {
        let items: Vec<(usize, f64)> = OPS
            .iter()
            .enumerate()
            .filter(|(_, o)| allowed.is_none_or(|a| a.contains(&o.name)))
            .map(|(i, o)| (i, o.weight))
            .collect();
        weighted(self.rng, &items).unwrap_or(0)
    }

    fn make(&mut self, f: Force) -> Planned {
        let u = self.u;
        let hostile = f.hostile.or_else(|| {
            (self.rng.random::<f64>() < self.spec.hostile_share)
                .then(|| self.rng.random_range(0..hostile_count()) as u8)
        });
        let forced_ops = f.identity.map(|i| u.identities[i].ops.as_slice());
        let mut op = f.op.unwrap_or_else(|| self.random_op(forced_ops));
        if hostile.is_some() && OPS[op].class == OpClass::Service {
            op = 0;
        }
        let name = OPS[op].name;
        let identity = f.identity.unwrap_or_else(|| {
            let want_hostile = hostile.is_some() && self.rng.random_bool(0.3);
            let cands = |hostile: bool| -> Vec<(usize, f64)> {
                u.identities
                    .iter()
                    .enumerate()
                    .filter(|(_, id)| {
                        id.ops.contains(&name) && id.hostile == hostile && !id.scripted
                    })
                    .map(|(i, id)| (i, if hostile { 1.0 } else { id.weight }))
                    .collect()
            };
            let pool = Some(cands(true))
                .filter(|c| want_hostile && !c.is_empty())
                .unwrap_or_else(|| cands(false));
            weighted(self.rng, &pool).unwrap_or(0)
        });
        let id = &u.identities[identity];
        let op_ref = &OPS[op];
        let mut key = f.key.or_else(|| {
            if !op_ref.needs_key() {
                return None;
            }
            let own: Vec<usize> = id
                .keys
                .iter()
                .copied()
                .filter(|&k| usage_fits(op_ref, u.keys[k].usage))
                .collect();
            let any: Vec<usize> = (0..u.keys.len())
                .filter(|&k| usage_fits(op_ref, u.keys[k].usage) && !u.keys[k].bare_only)
                .collect();
            let pool = if own.is_empty() { any } else { own };
            pool.choose(self.rng).copied()
        });
        let mut outcome = f.outcome.unwrap_or_else(|| self.random_outcome(op_ref));
        if op_ref.class == OpClass::Service {
            outcome = SynthOutcome::Success;
        }
        let key_ref = match (f.key_ref, outcome) {
            (_, SynthOutcome::Denied("AccessDenied")) => KeyRef::DeniedMessage,
            (
                _,
                SynthOutcome::Denied("AccessDeniedException")
                | SynthOutcome::Error("NotFoundException"),
            ) => KeyRef::None,
            (Some(kr), _) => kr,
            _ => self.random_key_ref(op_ref, key.is_some_and(|k| u.keys[k].bare_only)),
        };
        let key_ref = match (key_ref, outcome) {
            (KeyRef::None, SynthOutcome::Error("NotFoundException")) => KeyRef::AliasOnly,
            (kr, _) if key.is_none() && kr != KeyRef::DeniedMessage => KeyRef::None,
            (kr, _) => kr,
        };
        if key_ref == KeyRef::None || (key_ref == KeyRef::AliasOnly && outcome.code().is_some()) {
            key = None;
        }
        let (recipient, region) = if let Some(k) = key {
            (
                self.account_index(&u.keys[k].account),
                self.region_index(&u.keys[k].region),
            )
        } else {
            let acct = if id.kind == IdentityKind::AwsAccount {
                0
            } else {
                self.account_index(&id.account)
            };
            (acct, self.rng.random_range(0..u.regions.len()))
        };
        let t = f.time.unwrap_or_else(|| self.random_time());
        Planned {
            t,
            id: new_uuid(self.rng),
            op: op as u8,
            identity: identity as u16,
            key: key.map(|k| k as u16),
            key_ref,
            outcome,
            hostile,
            region: region as u8,
            recipient: recipient as u8,
        }
    }

    fn account_index(&self, a: &str) -> usize {
        self.u.accounts.iter().position(|x| x == a).unwrap_or(0)
    }

    fn region_index(&self, r: &str) -> usize {
        self.u.regions.iter().position(|x| x == r).unwrap_or(0)
    }

    /// ~2 % background denials (the burst adds ~1 %), ~1 % errors.
    fn random_outcome(&mut self, op: &Op) -> SynthOutcome {
        let r: f64 = self.rng.random();
        if r < 0.02 {
            let code = weighted(
                self.rng,
                &[
                    (DENIED_CODES[0], 0.6),
                    (DENIED_CODES[1], 0.25),
                    (DENIED_CODES[2], 0.1),
                    (DENIED_CODES[3], 0.05),
                ],
            );
            return SynthOutcome::Denied(code.unwrap_or("AccessDenied"));
        }
        if r < 0.03 {
            let codes: &[&'static str] = match op.name {
                "Decrypt" => &[
                    "KMSInvalidStateException",
                    "InvalidCiphertextException",
                    "ThrottlingException",
                    "IncorrectKeyException",
                ],
                "DescribeKey" => &["NotFoundException", "ThrottlingException"],
                _ => &["ThrottlingException", "KMSInvalidStateException"],
            };
            return SynthOutcome::Error(
                codes
                    .choose(self.rng)
                    .copied()
                    .unwrap_or("ThrottlingException"),
            );
        }
        SynthOutcome::Success
    }

    fn random_key_ref(&mut self, op: &Op, bare_only: bool) -> KeyRef {
        if bare_only {
            return KeyRef::RequestBareId;
        }
        if matches!(op.name, "CreateAlias" | "UpdateAlias" | "DeleteAlias") {
            return KeyRef::ResourceWithAlias;
        }
        // CreateKey's request names no key; only resources can carry it.
        if op.name == "CreateKey" {
            return KeyRef::Resource;
        }
        if op.echoes_key() && self.rng.random_bool(0.3) {
            return KeyRef::ResponseOnly;
        }
        // Service events carry no requestParameters, so only resources work.
        if op.class == OpClass::Service {
            return KeyRef::Resource;
        }
        let aliasable = matches!(op.class, OpClass::Crypto | OpClass::Meta);
        match self.rng.random_range(0..100u8) {
            0..88 => KeyRef::Resource,
            88..95 => KeyRef::ResourceUntyped,
            95..98 => KeyRef::RequestArn,
            _ if aliasable => KeyRef::AliasOnly,
            _ => KeyRef::Resource,
        }
    }
}

pub fn plan_events(spec: &CorpusSpec, u: &Universe, rng: &mut SynthRng) -> Vec<Planned> {
    let start = spec.start.timestamp();
    let span = spec.duration.num_seconds().max(1);
    let mut p = Planner {
        spec,
        u,
        rng,
        start,
        span,
    };
    let n = spec.kms_events;
    // One burst per corpus, sized to a day's traffic: a longer corpus at the
    // same rate (`scaled`) keeps the same incident rather than a denser one.
    let per_day =
        usize::try_from(i64::try_from(n).unwrap_or(i64::MAX).saturating_mul(86_400) / span)
            .unwrap_or(n)
            .min(n);
    let burst_n = if n >= 50 { (per_day / 100).max(5) } else { 0 };
    let mut forces = p.coverage();
    forces.truncate(n.saturating_sub(burst_n));
    // Denied-Decrypt burst: one role hammering a key it cannot use, 15 min.
    let etl = u.identities.iter().position(|i| i.name == "etl-batch");
    let burst_key = etl.and_then(|e| {
        u.identities[e]
            .keys
            .iter()
            .copied()
            .find(|&k| u.keys[k].account != u.identities[e].account)
    });
    let burst_start = start + span * 11 / 20;
    let burst_len = (15 * 60).min(span - span * 11 / 20).max(1);
    for _ in 0..burst_n {
        let t = burst_start + p.rng.random_range(0..burst_len);
        forces.push(Force {
            op: index_of("Decrypt"),
            identity: etl,
            key: burst_key,
            outcome: Some(SynthOutcome::Denied("AccessDenied")),
            time: Some(t),
            ..Force::default()
        });
    }
    let mut plan: Vec<Planned> = forces.into_iter().map(|f| p.make(f)).collect();
    while plan.len() < n {
        plan.push(p.make(Force::default()));
    }
    rotations(&mut plan, start);
    config_refusals(&mut plan, u);
    plan.sort_by_key(|e| e.t);
    share_event_ids(&mut plan, start, span, p.rng);
    plan
}

/// AWS Config's evaluations: about one in six of the background refused
/// Decrypts (`AccessDenied`, the key named only in the message; never the
/// burst's, never a hostile one), and always the first, become the Config
/// role's, on another account's key and in the caller's own trail (a
/// refused cross-account call is logged only there). Chosen by event id:
/// no draw moves the rest of the corpus.
fn config_refusals(plan: &mut [Planned], u: &Universe) {
    let Some(config) = u.identities.iter().position(|i| i.scripted) else {
        return;
    };
    let id = &u.identities[config];
    let (Some(&key), Some(decrypt)) = (id.keys.first(), index_of("Decrypt")) else {
        return;
    };
    let burst = u.identities.iter().position(|i| i.name == "etl-batch");
    let home = u
        .accounts
        .iter()
        .position(|a| *a == id.account)
        .unwrap_or(0);
    let region = u
        .regions
        .iter()
        .position(|r| *r == u.keys[key].region)
        .unwrap_or(0);
    let mut first = true;
    for e in plan.iter_mut() {
        let refused = e.op == decrypt as u8
            && e.outcome == SynthOutcome::Denied("AccessDenied")
            && e.hostile.is_none()
            && Some(e.identity as usize) != burst;
        if !refused || !(first || e.id % 6 == 0) {
            continue;
        }
        first = false;
        e.identity = config as u16;
        e.key = Some(key as u16);
        e.key_ref = KeyRef::DeniedMessage;
        e.recipient = home as u8;
        e.region = region as u8;
    }
}

/// Routine alias changes are rotations: whoever points an alias at a key
/// created it shortly before (Terraform, a runbook). Each successful
/// `UpdateAlias` takes one of the plan's `CreateKey` calls as its own: the
/// same caller and key, one to thirty minutes earlier (from the event id,
/// so no draw moves the rest of the corpus). Counts per call stay as
/// planned.
fn rotations(plan: &mut [Planned], start: i64) {
    let (Some(update), Some(create)) = (index_of("UpdateAlias"), index_of("CreateKey")) else {
        return;
    };
    let (update, create) = (update as u8, create as u8);
    let mut spare = plan
        .iter()
        .enumerate()
        .filter(|(_, e)| e.op == create)
        .map(|(i, _)| i)
        .collect::<Vec<_>>()
        .into_iter()
        // The coverage calls come first in the plan: keep their shapes.
        .rev();
    let updates: Vec<usize> = plan
        .iter()
        .enumerate()
        .filter(|(_, e)| e.op == update && e.outcome == SynthOutcome::Success && e.key.is_some())
        .map(|(i, _)| i)
        .collect();
    for u in updates {
        let Some(c) = spare.next() else { return };
        let alias = plan[u];
        let lead = 60 + i64::try_from(alias.id % 1_740).unwrap_or(0);
        let made = &mut plan[c];
        made.identity = alias.identity;
        made.key = alias.key;
        made.key_ref = KeyRef::Resource;
        made.outcome = SynthOutcome::Success;
        made.region = alias.region;
        made.recipient = alias.recipient;
        made.t = (alias.t - lead).max(start);
    }
}

/// Real trails contain distinct events sharing an eventID (differing in time
/// or name); the report must keep both.
fn share_event_ids(plan: &mut [Planned], start: i64, span: i64, rng: &mut SynthRng) {
    if plan.len() < 10 {
        return;
    }
    for _ in 0..(plan.len() / 2_000).max(3) {
        let (a, b) = (
            rng.random_range(0..plan.len()),
            rng.random_range(0..plan.len()),
        );
        if a != b {
            plan[b].id = plan[a].id;
        }
    }
    let mut seen = HashSet::with_capacity(plan.len());
    for e in plan.iter_mut() {
        while !seen.insert((e.id, e.t, e.op)) {
            e.t = if e.t + 1 < start + span {
                e.t + 1
            } else {
                e.t - 1
            };
        }
    }
}

pub fn plan_noise(spec: &CorpusSpec, u: &Universe, rng: &mut SynthRng) -> Vec<NoisePlan> {
    let start = spec.start.timestamp();
    let span = spec.duration.num_seconds().max(1);
    let mut v: Vec<NoisePlan> = (0..spec.non_kms_records)
        .map(|_| NoisePlan {
            t: start + rng.random_range(0..span),
            id: new_uuid(rng),
            kind: NoiseKind::pick(rng),
            account: rng.random_range(0..u.accounts.len()) as u8,
            region: rng.random_range(0..u.regions.len()) as u8,
        })
        .collect();
    v.sort_by_key(|n| n.t);
    v
}
