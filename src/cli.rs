//! The command line, as clap derives it. Parsing only: running is in
//! [`crate::run`].

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod athena;
mod keys;
mod report;
mod sim;
mod who;

pub use keys::KeysArgs;
use report::REPORT_EXAMPLES;
pub use report::{Format, ReportArgs};
use sim::SIM_EXAMPLES;
pub use sim::{SimArgs, parse_bucket_dir, parse_delay_range};
pub use who::WhoArgs;

const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  the report was printed, but some input could not be read (see stderr)
  2  usage error: a bad flag or value, a --source path that does not exist,
     or a rules file with errors";

/// top for AWS KMS: who is using which key, who is being refused, and
/// which keys are about to rot or vanish.
///
/// With no subcommand, the live dashboard of your AWS account (your usual
/// profile, or --profile); with --source, the dashboard on CloudTrail log
/// files; with a subcommand, a headless face of the same engine.
#[derive(Debug, Parser)]
#[command(
    name = "kmstop",
    version,
    about,
    after_help = EXIT_CODES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub dashboard: DashboardArgs,
}

/// The dashboard's options (no subcommand).
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Open the dashboard on CloudTrail log files or directories (searched
    /// recursively, gzip or JSON), a trail's bucket (`s3://BUCKET[/PREFIX]`)
    /// or log group (`logs://LOG_GROUP`, a name or an ARN) — their last
    /// --backfill — instead of live AWS; or on a trail's Athena table
    /// (`athena://[CATALOG/]DATABASE/TABLE`, with --since): counts from one
    /// pushed-down query, events when you drill down.
    #[arg(long = "source", short = 's', value_name = "PATH", num_args = 1..)]
    pub sources: Vec<PathBuf>,

    /// With an athena:// source: the window's start (RFC 3339, a date, or
    /// an age such as 24h or 7d).
    #[arg(long, value_name = "TIME", value_parser = crate::timespec::parse_time_spec)]
    pub since: Option<crate::timespec::TimeSpec>,

    /// With an athena:// source: the window's end (default: now).
    #[arg(long, value_name = "TIME", value_parser = crate::timespec::parse_time_spec)]
    pub until: Option<crate::timespec::TimeSpec>,

    #[command(flatten)]
    pub athena: athena::ReportAthenaArgs,

    /// Accounts to read of an s3:// or logs:// source, or to query of an
    /// athena:// organization trail's table (repeat, or comma-separate); by
    /// default every account the trail holds.
    #[arg(long = "account", value_name = "ID", value_delimiter = ',')]
    pub accounts: Vec<String>,

    /// Colour theme: dark, light, high-contrast, colorblind, or a theme
    /// file. `NO_COLOR=1` turns colour off.
    #[arg(long, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Write logs to FILE (nothing is ever printed over the dashboard).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Where `e` writes its exports (default: exports in kmstop's data
    /// directory, ~/.local/share/kmstop/exports on Linux).
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,

    /// Alert rules to add to the built-ins (default: rules.toml in the
    /// config directory, or the config's `rules`); a .yml/.yaml file holds
    /// Sigma rules.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Reader threads for --source (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,

    #[command(flatten)]
    pub targets: TargetArgs,

    /// Live mode: read this much history at start (newest first, while
    /// new events keep coming); with an s3:// source, the window read.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub backfill: chrono::Duration,

    #[command(flatten)]
    pub poll: PollArgs,

    /// Live mode: count kmstop's own KMS calls too (left out by default).
    #[arg(long)]
    pub include_own_calls: bool,

    #[command(flatten)]
    pub who: WhoArgs,

    /// A request quota of your account instead of the documented default,
    /// FAMILY=N requests per second (repeat), for the Quota & cost pane:
    /// as `kmstop report --quota`.
    #[arg(long = "quota", value_name = "FAMILY=N", value_parser = crate::aggregate::quota::QuotaOverride::parse)]
    pub quotas: Vec<crate::aggregate::quota::QuotaOverride>,

    /// A KMS request price instead of the documented one, CLASS=USD per
    /// 10,000 requests (repeat), for the Quota & cost pane: as
    /// `kmstop report --price`.
    #[arg(long = "price", value_name = "CLASS=USD", value_parser = crate::aggregate::cost::PriceOverride::parse)]
    pub prices: Vec<crate::aggregate::cost::PriceOverride>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarise KMS use in CloudTrail log files: principals, keys, denied
    /// calls and key changes.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// List the alert rules, built-in and yours, or check a rules file.
    #[command(after_help = RULES_HELP)]
    Rules(RulesArgs),
    /// Follow KMS events live from CloudTrail (LookupEvents), as JSON lines
    /// or a table; --alerts prints alert changes instead.
    #[command(after_help = TAIL_HELP)]
    Tail(TailArgs),
    /// Check credentials, regions, read permissions and trail coverage, and
    /// say how to fix what is wrong.
    #[command(after_help = DOCTOR_HELP)]
    Doctor(DoctorArgs),
    /// Run the loopback AWS simulator (CloudTrail, KMS and STS reads) in
    /// the foreground: a seeded account to point kmstop, boto3 or the AWS
    /// CLI at, with any credentials.
    #[command(after_help = SIM_EXAMPLES)]
    Sim(SimArgs),
    /// List the KMS keys of your account(s): state, rotation, deletion
    /// date, aliases, last use.
    #[command(after_help = keys::KEYS_HELP)]
    Keys(KeysArgs),
    /// The live dashboard on a simulated account: no AWS account, no
    /// network, no credentials — the simulator runs inside kmstop and the
    /// real AWS clients read it.
    #[command(after_help = DEMO_HELP)]
    Demo(DemoArgs),
    /// Print a shell completion script for kmstop (bash, zsh, fish,
    /// elvish, powershell).
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Amazon Athena over a trail's bucket: print (or create) the
    /// CloudTrail table that `report --source athena://…` queries.
    #[command(after_help = athena::ATHENA_HELP)]
    Athena(athena::AthenaArgs),
    /// Print kmstop's manual page (roff), or write one page per command
    /// into a directory.
    #[command(after_help = MAN_HELP)]
    Man(ManArgs),
}

const COMPLETIONS_HELP: &str = "\
Install it where your shell looks for completions, then start a new shell:

Examples:
  kmstop completions bash > ~/.local/share/bash-completion/completions/kmstop
  kmstop completions zsh > ~/.zfunc/_kmstop   # with fpath+=~/.zfunc in ~/.zshrc
  kmstop completions fish > ~/.config/fish/completions/kmstop.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

const MAN_HELP: &str = "\
Examples:
  kmstop man | man -l -
  kmstop man > ~/.local/share/man/man1/kmstop.1   # then: man kmstop
  kmstop man --dir ~/.local/share/man/man1   # a page per subcommand";

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write kmstop.1 and a page per subcommand (kmstop-report.1, ...)
    /// into DIR instead of printing kmstop.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

const DEMO_HELP: &str = "\
The simulated account (111122223333, us-east-1 and eu-west-1) already has an
hour of history, so every pane fills at once. In the default scenario a
compromised role is refused Decrypt again and again about 30 s after the
start (the spike alert fires within the minute), a key pending deletion is
still called, one key has rotation off, and a key policy is opened about
3 min in. Events become visible 2 s to 1 min after they happen, most within
10 s (--realistic-delay: minutes, as CloudTrail's slower deliveries take);
rates over minutes still filling are estimates, drawn ~12, dimmed. Nothing is read from ~/.aws.

Examples:
  kmstop demo
  kmstop demo --speed 10                  # ten simulated seconds a second
  kmstop demo --scenario busy             # more than LookupEvents can deliver
  kmstop demo --scenario outage --theme light";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the simulated account and its traffic (the same seed tells
    /// the same story).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Run simulated time this many times faster than the wall clock.
    #[arg(long, value_name = "X", default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,

    /// default, quiet, busy (beyond the LookupEvents ceiling) or outage (a
    /// region throttled and failing).
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub scenario: crate::sim::Scenario,

    /// Colour theme: dark, light, high-contrast, colorblind, or a theme
    /// file. `NO_COLOR=1` turns colour off.
    #[arg(long, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Deliver events minutes late, as CloudTrail does, instead of seconds.
    #[arg(long)]
    pub realistic_delay: bool,

    /// Write logs to FILE (nothing is ever printed over the dashboard).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// On exit, write every request the simulator served to FILE as JSON
    /// lines (for tests: the demo must only ever read).
    #[arg(long, value_name = "FILE", hide = true)]
    pub request_log: Option<PathBuf>,
}

/// A positive, finite speed-up.
fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 3600.0 => Ok(x),
        _ => Err(format!(
            "`{text}` is not a speed between 0 and 3600 (1 = real time)"
        )),
    }
}

const TAIL_HELP: &str = "\
Events come newest-first from CloudTrail's LookupEvents (2 requests/s per
region, 50 events a request: about 100 events/s per region at most). Late
deliveries are caught by re-reading each minute at +5 and +20 min; each
event is printed once. Health changes (lagging, throttled, failing) are
reported on stderr, so stdout stays a clean stream.

Examples:
  kmstop tail --profile prod --region us-east-1
  kmstop tail --backfill 1h | jq 'select(.outcome == \"denied\")'
  kmstop tail --format table --region us-east-1,eu-west-1
  kmstop tail --alerts | jq '.alert.title'
  kmstop tail --resume >> kms-events.jsonl   # no gap, no repeat since last run";

const DOCTOR_HELP: &str = "\
Exit status:
  0  everything kmstop needs works
  1  something is wrong (each problem is printed with how to fix it)

Examples:
  kmstop doctor --profile prod
  kmstop doctor --all-regions";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TailFormat {
    /// One JSON object per event (normalized fields; --raw: the record).
    Json,
    /// One line per event for a person.
    Table,
}

// Flags are naturally bools.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub targets: TargetArgs,

    /// Print events from this far back first (newest first), then follow.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub backfill: chrono::Duration,

    /// Go on from where the last `kmstop tail --resume` (or tail) stopped:
    /// no event missed, none printed twice. Without it, a fresh start.
    #[arg(long)]
    pub resume: bool,

    #[command(flatten)]
    pub poll: PollArgs,

    #[arg(long, short = 'f', value_enum, default_value_t = TailFormat::Json)]
    pub format: TailFormat,

    /// With --format json: print each CloudTrail record as it is.
    #[arg(long)]
    pub raw: bool,

    /// Print alert changes (JSON lines) instead of events.
    #[arg(long)]
    pub alerts: bool,

    /// Rules for --alerts (default ~/.config/kmstop/rules.toml if present;
    /// a .yml/.yaml file holds Sigma rules).
    #[arg(long, value_name = "FILE", requires = "alerts")]
    pub rules: Option<PathBuf>,

    /// Also print kmstop's own KMS calls (left out by default).
    #[arg(long)]
    pub include_own_calls: bool,

    #[command(flatten)]
    pub who: WhoArgs,
}

/// How the live pollers read CloudTrail: the same knobs for the dashboard
/// and `tail`.
#[derive(Debug, Clone, Args)]
pub struct PollArgs {
    /// Live: how often to ask CloudTrail for new events.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub poll_interval: chrono::Duration,

    /// Live: read each minute again this long after it ends, for events
    /// CloudTrail makes visible later than that (comma-separated,
    /// ascending). The last minutes are re-read every 15 s anyway, as far
    /// back as the delivery delays seen call for.
    #[arg(long, value_name = "DURATIONS", default_value = "5m,20m", value_delimiter = ',', value_parser = parse_duration)]
    pub reread_after: Vec<chrono::Duration>,

    /// Live: also read the account's trail where it lands in S3 — every
    /// event, minutes late — beside LookupEvents (fresh, but at most ~100
    /// events/s per region); each event is shown once. `auto` finds a
    /// trail that logs KMS events and whose bucket you may list; `off`
    /// reads LookupEvents alone; or a trail's name, or `s3://BUCKET[/PREFIX]`.
    #[arg(long, value_name = "auto|off|NAME|s3://…", default_value = "auto", value_parser = parse_trail)]
    pub trail: crate::source::trail_find::TrailChoice,

    /// Live: also follow the trail's CloudWatch Logs log group with Live
    /// Tail — events within seconds, but sampled above 500 a second (the
    /// header says so; counts still come from the trail and LookupEvents).
    /// Live Tail is billed per session-minute, so it is off unless asked:
    /// `auto` uses the log group the trail sends to; or a group's name,
    /// ARN or `logs://…`.
    #[arg(long, value_name = "auto|off|LOG_GROUP", default_value = "off", value_parser = parse_trail_logs)]
    pub trail_logs: crate::source::live_tail::LogsChoice,

    /// Live: learn of the trail's new objects from this SQS queue of the
    /// bucket's "object created" notifications (S3 events, through SNS,
    /// or CloudTrail's own SNS notices) instead of listing the bucket —
    /// for very large organizations. kmstop DELETES the messages it has
    /// handled: give it a queue made for it alone. One --profile only.
    #[arg(long, value_name = "URL")]
    pub sqs_queue: Option<String>,
}

fn parse_trail(text: &str) -> Result<crate::source::trail_find::TrailChoice, String> {
    text.parse()
}

fn parse_trail_logs(text: &str) -> Result<crate::source::live_tail::LogsChoice, String> {
    text.parse()
}

impl PollArgs {
    /// Where the trail is read beside LookupEvents.
    pub fn trail_paths(&self) -> crate::source::trail_find::TrailPaths {
        crate::source::trail_find::TrailPaths {
            s3: self.trail.clone(),
            logs: self.trail_logs.clone(),
            queue: self.sqs_queue.clone(),
        }
    }

    /// How often the trail is listed for new objects: a few polls, since
    /// CloudTrail delivers a region's file every five minutes or so.
    pub fn trail_interval(&self) -> std::time::Duration {
        (self.poll_interval * 4)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(20))
            .max(std::time::Duration::from_secs(2))
    }

    /// What is wrong with the values, in the words of the flags.
    pub fn check(&self, profiles: usize) -> Result<(), String> {
        if let Some(url) = &self.sqs_queue {
            let shaped = (url.starts_with("https://") || url.starts_with("http://"))
                && !url.chars().any(|c| c.is_control() || c.is_whitespace());
            if !shaped {
                return Err(format!(
                    "--sqs-queue {url}: not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
                ));
            }
            if self.trail == crate::source::trail_find::TrailChoice::Off {
                return Err(
                    "--sqs-queue tells of the trail's new objects; --trail off reads no trail"
                        .into(),
                );
            }
            if profiles > 1 {
                return Err("--sqs-queue: one --profile only (each message is handled, then deleted, by one reader)".into());
            }
        }
        if self.poll_interval < chrono::Duration::seconds(1) {
            return Err("--poll-interval must be at least 1s".into());
        }
        if !self.reread_after.is_sorted()
            || self
                .reread_after
                .iter()
                .any(|d| *d <= chrono::Duration::zero())
        {
            return Err(
                "--reread-after takes positive durations in ascending order, e.g. 5m,20m".into(),
            );
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
}

pub(crate) fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    crate::timespec::parse_age(text).ok_or_else(|| {
        format!("`{text}` is not a duration like 30s, 5m, 2h or 7d (at most 36500d)")
    })
}

const RULES_HELP: &str = "\
Your rules are read from $KMSTOP_CONFIG_DIR/rules.toml, else
$XDG_CONFIG_HOME/kmstop/rules.toml, else ~/.config/kmstop/rules.toml.

Exit status:
  0  success (with --check: the file is valid)
  1  the rules file cannot be read or has errors (each printed on stderr)
  2  usage error

Examples:
  kmstop rules
  kmstop rules --format json | jq '.[] | select(.enabled) | .id'
  kmstop rules --check ./rules.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    /// A table for a person.
    Table,
    /// Every rule in full, with its source, as a JSON array.
    Json,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// The rules file to use instead of the default one (it must exist).
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub rules: Option<PathBuf>,

    /// Only check FILE: print every error and exit 1, or a summary and 0
    /// (a Sigma .yml: each rule loaded or refused; 1 if any is refused).
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,

    /// How to print the list.
    #[arg(long, short = 'f', value_enum, default_value_t = RulesFormat::Table)]
    pub format: RulesFormat,
}

/// Which AWS accounts and regions to read (the live commands share these).
// These doc comments are --help text for people, not rustdoc.
#[allow(clippy::doc_markdown)]
#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// AWS profile to use (repeat for several accounts in one view); by
    /// default the usual chain: AWS_PROFILE, env credentials, SSO, roles.
    #[arg(long = "profile", short = 'p', value_name = "NAME")]
    pub profiles: Vec<String>,

    /// Region to read (repeat, or comma-separate, for several); by default
    /// the profile's region.
    #[arg(
        long = "region",
        short = 'r',
        value_name = "REGION",
        value_delimiter = ','
    )]
    pub regions: Vec<String>,

    /// Read every commercial region (opt-in regions the account has not
    /// enabled are shown as unavailable).
    #[arg(long, conflicts_with = "regions")]
    pub all_regions: bool,

    /// Send every AWS call to this endpoint instead (the simulator, moto,
    /// a VPC endpoint). AWS_ENDPOINT_URL works too.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl TargetArgs {
    pub fn options(&self) -> crate::aws::TargetOptions {
        crate::aws::TargetOptions {
            profiles: self.profiles.clone(),
            regions: self.regions.clone(),
            all_regions: self.all_regions,
            endpoint_url: self.endpoint_url.clone(),
            static_credentials: None,
        }
    }
}
