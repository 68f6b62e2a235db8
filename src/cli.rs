//! The command line, as clap derives it. Parsing only: running is in
//! [`crate::run`].

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Section;
use crate::timespec::{TimeSpec, parse_time_spec};

const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  the report was printed, but some input could not be read (see stderr)
  2  usage error: a bad flag or value, a --source path that does not exist,
     or a rules file with errors";

/// top for AWS KMS: who is using which key, who is being refused, and
/// which keys are about to rot or vanish.
///
/// With --source, the dashboard opens on CloudTrail log files; with a
/// subcommand, kmstop prints a report or the rules.
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
    /// recursively, gzip or JSON) instead of live AWS.
    #[arg(long = "source", short = 's', value_name = "PATH", num_args = 1..)]
    pub sources: Vec<PathBuf>,

    /// Colour theme: dark, light, high-contrast, colorblind, or a theme
    /// file. `NO_COLOR=1` turns colour off.
    #[arg(long, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Write logs to FILE (nothing is ever printed over the dashboard).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Alert rules to add to the built-ins (default: rules.toml in the
    /// config directory, or the config's `rules`).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Reader threads for --source (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
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
}

const REPORT_EXAMPLES: &str = "\
Examples:
  kmstop report --source ./AWSLogs
  kmstop report --source ./logs --since 2025-05-20T08:00:00Z --until 2025-05-20T12:00:00Z
  kmstop report --source ./logs --since 2h --format json | jq '.principals[:5]'
  kmstop report --source ./logs --format csv --section denied > denied.csv
  kmstop report --source ./logs --format json | jq '.alerts[] | select(.state == \"firing\")'
  kmstop report --source ./logs --rules my-rules.toml --alerts-log alerts.jsonl
  aws cloudtrail lookup-events ... | kmstop report --source -";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for a person, fitted to the terminal.
    Table,
    /// The whole report as JSON (a stable contract for scripts).
    Json,
    /// One section as CSV (choose it with --section).
    Csv,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// CloudTrail log files or directories (searched recursively, e.g. an
    /// `aws s3 sync` of AWSLogs/), gzip or JSON; `-` reads stdin.
    #[arg(long = "source", short = 's', value_name = "PATH", required = true, num_args = 1..)]
    pub sources: Vec<PathBuf>,

    /// Only events at or after this time: RFC 3339, a date (UTC), or an
    /// age such as 2h or 7d.
    #[arg(long, value_name = "TIME", value_parser = parse_time_spec)]
    pub since: Option<TimeSpec>,

    /// Only events at or before this time (same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = parse_time_spec)]
    pub until: Option<TimeSpec>,

    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// The section to print: the only one with --format table, the table
    /// printed with --format csv (default: principals). Ignored by json.
    #[arg(long, value_enum)]
    pub section: Option<Section>,

    /// Rows per section in the table format.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,

    /// Reader threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,

    /// Alert rules to add to the built-ins (and overrides of them); by
    /// default ~/.config/kmstop/rules.toml when it exists.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Also append every alert change to FILE, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    pub alerts_log: Option<PathBuf>,

    /// Run CMD (with `sh -c`) for every alert change, the alert as JSON on
    /// its stdin: at most 10 runs a minute, each killed after 10 s.
    #[arg(long, value_name = "CMD")]
    pub on_alert: Option<String>,
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

    /// Only check FILE: print every error and exit 1, or a summary and 0.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,

    /// How to print the list.
    #[arg(long, short = 'f', value_enum, default_value_t = RulesFormat::Table)]
    pub format: RulesFormat,
}
