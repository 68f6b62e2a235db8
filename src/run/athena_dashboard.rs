//! `kmstop --source athena://…`: the dashboard on a trail's Athena table.
//! One pushed-down aggregate fills the panes
//! ([`crate::athena::dashboard`]); beside it the report's pushed-down
//! query ([`crate::athena::query::report_sql`]) evaluates the alert rules,
//! and its finished alerts fill the Alerts pane, as `kmstop report
//! --source athena://…` finds them. Each drill-down into a principal or a
//! key runs one bounded query for its events, into an alert one for its
//! sample events. Queries run on tokio tasks, off the dashboard's loop,
//! and every query still running when the dashboard quits is stopped
//! (`StopQueryExecution`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedReceiver;

use super::athena::{client, explain_call, explain_failure, options};
use super::{EXIT_INPUT_PROBLEM, usage_error};
use crate::alert::{Alert, RuleSpec};
use crate::app::DrillTarget;
use crate::app::athena::query_target;
use crate::athena::TableAddress;
use crate::athena::answer::{Answer, Row};
use crate::athena::dashboard::{CountRow, DashboardQuery, DrillQuery, counted, drilled};
use crate::athena::query::report_sql;
use crate::athena::{billed, bytes_text};
use crate::aws::athena::{AthenaClient, OnRow, QueryError, QueryPlace};
use crate::cli::DashboardArgs;
use crate::clock::Clock;
use crate::event::Plausible;
use crate::feed::{AthenaStatus, QueriedEvents, SourceMsg};
use crate::inventory::Inventory;
use crate::report::ReportSettings;
use crate::source::outbox::Outbox;
use crate::text::escape_control;
use crate::tui::{DashboardOptions, Source, run_dashboard};

/// Count rows go to the dashboard in batches this large.
const BATCH: usize = 2_000;
/// How often a running query's progress reaches the header.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Runs the dashboard's queries and sends what they find.
pub struct AthenaFeed {
    client: AthenaClient,
    place: QueryPlace,
    query: DashboardQuery,
    /// The alert rules: the dashboard's, run in the report's query.
    rules: Vec<RuleSpec>,
    max_scanned: Option<u64>,
    out: Outbox,
    /// Queries running now: stopped when the dashboard quits.
    running: Mutex<Running>,
    status: Mutex<Told>,
    /// The alerts' sample event ids by (rule, group): what a drill-down
    /// into an alert asks for.
    samples: Mutex<HashMap<(String, String), Vec<String>>>,
}

/// What the header was told: the status, and what each kind of query
/// (`counts`, `alerts`, `events`) is doing now, the aggregate's first
/// (the header cuts what runs short).
struct Told {
    status: AthenaStatus,
    doing: BTreeMap<(u8, String), String>,
}

/// Where a kind of query comes in the header's progress line.
fn rank(what: &str) -> (u8, String) {
    let place = match what {
        "counts" => 0,
        "alerts" => 1,
        _ => 2,
    };
    (place, what.to_owned())
}

/// The queries started and starting, and whether the dashboard quit.
#[derive(Default)]
struct Running {
    ids: HashSet<String>,
    /// `StartQueryExecution` calls not answered yet.
    starting: usize,
    stopping: bool,
}

impl AthenaFeed {
    #[must_use]
    pub fn new(
        client: AthenaClient,
        place: QueryPlace,
        query: DashboardQuery,
        rules: Vec<RuleSpec>,
        max_scanned: Option<u64>,
        out: Outbox,
    ) -> Self {
        let status = AthenaStatus {
            table: query.table.to_string(),
            since: Some(query.since),
            until: Some(query.until),
            bucket_secs: query.bucket_seconds(),
            ..AthenaStatus::default()
        };
        Self {
            client,
            place,
            query,
            rules,
            max_scanned,
            out,
            running: Mutex::new(Running::default()),
            status: Mutex::new(Told {
                status,
                doing: BTreeMap::new(),
            }),
            samples: Mutex::new(HashMap::new()),
        }
    }

    /// What the header shows before any query ran.
    #[must_use]
    pub fn status(&self) -> AthenaStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .status
            .clone()
    }

    /// Tells the header what the `what` queries do now (`None`: nothing)
    /// and what `change` changes.
    async fn tell(
        &self,
        what: &str,
        doing: Option<String>,
        change: impl FnOnce(&mut AthenaStatus),
    ) -> bool {
        let status = {
            let mut told = self.status.lock().unwrap_or_else(PoisonError::into_inner);
            match doing {
                Some(text) => told.doing.insert(rank(what), text),
                None => told.doing.remove(&rank(what)),
            };
            let running = (!told.doing.is_empty())
                .then(|| told.doing.values().cloned().collect::<Vec<_>>().join(" · "));
            told.status.running = running;
            change(&mut told.status);
            told.status.clone()
        };
        self.out.send(SourceMsg::Athena(status)).await
    }

    /// Runs `sql` to its end, saying how it goes, and pages its rows into
    /// `on_row`. `what` names it in the header.
    async fn run(&self, sql: &str, what: &str, on_row: &mut OnRow<'_>) -> Result<(), String> {
        let table = self.query.table.to_string();
        let id = self.start(sql).await?;
        let scanned = AtomicU64::new(0);
        let on_progress = |bytes: u64| scanned.store(bytes, Ordering::Relaxed);
        let wait = self.client.wait(&id, self.max_scanned, &on_progress);
        tokio::pin!(wait);
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        let waited = loop {
            tokio::select! {
                waited = &mut wait => break waited,
                _ = tick.tick() => {
                    let bytes = scanned.load(Ordering::Relaxed);
                    let text = format!("{what}: query {id} running, {} scanned", bytes_text(bytes));
                    self.tell(what, Some(text), |_| {}).await;
                }
            }
        };
        self.lock_running().ids.remove(&id);
        let finished = match waited {
            Ok(finished) => finished,
            Err(QueryError::Call(e)) => {
                return Err(explain_call(&e, &self.place, "GetQueryExecution"));
            }
            Err(QueryError::Failed { id, reason }) => {
                return Err(format!("{} (query {id})", explain_failure(&reason, &table)));
            }
            Err(QueryError::TooBig { id, scanned }) => {
                return Err(format!(
                    "query {id} stopped: it had scanned {} and --max-scanned allows {}",
                    bytes_text(scanned),
                    bytes_text(self.max_scanned.unwrap_or(0))
                ));
            }
            Err(QueryError::Cancelled { id }) => return Err(format!("query {id} was cancelled")),
        };
        let reading = format!("{what}: reading the answer of query {id}");
        self.tell(what, Some(reading), |s| {
            s.scanned_bytes += finished.scanned_bytes;
            s.billed_bytes += billed(finished.scanned_bytes);
            s.queries += 1;
        })
        .await;
        self.client
            .rows(&finished.id, on_row)
            .await
            .map_err(|e| explain_call(&e, &self.place, "GetQueryResults"))?;
        Ok(())
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `sql` and records it as running; a query whose start is
    /// answered after the dashboard quit is stopped at once.
    async fn start(&self, sql: &str) -> Result<String, String> {
        {
            let mut running = self.lock_running();
            if running.stopping {
                return Err("the dashboard quit".into());
            }
            running.starting += 1;
        }
        let started = self.client.start(sql, &self.place).await;
        let late = {
            let mut running = self.lock_running();
            if let (Ok(id), false) = (&started, running.stopping) {
                running.ids.insert(id.clone());
            }
            running.stopping
        };
        if late && let Ok(id) = &started {
            self.client.stop(id).await;
        }
        self.lock_running().starting -= 1;
        let id = started.map_err(|e| explain_call(&e, &self.place, "StartQueryExecution"))?;
        if late {
            return Err(format!("query {id} was stopped: the dashboard quit"));
        }
        Ok(id)
    }

    /// Runs the aggregate and sends its rows as counts, in batches.
    pub async fn counts(&self) {
        self.tell("counts", Some("counts: starting the query".into()), |_| {})
            .await;
        let sql = self.query.counts_sql();
        let (mut rest, mut full, mut unreadable, mut rows) = (Vec::new(), Vec::new(), 0_u64, 0_u64);
        let mut left_out = 0;
        let result = self
            .run(&sql, "counts", &mut |columns, values| {
                rows += 1;
                match counted(&Row { columns, values }) {
                    Some(CountRow::Counted(counted)) => rest.extend(counted),
                    Some(CountRow::LeftOut(n)) => left_out += n,
                    None => unreadable += 1,
                }
                if rest.len() >= BATCH {
                    full.push(std::mem::take(&mut rest));
                }
            })
            .await;
        for batch in full.into_iter().chain(std::iter::once(rest)) {
            if !self.out.send(SourceMsg::Counted(batch)).await {
                return;
            }
        }
        if left_out > 0 && !self.out.send(SourceMsg::LeftOut(left_out)).await {
            return;
        }
        let failed = match result {
            Err(why) => Some(why),
            Ok(()) if unreadable > 0 => Some(format!(
                "{unreadable} row(s) of Athena's answer were not what kmstop asked for"
            )),
            Ok(()) => None,
        };
        self.tell("counts", None, |s| {
            s.rows = rows;
            s.counts_done = failed.is_none();
            s.failed = failed;
        })
        .await;
    }

    /// Runs the report's query and sends its alerts, finished as the
    /// report finishes them.
    pub async fn alerts(&self) {
        self.tell(
            "alerts",
            Some("alerts: starting the report's query".into()),
            |_| {},
        )
        .await;
        let settings = ReportSettings {
            range: self.query.report_query().range,
            plausible: self.query.plausible,
            threads: 1,
            rules: self.rules.clone(),
            inventory: Inventory::default(),
            who: self.query.who.clone(),
            usage: crate::report::UsageSettings::default(),
        };
        let mut query = self.query.report_query();
        query.rules.clone_from(&self.rules);
        let sql = report_sql(&query);
        let found = match Answer::new(&settings) {
            Err(e) => Err(format!("the alert rules do not compile: {e}")),
            Ok(mut answer) => {
                answer.usage_sections = query.usage;
                answer.resource_section = query.resources;
                let ran = self
                    .run(&sql, "alerts", &mut |columns, values| {
                        answer.add(&Row { columns, values });
                    })
                    .await;
                ran.and_then(|()| finish(answer, &settings))
            }
        };
        match found {
            Ok(alerts) => {
                let n = alerts.len();
                *self.samples.lock().unwrap_or_else(PoisonError::into_inner) = alerts
                    .iter()
                    .map(|a| {
                        (
                            (a.rule.clone(), a.group.clone()),
                            a.sample_event_ids.clone(),
                        )
                    })
                    .collect();
                if !self.out.send(SourceMsg::Alerts(alerts)).await {
                    return;
                }
                self.tell("alerts", None, |s| s.alerts = Some(n)).await;
            }
            Err(why) => {
                self.tell("alerts", None, |s| s.alerts_failed = Some(why))
                    .await;
            }
        }
    }

    /// Runs one drill-down's query and sends its events.
    pub async fn drill(&self, target: &DrillTarget) {
        let (query, Some(name)) = (
            match target {
                DrillTarget::Principal(p) => DrillQuery::Principal(p.clone()),
                DrillTarget::Key(k) => DrillQuery::Key(k.clone()),
                DrillTarget::Alert { rule, group, .. } => DrillQuery::Events(
                    self.samples
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&(rule.clone(), group.clone()))
                        .cloned()
                        .unwrap_or_default(),
                ),
                DrillTarget::SourceIp(_) | DrillTarget::Resource { .. } => return,
            },
            query_target(target),
        ) else {
            return;
        };
        if matches!(&query, DrillQuery::Events(ids) if ids.is_empty()) {
            // No sample to ask for: no query to pay for.
            let none = QueriedEvents {
                target: name,
                events: Vec::new(),
                total: 0,
                failed: None,
            };
            self.out.send(SourceMsg::Queried(none)).await;
            return;
        }
        let sql = self.query.drill_sql(&query);
        let (mut events, mut total, mut unreadable) = (Vec::new(), 0_u64, 0_u64);
        let result = self
            .run(
                &sql,
                "events",
                &mut |columns, values| match drilled(&Row { columns, values }) {
                    Some((event, all)) => {
                        events.push(event);
                        total = all;
                    }
                    None => unreadable += 1,
                },
            )
            .await;
        let failed = match result {
            Err(why) => Some(why),
            Ok(()) if unreadable > 0 => Some(format!(
                "{unreadable} event(s) of Athena's answer could not be read"
            )),
            Ok(()) => None,
        };
        self.tell("events", None, |_| {}).await;
        self.out
            .send(SourceMsg::Queried(QueriedEvents {
                target: name,
                events,
                total,
                failed,
            }))
            .await;
    }

    /// Stops every query still running (the dashboard quit), and waits
    /// for the starts not yet answered to be stopped as they are.
    pub async fn stop_all(&self) {
        let ids: Vec<String> = {
            let mut running = self.lock_running();
            running.stopping = true;
            running.ids.drain().collect()
        };
        for id in ids {
            self.client.stop(&id).await;
        }
        while self.lock_running().starting > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The report's alerts from its answer; `Err` says why there are none.
fn finish(answer: Answer, settings: &ReportSettings) -> Result<Vec<Alert>, String> {
    if answer.unreadable_rows > 0 {
        return Err(format!(
            "{} row(s) of Athena's answer were not what kmstop asked for",
            answer.unreadable_rows
        ));
    }
    answer
        .finish(settings)
        .map(|(report, _)| report.alerts)
        .map_err(|e| format!("the alert rules do not compile: {e}"))
}

/// Runs the aggregate, the report's query for the alerts, and each
/// drill-down asked for, at once.
pub async fn serve(feed: Arc<AthenaFeed>, mut drills: UnboundedReceiver<DrillTarget>) {
    let counts = {
        let feed = Arc::clone(&feed);
        tokio::spawn(async move { feed.counts().await })
    };
    let alerts = {
        let feed = Arc::clone(&feed);
        tokio::spawn(async move { Box::pin(feed.alerts()).await })
    };
    while let Some(target) = drills.recv().await {
        let feed = Arc::clone(&feed);
        tokio::spawn(async move { feed.drill(&target).await });
    }
    let _ = counts.await;
    let _ = alerts.await;
}

/// The `athena://` table of the dashboard's `--source`, when it is the
/// only source; the Athena flags are refused without one.
///
/// # Errors
/// What is wrong with the flags, in words.
pub fn table_of(args: &DashboardArgs) -> Result<Option<TableAddress>, String> {
    let named = |p: &std::path::PathBuf| p.to_str().is_some_and(|s| s.starts_with("athena://"));
    match args.sources.as_slice() {
        [only] if named(only) => {
            let text = only.to_str().unwrap_or_default();
            let table = text.parse().map_err(|e| format!("--source {e}"))?;
            // Athena bills what it scans: the window is always a choice.
            if args.since.is_none() {
                return Err(format!(
                    "--source {text} needs --since (the window the panes show, e.g. --since 24h)"
                ));
            }
            Ok(Some(table))
        }
        many if many.iter().any(named) => Err(
            "--source athena://… cannot be mixed with other sources: Athena reads the trail where it lies"
                .into(),
        ),
        _ if args.since.is_some() || args.until.is_some() => {
            Err("--since and --until need an athena:// source (--backfill sets the window of an s3:// or logs:// source)".into())
        }
        _ if args.athena.dry_run => Err("--dry-run needs an athena:// source".into()),
        _ if args.athena.max_scanned.is_some() => {
            Err("--max-scanned needs an athena:// source".into())
        }
        _ => Ok(None),
    }
}

/// The dashboard's query, from the flags; `Err` says what is wrong.
fn dashboard_query(
    args: &DashboardArgs,
    table: &TableAddress,
    now: DateTime<Utc>,
) -> Result<DashboardQuery, String> {
    let since = args.since.map_or(now, |s| s.resolve(now));
    let until = args.until.map_or(now, |u| u.resolve(now));
    if since >= until {
        return Err(format!(
            "--since ({since}) must be before --until ({until})"
        ));
    }
    let who = args.who.who();
    crate::athena::who::refuse_unsupported(&who)?;
    Ok(DashboardQuery {
        table: table.clone(),
        since,
        until,
        plausible: Plausible::at(now),
        accounts: args.accounts.clone(),
        regions: args.targets.regions.clone(),
        who,
    })
}

/// `kmstop --source athena://…`: the queries start, the dashboard opens
/// at once and fills as their answers come; on quit, whatever still runs
/// is stopped.
pub(super) fn run(
    args: &DashboardArgs,
    table: &TableAddress,
    mut opts: DashboardOptions,
    clock: &Arc<dyn Clock>,
) -> ExitCode {
    let query = match dashboard_query(args, table, clock.now()) {
        Ok(q) => q,
        Err(message) => return usage_error(&message),
    };
    if args.athena.dry_run {
        return super::athena::print_sql(&query.counts_sql());
    }
    let place = QueryPlace {
        workgroup: args.athena.query.workgroup.clone(),
        catalog: table.catalog.clone(),
        database: table.database.clone(),
        output: args.athena.query.athena_output.clone(),
    };
    let profile = args.targets.profiles.first().map(String::as_str);
    let options = options(
        &args.athena.query,
        profile,
        args.targets.endpoint_url.as_deref(),
    );
    let fail = |message: &str| {
        eprintln!("kmstop: {}", escape_control(message));
        ExitCode::from(EXIT_INPUT_PROBLEM)
    };
    let runtime = match super::live::runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start: {e}")),
    };
    let client = match runtime.block_on(client(&options)) {
        Ok(c) => c,
        Err(e) => return fail(&crate::aws::explain(&e, profile).to_string()),
    };
    let channel = crate::tui::channel();
    let feed = Arc::new(AthenaFeed::new(
        client,
        place,
        query,
        opts.rules.clone(),
        args.athena.max_scanned,
        Outbox::blocking(channel.0.clone()),
    ));
    let (drills, asked) = tokio::sync::mpsc::unbounded_channel();
    opts.source = Source::Athena {
        status: feed.status(),
        drills,
    };
    runtime.spawn(serve(Arc::clone(&feed), asked));
    let result = run_dashboard(opts, channel, clock.as_ref());
    // Nothing may keep scanning (and billing) after the screen is gone.
    runtime.block_on(async {
        let _ = tokio::time::timeout(STOP_DEADLINE, feed.stop_all()).await;
    });
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(e) => fail(&format!("{e:#}")),
    }
}

/// How long quitting waits for Athena to hear the stops.
const STOP_DEADLINE: Duration = Duration::from_secs(10);
