//! Tests of the corpus generator itself: reproducibility, internal
//! consistency, and agreement between `Expected` and an independent re-read
//! of the written files using the report's rules.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use kmstop::synth::{
    CorpusSpec, Expected, SynthEvent, SynthRng, kms_record, ops, universe, write_corpus,
};
use serde_json::Value;

fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("synth-test-{name}-"))
        .tempdir()
        .expect("create scratch dir")
}

/// `n / total` for the share assertions.
// Test corpora hold a few thousand events, far below 2^52.
#[allow(clippy::cast_precision_loss)]
fn share_of(n: u64, total: u64) -> f64 {
    n as f64 / total as f64
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Gunzips by magic bytes; returns None for content that is not JSON.
fn load_json(path: &Path) -> Option<Value> {
    let raw = std::fs::read(path).expect("read file");
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else {
        raw
    };
    assert!(
        !bytes.iter().any(|&b| b < 0x20 && b != b'\n')
            || serde_json::from_slice::<Value>(&bytes).is_err(),
        "raw control byte in JSON file {}",
        path.display()
    );
    serde_json::from_slice(&bytes).ok()
}

fn s<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The report's principal rule, written independently of the generator.
fn principal(r: &Value) -> String {
    let ty = s(r, "/userIdentity/type");
    if ty == Some("AssumedRole")
        && let Some(a) = s(r, "/userIdentity/sessionContext/sessionIssuer/arn")
    {
        return a.to_string();
    }
    if ty == Some("AWSService")
        && let Some(a) = s(r, "/userIdentity/invokedBy")
    {
        return a.to_string();
    }
    if let Some(a) = s(r, "/userIdentity/arn") {
        return a.to_string();
    }
    if let Some(a) = s(r, "/userIdentity/invokedBy") {
        return a.to_string();
    }
    if let Some(a) = s(r, "/userIdentity/accountId") {
        return format!("account:{a}");
    }
    s(r, "/userIdentity/principalId")
        .unwrap_or("unknown")
        .to_string()
}

fn is_key_arn(a: &str) -> bool {
    a.starts_with("arn:aws:kms:") && a.split(':').nth(5).is_some_and(|r| r.starts_with("key/"))
}

/// The report's key rule, including the errorMessage fallback for denials.
fn key(r: &Value) -> Option<String> {
    if let Some(res) = r.get("resources").and_then(Value::as_array) {
        for e in res {
            let arn = s(e, "/ARN").or_else(|| s(e, "/arn")).unwrap_or("");
            let ty = s(e, "/type");
            if is_key_arn(arn) && (ty.is_none() || ty == Some("AWS::KMS::Key")) {
                return Some(arn.to_string());
            }
        }
    }
    if let Some(k) = s(r, "/responseElements/keyId").filter(|k| is_key_arn(k)) {
        return Some(k.to_string());
    }
    if let Some(k) = s(r, "/requestParameters/keyId") {
        if is_key_arn(k) {
            return Some(k.to_string());
        }
        let bare =
            k.len() == 36 && k.chars().filter(|&c| c == '-').count() == 4 || k.starts_with("mrk-");
        if bare {
            let (region, acct) = (s(r, "/awsRegion")?, s(r, "/recipientAccountId")?);
            return Some(format!("arn:aws:kms:{region}:{acct}:key/{k}"));
        }
        return None;
    }
    let msg = s(r, "/errorMessage")?;
    let rest = &msg[msg.find("on resource: ")? + "on resource: ".len()..];
    let arn = rest.split_whitespace().next()?;
    is_key_arn(arn).then(|| arn.to_string())
}

fn denied(code: &str) -> bool {
    code.to_ascii_lowercase().contains("accessdenied") || code.ends_with("UnauthorizedOperation")
}

/// Re-reads a corpus with the report's semantics.
fn reread(root: &Path) -> Expected {
    let mut e = Expected::default();
    let mut seen = HashSet::new();
    let mut noise_seen = HashSet::new();
    let (mut kms_records, mut noise_records) = (0u64, 0u64);
    for path in files_under(root) {
        let Some(doc) = load_json(&path) else {
            continue;
        };
        let Some(records) = doc.get("Records").and_then(Value::as_array) else {
            continue;
        };
        for r in records {
            let id = (
                s(r, "/eventID").unwrap_or("").to_string(),
                s(r, "/eventTime").unwrap_or("").to_string(),
                s(r, "/eventName").unwrap_or("").to_string(),
            );
            if s(r, "/eventSource") != Some("kms.amazonaws.com") {
                noise_records += 1;
                noise_seen.insert(id);
                continue;
            }
            kms_records += 1;
            if !seen.insert(id.clone()) {
                continue;
            }
            let t: DateTime<Utc> = DateTime::parse_from_rfc3339(&id.1)
                .expect("eventTime")
                .with_timezone(&Utc);
            assert_eq!(id.1.len(), 20, "eventTime shape {}", id.1);
            if e.events == 0 || t < e.from {
                e.from = t;
            }
            if e.events == 0 || t > e.to {
                e.to = t;
            }
            e.events += 1;
            let code = s(r, "/errorCode");
            let is_denied = code.is_some_and(denied);
            e.denied += u64::from(is_denied);
            e.errors += u64::from(code.is_some() && !is_denied);
            e.control_plane += u64::from(r.get("readOnly") == Some(&Value::Bool(false)));
            *e.event_names.entry(id.2.clone()).or_default() += 1;
            let p = principal(r);
            let k = key(r);
            let pc =
                e.principals
                    .entry(p.clone())
                    .or_insert_with(|| kmstop::synth::PrincipalCounts {
                        first_seen: t,
                        last_seen: t,
                        ..Default::default()
                    });
            pc.events += 1;
            pc.decrypt += u64::from(id.2 == "Decrypt");
            pc.denied += u64::from(is_denied);
            pc.first_seen = pc.first_seen.min(t);
            pc.last_seen = pc.last_seen.max(t);
            if let Some(k) = k {
                pc.keys.insert(k.clone());
                let kc = e.keys.entry(k.clone()).or_default();
                kc.key_id = k.rsplit("key/").next().unwrap_or("").to_string();
                kc.events += 1;
                kc.denied += u64::from(is_denied);
                kc.principals.insert(p);
            }
        }
    }
    e.non_kms = noise_seen.len() as u64;
    e.duplicate_records = kms_records - e.events;
    e.non_kms_duplicate_records = noise_records - e.non_kms;
    e
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let (ta, tb, tc) = (scratch("a"), scratch("b"), scratch("c"));
    let (a, b, c) = (ta.path(), tb.path(), tc.path());
    write_corpus(a, &CorpusSpec::small(7)).expect("write a");
    write_corpus(b, &CorpusSpec::small(7)).expect("write b");
    write_corpus(c, &CorpusSpec::small(8)).expect("write c");
    let (fa, fb) = (files_under(a), files_under(b));
    let rel = |root: &Path, v: &[PathBuf]| {
        v.iter()
            .map(|p| p.strip_prefix(root).expect("prefix").to_path_buf())
            .collect::<Vec<_>>()
    };
    assert_eq!(rel(a, &fa), rel(b, &fb));
    for (x, y) in fa.iter().zip(&fb) {
        assert!(
            std::fs::read(x).expect("read") == std::fs::read(y).expect("read"),
            "{} differs",
            x.display()
        );
    }
    assert_ne!(rel(a, &fa), rel(c, &files_under(c)));
    assert!(
        write_corpus(a, &CorpusSpec::small(7)).is_err(),
        "must refuse to overwrite"
    );
}

#[test]
fn expected_is_self_consistent_and_covers_every_shape() {
    let tmp = scratch("consistent");
    let dir = tmp.path();
    let e = write_corpus(dir, &CorpusSpec::small(1)).expect("write");
    e.check().expect("consistent");
    assert_eq!(e.events, 1_200);
    assert_eq!(e.non_kms, 240);
    assert!(e.from <= e.to);
    let share = |n: u64| share_of(n, e.events);
    assert!(
        (0.015..0.08).contains(&share(e.denied)),
        "denied share {}",
        share(e.denied)
    );
    assert!(
        (0.003..0.04).contains(&share(e.errors)),
        "error share {}",
        share(e.errors)
    );
    assert!((0.5..0.7).contains(&share(e.event_names["Decrypt"])));
    for p in [
        "AWS Internal",
        "cloudtrail.amazonaws.com",
        "unknown",
        "account:777788889999",
        "arn:aws:iam::111122223333:root",
        "arn:aws:sts::111122223333:federated-user/carol",
        "arn:aws:iam::444455556666:role/etl-batch",
        "arn:aws:iam::111122223333:user/\u{1b}[2Jmallory",
    ] {
        assert!(e.principals.contains_key(p), "missing principal {p:?}");
    }
    assert!(
        e.principals
            .keys()
            .any(|p| p.starts_with("cognito-identity.amazonaws.com:"))
    );
    assert!(e.keys.keys().any(|k| k.contains(":key/mrk-")));
    assert!((18..=24).contains(&e.keys.len()), "{} keys", e.keys.len());
    let etl = &e.principals["arn:aws:iam::444455556666:role/etl-batch"];
    assert!(etl.denied >= 5, "burst missing");
    for field in [
        e.duplicate_records,
        e.duplicate_files,
        e.late_events,
        e.shared_event_id_events,
        e.hostile_events,
        e.denied_key_from_message,
        e.control_plane,
        e.plain_json_files,
        e.digest_files,
        e.junk_files,
    ] {
        assert!(field > 0, "{e:#?}");
    }
}

#[test]
fn rereading_the_files_agrees_with_expected() {
    for seed in [3, 4, 5] {
        reread_agrees(seed);
    }
}

fn reread_agrees(seed: u64) {
    let tmp = scratch("reread");
    let dir = tmp.path();
    let want = write_corpus(dir, &CorpusSpec::small(seed)).expect("write");
    let got = reread(dir);
    assert_eq!(got.events, want.events);
    assert_eq!(got.denied, want.denied);
    assert_eq!(got.errors, want.errors);
    assert_eq!((got.from, got.to), (want.from, want.to));
    assert_eq!(got.non_kms, want.non_kms);
    assert_eq!(got.duplicate_records, want.duplicate_records);
    assert_eq!(
        got.non_kms_duplicate_records,
        want.non_kms_duplicate_records
    );
    assert_eq!(got.control_plane, want.control_plane);
    assert_eq!(got.event_names, want.event_names);
    let names = |m: &BTreeMap<String, _>| m.keys().cloned().collect::<BTreeSet<String>>();
    assert_eq!(names(&got.principals), names(&want.principals));
    assert_eq!(got.principals, want.principals);
    assert_eq!(got.keys, want.keys);
}

#[test]
fn layout_matches_cloudtrail_naming() {
    let tmp = scratch("layout");
    let dir = tmp.path();
    let e = write_corpus(dir, &CorpusSpec::small(5)).expect("write");
    let files = files_under(dir);
    let mut logs = 0;
    for f in &files {
        let rel = f
            .strip_prefix(dir)
            .expect("prefix")
            .to_string_lossy()
            .to_string();
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if rel.contains("/CloudTrail/")
            && !rel.starts_with("overlap/")
            && name.ends_with(".json.gz")
            || Path::new(name).extension().is_some_and(|x| x == "json")
                && !Path::new(&format!("{}.gz", f.display())).exists()
                && !rel.starts_with("overlap/")
        {
            logs += 1;
            let parts: Vec<&str> = name.split('_').collect();
            assert_eq!(parts.len(), 5, "{name}");
            assert_eq!(parts[1], "CloudTrail");
            assert_eq!(parts[3].len(), 14, "{name}");
            assert_eq!(parts[4].split('.').next().map(str::len), Some(16), "{name}");
            let raw = std::fs::read(f).expect("read");
            assert!(
                raw.ends_with(b"]}") || raw.starts_with(&[0x1f, 0x8b]),
                "{name}"
            );
        }
        if rel.contains("CloudTrail-Digest") {
            let doc = load_json(f).expect("digest is json");
            assert!(doc.get("Records").is_none() && doc.get("logFiles").is_some());
        }
    }
    assert_eq!(logs, e.files_written);
    assert!(
        files.iter().any(|f| f.ends_with(".DS_Store"))
            && files.iter().any(|f| f.ends_with("README.txt"))
    );
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("/overlap/AWSLogs/"))
            || e.duplicate_files > 0
    );
}

#[test]
fn single_record_building_block() {
    let spec = CorpusSpec::small(9);
    let u = universe(&spec);
    let caller = u
        .identities
        .iter()
        .find(|i| i.name == "alice")
        .expect("alice");
    let key = &u.keys[0];
    let op = ops::find("Decrypt").expect("op");
    let t = spec.start + chrono::Duration::seconds(90);
    let ev = SynthEvent::simple(t, 42, op, caller, Some(key), "us-east-1");
    let mut rng = <SynthRng as rand::SeedableRng>::seed_from_u64(1);
    let v = kms_record(&ev, &mut rng).to_value();
    assert_eq!(v["eventSource"], "kms.amazonaws.com");
    assert_eq!(v["eventTime"], "2025-05-20T00:01:30Z");
    assert_eq!(principal(&v), ev.principal());
    assert_eq!(key_of(&v), ev.counted_key());
    let line = kms_record(&ev, &mut rng).to_json();
    assert!(
        !line.contains('\n') && (1_000..2_500).contains(&line.len()),
        "{}",
        line.len()
    );
}

fn key_of(v: &Value) -> Option<String> {
    key(v)
}

#[test]
fn plan_shares_are_small_and_varied() {
    let tmp = scratch("shares");
    let dir = tmp.path();
    let e = write_corpus(dir, &CorpusSpec::small(11)).expect("write");
    let forms: HashMap<bool, usize> = e.keys.values().fold(HashMap::new(), |mut m, k| {
        *m.entry(k.key_id.starts_with("mrk-")).or_default() += 1;
        m
    });
    assert!(
        forms.get(&true).copied().unwrap_or(0) >= 2
            && forms.get(&false).copied().unwrap_or(0) >= 10
    );
    assert!(share_of(e.control_plane, e.events) < 0.05);
}

#[test]
fn odd_specs_still_agree() {
    let mut spec = CorpusSpec::small(21);
    spec.accounts = vec!["210987654321".into()];
    spec.regions = vec!["ap-southeast-2".into()];
    spec.gzip = false;
    spec.duplicate_file_share = 0.5;
    spec.files = 5;
    let tmp = scratch("odd");
    let dir = tmp.path();
    let want = write_corpus(dir, &spec).expect("write");
    want.check().expect("consistent");
    let got = reread(dir);
    assert_eq!(
        (got.events, got.denied, got.errors),
        (want.events, want.denied, want.errors)
    );
    assert_eq!(got.duplicate_records, want.duplicate_records);
    assert_eq!(got.principals, want.principals);
    assert_eq!(got.keys, want.keys);
    let mut bad = CorpusSpec::small(1);
    bad.accounts = vec!["12345".into()];
    assert!(write_corpus(scratch("bad").path(), &bad).is_err());
}
