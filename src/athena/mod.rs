//! Reports pushed down to Amazon Athena over a trail's CloudTrail table:
//! kmstop writes the SQL ([`query`]), Athena scans the trail in place, and
//! the answer becomes the same [`crate::report::Report`] ([`answer`]).

pub mod answer;
mod conditions;
pub mod counted;
pub mod dashboard;
pub mod ddl;
pub mod query;
pub mod resources;
pub mod usage;
pub mod who;

use std::fmt;
use std::str::FromStr;

use crate::event::sql::identifier;

/// Athena's price per terabyte scanned (us-east-1; 10 MB minimum per
/// query): what the estimates use.
pub const DOLLARS_PER_TB: f64 = 5.0;
pub const MIN_BILLED_BYTES: u64 = 10_000_000;

/// What Athena bills for a query that scanned `scanned` bytes.
#[must_use]
pub fn billed(scanned: u64) -> u64 {
    scanned.max(MIN_BILLED_BYTES)
}

/// The dollars `billed` bytes cost.
#[must_use]
pub fn dollars(billed: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let bytes = billed as f64;
    bytes / 1e12 * DOLLARS_PER_TB
}

/// `1.2 GB`: a byte count as a person reads it (decimal, as Athena bills).
#[must_use]
pub fn bytes_text(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let n = n as f64;
    match n {
        n if n >= 1e12 => format!("{:.2} TB", n / 1e12),
        n if n >= 1e9 => format!("{:.2} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n => format!("{n:.0} bytes"),
    }
}

/// Athena's default catalog: the Glue Data Catalog.
pub const DEFAULT_CATALOG: &str = "AwsDataCatalog";

/// `athena://[CATALOG/]DATABASE/TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableAddress {
    pub catalog: String,
    pub database: String,
    pub table: String,
}

/// Glue names: letters, digits, `_` and `-` (quoted in SQL), at most 255.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl FromStr for TableAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("athena://")
            .ok_or_else(|| format!("{text}: not an athena://[CATALOG/]DATABASE/TABLE address"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let (catalog, database, table) = match parts.as_slice() {
            [database, table] => (DEFAULT_CATALOG, *database, *table),
            [catalog, database, table] => (*catalog, *database, *table),
            _ => {
                return Err(format!(
                    "{text}: not an athena://[CATALOG/]DATABASE/TABLE address"
                ));
            }
        };
        for (what, name) in [
            ("catalog", catalog),
            ("database", database),
            ("table", table),
        ] {
            if !valid_name(name) {
                return Err(format!(
                    "{text}: the {what} name {name:?} is not a Glue name (letters, digits, _ and -)"
                ));
            }
        }
        Ok(Self {
            catalog: catalog.to_owned(),
            database: database.to_owned(),
            table: table.to_owned(),
        })
    }
}

impl TableAddress {
    /// `"catalog"."database"."table"`.
    #[must_use]
    pub fn sql(&self) -> String {
        format!(
            "{}.{}.{}",
            identifier(&self.catalog.to_ascii_lowercase()),
            identifier(&self.database),
            identifier(&self.table)
        )
    }
}

impl fmt::Display for TableAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.catalog == DEFAULT_CATALOG {
            write!(f, "athena://{}/{}", self.database, self.table)
        } else {
            write!(
                f,
                "athena://{}/{}/{}",
                self.catalog, self.database, self.table
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_and_without_a_catalog() {
        let t: TableAddress = "athena://security/cloudtrail_org".parse().expect("parses");
        assert_eq!(t.catalog, DEFAULT_CATALOG);
        assert_eq!(
            t.sql(),
            "\"awsdatacatalog\".\"security\".\"cloudtrail_org\""
        );
        assert_eq!(t.to_string(), "athena://security/cloudtrail_org");
        let t: TableAddress = "athena://other/db/t".parse().expect("parses");
        assert_eq!((t.catalog.as_str(), t.database.as_str()), ("other", "db"));
        for bad in [
            "athena://db",
            "athena://a/b/c/d",
            "athena://db/t\"; DROP TABLE x",
            "athena://db/\u{1b}[2J",
            "athena:///t",
            "s3://db/t",
        ] {
            assert!(bad.parse::<TableAddress>().is_err(), "{bad}");
        }
    }
}
