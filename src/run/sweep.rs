//! `report --source aws`: sweeps the window in every selected account ×
//! region in parallel, each at its region's pace, and hands the records to
//! the report's readers as they come, a chunk at a time, through the queue
//! S3 objects take — the same path log files take, with memory for a few
//! chunks whatever the window holds.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use super::live::{accounts, runtime};
use super::{EXIT_INPUT_PROBLEM, usage_error};
use crate::alert::AlertChange;
use crate::aws::{CloudTrailReader, LookupWindow, TargetOptions};
use crate::feed::SourceId;
use crate::report::{Report, ReportSettings, build_report};
use crate::source::files::{Input, Problem};
use crate::source::lookup::{Lockstep, Outlet, Pacer, Record, Stopped, Swept, sweep};
use crate::source::trail_fetch::{Arriving, Fetched};
use crate::text::escape_control;

/// Chunks read and waiting for a reader: a slow reader holds the sweeps
/// back once this many are waiting.
const CHUNKS_WAITING: usize = 4;

/// Sweeps the window `settings.range` (by default the last hour) and
/// builds the report from it; `Err` with the exit status (after saying
/// why) when nothing could be swept at all: no credentials, or every
/// region failed before handing on an event.
pub fn report(
    options: &TargetOptions,
    settings: &ReportSettings,
    now: DateTime<Utc>,
    on_problem: &(dyn Fn(Problem) + Sync),
) -> Result<(Report, Vec<AlertChange>), ExitCode> {
    let window = LookupWindow {
        start: settings
            .range
            .since
            .unwrap_or(now - chrono::Duration::hours(1)),
        end: settings.range.until.unwrap_or(now),
    };
    let sweeping = start(options, window).map_err(|message| {
        eprintln!("kmstop: {message}");
        ExitCode::from(EXIT_INPUT_PROBLEM)
    })?;
    let built = build_report(&sweeping.queue, settings, on_problem);
    let summary = sweeping.finish();
    for message in &summary.failed {
        eprintln!("kmstop: {message}");
    }
    if summary.failed.len() == summary.regions && summary.events == 0 {
        return Err(ExitCode::from(EXIT_INPUT_PROBLEM));
    }
    let (mut report, changes) = built.map_err(|e| usage_error(&e.to_string()))?;
    report.skipped.regions_failed = summary.failed.len() as u64;
    // A sweep's inputs are its regions: the chunks they came in are how
    // they were read, and their number says nothing about the window.
    report.files_read = summary.regions_read;
    Ok((report, changes))
}

/// Sweeps `window` in every selected account × region and hands each
/// event to a consumer `make` gives (one per reader thread), as the report
/// reads them. Returns the consumers and a message per region that failed;
/// `Err` when no sweep could start.
pub(super) fn sweep_into<C, F>(
    options: &TargetOptions,
    window: LookupWindow,
    threads: usize,
    make: F,
    on_problem: &(dyn Fn(Problem) + Sync),
) -> Result<(Vec<C>, Vec<String>), String>
where
    C: crate::source::files::Consumer,
    F: Fn() -> C + Sync,
{
    let sweeping = start(options, window)?;
    let (consumers, _) = crate::source::files::scan(&sweeping.queue, threads, make, on_problem);
    let summary = sweeping.finish();
    Ok((consumers, summary.failed))
}

/// Sweeps under way; the queue is the report's input.
struct Sweeping {
    runtime: tokio::runtime::Runtime,
    tasks: Vec<(SourceId, tokio::task::JoinHandle<Result<Swept, Stopped>>)>,
    queue: Arriving,
}

/// What the sweeps came to.
struct Summary {
    regions: usize,
    /// Regions that handed the report events.
    regions_read: u64,
    /// Events handed to the report, of every region.
    events: u64,
    /// One message per account × region that failed, naming it, why, and
    /// which of its events the report holds.
    failed: Vec<String>,
}

/// Starts sweeping every selected account × region.
fn start(options: &TargetOptions, window: LookupWindow) -> Result<Sweeping, String> {
    let runtime = runtime().map_err(|e| format!("cannot start: {e}"))?;
    let accounts = runtime.block_on(accounts(options))?;
    let bars = MultiProgress::with_draw_target(if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style =
        ProgressStyle::with_template("{spinner} {prefix}: {pos} events, up to {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let sources: Vec<(SourceId, CloudTrailReader)> = accounts
        .iter()
        .flat_map(|account| {
            account.sources().map(|source| {
                let reader = CloudTrailReader::new(&account.config.config, &source.region);
                (source, reader)
            })
        })
        .collect();
    let lockstep = Arc::new(Lockstep::new(sources.len(), window.start));
    let next_index = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel(CHUNKS_WAITING);
    let mut tasks = Vec::new();
    for (who, (source, reader)) in sources.into_iter().enumerate() {
        let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()));
        bar.set_prefix(source.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        let mut outlet = RegionOutlet {
            name: format!("aws:{source}"),
            who,
            lockstep: Arc::clone(&lockstep),
            tx: tx.clone(),
            next_index: Arc::clone(&next_index),
            bar,
        };
        let task = runtime.spawn(async move {
            let pacer = Pacer::lookup_events();
            let swept = sweep(&reader, &pacer, window, &mut outlet).await;
            match &swept {
                Ok(swept) => outlet.bar.finish_with_message(format!(
                    "done: {} requests, {} throttled",
                    swept.requests, swept.throttles
                )),
                Err(_) => outlet.bar.abandon_with_message("failed"),
            }
            swept
        });
        tasks.push((source, task));
    }
    // The queue ends when every region's outlet has gone.
    drop(tx);
    let queue = Arriving::new(
        Vec::new(),
        rx,
        Arc::new(Fetched::default()),
        ProgressBar::hidden(),
    );
    Ok(Sweeping {
        runtime,
        tasks,
        queue,
    })
}

impl Sweeping {
    /// Waits for every sweep to end (the report has read what they sent).
    fn finish(self) -> Summary {
        let Self {
            runtime,
            tasks,
            queue,
        } = self;
        drop(queue);
        let mut summary = Summary {
            regions: tasks.len(),
            regions_read: 0,
            events: 0,
            failed: Vec::new(),
        };
        for (source, task) in tasks {
            let events = match runtime.block_on(task) {
                Ok(Ok(swept)) => swept.events,
                Ok(Err(stopped)) => {
                    summary.failed.push(failure(&source, &stopped));
                    stopped.swept.events
                }
                Err(e) => {
                    summary
                        .failed
                        .push(format!("{source}: the sweep stopped: {e}"));
                    0
                }
            };
            summary.events += events;
            summary.regions_read += u64::from(events > 0);
        }
        summary
    }
}

/// A failed region, why, and exactly which of its events the report holds.
fn failure(source: &SourceId, stopped: &Stopped) -> String {
    let why = escape_control(&stopped.error.to_string()).into_owned();
    let at = stopped
        .complete_before
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    if stopped.swept.events == 0 {
        format!("{source}: {why}; none of its events are in the report")
    } else {
        format!(
            "{source}: {why}; its {} events before {at} are in the report, those from {at} on are left out",
            stopped.swept.events
        )
    }
}

/// One region's way to the report's readers.
struct RegionOutlet {
    name: String,
    who: usize,
    lockstep: Arc<Lockstep>,
    tx: mpsc::Sender<(usize, Input)>,
    /// Inputs are numbered across regions in the order they are sent, so
    /// the report replays alerts in about the order the times came.
    next_index: Arc<AtomicUsize>,
    bar: ProgressBar,
}

impl Outlet for RegionOutlet {
    async fn reach(&mut self, from: DateTime<Utc>) -> DateTime<Utc> {
        self.lockstep.reach(self.who, from).await
    }

    async fn send(&mut self, records: Vec<Record>) -> bool {
        let mut bytes = Vec::with_capacity(records.iter().map(|(_, r)| r.len() + 1).sum());
        for (_, record) in &records {
            // One record per line: a record with a raw newline (never seen,
            // but the string is AWS's) is made one line without changing it.
            bytes.extend(record.bytes().map(|b| if b == b'\n' { b' ' } else { b }));
            bytes.push(b'\n');
        }
        let Ok(permit) = self.tx.reserve().await else {
            return false;
        };
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        permit.send((
            index,
            Input::Memory {
                name: self.name.clone(),
                bytes: Arc::from(bytes),
            },
        ));
        true
    }

    fn progress(&mut self, events: u64, until: DateTime<Utc>) {
        self.bar.set_position(events);
        self.bar
            .set_message(until.format("%Y-%m-%d %H:%M").to_string());
    }
}

impl Drop for RegionOutlet {
    /// However a sweep ends, the others stop waiting for it.
    fn drop(&mut self) {
        self.lockstep.leave(self.who);
    }
}
