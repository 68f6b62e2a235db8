//! The JSON view of an event whose record the dashboard no longer holds
//! (only the newest arrivals keep theirs): the record is asked for again
//! — from the S3 object it was read from, or, live, from CloudTrail's
//! event history by the event's id — and shown when it comes, once
//! checked to be the same event. The app sends
//! nothing itself: the loop takes the asks ([`App::take_record_asks`]) to
//! the live sources and hands their answers back ([`App::apply`]).
//!
//! Bounded: one ask per event id at a time, at most [`MAX_ASKING`] at
//! once, and only the [`MAX_KEPT`] newest records fetched are kept.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use super::log::{Entry, EventKey, is_record_of};
use super::overlay::show_json;
use super::{App, Overlay};
use crate::feed::{RecordAnswer, RecordAsk, RecordAt, SourceMsg};

/// Records asked for and not yet answered, at most. LookupEvents allows
/// two requests a second per account and region, shared with the poller:
/// a person opening events one after another needs no more.
pub const MAX_ASKING: usize = 4;
/// Records fetched that are kept, at most: the JSON view reopened, or an
/// export of the events just looked at, needs no second request.
pub const MAX_KEPT: usize = 8;
/// The JSON view's note while the record is on its way from CloudTrail.
pub const READING: &str = "reading the record from CloudTrail…";
/// The same, from the S3 object it lies in.
pub const READING_S3: &str = "reading the record from S3…";

/// Where a record is asked for, in the JSON view's words.
fn place(at: Option<&RecordAt>) -> String {
    at.map_or_else(|| "CloudTrail".to_owned(), |at| at.file.to_string())
}

#[derive(Debug, Default)]
pub struct Refetch {
    /// Asked and not answered: the event id and the event asked about.
    asking: Vec<(String, EventKey)>,
    /// Asks the loop has not taken yet.
    outbox: Vec<RecordAsk>,
    /// Records fetched and checked, newest last.
    kept: VecDeque<(EventKey, String)>,
}

impl Refetch {
    /// The record fetched for the event at `key`, when kept.
    pub fn kept(&self, key: EventKey) -> Option<&str> {
        self.kept
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, record)| record.as_str())
    }

    /// Whether the event with this id is being asked for.
    pub fn is_asking(&self, event_id: &str) -> bool {
        self.asking.iter().any(|(id, _)| id == event_id)
    }

    /// Asks for the record of the event at `key`, unless it is asked for
    /// already: from its S3 object when it has one, else from CloudTrail.
    /// Returns the note to show meanwhile.
    ///
    /// # Errors
    /// Why it cannot be asked for now, as the JSON view's note.
    pub fn ask(&mut self, key: EventKey, entry: &Entry) -> Result<&'static str, String> {
        let at = entry.at.as_ref().filter(|at| at.in_s3());
        let reading = if at.is_some() { READING_S3 } else { READING };
        let v = entry.event.view();
        if self.is_asking(&v.event_id) {
            return Ok(reading);
        }
        if v.event_id.is_empty() {
            return Err("the event has no id to ask CloudTrail for".to_owned());
        }
        let region = v.region.as_deref().unwrap_or_default();
        if at.is_none() && region.is_empty() {
            return Err("the event names no region to ask CloudTrail in".to_owned());
        }
        if self.asking.len() >= MAX_ASKING {
            return Err(format!(
                "{MAX_ASKING} records are being read already: open it again in a moment"
            ));
        }
        self.asking.push((v.event_id.to_string(), key));
        self.outbox.push(RecordAsk {
            event_id: v.event_id.to_string(),
            at: at.cloned(),
            account: v.recipient_account.as_deref().map(str::to_owned),
            region: region.to_owned(),
        });
        Ok(reading)
    }

    /// The asks the loop is to send, once each.
    pub fn take_asks(&mut self) -> Vec<RecordAsk> {
        std::mem::take(&mut self.outbox)
    }

    /// The event an answer is for, no longer asked about; `None` when
    /// nothing was asked for that id.
    fn answered(&mut self, event_id: &str) -> Option<EventKey> {
        let i = self.asking.iter().position(|(id, _)| id == event_id)?;
        Some(self.asking.swap_remove(i).1)
    }

    fn keep(&mut self, key: EventKey, record: String) {
        self.kept.retain(|(k, _)| *k != key);
        self.kept.push_back((key, record));
        while self.kept.len() > MAX_KEPT {
            self.kept.pop_front();
        }
    }
}

impl App {
    /// Takes one message from the sources: the answers to the JSON
    /// view's asks are the app's, the rest the data's.
    pub fn apply(&mut self, msg: SourceMsg, now: DateTime<Utc>) {
        match msg {
            SourceMsg::Record(answer) => self.record_answered(answer),
            other => self.data.apply(other, now),
        }
    }

    /// The asks for records the loop is to send to the live sources.
    pub fn take_record_asks(&mut self) -> Vec<RecordAsk> {
        self.refetch.take_asks()
    }

    /// An event's original record: held, read again from its file, or
    /// fetched again from CloudTrail and kept.
    ///
    /// # Errors
    /// Why it is not at hand (see [`Entry::record`]).
    pub fn record_of(&self, entry: &Entry) -> Result<String, String> {
        entry
            .record(self.data.record_reader)
            .or_else(|why| self.refetch.kept(entry.key()).map(str::to_owned).ok_or(why))
    }

    /// An answer to an ask: the record is checked to be the event asked
    /// about (same id, same time: the answer is CloudTrail's, or whoever
    /// answers in its place), kept, and shown if its JSON view is open.
    fn record_answered(&mut self, answer: RecordAnswer) {
        let Some(key) = self.refetch.answered(&answer.event_id) else {
            return;
        };
        let Some(entry) = self.data.log.get(key) else {
            // The event left the log meanwhile; so did its view.
            return;
        };
        let object = entry.at.as_ref().filter(|at| at.in_s3());
        let from = place(object);
        let found = match answer.record {
            Ok(Some(text)) if is_record_of(&text, &entry.event) => Ok(text),
            Ok(Some(_)) if object.is_some() => Err(format!(
                "{from} changed since it was read: showing the parsed fields"
            )),
            Ok(Some(_)) => Err(
                "CloudTrail's record of this id is another event (its id or time differ): showing the parsed fields"
                    .to_owned(),
            ),
            Ok(None) => Err(format!(
                "{from} has no event of this id (CloudTrail's event history keeps 90 days): showing the parsed fields"
            )),
            Err(why) => Err(format!(
                "cannot read the record from {from}: {why}: showing the parsed fields"
            )),
        };
        if let Ok(text) = &found {
            self.refetch.keep(key, text.clone());
        }
        if let Some(Overlay::Json(j)) = &self.overlay
            && j.event == Some(key)
        {
            let hscroll = j.hscroll;
            show_json(self, key, found);
            if let Some(Overlay::Json(j)) = &mut self.overlay {
                j.hscroll = hscroll;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Action, Data, DataConfig, Mode, Pane, update};
    use crate::event::{PackedEvent, Parsed, parse_record};

    fn record(id: &str, second: u32) -> String {
        format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:{second:02}Z","eventID":"{id}","awsRegion":"us-east-1","recipientAccountId":"111122223333","onlyInTheRecord":true}}"#
        )
    }

    fn event(id: &str, second: u32) -> PackedEvent {
        match parse_record(&record(id, second)) {
            Ok(Parsed::Kms(e)) => PackedEvent::pack(&e),
            other => panic!("{other:?}"),
        }
    }

    /// A live app holding `n` events, none with its record.
    fn live_app(n: u32) -> App {
        let mut config = DataConfig::live();
        config.raw_capacity = 0;
        // Events of 2025 are not expired by a clock at 2025.
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 1, 1, 0, 1, 0)
            .single()
            .expect("a time");
        let mut data = Data::new(&config, Vec::new()).expect("no rules");
        data.ingest(
            (0..n).map(|i| event(&format!("e{i}"), i)).collect(),
            Some(now),
        );
        App::new(data, Mode::Live, now)
    }

    fn key_of(app: &App, id: &str) -> EventKey {
        let from = DateTime::<Utc>::MIN_UTC;
        let entry = app.data.log.newest_first(from, app.now);
        entry
            .map(|e| (e.key(), e.event.view().event_id.into_owned()))
            .find(|(_, i)| i == id)
            .map(|(k, _)| k)
            .expect("held")
    }

    #[test]
    fn one_ask_per_id_and_a_few_at_once() {
        let app = live_app(6);
        let mut r = Refetch::default();
        let keys: Vec<EventKey> = (0..6).map(|i| key_of(&app, &format!("e{i}"))).collect();
        let entry = |i: usize| app.data.log.get(keys[i]).expect("held");
        assert_eq!(r.ask(keys[0], entry(0)), Ok(READING));
        // Asked again while pending: nothing more is sent.
        assert_eq!(r.ask(keys[0], entry(0)), Ok(READING));
        let asks = r.take_asks();
        assert_eq!(asks.len(), 1);
        assert_eq!(asks[0].event_id, "e0");
        assert_eq!(asks[0].region, "us-east-1");
        assert_eq!(asks[0].account.as_deref(), Some("111122223333"));
        assert_eq!(r.ask(keys[0], entry(0)), Ok(READING));
        assert!(r.take_asks().is_empty(), "asked twice for one id");
        for (i, key) in keys.iter().enumerate().take(MAX_ASKING).skip(1) {
            assert_eq!(r.ask(*key, entry(i)), Ok(READING));
        }
        let refused = r.ask(keys[MAX_ASKING], entry(MAX_ASKING));
        assert!(refused.is_err_and(|note| note.contains("already")));
        assert_eq!(r.take_asks().len(), MAX_ASKING - 1);
        // An answer frees its place; an answer nobody asked for changes nothing.
        assert_eq!(r.answered("e0"), Some(keys[0]));
        assert_eq!(r.answered("e0"), None);
        assert_eq!(r.answered("unknown"), None);
        assert_eq!(r.ask(keys[MAX_ASKING], entry(MAX_ASKING)), Ok(READING));
        assert_eq!(r.take_asks().len(), 1);
    }

    #[test]
    fn only_the_newest_records_fetched_are_kept() {
        let app = live_app(MAX_KEPT as u32 + 2);
        let mut r = Refetch::default();
        for i in 0..MAX_KEPT + 2 {
            r.keep(key_of(&app, &format!("e{i}")), format!("record {i}"));
        }
        assert_eq!(r.kept.len(), MAX_KEPT);
        assert_eq!(r.kept(key_of(&app, "e0")), None);
        assert_eq!(r.kept(key_of(&app, "e1")), None);
        let newest = key_of(&app, &format!("e{}", MAX_KEPT + 1));
        assert_eq!(
            r.kept(newest),
            Some(format!("record {}", MAX_KEPT + 1).as_str())
        );
    }

    fn open_oldest(app: &mut App) {
        let now = app.now;
        if app.overlay.is_some() {
            update(app, Action::Back, now);
        }
        update(app, Action::Focus(Pane::Events), now);
        update(app, Action::Bottom, now);
        update(app, Action::Enter, now);
    }

    fn note(app: &App) -> Option<String> {
        match &app.overlay {
            Some(Overlay::Json(j)) => j.note.clone(),
            other => panic!("no JSON view: {other:?}"),
        }
    }

    fn answer(id: &str, record: Result<Option<String>, String>) -> SourceMsg {
        SourceMsg::Record(RecordAnswer {
            event_id: id.to_owned(),
            record,
        })
    }

    #[test]
    fn the_answer_replaces_the_view_only_when_it_is_the_same_event() {
        let mut app = live_app(3);
        let now = app.now;
        open_oldest(&mut app);
        assert_eq!(note(&app).as_deref(), Some(READING));
        assert_eq!(app.take_record_asks().len(), 1);
        // Another event's record under the asked id: refused.
        app.apply(answer("e0", Ok(Some(record("e9", 0)))), now);
        assert!(note(&app).is_some_and(|n| n.contains("another event")));
        // The same id at another time: refused too.
        open_oldest(&mut app);
        app.apply(answer("e0", Ok(Some(record("e0", 7)))), now);
        assert!(note(&app).is_some_and(|n| n.contains("another event")));
        // None at all, then a failure: said so.
        open_oldest(&mut app);
        app.apply(answer("e0", Ok(None)), now);
        assert!(note(&app).is_some_and(|n| n.contains("no event of this id")));
        open_oldest(&mut app);
        app.apply(answer("e0", Err("ThrottlingException: slow".into())), now);
        assert!(note(&app).is_some_and(|n| n.contains("ThrottlingException")));
        // The record itself: shown, and kept for the next opening.
        open_oldest(&mut app);
        app.apply(answer("e0", Ok(Some(record("e0", 0)))), now);
        assert_eq!(note(&app), None);
        let Some(Overlay::Json(j)) = &app.overlay else {
            panic!("no JSON view")
        };
        assert!(j.lines.iter().any(|l| l.contains("onlyInTheRecord")));
        app.take_record_asks();
        update(&mut app, Action::Back, now);
        open_oldest(&mut app);
        assert_eq!(note(&app), None, "kept");
        assert!(app.take_record_asks().is_empty());
    }

    #[test]
    fn an_answer_leaves_another_events_view_alone() {
        let mut app = live_app(3);
        let now = app.now;
        open_oldest(&mut app);
        let asked = app.take_record_asks();
        // The person moved on to the newest event meanwhile.
        update(&mut app, Action::Back, now);
        update(&mut app, Action::Top, now);
        update(&mut app, Action::Enter, now);
        app.apply(answer(&asked[0].event_id, Ok(Some(record("e0", 0)))), now);
        let Some(Overlay::Json(j)) = &app.overlay else {
            panic!("no JSON view")
        };
        assert!(j.title.contains("e2"), "{}", j.title);
        assert_eq!(j.note.as_deref(), Some(READING));
        assert!(!j.lines.iter().any(|l| l.contains("onlyInTheRecord")));
    }
}
