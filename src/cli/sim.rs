//! `kmstop sim` arguments.

use std::path::PathBuf;

use clap::Args;

pub(super) const SIM_EXAMPLES: &str = "\
Examples:
  kmstop sim --port 4599
  kmstop sim --port 4599 --scenario busy \\
    --regions us-east-1,eu-west-1,ap-southeast-2
  kmstop sim --port 4599 --throttle 0.15 --server-errors 0.05 --delay 5s..2m

Scenarios: default (steady traffic, a burst of denied Decrypts ~30 s in, a key
policy opened ~3 min in), quiet, busy (~200 events/s in the first region),
outage (the last region always failing). Stop it with Ctrl-C.";

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub port: u16,

    /// Seed of the simulated account and its traffic.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// default, quiet, busy or outage.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub scenario: crate::sim::Scenario,

    /// Regions of the account, comma-separated.
    #[arg(
        long,
        value_name = "A,B",
        value_delimiter = ',',
        default_value = "us-east-1,eu-west-1"
    )]
    pub regions: Vec<String>,

    /// The 12-digit account id.
    #[arg(long, value_name = "ID", default_value = "111122223333")]
    pub account: String,

    /// Share of requests answered with a throttling error (0-1).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub throttle: f64,

    /// Share of requests answered with a 500/503 (0-1).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub server_errors: f64,

    /// Share of connections closed without an answer (0-1).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub drop: f64,

    /// Share of requests answered 200 with a body that is not JSON (0-1): a
    /// broken or hostile endpoint.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub garbage: f64,

    /// Share of requests answered 200 with a page that never ends (0-1): a
    /// hostile endpoint trying to exhaust the client's memory.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub huge: f64,

    /// Give the faults above only to requests signed for this region (the
    /// others are answered normally).
    #[arg(long, value_name = "REGION")]
    pub fault_region: Option<String>,

    /// CloudTrail delivery delay: events appear between MIN and MAX after
    /// their eventTime.
    #[arg(long, value_name = "MIN..MAX", default_value = "5s..2m", value_parser = parse_delay_range)]
    pub delay: (std::time::Duration, std::time::Duration),

    /// Run simulated time this many times faster than the wall clock.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub speed: f64,

    /// Also serve directory DIR as S3 bucket NAME (repeatable), e.g. a
    /// copy of a trail for `report --source s3://NAME`.
    #[arg(long = "bucket", value_name = "NAME=DIR", value_parser = parse_bucket_dir)]
    pub buckets: Vec<(String, PathBuf)>,

    /// Events per second of the busy scenario's first region (past
    /// LookupEvents' ~100 and Live Tail's 500, for the trail paths).
    #[arg(long, value_name = "N", default_value_t = crate::sim::BUSY_RATE, value_parser = parse_busy_rate)]
    pub busy_rate: f64,

    /// The trail's objects land in its bucket this often…
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_positive)]
    pub trail_every: chrono::Duration,

    /// …this long after their minutes end.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_positive)]
    pub trail_lag: chrono::Duration,
}

fn parse_busy_rate(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|r| (1.0..=100_000.0).contains(r))
        .ok_or_else(|| format!("{text:?} is not an event rate from 1 to 100000"))
}

fn parse_positive(text: &str) -> Result<chrono::Duration, String> {
    crate::timespec::parse_age(text)
        .filter(|d| *d > chrono::Duration::zero())
        .ok_or_else(|| format!("`{text}` is not a duration like 10s, 5m or 1h"))
}

/// `NAME=DIR` for `sim --bucket`.
pub fn parse_bucket_dir(text: &str) -> Result<(String, PathBuf), String> {
    let (name, dir) = text
        .split_once('=')
        .filter(|(n, d)| !n.is_empty() && !d.is_empty())
        .ok_or_else(|| format!("{text:?} is not NAME=DIR"))?;
    crate::source::trail_layout::S3Url::parse(&format!("s3://{name}"))?;
    Ok((name.to_string(), PathBuf::from(dir)))
}

/// `5s..2m`: a delivery delay range in the units of `--since` ages.
pub fn parse_delay_range(text: &str) -> Result<(std::time::Duration, std::time::Duration), String> {
    let bad = || format!("{text:?} is not a delay range such as 5s..2m");
    let (min, max) = text.split_once("..").ok_or_else(bad)?;
    let age = |s: &str| {
        crate::timespec::parse_age(s.trim())
            .and_then(|d| d.to_std().ok())
            .ok_or_else(bad)
    };
    let (min, max) = (age(min)?, age(max)?);
    if min > max {
        return Err(format!("{text:?}: the minimum is above the maximum"));
    }
    Ok((min, max))
}
