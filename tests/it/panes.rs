//! Every pane drawn into a `TestBackend` at 80×24, 120×40 and 200×60 over
//! the fixed story, as insta snapshots; the colour of the cells that carry
//! meaning, mapped back to theme slots; and every pane at tiny sizes.

use crate::support;

use kmstop::app::{Action, App, Pane, update};
use kmstop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

fn render(app: &App, w: u16, h: u16) -> Buffer {
    render_with(app, &Theme::default(), w, h)
}

fn render_with(app: &App, theme: &Theme, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal
        .draw(|f| {
            let _ = kmstop::ui::draw(f, app, theme);
        })
        .expect("draws");
    terminal.backend().buffer().clone()
}

fn focused(pane: Pane) -> App {
    let mut app = support::app();
    support::with_inventory(&mut app);
    let now = app.now;
    update(&mut app, Action::Focus(pane), now);
    app
}

#[test]
fn every_pane_at_three_sizes() {
    for pane in Pane::ALL {
        let app = focused(pane);
        for (w, h) in [(80, 24), (120, 40), (200, 60)] {
            let text = support::text(&render(&app, w, h));
            assert!(
                text.contains(pane.title()),
                "{} missing at {w}x{h}",
                pane.title()
            );
            // No escape sequence from an event reached the screen.
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{202e}') && !text.contains('\u{7}')
            );
            // Named by the variant: titles may have spaces ("Quota & cost").
            let name = format!("{pane:?}").to_lowercase();
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
        }
    }
}

/// Where `needle` starts in the buffer (first match).
fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let text = support::text(buffer);
    for (y, line) in text.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            let x = line[..byte].chars().count();
            return Some((u16::try_from(x).ok()?, u16::try_from(y).ok()?));
        }
    }
    None
}

fn slots_at(buffer: &Buffer, at: (u16, u16)) -> Vec<&'static str> {
    Theme::default().slots_of(buffer[at].fg)
}

#[test]
fn meaning_is_in_the_colour() {
    // Keys: the key pending deletion shows its countdown in the danger colour.
    let app = focused(Pane::Keys);
    let b = render(&app, 120, 40);
    let at = find(&b, "6d").expect("deletion countdown shown");
    assert!(slots_at(&b, at).contains(&"crit"), "{:?}", b[at]);
    let at = find(&b, "PendingDel").expect("state shown");
    assert!(slots_at(&b, at).contains(&"crit"));
    let at = find(&b, "Enabled").expect("enabled key shown");
    assert!(slots_at(&b, at).contains(&"ok"));
    // Alerts: a firing alert's state is crit, a resolved one ok.
    let app = focused(Pane::Alerts);
    let b = render(&app, 120, 40);
    let at = find(&b, "FIRING").expect("a firing alert");
    assert!(slots_at(&b, at).contains(&"crit"));
    if let Some(at) = find(&b, "resolved") {
        assert!(slots_at(&b, at).contains(&"ok"));
    }
    // The focused pane's border is border_focused; the tabs' others muted.
    let at = find(&b, "┏").expect("focused border");
    assert!(slots_at(&b, at).contains(&"border_focused"));
}

#[test]
fn no_color_still_marks_danger() {
    let app = focused(Pane::Alerts);
    let b = render_with(&app, &Theme::default().with_no_color(true), 120, 40);
    let at = find(&b, "FIRING").expect("a firing alert");
    let cell = &b[at];
    assert_eq!(cell.fg, ratatui::style::Color::Reset);
    assert!(cell.modifier.contains(ratatui::style::Modifier::REVERSED));
}

#[test]
fn tiny_terminals_never_panic() {
    let mut apps: Vec<App> = Pane::ALL.iter().map(|&p| focused(p)).collect();
    // A drill-down, the JSON view, help and a prompt too.
    let mut drill = focused(Pane::Principals);
    let now = drill.now;
    update(&mut drill, Action::Enter, now);
    apps.push(drill);
    let mut json = focused(Pane::Events);
    update(&mut json, Action::Enter, now);
    apps.push(json);
    let mut help = focused(Pane::Keys);
    update(&mut help, Action::Help, now);
    apps.push(help);
    let mut prompt = focused(Pane::Alerts);
    update(&mut prompt, Action::Filter, now);
    apps.push(prompt);
    for app in &apps {
        for w in [1, 2, 5, 10, 20, 33, 80] {
            for h in [1, 2, 3, 5, 7, 12, 24] {
                let _ = render(app, w, h);
            }
        }
    }
}

#[test]
fn drill_and_json_frames() {
    let mut app = focused(Pane::Principals);
    let now = app.now;
    update(&mut app, Action::Enter, now);
    insta::assert_snapshot!(
        "drill_principal_120x40",
        support::text(&render(&app, 120, 40))
    );
    // To the Events section: after keys, contexts and resources.
    for _ in 0..3 {
        update(&mut app, Action::NextPane, now);
    }
    update(&mut app, Action::Enter, now);
    let text = support::text(&render(&app, 120, 40));
    assert!(!text.contains('\u{1b}'));
    insta::assert_snapshot!("event_json_120x40", text);
    update(&mut app, Action::Back, now);
    update(&mut app, Action::Back, now);
    update(&mut app, Action::Help, now);
    insta::assert_snapshot!("help_80x24", support::text(&render(&app, 80, 24)));
}

/// A file range with more events than the dashboard holds: the Events pane
/// lists the newest and says up to when it holds none, instead of showing
/// an older window as if it had no events.
#[test]
fn the_events_pane_says_when_older_events_are_not_held() {
    let rules = kmstop::alert::builtin::rules();
    let config = kmstop::app::DataConfig {
        log_capacity: 50,
        ..kmstop::app::DataConfig::files()
    };
    let data = kmstop::app::Data::new(&config, rules).expect("rules");
    let mut app = App::new(
        data,
        kmstop::app::Mode::Files(vec!["./logs".to_owned()]),
        support::start() + chrono::Duration::hours(3),
    );
    let events: Vec<_> = support::records().iter().map(support::pack).collect();
    app.data.ingest(events, None);
    app.data.finish_files();
    let now = app.now;
    update(&mut app, Action::Focus(Pane::Events), now);
    app.refresh();
    let through = app
        .data
        .log
        .dropped_through()
        .expect("the log let events go");
    assert_eq!(app.snapshot.events_dropped_through, Some(through));
    let buffer = render(&app, 200, 60);
    let text: String = buffer
        .content()
        .iter()
        .map(ratatui::buffer::Cell::symbol)
        .collect();
    let note = format!("none held to {}", through.format("%m-%d %H:%M"));
    assert!(text.contains(&note), "no {note:?} in the frame");
    // The full story holds every event: no such note.
    let full = support::app();
    assert_eq!(full.snapshot.events_dropped_through, None);
}
