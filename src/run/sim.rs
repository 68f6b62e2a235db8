//! `kmstop sim`: the loopback AWS simulator in the foreground until Ctrl-C
//! or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::SimArgs;
use crate::clock::Clock;
use crate::sim::{Faults, Sim, SimOptions};
use crate::text::escape_control;

pub fn run(args: &SimArgs, system: &Arc<dyn Clock>) -> ExitCode {
    let clock = crate::clock::at_speed(system, args.speed);
    let options = SimOptions {
        seed: args.seed,
        scenario: args.scenario,
        account: args.account.clone(),
        regions: args.regions.clone(),
        delay_min: args.delay.0,
        delay_max: args.delay.1,
        faults: Faults {
            throttle: args.throttle,
            server_error: args.server_errors,
            drop: args.drop,
            garbage: args.garbage,
            huge: args.huge,
            region: args.fault_region.clone(),
            ..Faults::default()
        },
        dir_buckets: args.buckets.clone(),
        busy_rate: args.busy_rate,
        trail_delivery: crate::sim::TrailDelivery {
            every: args.trail_every,
            lag: args.trail_lag,
        },
        port: args.port,
        clock,
        ..SimOptions::default()
    };
    let sim = match Sim::start(options) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!(
                "kmstop: cannot start the simulator: {}",
                escape_control(&e.to_string())
            );
            return ExitCode::from(2);
        }
    };
    let endpoint = sim.endpoint();
    let region = &args.regions[0];
    super::say(format_args!(
        "kmstop sim: account {} in {} (scenario {}, seed {}) at {endpoint}",
        args.account,
        args.regions.join(", "),
        args.scenario,
        args.seed
    ));
    super::say(format_args!("Any credentials work. Try:\n"));
    super::say(format_args!(
        "  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url {endpoint} --region {region} cloudtrail lookup-events --lookup-attributes AttributeKey=EventSource,AttributeValue=kms.amazonaws.com"
    ));
    super::say(format_args!(
        "  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url {endpoint} --region {region} kms list-aliases"
    ));
    super::say(format_args!(
        "  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x kmstop report --endpoint-url {endpoint} --source s3://{} --since 1h",
        crate::sim::trail_bucket(&args.account)
    ));
    super::say(format_args!("\nCtrl-C stops it."));
    let waited = wait_for_signal();
    let requests = sim.requests().len();
    sim.stop();
    match waited {
        Ok(()) => {
            eprintln!("kmstop sim: stopped after {requests} request(s)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kmstop: cannot wait for signals: {e}");
            ExitCode::from(1)
        }
    }
}

/// Blocks until Ctrl-C (SIGINT) or SIGTERM.
fn wait_for_signal() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(super::live::shutdown_signal());
    Ok(())
}
