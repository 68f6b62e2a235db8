//! The overlays' keys: the JSON view of one event (built here, escaped
//! line by line), the help screen, and the prompts (a row filter, a
//! silence's duration) with what their input does.

use chrono::Duration;
use regex::RegexBuilder;

use super::log::EventKey;
use super::update::{PAGE, WHEEL, status, warn};
use super::{Action, App, Filter, JsonView, Mode, Overlay, Prompt, PromptKind};
use crate::feed::RecordAt;
use crate::text::escape_control;

/// A regex bigger than this compiled is refused (a filter is typed by a
/// person; this only stops pathological patterns).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The full JSON of an event: its original record, held or read again
/// from its file, else the parsed fields (with a note saying why). A live
/// event's record is asked for again from CloudTrail meanwhile, a trail
/// object's from S3 (see [`super::refetch`]). Every line is escaped.
pub(super) fn open_json(app: &mut App, key: EventKey) {
    let Some(entry) = app.data.log.get(key) else {
        warn(app, "that event is no longer in memory");
        return;
    };
    let found = match app.record_of(entry) {
        Ok(raw) => Ok(raw),
        // Live events lie nowhere kmstop can read but CloudTrail itself;
        // a trail's object is read again by the loop's sources.
        Err(_)
            if (app.mode == Mode::Live && entry.at.is_none())
                || entry.at.as_ref().is_some_and(RecordAt::in_s3) =>
        {
            match app.refetch.ask(key, entry) {
                Ok(reading) => Err(reading.to_owned()),
                Err(why) => Err(format!("{why}: showing the parsed fields")),
            }
        }
        Err(why) => Err(format!("{why}: showing the parsed fields")),
    };
    show_json(app, key, found);
}

/// Opens the JSON view of the event at `key`: its record, or its parsed
/// fields under a note saying why.
pub(super) fn show_json(app: &mut App, key: EventKey, found: Result<String, String>) {
    let Some(entry) = app.data.log.get(key) else {
        warn(app, "that event is no longer in memory");
        return;
    };
    let v = entry.event.view();
    let (text, note) = match found {
        Ok(raw) => (
            serde_json::from_str::<serde_json::Value>(&raw)
                .and_then(|val| serde_json::to_string_pretty(&val))
                .unwrap_or(raw),
            None,
        ),
        Err(note) => (
            serde_json::to_string_pretty(&fields_json(&v)).unwrap_or_default(),
            Some(escape_control(&note).into_owned()),
        ),
    };
    let lines = text
        .lines()
        .map(|l| escape_control(l).into_owned())
        .collect();
    let title = format!(
        "{} {} {}",
        v.event_name,
        v.time.format("%Y-%m-%d %H:%M:%S"),
        v.event_id
    );
    app.overlay = Some(Overlay::Json(JsonView {
        title: escape_control(&title).into_owned(),
        note,
        lines,
        scroll: 0,
        hscroll: 0,
        event: Some(key),
    }));
}

fn fields_json(v: &crate::event::KmsEvent<'_>) -> serde_json::Value {
    let context: serde_json::Map<String, serde_json::Value> = v
        .encryption_context
        .iter()
        .map(|(k, val)| (k.to_string(), serde_json::Value::from(val.as_ref())))
        .collect();
    serde_json::json!({
        "eventTime": v.time_text,
        "eventID": v.event_id,
        "eventName": v.event_name,
        "awsRegion": v.region,
        "recipientAccountId": v.recipient_account,
        "principal": v.principal,
        "principalType": v.principal_type,
        "principalAccount": v.principal_account,
        "sessionName": v.session_name,
        "sourceIPAddress": v.source_ip,
        "userAgent": v.user_agent,
        "key": v.key.as_ref().map(|k| k.arn.as_ref()),
        "alias": v.alias,
        "outcome": v.outcome.as_str(),
        "errorCode": v.error_code,
        "errorMessage": v.error_message,
        "encryptionContext": context,
    })
}

pub(super) fn json(app: &mut App, mut j: JsonView, action: Action) {
    let max = j.lines.len().saturating_sub(1);
    match action {
        Action::Back | Action::Enter => return,
        Action::Up => j.scroll = j.scroll.saturating_sub(1),
        Action::Down => j.scroll = (j.scroll + 1).min(max),
        Action::PageUp => j.scroll = j.scroll.saturating_sub(PAGE * 2),
        Action::PageDown => j.scroll = (j.scroll + PAGE * 2).min(max),
        Action::Top => j.scroll = 0,
        Action::Bottom => j.scroll = max,
        Action::Left => j.hscroll = j.hscroll.saturating_sub(8),
        Action::Right => j.hscroll += 8,
        Action::ScrollUp { .. } => j.scroll = j.scroll.saturating_sub(WHEEL),
        Action::ScrollDown { .. } => j.scroll = (j.scroll + WHEEL).min(max),
        _ => {}
    }
    app.overlay = Some(Overlay::Json(j));
}

pub(super) fn help(app: &mut App, scroll: usize, action: Action) {
    let max = app.keymap.help().len().saturating_sub(1);
    let scroll = match action {
        Action::Up | Action::ScrollUp { .. } => scroll.saturating_sub(1),
        Action::Down | Action::ScrollDown { .. } => (scroll + 1).min(max),
        Action::PageUp => scroll.saturating_sub(PAGE),
        Action::PageDown => (scroll + PAGE).min(max),
        Action::Top => 0,
        Action::Bottom => max,
        // Any other key closes help (the keymap turns every key that is
        // not a scrolling one into Back while help is open).
        _ => return,
    };
    app.overlay = Some(Overlay::Help { scroll });
}

pub(super) fn prompt(app: &mut App, mut p: Prompt, action: Action) {
    match action {
        Action::Input(c) if p.input.chars().count() < 200 => {
            p.input.push(c);
            p.error = None;
        }
        Action::Backspace => {
            p.input.pop();
            p.error = None;
        }
        Action::Back => return,
        Action::Enter if submit(app, &mut p) => return,
        _ => {}
    }
    app.overlay = Some(Overlay::Prompt(p));
}

/// Applies a prompt's input; false (with the error set) when refused.
fn submit(app: &mut App, p: &mut Prompt) -> bool {
    match &p.kind {
        PromptKind::Filter => {
            let filter = if p.input.is_empty() {
                None
            } else if let Some(selector) = crate::who::Selector::parse_named(&p.input) {
                match selector {
                    Ok(selector) => Some(Filter::of_selector(p.input.clone(), selector)),
                    Err(e) => {
                        p.error = Some(e.to_string());
                        return false;
                    }
                }
            } else {
                match RegexBuilder::new(&p.input)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                {
                    Ok(regex) => Some(Filter {
                        text: p.input.clone(),
                        regex,
                        selector: None,
                    }),
                    Err(e) => {
                        // The error is several lines with a caret; the
                        // last line says what is wrong.
                        let msg = e.to_string();
                        let last = msg
                            .lines()
                            .rev()
                            .find(|l| !l.trim().is_empty())
                            .unwrap_or("");
                        p.error = Some(format!(
                            "invalid regex: {}",
                            last.trim().trim_start_matches("error: ")
                        ));
                        return false;
                    }
                }
            };
            if let Some(d) = app.drills.last_mut() {
                d.filter = filter;
                for l in &mut d.lists {
                    l.reset(0);
                }
            } else {
                let pane = &mut app.panes[app.focus.index()];
                pane.filter = filter;
                pane.list.reset(0);
            }
            true
        }
        PromptKind::Silence { rule, group } => {
            let Some(d) =
                crate::timespec::parse_age(p.input.trim()).filter(|d| *d > Duration::zero())
            else {
                p.error = Some("a duration such as 15m, 1h, 1d".to_owned());
                return false;
            };
            let base = app.data.engine().now().unwrap_or_else(|| app.view_time());
            let (rule, group) = (rule.clone(), group.clone());
            app.data.silence(&rule, &group, base + d);
            status(
                app,
                &format!("silenced {rule} for {}", crate::timespec::format_age(d)),
            );
            true
        }
    }
}
