//! Running a parsed command line: wiring sources, engine and renderers,
//! printing problems on stderr and choosing the exit status.

mod athena;
pub mod athena_dashboard;
mod dashboard;
mod demo;
mod doctor;
mod install;
mod keys;
pub mod live;
mod rules;
mod s3;
mod sim;
mod sweep;
mod tail;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::alert::{AlertChange, RuleSpec, builtin};
use crate::cli::{Command, Format, ReportArgs};
use crate::clock::{Clock, SystemClock};
use crate::report::{
    Report, ReportSettings, TableOptions, TimeRange, build_report, write_csv, write_table,
};
use crate::sink::{AlertHook, AlertLog, HookLimits};
use crate::source::files::{Input, Listed, Problem, discover};
use crate::source::trail_fetch::{self, TrailPlan};
use crate::source::trail_layout::Selection;
use crate::text::escape_control;

const EXIT_INPUT_PROBLEM: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// Parses the process arguments and runs the command.
#[must_use]
pub fn main() -> ExitCode {
    let cli = dashboard::parse_with_paths();
    // The one clock: every command and source below reads time from it.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if matches!(cli.command, None | Some(Command::Demo(_))) {
        // The dashboards run for hours with a dozen threads: before any
        // of them starts, make them share arenas (`memory`).
        let _ = crate::memory::share_arenas(crate::memory::DASHBOARD_ARENAS);
    }
    match cli.command {
        Some(Command::Report(args)) => report(&args, clock.as_ref()),
        Some(Command::Rules(args)) => rules::run(&args),
        Some(Command::Tail(args)) => tail::run(&args, clock),
        Some(Command::Doctor(args)) => doctor::run(&args, clock.as_ref()),
        Some(Command::Sim(args)) => sim::run(&args, &clock),
        Some(Command::Keys(args)) => keys::run(&args, clock.as_ref()),
        Some(Command::Demo(args)) => demo::run(&args, &clock),
        Some(Command::Completions(args)) => install::completions(&args),
        Some(Command::Man(args)) => install::man(&args),
        Some(Command::Athena(args)) => athena::run(&args),
        None => dashboard::run(&cli.dashboard, &clock),
    }
}

/// Writes a line to stdout. A reader that went away (`| head`) can be
/// told nothing more, and is no reason to panic.
pub(crate) fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

pub(crate) fn usage_error(message: &str) -> ExitCode {
    eprintln!("kmstop: {}", escape_control(message));
    ExitCode::from(EXIT_USAGE)
}

fn report(args: &ReportArgs, clock: &dyn Clock) -> ExitCode {
    let now = clock.now();
    let range = TimeRange {
        since: args.since.map(|s| s.resolve(now)),
        until: args.until.map(|s| s.resolve(now)),
    };
    if let (Some(since), Some(until)) = (range.since, range.until)
        && since > until
    {
        return usage_error(&format!("--since ({since}) is after --until ({until})"));
    }
    let from_aws = args.sources.len() == 1 && args.sources[0].as_os_str() == "aws";
    let athena = match athena_source(args) {
        Ok(table) => table,
        Err(message) => return usage_error(&message),
    };
    let sources = match s3::split_sources(&args.sources) {
        Ok(split) => split,
        Err(message) => return usage_error(&message),
    };
    let has_remote = sources.has_remote();
    if let Err(message) = check_selection(
        &args.accounts,
        &args.targets.regions,
        has_remote || athena.is_some(),
    ) {
        return usage_error(&message);
    }
    let inputs = match report_inputs(&sources.paths, from_aws || athena.is_some()) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let Some(rules) = load_rules(args.rules.as_deref()) else {
        return ExitCode::from(EXIT_USAGE);
    };
    let mut alerts_log = match args.alerts_log.as_deref().map(AlertLog::open).transpose() {
        Ok(log) => log,
        Err(e) => {
            let path = args.alerts_log.as_deref().unwrap_or_else(|| Path::new(""));
            return usage_error(&format!("--alerts-log {}: {e}", path.display()));
        }
    };
    let failed = AtomicBool::new(false);
    let on_problem = |problem: Problem| print_problem(&problem, &failed);
    let settings = report_settings(args, range, now, rules);
    if athena.is_some()
        && let Err(message) = crate::athena::who::refuse_unsupported(&settings.who)
    {
        return usage_error(&message);
    }
    if let Some(table) = &athena
        && args.athena.dry_run
    {
        let sql = athena::sql(table, &settings, &args.accounts, &args.targets.regions);
        return athena::print_sql(&sql);
    }
    let built = if let Some(table) = &athena {
        athena::report(table, args, &settings).map(|(report, changes)| (report, changes, true))
    } else if from_aws {
        sweep::report(&args.targets.options(), &settings, now, &on_problem)
            .map(|(report, changes)| (report, changes, false))
    } else {
        read_all(args, inputs, sources, &settings, now, &on_problem)
    };
    let (report, changes, searched) = match built {
        Ok(done) => done,
        Err(code) => return code,
    };
    let log_failed = alerts_log
        .as_mut()
        .is_some_and(|log| !write_alerts_log(log, &changes, now));
    let hook_failed = args
        .on_alert
        .as_deref()
        .is_some_and(|command| !run_alert_hook(command, &changes));

    warn_about_skipped(&report.skipped);
    if report.alerts_out_of_order > 0 {
        eprintln!(
            "kmstop: warning: {} event(s) reached the alert rules after newer ones (files far out of time order in a large run): alerts may differ from a replay in time order (alerts_out_of_order)",
            report.alerts_out_of_order
        );
    }
    match print_report(args, &report, settings.range) {
        // The reader went away (`| head`): nothing more to say.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kmstop: cannot write the report: {e}");
            return ExitCode::from(EXIT_INPUT_PROBLEM);
        }
        Ok(()) => {}
    }
    let files_failed = failed.load(Ordering::Relaxed);
    exit_status(
        args,
        &report,
        from_aws || searched || athena.is_some(),
        files_failed,
        log_failed || hook_failed,
    )
}

fn report_settings(
    args: &ReportArgs,
    range: TimeRange,
    now: DateTime<Utc>,
    rules: Vec<RuleSpec>,
) -> ReportSettings {
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    ReportSettings {
        range,
        plausible: crate::event::Plausible::at(now),
        threads,
        rules,
        who: args.who.who(),
        usage: crate::report::UsageSettings {
            quotas: args.quotas.clone(),
            prices: args.prices.clone(),
        },
        ..ReportSettings::new(threads)
    }
}

/// The `athena://` table of `--source`, when it is the only source.
fn athena_source(args: &ReportArgs) -> Result<Option<crate::athena::TableAddress>, String> {
    let named = |p: &std::path::PathBuf| p.to_str().is_some_and(|s| s.starts_with("athena://"));
    match args.sources.as_slice() {
        [only] if named(only) => {
            let text = only.to_str().unwrap_or_default();
            let table = text.parse().map_err(|e| format!("--source {e}"))?;
            // Athena bills what it scans: every day the trail holds is
            // never a default, only a choice.
            if args.since.is_none() && args.athena.max_scanned.is_none() && !args.athena.dry_run {
                return Err(format!(
                    "--source {text} needs --since (the days to scan), or --max-scanned to bound a scan of every day the table holds"
                ));
            }
            Ok(Some(table))
        }
        many if many.iter().any(named) => {
            Err("--source athena://… cannot be mixed with other sources: Athena reads the trail where it lies".into())
        }
        _ if args.athena.dry_run => Err("--dry-run needs an athena:// source".into()),
        _ if args.athena.max_scanned.is_some() => {
            Err("--max-scanned needs an athena:// source".into())
        }
        _ => Ok(None),
    }
}

/// Builds the report from the local inputs, then the `s3://` and
/// `logs://` sources' (and whether a log group was searched: its empty
/// answer is an answer); `Err` with the exit status when it cannot be
/// built at all.
fn read_all(
    args: &ReportArgs,
    inputs: Vec<Input>,
    sources: s3::Sources,
    settings: &ReportSettings,
    now: DateTime<Utc>,
    on_problem: &(dyn Fn(Problem) + Sync),
) -> Result<(Report, Vec<AlertChange>, bool), ExitCode> {
    if !sources.has_remote() {
        return build_report(&Listed::new(&inputs), settings, on_problem)
            .map(|(report, changes)| (report, changes, false))
            .map_err(|e| usage_error(&e.to_string()));
    }
    let had_local = !inputs.is_empty();
    let plan = TrailPlan {
        buckets: sources.buckets,
        log_groups: sources.log_groups,
        options: args.targets.options(),
        selection: Selection {
            since: settings.range.since,
            until: settings.range.until,
            accounts: args.accounts.clone(),
            regions: args.targets.regions.clone(),
        },
        now,
    };
    let fetching = trail_fetch::start(plan, inputs, settings.threads, s3::progress_bar())
        .map_err(|message| usage_error(&message))?;
    let built = build_report(&fetching.queue, settings, on_problem);
    let summary = fetching.finish();
    let (mut report, changes) = built.map_err(|e| usage_error(&e.to_string()))?;
    for failure in &summary.failures {
        eprintln!("kmstop: {}", escape_control(&failure.to_string()));
    }
    report.skipped.prefixes_failed = summary.failures.len() as u64;
    report.skipped.digest_files += summary.digest_files;
    report.skipped.not_log_files += summary.not_log_files;
    if !summary.failures.is_empty()
        && !had_local
        && summary.groups_searched == 0
        && report.files_read + report.skipped.files_failed == 0
    {
        eprintln!("kmstop: nothing could be listed; no report");
        return Err(ExitCode::from(EXIT_INPUT_PROBLEM));
    }
    Ok((report, changes, summary.groups_searched > 0))
}

/// 1 when anything was left out or failed, each said on stderr; else 0.
fn exit_status(
    args: &ReportArgs,
    report: &Report,
    from_aws: bool,
    files_failed: bool,
    outputs_failed: bool,
) -> ExitCode {
    let skipped = &report.skipped;
    if !from_aws
        && report.files_read == 0
        && skipped.files_failed == 0
        && skipped.prefixes_failed == 0
    {
        let paths: Vec<String> = args
            .sources
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        eprintln!(
            "kmstop: no CloudTrail log files found in {}",
            escape_control(&paths.join(", "))
        );
        return ExitCode::from(EXIT_INPUT_PROBLEM);
    }
    if skipped.regions_failed > 0 {
        eprintln!(
            "kmstop: {} region(s) could not be swept to the end of the window; the report leaves out their events from the time named for each above (skipped.regions_failed)",
            skipped.regions_failed
        );
    }
    if skipped.prefixes_failed > 0 {
        eprintln!(
            "kmstop: {} S3 bucket(s), folder(s) or log group(s) could not be read; the report leaves their events out (skipped.prefixes_failed)",
            skipped.prefixes_failed
        );
    }
    if files_failed {
        eprintln!(
            "kmstop: {} file(s) could not be read; the report leaves them out",
            skipped.files_failed
        );
    }
    if skipped.regions_failed + skipped.prefixes_failed > 0 || files_failed || outputs_failed {
        return ExitCode::from(EXIT_INPUT_PROBLEM);
    }
    ExitCode::SUCCESS
}

/// The report's local inputs: the files under `--source` (none for
/// `aws`, whose sweeps start once the rest of the command line is known
/// to be good).
fn report_inputs(paths: &[std::path::PathBuf], from_aws: bool) -> Result<Vec<Input>, ExitCode> {
    if from_aws {
        return Ok(Vec::new());
    }
    discover(paths).map_err(|message| usage_error(&message))
}

/// `--account` chooses a trail's accounts (S3 folders, log events): it
/// must name accounts, and there must be a trail to choose in. `--region`
/// names regions: its values go into S3 prefixes and filter patterns.
fn check_selection(accounts: &[String], regions: &[String], has_trail: bool) -> Result<(), String> {
    if let Some(bad) = accounts
        .iter()
        .find(|a| !crate::source::trail_layout::is_account_id(a))
    {
        return Err(format!("--account {bad}: not a 12-digit account id"));
    }
    if !accounts.is_empty() && !has_trail {
        return Err(
            "--account chooses the accounts of an s3:// or logs:// source; there is none".into(),
        );
    }
    if let Some(bad) = regions.iter().find(|r| !is_region_name(r)) {
        return Err(format!(
            "--region {bad}: not a region name (like eu-west-1: lower-case letters, digits, '-')"
        ));
    }
    Ok(())
}

fn is_region_name(region: &str) -> bool {
    (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What was set aside for a reason a person should know about, on stderr.
fn warn_about_skipped(skipped: &crate::report::Skipped) {
    if skipped.conflicting_copies > 0 {
        eprintln!(
            "kmstop: warning: {} cop(ies) of an event disagree with the copy counted: same eventID, time and name, another caller, key, outcome, address, region, account or user agent — a log may have been edited (skipped.conflicting_copies; the first copy read is counted: with --threads 1, the first in delivery order, by the time in the file names)",
            skipped.conflicting_copies
        );
    }
    if skipped.implausible_time > 0 {
        eprintln!(
            "kmstop: warning: {} KMS event(s) dated before CloudTrail existed or more than a day from now were set aside (skipped.implausible_time)",
            skipped.implausible_time
        );
    }
}

/// Runs the alert command for the replay's changes, paced by the changes'
/// own times (a replay of a week is not squeezed into ten runs); false
/// (after saying why) when a run failed.
fn run_alert_hook(command: &str, changes: &[AlertChange]) -> bool {
    let mut hook = AlertHook::start(command, HookLimits::default());
    for change in changes {
        hook.send(&change.alert, change.alert.last);
    }
    let stats = hook.stats();
    let problems = hook.finish();
    for problem in &problems {
        eprintln!("kmstop: {}", escape_control(problem));
    }
    if stats.dropped_rate + stats.dropped_full > 0 {
        eprintln!(
            "kmstop: --on-alert skipped {} alert change(s) over its rate limit",
            stats.dropped_rate + stats.dropped_full
        );
    }
    problems.is_empty()
}

/// The built-in rules with the user's file applied; `None` (after saying
/// why, with file, line and column) when the file is bad: kmstop does not
/// start on a rules file it cannot fully read.
pub(crate) fn load_rules(explicit: Option<&Path>) -> Option<Vec<RuleSpec>> {
    match crate::rules_file::load(explicit, &builtin::rules()) {
        Ok(set) => {
            warn_refused(&set.refused);
            Some(set.rules)
        }
        Err(errors) => {
            for e in errors {
                eprintln!("kmstop: {}", escape_control(&e.to_string()));
            }
            None
        }
    }
}

/// Sigma rules of the user's file that were not loaded, each with file,
/// line, title and reason; the file's other rules run.
pub(crate) fn warn_refused(refused: &[crate::alert::rules_toml::ConfigError]) {
    for e in refused {
        eprintln!(
            "kmstop: rule not loaded: {}",
            escape_control(&e.to_string())
        );
    }
}

/// Appends the replay's alert changes; false (after saying why) on failure.
fn write_alerts_log(log: &mut AlertLog, changes: &[AlertChange], now: DateTime<Utc>) -> bool {
    let written = changes
        .iter()
        .try_for_each(|c| log.write(&c.alert, now))
        .and_then(|()| log.flush());
    if let Err(e) = &written {
        eprintln!("kmstop: --alerts-log {}: {e}", log.path().display());
    }
    written.is_ok()
}

fn print_report(args: &ReportArgs, report: &Report, range: TimeRange) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => {
            crate::text::json::to_writer_pretty(&mut out, report).and_then(|()| writeln!(out))
        }
        Format::Csv => write_csv(report, args.section.unwrap_or_default(), &mut out),
        Format::Md => crate::report::write_markdown(report, range, args.top, &mut out),
        Format::Html => crate::report::write_html(report, range, args.top, &mut out),
        Format::Table => {
            let opts = TableOptions {
                width: output_width(),
                top: args.top,
                section: args.section,
            };
            write_table(report, opts, &mut out)
        }
    }
    .and_then(|()| out.flush())
}

fn print_problem(problem: &Problem, failed: &AtomicBool) {
    // Paths and reasons may carry bytes from the data: escaped.
    let text = escape_control(&problem.to_string()).into_owned();
    if problem.is_warning() {
        eprintln!("kmstop: warning: {text}");
    } else {
        failed.store(true, Ordering::Relaxed);
        eprintln!("kmstop: {text}");
    }
}

/// The terminal's width when printing to one, else `$COLUMNS`, else 120.
fn output_width() -> u16 {
    if io::stdout().is_terminal()
        && let Ok((columns, _)) = crossterm::terminal::size()
    {
        return columns;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(120)
}
