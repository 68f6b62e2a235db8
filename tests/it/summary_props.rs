//! The minute summaries change no count: rates, window counts and
//! sparklines read through them equal a scan of every bucket's
//! combinations (the path the panes took before them), whatever the
//! events, bucket widths, widening, expiry and view times.

use chrono::{DateTime, Duration, TimeZone, Utc};
use kmstop::aggregate::{RecentCounts, Window, recent_counts, series_many_both, window_counts};
use kmstop::event::{KmsEvent, Parsed, parse_record};
use kmstop::store::{Counts, Dim, Store, StoreConfig};
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("valid")
}

const NAMES: [&str; 3] = ["Decrypt", "Encrypt", "GenerateDataKey"];

#[derive(Debug, Clone)]
struct Spec {
    secs_before: i64,
    principal: u8,
    key: u8,
    name: usize,
    denied: bool,
}

fn event(id: usize, s: &Spec) -> KmsEvent<'static> {
    let at = (t0() - Duration::seconds(s.secs_before)).format("%Y-%m-%dT%H:%M:%SZ");
    let err = if s.denied {
        r#","errorCode":"AccessDenied""#
    } else {
        ""
    };
    // Key 0: a call that names no key.
    let resources = if s.key == 0 {
        String::new()
    } else {
        format!(
            r#","resources":[{{"ARN":"arn:aws:kms:us-east-1:1:key/k{}"}}]"#,
            s.key
        )
    };
    let raw = format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"{}","eventTime":"{at}","eventID":"e{id}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/p{}"}}{resources}{err}}}"#,
        NAMES[s.name], s.principal
    );
    match parse_record(&raw) {
        Ok(Parsed::Kms(e)) => e.into_owned(),
        other => panic!("{other:?}"),
    }
}

/// The old path: every combination of the last 15 minutes' buckets.
fn recent_by_scan(store: &Store, now: DateTime<Utc>) -> (Vec<RecentCounts>, Vec<RecentCounts>) {
    let mut p = vec![RecentCounts::default(); store.id_bound(Dim::Principal)];
    let mut k = vec![RecentCounts::default(); store.id_bound(Dim::Key)];
    let secs = store.bucket_seconds();
    let current = store.bucket_index(now);
    let starts = Window::ALL.map(|w| current - w.buckets(secs) + 1);
    for (index, b) in store.buckets_in(starts[2], current) {
        let from = starts.iter().filter(|&&s| index < s).count();
        for (c, n) in b.combos() {
            let n = u64::from(n);
            let decrypt = c.event_name == store.decrypt_name_id();
            for acc in [&mut p[c.principal as usize], &mut k[c.key as usize]] {
                for w in from..3 {
                    acc.calls[w] += n;
                    acc.decrypt[w] += if decrypt { n } else { 0 };
                    acc.denied[w] += if c.is_denied() { n } else { 0 };
                }
            }
        }
    }
    (p, k)
}

/// The old path: every combination of the window's buckets.
fn window_by_scan(store: &Store, from: i64, to: i64) -> (Vec<Counts>, Vec<Counts>, Vec<u64>) {
    let mut p = vec![Counts::default(); store.id_bound(Dim::Principal)];
    let mut k = vec![Counts::default(); store.id_bound(Dim::Key)];
    let mut ips = vec![0; store.id_bound(Dim::SourceIp)];
    for (_, b) in store.buckets_in(from, to) {
        for (c, n) in b.combos() {
            let n = u64::from(n);
            let decrypt = c.event_name == store.decrypt_name_id();
            for acc in [&mut p[c.principal as usize], &mut k[c.key as usize]] {
                acc.calls += n;
                acc.decrypt += if decrypt { n } else { 0 };
                acc.denied += if c.is_denied() { n } else { 0 };
            }
        }
        for (ip, n) in b.denied_ips() {
            ips[ip as usize] += u64::from(n);
        }
    }
    (p, k, ips)
}

/// The old path: every combination of the last hour's buckets, by the
/// minute each bucket starts in.
fn series_by_scan(store: &Store, now: DateTime<Utc>, ids: &[u32], dim: Dim) -> Vec<[u64; 120]> {
    let mut out = vec![[0u64; 120]; ids.len()];
    let secs = store.bucket_seconds();
    let first_minute = now.timestamp().div_euclid(60) - 59;
    let from = (first_minute * 60).div_euclid(secs);
    for (index, b) in store.buckets_in(from, store.bucket_index(now)) {
        let Ok(slot) = usize::try_from((index * secs).div_euclid(60) - first_minute) else {
            continue;
        };
        if slot >= 60 {
            continue;
        }
        for (c, n) in b.combos() {
            let id = if dim == Dim::Principal {
                c.principal
            } else {
                c.key
            };
            // An id listed twice fills its last row.
            if let Some(row) = ids.iter().rposition(|&x| x == id) {
                out[row][slot] += u64::from(n);
                if c.is_denied() {
                    out[row][60 + slot] += u64::from(n);
                }
            }
        }
    }
    out
}

fn specs() -> impl Strategy<Value = Vec<Spec>> {
    // How far back events go: a burst of a minute up to two hours, so
    // minutes hold many combinations (summaries are read) or few.
    prop::sample::select(vec![60i64, 300, 900, 3_000, 7_200]).prop_flat_map(|span| {
        let one = (
            0..span,
            0u8..24,
            0u8..5,
            0usize..3,
            prop::bool::weighted(0.2),
        )
            .prop_map(|(secs_before, principal, key, name, denied)| Spec {
                secs_before,
                principal,
                key,
                name,
                denied,
            });
        prop::collection::vec(one, 0..400)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn summaries_read_what_the_buckets_hold(
        specs in specs(),
        bucket in prop::sample::select(vec![1i64, 5, 7, 10, 15, 30, 60]),
        retention_min in prop::sample::select(vec![20i64, 90, 24 * 60]),
        max_buckets in prop::option::of(20usize..400),
        max_principals in prop::sample::select(vec![5usize, 10_000]),
        advance in 0i64..1_200,
        views in prop::collection::vec((-60i64..7_300, 0usize..6), 1..6),
    ) {
        let config = StoreConfig {
            bucket: Duration::seconds(bucket),
            retention: Duration::minutes(retention_min),
            ring_capacity: 0,
            max_principals,
            max_keys: 3,
            max_buckets,
            ..StoreConfig::default()
        };
        let mut store = Store::new(config);
        // Arrivals out of time order, with the clock moving on half-way.
        let later = t0() + Duration::seconds(advance);
        for (i, s) in specs.iter().enumerate() {
            let now = if i * 2 < specs.len() { t0() } else { later };
            store.ingest(&event(i, s), now);
        }
        store.expire(later);

        for (back, window) in views {
            let t = later - Duration::seconds(back);
            let (p, k) = recent_counts(&store, t);
            let (p_want, k_want) = recent_by_scan(&store, t);
            prop_assert_eq!(p, p_want, "principal rates at {}", t);
            prop_assert_eq!(k, k_want, "key rates at {}", t);

            let minutes = [1i64, 5, 15, 60, 24 * 60, 100 * 24 * 60][window];
            let from = store.bucket_index(t - Duration::minutes(minutes)) + 1;
            let to = store.bucket_index(t);
            let w = window_counts(&store, from, to);
            let (wp, wk, wips) = window_by_scan(&store, from, to);
            prop_assert_eq!(w.principals, wp, "window principals {}..={}", from, to);
            prop_assert_eq!(w.keys, wk, "window keys {}..={}", from, to);
            prop_assert_eq!(w.denied_ips, wips);

            let p_ids: Vec<u32> = store.live_ids(Dim::Principal).chain([2, 0]).collect();
            let k_ids: Vec<u32> = store.live_ids(Dim::Key).collect();
            let (ps, ks) = series_many_both(&store, t, &p_ids, &k_ids);
            for (dim, ids, got) in [(Dim::Principal, &p_ids, ps), (Dim::Key, &k_ids, ks)] {
                let want = series_by_scan(&store, t, ids, dim);
                for (g, w) in got.iter().zip(&want) {
                    prop_assert_eq!(&g.calls[..], &w[..60], "{:?} calls at {}", dim, t);
                    prop_assert_eq!(&g.denied[..], &w[60..], "{:?} denied at {}", dim, t);
                }
            }
        }
    }
}
