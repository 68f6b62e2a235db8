use super::*;
use crate::event::{Parsed, parse_record};

const RECORD: &str = r#"{"eventVersion":"1.08","eventSource":"kms.amazonaws.com",
 "eventName":"Decrypt","eventTime":"2026-12-01T10:00:00Z","eventID":"e1",
 "awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7",
 "userIdentity":{"type":"AssumedRole","accountId":"111122223333",
  "arn":"arn:aws:sts::111122223333:assumed-role/orders-api/i-0abc",
  "accessKeyId":"ASIAEXAMPLEKEY123456",
  "sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/orders-api"}}},
 "recipientAccountId":"111122223333"}"#;

fn with_event(check: impl FnOnce(&KmsEvent<'_>)) {
    let Ok(Parsed::Kms(event)) = parse_record(RECORD) else {
        panic!("the test record parses");
    };
    check(&event);
}

fn sel(text: &str) -> Selector {
    Selector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn each_kind_follows_its_field() {
    with_event(|e| {
        for yes in [
            "akid:ASIAEXAMPLEKEY123456",
            "akid:asiaexamplekey123456",
            "ASIAEXAMPLEKEY123456",
            "session:i-0abc",
            "principal:arn:aws:iam::111122223333:role/orders-api",
            "principal:role/orders-api",
            "principal:orders-api",
            "ip:203.0.113.7",
            "ip:203.0.113.0/24",
            "203.0.113.0/24",
            "203.0.113.7",
        ] {
            assert!(sel(yes).matches(e), "{yes} should match");
        }
        for no in [
            "akid:AKIAOTHERKEY00000000",
            "session:i-0abcd",
            "principal:role/orders",
            "principal:orders",
            "ip:203.0.114.0/24",
            "ip:2001:db8::/32",
        ] {
            assert!(!sel(no).matches(e), "{no} should not match");
        }
    });
}

#[test]
fn several_selectors_follow_any_and_none_follows_all() {
    with_event(|e| {
        assert!(Who::default().matches(e));
        assert!(Who::default().is_everyone());
        let who = Who::new(vec![
            sel("akid:AKIAOTHERKEY00000000"),
            sel("ip:203.0.113.7"),
        ]);
        assert!(who.matches(e));
        assert_eq!(
            who.to_string(),
            "akid:AKIAOTHERKEY00000000 or ip:203.0.113.7"
        );
        assert!(!Who::new(vec![sel("session:x")]).matches(e));
    });
}

#[test]
fn unreadable_selectors_say_what_to_write() {
    assert_eq!(Selector::parse("  "), Err(SelectorError::Empty));
    assert_eq!(Selector::parse("akid:"), Err(SelectorError::Empty));
    assert!(matches!(
        Selector::parse("ip:10.0.0.0/33"),
        Err(SelectorError::BadNetwork(_))
    ));
    assert!(matches!(
        Selector::parse("orders-api"),
        Err(SelectorError::Ambiguous(_))
    ));
    assert!(matches!(
        Selector::parse("user:alice"),
        Err(SelectorError::UnknownKind(k)) if k == "user"
    ));
    assert!(matches!(
        Selector::parse(&"x".repeat(5000)),
        Err(SelectorError::TooLong(5000))
    ));
}

#[test]
fn networks_are_written_back_as_given() {
    assert_eq!(sel("ip:10.1.2.3/8").to_string(), "ip:10.0.0.0/8");
    assert_eq!(sel("10.1.2.3").to_string(), "ip:10.1.2.3");
    assert_eq!(
        sel("arn:aws:iam::1:user/a").to_string(),
        "principal:arn:aws:iam::1:user/a"
    );
}

#[test]
fn a_service_address_is_no_network() {
    let record = RECORD.replace("203.0.113.7", "s3.amazonaws.com");
    let Ok(Parsed::Kms(e)) = parse_record(&record) else {
        panic!("parses");
    };
    assert!(!sel("ip:0.0.0.0/0").matches(&e));
}
