//! `Store::ingest_counted`: `n` counted events change every aggregate
//! exactly as `n` events alike in what the store counts by do, and
//! nothing enters the ring of recent events.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use kmstop::event::{KmsEvent, Outcome, Parsed, parse_record};
use kmstop::store::{CountedEvent, Dim, Ingested, Store, StoreConfig};
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("valid")
}

const NAMES: [&str; 3] = ["Decrypt", "Encrypt", "GenerateDataKey"];
const ERRORS: [&str; 3] = ["", "AccessDenied", "ThrottlingException"];

#[derive(Debug, Clone, Copy)]
struct Spec {
    minutes_before: i64,
    principal: u8,
    /// `None`: a call that names no key.
    key: Option<u8>,
    name: usize,
    error: usize,
    /// `None`: no region, or no source IP, in the record.
    region: Option<u8>,
    ip: Option<u8>,
}

/// An event without encryption context: what a counted row knows of one.
fn event(id: usize, s: Spec) -> KmsEvent<'static> {
    let at = (t0() - Duration::minutes(s.minutes_before)).format("%Y-%m-%dT%H:%M:%SZ");
    let key = s.key.map_or(String::new(), |k| {
        format!(r#","resources":[{{"ARN":"arn:aws:kms:us-east-1:111122223333:key/k{k}"}}]"#)
    });
    let error = match ERRORS[s.error] {
        "" => String::new(),
        code => format!(r#","errorCode":"{code}""#),
    };
    let region = s.region.map_or(String::new(), |r| {
        format!(
            r#","awsRegion":"{}""#,
            ["us-east-1", "eu-west-1"][usize::from(r)]
        )
    });
    let ip = s.ip.map_or(String::new(), |i| {
        format!(r#","sourceIPAddress":"203.0.113.{i}""#)
    });
    let raw = format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"{}","eventTime":"{at}","eventID":"e{id}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/p{}"}}{key}{error}{region}{ip}}}"#,
        NAMES[s.name], s.principal
    );
    match parse_record(&raw) {
        Ok(Parsed::Kms(e)) => e.into_owned(),
        other => panic!("{other:?}"),
    }
}

fn specs() -> impl Strategy<Value = Vec<Spec>> {
    let key = prop::option::of(0u8..4);
    let place = (prop::option::of(0u8..2), prop::option::of(0u8..3));
    prop::collection::vec(
        (0i64..400, 0u8..6, key, 0usize..3, 0usize..3, place),
        0..150,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(
                |(minutes_before, principal, key, name, error, (region, ip))| Spec {
                    // Bunched, so that rows count more than one event.
                    minutes_before: minutes_before / 7 * 7,
                    principal,
                    key,
                    name,
                    error,
                    region,
                    ip,
                },
            )
            .collect()
    })
}

fn config(max_buckets: Option<usize>) -> StoreConfig {
    StoreConfig {
        bucket: Duration::seconds(60),
        retention: Duration::days(3),
        ring_capacity: 0,
        max_buckets,
        ..StoreConfig::default()
    }
}

type Named = (String, String, String, Outcome);
/// A bucket: its total, its denied calls, its combinations and its denied
/// calls per source IP.
type BucketSeen = (u32, u32, BTreeMap<Named, u32>, BTreeMap<String, u32>);
/// An entity: calls, decrypt, denied, linked, first and last seen.
type EntitySeen = (
    u64,
    u64,
    u64,
    u32,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);
/// What a counted row is alike in.
type RowKey = (
    DateTime<Utc>,
    String,
    Option<String>,
    String,
    Outcome,
    Option<String>,
    Option<String>,
);

/// Everything the store counts, by name rather than by id (ids depend on
/// the order values arrived in).
#[derive(Debug, PartialEq)]
struct Seen {
    width: i64,
    total: u64,
    buckets: BTreeMap<i64, BucketSeen>,
    entities: BTreeMap<(String, String), EntitySeen>,
    summaries: BTreeMap<(i64, String, String), (u32, u32, u32)>,
    by_dim: BTreeMap<String, BTreeMap<String, u64>>,
    denied_ips: BTreeMap<String, u64>,
}

fn seen(store: &Store) -> Seen {
    let name = |dim, id| store.name(dim, id).to_owned();
    let mut buckets = BTreeMap::new();
    for (index, b) in store.buckets() {
        let combos = b
            .combos()
            .map(|(c, n)| {
                let named = (
                    name(Dim::Principal, c.principal),
                    name(Dim::Key, c.key),
                    name(Dim::EventName, c.event_name),
                    c.outcome,
                );
                (named, n)
            })
            .collect();
        let denied_ips = b
            .denied_ips()
            .map(|(ip, n)| (name(Dim::SourceIp, ip), n))
            .collect();
        buckets.insert(index, (b.total(), b.denied(), combos, denied_ips));
    }
    let mut entities = BTreeMap::new();
    let mut by_dim = BTreeMap::new();
    for (label, dim) in [("principal", Dim::Principal), ("key", Dim::Key)] {
        for id in store.live_ids(dim) {
            if let Some(i) = store.entity(dim, id) {
                let t = i.totals;
                entities.insert(
                    (label.to_owned(), name(dim, id)),
                    (
                        t.calls,
                        t.decrypt,
                        t.denied,
                        i.linked,
                        i.first_seen,
                        i.last_seen,
                    ),
                );
            }
        }
    }
    for (label, dim) in [
        ("principal", Dim::Principal),
        ("key", Dim::Key),
        ("event", Dim::EventName),
        ("region", Dim::Region),
        ("ip", Dim::SourceIp),
    ] {
        let counts = store.counts_by(dim);
        let named: BTreeMap<String, u64> = counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(id, n)| (name(dim, u32::try_from(id).expect("id")), *n))
            .collect();
        by_dim.insert(label.to_owned(), named);
    }
    let mut summaries = BTreeMap::new();
    let per = store.summary_span();
    if per > 0 {
        let minutes: Vec<i64> = store.buckets().map(|(i, _)| i.div_euclid(per)).collect();
        for m in minutes {
            let Some(s) = store.summary(m) else { continue };
            for (who, tallies) in [
                ("p", s.principals().collect::<Vec<_>>()),
                ("k", s.keys().collect()),
            ] {
                let dim = if who == "p" { Dim::Principal } else { Dim::Key };
                for (id, t) in tallies {
                    summaries.insert(
                        (m, who.to_owned(), name(dim, id)),
                        (t.calls, t.decrypt, t.denied),
                    );
                }
            }
        }
    }
    let denied_ips = store
        .denied_ip_totals()
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(id, n)| (name(Dim::SourceIp, u32::try_from(id).expect("id")), *n))
        .collect();
    Seen {
        width: store.bucket_seconds(),
        total: store.total_events(),
        buckets,
        entities,
        summaries,
        by_dim,
        denied_ips,
    }
}

/// The events grouped as a counting engine returns them.
fn rows(events: &[KmsEvent<'_>]) -> Vec<CountedEvent> {
    let mut grouped: BTreeMap<RowKey, u32> = BTreeMap::new();
    for e in events {
        let k = (
            e.time,
            e.principal.to_string(),
            e.key.as_ref().map(|k| k.arn.to_string()),
            e.event_name.to_string(),
            e.outcome,
            e.region.as_deref().map(str::to_owned),
            e.source_ip.as_deref().map(str::to_owned),
        );
        *grouped.entry(k).or_default() += 1;
    }
    grouped
        .into_iter()
        .map(
            |((time, principal, key, event_name, outcome, region, source_ip), n)| CountedEvent {
                time,
                principal,
                key,
                event_name,
                outcome,
                region,
                source_ip,
                n,
            },
        )
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn n_counted_events_are_n_events(
        specs in specs(),
        rotate in any::<prop::sample::Index>(),
        narrow in any::<bool>(),
    ) {
        let events: Vec<_> = specs.iter().enumerate().map(|(i, s)| event(i, *s)).collect();
        // Few buckets allowed: the range widens them, both ways alike.
        let max_buckets = narrow.then_some(40);
        let mut one_by_one = Store::new(config(max_buckets));
        for e in &events {
            prop_assert_eq!(one_by_one.ingest(e, t0()), Ingested::Added);
        }
        let mut counted = Store::new(config(max_buckets));
        let mut rows = rows(&events);
        if !rows.is_empty() {
            let by = rotate.index(rows.len());
            rows.rotate_left(by);
        }
        for row in &rows {
            prop_assert_eq!(counted.ingest_counted(row, t0()), Ingested::Added);
        }
        prop_assert_eq!(counted.recent_len(), 0);
        prop_assert_eq!(seen(&counted), seen(&one_by_one));
    }
}

#[test]
fn counted_events_out_of_retention_are_refused_by_their_count() {
    let mut store = Store::new(config(None));
    let row = |minutes_before: i64, n: u32| CountedEvent {
        time: t0() - Duration::minutes(minutes_before),
        principal: "p".into(),
        key: None,
        event_name: "Decrypt".into(),
        outcome: Outcome::Success,
        region: None,
        source_ip: None,
        n,
    };
    assert_eq!(store.ingest_counted(&row(10, 5), t0()), Ingested::Added);
    assert_eq!(
        store.ingest_counted(&row(60 * 24 * 4, 7), t0()),
        Ingested::TooOld
    );
    assert_eq!(store.ingest_counted(&row(-60, 2), t0()), Ingested::TooNew);
    assert_eq!(store.total_events(), 5);
    assert_eq!(store.refused().too_old, 7);
    assert_eq!(store.refused().too_new, 2);
    assert_eq!(store.recent_len(), 0);
}
