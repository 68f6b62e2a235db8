//! `kmstop tail`: the live event stream on stdout — JSON lines for `jq`,
//! the raw CloudTrail records, a compact table, or alert changes.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::live::{Account, SourcePlan, accounts, runtime, shutdown_signal};
use crate::alert::Replay;
use crate::alert::{AlertChange, Engine};
use crate::cli::{TailArgs, TailFormat};
use crate::clock::Clock;
use crate::event::{KmsEvent, PackedEvent};
use crate::feed::{
    Health, LiveTailStatus, SourceId, SourceMsg, SourceStatus, TrailStatus, share_in, watermark,
};
use crate::source::lookup::{Ended, PlanSettings, PollerSettings, checkpoint_path, state_dir};
use crate::text::{escape_control, for_terminal};

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// One event as `tail` prints it: the normalized fields, named as the
/// report's JSON names them.
#[derive(Serialize)]
struct EventLine<'a> {
    time: String,
    event_id: &'a str,
    event_name: &'a str,
    region: Option<&'a str>,
    account: Option<&'a str>,
    principal: &'a str,
    principal_type: Option<&'a str>,
    session_name: Option<&'a str>,
    access_key_id: Option<&'a str>,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    key_arn: Option<&'a str>,
    alias: Option<&'a str>,
    outcome: crate::event::Outcome,
    error_code: Option<&'a str>,
    error_message: Option<&'a str>,
    encryption_context: BTreeMap<&'a str, &'a str>,
}

impl<'a> EventLine<'a> {
    fn new(e: &'a KmsEvent<'a>) -> Self {
        Self {
            time: e.time.to_rfc3339_opts(SecondsFormat::Secs, true),
            event_id: &e.event_id,
            event_name: &e.event_name,
            region: e.region.as_deref(),
            account: e.recipient_account.as_deref(),
            principal: &e.principal,
            principal_type: e.principal_type.as_deref(),
            session_name: e.session_name.as_deref(),
            access_key_id: e.access_key_id.as_deref(),
            source_ip: e.source_ip.as_deref(),
            user_agent: e.user_agent.as_deref(),
            key_arn: e.key.as_ref().map(|k| k.arn.as_ref()),
            alias: e.alias.as_deref(),
            outcome: e.outcome,
            error_code: e.error_code.as_deref(),
            error_message: e.error_message.as_deref(),
            encryption_context: e
                .encryption_context
                .iter()
                .map(|(k, v)| (k.as_ref(), v.as_ref()))
                .collect(),
        }
    }
}

pub fn run(args: &TailArgs, clock: Arc<dyn Clock>) -> ExitCode {
    let backfill = args.backfill;
    if backfill < Duration::zero() {
        eprintln!("kmstop: --backfill must not be negative");
        return ExitCode::from(EXIT_USAGE);
    }
    if let Err(message) = args.poll.check(args.targets.profiles.len()) {
        eprintln!("kmstop: {message}");
        return ExitCode::from(EXIT_USAGE);
    }
    let rules = if args.alerts {
        match super::load_rules(args.rules.as_deref()) {
            Some(rules) => Some(rules),
            None => return ExitCode::from(EXIT_USAGE),
        }
    } else {
        None
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kmstop: cannot start: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let options = args.targets.options();
    let accounts = match rt.block_on(accounts(&options)) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("kmstop: {message}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let engine = match rules
        .map(|r| Engine::new(r, crate::inventory::Inventory::default()))
        .transpose()
    {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("kmstop: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    rt.block_on(follow(args, &accounts, engine, clock))
}

/// What `follow` keeps between messages: the output, the alert engine and
/// the events it holds back, and each source's last status.
struct Printer<'a> {
    args: &'a TailArgs,
    engine: Option<Engine>,
    replay: Replay<PackedEvent>,
    out: io::BufWriter<io::Stdout>,
    statuses: BTreeMap<SourceId, SourceStatus>,
    trails: BTreeMap<SourceId, TrailStatus>,
    live_tails: BTreeMap<SourceId, LiveTailStatus>,
    clock: Arc<dyn Clock>,
    /// `--who`: only these calls are printed (and replayed for --alerts).
    who: crate::who::Who,
}

impl Printer<'_> {
    /// Writes what one message asks for and flushes it; a checkpoint is
    /// saved only then, so it never covers an event not yet written.
    fn take(&mut self, update: SourceMsg) -> io::Result<()> {
        match update {
            SourceMsg::Events { mut events, .. } => {
                if !self.who.is_everyone() {
                    events.retain(|e| self.who.matches(&e.view()));
                }
                if let Some(engine) = self.engine.as_mut() {
                    for e in events {
                        self.replay.push(e.time(), e);
                    }
                    let mark = watermark(self.statuses.values());
                    write_ready(
                        engine,
                        &mut self.replay,
                        mark,
                        &mut self.out,
                        self.clock.now(),
                    )?;
                } else {
                    for e in &events {
                        write_event(self.args, e, &mut self.out)?;
                    }
                }
            }
            SourceMsg::Status(status) => {
                report_status(&status, self.statuses.get(&status.source));
                self.statuses.insert(status.source.clone(), status);
            }
            SourceMsg::Trail(trail) => {
                report_trail(&trail, self.trails.get(&trail.source));
                self.trails.insert(trail.source.clone(), trail);
            }
            SourceMsg::LiveTail(tail) => {
                report_live_tail(&tail, self.live_tails.get(&tail.source));
                self.live_tails.insert(tail.source.clone(), tail);
            }
            SourceMsg::Keys { keys, .. } => {
                // The inventory rules (pending deletion, rotation off)
                // judge events by these facts.
                if let Some(engine) = self.engine.as_mut() {
                    let mut inventory = engine.inventory().clone();
                    for k in keys {
                        inventory.update(k);
                    }
                    engine.set_inventory(inventory);
                }
            }
            SourceMsg::Commit(commit) => {
                self.out.flush()?;
                if let Err(e) = commit.run() {
                    eprintln!("kmstop: warning: {}", escape_control(&e.to_string()));
                }
            }
            // `tail` reads no log files, nor Athena, and asks for no
            // record again.
            SourceMsg::Identity(_)
            | SourceMsg::Record(_)
            | SourceMsg::Counted(_)
            | SourceMsg::LeftOut(_)
            | SourceMsg::Athena(_)
            | SourceMsg::Queried(_)
            | SourceMsg::Alerts(_)
            | SourceMsg::FileEvents(_)
            | SourceMsg::FilesRead { .. }
            | SourceMsg::FileProblem(_)
            | SourceMsg::FilesDone(_) => {}
        }
        self.out.flush()
    }

    fn tick(&mut self) -> io::Result<()> {
        if let Some(engine) = self.engine.as_mut() {
            // The engine's time goes no further than what every source has
            // read: an alert is not resolved while events that could
            // extend it may still come.
            let horizon = watermark(self.statuses.values())
                .unwrap_or(self.clock.now() - Duration::minutes(5));
            let changes = engine.tick(horizon);
            write_changes(&changes, &mut self.out, self.clock.now())?;
            self.out.flush()?;
        }
        Ok(())
    }
}

/// How long a stop waits for the pollers' last pages and checkpoints.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

async fn follow(
    args: &TailArgs,
    accounts: &[Account],
    engine: Option<Engine>,
    clock: Arc<dyn Clock>,
) -> ExitCode {
    let (tx, mut rx) = mpsc::channel::<SourceMsg>(64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let tx = crate::source::outbox::Outbox::from(tx);
    let tasks = match spawn_pollers(args, accounts, &clock, &tx, &stop_rx) {
        Ok(tasks) => tasks,
        Err(code) => return code,
    };
    drop(tx);
    let mut printer = Printer {
        args,
        engine,
        replay: Replay::new(Duration::minutes(5), 200_000),
        out: io::BufWriter::new(io::stdout()),
        statuses: BTreeMap::new(),
        trails: BTreeMap::new(),
        live_tails: BTreeMap::new(),
        clock,
        who: args.who.who(),
    };
    if !printer.who.is_everyone() {
        eprintln!(
            "kmstop: tail: printing only the calls of {}",
            escape_control(&printer.who.to_string())
        );
    }
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut exit = ExitCode::SUCCESS;
    let mut writable = true;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let written = tokio::select! {
            update = rx.recv() => match update {
                Some(update) => printer.take(update),
                None => break,
            },
            _ = ticker.tick() => printer.tick(),
            () = &mut shutdown => break,
        };
        if let Err(e) = written {
            if e.kind() != io::ErrorKind::BrokenPipe {
                eprintln!("kmstop: cannot write: {e}");
                exit = ExitCode::from(EXIT_FAILED);
            }
            writable = false;
            break;
        }
    }
    let _ = stop_tx.send(true);
    // Stopping: what the pollers already sent is written and its
    // checkpoints saved, up to their own last ones, within a deadline.
    if writable {
        let deadline = tokio::time::sleep(DRAIN);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                update = rx.recv() => match update {
                    Some(update) => {
                        if printer.take(update).is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
    }
    drop(rx);
    for status in printer.statuses.values().filter(|s| s.own_calls > 0) {
        eprintln!(
            "kmstop: {}: {} of kmstop's own reads left out (--include-own-calls prints them)",
            status.source, status.own_calls
        );
    }
    for task in tasks {
        match task.await {
            Ok(Ended::Unavailable(message)) => {
                eprintln!("kmstop: {}", escape_control(&message));
                exit = ExitCode::from(EXIT_FAILED);
            }
            Err(e) => {
                eprintln!("kmstop: a poller failed: {e}");
                exit = ExitCode::from(EXIT_FAILED);
            }
            Ok(_) => {}
        }
    }
    exit
}

/// One poller per account × region (each with its own pacer: the limit
/// is per region) and, with a state directory, its checkpoint; the key
/// inventory too with `--alerts`.
fn spawn_pollers(
    args: &TailArgs,
    accounts: &[Account],
    clock: &Arc<dyn Clock>,
    tx: &crate::source::outbox::Outbox,
    stop_rx: &watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<Ended>>, ExitCode> {
    let state = state_dir();
    let trail = &args.poll.trail_paths();
    let spawned = super::live::spawn_sources(
        accounts,
        clock,
        tx,
        stop_rx,
        trail,
        |account: &Account, source| {
            let checkpoint = state
                .as_deref()
                .and_then(|dir| checkpoint_path(dir, "tail", source));
            if args.resume && checkpoint.is_none() {
                eprintln!("kmstop: --resume: no state directory (set KMSTOP_STATE_DIR)");
                return Err(ExitCode::from(EXIT_USAGE));
            }
            if !args.resume
                && let Some(path) = &checkpoint
            {
                // A fresh start: an old checkpoint must not bend it.
                let _ = std::fs::remove_file(path);
            }
            Ok(SourcePlan {
                poller: PollerSettings {
                    plan: PlanSettings {
                        first_fresh: args.backfill.min(PlanSettings::default().first_fresh),
                        ..super::live::plan_settings(&args.poll)
                    },
                    backfill: args.backfill,
                    include_own_calls: args.include_own_calls,
                    own_identity: crate::event::OwnIdentity::from_arn(&account.identity.arn),
                    checkpoint,
                    commit_by_consumer: true,
                    ..PollerSettings::default()
                },
                // Only the alert rules need key facts: plain tail makes no
                // KMS calls at all.
                inventory: args
                    .alerts
                    .then_some(crate::source::inventory::DEFAULT_INTERVAL),
                trail_interval: args.poll.trail_interval(),
            })
        },
    );
    spawned.map(|s| s.tasks)
}

/// Feeds the engine the events known to be in order (up to the sources'
/// watermark, else `lateness` behind the newest) and prints the alert
/// changes they cause.
fn write_ready(
    engine: &mut Engine,
    replay: &mut Replay<PackedEvent>,
    mark: Option<DateTime<Utc>>,
    out: &mut impl Write,
    now: DateTime<Utc>,
) -> io::Result<()> {
    let mut changes: Vec<AlertChange> = Vec::new();
    while let Some((_, event)) = replay.pop_next(mark) {
        changes.extend(engine.observe(&event.view()));
    }
    write_changes(&changes, out, now)
}

fn write_changes(
    changes: &[AlertChange],
    out: &mut impl Write,
    now: DateTime<Utc>,
) -> io::Result<()> {
    #[derive(Serialize)]
    struct Line<'a> {
        seen: DateTime<Utc>,
        change: &'a crate::alert::Change,
        alert: &'a crate::alert::Alert,
    }
    for c in changes {
        crate::text::json::to_writer(
            &mut *out,
            &Line {
                seen: now,
                change: &c.change,
                alert: &c.alert,
            },
        )?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_event(args: &TailArgs, event: &PackedEvent, out: &mut impl Write) -> io::Result<()> {
    let e = event.view();
    match args.format {
        TailFormat::Json if args.raw => match e.raw.as_deref() {
            // The record as CloudTrail wrote it, on one line.
            Some(raw) => match serde_json::from_str::<serde_json::Value>(raw) {
                Ok(value) => crate::text::json::to_writer(&mut *out, &value),
                Err(_) => {
                    out.write_all(crate::text::json::escape_raw(&raw.replace('\n', " ")).as_bytes())
                }
            },
            None => crate::text::json::to_writer(&mut *out, &EventLine::new(&e)),
        },
        TailFormat::Json => crate::text::json::to_writer(&mut *out, &EventLine::new(&e)),
        TailFormat::Table => write!(
            out,
            "{}  {:<9} {:<22} {:<8} {} {} {}",
            e.time.format("%H:%M:%S"),
            for_terminal(e.region.as_deref().unwrap_or("-"), 9),
            for_terminal(&e.event_name, 22),
            e.outcome,
            for_terminal(&e.principal, 60),
            for_terminal(
                e.alias
                    .as_deref()
                    .or(e.key.as_ref().map(|k| k.arn.as_ref()))
                    .unwrap_or("-"),
                80
            ),
            for_terminal(e.error_code.as_deref().unwrap_or(""), 40),
        ),
    }?;
    out.write_all(b"\n")
}

/// Tells stderr when a source's health changes: the stream on stdout stays
/// clean for pipes.
/// The trail's health on stderr, when it changes.
fn report_trail(trail: &TrailStatus, before: Option<&TrailStatus>) {
    if before.is_some_and(|b| b.health == trail.health) {
        return;
    }
    let what = match &trail.health {
        Health::Starting => return,
        Health::Ok | Health::Lagging { .. } => {
            format!("reading the trail at {} as it lands", trail.location)
        }
        Health::Throttled => format!("{}: throttled (retrying)", trail.location),
        Health::Failing { message } => format!("{}: failing, retrying: {message}", trail.location),
        Health::Unavailable { message } => {
            format!("{}: {message}; LookupEvents alone", trail.location)
        }
    };
    eprintln!("kmstop: {} trail: {}", trail.source, escape_control(&what));
}

/// Said when Live Tail's health changes, and when it starts or stops
/// being a sample.
fn report_live_tail(tail: &LiveTailStatus, before: Option<&LiveTailStatus>) {
    if before.is_some_and(|b| b.health == tail.health && b.sampled == tail.sampled) {
        return;
    }
    let what = match &tail.health {
        Health::Starting => return,
        Health::Ok | Health::Lagging { .. } if tail.sampled => format!(
            "{}: Live Tail is sampling (more than 500 events a second); counts come from the trail and LookupEvents",
            tail.location
        ),
        Health::Ok | Health::Lagging { .. } => {
            format!("following {} with Live Tail", tail.location)
        }
        Health::Throttled => format!("{}: Live Tail throttled (retrying)", tail.location),
        Health::Failing { message } => {
            format!("{}: Live Tail failing, retrying: {message}", tail.location)
        }
        Health::Unavailable { message } => format!("{}: no Live Tail: {message}", tail.location),
    };
    eprintln!(
        "kmstop: {} live tail: {}",
        tail.source,
        escape_control(&what)
    );
}

/// Whether two healths read the same on stderr: a lag is said in whole
/// minutes, so its seconds changing is no news.
fn same_news(a: &Health, b: &Health) -> bool {
    match (a, b) {
        (Health::Lagging { seconds: x }, Health::Lagging { seconds: y }) => x / 60 == y / 60,
        _ => a == b,
    }
}

fn report_status(status: &SourceStatus, before: Option<&SourceStatus>) {
    // Said again when the health changes, and once when the first
    // estimate of how complete the recent minutes are arrives.
    let news = before.is_none_or(|b| {
        !same_news(&b.health, &status.health)
            || (b.recent_in.is_none() && status.recent_in.is_some())
    });
    if !news {
        return;
    }
    let what = match &status.health {
        Health::Starting => return,
        Health::Ok => match status.recent_in {
            Some(share) if share < 0.995 => format!(
                "ok; last 5 min {} in, the rest not yet visible in CloudTrail (printed as it appears)",
                share_in(share)
            ),
            _ => "ok".to_string(),
        },
        Health::Lagging { seconds } => match status.coverage {
            Some(share) => format!(
                "lagging {} min: the account produces more KMS events than LookupEvents delivers; {:.0} % of events seen",
                seconds / 60,
                share * 100.0
            ),
            None => format!("lagging {} min", seconds / 60),
        },
        Health::Throttled => "throttled (retrying the same page)".to_string(),
        Health::Failing { message } => format!("failing, retrying: {message}"),
        Health::Unavailable { message } => format!("unavailable: {message}"),
    };
    eprintln!("kmstop: {}: {}", status.source, escape_control(&what));
}
