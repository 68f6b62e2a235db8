//! `kmstop report --source athena://…` and `kmstop athena ddl`: the SQL is
//! written by [`crate::athena`], run here through the Athena API, and the
//! answer becomes the same report a local run prints.

use std::collections::HashMap;
use std::process::ExitCode;

use super::live::runtime;
use super::{EXIT_INPUT_PROBLEM, usage_error};
use crate::alert::AlertChange;
use crate::athena::TableAddress;
use crate::athena::answer::{Answer, Row};
use crate::athena::ddl::{TableSpec, check, statements};
use crate::athena::query::{ReportQuery, report_sql};
use crate::aws::athena::{AthenaClient, Finished, OnRow, QueryError, QueryPlace};
use crate::aws::{AwsError, ErrorKind, TargetOptions, load_config};
use crate::cli::athena::{AthenaArgs, AthenaCommand, DdlArgs, QueryArgs};
use crate::report::{Report, ReportSettings};
use crate::text::escape_control;

use crate::athena::{DOLLARS_PER_TB, billed, dollars};
/// Past this many events paged whole, the answer's size is worth a word.
const WHOLE_EVENTS_WORTH_SAYING: usize = 10_000;

/// The report's query, for `--dry-run` and for running.
#[must_use]
pub fn sql(
    table: &TableAddress,
    settings: &ReportSettings,
    accounts: &[String],
    regions: &[String],
) -> String {
    report_sql(&ReportQuery {
        table: table.clone(),
        range: settings.range,
        plausible: settings.plausible,
        accounts: accounts.to_vec(),
        regions: regions.to_vec(),
        rules: settings.rules.clone(),
        inventory: settings.inventory.clone(),
        who: settings.who.clone(),
        list_calls: true,
        usage: true,
        resources: true,
    })
}

pub(super) fn options(
    query: &QueryArgs,
    profile: Option<&str>,
    endpoint: Option<&str>,
) -> TargetOptions {
    TargetOptions {
        profiles: profile.into_iter().map(str::to_owned).collect(),
        regions: query.athena_region.iter().cloned().collect(),
        all_regions: false,
        endpoint_url: endpoint.map(str::to_owned),
        static_credentials: None,
    }
}

pub(super) async fn client(options: &TargetOptions) -> Result<AthenaClient, AwsError> {
    let profile = options.profiles.first().map(String::as_str);
    let mut config = load_config(profile, options).await?;
    if let Some(region) = options.regions.first() {
        config = config
            .into_builder()
            .region(aws_config::Region::new(region.clone()))
            .build();
    }
    Ok(AthenaClient::new(&config))
}

/// A failed call, said so a person can act on it.
pub(super) fn explain_call(e: &AwsError, place: &QueryPlace, action: &str) -> String {
    let text = e.to_string();
    if e.kind == ErrorKind::AccessDenied || text.contains("AccessDenied") {
        return format!(
            "Athena refused athena:{action} (workgroup {}): {text} — kmstop's Athena policy is in README.md, \"IAM for Athena\"",
            place.workgroup
        );
    }
    if text.contains("WorkGroup") && text.contains("not found") {
        return format!(
            "the Athena workgroup {:?} does not exist (--workgroup): {text}",
            place.workgroup
        );
    }
    if text.contains("No output location") {
        return format!(
            "the Athena workgroup {:?} has no query result location: set one on the workgroup, or pass --athena-output s3://BUCKET/PREFIX/",
            place.workgroup
        );
    }
    format!("Athena {action} failed: {text}")
}

pub(super) fn explain_failure(reason: &str, table: &str) -> String {
    if reason.contains("TABLE_NOT_FOUND") || reason.contains("does not exist") {
        return format!(
            "the table {table} does not exist: create it with `kmstop athena ddl --bucket … --execute` (Athena: {reason})"
        );
    }
    if reason.contains("'account' cannot be resolved") || reason.contains("\"account\" not found") {
        return format!(
            "the table {table} has no account partition (an account trail's table): leave out --account (Athena: {reason})"
        );
    }
    format!("the Athena query failed: {reason}")
}

/// Runs one query to its end and pages its rows into `on_row`; stops it
/// on Ctrl-C. Says on stderr what it scanned and what that costs.
async fn run_query(
    client: &AthenaClient,
    sql: &str,
    place: &QueryPlace,
    table: &str,
    max_scanned: Option<u64>,
    on_row: &mut OnRow<'_>,
) -> Result<Finished, String> {
    // Listening before the query starts: a Ctrl-C at any moment after
    // Athena has it stops it.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| format!("cannot listen for Ctrl-C: {e}"))?;
    let id = client
        .start(sql, place)
        .await
        .map_err(|e| explain_call(&e, place, "StartQueryExecution"))?;
    let progress = progress_line();
    progress.set_message(format!("query {id} running"));
    let on_scanned = |scanned: u64| {
        progress.set_message(format!("query {id} running, {} scanned", bytes(scanned)));
    };
    let waited = tokio::select! {
        waited = client.wait(&id, max_scanned, &on_scanned) => waited,
        _ = interrupt.recv() => {
            client.stop(&id).await;
            Err(QueryError::Cancelled { id: id.clone() })
        }
    };
    progress.finish_and_clear();
    let finished = match waited {
        Ok(finished) => finished,
        Err(QueryError::Call(e)) => return Err(explain_call(&e, place, "GetQueryExecution")),
        Err(QueryError::Failed { id, reason }) => {
            return Err(format!("{} (query {id})", explain_failure(&reason, table)));
        }
        Err(QueryError::TooBig { id, scanned }) => {
            return Err(format!(
                "query {id} stopped: it had scanned {} and --max-scanned allows {}",
                bytes(scanned),
                bytes(max_scanned.unwrap_or(0))
            ));
        }
        Err(QueryError::Cancelled { id }) => {
            return Err(format!("query {id} was cancelled; no report"));
        }
    };
    let dollars = dollars(billed(finished.scanned_bytes));
    eprintln!(
        "kmstop: Athena scanned {} (about ${dollars:.4} at ${DOLLARS_PER_TB} per TB) in query {}",
        bytes(finished.scanned_bytes),
        finished.id
    );
    let progress = progress_line();
    progress.set_message(format!("reading the answer of query {}", finished.id));
    let mut counted = |columns: &HashMap<String, usize>, values: &[Option<String>]| {
        progress.inc(1);
        on_row(columns, values);
    };
    let rows = client
        .rows(&finished.id, &mut counted)
        .await
        .map_err(|e| explain_call(&e, place, "GetQueryResults"));
    progress.finish_and_clear();
    let rows = rows?;
    if rows > 0 {
        eprintln!("kmstop: Athena answered with {rows} row(s)");
    }
    Ok(finished)
}

/// A progress line on stderr when it is a terminal: the query's state,
/// then the rows read.
fn progress_line() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} athena: {msg}, {human_pos} rows {elapsed}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    let bar = indicatif::ProgressBar::with_draw_target(None, target).with_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn bytes(n: u64) -> String {
    crate::athena::bytes_text(n)
}

/// The report from Athena; `Err` with the exit status after saying why.
pub fn report(
    table: &TableAddress,
    args: &crate::cli::ReportArgs,
    settings: &ReportSettings,
) -> Result<(Report, Vec<AlertChange>), ExitCode> {
    let sql = sql(table, settings, &args.accounts, &args.targets.regions);
    let place = QueryPlace {
        workgroup: args.athena.query.workgroup.clone(),
        catalog: table.catalog.clone(),
        database: table.database.clone(),
        output: args.athena.query.athena_output.clone(),
    };
    let options = options(
        &args.athena.query,
        args.targets.profiles.first().map(String::as_str),
        args.targets.endpoint_url.as_deref(),
    );
    let mut answer = Answer::new(settings).map_err(|e| usage_error(&e.to_string()))?;
    let fail = |message: String| {
        eprintln!("kmstop: {}", escape_control(&message));
        ExitCode::from(EXIT_INPUT_PROBLEM)
    };
    let profile = options.profiles.first().map(String::as_str);
    let runtime = runtime().map_err(|e| fail(format!("cannot start: {e}")))?;
    runtime
        .block_on(async {
            let client = client(&options)
                .await
                .map_err(|e| crate::aws::explain(&e, profile).to_string())?;
            let mut on_row = |columns: &HashMap<String, usize>, values: &[Option<String>]| {
                answer.add(&Row { columns, values });
            };
            let name = table.to_string();
            run_query(
                &client,
                &sql,
                &place,
                &name,
                args.athena.max_scanned,
                &mut on_row,
            )
            .await
        })
        .map_err(fail)?;
    let (whole, rules) = answer.whole_events();
    if whole >= WHOLE_EVENTS_WORTH_SAYING {
        let heaviest: Vec<String> = rules
            .iter()
            .take(3)
            .map(|(id, n)| format!("{id} ({n})"))
            .collect();
        eprintln!(
            "kmstop: {whole} events came back whole for the alert rules, most for {}: their alerts need each event. \
             To make the answer smaller, disable them for this report (an [[override]] with enabled = false in a --rules file)",
            escape_control(&heaviest.join(", "))
        );
    }
    if answer.unreadable_rows > 0 {
        return Err(fail(format!(
            "{} row(s) of Athena's answer were not what kmstop asked for; no report",
            answer.unreadable_rows
        )));
    }
    answer
        .finish(settings)
        .map_err(|e| usage_error(&e.to_string()))
}

/// Prints SQL for a person or a pipe; a reader that goes away (`| head`)
/// is not an error.
pub fn print_sql(sql: &str) -> ExitCode {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{sql};") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("kmstop: cannot write the SQL: {e}");
            ExitCode::from(EXIT_INPUT_PROBLEM)
        }
        _ => ExitCode::SUCCESS,
    }
}

/// `kmstop athena …`.
pub fn run(args: &AthenaArgs) -> ExitCode {
    match &args.command {
        AthenaCommand::Ddl(ddl) => run_ddl(ddl),
    }
}

fn run_ddl(args: &DdlArgs) -> ExitCode {
    let spec = TableSpec {
        bucket: args.bucket.clone(),
        prefix: args.prefix.clone(),
        org: args.org.clone(),
        accounts: args.accounts.clone(),
        regions: args.regions.clone(),
        database: args.database.clone(),
        table: args.table.clone(),
    };
    if let Err(message) = check(&spec) {
        return usage_error(&message);
    }
    let statements = statements(&spec);
    if !args.execute {
        return print_sql(&statements.join(";\n\n"));
    }
    let place = QueryPlace {
        workgroup: args.query.workgroup.clone(),
        catalog: crate::athena::DEFAULT_CATALOG.to_owned(),
        database: args.database.clone(),
        output: args.query.athena_output.clone(),
    };
    let options = options(
        &args.query,
        args.profile.as_deref(),
        args.endpoint_url.as_deref(),
    );
    let Ok(runtime) = runtime() else {
        eprintln!("kmstop: cannot start the async runtime");
        return ExitCode::from(EXIT_INPUT_PROBLEM);
    };
    let table = format!("{}.{}", args.database, args.table);
    let done = runtime.block_on(async {
        let client = client(&options)
            .await
            .map_err(|e| crate::aws::explain(&e, args.profile.as_deref()).to_string())?;
        for statement in &statements {
            run_query(&client, statement, &place, &table, None, &mut |_, _| {}).await?;
        }
        Ok::<_, String>(())
    });
    match done {
        Ok(()) => {
            eprintln!(
                "kmstop: created {}.{} (if it did not exist)",
                args.database, args.table
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("kmstop: {}", escape_control(&message));
            ExitCode::from(EXIT_INPUT_PROBLEM)
        }
    }
}
