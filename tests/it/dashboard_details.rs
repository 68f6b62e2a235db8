//! The small things a person stumbles on in the dashboard, each through
//! what they see or press: the selection stays on its row when new data
//! re-sorts the rows (Enter opens the row under the cursor); help closes on
//! any key; drill-down rows have their 1m rate and last-hour sparkline; the
//! filter prompt hides the footer's hints; a multi-Region key's rows say
//! their region; rule ids that share a long prefix stay distinct.

use crate::support;

use chrono::Duration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kmstop::app::{Action, App, DrillTarget, Overlay, Pane, update};
use kmstop::event::PackedEvent;
use kmstop::feed::{SourceId, SourceMsg};
use kmstop::inventory::KeyFacts;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn act(app: &mut App, actions: &[Action]) {
    let now = app.now;
    for &a in actions {
        update(app, a, now);
    }
}

/// A key press as the terminal loop turns it into an action.
fn press(app: &mut App, code: KeyCode, modifiers: KeyModifiers) {
    let action = app
        .keymap
        .action(&KeyEvent::new(code, modifiers), app.input_mode());
    if let Some(a) = action {
        act(app, &[a]);
    }
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal
        .draw(|f| {
            let _ = kmstop::ui::draw(f, app, &kmstop::ui::theme::Theme::default());
        })
        .expect("draws");
    support::text(terminal.backend().buffer())
}

/// `n` calls of `name` by `principal` on `key`, a second apart from `at`
/// (event ids far from the story's).
fn calls(n: usize, minute: i64, name: &str, principal: &str, key: &str) -> Vec<PackedEvent> {
    let at = support::start() + Duration::minutes(minute);
    (0..n)
        .map(|i| {
            let t = at + Duration::seconds(i64::try_from(i).unwrap_or(0));
            support::pack(&support::record(900_000 + i, t, name, principal, key))
        })
        .collect()
}

#[test]
fn the_selection_follows_its_row_when_new_data_resorts_the_rows() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Principals)]);
    let names = |app: &App| -> Vec<String> {
        app.snapshot
            .principals
            .iter()
            .map(|p| p.name.to_string())
            .collect()
    };
    assert_eq!(
        names(&app),
        [
            support::ORDERS,
            support::BATCH,
            support::ALICE,
            support::ATTACKER
        ]
    );
    act(&mut app, &[Action::Down, Action::Down]);
    assert_eq!(app.snapshot.principals[2].name.as_str(), support::ALICE);
    // The intruder gets busier than the batch job: the rows re-sort.
    app.data.ingest(
        calls(100, 110, "Decrypt", support::ATTACKER, support::KEY_DOOMED),
        None,
    );
    app.refresh();
    assert_eq!(names(&app)[1], support::ATTACKER, "the rows re-sorted");
    let selected = app.panes[Pane::Principals.index()].list.selected;
    assert_eq!(
        app.snapshot.principals[selected].name.as_str(),
        support::ALICE
    );
    act(&mut app, &[Action::Enter]);
    assert_eq!(
        app.drills[0].target,
        DrillTarget::Principal(support::ALICE.to_owned()),
        "Enter opened another principal than the one under the cursor"
    );

    // Keys: the same.
    act(&mut app, &[Action::Focus(Pane::Keys), Action::Down]);
    let arn = app.snapshot.keys[1].arn.clone();
    let other = app
        .snapshot
        .keys
        .iter()
        .find(|k| k.arn != arn && k.arn != app.snapshot.keys[0].arn)
        .map(|k| k.arn.clone())
        .expect("a third key");
    app.data
        .ingest(calls(500, 111, "Decrypt", support::ALICE, &other), None);
    app.refresh();
    assert_ne!(app.snapshot.keys[1].arn, arn, "the keys re-sorted");
    act(&mut app, &[Action::Enter]);
    assert_eq!(app.drills[0].target, DrillTarget::Key(arn));

    // Events: newer events push the selected one down; it stays selected.
    act(&mut app, &[Action::Focus(Pane::Events)]);
    act(&mut app, &[Action::Down, Action::Down, Action::Down]);
    let key = app.snapshot.events[3].key;
    app.data.ingest(
        calls(
            5,
            120,
            "GenerateDataKey",
            support::BATCH,
            support::KEY_BATCH,
        ),
        None,
    );
    app.refresh();
    let selected = app.panes[Pane::Events.index()].list.selected;
    assert_eq!(app.snapshot.events[selected].key, key);
    assert_ne!(selected, 3, "the new events are listed above it");

    // On the first row the list follows the stream: newer events arrive
    // under the cursor, as in `tail -f` (the demo's Events pane stood
    // still at the event that was newest when it opened).
    act(&mut app, &[Action::Top]);
    app.data.ingest(
        calls(3, 121, "Encrypt", support::BATCH, support::KEY_BATCH),
        None,
    );
    app.refresh();
    let list = &app.panes[Pane::Events.index()].list;
    assert_eq!(list.selected, 0);
    let newest = app.snapshot.events[0].key;
    assert_eq!(
        app.data.log.get(newest).map(|e| e.event.time()),
        Some(support::start() + Duration::minutes(121) + Duration::seconds(2))
    );
}

/// A list on its first row shows the top as it changes, in every pane: the
/// demo's untouched Alerts pane once held on to a resolved alert while 22
/// firing ones sorted in above it, off screen.
#[test]
fn a_list_on_its_first_row_shows_the_new_top_row() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Events)]);
    assert_eq!(app.snapshot.principals[0].name.as_str(), support::ORDERS);
    app.data.ingest(
        calls(400, 110, "Decrypt", support::ATTACKER, support::KEY_DOOMED),
        None,
    );
    app.refresh();
    assert_eq!(app.snapshot.principals[0].name.as_str(), support::ATTACKER);
    assert_eq!(
        app.panes[Pane::Principals.index()].list.selected,
        0,
        "the untouched Principals pane moved off its top row"
    );
    let screen = render(&app, 160, 45);
    assert!(
        screen.contains("444455556666:role/intruder"),
        "the new top principal is not on screen:\n{screen}"
    );
}

#[test]
fn a_new_filter_selects_its_first_row() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Principals), Action::Bottom]);
    act(&mut app, &[Action::Filter]);
    for c in "role/".chars() {
        act(&mut app, &[Action::Input(c)]);
    }
    act(&mut app, &[Action::Enter]);
    assert_eq!(app.panes[Pane::Principals.index()].list.selected, 0);
    assert_eq!(app.snapshot.principals[0].name.as_str(), support::ORDERS);
}

#[test]
fn help_closes_on_any_key() {
    let mut app = support::app();
    let none = KeyModifiers::NONE;
    for (code, modifiers) in [
        (KeyCode::Char(' '), none),
        (KeyCode::Char('z'), none),
        (KeyCode::Char('q'), none),
        (KeyCode::Char('1'), none),
        (KeyCode::Esc, none),
        (KeyCode::Enter, none),
        (KeyCode::F(5), none),
    ] {
        press(&mut app, KeyCode::Char('?'), none);
        assert!(matches!(app.overlay, Some(Overlay::Help { .. })));
        press(&mut app, code, modifiers);
        assert!(app.overlay.is_none(), "{code:?} left help open");
        assert!(!app.quit, "{code:?} quit instead of closing help");
    }
    // The scrolling keys scroll; Ctrl-C still quits.
    press(&mut app, KeyCode::Char('?'), none);
    press(&mut app, KeyCode::Down, none);
    assert!(matches!(app.overlay, Some(Overlay::Help { scroll: 1 })));
    press(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(app.quit);
}

#[test]
fn drill_down_rows_have_their_recent_rate_and_sparkline() {
    let mut app = support::app();
    // The intruder's burst ends at the end of the data: its key was used
    // in the last minute.
    act(&mut app, &[Action::Focus(Pane::Principals), Action::Bottom]);
    assert_eq!(app.snapshot.principals[3].name.as_str(), support::ATTACKER);
    act(&mut app, &[Action::Enter]);
    let drill = app.snapshot.drill.as_ref().expect("drill view");
    let key = &drill.keys[0];
    assert_eq!(key.arn, support::KEY_DOOMED);
    assert!(key.rates[0] > 0.0, "1m rate of a key used seconds ago");
    assert!(
        key.spark.as_ref().is_some_and(|s| s.iter().any(|&n| n > 0)),
        "an empty last-hour sparkline"
    );
    // On screen: the key's row has that 1m rate, not "–".
    let text = render(&app, 200, 60);
    let row = text
        .lines()
        .find(|l| l.contains("3333cccc"))
        .expect("the key's row");
    let shown = kmstop::ui::widgets::rate(key.rates[0]);
    assert_ne!(shown, "–");
    assert!(row.contains(&format!(" {shown} ")), "{row}");
    // A key's principals: the same.
    act(&mut app, &[Action::Enter]);
    let drill = app.snapshot.drill.as_ref().expect("key drill");
    let intruder = drill
        .principals
        .iter()
        .find(|p| p.name.as_str() == support::ATTACKER)
        .expect("the intruder");
    assert!(intruder.rates[0] > 0.0);
    assert!(
        intruder
            .spark
            .as_ref()
            .is_some_and(|s| s.iter().any(|&n| n > 0))
    );
}

#[test]
fn the_filter_prompt_replaces_the_footer() {
    let mut app = support::app();
    let before = render(&app, 120, 40);
    let footer = before.lines().last().expect("a footer");
    assert!(footer.contains("quit"), "{footer}");
    act(&mut app, &[Action::Filter, Action::Input('a')]);
    let after = render(&app, 120, 40);
    let footer = after.lines().last().expect("a footer");
    assert!(footer.contains("filter (regex"), "{footer}");
    assert!(
        !footer.contains("quit") && !footer.contains("drill"),
        "old hints show through the prompt: {footer:?}"
    );
}

#[test]
fn a_multi_region_keys_rows_say_their_region() {
    let mut app = support::app();
    support::with_inventory(&mut app);
    let mrk = |region: &str| KeyFacts {
        arn: format!("arn:aws:kms:{region}:111122223333:key/mrk-0123456789abcdef0123456789abcdef"),
        key_id: Some("mrk-0123456789abcdef0123456789abcdef".to_owned()),
        account: Some(support::ACCOUNT.to_owned()),
        region: Some(region.to_owned()),
        aliases: vec!["alias/global-orders".to_owned()],
        state: Some("Enabled".to_owned()),
        multi_region: Some(true),
        ..KeyFacts::default()
    };
    let now = app.now;
    for region in ["us-east-1", "eu-west-1"] {
        app.data.apply(
            SourceMsg::Keys {
                source: SourceId {
                    account: support::ACCOUNT.to_owned(),
                    region: region.to_owned(),
                },
                keys: vec![mrk(region)],
                complete: false,
            },
            now,
        );
    }
    app.refresh();
    act(&mut app, &[Action::Focus(Pane::Keys)]);
    for (w, h) in [(80, 24), (120, 40)] {
        let text = render(&app, w, h);
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("alias/global-"))
            .collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert_ne!(rows[0], rows[1], "two identical rows at {w}x{h}");
        assert!(
            rows.iter().any(|r| r.contains("us-east-1"))
                && rows.iter().any(|r| r.contains("eu-west-1")),
            "{rows:#?}"
        );
    }
}

#[test]
fn rule_ids_with_a_common_prefix_stay_distinct() {
    let mut app = support::app();
    act(&mut app, &[Action::Focus(Pane::Alerts)]);
    let text = render(&app, 200, 60);
    // kms-key-disable-or-delete and kms-key-disable-or-delete-cis both
    // resolved in the story; cut at the end they looked the same.
    let rules: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("resolved "))
        .map(|(_, rest)| rest)
        .filter(|r| r.contains("kms-key-disab"))
        .collect();
    assert_eq!(rules.len(), 2, "{text}");
    assert!(
        rules.iter().any(|r| r.contains("delete-cis")),
        "the CIS variant's id is cut to look like the other: {rules:#?}"
    );
}

/// The `(other)` row (values past the cap, folded together) never
/// outranks a value it names, whatever the sort: a sum of many addresses
/// is not the top address.
#[test]
fn the_folded_row_is_listed_after_every_named_value() {
    let mut config = kmstop::app::DataConfig::files();
    config.store.max_source_ips = 4;
    let data = kmstop::app::Data::new(&config, kmstop::alert::builtin::rules()).expect("rules");
    let now = support::start() + Duration::hours(1);
    let mut app = App::new(data, kmstop::app::Mode::Files(vec![]), now);
    let mut events = Vec::new();
    for i in 0..40 {
        let mut r = support::record(
            800_000 + i,
            support::start() + Duration::seconds(i64::try_from(i).unwrap_or(0)),
            "Decrypt",
            support::ATTACKER,
            support::KEY_DOOMED,
        );
        r["errorCode"] = serde_json::json!("AccessDenied");
        // Two named addresses (the cap keeps two past NONE and OTHER),
        // then 38 more that fold.
        r["sourceIPAddress"] = serde_json::json!(format!("198.51.100.{i}"));
        events.push(support::pack(&r));
    }
    app.data.ingest(events, None);
    app.data.finish_files();
    app.refresh();
    act(&mut app, &[Action::Focus(Pane::Denied)]);
    for sort in 0..6 {
        let rows = &app.snapshot.denied_rows;
        let ips: Vec<&str> = rows
            .iter()
            .filter(|r| r.kind == kmstop::app::query::DeniedKind::SourceIp)
            .map(|r| r.label.as_str())
            .collect();
        assert!(ips.contains(&"(other)"), "{ips:?}");
        let last = rows.last().expect("rows");
        assert!(last.folded, "sort {sort}: (other) is last, got {ips:?}");
        act(
            &mut app,
            &[if sort == 2 {
                Action::ReverseSort
            } else {
                Action::CycleSort
            }],
        );
    }
}

/// Whoever fills the cap first does not decide which addresses are named:
/// after a flood of one-off addresses, the one that makes a third of the
/// denied calls gets a row of its own, above every one-off.
#[test]
fn the_heaviest_address_past_the_cap_is_named() {
    let mut config = kmstop::app::DataConfig::files();
    config.store.max_source_ips = 4;
    let data = kmstop::app::Data::new(&config, kmstop::alert::builtin::rules()).expect("rules");
    let now = support::start() + Duration::hours(1);
    let mut app = App::new(data, kmstop::app::Mode::Files(vec![]), now);
    let mut events = Vec::new();
    for i in 0..300usize {
        let mut r = support::record(
            900_000 + i,
            support::start() + Duration::seconds(i64::try_from(i).unwrap_or(0)),
            "Decrypt",
            support::ATTACKER,
            support::KEY_DOOMED,
        );
        r["errorCode"] = serde_json::json!("AccessDenied");
        let ip = if i % 3 == 2 {
            "203.0.113.66".to_string()
        } else {
            format!("198.51.100.{i}")
        };
        r["sourceIPAddress"] = serde_json::json!(ip);
        events.push(support::pack(&r));
    }
    app.data.ingest(events, None);
    app.data.finish_files();
    app.refresh();
    act(&mut app, &[Action::Focus(Pane::Denied)]);
    let ips: Vec<(&str, u64)> = app
        .snapshot
        .denied_rows
        .iter()
        .filter(|r| r.kind == kmstop::app::query::DeniedKind::SourceIp)
        .map(|r| (r.label.as_str(), r.count))
        .collect();
    let (top, count) = ips.first().copied().expect("address rows");
    assert_eq!(top, "203.0.113.66", "{ips:?}");
    // Its first sightings, before it was known to be heavy, stay in (other).
    assert!((60..=100).contains(&count), "{ips:?}");
    let other: u64 = ips.iter().filter(|r| r.0 == "(other)").map(|r| r.1).sum();
    let named: u64 = ips.iter().filter(|r| r.0 != "(other)").map(|r| r.1).sum();
    assert_eq!(
        named + other,
        300,
        "every denied call is counted once: {ips:?}"
    );
}
