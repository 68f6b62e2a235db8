//! The dashboard in a terminal: one loop owns the [`App`]; the input
//! reader, the signal watcher, the file reader and the live sources send
//! it owned messages over one bounded channel. It draws only when
//! something changed, at most once per frame budget while data streams
//! in, and not at all while idle (live mode redraws once a second, when
//! the clock it shows moves).

pub mod export;
mod input;
pub mod terminal;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use crossterm::event::{Event, KeyEventKind, MouseEventKind};

use crate::alert::RuleSpec;
use crate::app::{Action, App, Data, DataConfig, Effect, Keymap, Loading, Mode, Status, update};
use crate::clock::Clock;
use crate::feed::SourceMsg;
use crate::source::files::Input;
use crate::source::trail_fetch::TrailPlan;
use crate::ui::theme::Theme;

pub use export::default_dir as default_export_dir;

/// Where the dashboard's data comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Log files: the paths as given, and what they expand to.
    Files {
        paths: Vec<PathBuf>,
        inputs: Vec<Input>,
        /// The `s3://` sources, read after `inputs`.
        s3: Option<Box<TrailPlan>>,
    },
    /// The live sources, through the feed channel; the JSON view's asks
    /// for records the dashboard no longer holds go to `records`.
    Live {
        records: Option<tokio::sync::mpsc::UnboundedSender<crate::feed::RecordAsk>>,
    },
    /// An Athena table: its queries run elsewhere and send their answers
    /// through the feed channel; drill-downs are asked for on `drills`.
    Athena {
        status: crate::feed::AthenaStatus,
        drills: tokio::sync::mpsc::UnboundedSender<crate::app::DrillTarget>,
    },
}

/// Everything [`run_dashboard`] needs besides the feed and the clock.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    pub source: Source,
    /// Say DEMO in the header (simulated data).
    pub demo: bool,
    pub theme: Theme,
    pub keymap: Keymap,
    /// Warnings to show once the screen is up (bad theme, bad keys…).
    pub warnings: Vec<String>,
    pub rules: Vec<RuleSpec>,
    pub threads: usize,
    /// A test hook: this key makes the loop panic (to prove the terminal
    /// is restored on a panic).
    pub panic_key: Option<char>,
    /// Where `e` writes its files.
    pub export_dir: PathBuf,
    /// `--who`: only the calls it selects are counted and shown.
    pub who: crate::who::Who,
    /// `--quota` and `--price`, for the Quota & cost pane.
    pub usage: crate::aggregate::usage::UsageSettings,
}

/// A message to the loop.
// Unboxed on purpose: a full channel holds 256 of them (64 KB); boxing
// would cost an allocation per message for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Msg {
    Input(Event),
    Source(SourceMsg),
    Quit,
}

impl From<SourceMsg> for Msg {
    fn from(msg: SourceMsg) -> Self {
        Self::Source(msg)
    }
}

/// Messages waiting at most: a full channel makes senders wait, which is
/// the backpressure that keeps memory bounded. A message can be a log
/// file's events with their records (hundreds, ~2 kB each): 256 of them
/// held 300 MB while the loop caught up with the readers.
const CHANNEL: usize = 32;
/// Redraws at most this often while data keeps arriving.
const FRAME_MS: i64 = 100;
/// The loop stops draining messages to draw after this long.
const DRAIN_MS: i64 = 50;
/// How often the allocator's free pages are given back (see
/// [`crate::memory`]): a walk of its arenas every few seconds costs a few
/// milliseconds on another thread.
const TRIM_EVERY: StdDuration = StdDuration::from_secs(5);

/// The loop's one channel. Live sources are given its sender before the
/// loop starts (see [`run_dashboard`]); files, input and signals are
/// wired by the loop itself.
pub fn channel() -> (SyncSender<Msg>, Receiver<Msg>) {
    mpsc::sync_channel(CHANNEL)
}

/// Runs the dashboard until the user quits (or a signal asks it to),
/// reading every message from `channel`.
// The options are handed over for good (live mode builds them per run).
#[allow(clippy::needless_pass_by_value)]
pub fn run_dashboard(
    opts: DashboardOptions,
    channel: (SyncSender<Msg>, Receiver<Msg>),
    clock: &dyn Clock,
) -> anyhow::Result<ExitCode> {
    let (tx, rx) = channel;
    let mut app = build_app(&opts, clock.now())?;
    // Where the JSON view's asks for records it no longer holds go.
    let mut records = None;
    match &opts.source {
        Source::Files { inputs, s3, .. } => {
            if let Some(plan) = s3 {
                records = Some(crate::source::object_records::serve(
                    plan.options.clone(),
                    tx.clone(),
                ));
            }
            app.data.set_loading(Loading {
                files_total: s3.is_none().then_some(inputs.len()),
                ..Loading::default()
            });
            crate::source::file_feed::spawn(
                inputs.clone(),
                s3.as_deref().cloned(),
                opts.threads,
                tx.clone(),
            );
        }
        // The live sources and Athena's queries were given a sender already.
        Source::Live { records: live } => records.clone_from(live),
        Source::Athena { .. } => {}
    }
    let mut guard = terminal::TerminalGuard::enter().context("cannot set up the terminal")?;
    let _trimmer = crate::memory::Trimmer::start(TRIM_EVERY);
    input::spawn_reader(tx.clone());
    input::spawn_signals(tx);
    let live = matches!(opts.source, Source::Live { .. });
    // The loop owns the look; the app state knows nothing of it.
    let mut theme = opts.theme.clone();
    let mut last_draw: Option<DateTime<Utc>> = None;
    let mut dirty = true;
    let mut shown_second = clock.now().timestamp();
    loop {
        let now = clock.now();
        let due = last_draw.is_none_or(|t| now - t >= Duration::milliseconds(FRAME_MS));
        if dirty && due {
            app.now = now;
            app.refresh();
            let mut hits = Vec::new();
            guard
                .terminal
                .draw(|f| hits = crate::ui::draw(f, &app, &theme))?;
            app.drawn(hits);
            last_draw = Some(now);
            dirty = false;
        }
        // Sleep until a message, the next frame (if one is owed) or the
        // next second (live clock); forever when idle on files.
        let wait = if dirty {
            Some(StdDuration::from_millis(
                u64::try_from(FRAME_MS).unwrap_or(100),
            ))
        } else if live {
            Some(StdDuration::from_secs(1))
        } else {
            None
        };
        let first = match wait {
            Some(w) => match rx.recv_timeout(w) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => break,
            },
        };
        let now = clock.now();
        if live {
            app.data.tick(now);
            app.now = now;
            if now.timestamp() != shown_second && app.cursor.is_none() && app.paused.is_none() {
                shown_second = now.timestamp();
                dirty = true;
            }
        }
        let Some(first) = first else { continue };
        // Coalesce: take everything already waiting (within a budget),
        // then draw once.
        let mut next = Some(first);
        let started = now;
        while let Some(msg) = next {
            let to = records.as_ref();
            match handle(&mut app, &mut theme, &opts, to, msg, clock.now()) {
                Handled::Quit => return Ok(ExitCode::SUCCESS),
                Handled::Changed => dirty = true,
                Handled::Data => {
                    // Paused: the view stays frozen (except while loading).
                    let loading = app.data.loading.as_ref().is_some_and(|l| !l.done);
                    dirty |= app.paused.is_none() || loading;
                }
                Handled::Nothing => {}
            }
            if clock.now() - started > Duration::milliseconds(DRAIN_MS) {
                break;
            }
            next = rx.try_recv().ok();
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn build_app(opts: &DashboardOptions, now: DateTime<Utc>) -> anyhow::Result<App> {
    let (mut config, mode) = match &opts.source {
        Source::Files { paths, .. } => (
            DataConfig::files(),
            Mode::Files(paths.iter().map(|p| p.display().to_string()).collect()),
        ),
        Source::Live { .. } => (DataConfig::live(), Mode::Live),
        Source::Athena { status, .. } => (
            DataConfig::athena(status.bucket_secs),
            Mode::Athena(status.table.clone()),
        ),
    };
    config.store.who = opts.who.clone();
    let data = Data::new(&config, opts.rules.clone()).context("the alert rules do not compile")?;
    let mut app = App::new(data, mode, now);
    if matches!(opts.source, Source::Files { .. }) {
        // A forged eventTime must not become file mode's "now".
        app.data.plausible = Some(crate::event::Plausible::at(now));
        app.data.record_reader = Some(crate::source::files::read_record);
    }
    if let Source::Athena { status, .. } = &opts.source {
        app.data.athena = Some(status.clone());
    }
    app.demo = opts.demo;
    app.keymap = opts.keymap.clone();
    app.usage = opts.usage.clone();
    if !opts.warnings.is_empty() {
        app.status = Some(Status {
            text: opts.warnings.join("; "),
            warning: true,
        });
    }
    Ok(app)
}

enum Handled {
    Quit,
    /// The view changed: redraw.
    Changed,
    /// Data changed: redraw unless paused.
    Data,
    Nothing,
}

fn handle(
    app: &mut App,
    theme: &mut Theme,
    opts: &DashboardOptions,
    records: Option<&tokio::sync::mpsc::UnboundedSender<crate::feed::RecordAsk>>,
    msg: Msg,
    now: DateTime<Utc>,
) -> Handled {
    match msg {
        Msg::Quit => Handled::Quit,
        Msg::Source(update) => {
            // A record the JSON view waits for shows even while paused.
            let answer = matches!(update, SourceMsg::Record(_));
            app.apply(update, now);
            if answer {
                Handled::Changed
            } else {
                Handled::Data
            }
        }
        Msg::Input(event) => {
            let action = match event {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    if let (Some(c), crossterm::event::KeyCode::Char(k)) =
                        (opts.panic_key, key.code)
                        && c == k
                    {
                        panic!("panic key pressed (test hook)");
                    }
                    app.keymap.action(&key, app.input_mode())
                }
                Event::Mouse(m) => match m.kind {
                    MouseEventKind::Down(_) => Some(Action::Click {
                        column: m.column,
                        row: m.row,
                    }),
                    MouseEventKind::ScrollUp => Some(Action::ScrollUp {
                        column: m.column,
                        row: m.row,
                    }),
                    MouseEventKind::ScrollDown => Some(Action::ScrollDown {
                        column: m.column,
                        row: m.row,
                    }),
                    _ => None,
                },
                Event::Resize(..) => return Handled::Changed,
                _ => None,
            };
            let Some(action) = action else {
                return Handled::Nothing;
            };
            let fx = update(app, action, now);
            if fx == Effect::Quit {
                return Handled::Quit;
            }
            // On Athena a drill-down asks for its events once.
            if let (Some(target), Source::Athena { drills, .. }) =
                (app.athena_drill(), &opts.source)
                && drills.send(target).is_err()
            {
                app.status = Some(Status {
                    text: "Athena's queries have stopped: no events can be asked for".into(),
                    warning: true,
                });
            }
            send_asks(app, records, now);
            if fx == Effect::Export {
                export::write(app, &opts.export_dir, now);
            }
            if fx == Effect::CycleTheme {
                *theme = Theme::next_builtin(&theme.name, theme.no_color);
                app.status = Some(Status {
                    text: format!("theme: {}", theme.name),
                    warning: false,
                });
            }
            Handled::Changed
        }
    }
}

/// Sends the JSON view's asks for records to whoever reads them again
/// (the live sources, or S3); an ask that cannot go is answered at once,
/// so the view says why.
pub fn send_asks(
    app: &mut App,
    records: Option<&tokio::sync::mpsc::UnboundedSender<crate::feed::RecordAsk>>,
    now: DateTime<Utc>,
) {
    for ask in app.take_record_asks() {
        let event_id = ask.event_id.clone();
        if records.is_none_or(|tx| tx.send(ask).is_err()) {
            let answer = crate::feed::RecordAnswer {
                event_id,
                record: Err("the source that reads records again has stopped".to_owned()),
            };
            app.apply(SourceMsg::Record(answer), now);
        }
    }
}
