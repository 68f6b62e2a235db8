//! Property tests of the parsers: arbitrary bytes never panic anywhere on
//! the way from a file to a report, and real CloudTrail records, mutated at
//! random, are either read as the rules say or refused, never a panic.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kmstop::event::{KmsEvent, PackedEvent, Parsed, parse_event_time, parse_record};
use kmstop::report::{Report, ReportSettings, build_report};
use kmstop::source::files::{Input, Listed, Problem};
use kmstop::source::read_container;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// 256 cases, or `PROPTEST_CASES` when set (for a longer hunt).
fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            default.cases
        } else {
            256
        },
        // Failures are reported, not saved beside the tests.
        failure_persistence: None,
        ..default
    }
}

/// Every record of the real fixtures.
fn fixture_records() -> &'static [Value] {
    static RECORDS: OnceLock<Vec<Value>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail");
        let mut records = Vec::new();
        let mut names: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("directory entry").path())
            .collect();
        names.sort();
        for path in names {
            let name = path.to_string_lossy();
            let text = if name.ends_with(".json.gz") {
                let mut text = String::new();
                flate2::read::MultiGzDecoder::new(fs::File::open(&path).expect("open fixture"))
                    .read_to_string(&mut text)
                    .expect("fixture inflates");
                text
            } else if name.ends_with(".json") {
                fs::read_to_string(&path).expect("read fixture")
            } else {
                continue;
            };
            let doc: Value = serde_json::from_str(&text).expect("fixtures are JSON");
            let found = doc["Records"].as_array().expect("a Records file");
            records.extend(found.iter().cloned());
        }
        assert!(records.len() > 20, "only {} fixture records", records.len());
        records
    })
}

fn report_of(path: &Path) -> Report {
    let inputs = [Input::File {
        path: path.to_owned(),
        named: true,
    }];
    build_report(
        &Listed::new(&inputs),
        &ReportSettings::new(1),
        &|_: Problem| {},
    )
    .expect("built-in rules compile")
    .0
}

// ---------------------------------------------------------------------------
// (a) Arbitrary bytes.

/// Bytes biased toward JSON's alphabet, so the parsers get past the first
/// character often.
fn json_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"\"".to_vec()),
        Just(b":".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"\"Records\"".to_vec()),
        Just(b"\"Events\"".to_vec()),
        Just(b"\"CloudTrailEvent\"".to_vec()),
        Just(b"\"digestStartTime\"".to_vec()),
        Just(b"\"eventSource\":\"kms.amazonaws.com\"".to_vec()),
        Just(b"\"eventName\":\"Decrypt\"".to_vec()),
        Just(b"\"eventTime\":\"2025-01-01T00:00:00Z\"".to_vec()),
        Just(b"\"userIdentity\"".to_vec()),
        Just(b"null".to_vec()),
        Just(b"1e999".to_vec()),
        Just(b"-0".to_vec()),
        Just(b"\\ud800".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..4),
    ];
    proptest::collection::vec(token, 0..64).prop_map(|t| t.concat())
}

fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        json_ish_bytes(),
    ]
}

/// A gzip member around arbitrary bytes, or gzip-looking junk whose
/// trailer claims a small size. (A trailer claiming up to 1 GiB is the
/// subject of `bad_input::lying_gzip_trailer_does_not_cost_a_gigabyte`;
/// here it would make each case allocate that much.)
fn gzip_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any_bytes().prop_map(|b| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&b).expect("in-memory write");
            enc.finish().expect("in-memory gzip")
        }),
        (
            proptest::collection::vec(any::<u8>(), 0..256),
            any::<u32>(),
            0u32..65_536
        )
            .prop_map(|(body, crc, size)| {
                let mut bytes = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
                bytes.extend(body);
                bytes.extend(crc.to_le_bytes());
                bytes.extend(size.to_le_bytes());
                bytes
            }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn read_container_never_panics(bytes in any_bytes()) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(contents) = read_container(&text) {
            for item in &contents.items {
                let _ = parse_record(item.raw());
            }
        }
        let _ = parse_record(&text);
    }

    #[test]
    fn a_file_of_any_bytes_never_panics(
        bytes in prop_oneof![any_bytes(), gzip_ish_bytes()]
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("input");
        fs::write(&path, &bytes).expect("write");
        let report = report_of(&path);
        prop_assert_eq!(report.files_read + report.skipped.files_failed, 1);
    }
}

// ---------------------------------------------------------------------------
// (b) Mutated real records.

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{1b}[31m\u{1b}]0;pwned\u{7}\r\u{7f}\u{9b}".to_owned()),
        Just("\u{202e}\u{2066}\u{feff}".to_owned()),
        Just("=cmd|' /C calc'!A0".to_owned()),
        Just("\"\\".to_owned()),
        Just("kms.amazonaws.com".to_owned()),
        Just("AssumedRole".to_owned()),
        Just("AWSService".to_owned()),
        Just("alias/".to_owned()),
        Just("arn:aws:kms:us-east-1:111122223333:key/".to_owned()),
        Just("arn:aws:sts::1:assumed-role/".to_owned()),
        Just("arn:aws:sts::1:assumed-role//".to_owned()),
        Just("2025-01-01T00:00:00Z".to_owned()),
        Just("9999-99-99T99:99:99Z".to_owned()),
        Just("x".repeat(5 * 1024)),
        "\\PC{0,40}",
        ".{0,40}",
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN and infinities become null
        hostile_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::vec((hostile_string(), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Fields whose type the parser reads leniently, worth aiming at.
const NAMED: [&str; 26] = [
    "/eventSource",
    "/eventName",
    "/eventTime",
    "/userIdentity",
    "/userIdentity/type",
    "/userIdentity/arn",
    "/userIdentity/accountId",
    "/userIdentity/invokedBy",
    "/userIdentity/sessionContext",
    "/userIdentity/sessionContext/sessionIssuer",
    "/userIdentity/sessionContext/sessionIssuer/arn",
    "/resources",
    "/requestParameters",
    "/requestParameters/keyId",
    "/requestParameters/encryptionContext",
    "/requestParameters/granteePrincipal",
    "/requestParameters/retiringPrincipal",
    "/requestParameters/destinationKeyId",
    "/requestParameters/bypassPolicyLockoutSafetyCheck",
    "/requestParameters/expirationModel",
    "/requestParameters/validTo",
    "/vpcEndpointId",
    "/responseElements",
    "/readOnly",
    "/errorCode",
    "/errorMessage",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Remove the n-th node (object member or array element).
    Delete(usize),
    /// Replace the n-th node with a value.
    Replace(usize, Value),
    /// Set a named field (creating it when the parent is an object).
    SetNamed(usize, Value),
    /// Swap a named field's value for one of another type.
    SwapType(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any_json()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        (0..NAMED.len(), any_json()).prop_map(|(n, v)| Mutation::SetNamed(n, v)),
        (0..NAMED.len(), 0usize..6).prop_map(|(n, t)| Mutation::SwapType(n, t)),
    ]
}

/// JSON pointers to every node below the root.
fn pointers(value: &Value, prefix: &str, out: &mut Vec<String>) {
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{prefix}/{}", escape(k));
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{prefix}/{i}");
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        _ => {}
    }
}

fn split_pointer(pointer: &str) -> (&str, String) {
    let (parent, last) = pointer.rsplit_once('/').expect("pointers start with /");
    (parent, last.replace("~1", "/").replace("~0", "~"))
}

fn remove_at(root: &mut Value, pointer: &str) {
    let (parent, last) = split_pointer(pointer);
    match root.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

fn set_at(root: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = root.pointer_mut(pointer) {
        *slot = value;
        return;
    }
    let (parent, last) = split_pointer(pointer);
    if let Some(Value::Object(map)) = root.pointer_mut(parent) {
        map.insert(last, value);
    }
}

/// A value of a different kind than `current`.
fn other_type(current: Option<&Value>, pick: usize) -> Value {
    let kinds = [
        Value::Null,
        json!(42),
        json!("\u{1b}[2Jstring"),
        json!([{"ARN": "arn:aws:kms:us-east-1:1:key/k"}, 1, null]),
        json!({"arn": "x", "type": "AssumedRole"}),
        json!(true),
    ];
    let kind = |v: &Value| std::mem::discriminant(v);
    let mut candidates = kinds
        .iter()
        .filter(|v| current.is_none_or(|c| kind(c) != kind(v)));
    let n = candidates.clone().count();
    candidates.nth(pick % n).cloned().unwrap_or(Value::Null)
}

fn apply(record: &mut Value, m: &Mutation) {
    let mut all = Vec::new();
    pointers(record, "", &mut all);
    match m {
        Mutation::Delete(n) if !all.is_empty() => remove_at(record, &all[n % all.len()]),
        Mutation::Replace(n, v) if !all.is_empty() => {
            set_at(record, &all[n % all.len()], v.clone());
        }
        Mutation::SetNamed(n, v) => set_at(record, NAMED[*n], v.clone()),
        Mutation::SwapType(n, pick) => {
            let swapped = other_type(record.pointer(NAMED[*n]), *pick);
            set_at(record, NAMED[*n], swapped);
        }
        Mutation::Delete(_) | Mutation::Replace(..) => {}
    }
}

fn non_empty_str<'v>(record: &'v Value, key: &str) -> Option<&'v str> {
    record.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// What `parse_record` must make of a whole (valid JSON) record.
#[derive(Debug, PartialEq)]
enum Expected {
    Refused,
    NonKms,
    Kms { event_name: String },
}

fn expected(record: &Value) -> Expected {
    if !record.is_object() {
        return Expected::Refused;
    }
    let Some(source) = non_empty_str(record, "eventSource") else {
        return Expected::Refused;
    };
    if source != "kms.amazonaws.com" {
        return Expected::NonKms;
    }
    let (Some(name), Some(time)) = (
        non_empty_str(record, "eventName"),
        non_empty_str(record, "eventTime"),
    ) else {
        return Expected::Refused;
    };
    if parse_event_time(time).is_none() {
        return Expected::Refused;
    }
    Expected::Kms {
        event_name: name.to_owned(),
    }
}

/// Parses `text` and checks what came out; returns whether it was a KMS
/// event.
fn check_parse(text: &str) -> Result<Option<Expected>, TestCaseError> {
    Ok(match parse_record(text) {
        Ok(Parsed::Kms(event)) => {
            prop_assert!(!event.principal.is_empty(), "empty principal from {text}");
            prop_assert!(!event.event_name.is_empty());
            // Held events (packed, their repeated texts shared) read back
            // as parsed, with and without their record.
            let mut packed = PackedEvent::pack(&event);
            prop_assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
            packed.strip_raw();
            let stripped = KmsEvent {
                raw: None,
                ..(*event).clone()
            };
            prop_assert_eq!(format!("{:?}", packed.view()), format!("{stripped:?}"));
            Some(Expected::Kms {
                event_name: event.event_name.into_owned(),
            })
        }
        Ok(Parsed::NonKms) => Some(Expected::NonKms),
        Err(_) => Some(Expected::Refused),
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_records_parse_by_the_rules(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..5),
    ) {
        let records = fixture_records();
        let mut record = records[pick % records.len()].clone();
        for m in &mutations {
            apply(&mut record, m);
        }
        let text = serde_json::to_string(&record).expect("serialisable");
        let got = check_parse(&text)?;
        prop_assert_eq!(got, Some(expected(&record)), "record: {}", text);

        // The same record, pretty-printed: whitespace changes nothing.
        let pretty = serde_json::to_string_pretty(&record).expect("serialisable");
        prop_assert_eq!(check_parse(&pretty)?, Some(expected(&record)));
    }

    #[test]
    fn truncated_records_are_refused(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 0..3),
        cut in any::<prop::sample::Index>(),
    ) {
        let records = fixture_records();
        let mut record = records[pick % records.len()].clone();
        for m in &mutations {
            apply(&mut record, m);
        }
        let text = serde_json::to_string(&record).expect("serialisable");
        let mut end = cut.index(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let prefix = &text[..end];
        // A proper prefix of a compact JSON object is never a whole one.
        prop_assert_eq!(check_parse(prefix)?, Some(Expected::Refused), "prefix: {}", prefix);
        let _ = read_container(prefix);
    }

    #[test]
    fn mutated_records_through_a_file(
        picks in proptest::collection::vec(any::<usize>(), 1..4),
        mutations in proptest::collection::vec(mutation(), 1..4),
        truncate in proptest::option::weighted(0.2, any::<prop::sample::Index>()),
    ) {
        let records = fixture_records();
        let mut chosen: Vec<Value> = picks
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut r = records[p % records.len()].clone();
                // Distinct ids, so that de-duplication keeps every one.
                set_at(&mut r, "/eventID", json!(format!("prop-{i}")));
                r
            })
            .collect();
        for (i, m) in mutations.iter().enumerate() {
            let n = i % chosen.len();
            apply(&mut chosen[n], m);
        }
        let mut text = serde_json::to_string(&json!({ "Records": chosen })).expect("json");
        if let Some(cut) = truncate {
            let mut end = cut.index(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mutated.json");
        fs::write(&path, &text).expect("write");
        let report = report_of(&path);
        if truncate.is_some() {
            prop_assert_eq!(report.events, 0, "a truncated file counts nothing");
        } else {
            // Identical (id, time, name) triples are one event: count the
            // distinct ones among the records that should be read.
            let mut kms = std::collections::HashSet::new();
            for r in &chosen {
                if matches!(expected(r), Expected::Kms { .. }) {
                    kms.insert((
                        r.get("eventID").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        r["eventTime"].as_str().unwrap_or_default().to_owned(),
                        r["eventName"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
            prop_assert_eq!(report.events, kms.len() as u64, "file: {}", text);
            prop_assert!(report.principals.iter().all(|p| !p.principal.is_empty()));
        }
    }
}

#[test]
fn every_fixture_record_parses_as_the_rules_say() {
    for record in fixture_records() {
        let text = serde_json::to_string(record).expect("serialisable");
        let got = match parse_record(&text) {
            Ok(Parsed::Kms(e)) => {
                assert!(!e.principal.is_empty(), "{text}");
                Expected::Kms {
                    event_name: e.event_name.into_owned(),
                }
            }
            Ok(Parsed::NonKms) => Expected::NonKms,
            Err(_) => Expected::Refused,
        };
        assert_eq!(got, expected(record), "{text}");
    }
}
