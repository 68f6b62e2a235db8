//! Live truth on screen: while CloudTrail is still making the last minutes'
//! events visible, the header says how much of them is in and the 1m/5m
//! rates are drawn as filling (`~`, dimmed), never as a slow-down.

use crate::support;

use chrono::Duration;
use kmstop::app::{App, Data, DataConfig, Mode};
use kmstop::feed::{Health, SourceId, SourceMsg, SourceStatus};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

fn source() -> SourceId {
    SourceId {
        account: support::ACCOUNT.to_owned(),
        region: "us-east-1".to_owned(),
    }
}

fn status(recent_in: Option<f64>, minute_in: Option<f64>) -> SourceStatus {
    SourceStatus {
        source: source(),
        health: Health::Ok,
        scanned_to: None,
        backfill_from: None,
        backlog_events: 0,
        events: 400,
        own_calls: 0,
        requests: 40,
        throttles: 0,
        errors: 0,
        arrival_rate: 0.05,
        coverage: None,
        recent_in,
        minute_in,
        delay_percentiles: None,
        last_error: None,
    }
}

/// The story's events arriving live, the clock just past its attacker
/// burst (so the last minutes have calls in them).
fn live_app() -> App {
    let data = Data::new(&DataConfig::live(), kmstop::alert::builtin::rules()).expect("rules");
    let now = support::start() + Duration::minutes(120);
    let mut app = App::new(data, Mode::Live, now);
    let events = support::records().iter().map(support::pack).collect();
    app.data.apply(
        SourceMsg::Events {
            source: source(),
            events,
        },
        now,
    );
    app
}

fn show(app: &mut App, s: SourceStatus) -> Buffer {
    let now = app.now;
    app.data.apply(SourceMsg::Status(s), now);
    app.refresh();
    let mut terminal = Terminal::new(TestBackend::new(160, 40)).expect("test terminal");
    terminal
        .draw(|f| {
            let _ = kmstop::ui::draw(f, app, &kmstop::ui::theme::Theme::default());
        })
        .expect("draws");
    terminal.backend().buffer().clone()
}

/// The principal row's line of the attacker (who called in the last
/// minutes).
fn attacker_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.contains("intruder"))
        .expect("the attacker's row is on screen")
}

#[test]
fn filling_minutes_are_said_and_their_rates_marked() {
    let mut app = live_app();
    let buffer = show(&mut app, status(Some(0.81), Some(0.55)));
    let text = support::text(&buffer);
    assert!(text.contains("last 5 min ~81 % in"), "{text}");
    assert!(!text.contains("us-east-1 ok"), "{text}");
    let row = attacker_line(&text);
    assert!(
        row.contains('~'),
        "the 1m/5m rates are marked filling: {row}"
    );
    // The marked cell is dimmed, not drawn as a plain number.
    let y = text
        .lines()
        .position(|l| l.contains("intruder"))
        .expect("row");
    let x = row.find('~').expect("marked");
    let x = u16::try_from(row[..x].chars().count()).expect("fits");
    let cell = &buffer[(x, u16::try_from(y).expect("fits"))];
    assert!(
        kmstop::ui::theme::Theme::default()
            .slots_of(cell.fg)
            .contains(&"muted"),
        "filling rate drawn muted, got {:?}",
        kmstop::ui::theme::Theme::default().slots_of(cell.fg)
    );
}

#[test]
fn complete_minutes_read_ok_with_plain_rates() {
    let mut app = live_app();
    let text = support::text(&show(&mut app, status(Some(0.999), Some(0.995))));
    assert!(text.contains("us-east-1 ok"), "{text}");
    let row = attacker_line(&text);
    assert!(!row.contains('~'), "{row}");
    // Before any delay is known there is no estimate, and no mark.
    let mut app = live_app();
    let text = support::text(&show(&mut app, status(None, None)));
    assert!(text.contains("us-east-1 ok"), "{text}");
    assert!(!attacker_line(&text).contains('~'));
}

/// The share is worked out at the frame's time, not the poll's: events
/// that all become visible at once are all in at the read, and ten seconds
/// later the last ten seconds are not.
#[test]
fn what_is_in_is_worked_out_at_the_frames_time() {
    let mut app = live_app();
    let mut s = status(Some(1.0), Some(1.0));
    s.delay_percentiles = Some(vec![0u16; 101].into());
    s.scanned_to = Some(app.now - Duration::seconds(11));
    let text = support::text(&show(&mut app, s));
    // 290 of the last 300 seconds read: ~97 %.
    assert!(text.contains("last 5 min ~97 % in"), "{text}");
    let [minute, five, fifteen] = app.filling();
    assert!(
        minute.is_some_and(|m| (m - 50.0 / 60.0).abs() < 1e-9),
        "{minute:?}"
    );
    assert!(
        five.is_some_and(|f| (f - 290.0 / 300.0).abs() < 1e-9),
        "{five:?}"
    );
    assert!(
        fifteen.is_some_and(|f| (f - 890.0 / 900.0).abs() < 1e-9),
        "{fifteen:?}"
    );
}

/// LookupEvents lagging, the trail beside it: the header says how far
/// the trail has made the counts complete, and says so when there is no
/// trail to read.
#[test]
fn the_header_says_how_far_the_trail_is_complete() {
    let mut app = live_app();
    let now = app.now;
    let trail = |health: Health, read_to| kmstop::feed::TrailStatus {
        source: source(),
        location: "s3://trail/".to_owned(),
        health,
        read_to,
        objects: 12,
        events: 900,
    };
    app.data.apply(
        SourceMsg::Trail(trail(Health::Ok, Some(now - Duration::minutes(6)))),
        now,
    );
    let lagging = SourceStatus {
        health: Health::Lagging { seconds: 240 },
        coverage: Some(0.37),
        ..status(None, None)
    };
    let text = support::text(&show(&mut app, lagging.clone()));
    let header = text.lines().next().expect("a header");
    let at = (now - Duration::minutes(6)).format("%H:%M").to_string();
    assert!(header.contains("lagging 4 min"), "{header}");
    assert!(
        header.contains(&format!("trail complete to {at} (6 min behind)")),
        "{header}"
    );
    // The panes say from when their counts are partial.
    let principals = text
        .lines()
        .find(|l| l.contains("Principals") && l.contains(" · "))
        .expect("the principals pane");
    assert!(
        principals.contains(&format!("15m · partial after {at}")),
        "{principals}"
    );
    app.data.apply(
        SourceMsg::Trail(trail(
            Health::Unavailable {
                message: "no trail to read".into(),
            },
            None,
        )),
        now,
    );
    let text = support::text(&show(&mut app, lagging));
    assert!(
        text.lines()
            .next()
            .is_some_and(|h| h.contains("· no trail")),
        "{text}"
    );
    assert!(text.contains("· partial (LookupEvents lags)"), "{text}");
    // Keeping up again: no mark.
    let text = support::text(&show(&mut app, status(None, None)));
    assert!(!text.contains("partial"), "{text}");
}

/// A busy region lagging and a quiet one complete: the header's events/s
/// estimate is the sum's, each region's share weighted by its events,
/// not the sum over the least share (which overstated it fourfold).
#[test]
fn the_total_rate_weighs_each_regions_share_by_its_events() {
    let mut app = live_app();
    let now = app.now;
    let busy = SourceStatus {
        arrival_rate: 200.0,
        ..status(Some(0.1), Some(0.1))
    };
    let quiet = SourceStatus {
        source: SourceId {
            account: support::ACCOUNT.to_owned(),
            region: "eu-west-1".to_owned(),
        },
        arrival_rate: 10.0,
        ..status(Some(0.9), Some(0.9))
    };
    app.data.apply(SourceMsg::Status(busy), now);
    app.data.apply(SourceMsg::Status(quiet), now);
    let want = (200.0 * 0.1 + 10.0 * 0.9) / 210.0;
    let got = app.filling_total().expect("filling");
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
    // The rows keep the least share: a principal may be all in the busy
    // region.
    assert_eq!(app.filling()[0], Some(0.1));
}

/// Live Tail beside LookupEvents: the header says when its updates are a
/// sample, and the panes stay partial while LookupEvents lags — a
/// sampled second never passes for a complete one.
#[test]
fn the_header_says_when_live_tail_samples() {
    let mut app = live_app();
    let now = app.now;
    let tail = |sampled: bool| kmstop::feed::LiveTailStatus {
        source: source(),
        location: "logs://trail-logs".to_owned(),
        health: Health::Ok,
        sampled,
        sampled_updates: u64::from(sampled),
        events: 5_000,
    };
    let lagging = SourceStatus {
        health: Health::Lagging { seconds: 240 },
        coverage: Some(0.37),
        ..status(None, None)
    };
    app.data.apply(SourceMsg::LiveTail(tail(true)), now);
    let text = support::text(&show(&mut app, lagging.clone()));
    let header = text.lines().next().expect("a header");
    assert!(header.contains("· live tail sampled"), "{header}");
    assert!(text.contains("· partial (LookupEvents lags)"), "{text}");
    app.data.apply(SourceMsg::LiveTail(tail(false)), now);
    let text = support::text(&show(&mut app, lagging));
    let header = text.lines().next().expect("a header");
    assert!(
        header.contains("· live tail") && !header.contains("sampled"),
        "{header}"
    );
}
