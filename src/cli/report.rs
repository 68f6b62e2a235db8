//! `kmstop report` arguments.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{TargetArgs, athena};
use crate::aggregate::cost::PriceOverride;
use crate::aggregate::quota::QuotaOverride;
use crate::report::Section;
use crate::timespec::{TimeSpec, parse_time_spec};

pub(super) const REPORT_EXAMPLES: &str = "\
Examples:
  kmstop report --source ./AWSLogs
  kmstop report --source ./logs --since 2025-05-20T08:00:00Z \\
    --until 2025-05-20T12:00:00Z
  kmstop report --source ./logs --since 2h --format json | jq '.principals[:5]'
  kmstop report --source ./logs --format csv --section denied > denied.csv
  kmstop report --source ./logs --section quota --quota symmetric=50000
  kmstop report --source ./logs --format json \\
    | jq '.alerts[] | select(.state == \"firing\")'
  kmstop report --source ./logs --access-key AKIAIOSFODNN7EXAMPLE \\
    --format csv --section calls > what-the-key-did.csv
  kmstop report --source ./logs --who session:alice@example.com \\
    --who ip:198.51.100.0/24 --format html > alice.html
  kmstop report --source ./logs --rules my-rules.toml --alerts-log alerts.jsonl
  aws cloudtrail lookup-events ... | kmstop report --source -
  kmstop report --source s3://org-trail-bucket --since 1h \\
    --account 111122223333 --region eu-west-1
  kmstop report --source logs://aws-cloudtrail-logs-org --since 1d \\
    --region eu-west-1
  kmstop report --source athena://security/cloudtrail_org --workgroup ir \\
      --since 90d --max-scanned 500GB
  kmstop report --source aws --profile prod --region us-east-1,eu-west-1 \\
    --since 6h";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for a person, fitted to the terminal.
    Table,
    /// The whole report as JSON (a stable contract for scripts).
    Json,
    /// One section as CSV (choose it with --section).
    Csv,
    /// The whole report as Markdown, to paste into a ticket: alerts with
    /// their evidence event ids, denied callers, principals, keys, key
    /// changes (--top rows each).
    Md,
    /// The same as one self-contained web page to hand over (inline CSS
    /// and SVG, no fetches), with a timeline of calls, denied calls and
    /// alerts.
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// CloudTrail log files or directories (searched recursively, e.g. an
    /// `aws s3 sync` of AWSLogs/), gzip or JSON; `-` reads stdin;
    /// `s3://BUCKET[/PREFIX]` reads a trail's bucket (account and
    /// organization trails) where it lies; `logs://LOG_GROUP` (a name, or
    /// an ARN for a group in another region) searches a trail's CloudWatch
    /// Logs log group; `aws` reads the window from CloudTrail's
    /// LookupEvents (`./aws` for a directory of that name);
    /// `athena://[CATALOG/]DATABASE/TABLE` pushes the report down to Athena
    /// over a trail's table (see `kmstop athena ddl`).
    #[arg(long = "source", short = 's', value_name = "PATH", required = true, num_args = 1..)]
    pub sources: Vec<PathBuf>,

    #[command(flatten)]
    pub targets: TargetArgs,

    /// Accounts to read of an s3:// or logs:// source (repeat, or
    /// comma-separate); by default every account the trail holds. With
    /// --region and --since/--until it chooses the folders listed, or the
    /// log events searched.
    #[arg(long = "account", value_name = "ID", value_delimiter = ',')]
    pub accounts: Vec<String>,

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

    /// A request quota of your account instead of the documented default,
    /// FAMILY=N requests per second (repeat): e.g. symmetric=50000 where
    /// the quota was raised. Families: symmetric, asymmetric,
    /// `GenerateDataKeyPair`, or an operation with a quota of its own
    /// (`CreateGrant`, `DescribeKey`, `ListKeys`, …).
    #[arg(long = "quota", value_name = "FAMILY=N", value_parser = QuotaOverride::parse)]
    pub quotas: Vec<QuotaOverride>,

    /// A KMS request price instead of the documented one, CLASS=USD per
    /// 10,000 requests (repeat): requests (0.03), asymmetric (0.15),
    /// `GenerateDataKeyPair` (unpriced unless set: 0.10 for ECC pairs, 12
    /// for RSA pairs).
    #[arg(long = "price", value_name = "CLASS=USD", value_parser = PriceOverride::parse)]
    pub prices: Vec<PriceOverride>,

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

    #[command(flatten)]
    pub who: super::WhoArgs,

    #[command(flatten)]
    pub athena: athena::ReportAthenaArgs,
}
