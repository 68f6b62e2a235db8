//! The dashboard on Athena (`kmstop --source athena://…`) against the
//! Athena stand-in, through the real SDK client: every query is parsed by
//! sqlglot's Athena dialect and run by DuckDB over the generated corpus (a
//! query it cannot read fails the test). The panes' counts, from the one
//! pushed-down aggregate, equal `kmstop report` over the same files, and
//! so do its alerts, from the report's pushed-down query; a drill-down's
//! query brings the principal's events (an alert's sample events) into
//! the drill-down.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use kmstop::app::{Action, App, Data, DataConfig, Mode, Pane, update};
use kmstop::athena::dashboard::{DRILL_LIMIT, DashboardQuery};
use kmstop::aws::athena::{AthenaClient, QueryPlace};
use kmstop::aws::{TargetOptions, load_config};
use kmstop::event::Plausible;
use kmstop::feed::SourceMsg;
use kmstop::run::athena_dashboard::AthenaFeed;
use kmstop::source::outbox::Outbox;
use kmstop::store::Dim;
use kmstop::synth::{CorpusSpec, write_corpus};
use kmstop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::Value;

use support::athena::{AthenaDuck, AthenaOptions, Layout};
use support::{json_of, kmstop_report};

/// The window: every event of the corpus, with a minute either side.
fn window(local: &Value) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |field: &str| {
        local[field]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(
                || panic!("the report's {field}: {}", local[field]),
                |t| t.with_timezone(&Utc),
            )
    };
    (
        at("from") - chrono::Duration::minutes(1),
        at("to") + chrono::Duration::minutes(1),
    )
}

pub(crate) fn client(runtime: &tokio::runtime::Runtime, endpoint: &str) -> AthenaClient {
    let options = TargetOptions {
        profiles: Vec::new(),
        regions: vec!["us-east-1".into()],
        all_regions: false,
        endpoint_url: Some(endpoint.to_owned()),
        static_credentials: Some(("AKIDTEST".into(), "secret".into())),
    };
    let config = runtime
        .block_on(load_config(None, &options))
        .expect("a config for the stand-in");
    AthenaClient::new(&config)
}

/// Everything `feed` sent while `run` ran.
pub(crate) fn collect<F: std::future::Future<Output = ()>>(
    runtime: &tokio::runtime::Runtime,
    rx: &mut tokio::sync::mpsc::Receiver<SourceMsg>,
    run: F,
) -> Vec<SourceMsg> {
    runtime.block_on(async {
        let deadline = Duration::from_mins(10);
        tokio::time::timeout(deadline, run)
            .await
            .expect("the query ends in time");
        let mut all = Vec::new();
        while let Ok(msg) = rx.try_recv() {
            all.push(msg);
        }
        all
    })
}

pub(crate) fn render(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("test terminal");
    terminal
        .draw(|f| {
            let _ = kmstop::ui::draw(f, app, &Theme::default());
        })
        .expect("draws");
    support::text(terminal.backend().buffer())
}

fn rows_by<'v>(report: &'v Value, list: &str, name: &str) -> BTreeMap<String, &'v Value> {
    report[list]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r[name].as_str().expect("name").to_owned(), r))
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)] // one flow: counts, panes, drill-down
fn the_dashboard_on_athena_counts_what_the_report_counts_and_drills_into_events() {
    let dir = tempfile::tempdir().expect("corpus dir");
    let spec = CorpusSpec::small(23);
    write_corpus(dir.path(), &spec).expect("corpus written");
    let logs = dir.path().join("AWSLogs");
    let home = tempfile::tempdir().expect("home");
    let path = logs.to_str().expect("utf-8 path");
    let whole = json_of(&kmstop_report(
        home.path(),
        &["--source", path, "--format", "json"],
    ));
    let (since, until) = window(&whole);
    let text = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let local = json_of(&kmstop_report(
        home.path(),
        &[
            "--source",
            path,
            "--format",
            "json",
            "--since",
            &text(since),
            "--until",
            &text(until),
        ],
    ));
    assert!(
        local["events"].as_u64().unwrap_or(0) > 0,
        "an empty corpus proves nothing"
    );

    let athena = AthenaDuck::start(
        &[("security.org", &logs, Layout::Org)],
        &AthenaOptions::default(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let table: kmstop::athena::TableAddress = "athena://security/org".parse().expect("address");
    let query = DashboardQuery {
        table: table.clone(),
        since,
        until,
        plausible: Plausible::at(until),
        accounts: Vec::new(),
        regions: Vec::new(),
        who: kmstop::who::Who::default(),
    };
    let place = QueryPlace {
        workgroup: "primary".into(),
        catalog: table.catalog.clone(),
        database: table.database.clone(),
        output: None,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(10_000);
    let feed = AthenaFeed::new(
        client(&runtime, &athena.endpoint),
        place,
        query.clone(),
        kmstop::alert::builtin::rules(),
        None,
        Outbox::from(tx),
    );
    let status = feed.status();
    let data = Data::new(
        &DataConfig::athena(status.bucket_secs),
        kmstop::alert::builtin::rules(),
    )
    .expect("data");
    let mut app = App::new(data, Mode::Athena(table.to_string()), until);
    app.data.athena = Some(status);
    // The panes are up before any answer: the event stream says why it
    // holds no event rather than looking empty.
    app.refresh();
    assert!(render(&app).contains("counts only"), "{}", render(&app));

    assert!(render(&app).contains("report's pushed-down query"));
    let both = async {
        tokio::join!(feed.counts(), feed.alerts());
    };
    for msg in collect(&runtime, &mut rx, both) {
        app.data.apply(msg, until);
    }
    let done = app.data.athena.clone().expect("a status");
    assert!(done.counts_done, "{done:?}\n{}", athena.stderr());
    assert_eq!(done.failed, None);
    assert_eq!(done.alerts_failed, None, "{}", athena.stderr());
    assert_eq!(done.running, None);
    assert_eq!(done.queries, 2);
    assert!(
        done.scanned_bytes > 0 && done.billed_bytes >= 10_000_000,
        "{done:?}"
    );

    // Totals, per principal, per key, per outcome: the report's.
    let store = &app.data.store;
    assert_eq!(
        app.data.events_seen,
        local["events"].as_u64().expect("events")
    );
    assert_eq!(store.total_events(), app.data.events_seen);
    let denied: u64 = store.totals(Dim::Principal).map(|(_, c)| c.denied).sum();
    assert_eq!(denied, local["denied"].as_u64().expect("denied"));
    let principals = rows_by(&local, "principals", "principal");
    assert_eq!(store.cardinality(Dim::Principal), principals.len());
    for (name, row) in &principals {
        let id = store
            .id(Dim::Principal, name)
            .unwrap_or_else(|| panic!("{name} counted"));
        let info = store.entity(Dim::Principal, id).expect("facts");
        let t = info.totals;
        assert_eq!(
            (t.calls, t.decrypt, t.denied, u64::from(info.linked)),
            (
                row["events"].as_u64().expect("n"),
                row["decrypt"].as_u64().expect("n"),
                row["denied"].as_u64().expect("n"),
                row["keys"].as_u64().expect("n"),
            ),
            "{name}"
        );
    }
    for (arn, row) in &rows_by(&local, "keys", "arn") {
        let id = store
            .id(Dim::Key, arn)
            .unwrap_or_else(|| panic!("{arn} counted"));
        let info = store.entity(Dim::Key, id).expect("facts");
        assert_eq!(
            (
                info.totals.calls,
                info.totals.denied,
                u64::from(info.linked)
            ),
            (
                row["events"].as_u64().expect("n"),
                row["denied"].as_u64().expect("n"),
                row["principals"].as_u64().expect("n"),
            ),
            "{arn}"
        );
    }
    let names: BTreeMap<String, u64> = store
        .counts_by(Dim::EventName)
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(id, n)| {
            (
                store
                    .name(Dim::EventName, u32::try_from(id).expect("id"))
                    .to_owned(),
                *n,
            )
        })
        .collect();
    let want: BTreeMap<String, u64> =
        serde_json::from_value(local["event_names"].clone()).expect("event names");
    assert_eq!(names, want);
    // Denied calls keep their source address (the Denied pane's); every
    // call keeps its region.
    let with_address: u64 = store
        .denied_ip_totals()
        .iter()
        .enumerate()
        .filter(|(id, _)| *id != kmstop::store::NONE as usize)
        .map(|(_, n)| *n)
        .sum();
    assert!(with_address > 0 && with_address <= denied, "{with_address}");
    assert_eq!(
        store.counts_by(Dim::Region)[kmstop::store::NONE as usize],
        0,
        "every corpus event names its region"
    );

    // The header says where the counts come from, and what they cost.
    app.refresh();
    let screen = render(&app);
    assert!(screen.contains("athena://security/org"), "{screen}");
    assert!(
        screen.contains("scanned") && screen.contains("~$0.0"),
        "{screen}"
    );
    assert!(screen.contains("counts only"), "{screen}");
    assert!(!screen.contains('\u{1b}'));

    same_alerts(&mut app, &local);

    // Enter on the busiest principal asks Athena for its events.
    update(&mut app, Action::Focus(Pane::Principals), until);
    let chosen = app.snapshot.principals[0].name.to_string();
    update(&mut app, Action::Enter, until);
    let target = app.athena_drill().expect("a query for the drill-down");
    assert_eq!(app.athena_drill(), None, "asked once");
    for msg in collect(&runtime, &mut rx, feed.drill(&target)) {
        app.data.apply(msg, until);
    }
    app.refresh();
    let events = principals[&chosen]["events"].as_u64().expect("events");
    let queried = &app.data.queried[&format!("principal:{chosen}")];
    assert_eq!(queried.failed, None);
    assert_eq!(queried.total, Some(events));
    let shown = events.min(DRILL_LIMIT);
    assert_eq!(queried.shown as u64, shown);
    let drill = app.snapshot.drill.as_ref().expect("the drill-down");
    assert!(!drill.events.is_empty());
    assert!(drill.events.len() as u64 <= shown);
    assert_eq!(app.data.log.len() as u64, shown);
    for entry in app.data.log.newest_first(since, until) {
        let who = entry.event.view().principal.to_string();
        assert_eq!(who, chosen, "only the principal's events came back");
    }
    let fact = drill
        .facts
        .iter()
        .find(|(k, _)| k == "events")
        .expect("the events fact");
    assert!(fact.1.contains("from Athena"), "{fact:?}");
    alert_samples(&mut app, &runtime, &mut rx, &feed, until);

    // Every query was read by sqlglot's Athena dialect and ran.
    let log = athena.log();
    let started: Vec<&Value> = log
        .iter()
        .filter(|e| e["operation"] == "StartQueryExecution")
        .collect();
    assert_eq!(started.len(), 4);
    for e in started {
        assert!(e.get("failed").is_none(), "{e}");
        assert!(e["duckdb_sql"].is_string(), "{e}");
    }
}

/// The Alerts pane's alerts are the local report's: rule, group, state,
/// count, first, last and sample event ids.
pub(crate) fn same_alerts(app: &mut App, local: &Value) {
    type Seen = (String, String, bool, u64, String, String, Vec<String>);
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    app.refresh();
    let mut shown: Vec<Seen> = app
        .snapshot
        .alerts
        .iter()
        .map(|a| {
            let e = &a.episode;
            (
                e.rule.clone(),
                e.group.clone(),
                e.resolved.is_some(),
                e.count,
                time(e.first),
                time(e.last),
                e.samples.clone(),
            )
        })
        .collect();
    let at = |v: &Value| {
        let t = DateTime::parse_from_rfc3339(v.as_str().expect("a time")).expect("rfc3339");
        time(t.with_timezone(&Utc))
    };
    let mut want: Vec<Seen> = local["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().expect("rule").to_owned(),
                a["group"].as_str().expect("group").to_owned(),
                a["state"] == "resolved",
                a["count"].as_u64().expect("count"),
                at(&a["first"]),
                at(&a["last"]),
                serde_json::from_value(a["sample_event_ids"].clone()).expect("ids"),
            )
        })
        .collect();
    shown.sort();
    want.sort();
    assert!(!want.is_empty(), "a corpus without alerts proves nothing");
    assert_eq!(shown, want);
    assert_eq!(app.snapshot.alert_total, want.len());
    let screen = render(app);
    assert!(screen.contains(&want[0].0[..12]), "{screen}");
    assert!(!screen.contains("report's pushed-down query"), "{screen}");
    assert!(
        screen.contains(&format!("{} alert(s), 2 queries", want.len())),
        "{screen}"
    );
}

/// Enter on an alert asks Athena for its sample events, by id.
fn alert_samples(
    app: &mut App,
    runtime: &tokio::runtime::Runtime,
    rx: &mut tokio::sync::mpsc::Receiver<SourceMsg>,
    feed: &AthenaFeed,
    until: DateTime<Utc>,
) {
    update(app, Action::Back, until);
    update(app, Action::Focus(Pane::Alerts), until);
    app.refresh();
    let chosen = app
        .snapshot
        .alerts
        .iter()
        .position(|a| !a.episode.samples.is_empty())
        .expect("an alert with samples");
    for _ in 0..chosen {
        update(app, Action::Down, until);
    }
    let episode = std::sync::Arc::clone(&app.snapshot.alerts[chosen].episode);
    update(app, Action::Enter, until);
    let target = app.athena_drill().expect("a query for the alert");
    for msg in collect(runtime, rx, feed.drill(&target)) {
        app.data.apply(msg, until);
    }
    app.refresh();
    let name = format!("alert:{} {}", episode.rule, episode.group);
    let queried = &app.data.queried[&name];
    assert_eq!(queried.failed, None);
    let mut samples = episode.samples.clone();
    samples.sort();
    samples.dedup();
    assert_eq!(queried.total, Some(samples.len() as u64));
    let held: std::collections::BTreeSet<String> = app
        .data
        .log
        .newest_first(episode.first, until)
        .map(|e| e.event.view().event_id.to_string())
        .collect();
    for id in &samples {
        assert!(held.contains(id), "{id} came back");
    }
    let drill = app.snapshot.drill.as_ref().expect("the alert's drill-down");
    assert!(
        drill.events.len() >= samples.len(),
        "{}",
        drill.events.len()
    );
}

/// The built binary in a real terminal: the panes are up while the
/// aggregate runs (the header says so), fill when it ends; Enter on a
/// principal brings its events; quitting while a drill-down's query runs
/// stops it (`StopQueryExecution`).
#[test]
fn the_binary_opens_at_once_fills_and_stops_its_queries_on_quit() {
    let dir = tempfile::tempdir().expect("corpus dir");
    write_corpus(dir.path(), &CorpusSpec::small(29)).expect("corpus written");
    let logs = dir.path().join("AWSLogs");
    let home = tempfile::tempdir().expect("home");
    let path = logs.to_str().expect("utf-8 path");
    let whole = json_of(&kmstop_report(
        home.path(),
        &["--source", path, "--format", "json"],
    ));
    let (since, until) = window(&whole);
    let text = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    // Every query stays running a while: long enough to see it run, and
    // to quit while one does even on a loaded machine (3 s was not).
    let athena = AthenaDuck::start(
        &[("security.org", &logs, Layout::Org)],
        &AthenaOptions {
            delay: Some(Duration::from_secs(8)),
            ..AthenaOptions::default()
        },
    );
    let tmux = support::tmux::Tmux::new("athena");
    let exit = dir.path().join("exit");
    let cmd = format!(
        "cd {dir} && env -i HOME={home} PATH=/usr/bin:/bin TERM=xterm-256color AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_EC2_METADATA_DISABLED=true \
         KMSTOP_CONFIG_DIR={dir}/config {bin} --source athena://security/org --since {since} --until {until} \
         --athena-region us-east-1 --endpoint-url {endpoint}; echo $? > {exit}",
        dir = dir.path().display(),
        home = home.path().display(),
        bin = env!("CARGO_BIN_EXE_kmstop"),
        since = text(since),
        until = text(until),
        endpoint = athena.endpoint,
        exit = exit.display(),
    );
    tmux.start(200, 50, &cmd);
    tmux.wait_for("counts: query");
    tmux.wait_for("┏ Principals");
    tmux.wait_for("counts only — press Enter");
    tmux.wait_for("row(s), counts only");
    // The second query, the report's, brought the Alerts pane's alerts.
    tmux.wait_for("alert(s), 2 queries");
    tmux.keys(&["Enter"]);
    tmux.wait_for("from Athena");
    // The key pane, a drill-down, and quit while its query runs.
    tmux.keys(&["Escape"]);
    tmux.wait_for("┏ Principals");
    tmux.keys(&["3", "Enter"]);
    // The header's progress, not the drill-down's "events: querying…".
    tmux.wait("the key's query running", |s| {
        s.lines()
            .any(|l| l.contains("events: query ") && l.contains(" running"))
    });
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_file(&exit), "0");
    // The stand-in may write its log line after it answered the stop.
    let deadline = support::tmux::now() + Duration::from_mins(1);
    let mut log = athena.log();
    while !log.iter().any(|e| e["operation"] == "StopQueryExecution")
        && support::tmux::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
        log = athena.log();
    }
    let started = log
        .iter()
        .filter(|e| e["operation"] == "StartQueryExecution")
        .count();
    assert_eq!(started, 4, "{log:#?}");
    assert!(
        log.iter().any(|e| e["operation"] == "StopQueryExecution"),
        "the running query was stopped on quit: {log:#?}"
    );
}
