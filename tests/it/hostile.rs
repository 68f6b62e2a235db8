//! Attacker-chosen strings in events: the table and CSV faces must show
//! them, never obey them (no control sequences, no bidi reordering, no
//! spreadsheet formulas, no 5 KB lines), while JSON keeps them whole.

use std::fs;
use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::{Value, json};

const ESC_COLOUR: &str = "\u{1b}[31m";
const ESC_CLEAR: &str = "\u{1b}[2J";
const OSC_TITLE: &str = "\u{1b}]0;pwned\u{7}";

/// Every character class a terminal or a bidi renderer would act on.
fn nasty(tag: &str) -> String {
    format!(
        "{tag}{ESC_COLOUR}red{ESC_CLEAR}{OSC_TITLE}\rover\u{7}bell\u{7f}del\u{9b}2Jcsi\
         \u{202e}desrever\u{202c}\u{2066}iso\u{2069}\u{200f}\u{61c}\u{200b}zw\u{e0041}tag\n\tend"
    )
}

/// 5 KB of text with control characters sprinkled through it.
fn huge(tag: &str) -> String {
    let mut s = format!("{tag}-");
    while s.len() < 5 * 1024 {
        s.push_str("abcdefghij");
        s.push_str(ESC_COLOUR);
        s.push('\u{202e}');
    }
    s
}

const FORMULAS: [&str; 4] = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)"];

const ACCOUNT: &str = "111122223333";

fn base(name: &str, time: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "eventTime": time,
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "aws-cli/2.0",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT
    })
}

fn iam_user(arn: &str) -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": arn, "accountId": ACCOUNT})
}

fn set(record: &mut Value, key: &str, value: Value) {
    record
        .as_object_mut()
        .expect("records are objects")
        .insert(key.to_owned(), value);
}

fn key(id: &str) -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}")
}

/// The hostile records, and the 5 KB principal that JSON must keep whole.
fn hostile_records() -> (Vec<Value>, String) {
    let mut records = Vec::new();
    let big_principal = principal_records(&mut records);
    role_records(&mut records);
    control_plane_records(&mut records);
    for (n, r) in records.iter_mut().enumerate() {
        if r.get("eventID").is_none() {
            set(r, "eventID", json!(format!("evt-{n}")));
        }
    }
    (records, big_principal)
}

/// Principals (`IAMUser` arn) with formula starters, control characters and
/// 5 KB; hostile key ids and regions; hostile denied error codes. Returns
/// the 5 KB principal.
fn principal_records(records: &mut Vec<Value>) -> String {
    let big_principal = huge("=principal");
    let mut principals: Vec<String> = FORMULAS.iter().map(|f| (*f).to_owned()).collect();
    principals.push(nasty("arn:aws:iam::111122223333:user/"));
    principals.push(nasty("=user"));
    principals.push(big_principal.clone());
    for (i, principal) in principals.iter().enumerate() {
        let mut r = base("Decrypt", "2025-05-20T10:00:00Z");
        set(&mut r, "userIdentity", iam_user(principal));
        // Key ids chosen by the caller: formula and control characters in
        // the key id and in the region field of the ARN.
        let key_id = match i {
            0 => "=1+1".to_owned(),
            1 => "@key".to_owned(),
            2 => nasty("-key"),
            3 => huge("+key"),
            _ => "1234abcd-12ab-34cd-56ef-1234567890ab".to_owned(),
        };
        let arn = if i == 4 {
            format!("arn:aws:kms:{}:{ACCOUNT}:key/{key_id}", nasty("=region"))
        } else {
            key(&key_id)
        };
        set(
            &mut r,
            "resources",
            json!([{"type": "AWS::KMS::Key", "ARN": arn}]),
        );
        // Denied, with a hostile error code that still reads as denied.
        if i % 2 == 0 {
            set(
                &mut r,
                "errorCode",
                json!(format!("=AccessDenied{OSC_TITLE}")),
            );
        }
        records.push(r);
    }
    big_principal
}

/// An assumed role: session name, user agent and encryption context.
fn role_records(records: &mut Vec<Value>) {
    for (i, s) in [nasty("-session"), huge("@session")].iter().enumerate() {
        let mut r = base("GenerateDataKey", "2025-05-20T10:10:00Z");
        set(
            &mut r,
            "userIdentity",
            json!({
                "type": "AssumedRole",
                "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{}/{s}", nasty("+role")),
                "accountId": ACCOUNT,
                "sessionContext": {"sessionIssuer": {
                    "type": "Role",
                    "arn": if i == 0 { nasty("=issuer") } else { huge("-issuer") }
                }}
            }),
        );
        set(&mut r, "userAgent", json!(s));
        set(
            &mut r,
            "requestParameters",
            json!({
                "keyId": key("1234abcd-12ab-34cd-56ef-1234567890ab"),
                "encryptionContext": {
                    nasty("=ctx-key"): huge("=ctx-value"),
                    "aws:s3:arn": s
                }
            }),
        );
        records.push(r);
    }
}

/// Control-plane events (readOnly false): hostile event names, error codes
/// and aliases.
fn control_plane_records(records: &mut Vec<Value>) {
    let names = [
        nasty("=CreateAlias"),
        huge("+DeleteAlias"),
        "-ScheduleKeyDeletion".to_owned(),
        "@PutKeyPolicy".to_owned(),
    ];
    for (i, name) in names.iter().enumerate() {
        let mut r = base(name, "2025-05-20T11:00:00Z");
        set(&mut r, "readOnly", json!(false));
        set(&mut r, "userIdentity", iam_user(FORMULAS[i]));
        set(
            &mut r,
            "errorCode",
            json!(if i % 2 == 0 {
                nasty("=Err")
            } else {
                huge("@Err")
            }),
        );
        let alias = if i % 2 == 0 {
            nasty("alias/")
        } else {
            huge("alias/")
        };
        set(
            &mut r,
            "requestParameters",
            json!({"aliasName": alias, "targetKeyId": "=bad-key"}),
        );
        if i == 3 {
            // The table shows the key when there is one, else the alias.
            set(
                &mut r,
                "resources",
                json!([{"type": "AWS::KMS::Key", "ARN": key(&nasty("=cpkey"))}]),
            );
        }
        set(&mut r, "eventID", json!(nasty("-id")));
        records.push(r);
    }
}

fn write_hostile(dir: &Path) -> (std::path::PathBuf, String) {
    let (records, big) = hostile_records();
    let path = dir.join("hostile.json");
    fs::write(
        &path,
        serde_json::to_string(&json!({ "Records": records })).expect("serialisable"),
    )
    .expect("write");
    (path, big)
}

fn kmstop(source: &Path, extra: &[&str]) -> Vec<u8> {
    let out = cargo_bin_cmd!("kmstop")
        .env("COLUMNS", "120")
        .arg("report")
        .arg("--source")
        .arg(source)
        .args(extra)
        .output()
        .expect("kmstop runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{extra:?}: {stderr}");
    assert_eq!(out.status.code(), Some(0), "{extra:?}: {stderr}");
    out.stdout
}

fn is_bidi_control(c: char) -> bool {
    matches!(c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{200e}' | '\u{200f}' | '\u{61c}' | '\u{200b}' | '\u{feff}')
}

/// Only printable text and `\n` line ends.
fn assert_inert(what: &str, bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    for (line_no, line) in text.split('\n').enumerate() {
        for c in line.chars() {
            let bad = c.is_control() || is_bidi_control(c) || c == '\u{2028}' || c == '\u{2029}';
            assert!(
                !bad,
                "{what}: line {} carries U+{:04X}: {line:?}",
                line_no + 1,
                u32::from(c)
            );
        }
    }
}

const SECTIONS: [&str; 5] = [
    "principals",
    "keys",
    "denied",
    "control-plane",
    "event-names",
];

#[test]
fn table_output_is_inert_and_narrow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_hostile(dir.path());
    let mut runs = vec![("table (all)".to_owned(), vec!["--top", "100"])];
    for section in SECTIONS {
        runs.push((
            format!("table --section {section}"),
            vec!["--top", "100", "--section", section],
        ));
    }
    for (what, args) in runs {
        let mut full = vec!["--format", "table"];
        full.extend(args);
        let out = kmstop(&path, &full);
        assert_inert(&what, &out);
        let text = String::from_utf8(out).expect("checked above");
        for line in text.lines() {
            assert!(
                line.chars().count() < 400,
                "{what}: a {}-char line: {line:?}",
                line.chars().count()
            );
        }
        // Each attack is shown, escaped, rather than dropped.
        if what == "table (all)" {
            assert!(text.contains("\\x1b[31m"), "{what}:\n{text}");
            assert!(text.contains("\\u{202e}"), "{what}:\n{text}");
        }
    }
}

#[test]
fn table_fits_the_width_it_is_given() {
    // `--format table` promises tables fitted to the terminal (`$COLUMNS`
    // when not on one). Cells are cut at 100 columns, but columns that may
    // not wrap (key, account, region; time, event, outcome) still push
    // lines past the width when the caller chose those strings.
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_hostile(dir.path());
    let mut too_wide = Vec::new();
    for section in SECTIONS {
        let out = kmstop(
            &path,
            &["--format", "table", "--top", "100", "--section", section],
        );
        let text = String::from_utf8(out).expect("UTF-8");
        let wide: Vec<&str> = text.lines().filter(|l| l.chars().count() > 120).collect();
        if let Some(widest) = wide.iter().max_by_key(|l| l.chars().count()) {
            let start: String = widest.chars().take(50).collect();
            too_wide.push(format!(
                "--section {section}: {} lines, the widest {} columns: {start:?}…",
                wide.len(),
                widest.chars().count()
            ));
        }
    }
    assert!(
        too_wide.is_empty(),
        "lines wider than COLUMNS=120:\n{}",
        too_wide.join("\n")
    );
}

#[test]
fn csv_output_is_inert_and_defused_in_every_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_hostile(dir.path());
    for section in SECTIONS {
        let what = format!("csv --section {section}");
        let out = kmstop(&path, &["--format", "csv", "--section", section]);
        assert_inert(&what, &out);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(out.as_slice());
        let mut rows = 0;
        for record in reader.records() {
            let record = record.unwrap_or_else(|e| panic!("{what}: bad CSV: {e}"));
            rows += 1;
            for cell in &record {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{what}: formula cell {cell:?}"
                );
                assert!(!cell.chars().any(char::is_control), "{what}: {cell:?}");
            }
        }
        assert!(rows > 1, "{what}: expected data rows");
    }
}

#[test]
fn json_keeps_hostile_strings_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, big) = write_hostile(dir.path());
    let out = kmstop(&path, &["--format", "json"]);
    let text = std::str::from_utf8(&out).expect("UTF-8");
    // Every control, C1, bidi and invisible character is a \uXXXX escape
    // in the JSON text, so `jq` or a pager shows it rather than obeying it;
    // parsed, the strings are whole.
    assert_inert("JSON", &out);
    assert!(
        !text
            .chars()
            .any(|c| c != '\n' && kmstop::text::is_unsafe_char(c)),
        "raw unsafe character in JSON"
    );
    let report: Value = serde_json::from_str(text).expect("JSON report");
    let principals: Vec<&str> = report["principals"]
        .as_array()
        .expect("principals array")
        .iter()
        .filter_map(|p| p["principal"].as_str())
        .collect();
    assert!(
        principals.contains(&big.as_str()),
        "the 5 KB principal is not kept whole"
    );
    for f in FORMULAS {
        assert!(principals.contains(&f), "{f:?} missing from {principals:?}");
    }
    let nasty_user = nasty("=user");
    assert!(principals.contains(&nasty_user.as_str()));
    let cp_names: Vec<&str> = report["control_plane"]
        .as_array()
        .expect("control_plane array")
        .iter()
        .filter_map(|c| c["event_name"].as_str())
        .collect();
    let big_name = huge("+DeleteAlias");
    assert!(cp_names.contains(&big_name.as_str()), "{}", cp_names.len());
    assert!(cp_names.contains(&nasty("=CreateAlias").as_str()));
}

#[test]
fn problems_on_stderr_are_escaped_too() {
    // A file name chosen by whoever filled the bucket.
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("{ESC_CLEAR}{OSC_TITLE}\u{202e}log.json");
    let Ok(()) = fs::write(dir.path().join(&name), "{\"Records\": [ oops") else {
        // A file system that refuses such names has nothing to test.
        return;
    };
    let out = cargo_bin_cmd!("kmstop")
        .arg("report")
        .arg("--source")
        .arg(dir.path())
        .output()
        .expect("kmstop runs");
    assert_eq!(out.status.code(), Some(1));
    assert_inert("stderr", &out.stderr);
    let stderr = String::from_utf8(out.stderr).expect("UTF-8");
    assert!(stderr.contains("\\x1b[2J"), "{stderr}");
}
