//! Every real and vendor-authored CloudTrail KMS log shipped in
//! `tests/fixtures/cloudtrail` (see its SOURCES.md and the NOTICE file)
//! parses with no malformed record; the counts are pinned and a few events
//! are checked field by field against the JSON by hand.

use std::path::PathBuf;

use kmstop::event::{KmsEvent, Outcome, Parsed, parse_record};
use kmstop::report::{Report, ReportSettings, build_report};
use kmstop::source::files::{Input, Listed, Problem};
use kmstop::source::{gunzip, read_container};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cloudtrail")
        .join(name)
}

/// Parses a fixture file into owned events; panics on any malformed record.
fn events(name: &str) -> (usize, Vec<KmsEvent<'static>>) {
    let bytes = std::fs::read(fixture(name)).expect("fixture readable");
    let mut text = Vec::new();
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip(&bytes, &mut text).expect("fixture gzip");
        &text
    } else {
        &bytes
    };
    let text = std::str::from_utf8(bytes).expect("fixture UTF-8");
    let contents = read_container(text).expect("fixture container");
    assert!(
        contents.malformed.is_empty(),
        "{name}: {:?}",
        contents.malformed
    );
    let mut kms = Vec::new();
    for item in &contents.items {
        match parse_record(item.raw()).unwrap_or_else(|e| panic!("{name}: {e}")) {
            Parsed::Kms(e) => kms.push(e.into_owned()),
            Parsed::NonKms => {}
        }
    }
    (contents.items.len(), kms)
}

fn report(names: &[&str]) -> Report {
    let inputs: Vec<Input> = names
        .iter()
        .map(|n| Input::File {
            path: fixture(n),
            named: true,
        })
        .collect();
    let problems = std::sync::Mutex::new(Vec::new());
    let on_problem = |p: Problem| problems.lock().expect("lock").push(p);
    let report = build_report(&Listed::new(&inputs), &ReportSettings::new(2), &on_problem)
        .expect("built-in rules compile")
        .0;
    assert!(problems.lock().expect("lock").is_empty());
    report
}

const AWSDOCS: &str = "awsdocs_aws-kms-developer-guide.json";
const CORALOGIX: &str = "coralogix-aws-shipper_cloudtrail.log.json";
const CORALOGIX_GZ: &str = "coralogix-aws-shipper_cloudtrail.log.json.gz";
const PANTHER: &str = "panther-analysis_aws_kms_cmk_loss.json";

#[test]
fn pinned_counts_per_file() {
    // (file, records, KMS events, distinct events, denied, errors,
    // principals, conflicting copies: vendor samples that reuse one id,
    // time and name for records that differ)
    let pins = [
        (AWSDOCS, 63, 63, 60, 0, 1, 5, 1),
        (CORALOGIX, 20, 13, 13, 0, 0, 2, 0),
        (CORALOGIX_GZ, 20, 13, 13, 0, 0, 2, 0),
        (PANTHER, 5, 5, 3, 0, 0, 1, 1),
    ];
    for (name, records, kms, distinct, denied, errors, principals, conflicting) in pins {
        let (n, events) = events(name);
        assert_eq!((n, events.len()), (records, kms), "{name}");
        let r = report(&[name]);
        assert_eq!(r.events, distinct, "{name} distinct");
        assert_eq!(r.denied, denied, "{name} denied");
        assert_eq!(r.errors, errors, "{name} errors");
        assert_eq!(r.principals.len(), principals, "{name} principals");
        assert_eq!(
            r.skipped.conflicting_copies, conflicting,
            "{name} conflicting copies"
        );
        assert_eq!(
            r.skipped.duplicates + r.skipped.conflicting_copies,
            kms as u64 - distinct,
            "{name} duplicates"
        );
        assert_eq!(
            r.skipped.non_kms,
            records as u64 - kms as u64,
            "{name} non-KMS"
        );
        assert_eq!(r.skipped.malformed, 0, "{name} malformed");
    }
}

#[test]
fn the_whole_folder_counts_each_event_once() {
    let r = report(&[AWSDOCS, CORALOGIX, CORALOGIX_GZ, PANTHER]);
    assert_eq!(r.events, 76);
    // The .json and .json.gz copies of the coralogix log, plus records that
    // the vendor samples repeat with the same id, time and name (two of
    // them differing in what they say).
    assert_eq!(r.skipped.duplicates, 13 + 3 + 2 - 2);
    assert_eq!(r.skipped.conflicting_copies, 2);
    assert_eq!(r.skipped.non_kms, 14);
    assert_eq!(r.files_read, 4);
    assert_eq!(r.event_names.values().sum::<u64>(), 76);
    assert_eq!(r.principals.iter().map(|p| p.events).sum::<u64>(), 76);
    assert_eq!(
        r.from.map(|t| t.to_rfc3339()).as_deref(),
        Some("2014-11-04T00:50:30+00:00")
    );
    assert_eq!(
        r.to.map(|t| t.to_rfc3339()).as_deref(),
        Some("2023-10-17T04:53:40+00:00")
    );
}

#[test]
fn gzip_and_plain_copies_parse_identically() {
    let (_, plain) = events(CORALOGIX);
    let (_, gz) = events(CORALOGIX_GZ);
    let ids = |v: &[KmsEvent<'_>]| {
        v.iter()
            .map(|e| e.raw_json().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&plain), ids(&gz));
}

fn find<'a>(events: &'a [KmsEvent<'static>], id: &str, name: &str) -> &'a KmsEvent<'static> {
    events
        .iter()
        .find(|e| e.event_id == id && e.event_name == name)
        .unwrap_or_else(|| panic!("event {id} {name}"))
}

#[test]
fn hand_checked_xks_decrypt_error() {
    let (_, all) = events(AWSDOCS);
    let e = all
        .iter()
        .find(|e| e.error_code.as_deref() == Some("KMSInvalidStateException"))
        .expect("the XKS Decrypt");
    assert_eq!(e.event_name, "Decrypt");
    assert_eq!(e.event_id, "b79603d5-4cde-46fc-819c-a7cf547b9df4");
    assert_eq!(e.time.to_rfc3339(), "2022-11-24T00:26:58+00:00");
    assert_eq!(e.principal, "arn:aws:iam::111122223333:user/Alice");
    assert_eq!(e.principal_type.as_deref(), Some("IAMUser"));
    assert_eq!(e.outcome, Outcome::Error);
    assert!(
        e.error_message
            .as_deref()
            .is_some_and(|m| m.starts_with("The external key store proxy"))
    );
    let key = e.key.as_ref().expect("key");
    assert_eq!(
        key.arn,
        "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
    );
    assert_eq!(key.key_id(), "0987dcba-09fe-87dc-65ba-ab0987654321");
    assert_eq!(e.region.as_deref(), Some("us-west-2"));
    assert_eq!(e.source_ip.as_deref(), Some("AWS Internal"));
    assert_eq!(e.read_only, Some(true));
    assert_eq!(e.event_type.as_deref(), Some("AwsApiCall"));
    let context: Vec<(&str, &str)> = e
        .encryption_context
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    assert_eq!(
        context,
        [("Department", "Engineering"), ("Purpose", "Test")]
    );
    assert!(
        e.raw_json()
            .is_some_and(|raw| raw.contains("\"xksKeyId\": \"abc01234567890fe\""))
    );
}

#[test]
fn hand_checked_service_and_role_events() {
    let (_, docs) = events(AWSDOCS);
    let workmail = find(&docs, "d5a59c18-128a-4082-aa5b-729f7734626a", "Encrypt");
    assert_eq!(workmail.principal, "workmail.eu-west-1.amazonaws.com");
    assert_eq!(workmail.principal_type.as_deref(), Some("AWSService"));
    assert_eq!(
        workmail.invoked_by.as_deref(),
        Some("workmail.eu-west-1.amazonaws.com")
    );

    let rotate = find(&docs, "a24b3967-ddad-417f-9b22-2332b918db06", "RotateKey");
    assert_eq!(rotate.principal, "AWS Internal");
    assert_eq!(rotate.principal_type, None);
    assert_eq!(rotate.event_type.as_deref(), Some("AwsServiceEvent"));
    assert!(rotate.is_control_plane());

    let (_, coralogix) = events(CORALOGIX);
    let decrypt = find(
        &coralogix,
        "8c089f5e-f142-48a1-a25d-93390aab7159",
        "Decrypt",
    );
    assert_eq!(
        decrypt.principal,
        "arn:aws:iam::597078901540:role/serverlessrepo-Coralogix-CloudT-LambdaFunctionRole-UI8F8282GQFN"
    );
    assert_eq!(
        decrypt.session_name.as_deref(),
        Some("serverlessrepo-Coralogix-CloudTrail-LambdaFunction-Z5oxZEDWKmQM")
    );
    assert_eq!(decrypt.invoked_by.as_deref(), Some("AWS Internal"));
    assert_eq!(decrypt.recipient_account.as_deref(), Some("597078901540"));
    assert_eq!(
        decrypt.key.as_ref().map(|k| k.arn.as_ref()),
        Some("arn:aws:kms:eu-central-1:597078901540:key/a339d1af-e88e-4801-8d64-5c7861a4405f")
    );

    let (_, panther) = events(PANTHER);
    // `resources: null`: the key comes from responseElements.keyId.
    let scheduled = panther
        .iter()
        .find(|e| {
            e.event_name == "ScheduleKeyDeletion"
                && e.raw_json().is_some_and(|r| r.contains("p_row_id"))
        })
        .expect("the resources-null event");
    assert_eq!(scheduled.principal, "arn:aws:iam::123456789012:role/tester");
    assert_eq!(scheduled.session_name, None);
    assert_eq!(
        scheduled.key.as_ref().map(|k| k.arn.as_ref()),
        Some("arn:aws:kms:us-west-2:123456789012:key/1")
    );
}

/// `report` reads log files in one streaming pass without keeping record
/// text; drill-down reads them through the general container reader. Both
/// must see the same events.
#[test]
fn streaming_and_general_readers_agree() {
    use kmstop::event::normalize;
    use kmstop::source::for_each_log_record;

    for name in [AWSDOCS, CORALOGIX, PANTHER] {
        let text = std::fs::read_to_string(fixture(name)).expect("fixture");
        let mut streamed = Vec::new();
        let whole = for_each_log_record(&text, |record| {
            let record = record.expect("every fixture record is an object");
            if let Parsed::Kms(e) = normalize(record, None).expect("parses") {
                streamed.push(e.into_owned());
            }
        });
        assert!(whole, "{name} is one Records document");
        let (_, general) = events(name);
        let view = |e: &KmsEvent<'_>| {
            format!(
                "{:?}",
                KmsEvent {
                    raw: None,
                    ..e.clone()
                }
            )
        };
        let streamed: Vec<String> = streamed.iter().map(view).collect();
        let general: Vec<String> = general.iter().map(view).collect();
        assert_eq!(streamed, general, "{name}");
    }
}

/// `userIdentity.accessKeyId` is the event's `access_key_id` in every
/// fixture shape that carries one, checked against `serde_json`'s own
/// reading of the same records (by event id and time).
#[test]
fn access_key_ids_are_read_from_every_shape() {
    let mut seen = 0;
    for name in [AWSDOCS, CORALOGIX, PANTHER] {
        let (_, kms) = events(name);
        let text = std::fs::read_to_string(fixture(name)).expect("fixture readable");
        let whole: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
        let records = whole["Records"]
            .as_array()
            .cloned()
            .or_else(|| whole.as_array().cloned())
            .unwrap_or_else(|| vec![whole.clone()]);
        for r in records {
            if r["eventSource"] != "kms.amazonaws.com" {
                continue;
            }
            let want = r["userIdentity"]["accessKeyId"]
                .as_str()
                .filter(|k| !k.is_empty());
            let id = r["eventID"].as_str().unwrap_or_default();
            let time = r["eventTime"].as_str().unwrap_or_default();
            let Some(e) = kms.iter().find(|e| e.event_id == id && e.time_text == time) else {
                continue;
            };
            assert_eq!(e.access_key_id.as_deref(), want, "{name}: {id}");
            seen += usize::from(want.is_some());
        }
    }
    assert!(seen >= 10, "only {seen} records carried an access key id");
}
