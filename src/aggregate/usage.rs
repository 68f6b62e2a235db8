//! The quota and cost answers the report's sections and the dashboard's
//! Quota & cost pane both give: request rates per calling account and
//! region against the KMS request quotas, and what the requests cost per
//! principal and key. The report counts in each reader thread and merges
//! exactly at the end (per-second counts keyed by account, region, family
//! and second); the dashboard counts the held events of its window. One
//! calculation, so the two cannot disagree.
//!
//! Pure: no I/O, no clock.

use std::collections::HashMap;

/// Hashed by foldhash: the pane counts hundreds of thousands of held
/// events through these maps while a key waits.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

use chrono::{DateTime, Utc};

use super::cost::{self, PriceClass, PriceOverride};
use super::quota::{
    self, FAMILIES, MAX_SERIES, NotRated, Peaks, QuotaOverride, SecondCounts, SecondKey,
};
use super::usage_sections::DEFAULTS_FROM;
pub use super::usage_sections::{
    CostRow, CostSection, KeyCost, MAX_NOT_RATED_NAMES, Milli, NOT_RATED_OTHER, NotRatedRow,
    PrincipalCost, QuotaRow, QuotaSection, UsageSettings, Usd,
};
use crate::event::{CallFields, KeyRef, KmsEvent};

/// Distinct (account, region, family, second) counts kept before rates
/// stop being exact: 13 bytes each in a hash table at most half empty,
/// so at most about 55 MB in each reader thread and in the merged total.
/// The 300 k benchmark corpus (one day, two accounts in two regions)
/// needs 193,691; a week of it would fit, a month would not (and says so).
pub const MAX_SERIES_SECONDS: usize = 2_000_000;

/// Requests by price class.
type ByClass = [u64; 3];

#[derive(Default)]
struct KeyTally {
    requests: ByClass,
    cross_account: u64,
}

/// One reader thread's quota and cost counts.
pub struct UsageTally {
    /// Series number by account, then region.
    series: Map<Box<str>, Map<Box<str>, u32>>,
    names: Vec<(Box<str>, Box<str>)>,
    seconds: SecondCounts,
    /// Throttled calls by (series, family).
    throttled: Map<(u32, u8), u64>,
    /// Requests by principal, then by the account billed (one principal
    /// name, such as `AWS Internal` or a service, calls in many accounts).
    principals: Map<Box<str>, Map<Box<str>, ByClass>>,
    keys: Map<Box<str>, KeyTally>,
    /// Requests of operations no quota rates, by name (at most
    /// [`MAX_NOT_RATED_NAMES`]; the rest in `not_rated_other`).
    not_rated: Map<Box<str>, u64>,
    not_rated_other: u64,
}

impl Default for UsageTally {
    fn default() -> Self {
        Self::with_cap(MAX_SERIES_SECONDS)
    }
}

impl UsageTally {
    /// A tally holding at most `cap` series-seconds.
    #[must_use]
    pub fn with_cap(cap: usize) -> Self {
        Self {
            series: Map::default(),
            names: Vec::new(),
            seconds: SecondCounts::new(cap),
            throttled: Map::default(),
            principals: Map::default(),
            keys: Map::default(),
            not_rated: Map::default(),
            not_rated_other: 0,
        }
    }
}

/// The account that makes (and pays for) a call: `userIdentity.accountId`,
/// else the account the record was delivered to.
#[must_use]
pub fn calling_account<'e>(e: &CallFields<'e>) -> &'e str {
    e.principal_account.or(e.recipient_account).unwrap_or("-")
}

impl UsageTally {
    fn series_of(&mut self, account: &str, region: &str) -> Option<u32> {
        if let Some(n) = self.series.get(account).and_then(|r| r.get(region)) {
            return Some(*n);
        }
        let n = u32::try_from(self.names.len())
            .ok()
            .filter(|n| *n < MAX_SERIES)?;
        self.names.push((account.into(), region.into()));
        self.series
            .entry(account.into())
            .or_default()
            .insert(region.into(), n);
        Some(n)
    }

    /// Counts one event.
    pub fn count(&mut self, e: &KmsEvent<'_>) {
        self.count_call(&e.call_fields());
    }

    /// Counts one event from the fields it reads (a held event's, read in
    /// place, count the same as its view's).
    pub fn count_call(&mut self, e: &CallFields<'_>) {
        let account = calling_account(e);
        if let Some(family) = quota::family_of(e.event_name) {
            let region = e.region.unwrap_or("-");
            match self.series_of(account, region) {
                Some(series) => {
                    let second = e.time.timestamp();
                    self.seconds.add(
                        SecondKey {
                            family,
                            series,
                            second,
                        },
                        1,
                    );
                    if e.error_code == Some("ThrottlingException") {
                        *self.throttled.entry((series, family)).or_default() += 1;
                    }
                }
                None => self.seconds.dropped += 1,
            }
        } else {
            self.count_not_rated(e.event_name, 1);
        }
        self.count_priced(e.principal, account, e.key_arn, e.event_name, 1);
    }

    /// Counts `n` requests of `event_name` by `principal`, billed to the
    /// calling `account`, on `key_arn`: what the cost section sums (a
    /// source that returns counts, such as Athena, adds them here).
    pub fn count_priced(
        &mut self,
        principal: &str,
        account: &str,
        key_arn: Option<&str>,
        event_name: &str,
        n: u64,
    ) {
        let class = PriceClass::of(event_name).index();
        let p = entry(&mut self.principals, principal);
        entry(p, account)[class] += n;
        if let Some(arn) = key_arn {
            let k = entry(&mut self.keys, arn);
            k.requests[class] += n;
            let owner = crate::event::arn_account(arn);
            k.cross_account += if owner.is_some_and(|owner| owner != account) {
                n
            } else {
                0
            };
        }
    }

    /// Counts `n` requests of `event_name`, an operation no quota rates
    /// (a source that returns counts adds them here, as it prices them).
    pub fn count_not_rated(&mut self, event_name: &str, n: u64) {
        if let Some(c) = self.not_rated.get_mut(event_name) {
            *c += n;
        } else if self.not_rated.len() < MAX_NOT_RATED_NAMES {
            self.not_rated.insert(event_name.into(), n);
        } else {
            self.not_rated_other += n;
        }
    }

    /// The not-rated requests per operation, most first (ties by name),
    /// the names past the cap summed last.
    fn not_rated_rows(&self) -> Vec<NotRatedRow> {
        let mut rows: Vec<NotRatedRow> = self
            .not_rated
            .iter()
            .map(|(name, n)| NotRatedRow {
                operation: name.to_string(),
                reason: quota::rating_of(name)
                    .err()
                    .unwrap_or(NotRated::UnknownOperation),
                requests: *n,
            })
            .collect();
        rows.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.operation.cmp(&b.operation))
        });
        if self.not_rated_other > 0 {
            rows.push(NotRatedRow {
                operation: NOT_RATED_OTHER.to_owned(),
                reason: NotRated::UnknownOperation,
                requests: self.not_rated_other,
            });
        }
        rows
    }

    /// Folds another thread's counts into these.
    pub fn merge(&mut self, other: UsageTally) {
        let remap: Vec<Option<u32>> = other
            .names
            .iter()
            .map(|(account, region)| self.series_of(account, region))
            .collect();
        let lookup = |n: u32| remap.get(n as usize).copied().flatten();
        self.seconds.dropped += other.seconds.dropped;
        for (key, n) in other.seconds.into_counts() {
            match lookup(key.series) {
                Some(series) => self.seconds.add(SecondKey { series, ..key }, n),
                None => self.seconds.dropped += u64::from(n),
            }
        }
        for ((series, family), n) in other.throttled {
            if let Some(series) = lookup(series) {
                *self.throttled.entry((series, family)).or_default() += n;
            }
        }
        for (name, o) in other.principals {
            let p = self.principals.entry(name).or_default();
            for (account, requests) in o {
                add(p.entry(account).or_default(), &requests);
            }
        }
        for (arn, o) in other.keys {
            let k = self.keys.entry(arn).or_default();
            add(&mut k.requests, &o.requests);
            k.cross_account += o.cross_account;
        }
        self.not_rated_other += other.not_rated_other;
        for (name, n) in other.not_rated {
            self.count_not_rated(&name, n);
        }
    }

    /// The quota section, rows with the highest share of their quota first.
    #[must_use]
    pub fn quota(&self, settings: &UsageSettings) -> QuotaSection {
        let measured = quota::peaks(self.seconds.sorted()).into_iter().map(|p| {
            let (account, region) = self
                .names
                .get(p.series as usize)
                .map_or(("-", "-"), |(a, r)| (a.as_ref(), r.as_ref()));
            Measured {
                account,
                region,
                throttled: self
                    .throttled
                    .get(&(p.series, p.family))
                    .copied()
                    .unwrap_or(0),
                peaks: p,
            }
        });
        quota_section(
            measured,
            self.seconds.len() as u64,
            self.seconds.dropped,
            self.not_rated_rows(),
            settings,
        )
    }

    /// The cost section, dearest first.
    #[must_use]
    pub fn cost(&self, settings: &UsageSettings) -> CostSection {
        let prices = PriceClass::ALL.map(|c| cost::price_for(&settings.prices, c));
        let price = |r: &ByClass| -> (u64, Usd, u64) {
            let mut usd = 0u64;
            let mut unpriced = 0u64;
            for (n, p) in r.iter().zip(prices) {
                match p {
                    Some(p) => usd = usd.saturating_add(n.saturating_mul(p)),
                    None => unpriced += n,
                }
            }
            (r.iter().sum(), Usd(usd), unpriced)
        };
        let mut accounts: HashMap<&str, ByClass> = HashMap::new();
        let mut principals: Vec<PrincipalCost> = self
            .principals
            .iter()
            .flat_map(|(name, p)| p.iter().map(move |(account, r)| (name, account, r)))
            .map(|(name, account, r)| {
                add(accounts.entry(account.as_ref()).or_default(), r);
                let (requests, usd, unpriced_requests) = price(r);
                PrincipalCost {
                    principal: name.to_string(),
                    account: account.to_string(),
                    requests,
                    usd,
                    unpriced_requests,
                }
            })
            .collect();
        principals.sort_by(|a, b| {
            (b.usd, b.requests)
                .cmp(&(a.usd, a.requests))
                .then_with(|| (&a.principal, &a.account).cmp(&(&b.principal, &b.account)))
        });
        let mut keys: Vec<KeyCost> = self
            .keys
            .iter()
            .map(|(arn, k)| {
                let (requests, usd, unpriced_requests) = price(&k.requests);
                let key = KeyRef {
                    arn: arn.as_ref().into(),
                }
                .key_id()
                .to_owned();
                KeyCost {
                    key,
                    arn: arn.to_string(),
                    requests,
                    usd,
                    cross_account_requests: k.cross_account,
                    unpriced_requests,
                }
            })
            .collect();
        keys.sort_by(|a, b| {
            (b.usd, b.requests)
                .cmp(&(a.usd, a.requests))
                .then_with(|| a.arn.cmp(&b.arn))
        });
        let mut accounts: Vec<CostRow> = accounts
            .into_iter()
            .map(|(account, r)| {
                let (requests, usd, unpriced_requests) = price(&r);
                CostRow {
                    account: account.to_owned(),
                    requests,
                    usd,
                    unpriced_requests,
                }
            })
            .collect();
        accounts.sort_by(|a, b| {
            (b.usd, b.requests)
                .cmp(&(a.usd, a.requests))
                .then_with(|| a.account.cmp(&b.account))
        });
        let total = accounts.iter().fold((0, 0, 0), |(r, u, n), a| {
            (r + a.requests, u + a.usd.0, n + a.unpriced_requests)
        });
        CostSection {
            known: true,
            prices_from: cost::PRICES_AS_OF,
            overrides: settings
                .prices
                .iter()
                .map(PriceOverride::describe)
                .collect(),
            free_tier_subtracted: false,
            requests: total.0,
            usd: Usd(total.1),
            unpriced_requests: total.2,
            accounts,
            principals,
            keys,
        }
    }
}

/// One quota family's requests in one calling account and region, as
/// measured: its peaks (`series` unread) and its throttled calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub peaks: Peaks,
    pub throttled: u64,
}

/// The quota section from what was measured: the quotas in force, the
/// shares of them and the rows' order. [`UsageTally::quota`] measures from
/// each event; a source that measures elsewhere (Athena's aggregate)
/// hands its measures here, so both give the same section.
#[must_use]
pub fn quota_section<'a>(
    measured: impl IntoIterator<Item = Measured<'a>>,
    series_seconds: u64,
    requests_not_rated: u64,
    not_rated: Vec<NotRatedRow>,
    settings: &UsageSettings,
) -> QuotaSection {
    let mut rows: Vec<QuotaRow> = measured
        .into_iter()
        .map(|m| {
            let p = m.peaks;
            let (limit, overridden) = quota::quota_for(&settings.quotas, p.family, m.region);
            let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0);
            QuotaRow {
                account: m.account.to_owned(),
                region: m.region.to_owned(),
                family: FAMILIES.get(usize::from(p.family)).map_or("?", |f| f.name),
                quota: limit.map(Milli),
                quota_overridden: overridden,
                requests: p.requests,
                peak_per_second: p.peak_per_second,
                peak_second: at(p.peak_second),
                // Thousandths of a request per second over 60 s.
                peak_minute_avg: Milli((p.peak_minute_requests * 1000 + 30) / 60),
                peak_minute: at(p.peak_minute),
                pct_of_quota: limit.filter(|q| *q > 0).map(|q| {
                    // percent × 1000 = peak × 1000 (milli) × 100 × 1000 / q
                    let scaled = u128::from(p.peak_per_second) * 100_000_000;
                    Milli(u64::try_from(scaled / u128::from(q)).unwrap_or(u64::MAX))
                }),
                throttled: m.throttled,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.pct_of_quota
            .cmp(&a.pct_of_quota)
            .then(b.peak_per_second.cmp(&a.peak_per_second))
            .then_with(|| (&a.account, &a.region, a.family).cmp(&(&b.account, &b.region, b.family)))
    });
    QuotaSection {
        known: true,
        defaults_from: DEFAULTS_FROM,
        overrides: settings
            .quotas
            .iter()
            .map(QuotaOverride::describe)
            .collect(),
        exact: requests_not_rated == 0,
        series_seconds,
        series_seconds_cap: MAX_SERIES_SECONDS as u64,
        requests_not_rated,
        rows,
        not_rated_requests: not_rated.iter().map(|r| r.requests).sum(),
        not_rated,
    }
}

/// `map[key]`, inserted as the default first: looked up by `&str`, so
/// the common case allocates nothing.
fn entry<'m, V: Default>(map: &'m mut Map<Box<str>, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.into(), V::default());
    }
    map.get_mut(key)
        .unwrap_or_else(|| unreachable!("inserted above"))
}

fn add(into: &mut ByClass, from: &ByClass) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

#[cfg(test)]
mod tests {
    use super::{Milli, UsageSettings, UsageTally, Usd};
    use crate::event::{Parsed, parse_record};

    fn decrypt(second: u32, account: &str) -> String {
        format!(
            r#"{{"eventVersion":"1.08","eventTime":"2025-05-20T10:00:{second:02}Z","eventSource":"kms.amazonaws.com",
            "eventName":"Decrypt","awsRegion":"eu-west-1","eventID":"id-{second}-{account}","recipientAccountId":"111122223333",
            "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::{account}:user/u","accountId":"{account}"}}}}"#
        )
    }

    fn count(tally: &mut UsageTally, text: &str) {
        match parse_record(text) {
            Ok(Parsed::Kms(e)) => tally.count(&e),
            other => panic!("not a KMS event: {other:?}"),
        }
    }

    #[test]
    fn merged_threads_equal_one_and_the_cap_is_said() {
        let mut one = UsageTally::default();
        let (mut a, mut b) = (UsageTally::default(), UsageTally::default());
        for (i, second) in [1, 1, 2, 1, 3, 2].into_iter().enumerate() {
            let account = if i % 3 == 0 {
                "444455556666"
            } else {
                "111122223333"
            };
            let text = decrypt(second, account);
            count(&mut one, &text);
            count(if i % 2 == 0 { &mut a } else { &mut b }, &text);
        }
        a.merge(b);
        let settings = UsageSettings::default();
        assert_eq!(a.quota(&settings), one.quota(&settings));
        assert_eq!(a.cost(&settings), one.cost(&settings));
        let q = one.quota(&settings);
        assert!(q.exact);
        assert_eq!(q.rows.len(), 2);

        let mut small = UsageTally::with_cap(2);
        for second in [1, 2, 3, 3] {
            count(&mut small, &decrypt(second, "111122223333"));
        }
        let q = small.quota(&settings);
        assert!(!q.exact);
        assert_eq!(q.requests_not_rated, 2);
        assert_eq!(q.rows[0].requests, 2);
    }

    #[test]
    fn money_and_thousandths_print_plainly() {
        assert_eq!(Usd(360_000).to_string(), "$0.0004");
        assert_eq!(Usd(1_234_500_000).to_string(), "$1.2345");
        assert_eq!(
            serde_json::to_string(&Usd(360_000)).ok(),
            Some("0.00036".into())
        );
        assert_eq!(Milli(1_200).to_string(), "1.2");
        assert_eq!(serde_json::to_string(&Milli(250)).ok(), Some("0.25".into()));
    }
}
