//! The header: where the data comes from and how the sources are doing,
//! how much is happening, what is firing, and which time is shown.

use ratatui::text::{Line, Span};

use super::theme::{Slot, Theme};
use super::widgets::{count, safe};
use crate::app::{App, Mode};
use crate::feed::{Health, LiveTailStatus, SourceStatus, TrailStatus, share_in};

fn health(status: &SourceStatus, now: chrono::DateTime<chrono::Utc>) -> (String, Slot) {
    match &status.health {
        Health::Starting => ("starting".into(), Slot::Muted),
        // Up to date with what CloudTrail shows, which is not yet all that
        // happened: say how much of the last minutes is in while they fill.
        Health::Ok => match status.share_in_at(300, now) {
            Some(share) if share < 0.995 => {
                (format!("last 5 min {} in", share_in(share)), Slot::Ok)
            }
            _ => ("ok".into(), Slot::Ok),
        },
        Health::Lagging { seconds } => (format!("lagging {} min", seconds / 60), Slot::Warn),
        Health::Throttled => ("throttled".into(), Slot::Warn),
        Health::Failing { .. } => ("failing".into(), Slot::Crit),
        Health::Unavailable { .. } => ("unavailable".into(), Slot::Muted),
    }
}

/// The trail beside LookupEvents: complete up to when, or why not read.
fn trail_health(trail: &TrailStatus, now: chrono::DateTime<chrono::Utc>) -> (String, Slot) {
    match (&trail.health, trail.read_to) {
        (Health::Unavailable { .. }, _) => (" · no trail".into(), Slot::Muted),
        (Health::Failing { .. } | Health::Throttled, _) => (" · trail failing".into(), Slot::Crit),
        (Health::Starting, _) | (_, None) => (" · trail starting".into(), Slot::Muted),
        (_, Some(to)) => {
            let behind = (now - to).num_minutes().max(0);
            let slot = if behind > 20 { Slot::Warn } else { Slot::Ok };
            (
                format!(
                    " · trail complete to {} ({behind} min behind)",
                    to.format("%H:%M")
                ),
                slot,
            )
        }
    }
}

/// Live Tail brings events within seconds, but a sample above 500 a
/// second: the header says when it is one.
fn live_tail_health(tail: &LiveTailStatus) -> (String, Slot) {
    match &tail.health {
        Health::Unavailable { .. } => (" · no live tail".into(), Slot::Muted),
        Health::Failing { .. } | Health::Throttled => (" · live tail failing".into(), Slot::Crit),
        Health::Starting => (" · live tail starting".into(), Slot::Muted),
        _ if tail.sampled => (" · live tail sampled".into(), Slot::Warn),
        _ => (" · live tail".into(), Slot::Ok),
    }
}

/// A bucket width in the largest whole unit.
fn bucket_width(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Two lines: sources, then the numbers and the time.
pub fn lines(app: &App, theme: &Theme, width: u16) -> [Line<'static>; 2] {
    let mut first = vec![Span::styled(" kmstop ", theme.style(Slot::Accent))];
    if app.demo {
        first.push(Span::styled(" DEMO ", theme.style(Slot::Crit)));
        first.push(Span::raw(" "));
    }
    match &app.mode {
        Mode::Files(paths) => files(&mut first, app, theme, paths, width),
        Mode::Live => live(&mut first, app, theme),
        Mode::Athena(table) => athena(&mut first, app, theme, table, width),
    }
    let s = &app.snapshot;
    let mut second = vec![
        Span::styled(" events ", theme.style(Slot::Muted)),
        Span::styled(count(app.data.events_seen), theme.style(Slot::Text)),
    ];
    let who = app.data.store.who();
    if !who.is_everyone() {
        // Every pane below counts only these calls: never let a filtered
        // view pass for the whole account.
        second.push(Span::styled(
            format!(
                "  only {} ({} other left out)",
                safe(&who.to_string(), width / 3),
                count(app.data.store.refused().not_selected)
            ),
            theme.style(Slot::Warn),
        ));
    }
    second.extend([
        Span::styled("  ev/s ", theme.style(Slot::Muted)),
        if let Some(share) = app.filling_total() {
            Span::styled(
                format!("~{:.1}", s.events_per_sec / share.max(0.05)),
                theme.style(Slot::Muted),
            )
        } else {
            Span::styled(format!("{:.1}", s.events_per_sec), theme.style(Slot::Text))
        },
        Span::styled("  firing ", theme.style(Slot::Muted)),
        Span::styled(
            s.firing.to_string(),
            theme.style(if s.firing > 0 { Slot::Crit } else { Slot::Ok }),
        ),
        Span::styled("  window ", theme.style(Slot::Muted)),
        Span::styled(app.window.label(), theme.style(Slot::Text)),
        Span::raw("  "),
    ]);
    let t = s.time.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    if app.cursor.is_some() {
        second.push(Span::styled("cursor ", theme.style(Slot::Accent)));
        second.push(Span::styled(t, theme.style(Slot::Accent)));
    } else {
        second.push(Span::styled(t, theme.style(Slot::Text)));
    }
    if app.paused.is_some() {
        second.push(Span::styled("  PAUSED", theme.style(Slot::Warn)));
    }
    [Line::from(first), Line::from(second)]
}

/// File mode's sources: the paths, how far reading got, the bucket width.
fn files(first: &mut Vec<Span<'static>>, app: &App, theme: &Theme, paths: &[String], w: u16) {
    first.push(Span::styled("files ", theme.style(Slot::Muted)));
    first.push(Span::styled(
        safe(&paths.join(" "), w / 2),
        theme.style(Slot::Text),
    ));
    if let Some(l) = &app.data.loading {
        let (text, slot) = if l.done {
            (format!("  {} file(s) read", l.files_done), Slot::Muted)
        } else {
            let text = match l.files_total {
                Some(total) => format!("  reading {}/{total} files…", l.files_done),
                None => format!("  reading {} files…", l.files_done),
            };
            (text, Slot::Warn)
        };
        first.push(Span::styled(text, theme.style(slot)));
        // The whole range is held, in buckets this wide: say so,
        // or a 1m rate over an hour's bucket reads as a minute's.
        if app.data.store.widened() {
            first.push(Span::styled(
                format!("  per {}", bucket_width(app.data.store.bucket_seconds())),
                theme.style(Slot::Muted),
            ));
        }
        if app.data.implausible > 0 {
            first.push(Span::styled(
                format!("  {} impossible time(s) set aside", app.data.implausible),
                theme.style(Slot::Warn),
            ));
        }
        if l.stats.files_failed > 0 {
            first.push(Span::styled(
                format!("  {} failed", l.stats.files_failed),
                theme.style(Slot::Crit),
            ));
        }
    }
}

/// An Athena table: the window, its buckets, what the queries scanned
/// and cost, and what runs now.
fn athena(first: &mut Vec<Span<'static>>, app: &App, theme: &Theme, table: &str, w: u16) {
    first.push(Span::styled(safe(table, w / 3), theme.style(Slot::Text)));
    let Some(a) = &app.data.athena else {
        return;
    };
    if let (Some(since), Some(until)) = (a.since, a.until) {
        first.push(Span::styled(
            format!(
                "  {} → {}",
                since.format("%Y-%m-%d %H:%M"),
                until.format("%Y-%m-%d %H:%M UTC")
            ),
            theme.style(Slot::Muted),
        ));
    }
    first.push(Span::styled(
        format!("  per {}", bucket_width(a.bucket_secs)),
        theme.style(Slot::Muted),
    ));
    first.push(Span::styled(
        format!(
            "  scanned {} (~${:.4})",
            crate::athena::bytes_text(a.scanned_bytes),
            crate::athena::dollars(a.billed_bytes)
        ),
        theme.style(Slot::Text),
    ));
    if let Some(running) = &a.running {
        first.push(Span::styled(
            format!("  {}", safe(running, w / 3)),
            theme.style(Slot::Warn),
        ));
    } else if let Some(failed) = &a.failed {
        first.push(Span::styled(
            format!("  {}", safe(failed, w / 2)),
            theme.style(Slot::Crit),
        ));
    } else if a.counts_done {
        first.push(Span::styled(
            format!("  {} row(s), counts only", a.rows),
            theme.style(Slot::Muted),
        ));
    }
    if a.running.is_none()
        && let Some(n) = a.alerts
    {
        first.push(Span::styled(
            format!("  · {n} alert(s), {} queries", a.queries),
            theme.style(Slot::Muted),
        ));
    }
}

/// Live sources: who kmstop is, and each region's health.
fn live(first: &mut Vec<Span<'static>>, app: &App, theme: &Theme) {
    for id in &app.data.identities {
        let who = match &id.profile {
            Some(p) => format!("{p}:{}", id.account),
            None => id.account.clone(),
        };
        first.push(Span::styled(safe(&who, 40), theme.style(Slot::Text)));
        first.push(Span::raw(" "));
    }
    for (source, status) in &app.data.sources {
        let (text, slot) = health(status, app.now);
        first.push(Span::styled(
            safe(&source.region, 20),
            theme.style(Slot::Muted),
        ));
        first.push(Span::raw(" "));
        first.push(Span::styled(text, theme.style(slot)));
        if status.own_calls > 0 {
            first.push(Span::styled(
                format!(" · {} own left out", count(status.own_calls)),
                theme.style(Slot::Muted),
            ));
        }
        if let Some(c) = status.coverage {
            first.push(Span::styled(
                format!(" {:.0}% coverage", c * 100.0),
                theme.style(Slot::Warn),
            ));
        }
        if let Some(trail) = app.data.trails.get(source) {
            let (text, slot) = trail_health(trail, app.now);
            first.push(Span::styled(text, theme.style(slot)));
        }
        if let Some(tail) = app.data.live_tails.get(source) {
            let (text, slot) = live_tail_health(tail);
            first.push(Span::styled(text, theme.style(slot)));
        }
        first.push(Span::raw("  "));
    }
    if app.data.sources.is_empty() {
        first.push(Span::styled("connecting…", theme.style(Slot::Muted)));
    }
}
