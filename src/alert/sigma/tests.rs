use serde_json::{Value, json};

use super::*;
use crate::event::{Parsed, parse_record};

fn record(overrides: &Value) -> KmsEvent<'static> {
    let mut r = json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/ops/s1",
            "accountId": "111122223333",
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "arn": "arn:aws:iam::111122223333:role/ops",
                "accountId": "111122223333", "userName": "ops"}}
        },
        "eventTime": "2026-03-01T10:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0",
        "eventID": "e1",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333"
    });
    for (k, v) in overrides.as_object().expect("object") {
        r[k] = v.clone();
    }
    match parse_record(&r.to_string()).expect("valid record") {
        Parsed::Kms(e) => e.into_owned(),
        Parsed::NonKms => panic!("not KMS"),
    }
}

fn rule(detection: &str) -> String {
    format!(
        "title: T\nid: 0d2c8f6e-1111-4222-8333-944455556666\nlogsource:\n  product: aws\n  \
         service: cloudtrail\ndetection:\n{detection}\nlevel: low\n"
    )
}

fn one(detection: &str) -> RuleSpec {
    let file = parse_sigma(&rule(detection)).expect("yaml");
    assert!(file.refused.is_empty(), "{:?}", file.refused);
    file.rules.into_iter().next().expect("one rule")
}

fn refused(detection: &str) -> Refusal {
    let file = parse_sigma(&rule(detection)).expect("yaml");
    assert!(file.rules.is_empty(), "{:?}", file.rules);
    file.refused.into_iter().next().expect("refused")
}

fn hits(spec: &RuleSpec, event: &KmsEvent<'_>) -> bool {
    let names = &spec.matcher.event_names;
    (names.is_empty() || names.iter().any(|n| *n == *event.event_name))
        && spec.matcher.sigma.as_ref().expect("sigma").matches(event)
}

#[test]
fn equality_is_case_insensitive_with_wildcards_and_names_are_indexed() {
    let spec =
        one("  sel:\n    eventName:\n      - importkeymaterial\n      - Delete*\n  condition: sel");
    // A wildcard leaves the name unconstrained for the index.
    assert!(spec.matcher.event_names.is_empty());
    assert!(hits(
        &spec,
        &record(&json!({"eventName": "ImportKeyMaterial"}))
    ));
    assert!(hits(&spec, &record(&json!({"eventName": "DeleteAlias"}))));
    assert!(!hits(&spec, &record(&json!({"eventName": "Decrypt"}))));

    let exact = one("  sel:\n    eventName: importkeymaterial\n  condition: sel");
    assert_eq!(
        exact.matcher.event_names,
        vec!["ImportKeyMaterial".to_owned()]
    );
    assert!(hits(
        &exact,
        &record(&json!({"eventName": "ImportKeyMaterial"}))
    ));
    let cased = one("  sel:\n    eventName|cased: importkeymaterial\n  condition: sel");
    assert!(cased.matcher.event_names.is_empty());
    assert!(!hits(
        &cased,
        &record(&json!({"eventName": "ImportKeyMaterial"}))
    ));
}

#[test]
fn modifiers_and_null() {
    let e = record(&json!({}));
    let cases = [
        ("userAgent|contains: CLI/2", true),
        ("userAgent|startswith: aws-", true),
        ("userAgent|endswith: '.0'", true),
        ("userAgent|endswith: aws", false),
        ("userAgent|contains|all:\n      - aws\n      - nope", false),
        ("userAgent|contains|all:\n      - aws\n      - cli", true),
        ("userAgent|re: '^aws-cli/2\\.'", true),
        ("userAgent|re: '^AWS'", false),
        ("userAgent|re|i: '^AWS'", true),
        ("sourceIPAddress|cidr: 203.0.113.0/24", true),
        ("sourceIPAddress|cidr: 10.0.0.0/8", false),
        ("errorCode: null", true),
        ("errorCode|exists: false", true),
        ("userIdentity.accessKeyId|exists: true", true),
        ("readOnly: true", true),
        ("readOnly: false", false),
        ("userIdentity.arn: arn:aws:iam::111122223333:role/ops", true),
        (
            "userIdentity.sessionContext.sessionIssuer.arn: '*:role/ops'",
            true,
        ),
        ("userIdentity.type: assumedrole", true),
        ("awsRegion: us-east-?", true),
        ("eventSource: kms.amazonaws.com", true),
    ];
    for (item, want) in cases {
        let spec = one(&format!("  sel:\n    {item}\n  condition: sel"));
        assert_eq!(hits(&spec, &e), want, "{item}");
    }
}

#[test]
fn conditions_and_selectors() {
    let det = "  sel_a:\n    eventName: Decrypt\n  sel_b:\n    awsRegion: eu-west-1\n  \
               filter:\n    userIdentity.type: AWSService\n";
    let e = record(&json!({}));
    for (cond, want) in [
        ("1 of sel_*", true),
        ("all of sel_*", false),
        ("sel_a and not filter", true),
        ("not (sel_a or sel_b)", false),
        ("1 of them", true),
        ("all of them", false),
    ] {
        let spec = one(&format!("{det}  condition: {cond}"));
        assert_eq!(hits(&spec, &e), want, "{cond}");
    }
    // `1 of sel_*` limits the name only when every branch does.
    let spec = one(&format!("{det}  condition: sel_a and not filter"));
    assert_eq!(spec.matcher.event_names, vec!["Decrypt".to_owned()]);
    let spec = one(&format!("{det}  condition: 1 of sel_*"));
    assert!(spec.matcher.event_names.is_empty());
}

#[test]
fn what_cannot_be_expressed_is_refused_with_the_reason() {
    let cases = [
        (
            "  sel:\n    eventSource: s3.amazonaws.com\n  condition: sel",
            "only events from s3.amazonaws.com",
        ),
        (
            "  sel:\n    requestParameters.foo: x\n  condition: sel",
            "kmstop does not read requestParameters.foo",
        ),
        (
            "  sel:\n    userAgent|base64: x\n  condition: sel",
            "modifier |base64",
        ),
        (
            "  sel:\n    userAgent|windash: x\n  condition: sel",
            "modifier |windash",
        ),
        (
            "  sel:\n    userAgent|fieldref: eventName\n  condition: sel",
            "modifier |fieldref",
        ),
        ("  sel:\n    - foo\n  condition: sel", "keyword"),
        (
            "  sel:\n    sourceIPAddress|cidr: nope\n  condition: sel",
            "not a CIDR block",
        ),
        (
            "  sel:\n    userAgent|re: '('\n  condition: sel",
            "bad pattern",
        ),
        (
            "  sel:\n    eventName: Decrypt\n  condition: 2 of sel*",
            "`2 of`",
        ),
        (
            "  sel:\n    eventName: Decrypt\n  condition: other",
            "does not define",
        ),
        (
            "  sel:\n    eventName: Decrypt\n  timeframe: 5m\n  condition: sel",
            "timeframe",
        ),
        (
            "  sel:\n    userIdentity.arn|contains: ':assumed-role/'\n  condition: sel",
            "could never match",
        ),
    ];
    for (det, reason) in cases {
        let r = refused(det);
        assert!(r.to_string().contains(reason), "{det}: {r}");
    }
    let file = parse_sigma(
        "title: W\nlogsource:\n  product: windows\n  category: process_creation\n\
         detection:\n  sel:\n    CommandLine: x\n  condition: sel\n",
    )
    .expect("yaml");
    assert!(
        file.refused[0].reason.contains("windows/process_creation"),
        "{:?}",
        file.refused
    );
}

#[test]
fn metadata_becomes_the_rule() {
    let spec = one("  sel:\n    eventName: Decrypt\n  condition: sel");
    assert_eq!(spec.id, "0d2c8f6e-1111-4222-8333-944455556666");
    assert_eq!(spec.severity, Severity::Low);
    assert_eq!(spec.kind, Kind::Every);
    assert_eq!(spec.group_by, vec![Field::Key]);
    assert!(spec.references[0].starts_with("Sigma 0d2c8f6e"));
    let untitled = parse_sigma(
        "title: Odd Title! v2\nlogsource:\n  product: aws\n  service: cloudtrail\n\
         detection:\n  sel:\n    eventName: Decrypt\n  condition: sel\n",
    )
    .expect("yaml");
    assert_eq!(untitled.rules[0].id, "sigma-odd-title-v2");
    assert_eq!(untitled.rules[0].severity, Severity::Medium);
}

#[test]
fn hostile_input_is_an_error_or_a_refusal_never_a_panic() {
    assert!(parse_sigma("title: [\n").is_err());
    for (depth, says) in [
        (40, "nested deeper than 32"),
        (200, "Condition parse error"),
    ] {
        let deep = format!(
            "  sel:\n    eventName: Decrypt\n  condition: {}not sel{}",
            "(not ".repeat(depth),
            ")".repeat(depth)
        );
        let file = parse_sigma(&rule(&deep)).expect("yaml");
        assert!(file.rules.is_empty());
        assert!(file.refused[0].reason.contains(says), "{:?}", file.refused);
    }
    let brackets = format!("title: [{}\n", "[".repeat(50_000));
    assert!(parse_sigma(&brackets).is_err_and(|e| e.contains("deeper than 64")));
    for text in ["", "---\n---\n", "42", "title: x\n", "- a\n- b\n"] {
        let _ = parse_sigma(text);
    }
}
