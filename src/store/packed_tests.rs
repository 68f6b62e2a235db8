//! Held events counted in place give what their views give.

use chrono::Duration;

use super::super::tests::t0;
use super::super::{Dim, Store, StoreConfig};
use crate::event::{KmsEvent, PackedEvent, Parsed, parse_record};

const DIMS: [Dim; 5] = [
    Dim::Principal,
    Dim::Key,
    Dim::EventName,
    Dim::Region,
    Dim::SourceIp,
];

/// A small deterministic generator (no seed to vary: the stream is fixed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Caps small enough that every dimension folds, a retention short
/// enough that ids are freed and reused many times over the stream.
fn config() -> StoreConfig {
    StoreConfig {
        retention: Duration::minutes(10),
        ring_capacity: 5,
        raw_capacity: 2,
        max_principals: 10,
        max_keys: 4,
        max_source_ips: 5,
        max_regions: 2,
        max_event_names: 3,
        max_contexts: 6,
        contexts_per_entity: 3,
        ..StoreConfig::default()
    }
}

/// A record of varied caller, key, name, region, address, outcome and
/// context; some without an id, some with a principal too long for the
/// shared table (held as the event's own text).
fn record(r: &mut Lcg, i: usize) -> String {
    let at = t0() + Duration::seconds(i64::try_from(i).unwrap_or(0) * 2);
    let at = match r.below(40) {
        0 => at - Duration::minutes(12),
        1 => at + Duration::hours(3),
        2 => at - Duration::minutes(4),
        _ => at,
    };
    let principal = match r.below(30) {
        0 => format!(
            "arn:aws:iam::111122223333:role/{}{}",
            "x".repeat(1100),
            r.below(3)
        ),
        n if n < 15 => format!("arn:aws:iam::111122223333:role/busy-{}", r.below(6)),
        _ => format!("arn:aws:iam::111122223333:role/tail-{}", r.below(60)),
    };
    let key = match r.below(5) {
        0 => String::new(),
        _ => format!(
            r#","resources":[{{"ARN":"arn:aws:kms:us-east-1:111122223333:key/k{}","type":"AWS::KMS::Key"}}]"#,
            r.below(9)
        ),
    };
    let name = ["Decrypt", "Encrypt", "GenerateDataKey", "ReEncrypt", "Sign"][r.below(5) as usize];
    let id = if r.below(13) == 0 {
        String::new()
    } else {
        format!("id-{i}")
    };
    let error = if r.below(7) == 0 {
        r#","errorCode":"AccessDeniedException""#
    } else {
        ""
    };
    let context = match r.below(3) {
        0 => String::new(),
        _ => format!(r#""bucket":"b{}","object":"o{}""#, r.below(4), r.below(12)),
    };
    format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"{name}","eventTime":"{}","eventID":"{id}","awsRegion":"r-{}","sourceIPAddress":"10.0.{}.{}","userAgent":"ua-{}","userIdentity":{{"type":"AssumedRole","arn":"{principal}","accountId":"111122223333"}},"requestParameters":{{"encryptionContext":{{{context}}}}}{key}{error}}}"#,
        at.format("%Y-%m-%dT%H:%M:%SZ"),
        r.below(4),
        r.below(3),
        r.below(20),
        r.below(2),
    )
}

fn parsed(json: &str) -> KmsEvent<'_> {
    match parse_record(json) {
        Ok(Parsed::Kms(e)) => *e,
        other => panic!("{other:?} from {json}"),
    }
}

/// One dimension's names, entities (with their context tables), folding
/// and counts, by name.
fn dim_answers(s: &Store, dim: Dim) -> Vec<String> {
    let mut names: Vec<String> = s
        .live_ids(dim)
        .map(|id| {
            let name = s.name(dim, id);
            let Some(info) = s.entity(dim, id) else {
                return format!("{dim:?} {name}");
            };
            let mut pairs: Vec<String> = info
                .contexts
                .pairs()
                .map(|(p, n)| format!("{:?}={n}", s.context_pair(p)))
                .collect();
            pairs.sort();
            format!(
                "{dim:?} {name} {:?} {:?} {:?} linked {} ctx {pairs:?} other {}",
                info.first_seen,
                info.last_seen,
                info.totals,
                info.linked,
                info.contexts.other()
            )
        })
        .collect();
    names.sort();
    names.push(format!("{dim:?} folded {:?}", s.folded(dim)));
    let mut counts: Vec<String> = s
        .counts_by(dim)
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .map(|(id, n)| format!("{}={n}", s.name(dim, u32::try_from(id).unwrap_or(0))))
        .collect();
    counts.sort();
    names.push(format!("{dim:?} counts {counts:?}"));
    names
}

/// Everything the store answers, by name (not id): rates per bucket and
/// minute, totals, refusals, entities and their context tables, folding.
fn answers(s: &Store) -> Vec<String> {
    let mut out = vec![format!(
        "total {} refused {:?} seen {} buckets {}",
        s.total_events(),
        s.refused(),
        s.seen_len(),
        s.bucket_count()
    )];
    for dim in DIMS {
        out.extend(dim_answers(s, dim));
    }
    let mut denied: Vec<String> = s
        .denied_ip_totals()
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .map(|(id, n)| {
            format!(
                "{}={n}",
                s.name(Dim::SourceIp, u32::try_from(id).unwrap_or(0))
            )
        })
        .collect();
    denied.sort();
    out.push(format!("denied ips {denied:?}"));
    for (index, b) in s.buckets() {
        let mut combos: Vec<String> = b
            .combos()
            .map(|(c, n)| {
                format!(
                    "{}/{}/{}/{:?}={n}",
                    s.name(Dim::Principal, c.principal),
                    s.name(Dim::Key, c.key),
                    s.name(Dim::EventName, c.event_name),
                    c.outcome
                )
            })
            .collect();
        let mut dims: Vec<String> = b
            .regions()
            .map(|(r, n)| format!("region {}={n}", s.name(Dim::Region, r)))
            .chain(
                b.source_ips()
                    .map(|(r, n)| format!("ip {}={n}", s.name(Dim::SourceIp, r))),
            )
            .chain(
                b.denied_ips()
                    .map(|(r, n)| format!("denied {}={n}", s.name(Dim::SourceIp, r))),
            )
            .collect();
        combos.sort();
        dims.sort();
        out.push(format!("bucket {index} {} {combos:?} {dims:?}", b.total()));
        let span = s.summary_span();
        if span > 0
            && let Some(m) = s.summary(index.div_euclid(span))
        {
            let mut rows: Vec<String> = m
                .principals()
                .map(|(p, t)| format!("p {}={t:?}", s.name(Dim::Principal, p)))
                .chain(
                    m.keys()
                        .map(|(k, t)| format!("k {}={t:?}", s.name(Dim::Key, k))),
                )
                .collect();
            rows.sort();
            out.push(format!("minute {rows:?}"));
        }
    }
    out.extend(
        s.recent()
            .map(|e| format!("recent {} {}", e.event_id(), e.has_raw())),
    );
    out
}

#[test]
fn held_events_counted_in_place_answer_as_their_views() {
    let mut r = Lcg(15);
    let mut records: Vec<String> = Vec::new();
    for i in 0..6_000 {
        // A copy of an earlier record now and then: a duplicate.
        if i % 11 == 10 {
            let back = usize::try_from(r.below(5)).unwrap_or(0) + 1;
            records.push(records[records.len().saturating_sub(back)].clone());
        } else {
            records.push(record(&mut r, i));
        }
    }
    let events: Vec<KmsEvent<'_>> = records.iter().map(|j| parsed(j)).collect();
    let packed: Vec<PackedEvent> = events.iter().map(PackedEvent::pack).collect();
    assert!(
        packed
            .iter()
            .any(|p| p.tally_fields().principal.shared.is_none()),
        "some principal is the event's own text"
    );
    let (mut by_view, mut one_by_one, mut batched) = (
        Store::new(config()),
        Store::new(config()),
        Store::new(config()),
    );
    for (i, chunk) in packed.chunks(40).enumerate() {
        let now = t0() + Duration::seconds(i64::try_from(i).unwrap_or(0) * 80);
        for e in chunk {
            let viewed = by_view.ingest(&e.view(), now);
            assert_eq!(one_by_one.ingest_packed(e, now), viewed);
        }
        batched.ingest_packed_batch(chunk, now);
        if i % 10 == 9 {
            let want = answers(&by_view);
            assert_eq!(answers(&one_by_one), want, "after chunk {i}");
            assert_eq!(answers(&batched), want, "after chunk {i}");
        }
    }
    let refused = by_view.refused();
    assert!(refused.duplicates > 0 && refused.too_old > 0 && refused.too_new > 0);
    for dim in DIMS {
        assert!(by_view.folded(dim).distinct > 0, "{dim:?} folds");
    }
}
