//! Bad input through the binary: usage errors exit 2 before any work, input
//! that cannot be read exits 1 after the report, and the good files' events
//! are never lost because of a bad neighbour.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::{Value, json};

/// One KMS record as CloudTrail writes it.
fn record(id: &str, name: &str, user: &str, time: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": format!("arn:aws:iam::111122223333:user/{user}"),
            "accountId": "111122223333",
            "userName": user
        },
        "eventTime": time,
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "aws-cli/2.0",
        "requestParameters": {
            "keyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "encryptionContext": {"app": "orders"}
        },
        "responseElements": null,
        "eventID": id,
        "readOnly": true,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333"
    })
}

fn records_doc(records: &[Value]) -> String {
    serde_json::to_string(&json!({ "Records": records })).expect("serialisable")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("in-memory write");
    enc.finish().expect("in-memory gzip")
}

/// The first half of a valid gzip of a Records file.
fn truncated_gzip() -> Vec<u8> {
    let text = records_doc(&[
        record("t-1", "Decrypt", "truncated", "2025-05-20T10:00:00Z"),
        record("t-2", "Encrypt", "truncated", "2025-05-20T10:01:00Z"),
    ]);
    let full = gzip(text.as_bytes());
    full[..full.len() / 2].to_vec()
}

/// Bytes that are neither gzip nor JSON (a `.DS_Store`-like blob).
const GARBAGE: &[u8] = b"\x00\x00\x00\x01Bud1\x00\x10\xff\xfe garbage, not a log";

/// Two good files: a plain Records file with 2 events and a gzipped one
/// with 2 more.
fn write_good_files(dir: &Path) {
    fs::write(
        dir.join("111122223333_CloudTrail_us-east-1_20250520T1000Z_aaaa.json"),
        records_doc(&[
            record("g-1", "Decrypt", "alice", "2025-05-20T10:00:00Z"),
            record("g-2", "GenerateDataKey", "alice", "2025-05-20T10:05:00Z"),
        ]),
    )
    .expect("write good json");
    fs::write(
        dir.join("111122223333_CloudTrail_us-east-1_20250520T1100Z_bbbb.json.gz"),
        gzip(
            records_doc(&[
                record("g-3", "Decrypt", "bob", "2025-05-20T11:00:00Z"),
                record("g-4", "Encrypt", "bob", "2025-05-20T11:05:00Z"),
            ])
            .as_bytes(),
        ),
    )
    .expect("write good gz");
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = cargo_bin_cmd!("kmstop");
    cmd.arg("report").args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let out = cmd.output().expect("kmstop runs");
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "kmstop panicked on {args:?}:\n{}",
        run.stderr
    );
    run
}

fn json_report(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not a JSON report ({e}):\n{}", run.stdout))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// The parts of a report that come from the events themselves.
fn event_parts(report: &Value) -> Value {
    json!({
        "events": report["events"],
        "denied": report["denied"],
        "errors": report["errors"],
        "from": report["from"],
        "to": report["to"],
        "principals": report["principals"],
        "keys": report["keys"],
        "event_names": report["event_names"],
        "control_plane": report["control_plane"],
    })
}

// ---------------------------------------------------------------------------
// Usage errors: exit 2, nothing on stdout.

#[test]
fn missing_source_path_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-dir").join("logs.json");
    let r = run(&["--source", path_str(&missing)], None);
    assert_eq!(r.code, Some(2), "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "stdout: {}", r.stdout);
    assert!(
        r.stderr.contains(path_str(&missing)),
        "stderr should name the path: {}",
        r.stderr
    );
    assert!(r.stderr.starts_with("kmstop: "), "{}", r.stderr);
}

#[test]
fn missing_source_path_among_good_ones_is_still_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_good_files(dir.path());
    let missing = dir.path().join("gone.json");
    let r = run(
        &["--source", path_str(dir.path()), path_str(&missing)],
        None,
    );
    assert_eq!(r.code, Some(2), "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "stdout: {}", r.stdout);
    assert!(r.stderr.contains(path_str(&missing)), "{}", r.stderr);
}

#[test]
fn bad_since_value_names_the_flag_and_the_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_good_files(dir.path());
    let r = run(
        &["--source", path_str(dir.path()), "--since", "yesterday-ish"],
        None,
    );
    assert_eq!(r.code, Some(2), "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "stdout: {}", r.stdout);
    assert!(r.stderr.contains("--since"), "{}", r.stderr);
    assert!(r.stderr.contains("yesterday-ish"), "{}", r.stderr);
}

#[test]
fn since_after_until_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_good_files(dir.path());
    let r = run(
        &[
            "--source",
            path_str(dir.path()),
            "--since",
            "2025-05-21T00:00:00Z",
            "--until",
            "2025-05-20",
        ],
        None,
    );
    assert_eq!(r.code, Some(2), "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "stdout: {}", r.stdout);
    assert!(
        r.stderr.contains("--since") && r.stderr.contains("--until"),
        "{}",
        r.stderr
    );
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_good_files(dir.path());
    let r = run(&["--source", path_str(dir.path()), "--bogus-flag"], None);
    assert_eq!(r.code, Some(2), "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "stdout: {}", r.stdout);
    assert!(r.stderr.contains("--bogus-flag"), "{}", r.stderr);
}

#[test]
fn bad_format_value_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_good_files(dir.path());
    let r = run(&["--source", path_str(dir.path()), "--format", "xml"], None);
    assert_eq!(r.code, Some(2), "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "stdout: {}", r.stdout);
    assert!(r.stderr.contains("xml"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------
// Input problems: exit 1, the report still printed.

/// A file this process truly cannot read, in `dir`, named `name`.
///
/// `chmod 000` is the natural choice, but root (which CI containers often
/// are) reads such a file anyway. When the file can still be opened after
/// the chmod, it is replaced by a dangling symlink: following it fails
/// with "no such file or directory" for every user, root included.
fn unreadable_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(
        &path,
        records_doc(&[record("u-1", "Decrypt", "hidden", "2025-05-20T12:00:00Z")]),
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).expect("chmod 000");
        if fs::File::open(&path).is_ok() {
            // Running as root: chmod does not keep us out.
            fs::remove_file(&path).expect("remove");
            std::os::unix::fs::symlink(dir.join("target-that-does-not-exist"), &path)
                .expect("dangling symlink");
        }
    }
    path
}

#[test]
fn unreadable_file_in_a_directory_fails_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_good_files(dir.path());
    let bad = unreadable_file(
        dir.path(),
        "111122223333_CloudTrail_us-east-1_20250520T1200Z_cccc.json",
    );
    let r = run(
        &["--source", path_str(dir.path()), "--format", "json"],
        None,
    );
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains(&format!("kmstop: {}: ", path_str(&bad))),
        "stderr should name the unreadable file: {}",
        r.stderr
    );
    let report = json_report(&r);
    assert_eq!(report["events"], 4, "{report:#}");
    assert_eq!(report["files_read"], 2, "{report:#}");
    // The file could not be read: the JSON contract says it is counted.
    assert_eq!(report["skipped"]["files_failed"], 1, "{report:#}");
    assert!(
        !r.stderr.contains("0 file(s) could not be read"),
        "the summary contradicts the problem printed above it: {}",
        r.stderr
    );
}

#[cfg(unix)]
#[test]
fn dangling_symlink_in_a_directory_is_counted_as_failed() {
    // Independent of the user id: a dangling symlink cannot be read by
    // anyone. It must be reported, and counted like any unreadable file.
    let dir = tempfile::tempdir().expect("tempdir");
    write_good_files(dir.path());
    let link = dir.path().join("dangling.json");
    std::os::unix::fs::symlink(dir.path().join("nowhere.json"), &link).expect("symlink");
    let r = run(
        &["--source", path_str(dir.path()), "--format", "json"],
        None,
    );
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(r.stderr.contains(path_str(&link)), "{}", r.stderr);
    let report = json_report(&r);
    assert_eq!(report["events"], 4, "{report:#}");
    assert_eq!(report["skipped"]["files_failed"], 1, "{report:#}");
}

#[test]
fn unreadable_file_named_directly_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bad = unreadable_file(dir.path(), "locked.json");
    if fs::symlink_metadata(&bad).is_ok_and(|m| m.file_type().is_symlink()) {
        // Root: a named dangling symlink is a missing path (exit 2, tested
        // above). /proc/self/mem exists, is a regular file, and reading
        // it from offset 0 fails with EIO even for root.
        if cfg!(target_os = "linux") && Path::new("/proc/self/mem").exists() {
            bad = PathBuf::from("/proc/self/mem");
        } else {
            return;
        }
    }
    let r = run(&["--source", path_str(&bad)], None);
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains(&format!("kmstop: {}: ", path_str(&bad))),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("KMS events"),
        "report still printed: {}",
        r.stdout
    );
}

#[test]
fn truncated_gzip_named_directly_exits_1_and_says_gzip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("cut.json.gz");
    fs::write(&bad, truncated_gzip()).expect("write");
    let r = run(&["--source", path_str(&bad), "--format", "json"], None);
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with(&format!("kmstop: {}: ", path_str(&bad))))
        .unwrap_or_else(|| panic!("no line names the file: {}", r.stderr));
    assert!(line.contains("gzip"), "{line}");
    let report = json_report(&r);
    assert_eq!(report["events"], 0);
    assert_eq!(report["skipped"]["files_failed"], 1);
}

#[test]
fn garbage_file_named_directly_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("notes.bin");
    fs::write(&bad, GARBAGE).expect("write");
    let r = run(&["--source", path_str(&bad), "--format", "json"], None);
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains(&format!("kmstop: {}: ", path_str(&bad))),
        "{}",
        r.stderr
    );
    assert_eq!(json_report(&r)["skipped"]["files_failed"], 1);
}

#[test]
fn garbage_file_in_a_directory_is_passed_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_good_files(dir.path());
    fs::write(dir.path().join(".DS_Store"), GARBAGE).expect("write");
    fs::write(dir.path().join("README"), "# these are logs\n").expect("write");
    let r = run(
        &["--source", path_str(dir.path()), "--format", "json"],
        None,
    );
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    assert!(
        r.stderr.is_empty(),
        "nothing to complain about: {}",
        r.stderr
    );
    let report = json_report(&r);
    assert_eq!(report["events"], 4);
    assert_eq!(report["files_read"], 2);
    assert_eq!(report["skipped"]["not_log_files"], 2);
    assert_eq!(report["skipped"]["files_failed"], 0);
}

#[test]
fn empty_directory_exits_1_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run(&["--source", path_str(dir.path())], None);
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains("no CloudTrail log files") && r.stderr.contains(path_str(dir.path())),
        "{}",
        r.stderr
    );
}

#[test]
fn nothing_is_lost_from_the_good_files() {
    let good_only = tempfile::tempdir().expect("tempdir");
    write_good_files(good_only.path());
    let baseline = run(
        &["--source", path_str(good_only.path()), "--format", "json"],
        None,
    );
    assert_eq!(baseline.code, Some(0), "stderr: {}", baseline.stderr);
    let baseline = json_report(&baseline);
    assert_eq!(baseline["events"], 4);

    let mixed = tempfile::tempdir().expect("tempdir");
    write_good_files(mixed.path());
    let cut = mixed
        .path()
        .join("111122223333_CloudTrail_us-east-1_20250520T1030Z_cut.json.gz");
    fs::write(&cut, truncated_gzip()).expect("write");
    let broken = mixed
        .path()
        .join("111122223333_CloudTrail_us-east-1_20250520T1045Z_broken.json");
    // Starts like JSON, so it is a log file; then stops making sense.
    fs::write(
        &broken,
        "{\"Records\":[{\"eventSource\":\"kms.amazonaws.com\",\"eventName\": Decrypt!!}]}",
    )
    .expect("write");
    fs::write(mixed.path().join(".DS_Store"), GARBAGE).expect("write");

    let r = run(
        &["--source", path_str(mixed.path()), "--format", "json"],
        None,
    );
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    for bad in [&cut, &broken] {
        assert!(
            r.stderr.contains(&format!("kmstop: {}: ", path_str(bad))),
            "stderr should name {}: {}",
            bad.display(),
            r.stderr
        );
    }
    let report = json_report(&r);
    assert_eq!(event_parts(&report), event_parts(&baseline));
    assert_eq!(report["files_read"], 2, "{report:#}");
    assert_eq!(report["skipped"]["files_failed"], 2, "{report:#}");
    assert_eq!(report["skipped"]["not_log_files"], 1, "{report:#}");
    assert!(
        r.stderr.contains("2 file(s) could not be read"),
        "{}",
        r.stderr
    );
}

/// A gzip file whose 8-byte trailer claims an inflated size of 1 GiB.
fn lying_gzip() -> Vec<u8> {
    let mut bytes = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    bytes.extend_from_slice(b"not deflate data");
    bytes.extend_from_slice(&0u32.to_le_bytes()); // CRC-32
    bytes.extend_from_slice(&(1u32 << 30).to_le_bytes()); // ISIZE
    bytes
}

#[cfg(target_os = "linux")]
#[test]
fn lying_gzip_trailer_does_not_cost_a_gigabyte() {
    // A 30-byte file must not make kmstop allocate what its trailer
    // claims before a single byte has inflated. Under a 512 MiB address
    // space limit (a small container, or several such files on several
    // threads), that allocation aborts the whole run and the good files'
    // report is lost with it.
    let dir = tempfile::tempdir().expect("tempdir");
    write_good_files(dir.path());
    let liar = dir.path().join("liar.json.gz");
    fs::write(&liar, lying_gzip()).expect("write");
    let bin = assert_cmd::cargo::cargo_bin!("kmstop");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 524288 && exec \"$0\" report --threads 1 --format json --source \"$1\"")
        .arg(bin)
        .arg(dir.path())
        .output()
        .expect("sh runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains(path_str(&liar)) && stderr.contains("gzip"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["events"], 4);
    assert_eq!(report["skipped"]["files_failed"], 1);
}

// ---------------------------------------------------------------------------
// Other inputs.

#[test]
fn stdin_reads_a_records_document() {
    let doc = records_doc(&[
        record("s-1", "Decrypt", "carol", "2025-05-20T10:00:00Z"),
        record("s-2", "Decrypt", "carol", "2025-05-20T10:01:00Z"),
        record("s-3", "Encrypt", "dave", "2025-05-20T10:02:00Z"),
    ]);
    let r = run(&["--source", "-", "--format", "json"], Some(&doc));
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let report = json_report(&r);
    assert_eq!(report["events"], 3);
    assert_eq!(report["files_read"], 1);
    assert_eq!(
        report["principals"][0]["principal"],
        "arn:aws:iam::111122223333:user/carol"
    );
    assert_eq!(report["principals"][0]["decrypt"], 2);
}

#[test]
fn stdin_with_garbage_exits_1_naming_stdin() {
    let r = run(&["--source", "-"], Some("this is not a log\n"));
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(r.stderr.contains("kmstop: <stdin>: "), "{}", r.stderr);
}

#[test]
fn json_lines_with_one_broken_line_counts_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    let lines = [
        serde_json::to_string(&record("j-1", "Decrypt", "erin", "2025-05-20T10:00:00Z"))
            .expect("json"),
        serde_json::to_string(&record("j-2", "Decrypt", "erin", "2025-05-20T10:01:00Z"))
            .expect("json"),
        "{\"eventSource\":\"kms.amazonaws.com\",\"eventName\":".to_owned(),
        serde_json::to_string(&record("j-4", "Encrypt", "erin", "2025-05-20T10:03:00Z"))
            .expect("json"),
    ];
    fs::write(&path, lines.join("\n") + "\n").expect("write");
    let r = run(&["--source", path_str(&path), "--format", "json"], None);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let report = json_report(&r);
    assert_eq!(report["events"], 3, "{report:#}");
    assert_eq!(report["skipped"]["malformed"], 1, "{report:#}");
    let warning = r
        .stderr
        .lines()
        .find(|l| l.contains("warning"))
        .unwrap_or_else(|| panic!("no warning: {}", r.stderr));
    assert!(warning.contains(path_str(&path)), "{warning}");
    assert!(warning.contains("line 3"), "{warning}");
}

/// Durations and ages past a century are refused by the parser, naming the
/// flag, never a panic from time arithmetic.
#[test]
fn huge_durations_are_usage_errors() {
    for args in [
        &["report", "--source", "-", "--since", "99999999d"][..],
        &["report", "--source", "-", "--until", "9999999w"][..],
        &["tail", "--backfill", "99999999d"][..],
        &["tail", "--poll-interval", "99999999999999s"][..],
        &["--backfill", "99999999d"][..],
    ] {
        let out = cargo_bin_cmd!("kmstop")
            .args(args)
            .env("KMSTOP_CONFIG_DIR", "/nonexistent-kmstop-test")
            .write_stdin("")
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("at most 36500d"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A FIFO (or device) given as a source is refused with a message, not
/// opened: opening a FIFO waits for a writer forever.
#[test]
fn a_fifo_source_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("events.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    let out = cargo_bin_cmd!("kmstop")
        .args(["report", "--format", "json", "--source"])
        .arg(&fifo)
        .timeout(std::time::Duration::from_mins(1))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    // The same for a rules file.
    let out = cargo_bin_cmd!("kmstop")
        .args(["rules", "--check"])
        .arg(&fifo)
        .timeout(std::time::Duration::from_mins(1))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        out.status.code().is_some(),
        "killed by the timeout: {stderr}"
    );
    assert!(stderr.contains("not a regular file"), "{stderr}");
}
