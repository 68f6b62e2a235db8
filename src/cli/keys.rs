//! `kmstop keys` arguments.

use clap::Args;

use super::TargetArgs;
use crate::report::key_list::{KeySort, KeysFormat};

pub(super) const KEYS_HELP: &str = "\
The table leaves out AWS-managed keys (key_manager AWS, aliases alias/aws/*)
unless --all is given, and marks them [AWS] when shown; JSON and CSV always
list every key. Unknown values are null in JSON and empty in CSV; the table
shows `no access` (IAM or the key policy refuses kmstop), `n/a` (the key
cannot have it, e.g. rotation of an asymmetric key), or `?`.

Exit status:
  0  every region was read
  1  no usable credentials or region (nothing printed), or a region could
     not be read (the others are printed; see stderr)
  2  usage error

Examples:
  kmstop keys --profile prod
  kmstop keys --profile prod --all-regions --format json \\
    | jq '.[] | select(.state == \"PendingDeletion\")'
  kmstop keys --region eu-west-1 --format csv --sort deletion > keys.csv
  kmstop keys --profile prod --all-regions --unused 30d --sort last-used
  kmstop keys --profile prod --unused 30d --verdict 24h
  kmstop keys --region eu-west-1 --verdict 7d --format json \\
    | jq '.[] | select(.safety == \"no use seen\")'
  kmstop keys --endpoint-url http://127.0.0.1:5000 --region us-east-1";

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[arg(long, short = 'f', value_enum, default_value_t = KeysFormat::Table)]
    pub format: KeysFormat,

    /// Also show AWS-managed keys in the table (JSON and CSV always list
    /// every key).
    #[arg(long)]
    pub all: bool,

    /// Order of the rows.
    #[arg(long, value_enum, default_value_t = KeySort::Name)]
    pub sort: KeySort,

    /// Only the deletion candidates: customer-managed keys with no
    /// cryptographic use for at least this long (e.g. 30d), as KMS tracks
    /// it (`GetKeyLastUsage`). Keys whose use cannot be known are named on
    /// stderr, not listed.
    #[arg(long, value_name = "AGE", value_parser = super::parse_duration)]
    pub unused: Option<chrono::Duration>,

    /// "Is this key safe to delete?" for each key listed: the dashboard's
    /// verdict and its evidence over the last WINDOW (e.g. 24h) of
    /// CloudTrail event history (`LookupEvents`, about 100 events a second
    /// per region: keep WINDOW short in a busy account), with KMS's last
    /// use and the grants that still exist.
    #[arg(long, value_name = "WINDOW", value_parser = super::parse_duration)]
    pub verdict: Option<chrono::Duration>,
}
