//! The quota and cost answers as the report prints them (`Report.quota`,
//! `Report.cost`) and the dashboard's Quota & cost pane shows them: the
//! rows [`super::usage::UsageTally`] gives, and the money and thousandths
//! they are written in.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::cost::{self, NanoUsd, PriceOverride};
use super::quota::{self, NotRated, QuotaOverride};
use super::usage::MAX_SERIES_SECONDS;

/// A count in thousandths, written in JSON as a decimal number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Milli(pub u64);

impl Serialize for Milli {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[allow(clippy::cast_precision_loss)] // far below 2^52
        s.serialize_f64(self.0 as f64 / 1000.0)
    }
}

impl std::fmt::Display for Milli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&quota::milli_text(self.0))
    }
}

/// US dollars held in billionths, written in JSON as a decimal number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Usd(pub NanoUsd);

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[allow(clippy::cast_precision_loss)] // far below 2^52
        s.serialize_f64(self.0 as f64 / 1e9)
    }
}

impl std::fmt::Display for Usd {
    /// Dollars to the hundredth of a cent: "$1.2345".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hundredths_of_cent = (self.0 + 50_000) / 100_000;
        write!(
            f,
            "${}.{:04}",
            hundredths_of_cent / 10_000,
            hundredths_of_cent % 10_000
        )
    }
}

/// What the user set instead of the documented values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageSettings {
    pub quotas: Vec<QuotaOverride>,
    pub prices: Vec<PriceOverride>,
}

/// `Report.quota`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaSection {
    /// False where the source cannot count requests per second (a report
    /// pushed down to Athena gets counts): no rows then means "not known".
    pub known: bool,
    /// Where the default quotas come from, and when they were read.
    pub defaults_from: &'static str,
    /// `--quota` values used instead of the documented defaults.
    pub overrides: Vec<String>,
    /// False when more than `series_seconds_cap` distinct account × region
    /// × family × second counts were needed: the seconds past it were not
    /// counted and peaks may read low.
    pub exact: bool,
    pub series_seconds: u64,
    pub series_seconds_cap: u64,
    /// Requests left out of the rates for that reason.
    pub requests_not_rated: u64,
    /// Highest share of its quota first.
    pub rows: Vec<QuotaRow>,
    /// Requests of operations no quota rates (KMS's own calls such as
    /// `RotateKey`, names kmstop does not know): counted here, in no row.
    pub not_rated_requests: u64,
    /// Those requests per operation, most first.
    pub not_rated: Vec<NotRatedRow>,
}

/// Requests of one operation that no quota rates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotRatedRow {
    /// The event name; [`NOT_RATED_OTHER`] sums the names past
    /// [`MAX_NOT_RATED_NAMES`].
    pub operation: String,
    pub reason: NotRated,
    pub requests: u64,
}

/// Distinct not-rated operation names counted one by one (event names
/// come from the records: a hostile file could hold millions).
pub const MAX_NOT_RATED_NAMES: usize = 256;

/// The row that sums the not-rated names past the cap.
pub const NOT_RATED_OTHER: &str = "(other names)";

/// One quota family in one calling account and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaRow {
    /// The account that made the calls (quotas are the caller's, also for
    /// another account's key).
    pub account: String,
    pub region: String,
    pub family: &'static str,
    /// Requests per second; `None` where it depends on what the event does
    /// not say (`GenerateDataKeyPair`'s key pair spec).
    pub quota: Option<Milli>,
    /// The quota came from `--quota`.
    pub quota_overridden: bool,
    pub requests: u64,
    pub peak_per_second: u64,
    pub peak_second: Option<DateTime<Utc>>,
    /// Requests per second averaged over the busiest calendar minute.
    pub peak_minute_avg: Milli,
    pub peak_minute: Option<DateTime<Utc>>,
    /// The busiest second as a percentage of the quota.
    pub pct_of_quota: Option<Milli>,
    /// Calls of the family refused with `ThrottlingException`.
    pub throttled: u64,
}

impl QuotaRow {
    /// The quota as shown: "100000", "50000 (set)" for `--quota`, or
    /// "varies" where it depends on what the event does not say.
    #[must_use]
    pub fn quota_text(&self) -> String {
        match (self.quota, self.quota_overridden) {
            (Some(q), true) => format!("{q} (set)"),
            (Some(q), false) => q.to_string(),
            (None, _) => "varies".to_owned(),
        }
    }

    /// The share of the quota to the tenth of a percent ("0.1%"), "-"
    /// without a quota.
    #[must_use]
    pub fn pct_text(&self) -> String {
        // Thousandths of a percent, shown to the tenth.
        self.pct_of_quota.map_or_else(
            || "-".to_owned(),
            |p| {
                let tenths = (p.0 + 50) / 100;
                format!("{}.{}%", tenths / 10, tenths % 10)
            },
        )
    }
}

/// `Report.cost`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostSection {
    /// False where the source cannot price requests (see [`QuotaSection::known`]).
    pub known: bool,
    pub prices_from: &'static str,
    /// `--price` values used instead of the documented prices.
    pub overrides: Vec<String>,
    /// Always false: the free tier (20,000 requests a month per account)
    /// is not subtracted.
    pub free_tier_subtracted: bool,
    pub requests: u64,
    pub usd: Usd,
    /// Requests whose price depends on what the event does not say
    /// (`GenerateDataKeyPair`: ECC or RSA pair): not in `usd`.
    pub unpriced_requests: u64,
    /// Per paying (calling) account, dearest first.
    pub accounts: Vec<CostRow>,
    pub principals: Vec<PrincipalCost>,
    pub keys: Vec<KeyCost>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostRow {
    pub account: String,
    pub requests: u64,
    pub usd: Usd,
    pub unpriced_requests: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
/// One principal's requests billed to one account (a principal name such
/// as `AWS Internal` can call in several accounts: one row each).
pub struct PrincipalCost {
    pub principal: String,
    /// The account billed: the caller's.
    pub account: String,
    pub requests: u64,
    pub usd: Usd,
    pub unpriced_requests: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyCost {
    pub key: String,
    pub arn: String,
    pub requests: u64,
    /// Paid by the calling accounts, not necessarily the key's owner.
    pub usd: Usd,
    /// Requests from accounts other than the key's: billed to them.
    pub cross_account_requests: u64,
    pub unpriced_requests: u64,
}

impl QuotaSection {
    /// For a source that cannot count requests per second.
    #[must_use]
    pub fn not_known() -> Self {
        Self {
            known: false,
            defaults_from: DEFAULTS_FROM,
            overrides: Vec::new(),
            exact: false,
            series_seconds: 0,
            series_seconds_cap: MAX_SERIES_SECONDS as u64,
            requests_not_rated: 0,
            rows: Vec::new(),
            not_rated_requests: 0,
            not_rated: Vec::new(),
        }
    }
}

impl CostSection {
    /// For a source that cannot price requests per principal and key.
    #[must_use]
    pub fn not_known() -> Self {
        Self {
            known: false,
            prices_from: cost::PRICES_AS_OF,
            overrides: Vec::new(),
            free_tier_subtracted: false,
            requests: 0,
            usd: Usd(0),
            unpriced_requests: 0,
            accounts: Vec::new(),
            principals: Vec::new(),
            keys: Vec::new(),
        }
    }
}

pub(super) const DEFAULTS_FROM: &str = "AWS KMS Developer Guide, Request quotas (docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html), read 2026-12";
