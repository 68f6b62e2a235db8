use chrono::Duration;

use super::*;
use crate::store::tests::{ev_with, t0};
use crate::store::{Counts, Dim, Store, StoreConfig};

const KEY_A: &str = "arn:aws:kms:us-east-1:111122223333:key/aaaa";
const KEY_B: &str = "arn:aws:kms:us-east-1:111122223333:key/bbbb";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";

/// Alice: 30 Decrypts in the last minute, 30 more 10 minutes ago, 6 denied
/// 3 minutes ago, all on key A. Bob: one Encrypt on key B two hours ago.
fn scenario() -> Store {
    let mut s = Store::new(StoreConfig::default());
    let now = t0();
    let mut n = 0;
    let mut add = |s: &mut Store, at, p, k, name, err| {
        n += 1;
        s.ingest(
            &ev_with(&n.to_string(), at, p, Some(k), name, err, &[]),
            now,
        );
    };
    for i in 0..30 {
        add(
            &mut s,
            now - Duration::seconds(i),
            ALICE,
            KEY_A,
            "Decrypt",
            None,
        );
        add(
            &mut s,
            now - Duration::minutes(10) - Duration::seconds(i),
            ALICE,
            KEY_A,
            "Decrypt",
            None,
        );
    }
    for _ in 0..6 {
        add(
            &mut s,
            now - Duration::minutes(3),
            ALICE,
            KEY_A,
            "Decrypt",
            Some("AccessDenied"),
        );
    }
    add(
        &mut s,
        now - Duration::hours(2),
        BOB,
        KEY_B,
        "Encrypt",
        None,
    );
    s
}

#[test]
fn rates_are_per_minute_over_nested_windows() {
    let s = scenario();
    let (principals, _) = recent_counts(&s, t0());
    let alice = principals[s.id(Dim::Principal, ALICE).expect("alice") as usize];
    // t0 opens its 10 s bucket: the windows' buckets hold 51, 291 and 891
    // seconds of events up to it, and the rates are over those seconds.
    let per_min = |n: f64, secs: f64| n * 60.0 / secs;
    let span = RateSpan::of(&s, t0());
    assert_eq!(span.seconds, [51, 291, 891]);
    assert_eq!(alice.calls, [30, 36, 66]);
    assert_eq!(alice.decrypt, [30, 36, 66]);
    assert_eq!(alice.denied, [0, 6, 6]);
    let calls = alice.call_rates(&span);
    assert!((calls.m1 - per_min(30.0, 51.0)).abs() < 1e-9);
    assert!((calls.m5 - per_min(36.0, 291.0)).abs() < 1e-9);
    assert!((calls.m15 - per_min(66.0, 891.0)).abs() < 1e-9);
    let denied = alice.denied_rates(&span);
    assert!((denied.m5 - per_min(6.0, 291.0)).abs() < 1e-9);
    assert!(denied.m1.abs() < 1e-9);
    // Bob's one call, two hours ago, is in no window.
    let bob = principals[s.id(Dim::Principal, BOB).expect("bob") as usize];
    assert_eq!(bob, RecentCounts::default());
}

#[test]
fn series_puts_each_minute_in_its_slot() {
    let s = scenario();
    let alice = s.id(Dim::Principal, ALICE).expect("alice");
    let key_a = s.id(Dim::Key, KEY_A).expect("key a");
    let (p, k) = series_many_both(&s, t0(), &[alice], &[key_a]);
    // t0 itself is the only event in the current minute.
    assert_eq!(p[0].calls[59], 1);
    assert_eq!(p[0].calls.iter().sum::<u64>(), 66);
    assert_eq!(p[0].denied[56], 6);
    assert_eq!(k[0], p[0], "all of Alice's calls are on key A");
}

#[test]
fn top_contexts_are_counted_and_the_rest_is_other() {
    let mut s = Store::new(StoreConfig::default());
    let now = t0();
    for (i, obj) in ["x", "y", "x", "z", "x", "y"].iter().enumerate() {
        let arn = format!("arn:aws:s3:::b/{obj}");
        let e = ev_with(
            &i.to_string(),
            now,
            ALICE,
            Some(KEY_A),
            "Decrypt",
            None,
            &[("aws:s3:arn", &arn)],
        );
        s.ingest(&e, now);
    }
    let key = s.id(Dim::Key, KEY_A).expect("key");
    let top = top_contexts(&s, Dim::Key, key, 2).expect("key info");
    let got: Vec<_> = top.rows.iter().map(|r| (r.key, r.value, r.count)).collect();
    assert_eq!(
        got,
        [
            ("aws:s3:arn", "arn:aws:s3:::b/x", 3),
            ("aws:s3:arn", "arn:aws:s3:::b/y", 2)
        ]
    );
    assert_eq!(top.other, 1);
}

#[test]
fn window_counts_read_directly_or_as_the_whole_minus_the_rest_agree() {
    let mut s = Store::new(StoreConfig::default());
    let now = t0();
    let principals = [ALICE, BOB, "carol"];
    let ips = ["10.0.0.1", "10.0.0.2", "192.0.2.9"];
    // (bucket index, principal, key, decrypt, denied, ip) of every event.
    let mut seen = Vec::new();
    for i in 0..600_i64 {
        let at = now - Duration::seconds(i * 17);
        let small = |n: i64| usize::try_from(n).expect("small");
        let (p, ip) = (principals[small(i % 3)], ips[small(i % 7 % 3)]);
        let key = if i % 5 == 0 { None } else { Some(KEY_A) };
        let denied = i % 4 == 0;
        let name = if i % 2 == 0 { "Decrypt" } else { "Encrypt" };
        let mut e = ev_with(
            &i.to_string(),
            at,
            p,
            key,
            name,
            denied.then_some("AccessDenied"),
            &[],
        );
        e.source_ip = Some(ip.into());
        s.ingest(&e, now);
        seen.push((s.bucket_index(at), p, key, name == "Decrypt", denied, ip));
    }
    let (lo, hi) = (
        s.bucket_index(now - Duration::hours(3)),
        s.bucket_index(now),
    );
    for (from, to) in [
        (lo, hi),
        (hi - 5, hi),
        (lo, lo + 10),
        (lo + 100, hi - 200),
        (hi + 1, hi + 5),
    ] {
        let w = window_counts(&s, from, to);
        let inside = || seen.iter().filter(|e| (from..=to).contains(&e.0));
        for p in principals {
            let id = s.id(Dim::Principal, p).expect("principal") as usize;
            let want = Counts {
                calls: inside().filter(|e| e.1 == p).count() as u64,
                decrypt: inside().filter(|e| e.1 == p && e.3).count() as u64,
                denied: inside().filter(|e| e.1 == p && e.4).count() as u64,
            };
            assert_eq!(w.principals[id], want, "{p} in {from}..={to}");
        }
        let key = s.id(Dim::Key, KEY_A).expect("key") as usize;
        let on_key = inside().filter(|e| e.2.is_some()).count() as u64;
        assert_eq!(w.keys[key].calls, on_key);
        assert_eq!(
            w.keys[crate::store::NONE as usize].calls,
            inside().count() as u64 - on_key
        );
        for ip in ips {
            let id = s.id(Dim::SourceIp, ip).expect("ip") as usize;
            let want = inside().filter(|e| e.5 == ip && e.4).count() as u64;
            assert_eq!(w.denied_ips[id], want, "{ip} in {from}..={to}");
            assert_eq!(denied_ips_in(&s, from, to)[id], want);
        }
        assert_eq!(w.calls.iter().sum::<u64>(), inside().count() as u64);
        assert_eq!(
            w.denied.iter().sum::<u64>(),
            inside().filter(|e| e.4).count() as u64
        );
    }
}

/// Counted in two halves and merged, the 1/5/15-minute counts are the
/// counts read whole: in a burst (read from the retention's totals, the
/// 15 minutes hold most calls) and spread out (read as the 15 minutes).
#[test]
fn recent_counts_in_halves_are_the_counts_read_whole() {
    use super::{RecentPlan, merge_recent};
    let now = t0();
    let mut burst = scenario();
    let mut spread = scenario();
    let add = |s: &mut Store, at, p: &str, k, name, err: Option<&str>, n: i64| {
        s.ingest(
            &ev_with(&format!("h{n}"), at, p, Some(k), name, err, &[]),
            now,
        );
    };
    for i in 0..2_000_i64 {
        let who = format!("arn:aws:iam::111122223333:role/p{}", i % 9_000);
        let error = (i % 7 == 0).then_some("AccessDenied");
        let name = if i % 3 == 0 { "Encrypt" } else { "Decrypt" };
        let ago = i % 599;
        add(
            &mut burst,
            now - Duration::seconds(ago),
            &who,
            KEY_A,
            name,
            error,
            i,
        );
        add(
            &mut spread,
            now - Duration::minutes(ago),
            &who,
            KEY_B,
            name,
            error,
            i,
        );
    }
    // Too few calls to be worth it are read in one part.
    let small = scenario();
    let plan = RecentPlan::new(&small, now);
    assert_eq!(plan.halves(&small, 1_000), [plan.span]);
    assert_eq!(plan.halves(&small, 0).len(), 2);
    for s in [&burst, &spread] {
        let whole = recent_counts(s, now);
        let plan = RecentPlan::new(s, now);
        let parts = plan.halves(s, 0);
        assert_eq!(parts.len(), 2, "{:?}", plan.span);
        assert_eq!(parts[0].0, plan.span.0);
        assert_eq!(parts[0].1 + 1, parts[1].0);
        assert_eq!(parts[1].1, plan.span.1);
        let mut merged = plan.count(s, parts[0], true);
        let late = plan.count(s, parts[1], false);
        merge_recent(&mut merged.0, &late.0);
        merge_recent(&mut merged.1, &late.1);
        assert_eq!(merged, whole);
        // Each half alone is not the whole: the test reads both.
        assert_ne!(plan.count(s, parts[1], false), whole);
    }
}
