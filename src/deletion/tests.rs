use chrono::TimeZone;

use super::*;
use crate::inventory::{Grant, KeyGrants};

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0)
        .single()
        .expect("time")
}

fn quiet_window() -> WindowUse {
    WindowUse {
        from: at(0),
        until: at(12),
        uses: 0,
        users: 0,
        failed: 0,
        last_use: None,
        last_failed: None,
        services: Vec::new(),
        services_partial: false,
    }
}

/// A key KMS has tracked since long before the window, unused, no grants.
fn idle_key() -> KeyFacts {
    KeyFacts {
        arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
        state: Some("Enabled".into()),
        key_manager: Some("CUSTOMER".into()),
        last_used: Some(
            Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0)
                .single()
                .expect("t"),
        ),
        last_used_operation: Some("Decrypt".into()),
        last_used_event_id: Some("e-old".into()),
        grants: Some(KeyGrants::default()),
        ..KeyFacts::default()
    }
}

#[test]
fn a_use_in_the_window_says_who_and_through_which_service() {
    let mut w = quiet_window();
    w.uses = 5;
    w.users = 2;
    w.last_use = Some(SeenCall {
        time: at(9),
        principal: "role/orders-api".into(),
        via: Some("s3.amazonaws.com".into()),
        event_name: "Decrypt".into(),
        error_code: None,
    });
    let v = deletion_verdict(Some(&idle_key()), &w, at(12));
    assert_eq!(v.safety, Safety::InUse);
    assert_eq!(
        v.headline,
        "in use: used Decrypt 3 h ago by role/orders-api via s3.amazonaws.com"
    );
}

#[test]
fn counts_without_the_event_still_say_in_use() {
    let mut w = quiet_window();
    w.uses = 1;
    w.users = 1;
    let v = deletion_verdict(Some(&idle_key()), &w, at(12));
    assert_eq!(v.safety, Safety::InUse);
}

#[test]
fn kms_last_use_inside_the_window_is_use() {
    let mut key = idle_key();
    key.last_used = Some(at(11));
    let v = deletion_verdict(Some(&key), &quiet_window(), at(12));
    assert_eq!(v.safety, Safety::InUse);
    assert!(
        v.evidence.iter().any(|l| l.contains("event e-old")),
        "{v:?}"
    );
}

#[test]
fn a_grant_makes_an_unused_key_not_safe_and_names_the_grantee() {
    let mut key = idle_key();
    key.grants = Some(KeyGrants {
        kept: vec![Grant {
            grant_id: "g1".into(),
            grantee: Some("arn:aws:iam::111122223333:role/legacy".into()),
            operations: vec!["Decrypt".into()],
            ..Grant::default()
        }],
        more: 0,
        incomplete: false,
    });
    let v = deletion_verdict(Some(&key), &quiet_window(), at(12));
    assert_eq!(v.safety, Safety::NotSafe);
    assert!(
        v.evidence
            .iter()
            .any(|l| l.contains("role/legacy (Decrypt)")),
        "{v:?}"
    );
}

#[test]
fn refused_calls_on_a_disabled_key_mean_it_is_still_wanted() {
    let mut w = quiet_window();
    w.failed = 4;
    w.last_failed = Some(SeenCall {
        time: at(11),
        principal: "role/batch".into(),
        via: None,
        event_name: "Decrypt".into(),
        error_code: Some("DisabledException".into()),
    });
    let v = deletion_verdict(Some(&idle_key()), &w, at(12));
    assert_eq!(v.safety, Safety::NotSafe);
    assert!(
        v.evidence
            .iter()
            .any(|l| l.contains("by role/batch, DisabledException")),
        "{v:?}"
    );
}

#[test]
fn what_could_not_be_read_leaves_no_verdict() {
    let mut key = idle_key();
    key.last_used = None;
    key.unreadable
        .insert("last_used".into(), "no access".into());
    let v = deletion_verdict(Some(&key), &quiet_window(), at(12));
    assert_eq!(v.safety, Safety::Unknown);
    let mut key = idle_key();
    key.grants = None;
    assert_eq!(
        deletion_verdict(Some(&key), &quiet_window(), at(12)).safety,
        Safety::Unknown
    );
    assert_eq!(
        deletion_verdict(None, &quiet_window(), at(12)).safety,
        Safety::Unknown
    );
}

#[test]
fn only_a_key_with_nothing_against_it_is_no_use_seen() {
    let v = deletion_verdict(Some(&idle_key()), &quiet_window(), at(12));
    assert_eq!(v.safety, Safety::NoUseSeen, "{v:?}");
    assert!(v.headline.starts_with("no use seen: "), "{}", v.headline);
}

#[test]
fn ages_read_as_a_person_says_them() {
    assert_eq!(age(Duration::seconds(40)), "40 s");
    assert_eq!(age(Duration::minutes(12)), "12 min");
    assert_eq!(age(Duration::hours(3)), "3 h");
    assert_eq!(age(Duration::days(5)), "5 d");
    assert_eq!(age(Duration::seconds(-5)), "0 s");
}

/// A Decrypt of the key `k` at `h`:`m`, by `who`, made for it by `via`.
fn call(n: u32, m: u32, who: &str, via: Option<&str>, error: Option<&str>) -> String {
    let invoked = via
        .map(|v| format!(r#","invokedBy":"{v}""#))
        .unwrap_or_default();
    let error = error
        .map(|e| format!(r#","errorCode":"{e}""#))
        .unwrap_or_default();
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"2026-12-01T10:{m:02}:00Z","eventSource":"kms.amazonaws.com",
        "eventName":"Decrypt","awsRegion":"us-east-1","eventID":"e-{n}","recipientAccountId":"111122223333",
        "userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/{who}/s","accountId":"111122223333",
        "sessionContext":{{"sessionIssuer":{{"arn":"arn:aws:iam::111122223333:role/{who}"}}}}{invoked}}},
        "resources":[{{"ARN":"arn:aws:kms:us-east-1:111122223333:key/k","type":"AWS::KMS::Key"}}]{error}}}"#
    )
}

fn counted(tally: &mut window::KeyUseTally, text: &str) {
    match crate::event::parse_record(text) {
        Ok(crate::event::Parsed::Kms(e)) => tally.count(&e),
        other => panic!("not a KMS event: {other:?}"),
    }
}

#[test]
fn the_services_and_newest_calls_are_counted_the_same_in_any_order() {
    let key = "arn:aws:kms:us-east-1:111122223333:key/k";
    let calls = [
        call(1, 5, "orders-api", Some("s3.amazonaws.com"), None),
        call(2, 7, "orders-api", Some("s3.amazonaws.com"), None),
        call(3, 6, "billing", Some("secretsmanager.amazonaws.com"), None),
        call(4, 8, "billing", None, None),
        call(5, 9, "intruder", None, Some("AccessDenied")),
    ];
    let mut one = window::KeyUseTally::new([key]);
    let (mut a, mut b) = (
        window::KeyUseTally::new([key]),
        window::KeyUseTally::new([key]),
    );
    for (i, c) in calls.iter().enumerate() {
        counted(&mut one, c);
        counted(if i % 2 == 0 { &mut b } else { &mut a }, c);
    }
    a.merge(b);
    let w = one.window(key, at(10), at(11));
    assert_eq!(a.window(key, at(10), at(11)), w);
    assert_eq!((w.uses, w.users, w.failed), (4, 2, 1));
    assert_eq!(
        w.services,
        vec![
            ("s3.amazonaws.com".to_owned(), 2),
            ("secretsmanager.amazonaws.com".to_owned(), 1)
        ]
    );
    assert_eq!(
        w.last_use.as_ref().map(|c| c.time.format("%M").to_string()),
        Some("08".into())
    );
    assert_eq!(
        w.last_failed.as_ref().and_then(|c| c.error_code.clone()),
        Some("AccessDenied".into())
    );
    // A key nobody named: all zero.
    assert_eq!(one.window("other", at(10), at(11)).uses, 0);

    let v = deletion_verdict(Some(&idle_key()), &w, at(11));
    assert_eq!(v.safety, Safety::InUse);
    assert!(
        v.evidence
            .iter()
            .any(|l| l
                == "AWS services (invokedBy): s3.amazonaws.com 2, secretsmanager.amazonaws.com 1"),
        "{:?}",
        v.evidence
    );
    let quiet = deletion_verdict(Some(&idle_key()), &quiet_window(), at(12));
    assert!(
        quiet
            .evidence
            .contains(&"AWS services (invokedBy): none".to_owned()),
        "{:?}",
        quiet.evidence
    );
}
