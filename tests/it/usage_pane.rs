//! Issue 17 on the dashboard: the Quota & cost pane over the records of
//! `report_usage` (120 Decrypt calls in one second, 3 of them throttled, a
//! cross-account caller, a per-operation quota in another region) gives
//! the figures `kmstop report` gives for the same records; `--quota` and
//! `--price` apply to it as to the report; it follows the time cursor; its
//! answer is kept while nothing it counts changed; it says what it covers
//! when the log let events go, and that Athena cannot know it.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use kmstop::aggregate::cost::PriceOverride;
use kmstop::aggregate::quota::QuotaOverride;
use kmstop::aggregate::usage::UsageSettings;
use kmstop::app::{Action, App, Data, DataConfig, Mode, Pane, update};
use kmstop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use serde_json::Value;

use crate::report_usage::{INTRUDER, ORDERS, OWNER, PARTNER, records, write_log};
use crate::support;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 20, 12, 0, 0)
        .single()
        .expect("a time")
}

/// File mode over `records`, read and finished, on the Quota & cost pane.
fn app_of(records: &[Value], config: &DataConfig, settings: UsageSettings) -> App {
    let data = Data::new(config, kmstop::alert::builtin::rules()).expect("rules");
    let mut app = App::new(data, Mode::Files(vec!["./logs".to_owned()]), now());
    app.usage = settings;
    app.data
        .ingest(records.iter().map(support::pack).collect(), None);
    app.data.finish_files();
    act(&mut app, &[Action::Focus(Pane::Usage)]);
    app
}

fn act(app: &mut App, actions: &[Action]) {
    for a in actions {
        let now = app.now;
        update(app, *a, now);
    }
}

fn render(app: &App, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal
        .draw(|f| {
            let _ = kmstop::ui::draw(f, app, &Theme::default());
        })
        .expect("draws");
    terminal.backend().buffer().clone()
}

/// The screen line that has all of `needles`, and where the last starts.
fn line_with(buffer: &Buffer, needles: &[&str]) -> Option<(String, (u16, u16))> {
    let text = support::text(buffer);
    text.lines().enumerate().find_map(|(y, line)| {
        if !needles.iter().all(|n| line.contains(n)) {
            return None;
        }
        let last = needles.last()?;
        let x = line[..line.rfind(last)?].chars().count();
        Some((
            line.to_owned(),
            (u16::try_from(x).ok()?, u16::try_from(y).ok()?),
        ))
    })
}

fn report_json(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = write_log(dir.path());
    let mut all = vec![
        "--source",
        log.to_str().expect("utf-8 path"),
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    let out = support::kmstop_report(dir.path(), &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    support::json_of(&out)
}

#[test]
fn the_pane_gives_the_reports_figures_for_the_same_records() {
    let app = app_of(&records(), &DataConfig::files(), UsageSettings::default());
    let u = &app.snapshot.usage;
    let a = &u.answer;
    // The same sections, field for field, as the report's JSON.
    let report = report_json(&[]);
    assert_eq!(
        serde_json::to_value(&a.quota).expect("json"),
        report["quota"]
    );
    assert_eq!(serde_json::to_value(&a.cost).expect("json"), report["cost"]);

    // 120 Decrypt calls in one second, 3 throttled: exactly 120/s.
    let sym = a
        .quota
        .rows
        .iter()
        .find(|r| r.account == OWNER && r.region == "us-east-1" && r.family == "symmetric")
        .expect("the owner's symmetric row");
    assert_eq!(sym.peak_per_second, 120);
    assert_eq!(
        sym.peak_second.map(|t| t.to_rfc3339()),
        Some("2025-05-20T10:00:05+00:00".to_owned())
    );
    assert_eq!(sym.throttled, 3);
    assert_eq!(sym.pct_text(), "0.1%");
    assert_eq!(a.events, 231);

    let screen = render(&app, 120, 40);
    let text = support::text(&screen);
    let (line, at) = line_with(&screen, &[OWNER, "us-east-1", "symmetric", "0.1%"])
        .unwrap_or_else(|| panic!("no symmetric row:\n{text}"));
    for cell in ["100000", " 120 ", "10:00:05", " 2.5 ", " 3"] {
        assert!(line.contains(cell), "{cell:?} not in {line:?}");
    }
    // A small share of the quota is calm; throttled calls are not.
    assert!(Theme::default().slots_of(screen[at].fg).contains(&"ok"));
    let (_, at) = line_with(&screen, &[OWNER, "symmetric", "0.1%", "3"]).expect("throttled");
    assert!(Theme::default().slots_of(screen[at].fg).contains(&"crit"));
    // Who pays, and what is not subtracted, is said on screen.
    for said in [
        "Estimated cost $0.0008 for 231 requests, billed to the calling account",
        "Free tier (20,000 requests a month per account) not subtracted",
        "4 GenerateDataKeyPair requests not priced",
    ] {
        assert!(text.contains(said), "{said:?} not on screen:\n{text}");
    }
    // The partner's calls on the owner's key are billed to the partner.
    assert!(
        line_with(&screen, &["partner-app", PARTNER, "$0.0000"]).is_some(),
        "{text}"
    );
    insta::assert_snapshot!("usage_report_records_120x40", text);
}

#[test]
fn the_principals_behind_the_selected_row_are_listed() {
    let mut app = app_of(&records(), &DataConfig::files(), UsageSettings::default());
    // The highest share first, as the report orders: CreateGrant, 2/s of 50.
    let (first, drivers) = app.snapshot.usage.row(0).expect("a row");
    assert_eq!(first.family, "CreateGrant");
    assert_eq!(drivers.len(), 1);
    // Sorted by the busiest second, the owner's symmetric row leads; the
    // principals behind it are the orders role, all 150 calls of it.
    act(&mut app, &[Action::CycleSort]);
    let (row, drivers) = app.snapshot.usage.row(0).expect("a row");
    assert_eq!((row.family, row.account.as_str()), ("symmetric", OWNER));
    assert_eq!(drivers.len(), 1);
    let d = &drivers[0];
    assert_eq!(
        (d.principal.as_str(), d.calls, d.at_peak, d.throttled),
        ("arn:aws:iam::111122223333:role/orders-api", 210, 120, 3)
    );
    assert_eq!(d.principal, ORDERS);
    let text = support::text(&render(&app, 120, 40));
    assert!(
        text.contains("Behind symmetric in 111122223333 us-east-1: peak 120/s at 10:00:05"),
        "{text}"
    );
    // Then the Sign calls (10/s), then the partner's 5/s: moving down
    // shows the selected row's principals.
    act(&mut app, &[Action::Down, Action::Down]);
    let (row, drivers) = app.snapshot.usage.row(2).expect("a third row");
    assert_eq!((row.family, row.account.as_str()), ("symmetric", PARTNER));
    assert_eq!(drivers[0].principal, INTRUDER);
    let text = support::text(&render(&app, 120, 40));
    assert!(
        text.contains("Behind symmetric in 444455556666 us-east-1: peak 5/s"),
        "{text}"
    );
}

#[test]
fn quota_and_price_overrides_apply_as_in_the_report() {
    let settings = UsageSettings {
        quotas: vec![QuotaOverride::parse("symmetric=150").expect("valid")],
        prices: vec![
            PriceOverride::parse("requests=0.06").expect("valid"),
            PriceOverride::parse("GenerateDataKeyPair=12").expect("valid"),
        ],
    };
    let app = app_of(&records(), &DataConfig::files(), settings);
    let a = &app.snapshot.usage.answer;
    let report = report_json(&[
        "--quota",
        "symmetric=150",
        "--price",
        "requests=0.06",
        "--price",
        "GenerateDataKeyPair=12",
    ]);
    assert_eq!(
        serde_json::to_value(&a.quota).expect("json"),
        report["quota"]
    );
    assert_eq!(serde_json::to_value(&a.cost).expect("json"), report["cost"]);
    // 120 of 150 a second is 80 %: the danger colour.
    let screen = render(&app, 120, 40);
    let text = support::text(&screen);
    let (line, at) = line_with(&screen, &[OWNER, "us-east-1", "symmetric", "80.0%"])
        .unwrap_or_else(|| panic!("no 80 % row:\n{text}"));
    assert!(line.contains("150 (set)"), "{line}");
    assert!(Theme::default().slots_of(screen[at].fg).contains(&"crit"));
    // The partner's 5 of 150 is calm.
    let (_, at) = line_with(&screen, &[PARTNER, "symmetric", "3.3%"]).expect("partner row");
    assert!(Theme::default().slots_of(screen[at].fg).contains(&"ok"));
    for said in [
        "--quota symmetric=150",
        "--price requests=0.06, GenerateDataKeyPair=12",
    ] {
        assert!(text.contains(said), "{said:?} not on screen:\n{text}");
    }
    assert!(!text.contains("not priced"), "{text}");
}

#[test]
fn the_dashboard_takes_quota_and_price_like_the_report() {
    use clap::Parser;
    let cli = kmstop::cli::Cli::try_parse_from([
        "kmstop",
        "--source",
        "logs",
        "--quota",
        "symmetric=150",
        "--price",
        "requests=0.06",
    ])
    .expect("parses");
    assert_eq!(
        cli.dashboard.quotas,
        [QuotaOverride::parse("symmetric=150").expect("valid")]
    );
    assert_eq!(
        cli.dashboard.prices,
        [PriceOverride::parse("requests=0.06").expect("valid")]
    );
    let bad = kmstop::cli::Cli::try_parse_from(["kmstop", "--quota", "nope=5"])
        .expect_err("not a family");
    assert!(bad.to_string().contains("--quota"), "{bad}");
    assert!(bad.to_string().contains("symmetric, asymmetric"), "{bad}");
}

#[test]
fn the_time_cursor_moves_the_figures() {
    let mut app = app_of(&records(), &DataConfig::files(), UsageSettings::default());
    // One minute at the end (10:04): only the key pairs.
    act(&mut app, &[Action::CycleWindow]);
    assert_eq!(app.window.label(), "1m");
    let families = |app: &App| -> Vec<&'static str> {
        let mut f: Vec<_> = app
            .snapshot
            .usage
            .answer
            .quota
            .rows
            .iter()
            .map(|r| r.family)
            .collect();
        f.sort_unstable();
        f
    };
    assert_eq!(families(&app), ["GenerateDataKeyPair"]);
    assert_eq!(app.snapshot.usage.answer.cost.requests, 4);
    // Back a minute at a time: the Sign calls at 10:03, then the minute of
    // Encrypt calls at 10:01, then the busy second at 10:00:05.
    act(&mut app, &[Action::TimeBack]);
    assert_eq!(families(&app), ["asymmetric"]);
    act(&mut app, &[Action::TimeBack, Action::TimeBack]);
    let sym = &app.snapshot.usage.answer.quota.rows[0];
    assert_eq!(
        (sym.family, sym.requests, sym.peak_per_second),
        ("symmetric", 10, 1)
    );
    act(&mut app, &[Action::TimeBack]);
    let u = &app.snapshot.usage;
    let sym = u
        .answer
        .quota
        .rows
        .iter()
        .find(|r| r.account == OWNER && r.family == "symmetric")
        .expect("the busy second");
    assert_eq!(
        (sym.requests, sym.peak_per_second, sym.throttled),
        (150, 120, 3)
    );
    let text = support::text(&render(&app, 120, 40));
    assert!(
        text.contains("2025-05-20 09:59:10 to 2025-05-20 10:00:09 UTC"),
        "{text}"
    );
    // Back to now: the key pairs again.
    act(&mut app, &[Action::TimeEnd]);
    assert_eq!(families(&app), ["GenerateDataKeyPair"]);
}

#[test]
fn the_answer_is_kept_while_nothing_it_counts_changes() {
    let mut app = app_of(&records(), &DataConfig::files(), UsageSettings::default());
    let before = Arc::clone(&app.snapshot.usage);
    // A redraw, a rebuild of every other pane, a move of the selection:
    // the same answer, not counted again.
    app.refresh();
    app.rebuild();
    assert!(Arc::ptr_eq(&before, &app.snapshot.usage));
    act(&mut app, &[Action::Down, Action::CycleSort]);
    assert!(Arc::ptr_eq(&before.answer, &app.snapshot.usage.answer));
    // Away and back: still the same answer.
    act(
        &mut app,
        &[Action::Focus(Pane::Keys), Action::Focus(Pane::Usage)],
    );
    assert!(Arc::ptr_eq(&before.answer, &app.snapshot.usage.answer));
    // A new event is counted.
    let mut more = records()[0].clone();
    more["eventID"] = serde_json::json!("00000000-0000-4000-8000-999999999999");
    app.data.ingest(vec![support::pack(&more)], None);
    app.refresh();
    assert!(!Arc::ptr_eq(&before.answer, &app.snapshot.usage.answer));
    let sym = app
        .snapshot
        .usage
        .answer
        .quota
        .rows
        .iter()
        .find(|r| r.account == OWNER && r.family == "symmetric")
        .expect("symmetric");
    assert_eq!(sym.peak_per_second, 121);
}

#[test]
fn it_says_what_it_covers() {
    // A log holding 50 events of the 231: the figures are of those, and
    // the pane says since when.
    let config = DataConfig {
        log_capacity: 50,
        ..DataConfig::files()
    };
    let app = app_of(&records(), &config, UsageSettings::default());
    let through = app.data.log.dropped_through().expect("events let go");
    assert_eq!(app.snapshot.usage.answer.events, 50);
    let text = support::text(&render(&app, 120, 40));
    let note = format!(
        "from the 50 held events since {}",
        through.format("%Y-%m-%d %H:%M:%S")
    );
    assert!(text.contains(&note), "no {note:?}:\n{text}");
    // The whole log: nothing to say.
    let whole = app_of(&records(), &DataConfig::files(), UsageSettings::default());
    assert!(!support::text(&render(&whole, 120, 40)).contains("held events since"));

    // The dashboard's aggregate counts per bucket: not known, and said,
    // with where to get it.
    let data = Data::new(&DataConfig::athena(60), kmstop::alert::builtin::rules()).expect("rules");
    let mut athena = App::new(data, Mode::Athena("db/trail".to_owned()), now());
    act(&mut athena, &[Action::Focus(Pane::Usage)]);
    assert!(!athena.snapshot.usage.answer.quota.known);
    let text = support::text(&render(&athena, 120, 40));
    assert!(text.contains("not known on Athena"), "{text}");
    assert!(text.contains("kmstop report --source athena://"), "{text}");
}

/// The real binary in a terminal: `--quota` and `--price` reach the pane,
/// and `7` opens it over the whole body.
#[test]
fn the_binary_applies_the_overrides_on_screen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = write_log(dir.path());
    let tmux = support::tmux::Tmux::new("usage");
    let exit = dir.path().join("exit");
    let cmd = format!(
        "cd {dir} && KMSTOP_CONFIG_DIR={dir}/config {bin} --source {log} --quota symmetric=150 --price requests=0.06; echo $? > {exit}",
        dir = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_kmstop"),
        log = log.display(),
        exit = exit.display(),
    );
    tmux.start(160, 45, &cmd);
    tmux.wait_for("file(s) read");
    tmux.keys(&["7"]);
    tmux.wait_for("┏ Quota & cost");
    let screen = tmux.wait_for("150 (set)");
    assert!(screen.contains("80.0%"), "{screen}");
    assert!(screen.contains("--price requests=0.06"), "{screen}");
    // Not in the grid: the other panes are not drawn beside it.
    assert!(!screen.contains("╭ Principals"), "{screen}");
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_file(&exit), "0");
}

/// A generated corpus (gzip, duplicate files, hostile strings, throttled
/// calls, thousands of events): `kmstop report`'s code path and the pane
/// read the same files and give the same quota and cost sections, row for
/// row and in the same order.
#[test]
fn a_generated_corpus_gives_the_reports_sections() {
    use kmstop::source::files::{Listed, discover};
    let dir = tempfile::tempdir().expect("dir");
    let spec = kmstop::synth::CorpusSpec::small(17);
    kmstop::synth::write_corpus(dir.path(), &spec).expect("corpus");
    let inputs = discover(&[dir.path().to_path_buf()]).expect("discover");
    let no_problem = |p: kmstop::source::files::Problem| panic!("{p:?}");
    let settings = kmstop::report::ReportSettings::new(2);
    let (report, _) = kmstop::report::build_report(&Listed::new(&inputs), &settings, &no_problem)
        .expect("report");
    assert!(report.quota.rows.len() > 5, "{:?}", report.quota.rows);
    assert!(report.quota.rows.iter().any(|r| r.throttled > 0));
    assert!(report.cost.principals.len() > 5 && report.cost.keys.len() > 5);

    let packers = support::packed_by_reader(&inputs);
    let data = Data::new(&DataConfig::files(), Vec::new()).expect("no rules");
    let mut app = App::new(data, Mode::Files(vec!["corpus".into()]), support::start());
    for p in packers {
        app.data.ingest(p, None);
    }
    app.data.finish_files();
    act(&mut app, &[Action::Focus(Pane::Usage)]);
    assert_eq!(app.window.label(), "all");
    let u = &app.snapshot.usage;
    assert_eq!(u.answer.coverage.note(), None, "every event is held");
    assert_eq!(u.answer.quota, report.quota);
    assert_eq!(u.answer.cost, report.cost);
    // The rows shown, in the pane's default sort, are the report's.
    let shown: Vec<_> = (0..u.quota_rows.len())
        .filter_map(|i| u.row(i).map(|(r, _)| r.clone()))
        .collect();
    assert_eq!(shown, report.quota.rows);
    // Its hostile names reach the screen escaped: the principals behind
    // the symmetric row of the hostile user's account list it.
    let hostile_row = shown
        .iter()
        .position(|r| r.family == "symmetric" && r.account == report.quota.rows[0].account)
        .expect("a symmetric row");
    for _ in 0..hostile_row {
        act(&mut app, &[Action::Down]);
    }
    let text = support::text(&render(&app, 160, 50));
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "{text:?}"
    );
    assert!(
        text.contains("mallory"),
        "a hostile principal is listed:\n{text}"
    );
}
