//! `--who` pushed down to Athena: for every kind of selector, the report
//! from the Athena stand-in (kmstop's SQL read by sqlglot's Athena
//! dialect, run by DuckDB) equals the local report over the same files,
//! field for field, the calls list and what was left out included. The
//! corpus holds what the SQL must read as Rust does: access key ids in
//! either case, sessions, role paths, IPv4, IPv6 in every spelling,
//! addresses with spaces around them, hostnames and garbage where an
//! address belongs, and hostile strings in the values selected on.

use crate::support;

use std::path::Path;

use chrono::{DateTime, Utc};
use kmstop::app::{Action, App, Data, DataConfig, Mode, Pane, update};
use kmstop::athena::TableAddress;
use kmstop::athena::dashboard::DashboardQuery;
use kmstop::aws::athena::QueryPlace;
use kmstop::feed::SourceMsg;
use kmstop::run::athena_dashboard::AthenaFeed;
use kmstop::source::outbox::Outbox;
use kmstop::store::Dim;
use kmstop::who::{Selector, Who};
use serde_json::{Value, json};

use crate::athena_dashboard::{client, collect, render, same_alerts};

use support::athena::{AthenaDuck, AthenaOptions, Layout, report_json};
use support::{json_of, kmstop_report};

const ACCOUNT: &str = "111122223333";
const LEAKED: &str = "AKIALEAKEDEXAMPLE234";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-0000-0000-000000000001";
const HOSTILE_USER: &str = "it's \"quoted\" \\ back'slash";
const HOSTILE_SESSION: &str = "o'brien \\\" --";

/// Who made a call, as `userIdentity`.
fn user(name: &str, akid: &Value) -> Value {
    json!({
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        "accountId": ACCOUNT,
        "accessKeyId": akid,
    })
}

fn role(path: &str, session: &str, akid: &str) -> Value {
    let name = path.rsplit('/').next().unwrap_or(path);
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROAEXAMPLE:{session}"),
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}"),
        "accountId": ACCOUNT,
        "accessKeyId": akid,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/{path}"),
                "accountId": ACCOUNT,
            },
        },
    })
}

fn call(n: usize, identity: &Value, ip: &str) -> Value {
    let name = ["Decrypt", "GenerateDataKey", "Encrypt"][n % 3];
    json!({
        "eventVersion": "1.08",
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "eventTime": format!("2025-05-20T10:{:02}:{:02}Z", n / 60, n % 60),
        "eventID": format!("ev-{n:03}"),
        "awsRegion": "us-east-1",
        "recipientAccountId": ACCOUNT,
        "readOnly": true,
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "userIdentity": identity,
        "requestParameters": { "keyId": KEY },
        "resources": [{ "ARN": KEY, "type": "AWS::KMS::Key", "accountId": ACCOUNT }],
    })
}

/// The callers and addresses the selectors must tell apart, one call
/// each, in time order.
fn records() -> Vec<Value> {
    let leaked = || user("ci-deployer", &json!(LEAKED));
    let other = || user("colleague", &json!("AKIAOTHERKEYEXAMPLE1"));
    let orders = |session: &str, akid: &str| role("orders-api", session, akid);
    let callers: Vec<(Value, &str)> = vec![
        (leaked(), "198.51.100.7"),
        // The same key id, written in lower case by whatever exported it.
        (
            user("ci-deployer", &json!(LEAKED.to_lowercase())),
            "198.51.100.7",
        ),
        // The Kelvin sign folds to `k` by Unicode, not by ASCII.
        (
            user("ci-deployer", &json!("A\u{212a}IALEAKEDEXAMPLE001")),
            "198.51.100.8",
        ),
        (other(), "203.0.113.9"),
        (user("colleague", &json!("")), "203.0.113.10"),
        (user("colleague", &Value::Null), " 10.1.2.4\n"),
        (orders("sess-1", "ASIAORDERS0000000001"), "10.1.2.3"),
        (orders("sess-2", "ASIAORDERS0000000002"), "10.200.0.1"),
        (
            role("service/orders-api", "orders-api", "ASIAPATH000000000001"),
            "2001:db8::7",
        ),
        (
            role("app", HOSTILE_SESSION, "ASIAHOSTILE000000001"),
            "2001:DB8:0:0:1::1",
        ),
        (
            user(HOSTILE_USER, &json!("AKIAHOSTILEEXAMPLE01")),
            "::ffff:10.1.2.3",
        ),
        (
            user("a:b", &json!("AKIACOLONEXAMPLE0001")),
            "2001:db8:0:0:0:0:10.1.2.3",
        ),
        (
            json!({ "type": "AWSService", "invokedBy": "s3.amazonaws.com" }),
            "s3.amazonaws.com",
        ),
        (other(), "10.1.2.300"),
        (other(), "010.1.2.3"),
        (other(), "fe80::1%eth0"),
        (other(), "'; DROP TABLE t; --"),
        (other(), "99999999999999999.1.2.3"),
        (other(), "2001:db9::1"),
        (other(), "::"),
        (other(), ""),
        (leaked(), "2001:0db8:0000:0000:0000:0000:0000:00ff"),
        (orders("sess-1", "ASIAORDERS0000000001"), "1:2:3:4:5:6:7::"),
        (leaked(), "198.51.100.7"),
    ];
    let mut all: Vec<Value> = callers
        .iter()
        .enumerate()
        .map(|(n, (identity, ip))| call(n, identity, ip))
        .collect();
    // The last, a control-plane call of the leaked key, refused: the
    // control-plane list and the alerts see it only when it is selected.
    let deletion = all.last_mut().expect("calls");
    deletion["eventName"] = json!("ScheduleKeyDeletion");
    deletion["readOnly"] = json!(false);
    deletion["errorCode"] = json!("AccessDenied");
    all
}

/// The account trail's layout: `DIR/CloudTrail/REGION/YYYY/MM/DD/`, the
/// first records in one file and all of them again in another (copies).
fn write_trail(dir: &Path) {
    let day = dir.join("CloudTrail/us-east-1/2025/05/20");
    std::fs::create_dir_all(&day).expect("trail folders");
    let all = records();
    for (name, records) in [("1000Z_a", &all[..]), ("1005Z_b", &all[..4])] {
        let file = day.join(format!(
            "{ACCOUNT}_CloudTrail_us-east-1_20250520T{name}.json.gz"
        ));
        std::fs::write(&file, support::gzip_log(records)).expect("log file");
    }
}

/// The report over `source` (a folder or `athena://…`) with `--who` for
/// each selector.
fn report(source: &str, endpoint: &str, selectors: &[&str]) -> Value {
    let flags: Vec<&str> = selectors.iter().flat_map(|s| ["--who", s]).collect();
    report_json(source, endpoint, &flags)
}

/// The report without what only a local run can know (files) or says
/// differently by design (`not_known`): the quota, cost and resources
/// sections are compared, of the selected calls only.
fn comparable(mut report: Value) -> Value {
    let object = report.as_object_mut().expect("a report");
    object.remove("files_read");
    let skipped = object["skipped"].as_object_mut().expect("skipped");
    for field in [
        "non_kms",
        "files_failed",
        "not_log_files",
        "digest_files",
        "not_known",
    ] {
        skipped.remove(field);
    }
    report
}

/// Each selector, and how many distinct calls it selects (so no case
/// passes by selecting nothing on both sides).
const CASES: &[(&[&str], u64)] = &[
    (&["akid:AKIALEAKEDEXAMPLE234"], 4),
    (&["akid:akiaLeakedExample234"], 4),
    (&["session:sess-1"], 2),
    (&["session:SESS-1"], 0),
    (&["principal:arn:aws:iam::111122223333:role/orders-api"], 3),
    (&["principal:role/orders-api"], 3),
    (&["principal:orders-api"], 4),
    (&["principal:role/service/orders-api"], 1),
    (&["principal:service/orders-api"], 0),
    (&["principal:a:b"], 1),
    (&["principal:s3.amazonaws.com"], 1),
    (&["ip:198.51.100.7"], 3),
    (&["ip:10.0.0.0/8"], 3),
    (&["ip:0.0.0.0/0"], 9),
    (&["ip:2001:db8::/32"], 4),
    (&["ip:2001:db8::ff"], 1),
    (&["ip:::ffff:0:0/96"], 1),
    (&["ip:::/0"], 8),
    (&["ip:1:2:3:4:5:6:7:0/128"], 1),
    (&["principal:it's \"quoted\" \\ back'slash"], 1),
    (&["principal:user/it's \"quoted\" \\ back'slash"], 1),
    (&["session:o'brien \\\" --"], 1),
    (&["session:sess-2", "ip:2001:db8::7"], 2),
    (&["akid:AKIANOBODYEXAMPLE777"], 0),
];

#[test]
fn every_selector_selects_through_athena_what_it_selects_in_the_files() {
    // The hostile cases name these values.
    assert!(
        CASES
            .iter()
            .any(|(s, _)| s[0].ends_with(&format!(":{HOSTILE_USER}")))
    );
    assert!(
        CASES
            .iter()
            .any(|(s, _)| s[0] == format!("session:{HOSTILE_SESSION}"))
    );
    let dir = tempfile::tempdir().expect("trail dir");
    write_trail(dir.path());
    let athena = AthenaDuck::start(
        &[("security.acct", dir.path(), Layout::Account)],
        &AthenaOptions::default(),
    );
    let folder = dir.path().to_str().expect("utf-8 path");
    let total = records().len() as u64;
    let mut failures = Vec::new();
    for (selectors, selected) in CASES {
        let local = report(folder, "", selectors);
        let pushed = report("athena://security/acct", &athena.endpoint, selectors);
        let who = &local["who"];
        if local["events"] != *selected
            || who["other_events"].as_u64().map(|n| n + selected) != Some(total)
        {
            failures.push(format!(
                "{selectors:?}: the files select {} (others {}), the case says {selected}",
                local["events"], who["other_events"]
            ));
        }
        if who["calls"].as_array().map(Vec::len) != Some(usize::try_from(*selected).expect("n")) {
            failures.push(format!("{selectors:?}: calls listed {}", who["calls"]));
        }
        if comparable(pushed.clone()) != comparable(local.clone()) {
            failures.push(format!(
                "{selectors:?}:\n athena {}\n files  {}",
                comparable(pushed),
                comparable(local)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // One query per report, each read by sqlglot and run.
    let log = athena.log();
    let started: Vec<&Value> = log
        .iter()
        .filter(|e| e["operation"] == "StartQueryExecution")
        .collect();
    assert_eq!(started.len(), CASES.len());
    for e in started {
        assert!(e.get("failed").is_none(), "{e}");
    }
}

/// The dashboard on Athena with `--who`: the aggregate, the alerts and a
/// drill-down count only the selection, as the report over the files
/// does, and the header's "other left out" is the report's
/// `other_events`.
#[test]
fn the_dashboard_on_athena_counts_only_the_selection() {
    let dir = tempfile::tempdir().expect("trail dir");
    write_trail(dir.path());
    let folder = dir.path().to_str().expect("utf-8 path");
    let (since, until) = ("2025-05-20T09:59:00Z", "2025-05-20T10:01:00Z");
    let home = tempfile::tempdir().expect("home");
    let local = json_of(&kmstop_report(
        home.path(),
        &[
            "--source", folder, "--format", "json", "--since", since, "--until", until, "--who",
            LEAKED,
        ],
    ));
    assert_eq!(local["events"], 4, "{local}");
    let at = |t: &str| {
        DateTime::parse_from_rfc3339(t).map_or_else(|e| panic!("{e}"), |t| t.with_timezone(&Utc))
    };
    let (since, until) = (at(since), at(until));
    let who = Who::new(vec![Selector::parse(LEAKED).expect("a selector")]);

    let athena = AthenaDuck::start(
        &[("security.acct", dir.path(), Layout::Account)],
        &AthenaOptions::default(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let table: TableAddress = "athena://security/acct".parse().expect("address");
    let (feed, mut rx) = athena_feed(&runtime, &athena, &table, (since, until), &who);
    let status = feed.status();
    let mut config = DataConfig::athena(status.bucket_secs);
    config.store.who = who;
    let data = Data::new(&config, kmstop::alert::builtin::rules()).expect("data");
    let mut app = App::new(data, Mode::Athena(table.to_string()), until);
    app.data.athena = Some(status);
    let both = async {
        tokio::join!(feed.counts(), feed.alerts());
    };
    for msg in collect(&runtime, &mut rx, both) {
        app.data.apply(msg, until);
    }
    let done = app.data.athena.clone().expect("a status");
    assert!(done.counts_done, "{done:?}\n{}", athena.stderr());
    assert_eq!(done.alerts_failed, None, "{}", athena.stderr());

    let store = &app.data.store;
    assert_eq!(app.data.events_seen, 4);
    assert_eq!(
        store.refused().not_selected,
        local["who"]["other_events"].as_u64().expect("other events")
    );
    let principals: Vec<(String, u64)> = local["principals"]
        .as_array()
        .expect("principals")
        .iter()
        .map(|p| {
            (
                p["principal"].as_str().expect("name").to_owned(),
                p["events"].as_u64().expect("n"),
            )
        })
        .collect();
    assert_eq!(store.cardinality(Dim::Principal), principals.len());
    for (name, events) in &principals {
        let id = store
            .id(Dim::Principal, name)
            .unwrap_or_else(|| panic!("{name} counted"));
        assert_eq!(
            store
                .entity(Dim::Principal, id)
                .expect("facts")
                .totals
                .calls,
            *events,
            "{name}"
        );
    }
    app.refresh();
    let screen = render(&app);
    let other = local["who"]["other_events"].as_u64().expect("n");
    assert!(
        screen.contains(&format!("({other} other left out)")),
        "{screen}"
    );
    same_alerts(&mut app, &local);

    drill_into_the_leaked_keys_user(&mut app, &runtime, &mut rx, &feed, (since, until));
}

type Window = (DateTime<Utc>, DateTime<Utc>);

/// The dashboard's queries over the stand-in's table, for `who`.
fn athena_feed(
    runtime: &tokio::runtime::Runtime,
    athena: &AthenaDuck,
    table: &TableAddress,
    (since, until): Window,
    who: &Who,
) -> (AthenaFeed, tokio::sync::mpsc::Receiver<SourceMsg>) {
    let query = DashboardQuery {
        table: table.clone(),
        since,
        until,
        plausible: kmstop::event::Plausible::at(until),
        accounts: Vec::new(),
        regions: Vec::new(),
        who: who.clone(),
    };
    let place = QueryPlace {
        workgroup: "primary".into(),
        catalog: table.catalog.clone(),
        database: table.database.clone(),
        output: None,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(10_000);
    let feed = AthenaFeed::new(
        client(runtime, &athena.endpoint),
        place,
        query,
        kmstop::alert::builtin::rules(),
        None,
        Outbox::from(tx),
    );
    (feed, rx)
}

/// A drill-down into the leaked key's user brings only its selected
/// calls: not the one signed with a look-alike key id.
fn drill_into_the_leaked_keys_user(
    app: &mut App,
    runtime: &tokio::runtime::Runtime,
    rx: &mut tokio::sync::mpsc::Receiver<SourceMsg>,
    feed: &AthenaFeed,
    (since, until): Window,
) {
    update(app, Action::Back, until);
    update(app, Action::Focus(Pane::Principals), until);
    app.refresh();
    let chosen = app.snapshot.principals[0].name.to_string();
    assert!(chosen.ends_with("user/ci-deployer"), "{chosen}");
    update(app, Action::Enter, until);
    let target = app.athena_drill().expect("a query for the drill-down");
    for msg in collect(runtime, rx, feed.drill(&target)) {
        app.data.apply(msg, until);
    }
    let queried = &app.data.queried[&format!("principal:{chosen}")];
    assert_eq!(queried.failed, None);
    assert_eq!(queried.total, Some(4));
    for entry in app.data.log.newest_first(since, until) {
        let akid = entry
            .event
            .view()
            .access_key_id
            .map(|k| k.to_ascii_uppercase());
        assert_eq!(akid.as_deref(), Some(LEAKED));
    }
}

/// Past the 10 000 calls a report lists, Athena lists the same earliest
/// ones (ties in time broken by event id, as the local list breaks them)
/// and counts the rest; the alerts stay the local ones (listed calls
/// reach the rules only where a rule asked for them).
#[test]
fn a_long_selection_lists_the_same_earliest_calls_and_counts_the_rest() {
    let dir = tempfile::tempdir().expect("trail dir");
    let day = dir.path().join("CloudTrail/us-east-1/2025/05/20");
    std::fs::create_dir_all(&day).expect("trail folders");
    let listed = kmstop::report::who::MAX_CALLS;
    let records: Vec<Value> = (0..listed + 50)
        .map(|n| {
            let mut record = call(n, &user("ci-deployer", &json!(LEAKED)), "198.51.100.7");
            // Thirty calls a second, their ids in no order of time: the
            // 10 000th falls inside a second, among others of its time.
            let second = n / 30;
            record["eventTime"] = json!(format!(
                "2025-05-20T10:{:02}:{:02}Z",
                second / 60,
                second % 60
            ));
            let scrambled = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            record["eventID"] = json!(format!("{scrambled:016x}"));
            record
        })
        .collect();
    let file = day.join(format!(
        "{ACCOUNT}_CloudTrail_us-east-1_20250520T1000Z_long.json.gz"
    ));
    std::fs::write(&file, support::gzip_log(&records)).expect("log file");
    let athena = AthenaDuck::start(
        &[("security.acct", dir.path(), Layout::Account)],
        &AthenaOptions::default(),
    );
    let selectors = [format!("akid:{LEAKED}")];
    let selectors: Vec<&str> = selectors.iter().map(String::as_str).collect();
    let local = report(dir.path().to_str().expect("utf-8"), "", &selectors);
    let pushed = report("athena://security/acct", &athena.endpoint, &selectors);
    assert_eq!(local["who"]["calls"].as_array().map(Vec::len), Some(listed));
    assert_eq!(local["who"]["calls_not_listed"], 50);
    assert!(
        comparable(pushed.clone()) == comparable(local.clone()),
        "athena {}\nfiles  {}",
        comparable(pushed)["who"]["calls"][listed - 1],
        comparable(local)["who"]["calls"][listed - 1]
    );
}

/// On the generated corpus (the organization layout, hostile strings,
/// hostnames and `AWS Internal` where addresses belong): networks of
/// both families, and a key id, a session and a principal's bare name
/// taken from its calls.
#[test]
fn selectors_on_a_generated_organization_trail_agree() {
    let dir = tempfile::tempdir().expect("corpus dir");
    kmstop::synth::write_corpus(dir.path(), &kmstop::synth::CorpusSpec::small(31))
        .expect("corpus written");
    let logs = dir.path().join("AWSLogs");
    let folder = logs.to_str().expect("utf-8 path");
    let athena = AthenaDuck::start(
        &[("security.org", &logs, Layout::Org)],
        &AthenaOptions::default(),
    );
    let networks = report(folder, "", &["ip:10.0.0.0/8", "ip:::/0"]);
    let calls = networks["who"]["calls"].as_array().expect("calls");
    let text = |field: &str| {
        calls
            .iter()
            .find_map(|c| c[field].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("a call with its {field}"))
    };
    let principal = text("principal");
    let name = principal.rsplit('/').next().expect("a name").to_owned();
    let cases = [
        vec!["ip:10.0.0.0/8".to_owned(), "ip:::/0".to_owned()],
        vec!["ip:0.0.0.0/0".to_owned()],
        vec![format!(
            "akid:{}",
            text("access_key_id").to_ascii_lowercase()
        )],
        vec![format!("session:{}", text("session_name"))],
        vec![format!("principal:{name}")],
    ];
    let mut failures = Vec::new();
    for selectors in &cases {
        let selectors: Vec<&str> = selectors.iter().map(String::as_str).collect();
        let local = report(folder, "", &selectors);
        let pushed = report("athena://security/org", &athena.endpoint, &selectors);
        if local["events"].as_u64().unwrap_or(0) == 0 {
            failures.push(format!("{selectors:?} selects nothing: it proves nothing"));
        }
        if comparable(pushed.clone()) != comparable(local.clone()) {
            let (a, l) = (comparable(pushed), comparable(local));
            let fields: Vec<&String> = l
                .as_object()
                .expect("report")
                .keys()
                .filter(|k| a[k.as_str()] != l[k.as_str()])
                .collect();
            failures.push(format!("{selectors:?}: {fields:?} differ"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
