use chrono::{Duration, TimeZone};

use super::*;
use crate::event::{KmsEvent, Parsed, parse_record};

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("valid")
}

/// An owned event parsed from a minimal CloudTrail record.
pub(crate) fn ev(
    id: &str,
    at: DateTime<Utc>,
    principal: &str,
    key: Option<&str>,
    name: &str,
) -> KmsEvent<'static> {
    ev_with(id, at, principal, key, name, None, &[])
}

pub(crate) fn ev_with(
    id: &str,
    at: DateTime<Utc>,
    principal: &str,
    key: Option<&str>,
    name: &str,
    error: Option<&str>,
    context: &[(&str, &str)],
) -> KmsEvent<'static> {
    let resources = key.map_or(String::new(), |k| {
        format!(r#","resources":[{{"ARN":"{k}","type":"AWS::KMS::Key"}}]"#)
    });
    let error = error.map_or(String::new(), |e| format!(r#","errorCode":"{e}""#));
    let ctx: Vec<String> = context
        .iter()
        .map(|(k, v)| format!(r#""{k}":"{v}""#))
        .collect();
    let raw = format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"{name}","eventTime":"{}","eventID":"{id}","awsRegion":"us-east-1","sourceIPAddress":"10.0.0.1","userIdentity":{{"type":"IAMUser","arn":"{principal}","accountId":"111122223333"}},"requestParameters":{{"encryptionContext":{{{}}}}}{resources}{error}}}"#,
        at.format("%Y-%m-%dT%H:%M:%SZ"),
        ctx.join(",")
    );
    match parse_record(&raw) {
        Ok(Parsed::Kms(e)) => e.into_owned(),
        other => panic!("{other:?} from {raw}"),
    }
}

const KEY_A: &str = "arn:aws:kms:us-east-1:111122223333:key/aaaa";
const KEY_B: &str = "arn:aws:kms:us-east-1:111122223333:key/bbbb";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";

fn small(retention_min: i64) -> Store {
    Store::new(StoreConfig {
        retention: Duration::minutes(retention_min),
        ring_capacity: 3,
        raw_capacity: 2,
        ..StoreConfig::default()
    })
}

#[test]
fn duplicates_count_once_and_late_events_land_in_their_bucket() {
    let mut s = small(60);
    let now = t0();
    let e = ev("1", now, ALICE, Some(KEY_A), "Decrypt");
    assert_eq!(s.ingest(&e, now), Ingested::Added);
    assert_eq!(s.ingest(&e, now), Ingested::Duplicate);
    let late = ev(
        "2",
        now - Duration::minutes(30),
        ALICE,
        Some(KEY_A),
        "Decrypt",
    );
    assert_eq!(s.ingest(&late, now), Ingested::Added);
    let old = ev(
        "3",
        now - Duration::minutes(61),
        ALICE,
        Some(KEY_A),
        "Decrypt",
    );
    assert_eq!(s.ingest(&old, now), Ingested::TooOld);
    let future = ev("4", now + Duration::hours(2), ALICE, Some(KEY_A), "Decrypt");
    assert_eq!(s.ingest(&future, now), Ingested::TooNew);
    assert_eq!(s.total_events(), 2);
    assert_eq!(s.seen_len(), 2);
    assert_eq!(
        s.refused(),
        Refused {
            duplicates: 1,
            too_old: 1,
            too_new: 1,
            not_selected: 0,
        }
    );
    let late_bucket = s.bucket_index(late.time);
    let (_, b) = s
        .buckets_in(late_bucket, late_bucket)
        .next()
        .expect("bucket");
    assert_eq!(b.total(), 1);
}

#[test]
fn expiry_forgets_counts_identities_and_ids() {
    let mut s = small(10);
    let now = t0();
    s.ingest(&ev("1", now, ALICE, Some(KEY_A), "Decrypt"), now);
    s.ingest(&ev("2", now, BOB, Some(KEY_A), "Encrypt"), now);
    let alice = s.id(Dim::Principal, ALICE).expect("alice");
    assert_eq!(
        s.entity(Dim::Key, s.id(Dim::Key, KEY_A).expect("key"))
            .expect("info")
            .linked,
        2
    );
    assert_eq!(
        s.entity(Dim::Principal, alice)
            .expect("info")
            .totals
            .decrypt,
        1
    );

    let later = now + Duration::minutes(11);
    s.expire(later);
    assert_eq!(s.total_events(), 0);
    // Identities go with their hour of event time (12:00-13:00), not with
    // their bucket.
    assert_eq!(s.seen_len(), 2);
    assert_eq!(s.id(Dim::Principal, ALICE), None);
    assert_eq!(s.cardinality(Dim::Principal), 0);
    assert_eq!(s.cardinality(Dim::Key), 0);
    // The same identity is new again once it left retention... but it is
    // also too old, so it cannot be double counted.
    assert_eq!(
        s.ingest(&ev("1", now, ALICE, Some(KEY_A), "Decrypt"), later),
        Ingested::TooOld
    );
    // The ring keeps drill-down material regardless.
    assert_eq!(s.recent_len(), 2);
    // Once the whole hour is out of retention its identities are gone.
    s.expire(now + Duration::minutes(70));
    assert_eq!(s.seen_len(), 0);
}

#[test]
fn principals_past_the_cap_fold_into_other() {
    let mut s = Store::new(StoreConfig {
        max_principals: 2,
        ..StoreConfig::default()
    });
    let now = t0();
    for i in 0..10 {
        let p = format!("arn:aws:iam::111122223333:user/u{i}");
        s.ingest(&ev(&i.to_string(), now, &p, Some(KEY_A), "Decrypt"), now);
        s.ingest(&ev(&format!("x{i}"), now, &p, Some(KEY_A), "Decrypt"), now);
    }
    assert_eq!(s.cardinality(Dim::Principal), 2);
    let counts = s.counts_by(Dim::Principal);
    assert_eq!(counts[OTHER as usize], 16);
    assert_eq!(counts.iter().sum::<u64>(), 20);
    assert_eq!(
        s.folded(Dim::Principal),
        Folded {
            distinct: 8,
            saturated: false
        }
    );
    assert_eq!(s.name(Dim::Principal, OTHER), OTHER_LABEL);
}

#[test]
fn contexts_are_counted_per_principal_and_key_with_an_other_row() {
    let mut s = Store::new(StoreConfig {
        contexts_per_entity: 2,
        ..StoreConfig::default()
    });
    let now = t0();
    for (i, obj) in ["a", "b", "a", "c"].iter().enumerate() {
        let arn = format!("arn:aws:s3:::bucket/{obj}");
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
    let alice = s.id(Dim::Principal, ALICE).expect("alice");
    let table = &s.entity(Dim::Principal, alice).expect("info").contexts;
    let mut pairs: Vec<_> = table
        .pairs()
        .map(|(p, n)| (s.context_pair(p).1.to_string(), n))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("arn:aws:s3:::bucket/a".to_string(), 2),
            ("arn:aws:s3:::bucket/b".to_string(), 1)
        ]
    );
    assert_eq!(table.other(), 1);
}

#[test]
fn ring_is_bounded_and_filters() {
    let mut s = small(60);
    let now = t0();
    for i in 0..5 {
        let p = if i % 2 == 0 { ALICE } else { BOB };
        s.ingest(&ev(&i.to_string(), now, p, Some(KEY_B), "Decrypt"), now);
    }
    assert_eq!(s.recent_len(), 3);
    let ids: Vec<_> = s.recent().map(|e| e.view().event_id.to_string()).collect();
    assert_eq!(ids, ["4", "3", "2"]);
    assert_eq!(s.recent_by_principal(ALICE).count(), 2);
    assert_eq!(s.recent_by_key(KEY_B).count(), 3);
    assert_eq!(s.recent_by_key(KEY_A).count(), 0);
}

#[test]
fn batch_matches_one_by_one() {
    let now = t0();
    let events: Vec<_> = (0..20)
        .map(|i| {
            ev(
                &(i % 15).to_string(),
                now - Duration::seconds(i % 15),
                ALICE,
                Some(KEY_A),
                "Decrypt",
            )
        })
        .collect();
    let mut one = small(60);
    for e in &events {
        one.ingest(e, now);
    }
    let mut batch = small(60);
    let out = batch.ingest_batch(&events, now);
    assert_eq!(out.added, 15);
    assert_eq!(out.refused.duplicates, 5);
    assert_eq!(one.total_events(), batch.total_events());
    // Same events, and the record text kept for the same newest two.
    let ring = |s: &Store| -> Vec<_> {
        s.recent()
            .map(|e| {
                let v = e.view();
                (v.event_id.to_string(), v.raw_json().is_some())
            })
            .collect()
    };
    assert_eq!(ring(&one), ring(&batch));
    let with_raw: Vec<bool> = ring(&batch).into_iter().map(|(_, r)| r).collect();
    assert_eq!(with_raw, [true, true, false]);
}

#[test]
fn a_long_range_widens_the_buckets_and_keeps_every_event() {
    let mut s = Store::new(StoreConfig {
        retention: Duration::days(36_500),
        future_tolerance: Duration::days(36_500),
        max_buckets: Some(100),
        ..StoreConfig::default()
    });
    // Ten days, the newest first and last: old events arrive after new.
    let times: Vec<DateTime<Utc>> = (0..200)
        .map(|i| t0() + Duration::minutes(72 * ((i * 37) % 200)))
        .collect();
    let newest = *times.iter().max().expect("events");
    for (i, t) in times.iter().enumerate() {
        let who = if i % 3 == 0 { ALICE } else { BOB };
        let key = if i % 2 == 0 { KEY_A } else { KEY_B };
        assert_eq!(
            s.ingest(&ev(&i.to_string(), *t, who, Some(key), "Decrypt"), newest),
            Ingested::Added
        );
    }
    assert!(s.widened());
    assert!(s.bucket_count() <= 100, "{} buckets", s.bucket_count());
    assert_eq!(s.bucket_seconds(), 21_600, "ten days in under 100 buckets");
    assert_eq!(s.total_events(), 200);
    let in_buckets: u64 = s
        .buckets_in(i64::MIN / 2, i64::MAX / 2)
        .map(|(_, b)| u64::from(b.total()))
        .sum();
    assert_eq!(in_buckets, 200);
    let alice = s.id(Dim::Principal, ALICE).expect("alice");
    assert_eq!(
        s.entity(Dim::Principal, alice).expect("info").totals.calls,
        67
    );
    // A duplicate is still one, after widening.
    assert_eq!(
        s.ingest(&ev("0", times[0], ALICE, Some(KEY_A), "Decrypt"), newest),
        Ingested::Duplicate
    );
}

#[test]
fn widened_buckets_still_release_every_id_when_they_expire() {
    // References merged by widening are counted once: once the buckets
    // leave retention, every id is free again.
    let mut s = Store::new(StoreConfig {
        retention: Duration::days(30),
        max_buckets: Some(10),
        ..StoreConfig::default()
    });
    for i in 0..50 {
        let t = t0() + Duration::minutes(i * 7);
        let who = if i % 2 == 0 { ALICE } else { BOB };
        s.ingest(&ev(&i.to_string(), t, who, Some(KEY_A), "Decrypt"), t);
    }
    assert!(s.widened());
    s.expire(t0() + Duration::days(40));
    assert_eq!(s.total_events(), 0);
    assert_eq!(s.cardinality(Dim::Principal), 0);
    assert_eq!(s.cardinality(Dim::Key), 0);
    assert_eq!(s.id(Dim::Principal, ALICE), None);
}
