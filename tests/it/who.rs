//! `--who` / `--access-key`: the report through the binary: one credential's
//! calls across accounts, regions and keys, in time order, with what was
//! left out said in every format — and the selection agrees with the
//! whole report it narrows.

use crate::support;

use serde_json::{Value, json};
use support::{json_of, kmstop_report};

const LEAKED: &str = "AKIALEAKEDEXAMPLE234";
const KEY_A: &str = "arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-0000-0000-000000000001";
const KEY_FOREIGN: &str =
    "arn:aws:kms:eu-west-1:444455556666:key/bbbbbbbb-0000-0000-0000-000000000002";

fn call(id: &str, time: &str, name: &str, akid: &str, ip: &str, key: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "eventTime": time,
        "eventID": id,
        "awsRegion": key.split(':').nth(3).unwrap_or("us-east-1"),
        "recipientAccountId": "111122223333",
        "readOnly": true,
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/ci-deployer",
            "accountId": "111122223333",
            "accessKeyId": akid,
            "userName": "ci-deployer"
        },
        "requestParameters": { "keyId": key },
        "resources": [{ "ARN": key, "type": "AWS::KMS::Key", "accountId": key.split(':').nth(4) }],
    })
}

/// Two files: the leaked key's calls (one denied, one on another
/// account's key, one copy delivered twice) among a colleague's.
fn logs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    let mut denied = call(
        "e3",
        "2025-05-20T10:05:00Z",
        "Decrypt",
        LEAKED,
        "198.51.100.7",
        KEY_A,
    );
    denied["errorCode"] = json!("AccessDenied");
    let first = vec![
        call(
            "e2",
            "2025-05-20T10:02:00Z",
            "Decrypt",
            LEAKED,
            "198.51.100.7",
            KEY_A,
        ),
        call(
            "o1",
            "2025-05-20T10:03:00Z",
            "Decrypt",
            "AKIAOTHERKEYEXAMPLE1",
            "203.0.113.9",
            KEY_A,
        ),
        denied,
    ];
    let second = vec![
        call(
            "e1",
            "2025-05-20T10:01:00Z",
            "GenerateDataKey",
            LEAKED,
            "198.51.100.7",
            KEY_A,
        ),
        // The same event again (trails deliver copies).
        call(
            "e2",
            "2025-05-20T10:02:00Z",
            "Decrypt",
            LEAKED,
            "198.51.100.7",
            KEY_A,
        ),
        call(
            "e4",
            "2025-05-20T10:09:00Z",
            "Decrypt",
            LEAKED,
            "198.51.100.8",
            KEY_FOREIGN,
        ),
        call(
            "o2",
            "2025-05-20T10:10:00Z",
            "Encrypt",
            "AKIAOTHERKEYEXAMPLE1",
            "203.0.113.9",
            KEY_A,
        ),
    ];
    for (name, records) in [("a.json", first), ("b.json", second)] {
        std::fs::write(
            dir.path().join(name),
            json!({ "Records": records }).to_string(),
        )
        .expect("log file");
    }
    dir
}

fn report(dir: &tempfile::TempDir, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().expect("home");
    let mut all = vec!["--source", dir.path().to_str().expect("utf-8")];
    all.extend_from_slice(args);
    kmstop_report(home.path(), &all)
}

#[test]
fn a_leaked_keys_calls_are_listed_in_time_order_across_accounts() {
    let dir = logs();
    let out = report(&dir, &["--access-key", LEAKED, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json_of(&out);
    assert_eq!(r["events"], 4, "the leaked key's four distinct calls");
    assert_eq!(r["denied"], 1);
    let who = &r["who"];
    assert_eq!(who["selectors"], json!([format!("akid:{LEAKED}")]));
    assert_eq!(who["other_events"], 2, "the colleague's two calls");
    assert_eq!(who["calls_not_listed"], 0);
    let calls = who["calls"].as_array().expect("calls");
    let ids: Vec<&str> = calls
        .iter()
        .filter_map(|c| c["event_id"].as_str())
        .collect();
    assert_eq!(ids, ["e1", "e2", "e3", "e4"], "earliest first");
    assert_eq!(calls[2]["outcome"], "denied");
    assert_eq!(calls[2]["error_code"], "AccessDenied");
    assert_eq!(
        calls[3]["key_account"], "444455556666",
        "another account's key"
    );
    assert_eq!(calls[3]["region"], "eu-west-1");
    assert_eq!(calls[3]["source_ip"], "198.51.100.8");
    assert_eq!(calls[0]["access_key_id"], LEAKED);
    // The counts below the selection are the selection's.
    assert_eq!(r["keys"].as_array().map(Vec::len), Some(2));
    assert_eq!(r["principals"][0]["events"], 4);
}

#[test]
fn selectors_combine_and_networks_select_by_prefix() {
    let dir = logs();
    let events = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = report(&dir, &all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out)["events"].as_u64().expect("events")
    };
    assert_eq!(events(&["--who", "ip:198.51.100.0/24"]), 4);
    assert_eq!(events(&["--who", "198.51.100.7"]), 3);
    assert_eq!(
        events(&["--who", "ip:203.0.113.9", "--who", "ip:198.51.100.8"]),
        3
    );
    assert_eq!(events(&["--who", "principal:user/ci-deployer"]), 6);
    assert_eq!(events(&["--who", "principal:ci-deployer"]), 6);
    assert_eq!(events(&["--who", "session:nobody"]), 0);
    // Without a selector the report is the whole and has no `who`.
    let home = tempfile::tempdir().expect("home");
    let whole = json_of(&kmstop_report(
        home.path(),
        &[
            "--source",
            dir.path().to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    ));
    assert_eq!(whole["events"], 6);
    assert!(whole.get("who").is_none());
}

#[test]
fn every_format_says_the_report_is_a_selection() {
    let dir = logs();
    let table = report(&dir, &["--access-key", LEAKED]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(&format!(
            "ONLY the calls of akid:{LEAKED}: 2 other KMS event(s)"
        )),
        "{text}"
    );
    assert!(text.contains("CALLS (4, in time order)"), "{text}");

    let cut = report(&dir, &["--access-key", LEAKED, "--top", "2"]);
    let text = String::from_utf8_lossy(&cut.stdout);
    assert!(
        text.contains("CALLS (first 2 of 4, in time order"),
        "{text}"
    );

    let csv = report(
        &dir,
        &[
            "--access-key",
            LEAKED,
            "--format",
            "csv",
            "--section",
            "calls",
        ],
    );
    let csv = String::from_utf8_lossy(&csv.stdout);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("time,event_name,outcome")),
        "{csv}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows[3].contains("444455556666"), "{csv}");

    for format in ["md", "html"] {
        let out = report(&dir, &["--access-key", LEAKED, "--format", format]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Selection:"), "{format}: {text}");
        assert!(text.contains("Calls of the selection"), "{format}: {text}");
        assert!(text.contains("e4"), "{format}: {text}");
    }
}

#[test]
fn bad_selectors_are_refused_by_name_and_athena_takes_good_ones() {
    let dir = logs();
    for (args, says) in [
        (vec!["--who", "orders"], "--who"),
        (vec!["--who", "user:alice"], "unknown selector kind"),
        (vec!["--who", "ip:10.0.0.0/40"], "not an address or network"),
        (vec!["--access-key", "AKIA-NOT-A-KEY"], "--access-key"),
    ] {
        let out = report(&dir, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // Pushed down to Athena: the selection is part of the one query
    // (tests/it/athena_who.rs runs it).
    let home = tempfile::tempdir().expect("home");
    let out = kmstop_report(
        home.path(),
        &[
            "--source",
            "athena://db/trail",
            "--since",
            "1d",
            "--access-key",
            LEAKED,
            "--dry-run",
        ],
    );
    let sql = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        sql.contains(&format!("= '{}'", LEAKED.to_ascii_lowercase())),
        "{sql}"
    );
    assert!(sql.contains("THEN 'other'"), "{sql}");
}

/// An access key id IAM could not have issued (a wrong prefix, a wrong
/// length, a character outside base32's A-Z and 2-7) is a usage error
/// naming the flag and the value, in `report`, `tail` and the dashboard,
/// before anything is read; a real one in lower case is taken.
#[test]
fn access_key_ids_iam_could_not_issue_are_refused_by_every_command() {
    let dir = logs();
    let home = tempfile::tempdir().expect("home");
    let source = dir.path().to_str().expect("utf-8");
    for bad in [
        "AKIALEAKEDEXAMPLE001",
        "AKIALEAKEDEXAMPLE23",
        "AKIALEAKEDEXAMPLE2345",
        "AIDALEAKEDEXAMPLE234",
        "ASIA-LEAKED-EXAMPLE2",
    ] {
        for (command, flag, value) in [
            (
                vec!["report", "--source", source],
                "--who",
                format!("akid:{bad}"),
            ),
            (
                vec!["report", "--source", source],
                "--access-key",
                bad.to_owned(),
            ),
            (
                vec!["tail", "--region", "us-east-1"],
                "--who",
                format!("akid:{bad}"),
            ),
            (vec!["--source", source], "--who", format!("akid:{bad}")),
            (vec!["--source", source], "--access-key", bad.to_owned()),
        ] {
            let out = support::kmstop_offline(home.path())
                .args(&command)
                .args([flag, value.as_str()])
                .timeout(std::time::Duration::from_mins(1))
                .output()
                .expect("kmstop runs");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{command:?} {flag} {value}: {err}"
            );
            assert!(
                err.contains(flag) && err.contains(bad) && err.contains("not an access key id"),
                "{command:?} {flag} {value}: {err}"
            );
        }
    }
    let lower = LEAKED.to_ascii_lowercase();
    let out = report(
        &dir,
        &["--who", &format!("akid:{lower}"), "--format", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json_of(&out)["who"]["selectors"],
        json!([format!("akid:{LEAKED}")])
    );
}

/// On the real AWS documentation records: the calls signed with the docs'
/// example key are exactly those `serde_json` finds with it.
#[test]
fn the_selection_on_real_records_equals_a_plain_reading() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cloudtrail/awsdocs_aws-kms-developer-guide.json");
    let text = std::fs::read_to_string(&fixture).expect("fixture");
    let doc: Value = serde_json::from_str(&text).expect("json");
    let mut expected: Vec<String> = doc["Records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["eventSource"] == "kms.amazonaws.com")
        .filter(|r| r["userIdentity"]["accessKeyId"] == "AKIAIOSFODNN7EXAMPLE")
        .filter_map(|r| r["eventID"].as_str().map(str::to_owned))
        .collect();
    expected.sort();
    expected.dedup();
    assert!(!expected.is_empty(), "the fixture holds such calls");
    let home = tempfile::tempdir().expect("home");
    let out = kmstop_report(
        home.path(),
        &[
            "--source",
            fixture.to_str().expect("utf-8"),
            "--access-key",
            "AKIAIOSFODNN7EXAMPLE",
            "--format",
            "json",
        ],
    );
    let r = json_of(&out);
    let mut got: Vec<String> = r["who"]["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter_map(|c| c["event_id"].as_str().map(str::to_owned))
        .collect();
    got.sort();
    assert_eq!(got, expected);
}

/// Over a generated corpus (copies, late files, every principal type), a
/// principal's selection is that principal's row of the whole report,
/// and what it leaves out is the rest — for any number of reader threads.
#[test]
fn a_selection_is_its_row_of_the_whole_report() {
    use kmstop::report::{ReportSettings, build_report};
    use kmstop::source::files::{Listed, discover};
    use kmstop::synth::{CorpusSpec, write_corpus};
    use kmstop::who::{Selector, Who};

    let dir = tempfile::tempdir().expect("tempdir");
    write_corpus(dir.path(), &CorpusSpec::small(7)).expect("corpus written");
    let inputs = discover(&[dir.path().to_path_buf()]).expect("discover");
    let run = |who: Who, threads: usize| {
        let settings = ReportSettings {
            who,
            ..ReportSettings::new(threads)
        };
        build_report(&Listed::new(&inputs), &settings, &|_| {})
            .expect("rules compile")
            .0
    };
    let whole = run(Who::default(), 2);
    assert!(whole.principals.len() >= 3, "a corpus with several callers");
    for row in whole.principals.iter().take(3) {
        let who = Who::new(vec![Selector::Principal(row.principal.clone())]);
        for threads in [1, 3] {
            let part = run(who.clone(), threads);
            assert_eq!(part.events, row.events, "{}", row.principal);
            assert_eq!(part.principals.len(), 1, "{}", row.principal);
            assert_eq!(part.principals[0], *row);
            let selected = part.who.as_ref().expect("who");
            assert_eq!(selected.other_events, whole.events - row.events);
            assert_eq!(selected.calls.len() as u64, row.events);
            assert!(
                selected.calls.windows(2).all(|w| w[0].time <= w[1].time),
                "time order"
            );
            assert_eq!(part.skipped, whole.skipped);
        }
    }
}

/// The dashboard with `--who`: every pane counts only the selection, and
/// the header says so with how much it leaves out.
#[test]
fn the_dashboard_says_it_shows_a_selection() {
    use kmstop::app::{App, Data, DataConfig, Mode};
    use ratatui::{Terminal, backend::TestBackend};

    let mut config = DataConfig::files();
    config.store.who = kmstop::who::Who::new(vec![
        kmstop::who::Selector::parse("ip:203.0.113.0/24").expect("selector"),
    ]);
    let data = Data::new(&config, kmstop::alert::builtin::rules()).expect("rules compile");
    let mut app = App::new(
        data,
        Mode::Files(vec!["./logs".to_owned()]),
        support::story::start() + chrono::Duration::hours(3),
    );
    let records = support::story::records();
    let attacker = records
        .iter()
        .filter(|r| r["sourceIPAddress"] == "203.0.113.9")
        .count();
    assert!(attacker > 0 && attacker < records.len());
    app.data
        .ingest(records.iter().map(support::pack).collect(), None);
    app.data.finish_files();
    app.refresh();
    assert_eq!(app.data.events_seen, attacker as u64);
    let mut terminal = Terminal::new(TestBackend::new(160, 40)).expect("terminal");
    terminal
        .draw(|f| {
            let _ = kmstop::ui::draw(f, &app, &kmstop::ui::theme::Theme::default());
        })
        .expect("draws");
    let text = support::text(terminal.backend().buffer());
    let said = format!(
        "only ip:203.0.113.0/24 ({} other left out)",
        records.len() - attacker
    );
    assert!(text.contains(&said), "{said}\n{text}");
}
