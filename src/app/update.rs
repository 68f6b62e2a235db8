//! `update(app, action, now)`: the one place the state changes. Pure: no
//! terminal, no files, no clock; what needs the outside world comes back
//! as an [`Effect`] for the loop to carry out. Overlays (the JSON view,
//! help, prompts) are handled in `overlay`, the mouse in `mouse`.

use chrono::{DateTime, Duration, Utc};
use regex::RegexBuilder;

use super::mouse::{click, wheel};
use super::overlay::{help, json, open_json, prompt};
use super::query::DeniedKind;
use super::sort_key::sort_keys;
use super::{
    Action, App, Drill, DrillTarget, Filter, MAX_SECTIONS, Overlay, Pane, Prompt, PromptKind,
    Section, Status,
};

/// What the loop should do after an update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Effect {
    /// Redraw: the view may have changed.
    #[default]
    Redraw,
    Quit,
    /// Write the current view to a file (I/O is the loop's job).
    Export,
    /// Show the next built-in theme (the loop owns the theme).
    CycleTheme,
}

/// Rows a page key moves.
pub(super) const PAGE: usize = 10;
/// Rows a wheel notch moves.
pub(super) const WHEEL: usize = 3;

pub fn update(app: &mut App, action: Action, now: DateTime<Utc>) -> Effect {
    app.now = now;
    app.refresh();
    let fx = dispatch(app, action);
    // The rows follow whatever changed, so callers (and tests) see them.
    app.refresh();
    fx
}

// One match over every action reads better than the same split in ten.
#[allow(clippy::too_many_lines)]
fn dispatch(app: &mut App, action: Action) -> Effect {
    let mut fx = Effect::Redraw;
    if action == Action::Quit {
        app.quit = true;
        return Effect::Quit;
    }
    match app.overlay.take() {
        Some(Overlay::Prompt(p)) => {
            prompt(app, p, action);
            return fx;
        }
        Some(Overlay::Json(j)) => {
            json(app, j, action);
            return fx;
        }
        Some(Overlay::Help { scroll }) => {
            help(app, scroll, action);
            return fx;
        }
        None => {}
    }
    if !matches!(action, Action::Up | Action::Down) {
        app.status = None;
    }
    match action {
        Action::NextPane | Action::Right if !app.drills.is_empty() => step_section(app, true),
        Action::PrevPane | Action::Left if !app.drills.is_empty() => step_section(app, false),
        Action::NextPane => app.focus = app.focus.step(true),
        Action::PrevPane => app.focus = app.focus.step(false),
        // Sideways means nothing outside drill-downs and the JSON view.
        Action::Quit | Action::Left | Action::Right | Action::Input(_) | Action::Backspace => {}
        Action::Focus(p) => {
            app.drills.clear();
            app.focus = p;
        }
        Action::Up => move_by(app, -1),
        Action::Down => move_by(app, 1),
        Action::PageUp => move_by(app, -PAGE.cast_signed()),
        Action::PageDown => move_by(app, PAGE.cast_signed()),
        Action::Top => move_by(app, isize::MIN / 2),
        Action::Bottom => move_by(app, isize::MAX / 2),
        Action::Enter => enter(app),
        Action::Back => back(app),
        Action::Filter => {
            let input = current_filter(app)
                .map(|f| f.text.clone())
                .unwrap_or_default();
            app.overlay = Some(Overlay::Prompt(Prompt {
                kind: PromptKind::Filter,
                input,
                error: None,
            }));
        }
        Action::CycleSort | Action::ReverseSort if !app.drills.is_empty() => {
            status(
                app,
                "sorting applies to the panes; drill-downs list the busiest first",
            );
        }
        Action::CycleSort => {
            let n = sort_keys(app.focus).len();
            let sort = &mut app.panes[app.focus.index()].sort;
            sort.column = (sort.column + 1) % n;
            sort.reversed = false;
        }
        Action::ReverseSort => {
            let sort = &mut app.panes[app.focus.index()].sort;
            sort.reversed = !sort.reversed;
        }
        Action::CycleWindow => {
            app.window = app.window.next();
        }
        Action::Pause => {
            if app.paused.take().is_none() {
                app.paused = Some(app.view_time());
                status(
                    app,
                    "paused: the view is frozen, data keeps arriving (p resumes)",
                );
            }
        }
        Action::Ack => ack(app),
        Action::Silence => {
            if let Some((rule, group)) = selected_alert(app) {
                app.overlay = Some(Overlay::Prompt(Prompt {
                    kind: PromptKind::Silence { rule, group },
                    input: "1h".to_owned(),
                    error: None,
                }));
            } else {
                status(app, "select an alert to silence (pane 4)");
            }
        }
        Action::Export => fx = Effect::Export,
        Action::Help => app.overlay = Some(Overlay::Help { scroll: 0 }),
        Action::CycleTheme => fx = Effect::CycleTheme,
        Action::TimeBack => travel(app, false),
        Action::TimeForward => travel(app, true),
        Action::PrevAlert | Action::NextAlert => {
            let t = app.view_time();
            let e = &app.data.episodes;
            let target = if action == Action::PrevAlert {
                e.prev_start(t)
            } else {
                e.next_start(t)
            };
            match target {
                Some(t) => set_cursor(app, t),
                None => status(app, "no alert that way"),
            }
        }
        Action::TimeEnd => {
            app.cursor = None;
            app.paused = None;
        }
        Action::Click { column, row } => click(app, column, row),
        Action::ScrollUp { column, row } => wheel(app, column, row, -WHEEL.cast_signed()),
        Action::ScrollDown { column, row } => wheel(app, column, row, WHEEL.cast_signed()),
    }
    fx
}

pub(super) fn status(app: &mut App, text: &str) {
    app.status = Some(Status {
        text: text.to_owned(),
        warning: false,
    });
}

pub(super) fn warn(app: &mut App, text: &str) {
    app.status = Some(Status {
        text: text.to_owned(),
        warning: true,
    });
}

/// Rows in the list that has the selection.
pub(crate) fn current_len(app: &App) -> usize {
    let s = &app.snapshot;
    if let Some(d) = app.drills.last() {
        let Some(v) = &s.drill else { return 0 };
        return match d.current() {
            Section::Keys => v.keys.len(),
            Section::Principals => v.principals.len(),
            Section::Contexts => v.contexts.len(),
            Section::Events => v.events.len(),
            Section::Callers => v.callers.len(),
            Section::Resources => v.resources.len(),
        };
    }
    match app.focus {
        Pane::Principals => s.principals.len(),
        Pane::Denied => s.denied_rows.len(),
        Pane::Keys => s.keys.len(),
        Pane::Alerts => s.alerts.len(),
        Pane::Events => s.events.len(),
        Pane::Resources => s.resources.rows.len(),
        Pane::Usage => s.usage.quota_rows.len(),
    }
}

pub(super) fn current_list(app: &mut App) -> &mut super::ListState {
    match app.drills.last_mut() {
        Some(d) => {
            let i = d.section.min(MAX_SECTIONS - 1);
            &mut d.lists[i]
        }
        None => &mut app.panes[app.focus.index()].list,
    }
}

fn current_filter(app: &App) -> Option<&Filter> {
    match app.drills.last() {
        Some(d) => d.filter.as_ref(),
        None => app.panes[app.focus.index()].filter.as_ref(),
    }
}

pub(super) fn move_by(app: &mut App, delta: isize) {
    let len = current_len(app);
    let list = current_list(app);
    let max = len.saturating_sub(1);
    let to = list.selected.saturating_add_signed(delta).min(max);
    list.select(to);
}

fn step_section(app: &mut App, forward: bool) {
    if let Some(d) = app.drills.last_mut() {
        let n = d.target.sections().len();
        d.section = if forward {
            (d.section + 1) % n
        } else {
            (d.section + n - 1) % n
        };
    }
}

fn push(app: &mut App, target: DrillTarget) {
    app.drills.push(Drill::new(target));
}

fn enter(app: &mut App) {
    if app.drills.is_empty() {
        enter_pane(app);
    } else {
        enter_section(app);
    }
}

/// Enter in a drill-down's section: deeper, or the event's JSON.
fn enter_section(app: &mut App) {
    let s = &app.snapshot;
    if let Some(d) = app.drills.last() {
        let sel = d.lists[d.section.min(MAX_SECTIONS - 1)].selected;
        let Some(v) = &s.drill else { return };
        match d.current() {
            Section::Keys => {
                if let Some(k) = v.keys.get(sel) {
                    let arn = k.arn.clone();
                    push(app, DrillTarget::Key(arn));
                }
            }
            Section::Principals => {
                if let Some(p) = v.principals.get(sel) {
                    let name = p.name.to_string();
                    push(app, DrillTarget::Principal(name));
                }
            }
            Section::Callers => {
                if let Some(p) = v.callers.get(sel) {
                    let name = p.name.clone();
                    push(app, DrillTarget::Principal(name));
                }
            }
            Section::Resources => {
                if let Some(r) = v.resources.get(sel) {
                    let target = resource_target(r);
                    push(app, target);
                }
            }
            Section::Contexts => {
                if let Some(c) = v.contexts.get(sel) {
                    // The events that carried this context value.
                    let text = regex::escape(&c.value);
                    let events = d
                        .target
                        .sections()
                        .iter()
                        .position(|s| *s == Section::Events);
                    if let (Ok(regex), Some(events)) = (RegexBuilder::new(&text).build(), events)
                        && let Some(d) = app.drills.last_mut()
                    {
                        d.filter = Some(Filter {
                            text,
                            regex,
                            selector: None,
                        });
                        d.section = events;
                        d.lists[events.min(MAX_SECTIONS - 1)].reset(0);
                    }
                }
            }
            Section::Events => {
                if let Some(e) = v.events.get(sel) {
                    let key = e.key;
                    open_json(app, key);
                }
            }
        }
    }
}

/// Enter on a pane's row: its drill-down, or the event's JSON.
fn enter_pane(app: &mut App) {
    let s = &app.snapshot;
    let sel = app.panes[app.focus.index()].list.selected;
    match app.focus {
        Pane::Principals => {
            if let Some(r) = s.principals.get(sel) {
                let name = r.name.to_string();
                push(app, DrillTarget::Principal(name));
            }
        }
        Pane::Keys => {
            if let Some(r) = s.keys.get(sel) {
                let arn = r.arn.clone();
                push(app, DrillTarget::Key(arn));
            }
        }
        Pane::Denied => {
            if let Some(r) = s.denied_rows.get(sel) {
                let target = match r.kind {
                    DeniedKind::Principal => DrillTarget::Principal(r.name.to_string()),
                    DeniedKind::Key => DrillTarget::Key(r.name.to_string()),
                    DeniedKind::SourceIp => DrillTarget::SourceIp(r.name.to_string()),
                };
                push(app, target);
            }
        }
        Pane::Alerts => {
            if let Some(a) = s.alerts.get(sel) {
                let e = &a.episode;
                let target = DrillTarget::Alert {
                    rule: e.rule.clone(),
                    group: e.group.clone(),
                    first: e.first,
                };
                push(app, target);
            }
        }
        Pane::Events => {
            if let Some(e) = s.events.get(sel) {
                let key = e.key;
                open_json(app, key);
            }
        }
        Pane::Resources => {
            if let Some(r) = s.resources.rows.get(sel) {
                let target = resource_target(r);
                push(app, target);
            }
        }
        // The principals behind the selected row are already listed.
        Pane::Usage => {}
    }
}

fn resource_target(r: &super::resources::ResourceRow) -> DrillTarget {
    DrillTarget::Resource {
        service: r.service,
        name: r.name.to_string(),
    }
}

/// Closes the top drill-down, else clears the pane's filter.
fn back(app: &mut App) {
    if app.drills.pop().is_none() && app.panes[app.focus.index()].filter.take().is_some() {
        app.panes[app.focus.index()].list.reset(0);
    }
}

fn selected_alert(app: &App) -> Option<(String, String)> {
    if let Some(d) = app.drills.last() {
        if let DrillTarget::Alert { rule, group, .. } = &d.target {
            return Some((rule.clone(), group.clone()));
        }
        return None;
    }
    if app.focus != Pane::Alerts {
        return None;
    }
    let sel = app.panes[Pane::Alerts.index()].list.selected;
    app.snapshot
        .alerts
        .get(sel)
        .map(|a| (a.episode.rule.clone(), a.episode.group.clone()))
}

fn ack(app: &mut App) {
    match selected_alert(app) {
        Some((rule, group)) => {
            if app.data.ack(&rule, &group) {
                status(app, &format!("acknowledged {rule}"));
            } else {
                warn(app, "that alert is no longer held by the engine");
            }
        }
        None => status(app, "select an alert to acknowledge (pane 4)"),
    }
}

fn set_cursor(app: &mut App, t: DateTime<Utc>) {
    let end = app.end();
    let start = app.data.first.unwrap_or(end);
    app.cursor = if t >= end { None } else { Some(t.max(start)) };
}

fn travel(app: &mut App, forward: bool) {
    if app.data.first.is_none() {
        status(app, "no data to travel through yet");
        return;
    }
    let step = app.window.duration().unwrap_or(Duration::hours(1));
    let t = app.view_time();
    set_cursor(app, if forward { t + step } else { t - step });
}
