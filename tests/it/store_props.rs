//! Store invariants whatever the arrival order, duplication and lateness.

use chrono::{DateTime, Duration, TimeZone, Utc};
use kmstop::event::{KmsEvent, Parsed, parse_record};
use kmstop::store::{Dim, Ingested, OTHER, Store, StoreConfig};
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("valid")
}

fn event(id: u32, secs_before: i64, principal: u8, key: u8, denied: bool) -> KmsEvent<'static> {
    let at = (t0() - Duration::seconds(secs_before)).format("%Y-%m-%dT%H:%M:%SZ");
    let err = if denied {
        r#","errorCode":"AccessDenied""#
    } else {
        ""
    };
    let raw = format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"{at}","eventID":"e{id}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/p{principal}"}},"resources":[{{"ARN":"arn:aws:kms:us-east-1:1:key/k{key}"}}],"requestParameters":{{"encryptionContext":{{"c":"v{id}"}}}}{err}}}"#
    );
    match parse_record(&raw) {
        Ok(Parsed::Kms(e)) => e.into_owned(),
        other => panic!("{other:?}"),
    }
}

#[derive(Debug, Clone)]
struct Spec {
    id: u32,
    secs_before: i64,
    principal: u8,
    key: u8,
    denied: bool,
}

fn specs() -> impl Strategy<Value = Vec<Spec>> {
    // Ids from a small range with times from a small set, so the same
    // identity comes up again (a duplicate) and the same id with another
    // time (a distinct event) does too.
    prop::collection::vec((0u32..60, 0i64..8, 0u8..12, 0u8..5, any::<bool>()), 0..200).prop_map(
        |v| {
            v.into_iter()
                .map(|(id, t, principal, key, denied)| Spec {
                    id,
                    // 0..8 steps of 250 s: 0 to ~30 min back, across the
                    // 20-minute retention boundary.
                    secs_before: t * 250,
                    principal,
                    key,
                    denied,
                })
                .collect()
        },
    )
}

fn config(max_principals: usize, ring: usize) -> StoreConfig {
    StoreConfig {
        retention: Duration::minutes(20),
        ring_capacity: ring,
        max_principals,
        max_keys: 3,
        contexts_per_entity: 4,
        ..StoreConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn totals_are_distinct_events_in_retention(
        specs in specs(),
        order in any::<prop::sample::Index>(),
        advance in 0i64..1500,
        max_principals in 1usize..15,
        ring in 0usize..50,
    ) {
        let events: Vec<_> = specs.iter().map(|s| event(s.id, s.secs_before, s.principal, s.key, s.denied)).collect();
        // Replay the events in a rotated order with a duplicate of every
        // third one, as delivery would.
        let mut arrivals: Vec<&KmsEvent<'_>> = events.iter().collect();
        if !arrivals.is_empty() {
            let by = order.index(arrivals.len());
            arrivals.rotate_left(by);
        }
        let dups: Vec<_> = arrivals.iter().step_by(3).copied().collect();
        arrivals.extend(dups);

        let mut store = Store::new(config(max_principals, ring));
        let now = t0();
        let mut added = 0;
        for e in &arrivals {
            if store.ingest(e, now) == Ingested::Added { added += 1; }
            prop_assert!(store.recent_len() <= ring);
        }
        let later = now + Duration::seconds(advance);
        store.expire(later);

        // The model: distinct identities whose bucket is inside retention.
        let cutoff = store.cutoff_index(later);
        let mut distinct = std::collections::HashSet::new();
        for s in &specs {
            let e = event(s.id, s.secs_before, s.principal, s.key, s.denied);
            if store.bucket_index(e.time) >= store.cutoff_index(now) && store.bucket_index(e.time) >= cutoff {
                distinct.insert((s.id, s.secs_before));
            }
        }
        let expected = distinct.len() as u64;
        prop_assert_eq!(store.total_events(), expected);
        // Identities are forgotten by whole hours of event time, so the
        // seen-set may still hold those of buckets that just expired.
        prop_assert!(store.seen_len() as u64 >= expected);
        prop_assert!(added >= expected);

        for dim in [Dim::Principal, Dim::Key, Dim::EventName, Dim::Region, Dim::SourceIp] {
            prop_assert_eq!(store.counts_by(dim).iter().sum::<u64>(), expected, "{:?}", dim);
        }
        // The cap, and room for the heavy values met after it filled.
        prop_assert!(store.cardinality(Dim::Principal) <= kmstop::store::named_limit(max_principals));
        prop_assert!(store.cardinality(Dim::Key) <= kmstop::store::named_limit(3));
        // Folding keeps totals exact: per-principal retention totals (the
        // `(other)` row included) add up too.
        let by_principal: u64 = store
            .live_ids(Dim::Principal)
            .filter_map(|id| store.entity(Dim::Principal, id))
            .map(|i| i.totals.calls)
            .sum();
        prop_assert_eq!(by_principal, expected);
        let denied: u64 = store
            .live_ids(Dim::Key)
            .filter_map(|id| store.entity(Dim::Key, id))
            .map(|i| i.totals.denied)
            .sum();
        let denied_by_principal: u64 = store
            .live_ids(Dim::Principal)
            .filter_map(|id| store.entity(Dim::Principal, id))
            .map(|i| i.totals.denied)
            .sum();
        prop_assert_eq!(denied, denied_by_principal);
        // Distinct principals: those with their own id, plus what `(other)` holds.
        let folded = store.folded(Dim::Principal);
        let own = store.cardinality(Dim::Principal);
        if store.counts_by(Dim::Principal)[OTHER as usize] > 0 {
            prop_assert!(folded.distinct >= 1);
        }
        prop_assert!(own + folded.distinct <= 12 + 12);
    }

    #[test]
    fn batch_and_single_ingest_agree(specs in specs(), ring in 0usize..30) {
        let events: Vec<_> = specs.iter().map(|s| event(s.id, s.secs_before, s.principal, s.key, s.denied)).collect();
        let mut one = Store::new(config(5, ring));
        for e in &events { one.ingest(e, t0()); }
        let mut batch = Store::new(config(5, ring));
        let out = batch.ingest_batch(&events, t0());
        prop_assert_eq!(one.total_events(), batch.total_events());
        prop_assert_eq!(out.added, batch.total_events());
        prop_assert_eq!(one.refused(), batch.refused());
        let a: Vec<_> = one.recent().map(|e| e.view().event_id.to_string()).collect();
        let b: Vec<_> = batch.recent().map(|e| e.view().event_id.to_string()).collect();
        prop_assert_eq!(a, b);
    }
}
