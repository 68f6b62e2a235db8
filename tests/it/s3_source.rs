//! `kmstop report --source s3://…` (the binary) against moto's S3: the
//! project's generated corpus is uploaded through the SDK, in the account
//! trail and the organization trail layouts, and the report must equal
//! the report over the same files on disk; a narrow question must list
//! only the folders it needs (counted in moto's request log); broken
//! objects and a missing bucket are named, counted, and the rest reported.

use crate::support;

use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use kmstop::synth::{CorpusSpec, write_corpus};
use serde_json::Value;

use support::moto::Moto;
use support::{json_of, kmstop_report};

const ORG: &str = "o-exampleorg1";

pub(super) fn s3(endpoint: &str) -> Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new("x", "x", None, None, "test"))
        .build();
    Client::from_conf(conf)
}

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Makes `bucket` and puts `files` (key, bytes) in it.
pub(super) fn upload(client: &Client, bucket: &str, files: &[(String, Vec<u8>)]) {
    runtime().block_on(async {
        client
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("CreateBucket");
        for (key, bytes) in files {
            client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(bytes.clone()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
        }
    });
}

/// Every file under `root/AWSLogs`, keyed as a trail writes it, with
/// `org` put after `AWSLogs/` for an organization trail.
fn trail_files(root: &Path, org: Option<&str>) -> Vec<(String, Vec<u8>)> {
    support::files_under(&root.join("AWSLogs"))
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(root.join("AWSLogs"))
                .expect("under AWSLogs")
                .to_string_lossy()
                .into_owned();
            let key = match org {
                Some(org) => format!("AWSLogs/{org}/{rel}"),
                None => format!("AWSLogs/{rel}"),
            };
            (key, std::fs::read(&path).expect("read corpus file"))
        })
        .collect()
}

/// The local report as S3 should give it: digest files are not listed
/// in S3, so they are neither read nor counted there.
fn without_digests(mut local: Value) -> Value {
    let digests = local["skipped"]["digest_files"].as_u64().expect("count");
    let read = local["files_read"].as_u64().expect("count");
    local["files_read"] = Value::from(read - digests);
    local["skipped"]["digest_files"] = Value::from(0);
    local
}

struct Corpus {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn corpus(seed: u64) -> Corpus {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("corpus");
    let expected = write_corpus(&root, &CorpusSpec::small(seed)).expect("corpus written");
    assert!(expected.digest_files > 0 && expected.duplicate_records > 0);
    Corpus { _dir: dir, root }
}

fn requests(moto: &Moto, what: &str) -> usize {
    moto.log().lines().filter(|l| l.contains(what)).count()
}

/// The read-only allow-list for S3: `HeadBucket` (the bucket's region),
/// `ListObjectsV2` and `GetObject` — what `s3:ListBucket` and
/// `s3:GetObject` allow — and nothing else, in every request moto logged
/// from line `from` on.
fn assert_only_reads(moto: &Moto, from: usize) {
    let allowed = regex::Regex::new(
        r#""(HEAD /[^/ ?]+/|GET /[^/ ?]+/?\?list-type=2[^ ]*|GET /[^/ ?]+/[^ ?]+\?x-id=GetObject) HTTP/1\.1""#,
    )
    .expect("regex");
    let log = moto.log();
    let requests: Vec<&str> = log
        .lines()
        .skip(from)
        .filter(|l| l.contains("HTTP/1.1\""))
        .collect();
    assert!(!requests.is_empty(), "no requests logged:\n{log}");
    for line in requests {
        assert!(
            allowed.is_match(line),
            "not on the read-only allow-list: {line}"
        );
    }
}

#[test]
fn the_s3_report_equals_the_local_one_for_account_and_organization_trails() {
    let moto = Moto::start();
    let corpus = corpus(11);
    let client = s3(&moto.endpoint);
    upload(&client, "account-trail", &trail_files(&corpus.root, None));
    upload(&client, "org-trail", &trail_files(&corpus.root, Some(ORG)));
    let home = tempfile::tempdir().expect("home");
    let local_dir = corpus.root.join("AWSLogs");
    let local = kmstop_report(
        home.path(),
        &["--source", &local_dir.to_string_lossy(), "--format", "json"],
    );
    assert!(local.status.success(), "{local:?}");
    let want = without_digests(json_of(&local));
    assert!(want["events"].as_u64() > Some(1000), "{want}");
    let uploaded = moto.log().lines().count();
    assert!(!want["alerts"].as_array().expect("alerts").is_empty());
    for source in ["s3://account-trail", "s3://org-trail/"] {
        let out = kmstop_report(
            home.path(),
            &[
                "--source",
                source,
                "--format",
                "json",
                "--endpoint-url",
                &moto.endpoint,
                "--threads",
                "2",
            ],
        );
        assert!(
            out.status.success(),
            "{source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json_of(&out), want, "{source}");
    }
    assert_only_reads(&moto, uploaded);
}

#[test]
fn a_narrow_question_lists_only_the_folders_it_needs() {
    let moto = Moto::start();
    let corpus = corpus(12);
    let client = s3(&moto.endpoint);
    let files = trail_files(&corpus.root, Some(ORG));
    upload(&client, "org-trail", &files);
    let home = tempfile::tempdir().expect("home");
    let (account, region) = ("111122223333", "eu-west-1");
    // Half an hour in the middle of the corpus's two hours.
    let window = [
        "--since",
        "2025-05-20T01:00:00Z",
        "--until",
        "2025-05-20T01:30:00Z",
    ];
    let lists_before = requests(&moto, "list-type=2");
    let gets_before = requests(&moto, "\"GET /org-trail/AWSLogs/");
    let mut args = vec![
        "--source",
        "s3://org-trail",
        "--account",
        account,
        "--region",
        region,
        "--format",
        "json",
        "--endpoint-url",
        &moto.endpoint,
    ];
    args.extend(window);
    let out = kmstop_report(home.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The bucket's root and AWSLogs/ (to find the organization), then the
    // named account's named region: the window's day and the day after
    // (late files), nothing else.
    let lists = requests(&moto, "list-type=2") - lists_before;
    assert_eq!(lists, 4, "ListObjectsV2 requests:\n{}", moto.log());
    // Only that account's and region's files delivered from 5 min before
    // --since: neither the other account's nor the earlier hour's.
    let wanted = files
        .iter()
        .filter(|(key, _)| {
            let name = key.rsplit('/').next().unwrap_or_default();
            key.contains(&format!("/{account}/CloudTrail/{region}/"))
                && name
                    .split('_')
                    .nth(3)
                    .is_some_and(|stamp| stamp >= "20250520T0055Z")
        })
        .count();
    let gets = requests(&moto, "\"GET /org-trail/AWSLogs/") - gets_before;
    assert!(
        wanted > 0 && wanted < files.len() / 4,
        "{wanted} of {}",
        files.len()
    );
    assert_eq!(gets, wanted, "GetObject requests");
    // The same answer as the local files of that account and region.
    let local_dir = corpus
        .root
        .join(format!("AWSLogs/{account}/CloudTrail/{region}"));
    let mut local_args = vec![
        "--source",
        local_dir.to_str().expect("utf-8"),
        "--format",
        "json",
    ];
    local_args.extend(window);
    let local = json_of(&kmstop_report(home.path(), &local_args));
    let got = json_of(&out);
    for field in [
        "events",
        "denied",
        "errors",
        "from",
        "to",
        "principals",
        "keys",
        "event_names",
        "control_plane",
        "alerts",
    ] {
        assert_eq!(got[field], local[field], "{field}");
    }
    assert!(got["events"].as_u64() > Some(10), "{got}");
}

#[test]
fn broken_objects_and_a_missing_bucket_are_named_counted_and_the_rest_reported() {
    let moto = Moto::start();
    let corpus = corpus(13);
    let client = s3(&moto.endpoint);
    let mut files = trail_files(&corpus.root, None);
    let folder = "AWSLogs/111122223333/CloudTrail/us-east-1/2025/05/20";
    let good = files
        .iter()
        .find(|(key, _)| key.ends_with(".json.gz") && key.contains("/CloudTrail/"))
        .map(|(_, bytes)| bytes.clone())
        .expect("a gzip log");
    let not_gzip = format!("{folder}/111122223333_CloudTrail_us-east-1_20250520T0101Z_bad.json.gz");
    let truncated =
        format!("{folder}/111122223333_CloudTrail_us-east-1_20250520T0102Z_short.json.gz");
    files.push((not_gzip.clone(), b"\x1b[2J not gzip at all".to_vec()));
    files.push((truncated.clone(), good[..good.len() / 2].to_vec()));
    upload(&client, "trail", &files);
    let home = tempfile::tempdir().expect("home");

    let local_dir = corpus.root.join("AWSLogs");
    let local = without_digests(json_of(&kmstop_report(
        home.path(),
        &[
            "--source",
            local_dir.to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    )));
    let out = kmstop_report(
        home.path(),
        &[
            "--source",
            "s3://trail",
            "s3://no-such-bucket/AWSLogs",
            "--format",
            "json",
            "--endpoint-url",
            &moto.endpoint,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let got = json_of(&out);
    assert_eq!(got["skipped"]["files_failed"], 2, "{stderr}");
    assert_eq!(got["skipped"]["prefixes_failed"], 1, "{stderr}");
    for field in ["events", "principals", "keys", "alerts", "control_plane"] {
        assert_eq!(got[field], local[field], "{field}");
    }
    assert!(
        stderr.contains(&format!("s3://trail/{not_gzip}: not a CloudTrail log")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("s3://trail/{truncated}: ")),
        "{stderr}"
    );
    assert!(
        stderr.contains("s3://no-such-bucket/AWSLogs/: bucket no-such-bucket does not exist"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "escaped: {stderr}");

    // The table says the report is incomplete.
    let table = kmstop_report(
        home.path(),
        &[
            "--source",
            "s3://trail",
            "s3://no-such-bucket",
            "--endpoint-url",
            &moto.endpoint,
        ],
    );
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("INCOMPLETE: 1 S3 bucket(s), folder(s) or log group(s)"),
        "{text}"
    );

    // Nothing listable at all: no report, exit 1.
    let none = kmstop_report(
        home.path(),
        &[
            "--source",
            "s3://no-such-bucket",
            "--endpoint-url",
            &moto.endpoint,
        ],
    );
    assert_eq!(none.status.code(), Some(1));
    assert!(none.stdout.is_empty(), "{none:?}");
}

#[test]
fn bad_s3_flags_are_usage_errors_naming_the_flag() {
    let home = tempfile::tempdir().expect("home");
    let cases: [(&[&str], &str); 3] = [
        (&["--source", "s3://a b"], "--source s3://a b"),
        (
            &["--source", "s3://trail", "--account", "12345"],
            "--account 12345",
        ),
        (
            &["--source", "/tmp", "--account", "111122223333"],
            "--account",
        ),
    ];
    for (args, says) in cases {
        let out = kmstop_report(home.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The dashboard on a bucket, in tmux: it counts what `report` counts over
/// the same files, and a missing bucket shows as a failure, not silence.
#[test]
fn the_dashboard_reads_a_bucket_and_says_what_failed() {
    let moto = Moto::start();
    let corpus = corpus(14);
    let client = s3(&moto.endpoint);
    upload(&client, "trail", &trail_files(&corpus.root, None));
    let home = tempfile::tempdir().expect("home");
    let local_dir = corpus
        .root
        .join("AWSLogs/111122223333/CloudTrail/us-east-1");
    let local = json_of(&kmstop_report(
        home.path(),
        &[
            "--source",
            local_dir.to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    ));
    let events = local["events"].as_u64().expect("events");
    let tmux = support::tmux::Tmux::new("s3-dashboard");
    let dir = home.path();
    let exit = dir.join("exit");
    // The corpus is from 2025-05-20: a backfill reaching back past it.
    let cmd = format!(
        "cd {dir} && env -i HOME={dir} PATH=/usr/bin:/bin TERM=xterm-256color AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_EC2_METADATA_DISABLED=true KMSTOP_CONFIG_DIR={dir}/config {bin} --source s3://trail s3://no-such-bucket --account 111122223333 --region us-east-1 --backfill 1000d --endpoint-url {endpoint}; echo $? > {exit}",
        dir = dir.display(),
        bin = env!("CARGO_BIN_EXE_kmstop"),
        endpoint = moto.endpoint,
        exit = exit.display(),
    );
    tmux.start(160, 40, &cmd);
    let screen = tmux.wait("every object read", |s| s.contains("file(s) read"));
    assert!(
        screen.contains(&format!("events {events} ")),
        "report counts {events}: {screen}"
    );
    assert!(screen.contains("1 failed"), "{screen}");
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_file(&exit), "0");
}
