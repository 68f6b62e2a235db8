//! KMS request quotas: which operations share one, its documented default
//! per region, the user's overrides, and the per-second counts that rates
//! are measured from.
//!
//! Source: AWS KMS Developer Guide, "Request quotas"
//! (<https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html>),
//! read from stored copies of the page in 2026-12. What it says and what
//! follows here:
//! - "Cryptographic operations (symmetric) request rate" is one quota shared
//!   by Decrypt, Encrypt, `GenerateDataKey`, `GenerateDataKeyWithoutPlaintext`,
//!   `GenerateMac`, `GenerateRandom`, `ReEncrypt` and `VerifyMac`: 10,000/s,
//!   20,000/s in us-east-2, ap-southeast-1, ap-southeast-2, ap-northeast-1,
//!   eu-central-1 and eu-west-2, and 100,000/s in us-east-1, us-west-2 and
//!   eu-west-1 (older versions of the page said 5,500 / 10,000 / 50,000:
//!   accounts created then may keep higher approved values — override).
//! - "Cryptographic operations (RSA)" and "(ECC)" request rates: 1,000/s
//!   each (older pages: 500 and 300). A CloudTrail record of `Sign` or
//!   `Verify` does not say which key type was used, so kmstop counts both in
//!   one `asymmetric` family against 1,000/s: where both key types are in
//!   use, the percentage reads high. Asymmetric `Encrypt`/`Decrypt` cannot be
//!   told from symmetric ones by the event name and count as symmetric.
//! - `GenerateDataKeyPair` (and `…WithoutPlaintext`) quotas depend on the
//!   key pair spec (1/s for `RSA_4096` up to 100/s for the ECC specs),
//!   which kmstop does not read: no default, override it to compare.
//! - Per-operation quotas: the values of the page's table, row by row
//!   (re-read 2026-12 from the page's Markdown source, where the table
//!   ends "`UpdatePrimaryRegion request rate` | 5"): e.g. "`RetireGrant
//!   request rate` | 50", "`RevokeGrant request rate` | 50",
//!   "`ScheduleKeyDeletion request rate` | 15", "`TagResource request
//!   rate` | 10", "`UntagResource request rate` | 5", "`UpdateAlias
//!   request rate` | 5", "`UpdateKeyDescription request rate` | 5", the
//!   custom key store operations (Connect, Create, Delete, Describe,
//!   Disconnect, Update) 5 each, "`GetKeyLastUsage request rate` | 5",
//!   "`ImportKeyMaterial request rate` | 15" (5 on older pages) and
//!   "`GetParametersForImport request rate` | 1" (one in each 4-second
//!   interval on older pages). An `UpdatePrimaryRegion` "counts as two
//!   requests; one request in each of the two affected Regions": each
//!   Region's record is counted there.
//! - Event names the page gives no quota ([`NO_DOCUMENTED_QUOTA`]: what
//!   KMS does itself, such as `RotateKey` and `DeleteKey`), and names
//!   kmstop does not know, are "not rated": counted per operation and
//!   shown as such, not rated against a quota.
//! - "For cross-account requests, AWS KMS throttles the account that makes
//!   the requests, not the account that owns the KMS key": rates are per
//!   calling account and region.
//!
//! Pure: no I/O, no clock.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Quotas and rates in thousandths of a request per second (some
/// documented quotas, and overrides, are fractions: 0.25/s).
pub type MilliPerSecond = u64;

/// Where a family's default quota comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultQuota {
    /// The symmetric shared quota: by region.
    SymmetricByRegion,
    /// One value in every region.
    PerSecond(MilliPerSecond),
    /// Not knowable from the event (depends on the key pair spec).
    Varies,
}

/// Operations that count against one quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// The name shown and accepted by `--quota NAME=N`.
    pub name: &'static str,
    pub operations: &'static [&'static str],
    pub quota: DefaultQuota,
}

const fn one(name: &'static str, operations: &'static [&'static str], per_second: u64) -> Family {
    Family {
        name,
        operations,
        quota: DefaultQuota::PerSecond(per_second * 1000),
    }
}

/// Every family kmstop measures, in the order of the page's table. An
/// operation outside them is "not rated" ([`rating_of`]): counted and
/// shown as such, never silently dropped.
pub const FAMILIES: &[Family] = &[
    Family {
        name: "symmetric",
        operations: &[
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateMac",
            "GenerateRandom",
            "ReEncrypt",
            "VerifyMac",
        ],
        quota: DefaultQuota::SymmetricByRegion,
    },
    one(
        "asymmetric",
        &["Sign", "Verify", "DeriveSharedSecret"],
        1000,
    ),
    Family {
        name: "GenerateDataKeyPair",
        operations: &["GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"],
        quota: DefaultQuota::Varies,
    },
    one("CancelKeyDeletion", &["CancelKeyDeletion"], 5),
    one("ConnectCustomKeyStore", &["ConnectCustomKeyStore"], 5),
    one("CreateAlias", &["CreateAlias"], 5),
    one("CreateCustomKeyStore", &["CreateCustomKeyStore"], 5),
    one("CreateGrant", &["CreateGrant"], 50),
    one("CreateKey", &["CreateKey"], 5),
    one("DeleteAlias", &["DeleteAlias"], 15),
    one("DeleteCustomKeyStore", &["DeleteCustomKeyStore"], 5),
    one(
        "DeleteImportedKeyMaterial",
        &["DeleteImportedKeyMaterial"],
        15,
    ),
    one("DescribeCustomKeyStores", &["DescribeCustomKeyStores"], 5),
    one("DescribeKey", &["DescribeKey"], 2000),
    one("DisableKey", &["DisableKey"], 5),
    one("DisableKeyRotation", &["DisableKeyRotation"], 5),
    one("DisconnectCustomKeyStore", &["DisconnectCustomKeyStore"], 5),
    one("EnableKey", &["EnableKey"], 5),
    one("EnableKeyRotation", &["EnableKeyRotation"], 15),
    one("GetKeyLastUsage", &["GetKeyLastUsage"], 5),
    one("GetKeyPolicy", &["GetKeyPolicy"], 1000),
    one("GetKeyRotationStatus", &["GetKeyRotationStatus"], 1000),
    one("GetParametersForImport", &["GetParametersForImport"], 1),
    one("GetPublicKey", &["GetPublicKey"], 2000),
    one("ImportKeyMaterial", &["ImportKeyMaterial"], 15),
    one("ListAliases", &["ListAliases"], 500),
    one("ListGrants", &["ListGrants"], 100),
    one("ListKeyPolicies", &["ListKeyPolicies"], 100),
    one("ListKeyRotations", &["ListKeyRotations"], 100),
    one("ListKeys", &["ListKeys"], 500),
    one("ListResourceTags", &["ListResourceTags"], 2000),
    one("ListRetirableGrants", &["ListRetirableGrants"], 100),
    one("PutKeyPolicy", &["PutKeyPolicy"], 15),
    one("ReplicateKey", &["ReplicateKey"], 5),
    one("RetireGrant", &["RetireGrant"], 50),
    one("RevokeGrant", &["RevokeGrant"], 50),
    one("RotateKeyOnDemand", &["RotateKeyOnDemand"], 5),
    one("ScheduleKeyDeletion", &["ScheduleKeyDeletion"], 15),
    one("TagResource", &["TagResource"], 10),
    one("UntagResource", &["UntagResource"], 5),
    one("UpdateAlias", &["UpdateAlias"], 5),
    one("UpdateCustomKeyStore", &["UpdateCustomKeyStore"], 5),
    one("UpdateKeyDescription", &["UpdateKeyDescription"], 5),
    one("UpdatePrimaryRegion", &["UpdatePrimaryRegion"], 5),
];

/// Event names KMS records that the page gives no request quota: calls
/// KMS makes itself (automatic rotation, the deletion at the end of the
/// waiting period, expired imported material, multi-Region sync), and
/// the post-quantum key encapsulation calls the page does not list yet.
/// Counted as "not rated: no documented quota".
pub const NO_DOCUMENTED_QUOTA: &[&str] = &[
    "Decapsulate",
    "DeleteExpiredKeyMaterial",
    "DeleteKey",
    "Encapsulate",
    "RotateKey",
    "SynchronizeMultiRegionKey",
];

/// Why an operation is not rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotRated {
    /// A KMS event the request-quota page gives no quota.
    NoDocumentedQuota,
    /// An event name kmstop does not know.
    UnknownOperation,
}

impl NotRated {
    /// As the faces say it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::NoDocumentedQuota => "no documented quota",
            Self::UnknownOperation => "unknown operation",
        }
    }
}

/// The family an operation counts against, or why it has none: every
/// event lands in exactly one of the two.
///
/// # Errors
/// Why the operation is not rated.
pub fn rating_of(event_name: &str) -> Result<u8, NotRated> {
    family_of(event_name).ok_or(if NO_DOCUMENTED_QUOTA.contains(&event_name) {
        NotRated::NoDocumentedQuota
    } else {
        NotRated::UnknownOperation
    })
}

/// Regions with a raised symmetric default (see the module doc).
const SYMMETRIC_100K: &[&str] = &["us-east-1", "us-west-2", "eu-west-1"];
const SYMMETRIC_20K: &[&str] = &[
    "us-east-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "eu-central-1",
    "eu-west-2",
];

/// The family of an operation, as an index into [`FAMILIES`].
#[must_use]
pub fn family_of(event_name: &str) -> Option<u8> {
    // Asked of every event a count reads: a lookup, not a walk over every
    // family's operations.
    static BY_OPERATION: LazyLock<HashMap<&str, u8, foldhash::fast::FixedState>> =
        LazyLock::new(|| {
            let mut map = HashMap::default();
            for (i, f) in FAMILIES.iter().enumerate() {
                for op in f.operations {
                    if let Ok(i) = u8::try_from(i) {
                        map.entry(*op).or_insert(i);
                    }
                }
            }
            map
        });
    BY_OPERATION.get(event_name).copied()
}

/// The family named `name` (as `--quota` spells it, any case).
#[must_use]
pub fn family_named(name: &str) -> Option<u8> {
    FAMILIES
        .iter()
        .position(|f| f.name.eq_ignore_ascii_case(name))
        .and_then(|i| u8::try_from(i).ok())
}

/// The documented default of `family` in `region`, if there is one.
#[must_use]
pub fn default_quota(family: u8, region: &str) -> Option<MilliPerSecond> {
    match FAMILIES.get(usize::from(family))?.quota {
        DefaultQuota::SymmetricByRegion => Some(if SYMMETRIC_100K.contains(&region) {
            100_000_000
        } else if SYMMETRIC_20K.contains(&region) {
            20_000_000
        } else {
            10_000_000
        }),
        DefaultQuota::PerSecond(q) => Some(q),
        DefaultQuota::Varies => None,
    }
}

/// Parses a non-negative decimal with at most `places` decimals into an
/// integer scaled by `10^places` ("0.25", 3 → 250).
///
/// # Errors
/// Anything but digits with at most one point, too many decimals, zero
/// when `positive`, or a value too large.
pub fn parse_scaled(text: &str, places: u32, positive: bool) -> Result<u64, String> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !digits(whole) || !digits(frac) {
        return Err(format!("{text:?} is not a number"));
    }
    if frac.len() > places as usize {
        return Err(format!("{text:?} has more than {places} decimals"));
    }
    let scale = 10u64.pow(places);
    let frac_len = u32::try_from(frac.len()).unwrap_or(places);
    let parse = |s: &str| -> Result<u64, String> {
        if s.is_empty() {
            Ok(0)
        } else {
            s.parse::<u64>()
                .map_err(|_| format!("{text:?} is too large"))
        }
    };
    let frac_value = parse(frac)? * 10u64.pow(places - frac_len);
    let value = parse(whole)?
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_value))
        .filter(|v| *v < 1 << 50)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if positive && value == 0 {
        return Err(format!("{text:?} must be more than zero"));
    }
    Ok(value)
}

/// One `--quota FAMILY=N`: the account's raised (or lowered) quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaOverride {
    pub family: u8,
    pub per_second: MilliPerSecond,
}

impl QuotaOverride {
    /// Parses `FAMILY=N` (N requests per second, up to 3 decimals).
    ///
    /// # Errors
    /// A message naming what is wrong and the families there are.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some((name, value)) = text.split_once('=') else {
            return Err(format!(
                "{text:?} is not FAMILY=N (e.g. symmetric=50000); families: {}",
                family_names()
            ));
        };
        let family = family_named(name.trim()).ok_or_else(|| {
            format!(
                "{:?} is not a quota family; families: {}",
                name.trim(),
                family_names()
            )
        })?;
        let per_second = parse_scaled(value.trim(), 3, true)?;
        Ok(Self { family, per_second })
    }

    /// `symmetric=50000` again, for the report to say what was used.
    #[must_use]
    pub fn describe(&self) -> String {
        let name = FAMILIES
            .get(usize::from(self.family))
            .map_or("?", |f| f.name);
        format!("{name}={}", milli_text(self.per_second))
    }
}

fn family_names() -> String {
    FAMILIES
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A thousandths value as the shortest decimal ("2000", "0.25").
#[must_use]
pub fn milli_text(milli: u64) -> String {
    let (whole, frac) = (milli / 1000, milli % 1000);
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:03}")
            .trim_end_matches('0')
            .to_owned()
    }
}

/// The quota in force for `family` in `region`, and whether the user set it.
#[must_use]
pub fn quota_for(
    overrides: &[QuotaOverride],
    family: u8,
    region: &str,
) -> (Option<MilliPerSecond>, bool) {
    // The last override of a family wins, as with repeated flags elsewhere.
    match overrides.iter().rev().find(|o| o.family == family) {
        Some(o) => (Some(o.per_second), true),
        None => (default_quota(family, region), false),
    }
}

/// Bits of a packed second key: family (8) | series (20) | second (36).
const SECOND_BITS: u32 = 36;
const SERIES_BITS: u32 = 20;
/// Account × region pairs a count can tell apart.
pub const MAX_SERIES: u32 = 1 << SERIES_BITS;

/// Requests per (series, family, second), exact until `cap` distinct keys;
/// past it, seconds not yet seen are not counted (and `dropped` says how
/// many requests that left out). A series is an account × region pair,
/// numbered by the caller.
#[derive(Debug, Clone)]
pub struct SecondCounts {
    /// The standard hasher, not foldhash: over the packed keys of 300 k events,
    /// foldhash made the count half again slower.
    counts: HashMap<u64, u32>,
    cap: usize,
    /// Requests not counted because the cap was reached (or their time or
    /// series did not fit the packing).
    pub dropped: u64,
}

/// One second of one family in one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecondKey {
    pub family: u8,
    pub series: u32,
    /// Unix seconds.
    pub second: i64,
}

impl SecondKey {
    fn pack(self) -> Option<u64> {
        let second = u64::try_from(self.second).ok()?;
        (second < 1 << SECOND_BITS && self.series < MAX_SERIES).then(|| {
            (u64::from(self.family) << (SECOND_BITS + SERIES_BITS))
                | (u64::from(self.series) << SECOND_BITS)
                | second
        })
    }

    fn unpack(key: u64) -> Self {
        Self {
            family: u8::try_from(key >> (SECOND_BITS + SERIES_BITS)).unwrap_or(u8::MAX),
            series: u32::try_from((key >> SECOND_BITS) & u64::from(MAX_SERIES - 1))
                .unwrap_or(u32::MAX),
            second: i64::try_from(key & ((1 << SECOND_BITS) - 1)).unwrap_or(0),
        }
    }
}

impl SecondCounts {
    #[must_use]
    pub fn new(cap: usize) -> Self {
        Self {
            counts: HashMap::new(),
            cap,
            dropped: 0,
        }
    }

    /// Counts `n` requests at `key`.
    pub fn add(&mut self, key: SecondKey, n: u32) {
        let Some(packed) = key.pack() else {
            self.dropped += u64::from(n);
            return;
        };
        if let Some(c) = self.counts.get_mut(&packed) {
            *c = c.saturating_add(n);
        } else if self.counts.len() < self.cap {
            self.counts.insert(packed, n);
        } else {
            self.dropped += u64::from(n);
        }
    }

    /// Distinct series-seconds held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Every count, unordered, for merging into another tally's counts.
    pub fn into_counts(self) -> impl Iterator<Item = (SecondKey, u32)> {
        self.counts
            .into_iter()
            .map(|(k, v)| (SecondKey::unpack(k), v))
    }

    /// Every count, in (family, series, second) order. Sorted packed and
    /// unpacked as it is read: a long range holds millions of seconds, and
    /// a second, unpacked copy of them was 50 MB of a 3 M-event report.
    pub fn sorted(&self) -> impl Iterator<Item = (SecondKey, u32)> + use<> {
        let mut keys: Vec<(u64, u32)> = self.counts.iter().map(|(k, v)| (*k, *v)).collect();
        keys.sort_unstable();
        keys.into_iter().map(|(k, v)| (SecondKey::unpack(k), v))
    }
}

/// The busiest second and minute of one family in one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peaks {
    pub family: u8,
    pub series: u32,
    pub requests: u64,
    pub peak_second: i64,
    pub peak_per_second: u64,
    /// The start of the busiest calendar minute (Unix seconds).
    pub peak_minute: i64,
    /// Requests in that minute (the average is this over 60).
    pub peak_minute_requests: u64,
}

/// The peaks of every (family, series) in `sorted` (as [`SecondCounts::sorted`]
/// gives it). Ties go to the earliest second or minute.
#[must_use]
pub fn peaks(sorted: impl IntoIterator<Item = (SecondKey, u32)>) -> Vec<Peaks> {
    let mut out: Vec<Peaks> = Vec::new();
    let mut minute: Option<(i64, u64)> = None;
    for (key, n) in sorted {
        let n = u64::from(n);
        let this_minute = key.second.div_euclid(60) * 60;
        let same = out
            .last()
            .is_some_and(|p| p.family == key.family && p.series == key.series);
        if !same {
            out.push(Peaks {
                family: key.family,
                series: key.series,
                requests: 0,
                peak_second: key.second,
                peak_per_second: 0,
                peak_minute: this_minute,
                peak_minute_requests: 0,
            });
            minute = None;
        }
        let Some(p) = out.last_mut() else { continue };
        p.requests += n;
        if n > p.peak_per_second {
            p.peak_per_second = n;
            p.peak_second = key.second;
        }
        let sum = match minute {
            Some((m, sum)) if m == this_minute => sum + n,
            _ => n,
        };
        minute = Some((this_minute, sum));
        if sum > p.peak_minute_requests {
            p.peak_minute_requests = sum;
            p.peak_minute = this_minute;
        }
    }
    out
}

#[cfg(test)]
#[path = "quota_tests.rs"]
mod tests;
