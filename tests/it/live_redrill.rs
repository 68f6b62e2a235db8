//! The live dashboard's JSON view of an event whose record it no longer
//! holds (it keeps only the newest arrivals'): the record is read again
//! from LookupEvents by the event's id, through the real SDK path against
//! the loopback simulator, and replaces the parsed fields once it comes;
//! an id CloudTrail does not know gets a note saying so.

// Deadlines bound the waits on real threads; the code under test still
// takes its time from a Clock.
#![allow(clippy::disallowed_methods)]

use crate::support;

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use kmstop::app::refetch::READING;
use kmstop::app::{Action, App, Data, DataConfig, Mode, Overlay, Pane, update};
use kmstop::aws::TargetOptions;
use kmstop::clock::{Clock, SystemClock};
use kmstop::feed::{RecordAsk, SourceId, SourceMsg};
use kmstop::run::live::{LiveSession, LiveSettings, accounts, runtime, start_live};
use kmstop::sim::{READ_ONLY_TARGETS, Sim, SimHandle, SimOptions};
use kmstop::tui::{Msg, send_asks};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// Far below the events the simulator's history holds.
const RAW_CAPACITY: usize = 5;

struct Live {
    app: App,
    rx: Receiver<Msg>,
    /// Where the app's asks go: the test counts them on their way to the
    /// live sources' `serve_records`.
    asks: UnboundedSender<RecordAsk>,
    asked: UnboundedReceiver<RecordAsk>,
    served: UnboundedSender<RecordAsk>,
    sent: Vec<RecordAsk>,
    source: SourceId,
    clock: Arc<dyn Clock>,
    _session: LiveSession,
}

impl Live {
    /// The live sources on `sim` feeding an app that keeps few records.
    fn start(sim: &SimHandle) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let targets = TargetOptions {
            profiles: Vec::new(),
            regions: vec!["us-east-1".into()],
            all_regions: false,
            endpoint_url: Some(sim.endpoint()),
            static_credentials: Some(("AKIDSIMULATOR".into(), "simulator-secret".into())),
        };
        let rt = runtime().expect("a runtime");
        let found = rt
            .block_on(accounts(&targets))
            .expect("the simulator's account");
        let settings = LiveSettings {
            backfill: chrono::Duration::minutes(30),
            plan: kmstop::source::lookup::PlanSettings::default(),
            include_own_calls: false,
            inventory_interval: kmstop::source::inventory::DEFAULT_INTERVAL,
            trail: kmstop::source::trail_find::TrailPaths {
                s3: kmstop::source::trail_find::TrailChoice::Off,
                logs: kmstop::source::live_tail::LogsChoice::Off,
                queue: None,
            },
            trail_interval: Duration::from_secs(10),
        };
        let (tx, rx) = kmstop::tui::channel();
        let session = start_live(rt, &found, &settings, &clock, tx.clone());
        let served = session.serve_records(&found, tx);
        let (asks, asked) = tokio::sync::mpsc::unbounded_channel();
        let mut config = DataConfig::live();
        config.raw_capacity = RAW_CAPACITY;
        let data = Data::new(&config, Vec::new()).expect("no rules");
        let source = found[0].sources().next().expect("a source");
        Self {
            app: App::new(data, Mode::Live, clock.now()),
            rx,
            asks,
            asked,
            served,
            sent: Vec::new(),
            source,
            clock,
            _session: session,
        }
    }

    /// Takes what the sources sent until `done` holds (a minute at most).
    fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + Duration::from_mins(1);
        while !done(&self.app) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.forward();
            if let Ok(Msg::Source(msg)) = self.rx.recv_timeout(Duration::from_millis(200)) {
                let now = self.clock.now();
                self.app.apply(msg, now);
                self.app.now = now;
                self.app.refresh();
            }
        }
    }

    /// Sends the app's asks on, noting each.
    fn forward(&mut self) {
        while let Ok(ask) = self.asked.try_recv() {
            self.sent.push(ask.clone());
            self.served.send(ask).expect("the live sources run");
        }
    }

    fn act(&mut self, actions: &[Action]) {
        let now = self.clock.now();
        for &a in actions {
            update(&mut self.app, a, now);
        }
        // As the dashboard's loop does after every key.
        send_asks(&mut self.app, Some(&self.asks), now);
    }

    /// The Events pane's selected event has its record held.
    fn selected_has_raw(&self) -> bool {
        let sel = self.app.panes[Pane::Events.index()].list.selected;
        let key = self.app.snapshot.events[sel].key;
        let entry = self.app.data.log.get(key).expect("held");
        entry.event.has_raw()
    }

    /// What the screen shows.
    fn screen(&self) -> String {
        let mut terminal = Terminal::new(TestBackend::new(160, 45)).expect("test terminal");
        terminal
            .draw(|f| {
                let _ = kmstop::ui::draw(f, &self.app, &kmstop::ui::theme::Theme::default());
            })
            .expect("draws");
        support::text(terminal.backend().buffer())
    }
}

fn json(app: &App) -> (&str, Option<&str>, &[String]) {
    match &app.overlay {
        Some(Overlay::Json(j)) => (j.title.as_str(), j.note.as_deref(), &j.lines),
        other => panic!("no JSON view: {other:?}"),
    }
}

fn sim() -> SimHandle {
    Sim::start(SimOptions {
        seed: 15,
        regions: vec!["us-east-1".into()],
        history: Duration::from_mins(5),
        delay_min: Duration::from_secs(1),
        delay_max: Duration::from_secs(2),
        ..SimOptions::default()
    })
    .expect("start the simulator")
}

#[test]
fn an_old_live_events_json_is_read_again_from_cloudtrail() {
    let sim = sim();
    let mut live = Live::start(&sim);
    live.until("the backfill", |app| {
        app.data.log.len() > 20 * RAW_CAPACITY
            && app.data.sources.values().any(|s| s.backfill_from.is_none())
    });
    // The oldest event of the window: long since without its record.
    live.act(&[Action::Focus(Pane::Events), Action::Bottom]);
    while live.selected_has_raw() {
        live.act(&[Action::Up]);
    }
    live.act(&[Action::Enter]);
    let (title, note, lines) = json(&live.app);
    let id = title.rsplit(' ').next().expect("the id").to_owned();
    assert_eq!(note, Some(READING));
    assert!(!lines.iter().any(|l| l.contains("requestParameters")));
    assert!(live.screen().contains(READING));
    // Opened again while it is read: asked for once.
    live.act(&[Action::Back, Action::Enter]);
    live.until("the record", |app| json(app).1.is_none());
    let (title, _, lines) = json(&live.app);
    assert!(title.ends_with(&id), "{title}");
    // What only the record has: the parsed fields have neither.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"eventSource\": \"kms.amazonaws.com\"")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("\"requestParameters\"")));
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("\"eventID\": \"{id}\"")))
    );
    let screen = live.screen();
    assert!(screen.contains("eventSource") && !screen.contains(READING));
    // Kept: reopened, it is there at once, without another ask.
    live.act(&[Action::Back, Action::Enter]);
    assert_eq!(json(&live.app).1, None);
    live.forward();
    let ids: Vec<&str> = live.sent.iter().map(|a| a.event_id.as_str()).collect();
    assert_eq!(ids, [id.as_str()], "one ask for the one event");
    assert_eq!(live.sent[0].region, live.source.region);
    assert_eq!(
        live.sent[0].account.as_deref(),
        Some(live.source.account.as_str())
    );
    for r in sim.requests() {
        assert!(
            READ_ONLY_TARGETS.contains(&r.target.as_str()),
            "{}",
            r.target
        );
    }
}

#[test]
fn an_event_cloudtrail_does_not_know_gets_a_note() {
    let sim = sim();
    let mut live = Live::start(&sim);
    live.until("the source's first status", |app| {
        !app.data.sources.is_empty()
    });
    // An event no LookupEvents answer has: its id is unknown to the
    // simulator (as to CloudTrail one older than 90 days).
    let time = live.clock.now() - chrono::Duration::minutes(2);
    let record = serde_json::json!({
        "eventVersion": "1.08",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "eventTime": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventID": "00000000-0000-4000-8000-00000000dead",
        "awsRegion": live.source.region,
        "recipientAccountId": live.source.account,
        "sourceIPAddress": "203.0.113.77",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": format!("arn:aws:sts::{}:assumed-role/ghost/s", live.source.account),
        },
    });
    let mut event = support::pack(&record);
    event.strip_raw();
    let now = live.clock.now();
    live.app.apply(
        SourceMsg::Events {
            source: live.source.clone(),
            events: vec![event],
        },
        now,
    );
    live.act(&[Action::Focus(Pane::Events), Action::Filter]);
    live.act(
        &"203.0.113.77"
            .chars()
            .map(Action::Input)
            .collect::<Vec<_>>(),
    );
    live.act(&[Action::Enter, Action::Enter]);
    let (title, note, _) = json(&live.app);
    assert!(
        title.ends_with("00000000-0000-4000-8000-00000000dead"),
        "{title}"
    );
    assert_eq!(note, Some(READING));
    live.until("the answer", |app| json(app).1 != Some(READING));
    let note = json(&live.app).1.expect("a note").to_owned();
    assert!(note.contains("no event of this id"), "{note}");
    assert!(live.screen().contains("no event of this id"));
    assert_eq!(live.sent.len(), 1);
}
