//! Matcher semantics, condition by condition: each one holds for an event
//! that has what it asks and fails for one that does not (or lacks the
//! field). Events come from CloudTrail JSON through the real parser.

use kmstop::alert::{MatchSpec, Matcher};
use kmstop::event::{KmsEvent, Parsed, parse_record};
use kmstop::inventory::{Inventory, KeyFacts};
use serde_json::{Value, json};

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// A successful Decrypt by an assumed role in the key's own account.
fn base() -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:i-0abc",
            "arn": "arn:aws:sts::111122223333:assumed-role/App/i-0abc",
            "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "arn": "arn:aws:iam::111122223333:role/App"
            }}
        },
        "eventTime": "2025-05-20T10:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.1.2.3",
        "userAgent": "aws-sdk-go/1.44",
        "requestParameters": {
            "keyId": KEY,
            "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::orders/2025/x.csv", "app": "orders"}
        },
        "responseElements": null,
        "eventID": "e-1",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "eventCategory": "Management",
        "recipientAccountId": "111122223333"
    })
}

/// `base()` with top-level fields replaced (`null` removes one).
fn with(patch: &Value) -> Value {
    let mut record = base();
    let (Value::Object(r), Value::Object(p)) = (&mut record, patch) else {
        panic!("objects");
    };
    for (k, v) in p {
        if v.is_null() {
            r.remove(k);
        } else {
            r.insert(k.clone(), v.clone());
        }
    }
    record
}

fn event(record: &Value) -> KmsEvent<'static> {
    let text = record.to_string();
    match parse_record(&text).expect("valid record") {
        Parsed::Kms(e) => e.into_owned(),
        Parsed::NonKms => panic!("not KMS"),
    }
}

fn matcher(toml_text: &str) -> Matcher {
    let spec: MatchSpec = toml::from_str(toml_text).expect("match spec");
    Matcher::compile(&spec).expect("compiles")
}

fn hit(spec: &str, record: &Value) -> bool {
    matcher(spec).matches(&event(record), &Inventory::default())
}

/// The condition holds for `yes` and fails for `no`.
fn check(spec: &str, yes: &Value, no: &Value) {
    assert!(hit(spec, yes), "{spec} should match {yes}");
    assert!(!hit(spec, no), "{spec} should not match {no}");
}

#[test]
fn empty_spec_matches_everything() {
    assert!(hit("", &base()));
    assert!(hit("event_names = []\nsource_ips = []", &base()));
}

#[test]
fn event_names_any_of() {
    let spec = r#"event_names = ["DisableKey", "Decrypt"]"#;
    check(spec, &base(), &with(&json!({"eventName": "Encrypt"})));
}

#[test]
fn outcomes_any_of() {
    let denied = with(&json!({"errorCode": "AccessDenied", "errorMessage": "no"}));
    let state = with(&json!({"errorCode": "KMSInvalidStateException"}));
    check(r#"outcomes = ["denied"]"#, &denied, &base());
    check(r#"outcomes = ["success", "error"]"#, &state, &denied);
}

#[test]
fn error_codes_are_globs() {
    let code = |c: &str| with(&json!({"errorCode": c}));
    // CIS: prefix glob; Panther: exact.
    check(
        r#"error_codes = ["AccessDenied*"]"#,
        &code("AccessDeniedException"),
        &code("VpceAccessDenied"),
    );
    check(
        r#"error_codes = ["AccessDenied"]"#,
        &code("AccessDenied"),
        &code("AccessDeniedException"),
    );
    check(
        r#"error_codes = ["*UnauthorizedOperation"]"#,
        &code("Client.UnauthorizedOperation"),
        &base(),
    );
}

#[test]
fn error_message_regex() {
    let msg = with(&json!({"errorCode": "KMSInvalidStateException",
        "errorMessage": "arn:aws:kms:us-east-1:111122223333:key/x is pending deletion."}));
    check(r#"error_message = "pending deletion""#, &msg, &base());
}

#[test]
fn text_regexes_are_unanchored() {
    let other_role = with(&json!({"userIdentity": {"type": "IAMUser",
        "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"}}));
    check(r#"principal = "role/App$""#, &base(), &other_role);
    check(
        r#"key = "1234abcd-""#,
        &base(),
        &with(
            &json!({"requestParameters": {"keyId": "arn:aws:kms:us-east-1:111122223333:key/ffff"}}),
        ),
    );
    check(
        r#"user_agent = "(?i)AWS-SDK""#,
        &base(),
        &with(&json!({"userAgent": "console.amazonaws.com"})),
    );
    check(r#"session_name = "^i-0""#, &base(), &other_role);
    let aliased = with(&json!({"requestParameters": {"keyId": KEY, "aliasName": "alias/orders"}}));
    check(r#"alias = "orders""#, &aliased, &base());
}

#[test]
fn source_ips_cidr_or_exact() {
    let ip = |s: &str| with(&json!({"sourceIPAddress": s}));
    let spec = r#"source_ips = ["10.0.0.0/8", "2001:db8::/32", "AWS Internal", "192.0.2.7"]"#;
    for yes in ["10.255.0.1", "2001:db8::5", "AWS Internal", "192.0.2.7"] {
        assert!(hit(spec, &ip(yes)), "{yes}");
    }
    for no in [
        "11.0.0.1",
        "2001:db9::1",
        "aws internal",
        "192.0.2.8",
        "kms.amazonaws.com",
    ] {
        assert!(!hit(spec, &ip(no)), "{no}");
    }
    assert!(!hit(spec, &with(&json!({"sourceIPAddress": null}))));
}

#[test]
fn source_ip_is_address() {
    let service = with(&json!({"sourceIPAddress": "config.amazonaws.com"}));
    check("source_ip_is_address = true", &base(), &service);
    check("source_ip_is_address = false", &service, &base());
}

#[test]
fn plain_lists_region_type_category() {
    check(
        r#"regions = ["us-east-1"]"#,
        &base(),
        &with(&json!({"awsRegion": "eu-west-1"})),
    );
    let vpce = with(&json!({"eventType": "AwsVpceEvent", "eventCategory": "NetworkActivity"}));
    check(r#"event_types = ["AwsVpceEvent"]"#, &vpce, &base());
    check(r#"event_categories = ["NetworkActivity"]"#, &vpce, &base());
    assert!(!hit(
        r#"event_categories = ["Management"]"#,
        &with(&json!({"eventCategory": null}))
    ));
}

#[test]
fn principal_types_and_not() {
    let service =
        with(&json!({"userIdentity": {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}}));
    check(r#"principal_types = ["AssumedRole"]"#, &base(), &service);
    check(r#"not_principal_types = ["AWSService"]"#, &base(), &service);
}

#[test]
fn read_only() {
    check(
        "read_only = true",
        &base(),
        &with(&json!({"readOnly": false})),
    );
    assert!(!hit("read_only = false", &with(&json!({"readOnly": null}))));
}

#[test]
fn encryption_context_key_and_value() {
    check(
        r#"encryption_context = { key = "aws:s3:arn", value = "^arn:aws:s3:::orders/" }"#,
        &base(),
        &with(&json!({"requestParameters": {"keyId": KEY,
            "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::billing/a"}}})),
    );
    check(
        r#"encryption_context = { key = "app" }"#,
        &base(),
        &with(
            &json!({"requestParameters": {"keyId": KEY, "encryptionContext": {"App": "orders"}}}),
        ),
    );
}

#[test]
fn cross_account_compares_caller_and_key_owner() {
    let foreign = with(&json!({"userIdentity": {"type": "AWSAccount",
        "principalId": "AIDAX", "accountId": "444455556666"}}));
    check("cross_account = true", &foreign, &base());
    check("cross_account = false", &base(), &foreign);
    // Unknown caller account: neither value holds.
    let anonymous =
        with(&json!({"userIdentity": {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}}));
    assert!(!hit("cross_account = true", &anonymous));
    assert!(!hit("cross_account = false", &anonymous));
}

fn put_policy(policy: &str) -> Value {
    with(&json!({"eventName": "PutKeyPolicy", "readOnly": false,
        "requestParameters": {"keyId": KEY, "policyName": "default", "policy": policy}}))
}

#[test]
fn policy_public_and_action() {
    let public = put_policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:DescribeKey"]}]}"#,
    );
    let org_only = put_policy(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}}"#,
    );
    check("policy_public = true", &public, &org_only);
    check("policy_public = false", &org_only, &public);
    // No policy in the event: neither value holds.
    assert!(!hit("policy_public = true", &base()));
    assert!(!hit("policy_public = false", &base()));
    assert!(!hit("policy_public = true", &put_policy("...")));

    check(
        "policy_public = true\npolicy_allows_action = \"kms:Encrypt\"",
        &public,
        &org_only,
    );
    assert!(!hit(
        "policy_public = true\npolicy_allows_action = \"kms:Decrypt\"",
        &public
    ));
    // The action alone implies a public statement.
    assert!(hit(r#"policy_allows_action = "kms:Encrypt""#, &public));
}

fn inventory(state: &str, rotation: Option<bool>) -> Inventory {
    Inventory::new([KeyFacts {
        arn: KEY.to_owned(),
        state: Some(state.to_owned()),
        rotation_enabled: rotation,
        ..KeyFacts::default()
    }])
}

#[test]
fn inventory_facts() {
    let e = event(&base());
    let m = matcher(r#"key_states = ["PendingDeletion", "Disabled"]"#);
    assert!(m.matches(&e, &inventory("PendingDeletion", None)));
    assert!(!m.matches(&e, &inventory("Enabled", None)));
    assert!(!m.matches(&e, &Inventory::default()), "unknown key");

    let m = matcher("key_rotation_enabled = false");
    assert!(m.matches(&e, &inventory("Enabled", Some(false))));
    assert!(!m.matches(&e, &inventory("Enabled", Some(true))));
    assert!(
        !m.matches(&e, &inventory("Enabled", None)),
        "unknown rotation"
    );
}

#[test]
fn every_condition_must_hold() {
    let spec = r#"
        event_names = ["Decrypt"]
        outcomes = ["denied"]
    "#;
    assert!(!hit(spec, &base()));
    assert!(hit(spec, &with(&json!({"errorCode": "AccessDenied"}))));
}

#[test]
fn compile_errors_name_the_field() {
    let err = |text: &str| {
        let spec: MatchSpec = toml::from_str(text).expect("match spec");
        Matcher::compile(&spec).expect_err("should not compile")
    };
    let e = err(r#"principal = "(""#);
    assert_eq!(e.field, "principal");
    assert!(e.message.starts_with("regex parse error"), "{}", e.message);
    assert!(!e.message.contains('\n'));
    let e = err(r#"source_ips = ["10.0.0.0/33"]"#);
    assert_eq!(e.field, "source_ips");
    assert_eq!(e.message, r#""10.0.0.0/33" is not a CIDR block or address"#);
    assert_eq!(
        err(r#"encryption_context = { key = "a", value = "[" }"#).field,
        "encryption_context"
    );
    assert_eq!(err(r#"error_codes = [""]"#).field, "error_codes");
}

#[test]
fn cross_account_direction_is_seen_from_the_recipient() {
    let inbound = with(&json!({"userIdentity": {"type": "AWSAccount",
        "principalId": "AIDAX", "accountId": "444455556666"}}));
    let foreign_key = "arn:aws:kms:us-east-1:444455556666:key/k9";
    let outbound = with(&json!({"requestParameters": {"keyId": foreign_key}}));
    check(
        r#"cross_account_direction = "inbound""#,
        &inbound,
        &outbound,
    );
    check(
        r#"cross_account_direction = "outbound""#,
        &outbound,
        &inbound,
    );
    // Not cross-account at all: neither direction.
    assert!(!hit(r#"cross_account_direction = "inbound""#, &base()));
    assert!(!hit(r#"cross_account_direction = "outbound""#, &base()));
    // No recipient: the key owner's view, as before directions existed.
    let unknown =
        with(&json!({"recipientAccountId": null, "requestParameters": {"keyId": foreign_key}}));
    assert!(hit(r#"cross_account_direction = "inbound""#, &unknown));
}

fn grant(grantee: &str, retiring: Option<&str>) -> Value {
    let mut params = json!({"keyId": KEY, "granteePrincipal": grantee, "operations": ["Decrypt"]});
    if let Some(r) = retiring {
        params["retiringPrincipal"] = json!(r);
    }
    with(&json!({"eventName": "CreateGrant", "readOnly": false, "requestParameters": params}))
}

#[test]
fn grant_outside_account_reads_arns_and_account_ids() {
    let spec = "grant_outside_account = true";
    check(
        spec,
        &grant("arn:aws:iam::444455556666:role/x", None),
        &grant("arn:aws:iam::111122223333:role/x", None),
    );
    check(
        spec,
        &grant("ec2.amazonaws.com", Some("444455556666")),
        &grant("ec2.amazonaws.com", Some("arn:aws:iam::111122223333:root")),
    );
    assert!(!hit(spec, &grant("EX_PRINCIPAL_ID", None)));
    check(
        "grant_outside_account = false",
        &grant("dynamodb.us-west-2.amazonaws.com", None),
        &grant("444455556666", None),
    );
    // Not a grant: neither value holds.
    assert!(!hit("grant_outside_account = false", &base()));
}

#[test]
fn destination_cross_account_and_the_call_flags() {
    let reencrypt = |dest: &str| {
        with(
            &json!({"eventName": "ReEncrypt", "requestParameters": {"keyId": KEY, "destinationKeyId": dest}}),
        )
    };
    check(
        "destination_cross_account = true",
        &reencrypt("arn:aws:kms:us-east-1:444455556666:key/k9"),
        &reencrypt("0987dcba-09fe-87dc-65ba-ab0987654321"),
    );
    check(
        "destination_cross_account = false",
        &reencrypt("alias/orders"),
        &reencrypt("arn:aws:kms:us-east-1:444455556666:alias/x"),
    );
    assert!(!hit("destination_cross_account = false", &base()));

    let bypass = |v: Value| {
        with(
            &json!({"eventName": "PutKeyPolicy", "requestParameters": {"keyId": KEY, "bypassPolicyLockoutSafetyCheck": v}}),
        )
    };
    check(
        "bypass_policy_lockout_check = true",
        &bypass(json!(true)),
        &bypass(json!(false)),
    );
    // Athena hands the flag back as text.
    assert!(hit(
        "bypass_policy_lockout_check = true",
        &bypass(json!("true"))
    ));

    let import = |m: &str| {
        with(
            &json!({"eventName": "ImportKeyMaterial", "requestParameters": {"keyId": KEY, "expirationModel": m}}),
        )
    };
    check(
        r#"expiration_models = ["KEY_MATERIAL_EXPIRES"]"#,
        &import("KEY_MATERIAL_EXPIRES"),
        &import("KEY_MATERIAL_DOES_NOT_EXPIRE"),
    );
    assert!(!hit(
        r#"expiration_models = ["KEY_MATERIAL_EXPIRES"]"#,
        &base()
    ));
    let empty: MatchSpec = toml::from_str(r#"expiration_models = [""]"#).expect("spec");
    assert!(Matcher::compile(&empty).is_err());
}

/// `key_created_by_caller_within` reads the engine's memory of the keys
/// it saw created (the alias scenarios run it); a matcher on its own has
/// none, so the condition never holds, and a span of nothing is refused.
#[test]
fn key_created_by_caller_needs_the_engines_memory() {
    assert!(!hit(r#"key_created_by_caller_within = "7d""#, &base()));
    let zero: MatchSpec = toml::from_str(r#"key_created_by_caller_within = "0s""#).expect("spec");
    let e = Matcher::compile(&zero).expect_err("a span of nothing");
    assert_eq!(e.field, "key_created_by_caller_within");
}
