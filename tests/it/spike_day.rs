//! The spike rules over a generated day of traffic (seeded ChaCha8): steady
//! denied noise from many principals, one principal whose denied rate grows
//! thirtyfold over the day, steady and diurnal Decrypt volume — and one
//! injected burst of each kind. Exactly the injected principal (and its
//! key and source IP) fires; noise and slow growth do not.
//!
//! The first two hours are the history every principal starts without; a
//! busy principal's first minutes look like a burst from nothing (which the
//! spike rules report by design), so assertions count only what fires
//! after them.

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use kmstop::alert::{Change, Engine, Kind, builtin};
use kmstop::event::{KeyRef, KmsEvent, Outcome};
use kmstop::inventory::Inventory;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ACCOUNT: &str = "111122223333";

struct Gen {
    time: DateTime<Utc>,
    principal: String,
    key: String,
    ip: String,
    denied: bool,
}

/// Knuth's Poisson sampler: fine for the small means used here.
fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut k = 0;
    let mut p: f64 = rng.random();
    while p > limit {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn key(n: usize) -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{n:08x}-0000-0000-0000-000000000000")
}

/// Events at `per_minute(minute)` on average, for minutes `from..to`.
#[allow(clippy::too_many_arguments)]
fn stream(
    out: &mut Vec<Gen>,
    rng: &mut ChaCha8Rng,
    start: DateTime<Utc>,
    minutes: std::ops::Range<i64>,
    per_minute: impl Fn(i64) -> f64,
    principal: &str,
    keys: &[String],
    ip: &str,
    denied: bool,
) {
    for m in minutes {
        for _ in 0..poisson(rng, per_minute(m)) {
            let ms = rng.random_range(0..60_000);
            out.push(Gen {
                time: start + Duration::minutes(m) + Duration::milliseconds(ms),
                principal: principal.to_owned(),
                key: keys[rng.random_range(0..keys.len())].clone(),
                ip: ip.to_owned(),
                denied,
            });
        }
    }
}

fn event(g: &Gen) -> KmsEvent<'_> {
    KmsEvent {
        time: g.time,
        time_text: Cow::Borrowed(""),
        event_id: Cow::Borrowed("generated"),
        event_name: Cow::Borrowed("Decrypt"),
        event_type: Some(Cow::Borrowed("AwsApiCall")),
        event_category: Some(Cow::Borrowed("Management")),
        region: Some(Cow::Borrowed("us-east-1")),
        recipient_account: Some(Cow::Borrowed(ACCOUNT)),
        principal: Cow::Borrowed(&g.principal),
        principal_type: Some(Cow::Borrowed("AssumedRole")),
        principal_account: Some(Cow::Borrowed(ACCOUNT)),
        session_name: None,
        access_key_id: None,
        source_ip: Some(Cow::Borrowed(&g.ip)),
        user_agent: Some(Cow::Borrowed("aws-sdk-java/2.20")),
        invoked_by: None,
        key: Some(KeyRef {
            arn: Cow::Borrowed(&g.key),
        }),
        alias: None,
        outcome: if g.denied {
            Outcome::Denied
        } else {
            Outcome::Success
        },
        error_code: g.denied.then_some(Cow::Borrowed("AccessDeniedException")),
        error_message: None,
        read_only: Some(true),
        encryption_context: Vec::new(),
        key_policy: None,
        call: kmstop::event::CallDetail::default(),
        raw: None,
    }
}

// One flat list of streams reads better than helpers split for length.
#[allow(clippy::cast_precision_loss, clippy::too_many_lines)]
fn day(seed: u64, burst: bool) -> Vec<Gen> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start: DateTime<Utc> = "2024-05-01T00:00:00Z".parse().expect("time");
    let minutes = 0..26 * 60;
    let shared: Vec<String> = (0..20).map(key).collect();
    let mut out = Vec::new();
    // Denied noise: 40 principals, each at its own constant low rate.
    for p in 0..40 {
        let rate = rng.random_range(0.2..1.5);
        let ip = format!("10.0.{}.{}", p / 200, p % 200);
        let name = role(&format!("noisy-{p}"));
        stream(
            &mut out,
            &mut rng,
            start,
            minutes.clone(),
            |_| rate,
            &name,
            &shared,
            &ip,
            true,
        );
    }
    // Slow growth of denials: 1 a minute at midnight to 30 a minute at the end.
    let grow = |m: i64| 1.0 + 29.0 * m as f64 / (26.0 * 60.0);
    stream(
        &mut out,
        &mut rng,
        start,
        minutes.clone(),
        grow,
        &role("creeping"),
        &shared,
        "10.1.0.1",
        true,
    );
    // Decrypt volume: 15 services at steady rates, 5 with a day/night cycle.
    for p in 0..20 {
        let base = rng.random_range(5.0..60.0);
        let name = role(&format!("service-{p}"));
        let ip = format!("10.2.0.{p}");
        if p < 15 {
            stream(
                &mut out,
                &mut rng,
                start,
                minutes.clone(),
                |_| base,
                &name,
                &shared,
                &ip,
                false,
            );
        } else {
            let cycle = move |m: i64| {
                base * (1.0 + 0.8 * (m as f64 / (24.0 * 60.0) * std::f64::consts::TAU).sin())
            };
            stream(
                &mut out,
                &mut rng,
                start,
                minutes.clone(),
                cycle,
                &name,
                &shared,
                &ip,
                false,
            );
        }
    }
    // The intruder: a quiet principal with its own key and IP...
    let own = [key(999)];
    stream(
        &mut out,
        &mut rng,
        start,
        minutes.clone(),
        |_| 0.3,
        &role("intruder"),
        &own,
        "192.0.2.66",
        true,
    );
    stream(
        &mut out,
        &mut rng,
        start,
        minutes.clone(),
        |_| 2.0,
        &role("exfil"),
        &own,
        "192.0.2.67",
        false,
    );
    if burst {
        // ...refused 200 times in two minutes at 14:00 ...
        stream(
            &mut out,
            &mut rng,
            start,
            14 * 60..14 * 60 + 2,
            |_| 100.0,
            &role("intruder"),
            &own,
            "192.0.2.66",
            true,
        );
        // ...and decrypting 1000 times in five minutes at 18:00.
        stream(
            &mut out,
            &mut rng,
            start,
            18 * 60..18 * 60 + 5,
            |_| 200.0,
            &role("exfil"),
            &own,
            "192.0.2.67",
            false,
        );
    }
    out.sort_by_key(|g| g.time);
    out
}

/// The (rule, group) pairs that fired after the two hours of history.
fn fired_after_history(events: &[Gen]) -> BTreeSet<(String, String)> {
    let rules = builtin::rules()
        .into_iter()
        .filter(|r| r.kind == Kind::Spike)
        .collect::<Vec<_>>();
    assert_eq!(rules.len(), 4);
    let mut engine = Engine::new(rules, Inventory::default()).expect("engine");
    let history_end = events[0].time + Duration::hours(2);
    let mut fired = BTreeSet::new();
    for g in events {
        for c in engine.observe(&event(g)) {
            if c.change == Change::Fired && c.alert.first >= history_end {
                fired.insert((c.alert.rule, c.alert.group));
            }
        }
    }
    fired
}

#[test]
fn only_the_injected_bursts_fire() {
    let events = day(7, true);
    assert!(events.len() > 250_000, "{}", events.len());
    let fired = fired_after_history(&events);
    let want: BTreeSet<(String, String)> = [
        (
            "unauthorized-decrypt-spike",
            format!("principal={}", role("intruder")),
        ),
        ("unauthorized-spike-by-key", format!("key={}", key(999))),
        (
            "unauthorized-spike-by-source-ip",
            "source_ip=192.0.2.66".to_owned(),
        ),
        (
            "decrypt-volume-spike",
            format!("principal={}", role("exfil")),
        ),
    ]
    .into_iter()
    .map(|(r, g)| (r.to_owned(), g))
    .collect();
    assert_eq!(fired, want);
}

#[test]
fn noise_and_slow_growth_alone_never_fire() {
    for seed in [1, 2] {
        let fired = fired_after_history(&day(seed, false));
        assert!(fired.is_empty(), "seed {seed}: {fired:?}");
    }
}

/// The detections no public rule set ships (issue 17) must not fire on a
/// day of ordinary traffic: a rule that cries wolf is switched off. Here
/// the day is Decrypts only (the whole mix of an account, control plane
/// included, is `quiet_day.rs`'s), as services make them: every successful call carries an
/// encryption context, and each principal's address moves within its /24,
/// so the context and network rules have habits to keep.
#[test]
fn the_new_change_detections_stay_quiet_on_an_ordinary_day() {
    let ids = crate::quiet_day::ISSUE_17;
    let rules: Vec<_> = builtin::rules()
        .into_iter()
        .filter(|r| ids.contains(&r.id.as_str()))
        .collect();
    assert_eq!(rules.len(), ids.len());
    let mut engine = Engine::new(rules, Inventory::default()).expect("engine");
    let events = day(1, false);
    let context = vec![(
        Cow::Borrowed("aws:s3:arn"),
        Cow::Borrowed("arn:aws:s3:::orders/2024/05/01/object"),
    )];
    let mut fired = Vec::new();
    let mut networks = BTreeSet::new();
    for g in &events {
        let mut e = event(g);
        if !g.denied {
            e.encryption_context.clone_from(&context);
        }
        let (net, _) = g.ip.rsplit_once('.').expect("IPv4");
        let moved = format!("{net}.{}", g.time.timestamp_subsec_millis() % 250);
        networks.insert(net.to_owned());
        e.source_ip = Some(Cow::Borrowed(&moved));
        fired.extend(
            engine
                .observe(&e)
                .into_iter()
                .filter(|c| c.change == Change::Fired)
                .map(|c| format!("{} {}", c.alert.rule, c.alert.group)),
        );
    }
    assert!(events.len() > 250_000 && networks.len() > 3);
    // The day outlasts the network rule's 24 h of learning.
    assert!(events[events.len() - 1].time - events[0].time > Duration::hours(25));
    assert!(fired.is_empty(), "{fired:?}");
}
