//! `update(app, action, now)` without a terminal: drill-down paths, the
//! filter (valid and not), sorting, pause and time travel.

use crate::support;

use chrono::Duration;
use kmstop::app::{Action, App, DrillTarget, Overlay, Pane, TimeWindow, update};

fn act(app: &mut App, actions: &[Action]) {
    let now = app.now;
    for &a in actions {
        update(app, a, now);
    }
}

fn type_text(app: &mut App, text: &str) {
    let now = app.now;
    for c in text.chars() {
        update(app, Action::Input(c), now);
    }
}

#[test]
fn principal_to_key_to_event_json_and_back() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Principals)]);
    // The busiest principal is first (calls, descending).
    assert_eq!(app.snapshot.principals[0].name, support::ORDERS);
    act(&mut app, &[Action::Enter]);
    assert_eq!(app.drills.len(), 1);
    assert_eq!(
        app.drills[0].target,
        DrillTarget::Principal(support::ORDERS.to_owned())
    );
    let drill = app.snapshot.drill.as_ref().expect("drill view");
    assert_eq!(drill.keys.len(), 1);
    assert_eq!(drill.keys[0].arn, support::KEY_ORDERS);
    // What it decrypted: seven S3 objects, grouped as such.
    assert_eq!(drill.contexts.len(), 7);
    assert!(drill.contexts.iter().all(|c| c.kind == "S3 object"));
    assert!(drill.events.iter().all(|e| e.principal == support::ORDERS));
    // Enter on the key: the key's principals.
    act(&mut app, &[Action::Enter]);
    assert_eq!(app.drills.len(), 2);
    let drill = app.snapshot.drill.as_ref().expect("key drill");
    let names: Vec<&str> = drill.principals.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, [support::ORDERS, support::ALICE]);
    // Events section, Enter: the raw JSON.
    act(&mut app, &[Action::NextPane, Action::Enter]);
    let Some(Overlay::Json(j)) = &app.overlay else {
        panic!("no JSON view: {:?}", app.overlay)
    };
    assert!(j.note.is_none(), "the raw record is held");
    assert!(
        j.lines
            .iter()
            .any(|l| l.contains("\"eventSource\": \"kms.amazonaws.com\""))
    );
    act(&mut app, &[Action::Down, Action::Down]);
    let Some(Overlay::Json(j)) = &app.overlay else {
        panic!("JSON view closed")
    };
    assert_eq!(j.scroll, 2);
    act(&mut app, &[Action::Back]);
    assert!(app.overlay.is_none());
    act(&mut app, &[Action::Back, Action::Back]);
    assert!(app.drills.is_empty());
}

#[test]
fn the_json_view_escapes_and_says_when_the_record_is_gone() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Events), Action::Filter]);
    type_text(&mut app, "curl");
    act(&mut app, &[Action::Enter, Action::Enter]);
    let Some(Overlay::Json(j)) = &app.overlay else {
        panic!("no JSON view")
    };
    let all = j.lines.join("\n");
    assert!(all.contains("curl/8"));
    for bad in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(!all.contains(bad), "{bad:?} reached the view");
    }
    assert!(
        all.contains("\\u{202e}"),
        "the bidi override is shown escaped"
    );
    // An event whose record was dropped: the fields, with a note.
    let rules = kmstop::alert::builtin::rules();
    let mut config = kmstop::app::DataConfig::files();
    config.raw_capacity = 0;
    let data = kmstop::app::Data::new(&config, rules).expect("rules");
    let mut bare = App::new(data, kmstop::app::Mode::Files(vec![]), app.now);
    let events: Vec<_> = support::records()
        .iter()
        .map(|r| match kmstop::event::parse_record(&r.to_string()) {
            Ok(kmstop::event::Parsed::Kms(e)) => kmstop::event::PackedEvent::pack(&e),
            other => panic!("{other:?}"),
        })
        .collect();
    bare.data.ingest(events, None);
    bare.data.finish_files();
    act(&mut bare, &[Action::Focus(Pane::Events), Action::Enter]);
    let Some(Overlay::Json(j)) = &bare.overlay else {
        panic!("no JSON view")
    };
    assert_eq!(
        j.note.as_deref(),
        Some("raw record no longer in memory: showing the parsed fields")
    );
    assert!(j.lines.iter().any(|l| l.contains("\"eventName\"")));
}

/// Reads `dir` as the file dashboard does, into a fresh file-mode app.
fn files_app(dir: &std::path::Path, now: chrono::DateTime<chrono::Utc>) -> App {
    let rules = kmstop::alert::builtin::rules();
    let config = kmstop::app::DataConfig::files();
    let mut data = kmstop::app::Data::new(&config, rules).expect("rules");
    data.record_reader = Some(kmstop::source::files::read_record);
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    let inputs = kmstop::source::files::discover(&[dir.to_path_buf()]).expect("inputs");
    kmstop::source::file_feed::spawn(inputs, None, 1, tx);
    loop {
        let msg = rx
            .recv_timeout(std::time::Duration::from_mins(2))
            .expect("the files are read within two minutes");
        let done = matches!(msg, kmstop::feed::SourceMsg::FilesDone(_));
        data.apply(msg, now);
        if done {
            break;
        }
    }
    App::new(data, kmstop::app::Mode::Files(vec![]), now)
}

#[test]
fn a_file_events_json_is_read_again_from_its_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let records = support::records();
    let path = dir.path().join("log.json.gz");
    std::fs::write(&path, support::gzip_log(&records)).expect("write the log");
    let now = support::app().now;
    let mut app = files_app(dir.path(), now);
    let held: Vec<_> = app
        .data
        .log
        .newest_first(chrono::DateTime::<chrono::Utc>::MIN_UTC, now)
        .collect();
    // Nothing of the records is held: each is known by where it lies.
    assert!(held.len() > 5);
    assert!(held.iter().all(|e| !e.event.has_raw() && e.at.is_some()));
    act(&mut app, &[Action::Focus(Pane::Events), Action::Enter]);
    let Some(Overlay::Json(j)) = &app.overlay else {
        panic!("no JSON view")
    };
    assert!(j.note.is_none(), "{:?}", j.note);
    // The original record, not the parsed fields (which have no eventSource).
    assert!(
        j.lines
            .iter()
            .any(|l| l.contains("\"eventSource\": \"kms.amazonaws.com\""))
    );
    act(&mut app, &[Action::Back]);
    // The file rewritten since: the fields, and why.
    std::fs::write(&path, "{\"Records\":[]}").expect("rewrite");
    act(&mut app, &[Action::Enter]);
    let Some(Overlay::Json(j)) = &app.overlay else {
        panic!("no JSON view")
    };
    let note = j.note.as_deref().unwrap_or_default();
    assert!(note.contains("log.json.gz"), "{note}");
    assert!(note.ends_with("showing the parsed fields"), "{note}");
    assert!(j.lines.iter().any(|l| l.contains("\"eventName\"")));
}

#[test]
fn alert_and_denied_drill_downs() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Alerts)]);
    let first = app.snapshot.alerts[0].episode.clone();
    assert_eq!(first.rule, "unauthorized-decrypt-spike");
    act(&mut app, &[Action::Enter]);
    let drill = app.snapshot.drill.as_ref().expect("alert drill");
    assert!(!drill.events.is_empty());
    assert!(
        drill
            .events
            .iter()
            .all(|e| e.principal == support::ATTACKER)
    );
    act(&mut app, &[Action::Back, Action::Focus(Pane::Denied)]);
    // Refused most: the attacker, its key and its IP, 40 each.
    let top: Vec<_> = app
        .snapshot
        .denied_rows
        .iter()
        .take(3)
        .map(|r| r.count)
        .collect();
    assert_eq!(top, [40, 40, 40]);
    let ip = app
        .snapshot
        .denied_rows
        .iter()
        .position(|r| r.name == "203.0.113.9")
        .expect("the attacker's IP is listed");
    for _ in 0..ip {
        act(&mut app, &[Action::Down]);
    }
    act(&mut app, &[Action::Enter]);
    assert_eq!(
        app.drills[0].target,
        DrillTarget::SourceIp("203.0.113.9".to_owned())
    );
    assert_eq!(
        app.snapshot.drill.as_ref().map(|d| d.events.len()),
        Some(40)
    );
}

#[test]
fn filter_valid_invalid_and_cleared() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Principals), Action::Filter]);
    type_text(&mut app, "user/");
    act(&mut app, &[Action::Enter]);
    assert!(app.overlay.is_none());
    let names: Vec<&str> = app
        .snapshot
        .principals
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, [support::ALICE]);
    assert_eq!(app.snapshot.principal_total, 4);
    // An invalid regex keeps the prompt open with a message; no crash.
    act(&mut app, &[Action::Filter]);
    type_text(&mut app, "(unclosed");
    act(&mut app, &[Action::Enter]);
    let Some(Overlay::Prompt(p)) = &app.overlay else {
        panic!("prompt closed")
    };
    assert!(
        p.error
            .as_deref()
            .is_some_and(|e| e.starts_with("invalid regex")),
        "{:?}",
        p.error
    );
    // The old filter still applies; Esc leaves it.
    act(&mut app, &[Action::Back]);
    assert_eq!(app.snapshot.principals.len(), 1);
    // Esc on the pane clears the filter.
    act(&mut app, &[Action::Back]);
    assert_eq!(app.snapshot.principals.len(), 4);
}

#[test]
fn sort_cycles_and_reverses() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Principals)]);
    let calls: Vec<u64> = app.snapshot.principals.iter().map(|p| p.calls).collect();
    assert_eq!(calls, [180, 120, 61, 40]);
    act(&mut app, &[Action::ReverseSort]);
    let calls: Vec<u64> = app.snapshot.principals.iter().map(|p| p.calls).collect();
    assert_eq!(calls, [40, 61, 120, 180]);
    // calls -> 1m -> 5m -> 15m -> denied: the attacker leads.
    act(
        &mut app,
        &[
            Action::CycleSort,
            Action::CycleSort,
            Action::CycleSort,
            Action::CycleSort,
        ],
    );
    assert_eq!(app.panes[Pane::Principals.index()].sort.column, 4);
    assert!(!app.panes[Pane::Principals.index()].sort.reversed);
    assert_eq!(app.snapshot.principals[0].name, support::ATTACKER);
    // Name, A to Z, after the other columns.
    for _ in 0..5 {
        act(&mut app, &[Action::CycleSort]);
    }
    let names: Vec<&str> = app
        .snapshot
        .principals
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}

#[test]
fn time_travel_moves_every_pane() {
    let mut app = support::app();
    let end = app.view_time();
    assert_eq!(
        app.window,
        TimeWindow::All,
        "file mode opens on the whole range"
    );
    assert_eq!(app.cursor, None, "and at the end of the data");
    // 1 h window, one step back: the attacker (last 3 minutes) is gone.
    act(&mut app, &[Action::CycleWindow]);
    assert_eq!(app.window, TimeWindow::M1);
    for _ in 0..3 {
        act(&mut app, &[Action::CycleWindow]);
    }
    assert_eq!(app.window, TimeWindow::H1);
    act(&mut app, &[Action::TimeBack]);
    assert_eq!(app.cursor, Some(end - Duration::hours(1)));
    assert!(
        app.snapshot
            .principals
            .iter()
            .all(|p| p.name != support::ATTACKER)
    );
    assert!(
        app.snapshot
            .events
            .iter()
            .all(|e| e.time <= end - Duration::hours(1))
    );
    assert!(
        app.snapshot
            .alerts
            .iter()
            .all(|a| !a.episode.group.contains("intruder")),
        "the attack had not begun an hour earlier"
    );
    // To the next alert: the deletion scheduled at 11:40.
    act(&mut app, &[Action::NextAlert]);
    assert_eq!(app.cursor, Some(support::start() + Duration::minutes(100)));
    assert!(
        app.snapshot
            .alerts
            .iter()
            .any(|a| a.episode.rule == "kms-key-disable-or-delete" && a.firing)
    );
    // Back to the first alert (the batch job refused at 10:01:20), and
    // then there is none before it: the cursor stays and says so.
    act(&mut app, &[Action::PrevAlert]);
    let first = support::start() + Duration::seconds(80);
    assert_eq!(app.cursor, Some(first));
    act(&mut app, &[Action::PrevAlert]);
    assert_eq!(app.cursor, Some(first));
    assert!(app.status.is_some());
    // Forward by the window, then past the end: it follows the end again.
    act(&mut app, &[Action::TimeForward]);
    assert_eq!(app.cursor, Some(first + Duration::hours(1)));
    act(&mut app, &[Action::TimeForward]);
    assert_eq!(app.cursor, None);
    assert_eq!(app.view_time(), end);
    act(&mut app, &[Action::TimeBack, Action::TimeEnd]);
    assert_eq!(app.cursor, None);
}

#[test]
fn pause_freezes_the_view_time() {
    let mut app = support::app();
    let t = app.view_time();
    act(&mut app, &[Action::Pause]);
    assert_eq!(app.paused, Some(t));
    // Later data moves the end but not the paused view.
    let mut late = support::records().last().cloned().expect("records");
    late["eventTime"] = serde_json::json!("2025-05-20T12:30:00Z");
    late["eventID"] = serde_json::json!("late-event");
    let packed = match kmstop::event::parse_record(&late.to_string()) {
        Ok(kmstop::event::Parsed::Kms(e)) => kmstop::event::PackedEvent::pack(&e),
        other => panic!("{other:?}"),
    };
    app.data.ingest(vec![packed], None);
    app.refresh();
    assert!(app.end() > t);
    assert_eq!(app.view_time(), t);
    assert!(app.snapshot.events.iter().all(|e| e.time <= t));
    act(&mut app, &[Action::Pause]);
    assert_eq!(app.paused, None);
    assert_eq!(app.view_time(), app.end());
}

#[test]
fn ack_and_silence_through_a_prompt() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Alerts), Action::Ack]);
    assert!(app.snapshot.alerts[0].episode.acked);
    act(&mut app, &[Action::Silence]);
    let Some(Overlay::Prompt(_)) = &app.overlay else {
        panic!("no prompt")
    };
    act(&mut app, &[Action::Backspace, Action::Backspace]);
    type_text(&mut app, "soon");
    act(&mut app, &[Action::Enter]);
    let Some(Overlay::Prompt(p)) = &app.overlay else {
        panic!("bad duration accepted")
    };
    assert!(p.error.is_some());
    for _ in 0..4 {
        act(&mut app, &[Action::Backspace]);
    }
    type_text(&mut app, "2h");
    act(&mut app, &[Action::Enter]);
    assert!(app.overlay.is_none());
    let silenced = app
        .snapshot
        .alerts
        .iter()
        .filter(|a| a.episode.silenced_until.is_some())
        .count();
    assert_eq!(silenced, 1);
}

#[test]
fn quit_and_mouse() {
    let mut app = support::app();
    // Draw once so the mouse knows where things are.
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).expect("terminal");
    let mut hits = Vec::new();
    terminal
        .draw(|f| hits = kmstop::ui::draw(f, &app, &kmstop::ui::theme::Theme::default()))
        .expect("draws");
    app.drawn(std::mem::take(&mut hits));
    // The tab line is the 7th line (header 2, timeline 3, tabs): click "3 Keys".
    let now = app.now;
    update(&mut app, Action::Click { column: 28, row: 5 }, now);
    assert_eq!(app.focus, Pane::Keys);
    let mut hits = Vec::new();
    terminal
        .draw(|f| hits = kmstop::ui::draw(f, &app, &kmstop::ui::theme::Theme::default()))
        .expect("draws");
    app.drawn(std::mem::take(&mut hits));
    // Click the third key row (header row is line 7 + border).
    update(&mut app, Action::Click { column: 10, row: 9 }, now);
    assert_eq!(app.panes[Pane::Keys.index()].list.selected, 1);
    update(&mut app, Action::ScrollDown { column: 10, row: 9 }, now);
    assert_eq!(app.panes[Pane::Keys.index()].list.selected, 2);
    let fx = update(&mut app, Action::Quit, now);
    assert_eq!(fx, kmstop::app::Effect::Quit);
}

/// Sparklines are built for the rows near the top and near the selection:
/// moving the selection far down a long table brings the rows there their
/// sparklines, and moving back keeps the top's.
#[test]
fn the_selected_row_has_its_sparkline_however_far_down() {
    use kmstop::app::{Data, DataConfig, Mode};
    let t = support::start();
    let events: Vec<_> = (0..400)
        .map(|i| {
            let principal = format!("arn:aws:iam::111122223333:user/u{i:03}");
            let calls = 1 + (399 - i) / 50;
            (0..calls)
                .map(|n| {
                    let at = t + Duration::seconds(i64::try_from(n * 60).expect("small"));
                    support::pack(&support::record(
                        i * 1000 + n,
                        at,
                        "Decrypt",
                        &principal,
                        support::KEY_ORDERS,
                    ))
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .concat();
    let data = Data::new(&DataConfig::files(), Vec::new()).expect("no rules");
    let mut app = App::new(
        data,
        Mode::Files(vec!["./logs".into()]),
        t + Duration::hours(1),
    );
    app.data.ingest(events, None);
    app.data.finish_files();
    act(&mut app, &[Action::Focus(Pane::Principals)]);
    while app.window != TimeWindow::All {
        act(&mut app, &[Action::CycleWindow]);
    }
    assert_eq!(app.snapshot.principals.len(), 400);
    assert!(
        app.snapshot.principals[350].spark.is_none(),
        "not built far down"
    );
    for _ in 0..350 {
        act(&mut app, &[Action::Down]);
    }
    let selected = app.panes[Pane::Principals.index()].list.selected;
    assert_eq!(selected, 350);
    assert!(
        app.snapshot.principals[selected].spark.is_some(),
        "the selected row's sparkline"
    );
    for _ in 0..350 {
        act(&mut app, &[Action::Up]);
    }
    assert!(app.snapshot.principals[0].spark.is_some());
}

/// `/` on the Events pane matches the access key id that signed a call:
/// "what did this leaked key do?" is one filter.
#[test]
fn the_events_filter_finds_a_calls_access_key() {
    let mut app = support::app();
    let t = support::story::start() + chrono::Duration::minutes(119);
    let signed: Vec<_> = (0..3_u8)
        .map(|n| {
            let mut r = support::story::record(
                800 + usize::from(n),
                t + chrono::Duration::seconds(n.into()),
                "Decrypt",
                support::story::ORDERS,
                support::story::KEY_ORDERS,
            );
            r["userIdentity"]["accessKeyId"] = serde_json::json!("ASIALEAKEDEXAMPLE234");
            support::pack(&r)
        })
        .collect();
    app.data.ingest(signed, None);
    app.refresh();
    act(&mut app, &[Action::Focus(Pane::Events), Action::Filter]);
    type_text(&mut app, "ASIALEAKED");
    act(&mut app, &[Action::Enter]);
    assert_eq!(app.snapshot.events.len(), 3, "the three signed calls only");
}

/// `/akid:…` lists exactly one credential's calls (not every call whose
/// text merely contains it), `/ip:CIDR` a network's, and a malformed
/// selector is refused with what to write instead.
#[test]
fn the_events_filter_takes_credential_and_network_selectors() {
    let mut app = support::app();
    let t = support::story::start() + chrono::Duration::minutes(119);
    let calls: Vec<_> = (0..4_u8)
        .map(|n| {
            let mut r = support::story::record(
                900 + usize::from(n),
                t + chrono::Duration::seconds(n.into()),
                "Decrypt",
                support::story::ORDERS,
                support::story::KEY_ORDERS,
            );
            // Two calls signed by the leaked key, from 198.51.100.7; one by a
            // key whose id only starts like it; one from a neighbour network.
            let (akid, ip) = match n {
                0 | 1 => ("ASIALEAKEDEXAMPLE234", "198.51.100.7"),
                2 => ("ASIALEAKEDEXAMPLE2345", "198.51.100.9"),
                _ => ("ASIAOTHEREXAMPLE2345", "198.51.101.1"),
            };
            r["userIdentity"]["accessKeyId"] = serde_json::json!(akid);
            r["sourceIPAddress"] = serde_json::json!(ip);
            support::pack(&r)
        })
        .collect();
    app.data.ingest(calls, None);
    app.refresh();
    let retype = |app: &mut App, text: &str| {
        act(app, &[Action::Focus(Pane::Events), Action::Filter]);
        if let Some(Overlay::Prompt(p)) = &mut app.overlay {
            p.input.clear();
        }
        type_text(app, text);
    };
    let filtered = |app: &mut App, text: &str| {
        retype(app, text);
        act(app, &[Action::Enter]);
        app.snapshot.events.len()
    };
    assert_eq!(filtered(&mut app, "akid:ASIALEAKEDEXAMPLE234"), 2);
    assert_eq!(filtered(&mut app, "ip:198.51.100.0/24"), 3);
    assert_eq!(filtered(&mut app, "ip:198.51.100.7"), 2);
    retype(&mut app, "ip:198.51.100.0/99");
    act(&mut app, &[Action::Enter]);
    let Some(Overlay::Prompt(prompt)) = &app.overlay else {
        panic!("a bad selector keeps the prompt open");
    };
    let error = prompt.error.as_deref().unwrap_or_default();
    assert!(error.contains("not an address or network"), "{error}");
    // An access key id IAM could not have issued: said, not applied.
    retype(&mut app, "akid:ASIALEAKED00000000001");
    act(&mut app, &[Action::Enter]);
    let Some(Overlay::Prompt(prompt)) = &app.overlay else {
        panic!("a bad access key id keeps the prompt open");
    };
    let error = prompt.error.as_deref().unwrap_or_default();
    assert!(error.contains("ASIALEAKED00000000001") && error.contains("not an access key id"));
}
