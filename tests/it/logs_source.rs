//! `kmstop report --source logs://…` (the binary) against moto's
//! CloudWatch Logs: every record of the project's generated corpus is put
//! in a log group as CloudTrail delivers a trail there (one record per log
//! event, a stream per account and region), and the report must equal the
//! report over the same files on disk; a missing group is named, counted,
//! and the rest reported.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use kmstop::synth::{CorpusSpec, write_corpus};
use serde_json::Value;
use serde_json::value::RawValue;

use support::moto::Moto;
use support::{json_of, kmstop_report};

const GROUP: &str = "aws-cloudtrail-logs-111122223333-trail";

fn logs(endpoint: &str) -> Client {
    let conf = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("x", "x", None, None, "test"))
        .build();
    Client::from_conf(conf)
}

/// Every record of every log file under `root`, as CloudTrail sends a
/// trail to CloudWatch Logs: by stream (`ACCOUNT_CloudTrail_REGION`), each
/// record's own text as one message stamped with its `eventTime`. Digest
/// files are not trail records and are left out.
fn records_by_stream(root: &Path) -> BTreeMap<String, Vec<(i64, String)>> {
    #[derive(serde::Deserialize)]
    struct LogFile<'a> {
        #[serde(rename = "Records", borrow)]
        records: Vec<&'a RawValue>,
    }
    let mut streams: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for path in support::files_under(root) {
        let name = path.to_string_lossy().into_owned();
        if name.contains("CloudTrail-Digest") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read corpus file");
        let text = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
                &mut out,
            )
            .expect("corpus gzip");
            out
        } else {
            String::from_utf8(bytes).expect("corpus utf-8")
        };
        let file: LogFile = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}: not a CloudTrail log file: {e}"));
        for record in file.records {
            let value: Value = serde_json::from_str(record.get()).unwrap_or(Value::Null);
            let field = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or("unknown");
            let stream = format!(
                "{}_CloudTrail_{}",
                field("recipientAccountId"),
                field("awsRegion")
            );
            let at = chrono::DateTime::parse_from_rfc3339(field("eventTime"))
                .map_or(0, |t| t.timestamp_millis());
            streams
                .entry(stream)
                .or_default()
                .push((at, record.get().to_string()));
        }
    }
    streams
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Makes the group and its streams and puts every record in, in time
/// order as `PutLogEvents` wants them.
fn upload(client: &Client, streams: BTreeMap<String, Vec<(i64, String)>>) {
    runtime().block_on(async {
        client
            .create_log_group()
            .log_group_name(GROUP)
            .send()
            .await
            .expect("CreateLogGroup");
        for (stream, mut events) in streams {
            client
                .create_log_stream()
                .log_group_name(GROUP)
                .log_stream_name(&stream)
                .send()
                .await
                .expect("CreateLogStream");
            events.sort_by_key(|(at, _)| *at);
            for batch in events.chunks(500) {
                let batch = batch
                    .iter()
                    .map(|(at, message)| {
                        InputLogEvent::builder()
                            .timestamp(*at)
                            .message(message)
                            .build()
                            .expect("log event")
                    })
                    .collect();
                client
                    .put_log_events()
                    .log_group_name(GROUP)
                    .log_stream_name(&stream)
                    .set_log_events(Some(batch))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("PutLogEvents {stream}: {e:?}"));
            }
        }
    });
}

/// What differs by nature between files and a log group: what the inputs
/// were (files and digests against pages of log events).
fn without_inputs(mut report: Value) -> Value {
    assert!(
        report["files_read"].as_u64() > Some(0),
        "inputs read: {report}"
    );
    report["files_read"] = Value::Null;
    report["skipped"]["digest_files"] = Value::Null;
    report["skipped"]["not_log_files"] = Value::Null;
    report
}

struct Setup {
    moto: Moto,
    start: chrono::DateTime<chrono::Utc>,
    _corpus: tempfile::TempDir,
    local_dir: std::path::PathBuf,
    home: tempfile::TempDir,
}

fn setup(seed: u64) -> Setup {
    let moto = Moto::start();
    let corpus = tempfile::tempdir().expect("tempdir");
    let root = corpus.path().join("corpus");
    // CloudWatch Logs (and moto) refuse log events older than 14 days:
    // the corpus is of the last hours, by the real clock moto keeps.
    #[allow(clippy::disallowed_methods)]
    let now = chrono::Utc::now();
    let start =
        now - chrono::Duration::hours(4) - chrono::Duration::seconds(now.timestamp() % 3600);
    let spec = CorpusSpec {
        start,
        ..CorpusSpec::small(seed)
    };
    let expected = write_corpus(&root, &spec).expect("corpus written");
    assert!(
        expected.duplicate_records > 0,
        "the corpus has copies to fold"
    );
    let local_dir = root.join("AWSLogs");
    upload(&logs(&moto.endpoint), records_by_stream(&local_dir));
    Setup {
        moto,
        start,
        _corpus: corpus,
        local_dir,
        home: tempfile::tempdir().expect("home"),
    }
}

#[test]
fn the_log_group_report_equals_the_local_one() {
    let s = setup(21);
    let local_dir = s.local_dir.to_string_lossy().into_owned();
    let source = format!("logs://{GROUP}");
    let since = (s.start + chrono::Duration::minutes(30)).to_rfc3339();
    let until = (s.start + chrono::Duration::minutes(70)).to_rfc3339();
    let windows: [&[&str]; 2] = [&[], &["--since", &since, "--until", &until]];
    for window in windows {
        let local = kmstop_report(
            s.home.path(),
            &[&["--source", &local_dir, "--format", "json"], window].concat(),
        );
        assert!(local.status.success(), "{local:?}");
        let want = without_inputs(json_of(&local));
        assert!(want["events"].as_u64() > Some(100), "{want}");
        assert!(!want["alerts"].as_array().expect("alerts").is_empty());
        let args = [
            &[
                "--source",
                &source,
                "--format",
                "json",
                "--endpoint-url",
                &s.moto.endpoint,
                "--threads",
                "2",
            ],
            window,
        ]
        .concat();
        let out = kmstop_report(s.home.path(), &args);
        assert!(
            out.status.success(),
            "{window:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut got = without_inputs(json_of(&out));
        let mut want = want;
        if !window.is_empty() {
            // Only the window's minutes are searched: what lies outside
            // is neither read nor counted as set aside.
            assert!(
                got["skipped"]["out_of_range"].as_u64() < want["skipped"]["out_of_range"].as_u64()
            );
            for report in [&mut got, &mut want] {
                report["skipped"]["out_of_range"] = Value::Null;
                report["skipped"]["non_kms"] = Value::Null;
            }
        }
        assert_eq!(got, want, "{window:?}");
    }
}

#[test]
fn a_missing_log_group_is_named_counted_and_the_rest_reported() {
    let s = setup(22);
    let local_dir = s.local_dir.to_string_lossy().into_owned();
    let out = kmstop_report(
        s.home.path(),
        &[
            "--source",
            &local_dir,
            "logs://no-such-group",
            "--format",
            "json",
            "--endpoint-url",
            &s.moto.endpoint,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("logs://no-such-group") && stderr.contains("does not exist"),
        "{stderr}"
    );
    let report = json_of(&out);
    assert_eq!(report["skipped"]["prefixes_failed"], 1, "{report}");
    assert!(
        report["events"].as_u64() > Some(100),
        "the files still count"
    );

    let alone = kmstop_report(
        s.home.path(),
        &[
            "--source",
            "logs://no-such-group",
            "--endpoint-url",
            &s.moto.endpoint,
        ],
    );
    let stderr = String::from_utf8_lossy(&alone.stderr);
    assert_eq!(alone.status.code(), Some(1), "{stderr}");
    assert!(alone.stdout.is_empty(), "no report from nothing");
    assert!(stderr.contains("no report"), "{stderr}");

    // A group that exists but holds nothing in the window is an answer:
    // an empty report, not an error.
    let empty = kmstop_report(
        s.home.path(),
        &[
            "--source",
            &format!("logs://{GROUP}"),
            "--since",
            "2020-01-01T00:00:00Z",
            "--until",
            "2020-01-02T00:00:00Z",
            "--format",
            "json",
            "--endpoint-url",
            &s.moto.endpoint,
        ],
    );
    let stderr = String::from_utf8_lossy(&empty.stderr);
    assert!(empty.status.success(), "{stderr}");
    assert_eq!(json_of(&empty)["events"], 0);
}

#[test]
fn bad_log_group_flags_are_usage_errors_naming_the_flag() {
    let home = tempfile::tempdir().expect("home");
    for (args, names) in [
        (&["--source", "logs://a b"][..], "--source logs://a b"),
        (&["--source", "logs://\u{1b}[2J"][..], "--source logs://"),
        (
            &["--source", "logs://arn:aws:logs:eu-west-1:12:log-group:x"][..],
            "ARN",
        ),
        (
            &["--source", "logs://trail", "--region", "eu west 1"][..],
            "--region eu west 1",
        ),
    ] {
        let out = kmstop_report(home.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(names), "{args:?}: {stderr}");
        assert!(!stderr.contains('\u{1b}'), "escaped: {stderr:?}");
    }
}
