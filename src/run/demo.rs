//! `kmstop demo`: the live dashboard on the loopback simulator, run inside
//! the process. Only the account is simulated: the AWS SDK clients, the
//! CloudTrail and key-inventory pollers and the dashboard are the ones
//! plain `kmstop` runs against AWS, so what the demo shows is what
//! production shows.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::dashboard::{Look, init_logging, live_dashboard};
use super::live::LiveSettings;
use super::{EXIT_USAGE, usage_error};
use crate::aws::TargetOptions;
use crate::cli::DemoArgs;
use crate::clock::Clock;
use crate::config::{self, Config};
use crate::sim::{RequestRecord, Sim, SimHandle, SimOptions};
use crate::text::escape_control;
use crate::tui::{DashboardOptions, Source};

/// Events become visible this long after they happen, spread over the
/// first minute and skewed short (half within 9 s) as CloudTrail's quick
/// deliveries are: the pollers' re-reads of the last minutes have real
/// work, and the story of the first minute is on screen within it.
const DEMO_DELAY: (Duration, Duration) = (Duration::from_secs(2), Duration::from_mins(1));
/// `--realistic-delay`: minutes, as CloudTrail's event history does
/// (usually within 5, a few much later — the pollers' re-reads at +5 and
/// +20 min are what catch those).
const REALISTIC_DELAY: (Duration, Duration) = (Duration::from_mins(1), Duration::from_mins(10));
/// The simulator accepts any signature; these only have to look like keys.
const DEMO_CREDENTIALS: (&str, &str) = ("AKIAKMSTOPDEMO000000", "kmstop-demo-not-a-secret");

pub fn run(args: &DemoArgs, system: &Arc<dyn Clock>) -> ExitCode {
    if let Some(log) = &args.log
        && let Err(e) = init_logging(log)
    {
        return usage_error(&e);
    }
    // The user's theme, keys and rules apply (it is their dashboard); the
    // config's profile and regions do not (the account is simulated).
    let (config, mut warnings) = config::default_path()
        .map_or_else(|| (Config::default(), Vec::new()), |p| config::load(&p));
    let Some(look) = Look::resolve(&config, args.theme.as_deref(), None) else {
        return ExitCode::from(EXIT_USAGE);
    };
    warnings.extend(look.warnings);
    for w in &warnings {
        eprintln!("kmstop: warning: {}", escape_control(w));
        tracing::warn!("{w}");
    }
    // The simulator, the pollers and the dashboard share one clock: an
    // event the simulator stamps "now" is "now" on screen too.
    let clock = crate::clock::at_speed(system, args.speed);
    let sim = match Sim::start(sim_options(args, &clock)) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!(
                "kmstop: cannot start the simulator: {}",
                escape_control(&e.to_string())
            );
            return ExitCode::from(1);
        }
    };
    tracing::info!(
        "demo: simulator at {} (scenario {}, seed {}, speed {})",
        sim.endpoint(),
        args.scenario,
        args.seed,
        args.speed
    );
    let opts = DashboardOptions {
        source: Source::Live { records: None },
        demo: true,
        theme: look.theme,
        keymap: look.keymap,
        warnings,
        rules: look.rules,
        threads: 1,
        panic_key: None,
        export_dir: crate::tui::default_export_dir(),
        who: crate::who::Who::default(),
        usage: crate::aggregate::usage::UsageSettings::default(),
    };
    let code = dashboard_on(&sim, opts, &clock);
    if let Some(path) = &args.request_log
        && let Err(e) = write_requests(path, &sim.requests())
    {
        eprintln!("kmstop: --request-log {}: {e}", path.display());
        sim.stop();
        return ExitCode::from(1);
    }
    sim.stop();
    code
}

fn sim_options(args: &DemoArgs, clock: &Arc<dyn Clock>) -> SimOptions {
    let (delay_min, delay_max) = if args.realistic_delay {
        REALISTIC_DELAY
    } else {
        DEMO_DELAY
    };
    SimOptions {
        seed: args.seed,
        scenario: args.scenario,
        delay_min,
        delay_max,
        clock: Arc::clone(clock),
        memory: crate::sim::SimMemory::demo(args.request_log.is_some()),
        ..SimOptions::default()
    }
}

/// Live mode pointed at the simulator: identity, pollers, dashboard —
/// the same calls as `run_live`, with fixed credentials and nothing read
/// from `~/.aws` or the `AWS_*` variables.
fn dashboard_on(sim: &SimHandle, opts: DashboardOptions, clock: &Arc<dyn Clock>) -> ExitCode {
    let targets = TargetOptions {
        profiles: Vec::new(),
        regions: sim.world().regions.clone(),
        all_regions: false,
        endpoint_url: Some(sim.endpoint()),
        static_credentials: Some((DEMO_CREDENTIALS.0.into(), DEMO_CREDENTIALS.1.into())),
    };
    let settings = LiveSettings {
        backfill: chrono::Duration::hours(1),
        plan: crate::source::lookup::PlanSettings::default(),
        include_own_calls: false,
        inventory_interval: crate::source::inventory::DEFAULT_INTERVAL,
        // The simulated account's trail, found as a real one is.
        trail: crate::source::trail_find::TrailPaths {
            s3: crate::source::trail_find::TrailChoice::Auto,
            logs: crate::source::live_tail::LogsChoice::Off,
            queue: None,
        },
        trail_interval: std::time::Duration::from_secs(10),
    };
    live_dashboard(
        &targets,
        &settings,
        opts,
        clock,
        "the demo cannot reach its own simulator: ",
    )
}

/// Every request the simulator served, one JSON object a line.
fn write_requests(path: &Path, requests: &[RequestRecord]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for r in requests {
        serde_json::to_writer(&mut out, r)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
