//! `kmstop athena …` and the Athena flags of `kmstop report`.

use clap::{Args, Subcommand};

pub(super) const ATHENA_HELP: &str = "\
The table `athena ddl` prints is AWS's CloudTrail table with partition
projection: region and day (and, for an organization trail, account) are
projected from the trail's S3 layout, so no partitions are ever loaded.
Query it with:
  kmstop report --source athena://DATABASE/TABLE --workgroup W --since 7d

Exit status:
  0  printed (or, with --execute, created)
  1  Athena refused or failed the statements (the reason on stderr)
  2  usage error

Examples:
  kmstop athena ddl --bucket my-trail-bucket --account 111122223333
  kmstop athena ddl --bucket org-trail --org o-abcdef1234 \\
      --account 111122223333,444455556666 --region us-east-1,eu-west-1
  kmstop athena ddl --bucket org-trail --org o-abcdef1234 \\
      --account 111122223333 --execute --workgroup security";

#[derive(Debug, Args)]
pub struct AthenaArgs {
    #[command(subcommand)]
    pub command: AthenaCommand,
}

#[derive(Debug, Subcommand)]
pub enum AthenaCommand {
    /// Print the CloudTrail table's DDL (with partition projection) for a
    /// trail's bucket, or create it with --execute.
    Ddl(DdlArgs),
}

#[derive(Debug, Args)]
pub struct DdlArgs {
    /// The S3 bucket the trail delivers to.
    #[arg(long, value_name = "BUCKET")]
    pub bucket: String,

    /// The trail's S3 key prefix, if it has one (the part before AWSLogs/).
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,

    /// The organization id of an organization trail (o-…).
    #[arg(long, value_name = "ORG_ID")]
    pub org: Option<String>,

    /// The trail's account (an account trail), or the member accounts to
    /// query (an organization trail); repeat or comma-separate.
    #[arg(long = "account", value_name = "ID", value_delimiter = ',')]
    pub accounts: Vec<String>,

    /// Regions to project (default: every commercial region).
    #[arg(long = "region", value_name = "REGION", value_delimiter = ',')]
    pub regions: Vec<String>,

    #[arg(long, value_name = "NAME", default_value = "default")]
    pub database: String,

    #[arg(long, value_name = "NAME", default_value = "cloudtrail_logs")]
    pub table: String,

    /// Run the statements in Athena (the one change kmstop makes: a
    /// database and a table in the Glue Data Catalog, and Athena's
    /// result files in the workgroup's output location).
    #[arg(long)]
    pub execute: bool,

    #[command(flatten)]
    pub query: QueryArgs,

    /// AWS profile for --execute (default: the default chain).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Send AWS requests to this endpoint instead (a local test server).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// Where Athena runs kmstop's queries.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The Athena workgroup queries run in (with an athena:// source).
    #[arg(long, value_name = "NAME", default_value = "primary")]
    pub workgroup: String,

    /// Where Athena writes query results, when the workgroup sets none
    /// (`s3://BUCKET/PREFIX/`).
    #[arg(long, value_name = "S3_URL")]
    pub athena_output: Option<String>,

    /// The region Athena runs in (default: the profile's region).
    #[arg(long, value_name = "REGION")]
    pub athena_region: Option<String>,
}

/// The Athena flags of `kmstop report`.
#[derive(Debug, Args)]
pub struct ReportAthenaArgs {
    #[command(flatten)]
    pub query: QueryArgs,

    /// With an athena:// source: print the SQL kmstop would run, and run
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// With an athena:// source: stop the query once it has scanned more
    /// than this (e.g. 500GB, 2TB; decimal units).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_scanned: Option<u64>,
}

/// `500GB`, `2TB`, `10MB`, `1234` (bytes); decimal units, as Athena bills.
///
/// # Errors
/// Not a size.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let digits_end = upper
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(upper.len());
    let (number, unit) = upper.split_at(digits_end);
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "PB" => 1e15,
        _ => return Err(format!("{text:?} is not a size: use e.g. 500GB or 2TB")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: use e.g. 500GB or 2TB"))?;
    let bytes = value * scale;
    if !bytes.is_finite() || !(1.0..=1e21).contains(&bytes) {
        return Err(format!("{text:?} is not a size: use e.g. 500GB or 2TB"));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_are_decimal_like_athenas_bill() {
        assert_eq!(parse_size("500GB"), Ok(500_000_000_000));
        assert_eq!(parse_size("1.5tb"), Ok(1_500_000_000_000));
        assert_eq!(parse_size("1234"), Ok(1234));
        for bad in ["", "GB", "5XB", "-1GB", "0", "1e9"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
