//! `kmstop --source PATH…` (and, later, plain `kmstop` for live AWS):
//! config, theme, keys and rules resolved here, then the dashboard runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches};

use super::live::LiveSettings;
use super::{EXIT_USAGE, load_rules, usage_error};
use crate::aws::TargetOptions;
use crate::cli::{Cli, DashboardArgs};
use crate::clock::Clock;
use crate::config::{self, Config};
use crate::source::files::discover;
use crate::source::trail_fetch::TrailPlan;
use crate::source::trail_layout::Selection;
use crate::text::escape_control;
use crate::tui::{DashboardOptions, Source, run_dashboard};
use crate::ui::theme::Theme;

/// Parses the command line; `--version` also says which files kmstop
/// reads, so a user can find them.
pub fn parse_with_paths() -> Cli {
    let show = |p: Option<PathBuf>| {
        p.map_or_else(
            || "(no home directory)".to_owned(),
            |p| p.display().to_string(),
        )
    };
    let text = format!(
        "{}\nconfig: {}\nrules:  {}\nthemes: dark, light, high-contrast, colorblind (built in)",
        env!("CARGO_PKG_VERSION"),
        show(config::default_path()),
        show(crate::rules_file::default_rules_path()),
    );
    // clap wants a 'static string; this runs once per process.
    let text: &'static str = Box::leak(text.into_boxed_str());
    let matches = Cli::command().long_version(text).get_matches();
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    }
}

/// The theme asked for (`--theme`, else the config's, else dark): a
/// built-in name or a file. Problems fall back to dark, with a warning.
pub fn resolve_theme(spec: Option<&str>, no_color: bool) -> (Theme, Vec<String>) {
    let Some(spec) = spec else {
        return (Theme::default().with_no_color(no_color), Vec::new());
    };
    if let Some(t) = Theme::builtin(spec) {
        return (t.with_no_color(no_color), Vec::new());
    }
    let path = Path::new(spec);
    let name = path
        .file_stem()
        .map_or_else(|| spec.to_owned(), |s| s.to_string_lossy().into_owned());
    let fallback = |why: String| (Theme::default().with_no_color(no_color), vec![why]);
    match crate::config::read_settings(path) {
        Ok(text) => match Theme::parse(&name, &text) {
            Ok((t, warnings)) => (t.with_no_color(no_color), warnings),
            Err(e) => fallback(format!("theme {spec}: {e}; using dark")),
        },
        Err(e) => fallback(format!(
            "theme {spec}: not a built-in theme (dark, light, high-contrast, colorblind) and not a readable file ({e}); using dark"
        )),
    }
}

/// What the dashboard looks like and watches for, from the command line
/// and the config file: shared by the dashboard and the demo.
pub(super) struct Look {
    pub theme: Theme,
    pub keymap: crate::app::Keymap,
    pub rules: Vec<crate::alert::RuleSpec>,
    /// Problems with the theme or the keys (never fatal).
    pub warnings: Vec<String>,
}

impl Look {
    /// `None` (after saying why) when the rules file is bad.
    pub(super) fn resolve(
        config: &Config,
        theme: Option<&str>,
        rules: Option<&Path>,
    ) -> Option<Self> {
        let rules_file = rules.map(Path::to_path_buf).or(config.rules.clone());
        let rules = load_rules(rules_file.as_deref())?;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let (theme, mut warnings) = resolve_theme(theme.or(config.theme.as_deref()), no_color);
        let (keymap, key_warnings) = crate::app::Keymap::with_overrides(&config.keys);
        warnings.extend(key_warnings);
        Some(Self {
            theme,
            keymap,
            rules,
            warnings,
        })
    }
}

pub(super) fn init_logging(path: &Path) -> Result<(), String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("--log {}: {e}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KMSTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .map_err(|e| format!("--log: {e}"))
}

pub fn run(args: &DashboardArgs, clock: &Arc<dyn Clock>) -> ExitCode {
    if let Some(log) = &args.log
        && let Err(e) = init_logging(log)
    {
        return usage_error(&e);
    }
    let (config, mut warnings) = config::default_path()
        .map_or_else(|| (Config::default(), Vec::new()), |p| config::load(&p));
    let athena = match super::athena_dashboard::table_of(args) {
        Ok(table) => table,
        Err(message) => return usage_error(&message),
    };
    let who = args.who.who();
    let live = args.sources.is_empty();
    let (inputs, s3) = if live || athena.is_some() {
        (Vec::new(), None)
    } else {
        match file_sources(args, clock.now()) {
            Ok(found) => found,
            Err(message) => return usage_error(&message),
        }
    };
    let Some(look) = Look::resolve(&config, args.theme.as_deref(), args.rules.as_deref()) else {
        return ExitCode::from(EXIT_USAGE);
    };
    warnings.extend(look.warnings);
    for w in &warnings {
        // Before the alternate screen: the user sees them after quitting too.
        eprintln!("kmstop: warning: {}", escape_control(w));
        tracing::warn!("{w}");
    }
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let opts = DashboardOptions {
        source: if live {
            // The asks for records are wired once the sources run.
            Source::Live { records: None }
        } else {
            Source::Files {
                paths: args.sources.clone(),
                inputs,
                s3,
            }
        },
        demo: false,
        theme: look.theme,
        keymap: look.keymap,
        warnings,
        rules: look.rules,
        threads,
        panic_key: test_panic_key(),
        export_dir: args
            .export_dir
            .clone()
            .unwrap_or_else(crate::tui::default_export_dir),
        who,
        usage: crate::aggregate::usage::UsageSettings {
            quotas: args.quotas.clone(),
            prices: args.prices.clone(),
        },
    };
    if let Some(table) = athena {
        return super::athena_dashboard::run(args, &table, opts, clock);
    }
    if live {
        return run_live(args, &config, opts, clock);
    }
    match run_dashboard(opts, crate::tui::channel(), clock.as_ref()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kmstop: {}", escape_control(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

/// File mode's inputs: the local files found, and the buckets to read
/// (the last `--backfill` of each).
fn file_sources(
    args: &DashboardArgs,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<crate::source::files::Input>, Option<Box<TrailPlan>>), String> {
    let sources = super::s3::split_sources(&args.sources)?;
    super::check_selection(&args.accounts, &args.targets.regions, sources.has_remote())?;
    if args.backfill < chrono::Duration::zero() {
        return Err("--backfill must not be negative".into());
    }
    let inputs = discover(&sources.paths)?;
    let s3 = sources.has_remote().then(|| {
        Box::new(TrailPlan {
            buckets: sources.buckets,
            log_groups: sources.log_groups,
            options: args.targets.options(),
            selection: Selection {
                since: Some(now - args.backfill),
                until: None,
                accounts: args.accounts.clone(),
                regions: args.targets.regions.clone(),
            },
            now,
        })
    });
    Ok((inputs, s3))
}

/// Live mode: the flags and the config's profile and regions.
fn run_live(
    args: &DashboardArgs,
    config: &Config,
    opts: DashboardOptions,
    clock: &Arc<dyn Clock>,
) -> ExitCode {
    if args.backfill < chrono::Duration::zero() {
        return usage_error("--backfill must not be negative");
    }
    if let Err(message) = args.poll.check(args.targets.profiles.len()) {
        return usage_error(&message);
    }
    let mut targets = args.targets.options();
    if targets.profiles.is_empty()
        && let Some(profile) = &config.profile
    {
        targets.profiles.push(profile.clone());
    }
    if targets.regions.is_empty() && !targets.all_regions {
        targets.regions.clone_from(&config.regions);
    }
    let settings = LiveSettings {
        backfill: args.backfill,
        plan: super::live::plan_settings(&args.poll),
        include_own_calls: args.include_own_calls,
        inventory_interval: crate::source::inventory::DEFAULT_INTERVAL,
        trail: args.poll.trail_paths(),
        trail_interval: args.poll.trail_interval(),
    };
    live_dashboard(&targets, &settings, opts, clock, "")
}

/// The live dashboard, for `kmstop` and the demo alike: who we are in each
/// account is settled before the screen opens (a missing login is a
/// message, not an empty dashboard), then the pollers feed the dashboard's
/// channel until it quits. `unreachable` starts the message when an
/// account cannot be read.
pub(super) fn live_dashboard(
    targets: &TargetOptions,
    settings: &LiveSettings,
    opts: DashboardOptions,
    clock: &Arc<dyn Clock>,
    unreachable: &str,
) -> ExitCode {
    let runtime = match super::live::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kmstop: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let accounts = match runtime.block_on(super::live::accounts(targets)) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("kmstop: {unreachable}{message}");
            return ExitCode::from(1);
        }
    };
    let channel = crate::tui::channel();
    let session = super::live::start_live(runtime, &accounts, settings, clock, channel.0.clone());
    let records = session.serve_records(&accounts, channel.0.clone());
    let opts = DashboardOptions {
        source: Source::Live {
            records: Some(records),
        },
        ..opts
    };
    let result = run_dashboard(opts, channel, clock.as_ref());
    drop(session);
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kmstop: {}", escape_control(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

/// The end-to-end tests' way to make the dashboard panic on a key (to
/// check the terminal is restored). Debug builds only: the hook is not in
/// a release binary.
#[cfg(debug_assertions)]
fn test_panic_key() -> Option<char> {
    std::env::var("KMSTOP_TEST_PANIC_KEY")
        .ok()
        .and_then(|s| s.chars().next())
}

#[cfg(not(debug_assertions))]
fn test_panic_key() -> Option<char> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_by_name_by_path_and_broken_ones_fall_back() {
        let (t, w) = resolve_theme(Some("light"), false);
        assert_eq!((t.name.as_str(), w.len()), ("light", 0));
        let (t, w) = resolve_theme(None, true);
        assert!(t.no_color && w.is_empty());
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("mine.toml");
        std::fs::write(&good, "[colors]\ncrit = \"#ff0000\"\n").expect("write");
        let (t, w) = resolve_theme(good.to_str(), false);
        assert_eq!((t.name.as_str(), w.len()), ("mine", 0));
        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "[colors\n").expect("write");
        let (t, w) = resolve_theme(broken.to_str(), false);
        assert_eq!(t.name, "dark");
        assert!(w[0].contains("using dark"), "{w:?}");
        let (t, w) = resolve_theme(Some("no-such-theme"), false);
        assert_eq!(t.name, "dark");
        assert!(w[0].contains("not a built-in theme"), "{w:?}");
    }
}
