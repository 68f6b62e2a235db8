//! The Resources pane ("who decrypted what?") and its drill-downs: the
//! counts equal the report's `resources` section for the same records,
//! time travel moves them with the window, a hostile resource name stays
//! text, and resource → caller → resource and back.

use crate::support;

use chrono::{DateTime, Duration, Utc};
use kmstop::app::resources::ResourceRow;
use kmstop::app::{Action, App, Data, DataConfig, DrillTarget, Mode, Pane, Section, update};
use kmstop::report::{ReportSettings, build_report};
use kmstop::source::files::{Listed, discover};
use kmstop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

/// A secret whose name is a terminal's worst day: a colour, an OSC title
/// ending in a bell, a bidi override, and far past the name's cap.
fn hostile_secret() -> String {
    format!(
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:\u{1b}[31mred\u{1b}]0;pwned\u{7}\u{202e}cod.exe-{}",
        "x".repeat(700)
    )
}

const BUCKET: &str = "arn:aws:s3:::payroll";
const MALLORY: &str = "arn:aws:iam::111122223333:user/mallory";

/// The dashboard story, and beside it data calls of every kind: an S3
/// Bucket Key shared by two callers and two keys (some refused), a
/// context no service names, `Encrypt` and `ReEncrypt`, a context on a
/// call that is no data call, a data call without a context, and the
/// hostile secret.
fn records() -> Vec<Value> {
    let mut out = support::records();
    let t0 = support::start();
    let mut i = 10_000;
    let mut add = |minute: i64, name: &str, principal: &str, key: &str, context: Value| {
        i += 1;
        let mut r = support::record(i, t0 + Duration::minutes(minute), name, principal, key);
        if !context.is_null() {
            r["requestParameters"]["encryptionContext"] = context;
        }
        r
    };
    let mut extra = Vec::new();
    for m in 0..30 {
        let (who, key) = if m % 3 == 0 {
            (MALLORY, support::KEY_DOOMED)
        } else {
            (support::BATCH, support::KEY_BATCH)
        };
        let mut r = add(m * 4, "Decrypt", who, key, json!({"aws:s3:arn": BUCKET}));
        if who == MALLORY {
            r["errorCode"] = json!("AccessDenied");
        }
        extra.push(r);
    }
    extra.push(add(
        5,
        "Encrypt",
        support::ALICE,
        support::KEY_ORDERS,
        json!({"Department": "10", "Project": "x"}),
    ));
    extra.push(add(
        65,
        "ReEncrypt",
        support::ALICE,
        support::KEY_ORDERS,
        json!({"aws:dynamodb:tableName": "Orders"}),
    ));
    extra.push(add(
        70,
        "DescribeKey",
        support::ALICE,
        support::KEY_ORDERS,
        json!({"aws:dynamodb:tableName": "Orders"}),
    ));
    extra.push(add(
        71,
        "Decrypt",
        support::ALICE,
        support::KEY_ORDERS,
        Value::Null,
    ));
    for m in [20, 90, 110] {
        extra.push(add(
            m,
            "GenerateDataKey",
            MALLORY,
            support::KEY_DOOMED,
            json!({"SecretARN": hostile_secret()}),
        ));
    }
    out.extend(extra);
    out.sort_by_key(|r| r["eventTime"].as_str().unwrap_or_default().to_owned());
    out
}

/// File mode over `records`, read and finished, as `support::app` does.
fn app_of(records: &[Value]) -> App {
    let rules = kmstop::alert::builtin::rules();
    let data = Data::new(&DataConfig::files(), rules).expect("built-in rules compile");
    let mut app = App::new(
        data,
        Mode::Files(vec!["./logs".to_owned()]),
        support::start() + Duration::hours(3),
    );
    app.data
        .ingest(records.iter().map(support::pack).collect(), None);
    app.data.finish_files();
    app.refresh();
    app
}

fn act(app: &mut App, actions: &[Action]) {
    let now = app.now;
    for &a in actions {
        update(app, a, now);
    }
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal
        .draw(|f| {
            let _ = kmstop::ui::draw(f, app, &Theme::default());
        })
        .expect("draws");
    support::text(terminal.backend().buffer())
}

/// A row as the report's JSON writes one.
fn as_report(r: &ResourceRow) -> Value {
    json!({
        "service": r.service,
        "resource": &*r.name,
        "bucket_key": r.bucket_key,
        "calls": r.calls,
        "denied": r.denied,
        "principals": r.principals,
        "keys": r.keys,
        "last_seen": r.last.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
    })
}

/// The pane's rows, the whole range, in the report's order (busiest
/// first, then service, then name).
fn pane_rows(app: &mut App) -> Vec<Value> {
    act(app, &[Action::Focus(Pane::Resources)]);
    assert_eq!(app.window.label(), "all");
    let mut rows: Vec<&ResourceRow> = app.snapshot.resources.rows.iter().collect();
    rows.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then(a.service.cmp(b.service))
            .then(a.name.cmp(&b.name))
    });
    rows.into_iter().map(as_report).collect()
}

/// The report's rows with `first_seen` and the top callers left out (the
/// pane does not show them: its drill lists the callers, compared below).
fn report_rows(resources: &Value) -> Vec<Value> {
    let mut rows = resources.as_array().expect("resources").clone();
    for r in &mut rows {
        let row = r.as_object_mut().expect("row");
        for field in [
            "first_seen",
            "top_callers",
            "more_callers",
            "callers_sampled",
        ] {
            row.remove(field);
        }
        // One form of time on both sides.
        if let Some(t) = r["last_seen"].as_str() {
            let t: DateTime<Utc> = t.parse().expect("time");
            r["last_seen"] = json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        }
    }
    rows
}

#[test]
fn the_pane_counts_what_the_report_counts() {
    let records = records();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("log.json");
    std::fs::write(&file, json!({ "Records": records }).to_string()).expect("log");
    let home = tempfile::tempdir().expect("home");
    let out = support::kmstop_report(
        home.path(),
        &[
            "--source",
            file.to_str().expect("utf-8"),
            "--format",
            "json",
            "--section",
            "resources",
        ],
    );
    let report = support::json_of(&out);
    let want = report_rows(&report["resources"]);
    let mut app = app_of(&records);
    let got = pane_rows(&mut app);
    assert_eq!(got, want);
    // The bucket's top callers are its drill's callers
    // (`resource_to_caller_to_resource_and_back`).
    let row = report["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["resource"] == BUCKET));
    let top = json!([{"principal": support::BATCH, "calls": 20, "denied": 0},
        {"principal": MALLORY, "calls": 10, "denied": 10}]);
    assert_eq!(
        row.map(|r| (&r["top_callers"], &r["more_callers"])),
        Some((&top, &json!(0)))
    );
    // Every kind is there: the bucket key, the unnamed context, the
    // hostile secret (cut as the report cuts it), and no call that is not
    // a data call or names nothing.
    let rows = &app.snapshot.resources.rows;
    assert_eq!(rows.len(), 12, "{got:#?}");
    let bucket = rows.iter().find(|r| &*r.name == BUCKET).expect("bucket");
    assert!(bucket.bucket_key);
    assert_eq!((bucket.calls, bucket.denied), (30, 10));
    assert_eq!((bucket.principals, bucket.keys), (2, 2));
    let orders = rows
        .iter()
        .find(|r| r.service == "dynamodb")
        .expect("the table");
    assert_eq!(orders.calls, 1, "ReEncrypt counts, DescribeKey does not");
    assert!(rows.iter().any(|r| r.service == "other"));
    assert_eq!(app.snapshot.resources.coverage.note(), None, "all held");
}

/// Events as the file dashboard reads them.
/// A generated corpus (gzip, duplicate files, hostile strings, thousands
/// of S3 objects): the report's code path and the dashboard read the same
/// files and name the same resources with the same counts.
#[test]
fn a_generated_corpus_counts_the_same_in_both() {
    let dir = tempfile::tempdir().expect("dir");
    let spec = kmstop::synth::CorpusSpec::small(17);
    kmstop::synth::write_corpus(dir.path(), &spec).expect("corpus");
    let inputs = discover(&[dir.path().to_path_buf()]).expect("discover");
    let no_problem = |p: kmstop::source::files::Problem| panic!("{p:?}");
    let settings = ReportSettings::new(2);
    let (report, _) = build_report(&Listed::new(&inputs), &settings, &no_problem).expect("report");
    let want = report_rows(&serde_json::to_value(&report.resources).expect("json"));
    assert!(want.len() > 100, "a corpus with many resources");
    // A queue of its own: the report's took every file off its own.
    let packers = support::packed_by_reader(&inputs);
    let data = Data::new(&DataConfig::files(), Vec::new()).expect("no rules");
    let mut app = App::new(data, Mode::Files(vec!["corpus".into()]), support::start());
    for p in packers {
        app.data.ingest(p, None);
    }
    app.data.finish_files();
    assert_eq!(pane_rows(&mut app), want);
}

/// The bucket-aligned window the panes count: from the bucket after the
/// window's start to the one holding the view time.
fn data_calls_between(records: &[Value], from: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    let data = [
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "ReEncrypt",
        "GenerateDataKeyWithoutPlaintext",
    ];
    records
        .iter()
        .filter(|r| data.contains(&r["eventName"].as_str().unwrap_or_default()))
        .filter(|r| {
            r["requestParameters"]["encryptionContext"]
                .as_object()
                .is_some_and(|c| !c.is_empty())
        })
        .filter(|r| {
            let t: DateTime<Utc> = r["eventTime"].as_str().expect("time").parse().expect("t");
            t >= from && t < until
        })
        .count() as u64
}

fn calls(app: &App) -> u64 {
    app.snapshot.resources.rows.iter().map(|r| r.calls).sum()
}

#[test]
fn time_travel_moves_the_window_and_the_counts() {
    let records = records();
    let mut app = app_of(&records);
    act(&mut app, &[Action::Focus(Pane::Resources)]);
    let all = calls(&app);
    while app.window.label() != "1h" {
        act(&mut app, &[Action::CycleWindow]);
    }
    // The last hour of data (it ends at 11:59:40): 10-second buckets from
    // the one after 10:59:40 to the one holding 11:59:40.
    let at =
        |h: i64, m: i64, s: i64| support::start() + Duration::seconds((h - 10) * 3600 + m * 60 + s);
    let late = calls(&app);
    assert_eq!(
        late,
        data_calls_between(&records, at(10, 59, 50), at(11, 59, 50))
    );
    let bucket_late = app
        .snapshot
        .resources
        .rows
        .iter()
        .find(|r| &*r.name == BUCKET)
        .map(|r| r.calls);
    act(&mut app, &[Action::TimeBack]);
    assert!(app.cursor.is_some());
    let early = calls(&app);
    assert_eq!(
        early,
        data_calls_between(&records, at(9, 59, 50), at(10, 59, 50))
    );
    assert_ne!(early, late);
    assert_eq!(early + late, all, "two hours, two windows");
    let bucket_early = app
        .snapshot
        .resources
        .rows
        .iter()
        .find(|r| &*r.name == BUCKET)
        .map(|r| r.calls);
    // One call every 4 minutes from 10:00: 15 before 11:00, 15 after.
    assert_eq!((bucket_early, bucket_late), (Some(15), Some(15)));
    act(&mut app, &[Action::TimeEnd]);
    assert_eq!(calls(&app), late);
}

#[test]
fn a_hostile_resource_name_is_shown_escaped_and_cut() {
    let mut app = app_of(&records());
    act(&mut app, &[Action::Focus(Pane::Resources)]);
    let hostile = app
        .snapshot
        .resources
        .rows
        .iter()
        .position(|r| r.name.contains("pwned"))
        .expect("the hostile secret");
    assert!(
        app.snapshot.resources.rows[hostile].name.len() <= kmstop::event::resource::MAX_RESOURCE,
        "cut to the cap"
    );
    for (w, h) in [(80, 24), (200, 60)] {
        let text = render(&app, w, h);
        assert!(text.contains("Resources"));
        for c in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!text.contains(c), "{c:?} reached the screen:\n{text}");
        }
        assert!(text.contains("secretsmanager"), "{text}");
    }
    // Its drill-down: the title and the events are escaped too.
    act(&mut app, &[Action::Top]);
    for _ in 0..hostile {
        act(&mut app, &[Action::Down]);
    }
    act(&mut app, &[Action::Enter]);
    let Some(DrillTarget::Resource { service, name }) = app.drills.last().map(|d| &d.target) else {
        panic!("no resource drill: {:?}", app.drills)
    };
    assert_eq!(*service, "secretsmanager");
    assert!(name.contains("pwned"));
    let text = render(&app, 200, 60);
    for c in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(!text.contains(c), "{c:?} reached the screen:\n{text}");
    }
    assert!(text.contains("\\x1b[31mred"), "seen, not obeyed:\n{text}");
    let drill = app.snapshot.drill.as_ref().expect("drill");
    assert_eq!(drill.callers.len(), 1);
    assert_eq!(drill.events.len(), 3);
}

#[test]
fn resource_to_caller_to_resource_and_back() {
    let mut app = app_of(&records());
    act(&mut app, &[Action::Focus(Pane::Resources), Action::Filter]);
    for c in "payroll".chars() {
        act(&mut app, &[Action::Input(c)]);
    }
    act(&mut app, &[Action::Enter]);
    assert_eq!(app.snapshot.resources.rows.len(), 1);
    act(&mut app, &[Action::Enter]);
    assert_eq!(
        app.drills[0].target,
        DrillTarget::Resource {
            service: "s3",
            name: BUCKET.to_owned()
        }
    );
    let drill = app.snapshot.drill.as_ref().expect("resource drill");
    let callers: Vec<(&str, u64, u64)> = drill
        .callers
        .iter()
        .map(|c| (c.name.as_str(), c.calls, c.denied))
        .collect();
    assert_eq!(callers, [(support::BATCH, 20, 0), (MALLORY, 10, 10)]);
    assert_eq!(drill.keys.len(), 2);
    assert_eq!(drill.events.len(), 30);
    assert!(drill.facts.iter().any(|(k, _)| k == "bucket key"));
    insta::assert_snapshot!("drill_resource_120x40", render(&app, 120, 40));
    // Enter on a caller: that principal's drill-down, which lists the
    // resources it touched.
    act(&mut app, &[Action::Down, Action::Enter]);
    assert_eq!(
        app.drills[1].target,
        DrillTarget::Principal(MALLORY.to_owned())
    );
    let d = &app.drills[1];
    let resources = d
        .target
        .sections()
        .iter()
        .position(|s| *s == Section::Resources)
        .expect("a resources section");
    let drill = app.snapshot.drill.as_ref().expect("principal drill");
    let touched: Vec<(&str, u64)> = drill
        .resources
        .iter()
        .map(|r| (r.service, r.calls))
        .collect();
    assert_eq!(touched, [("s3", 10), ("secretsmanager", 3)]);
    // From the caller to another resource.
    for _ in 0..resources {
        act(&mut app, &[Action::NextPane]);
    }
    act(&mut app, &[Action::Down, Action::Enter]);
    assert!(matches!(
        &app.drills[2].target,
        DrillTarget::Resource {
            service: "secretsmanager",
            ..
        }
    ));
    // And back, one level at a time.
    act(&mut app, &[Action::Back]);
    assert_eq!(app.drills.len(), 2);
    act(&mut app, &[Action::Back]);
    assert_eq!(app.drills.len(), 1);
    act(&mut app, &[Action::Back]);
    assert!(app.drills.is_empty());
    assert_eq!(app.focus, Pane::Resources);
}

#[test]
fn the_pane_is_reached_by_tab_by_its_number_and_by_its_tab() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Events), Action::NextPane]);
    assert_eq!(app.focus, Pane::Resources);
    act(&mut app, &[Action::NextPane]);
    assert_eq!(app.focus, Pane::Usage);
    act(&mut app, &[Action::PrevPane]);
    assert_eq!(app.focus, Pane::Resources);
    let six = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('6'),
        crossterm::event::KeyModifiers::NONE,
    );
    assert_eq!(
        app.keymap.action(&six, kmstop::app::InputMode::Normal),
        Some(Action::Focus(Pane::Resources))
    );
    // On a big terminal the grid's panes give way to it.
    act(&mut app, &[Action::Focus(Pane::Principals)]);
    let text = render(&app, 200, 60);
    assert!(!text.contains("bucket key"));
    assert!(text.contains("╭ Denied"), "the grid:\n{text}");
    let mut hits = Vec::new();
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    terminal
        .draw(|f| hits = kmstop::ui::draw(f, &app, &Theme::default()))
        .expect("draws");
    app.drawn(hits);
    let tab = app
        .hits
        .iter()
        .find(|h| h.target == kmstop::app::HitTarget::Tab(Pane::Resources))
        .expect("a Resources tab")
        .area;
    act(
        &mut app,
        &[Action::Click {
            column: tab.x + 1,
            row: tab.y,
        }],
    );
    assert_eq!(app.focus, Pane::Resources);
    let text = render(&app, 200, 60);
    assert!(text.contains("bucket key"), "{text}");
    assert!(!text.contains("╭ Denied"), "the grid gave way:\n{text}");
}

/// Nothing changed, nothing counted again: the table is the same one.
#[test]
fn an_unchanged_window_reuses_the_table() {
    let mut app = app_of(&records());
    act(&mut app, &[Action::Focus(Pane::Resources)]);
    let first = std::sync::Arc::clone(&app.snapshot.resources);
    app.rebuild();
    act(&mut app, &[Action::Down, Action::Pause, Action::Pause]);
    assert!(std::sync::Arc::ptr_eq(&first, &app.snapshot.resources));
    act(&mut app, &[Action::CycleSort]);
    assert!(!std::sync::Arc::ptr_eq(&first, &app.snapshot.resources));
}

/// A log that let go of the window's oldest events says what its counts
/// cover, and counts exactly the events it holds.
#[test]
fn a_log_that_let_events_go_says_what_it_counts() {
    let records = records();
    let mut config = DataConfig::files();
    config.log_capacity = 100;
    let data = Data::new(&config, Vec::new()).expect("no rules");
    let mut app = App::new(
        data,
        Mode::Files(vec!["./logs".to_owned()]),
        support::start() + Duration::hours(3),
    );
    app.data
        .ingest(records.iter().map(support::pack).collect(), None);
    app.data.finish_files();
    act(&mut app, &[Action::Focus(Pane::Resources)]);
    let through = app.data.log.dropped_through().expect("events let go");
    let note = app.snapshot.resources.coverage.note().expect("a note");
    assert!(note.starts_with("from the 100 held events since"), "{note}");
    // The 100 newest events' data calls, all of them after `through`.
    let mut newest: Vec<&Value> = records.iter().collect();
    newest.sort_by_key(|r| r["eventTime"].as_str().unwrap_or_default().to_owned());
    let held = &newest[newest.len() - 100..];
    let held: Vec<Value> = held.iter().map(|r| (*r).clone()).collect();
    let far = support::start() + Duration::days(1);
    let early = support::start() - Duration::days(1);
    assert_eq!(calls(&app), data_calls_between(&held, early, far));
    let time =
        |r: &Value| -> DateTime<Utc> { r["eventTime"].as_str().expect("time").parse().expect("t") };
    assert!(held.iter().all(|r| time(r) >= through));
    let text = render(&app, 200, 60);
    assert!(text.contains("from the 100 held events since"), "{text}");
}

#[test]
fn athena_says_it_cannot_know() {
    let data = Data::new(&DataConfig::athena(60), Vec::new()).expect("no rules");
    let mut app = App::new(
        data,
        Mode::Athena("athena://security/org".to_owned()),
        support::start() + Duration::hours(3),
    );
    act(&mut app, &[Action::Focus(Pane::Resources)]);
    assert!(app.snapshot.resources.rows.is_empty());
    let text = render(&app, 200, 60);
    assert!(text.contains("not known on Athena"), "{text}");
}

#[test]
fn the_pane_exports_the_reports_columns() {
    let mut app = app_of(&records());
    act(&mut app, &[Action::Focus(Pane::Resources)]);
    let (ext, csv, name) = kmstop::ui::export::current_view(&app);
    assert_eq!((ext, name), ("csv", "resources"));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("service,resource,bucket_key,calls,denied,principals,keys,last_seen")
    );
    assert_eq!(lines.count(), app.snapshot.resources.rows.len());
    assert!(!csv.contains('\u{1b}'), "escaped for a spreadsheet too");
}

/// More resources than the pane keeps rows for, and than it names on one
/// thread: under every sort the rows are the window's first in that
/// order, counted right, however the counts were kept between sorts.
#[test]
fn every_sort_of_many_resources_lists_the_windows_first() {
    use kmstop::app::resources::MAX_ROWS;
    use kmstop::app::sort_key::SortKey;
    const RESOURCES: usize = 24_000;
    let t0 = support::start();
    // Exactly MAX_ROWS are busier than the rest: the busiest rows are one
    // set whatever breaks ties among the rest (the first call does).
    let calls_of = |i: usize| -> u64 { if i < MAX_ROWS { 2 } else { 1 } };
    let mut records = Vec::new();
    for i in 0..RESOURCES {
        let name = format!("arn:aws:s3:::bucket/object-{:05}", (i * 7) % RESOURCES);
        for c in 0..calls_of(i) {
            let n = records.len();
            let at = t0 + Duration::seconds(i64::try_from(n % 7_000).expect("small"));
            let mut r = support::record(n, at, "Decrypt", support::BATCH, support::KEY_BATCH);
            r["requestParameters"]["encryptionContext"] = json!({ "aws:s3:arn": name });
            if c == 1 {
                r["errorCode"] = json!("AccessDenied");
            }
            records.push(r);
        }
    }
    // Every resource with its calls, as the pane's order keys them.
    let mut all: Vec<(String, u64)> = (0..RESOURCES)
        .map(|i| {
            let name = format!("arn:aws:s3:::bucket/object-{:05}", (i * 7) % RESOURCES);
            (name, calls_of(i))
        })
        .collect();
    let mut app = app_of(&records);
    act(&mut app, &[Action::Focus(Pane::Resources)]);
    let first_difference = |app: &App, want: &[(String, u64)]| -> Option<String> {
        let table = &app.snapshot.resources;
        assert_eq!((table.total, table.rows.len()), (RESOURCES, MAX_ROWS));
        table
            .rows
            .iter()
            .zip(want)
            .position(|(r, (name, calls))| (&*r.name, r.calls) != (name.as_str(), *calls))
            .map(|i| format!("row {i}: {:?}, want {:?}", table.rows[i], want[i]))
    };
    // Busiest first, ties by name.
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(first_difference(&app, &all), None);
    let sort_key = |app: &App| app.panes[Pane::Resources.index()].sort.key(Pane::Resources);
    while sort_key(&app) != SortKey::Name {
        act(&mut app, &[Action::CycleSort]);
    }
    all.sort();
    assert_eq!(first_difference(&app, &all), None, "A to Z");
    act(&mut app, &[Action::ReverseSort]);
    all.reverse();
    assert_eq!(first_difference(&app, &all), None, "Z to A");
    // A to Z again: each busier resource's second call was refused, so
    // the rows hold one refusal per busier row.
    act(&mut app, &[Action::ReverseSort]);
    let denied: u64 = app.snapshot.resources.rows.iter().map(|r| r.denied).sum();
    let busy_shown = app
        .snapshot
        .resources
        .rows
        .iter()
        .filter(|r| r.calls == 2)
        .count();
    assert_eq!(denied, busy_shown as u64);
}
