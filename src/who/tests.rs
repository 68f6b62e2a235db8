use super::*;
use crate::event::{Parsed, parse_record};

const RECORD: &str = r#"{"eventVersion":"1.08","eventSource":"kms.amazonaws.com",
 "eventName":"Decrypt","eventTime":"2026-12-01T10:00:00Z","eventID":"e1",
 "awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7",
 "userIdentity":{"type":"AssumedRole","accountId":"111122223333",
  "arn":"arn:aws:sts::111122223333:assumed-role/orders-api/i-0abc",
  "accessKeyId":"ASIAEXAMPLEKEY234567",
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
            "akid:ASIAEXAMPLEKEY234567",
            "akid:asiaexamplekey234567",
            "ASIAEXAMPLEKEY234567",
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
            "akid:AKIAOTHERKEYAAAAAAAA",
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
            sel("akid:AKIAOTHERKEYAAAAAAAA"),
            sel("ip:203.0.113.7"),
        ]);
        assert!(who.matches(e));
        assert_eq!(
            who.to_string(),
            "akid:AKIAOTHERKEYAAAAAAAA or ip:203.0.113.7"
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

/// `RECORD` as `name` with `context` as its encryption context.
fn with_context(name: &str, context: &str) -> String {
    RECORD.replace("\"Decrypt\"", &format!("{name:?}")).replace(
        "\"recipientAccountId\"",
        &format!(
            "\"requestParameters\":{{\"encryptionContext\":{context}}},\"recipientAccountId\""
        ),
    )
}

fn selects(selector: &str, name: &str, context: &str) -> bool {
    let record = with_context(name, context);
    let Ok(Parsed::Kms(e)) = parse_record(&record) else {
        panic!("parses: {record}");
    };
    sel(selector).matches(&e)
}

/// Every service shape of `crate::event::resource`: its resource id
/// selects it, a near miss does not, and a call that is not a data call
/// is never selected by what its context names.
#[test]
fn a_resource_selects_the_data_calls_naming_it() {
    let shapes = [
        (
            "SecretARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:db-AbC",
        ),
        (
            "aws:cloudtrail:arn",
            "arn:aws:cloudtrail:eu-central-1:1:trail/t",
        ),
        ("PARAMETER_ARN", "arn:aws:ssm:us-east-1:1:parameter/db/pw"),
        (
            "aws:lambda:FunctionArn",
            "arn:aws:lambda:us-east-1:1:function:f",
        ),
        ("aws:dynamodb:tableName", "Orders"),
        ("aws:ebs:id", "vol-0123456789abcdef0"),
        ("aws:rds:db-id", "db-ABCDEFGHIJKL"),
        ("aws:logs:arn", "arn:aws:logs:us-east-1:1:log-group:g"),
        ("aws:sqs:arn", "arn:aws:sqs:us-east-1:1:q"),
        ("aws:sns:topicArn", "arn:aws:sns:us-east-1:1:t"),
        (
            "aws:workmail:arn",
            "arn:aws:workmail:eu-west-1:1:organization/m-1",
        ),
        ("aws:s3:arn", "arn:aws:s3:::reports/2025/q1.csv"),
    ];
    for (key, value) in shapes {
        let context = format!("{{\"{key}\":\"{value}\"}}");
        let wanted = format!("resource:{value}");
        for call in ["Decrypt", "GenerateDataKey", "Encrypt", "ReEncrypt"] {
            assert!(selects(&wanted, call, &context), "{call} {key}");
        }
        assert!(
            !selects(&wanted, "CreateGrant", &context),
            "{key}: not a data call"
        );
        assert!(
            !selects(&format!("{wanted}x"), "Decrypt", &context),
            "{key}"
        );
        assert!(
            !selects(
                &format!("resource:{}", &value[..value.len() - 1]),
                "Decrypt",
                &context
            ),
            "{key}"
        );
    }
    // The most specific key is the resource: a trail's log object is the
    // trail's, as the resources section counts it.
    let trail = r#"{"aws:s3:arn":"arn:aws:s3:::b/AWSLogs/x.json.gz","aws:cloudtrail:arn":"arn:aws:cloudtrail:eu-central-1:1:trail/t"}"#;
    assert!(selects(
        "resource:arn:aws:cloudtrail:eu-central-1:1:trail/t",
        "Decrypt",
        trail
    ));
    assert!(!selects("resource:s3://b", "Decrypt", trail));
    // A context no service names is its first `key=value`.
    assert!(selects(
        "resource:Department=10",
        "Decrypt",
        r#"{"Department":"10","Project":"x"}"#
    ));
    // No context, no resource.
    assert!(!selects("resource:Orders", "Decrypt", "{}"));
}

#[test]
fn s3_buckets_select_their_objects_and_bucket_keys() {
    let object = r#"{"aws:s3:arn":"arn:aws:s3:::reports/2025/q1.csv"}"#;
    let bucket_key = r#"{"aws:s3:arn":"arn:aws:s3:::reports"}"#;
    for wanted in ["resource:s3://reports", "resource:arn:aws:s3:::reports"] {
        assert!(selects(wanted, "Decrypt", object), "{wanted}");
        assert!(selects(wanted, "GenerateDataKey", bucket_key), "{wanted}");
    }
    assert!(selects("resource:s3://reports/2025/", "Decrypt", object));
    assert!(!selects(
        "resource:s3://reports/2025/",
        "Decrypt",
        bucket_key
    ));
    assert!(!selects("resource:s3://reports/2026/", "Decrypt", object));
    assert!(!selects("resource:s3://report", "Decrypt", object));
}

#[test]
fn resource_selectors_read_and_write_back() {
    assert_eq!(
        sel("resource: s3://reports/2025/ ").to_string(),
        "resource:s3://reports/2025/"
    );
    assert_eq!(Selector::parse("resource:"), Err(SelectorError::Empty));
    assert!(matches!(
        Selector::parse("resource:s3://"),
        Err(SelectorError::BadResource(m)) if m.contains("names no bucket")
    ));
    assert!(matches!(
        Selector::parse("RESOURCE:Orders"),
        Ok(Selector::Resource(r)) if r == "Orders"
    ));
    assert!(matches!(
        Selector::parse_named("resource:Orders"),
        Some(Ok(Selector::Resource(_)))
    ));
    // Other selectors never read the context.
    assert!(!sel("akid:ASIAEXAMPLEKEY234567").reads_resource());
    assert!(sel("resource:Orders").reads_resource());
}

#[test]
fn access_key_ids_are_what_iam_issues() {
    for good in [
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAEXAMPLEKEY234567",
        "ABIAEXAMPLEKEY234567",
        "ACCAEXAMPLEKEY234567",
        " akiaiosfodnn7example ",
    ] {
        let id = access_key_id(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(id, good.trim().to_ascii_uppercase());
        assert_eq!(
            sel(&format!("akid:{good}")),
            Selector::AccessKey(id.clone())
        );
    }
    assert_eq!(
        sel("AKIAIOSFODNN7EXAMPLE").to_string(),
        "akid:AKIAIOSFODNN7EXAMPLE"
    );
    for bad in [
        "AKIAIOSFODNN7EXAMPL",
        "AKIAIOSFODNN7EXAMPLEX",
        "AIDAIOSFODNN7EXAMPLE",
        "AROAIOSFODNN7EXAMPLE",
        "AKIAIOSFODNN1EXAMPLE",
        "AKIAIOSFODNN8EXAMPLE",
        "AKIA-OSFODNN7EXAMPLE",
        "AKIA\u{1b}[2JODNN7EXAMPLE",
    ] {
        let e = Selector::parse(&format!("akid:{bad}")).expect_err(bad);
        assert!(matches!(e, SelectorError::BadAccessKey(_)), "{bad}: {e:?}");
        let text = e.to_string();
        assert!(
            text.contains("not an access key id") && !text.contains('\u{1b}'),
            "{text}"
        );
    }
    // Bare, an id-like text that is no id says so rather than "ambiguous".
    assert!(matches!(
        Selector::parse("ASIALEAKED00000000001"),
        Err(SelectorError::BadAccessKey(t)) if t == "ASIALEAKED00000000001"
    ));
}
