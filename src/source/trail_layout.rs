//! Where a trail puts its files in S3, and which of them a question needs.
//!
//! CloudTrail writes `[PREFIX/]AWSLogs/[ORG-ID/]ACCOUNT/CloudTrail/REGION/
//! YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_RANDOM.json.gz`, the
//! day and the stamp being those of delivery. So `--since`/`--until`,
//! `--account` and `--region` become the prefixes to list: an hour of a
//! year-old organization trail lists a few days' folders, not the year.
//! Pure: the walk that lists them is in [`super::s3_walk`].

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

/// Files can be delivered this long after the events they hold: a file
/// delivered later than this after `--until` is not read (the help says
/// so). CloudTrail delivers "typically within … about 5 minutes".
pub const LATE_DELIVERY: Duration = Duration::days(1);
/// The stamp in a file's name is its delivery minute, and the events in it
/// are older; this margin absorbs the truncated seconds and clock skew.
const STAMP_SLACK: Duration = Duration::minutes(5);

/// `s3://BUCKET[/PREFIX]`, the prefix a folder (ending in `/`) or empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

impl S3Url {
    /// Parses `s3://BUCKET[/PREFIX]`.
    ///
    /// # Errors
    /// Not an `s3://` address, or a bucket name S3 cannot have.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{text}: not an s3://BUCKET[/PREFIX] address"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=255).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !bucket_ok {
            return Err(format!(
                "{text}: {bucket:?} is not a bucket name (letters, digits, '.', '-', '_')"
            ));
        }
        if prefix.chars().any(char::is_control) {
            return Err(format!("{text}: the prefix has control characters"));
        }
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// `s3://bucket/key`, for messages and progress, and the name the
    /// dashboard reads a record of the object again by.
    pub fn object(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The bucket and key of a name [`Self::object`] made (a bucket's
    /// name has no `/`).
    pub fn object_of(name: &str) -> Option<(&str, &str)> {
        let (bucket, key) = name.strip_prefix("s3://")?.split_once('/')?;
        (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// What the question asks for.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Empty: every account.
    pub accounts: Vec<String>,
    /// Empty: every region.
    pub regions: Vec<String>,
}

/// A folder of the layout, known from its place in a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Folder {
    /// Above `AWSLogs/` (the bucket, or the trail's own prefix): it may
    /// hold `AWSLogs/`, or be a plain folder of log files.
    Above(String),
    /// `…/AWSLogs/`: accounts and organization ids.
    AwsLogs(String),
    /// `…/AWSLogs/o-…/`: the accounts of an organization trail.
    Org(String),
    /// `…/ACCOUNT/`: `CloudTrail/` holds its regions.
    Account(String),
    /// `…/CloudTrail/REGION/`: day folders.
    Region(String),
    /// Anything else: every object under it is read.
    Everything(String),
}

impl Folder {
    /// Where a user's prefix sits in the layout.
    pub fn of_prefix(prefix: &str) -> Self {
        let segments: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
        let Some(at) = segments.iter().position(|s| *s == "AWSLogs") else {
            return Self::Above(prefix.to_string());
        };
        let after = &segments[at + 1..];
        let account_at = usize::from(after.first().is_some_and(|s| is_org_id(s)));
        match (after.len(), after.get(account_at + 1)) {
            (0, _) => Self::AwsLogs(prefix.to_string()),
            (1, _) if account_at == 1 => Self::Org(prefix.to_string()),
            (n, _) if n == account_at + 1 && is_account_id(after[account_at]) => {
                Self::Account(prefix.to_string())
            }
            (n, Some(&"CloudTrail")) if n == account_at + 2 => {
                // `…/ACCOUNT/CloudTrail/`: the account's folder.
                let trimmed = prefix.trim_end_matches('/');
                let account = trimmed.strip_suffix("CloudTrail").unwrap_or(trimmed);
                Self::Account(account.to_string())
            }
            (n, Some(&"CloudTrail")) if n == account_at + 3 => Self::Region(prefix.to_string()),
            _ => Self::Everything(prefix.to_string()),
        }
    }
}

/// A child folder of `parent`, named by a listing's common prefix; `None`
/// when it is not one the question needs.
pub fn child(parent: &Folder, common_prefix: &str, selection: &Selection) -> Option<Folder> {
    let name = common_prefix
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    match parent {
        Folder::Above(prefix) => (common_prefix == format!("{prefix}AWSLogs/"))
            .then(|| Folder::AwsLogs(common_prefix.into())),
        Folder::AwsLogs(_) if is_org_id(name) => Some(Folder::Org(common_prefix.into())),
        Folder::AwsLogs(_) | Folder::Org(_) => (is_account_id(name)
            && wanted(&selection.accounts, name))
        .then(|| Folder::Account(common_prefix.into())),
        Folder::Account(_) => (is_region(name) && wanted(&selection.regions, name))
            .then(|| Folder::Region(common_prefix.into())),
        Folder::Region(_) | Folder::Everything(_) => None,
    }
}

/// The children a folder has without listing it, when the selection
/// names them: accounts under an organization, regions under an account.
pub fn known_children(parent: &Folder, selection: &Selection) -> Option<Vec<Folder>> {
    match parent {
        Folder::Org(prefix) if !selection.accounts.is_empty() => Some(
            selection
                .accounts
                .iter()
                .map(|a| Folder::Account(format!("{prefix}{a}/")))
                .collect(),
        ),
        Folder::Account(prefix) if !selection.regions.is_empty() => Some(
            selection
                .regions
                .iter()
                .map(|r| Folder::Region(format!("{prefix}CloudTrail/{r}/")))
                .collect(),
        ),
        _ => None,
    }
}

/// The prefix to list a folder's children at, one level down.
pub fn listing_prefix(folder: &Folder) -> String {
    match folder {
        Folder::Account(prefix) => format!("{prefix}CloudTrail/"),
        Folder::Above(p)
        | Folder::AwsLogs(p)
        | Folder::Org(p)
        | Folder::Region(p)
        | Folder::Everything(p) => p.clone(),
    }
}

/// The delivery days to list, oldest first: from `--since` (less the
/// slack) to `--until` plus late delivery, never past today. `None`
/// without `--since`: every file is read.
pub fn days(selection: &Selection, now: DateTime<Utc>) -> Option<Vec<NaiveDate>> {
    let start = (selection.since? - STAMP_SLACK).date_naive();
    let end = selection
        .until
        .map_or(now, |u| (u + LATE_DELIVERY).min(now))
        .date_naive();
    Some(start.iter_days().take_while(|d| *d <= end).collect())
}

/// `YYYY/MM/DD/` under a region folder.
pub fn day_prefix(region: &str, day: NaiveDate) -> String {
    format!("{region}{}/", day.format("%Y/%m/%d"))
}

/// The key to start a day's listing after, so the files of the day before
/// `--since` are not listed: names sort by their stamp.
pub fn start_after(region_prefix: &str, day: NaiveDate, selection: &Selection) -> Option<String> {
    start_after_time(region_prefix, day, selection.since? - STAMP_SLACK)
}

/// The key before the first file of `day` delivered at or after `t`;
/// `None` when `t` is another day (the whole day is listed).
pub fn start_after_time(region_prefix: &str, day: NaiveDate, t: DateTime<Utc>) -> Option<String> {
    if t.date_naive() != day {
        return None;
    }
    let name = TrailFileName::parse_region_prefix(region_prefix)?;
    Some(format!(
        "{}{}_CloudTrail_{}_{}",
        day_prefix(region_prefix, day),
        name.0,
        name.1,
        t.format("%Y%m%dT%H%M")
    ))
}

/// What becomes of one listed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Read,
    /// A digest file: hashes of other files, no events.
    Digest,
    /// Not named like a log file (`.json.gz`, `.json`): not fetched.
    NotALog,
    /// Delivered outside the question's window, or another account's or
    /// region's: not fetched, not counted.
    Unwanted,
}

/// Decides from the key alone, so nothing unwanted is fetched.
pub fn verdict(key: &str, selection: &Selection) -> Verdict {
    let name = key.rsplit('/').next().unwrap_or_default();
    if key.contains("/CloudTrail-Digest/") || name.contains("_CloudTrail-Digest_") {
        return Verdict::Digest;
    }
    let extension = std::path::Path::new(name.strip_suffix(".gz").unwrap_or(name)).extension();
    if !extension.is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        return Verdict::NotALog;
    }
    let Some(file) = TrailFileName::parse(name) else {
        return Verdict::Read;
    };
    let outside = selection
        .since
        .is_some_and(|s| file.stamp < s - STAMP_SLACK)
        || selection
            .until
            .is_some_and(|u| file.stamp > u + LATE_DELIVERY);
    if outside
        || !wanted(&selection.accounts, &file.account)
        || !wanted(&selection.regions, &file.region)
    {
        return Verdict::Unwanted;
    }
    Verdict::Read
}

/// `ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_RANDOM…`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailFileName {
    pub account: String,
    pub region: String,
    pub stamp: DateTime<Utc>,
}

impl TrailFileName {
    pub fn parse(name: &str) -> Option<Self> {
        let mut parts = name.split('_');
        let account = parts.next()?;
        if parts.next()? != "CloudTrail" || !is_account_id(account) {
            return None;
        }
        let region = parts.next()?;
        let stamp = NaiveDateTime::parse_from_str(parts.next()?, "%Y%m%dT%H%MZ").ok()?;
        Some(Self {
            account: account.to_string(),
            region: region.to_string(),
            stamp: stamp.and_utc(),
        })
    }

    /// The account and region of `…/ACCOUNT/CloudTrail/REGION/`.
    fn parse_region_prefix(prefix: &str) -> Option<(String, String)> {
        let mut rev = prefix.trim_end_matches('/').rsplit('/');
        let region = rev.next()?;
        let _cloudtrail = rev.next().filter(|s| *s == "CloudTrail")?;
        let account = rev.next().filter(|s| is_account_id(s))?;
        Some((account.to_string(), region.to_string()))
    }
}

fn wanted(chosen: &[String], name: &str) -> bool {
    chosen.is_empty() || chosen.iter().any(|c| c == name)
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

fn is_region(s: &str) -> bool {
    (4..=32).contains(&s.len())
        && s.contains('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a test time")
            .with_timezone(&Utc)
    }

    #[test]
    fn s3_addresses_parse_and_bad_ones_say_why() {
        let url = S3Url::parse("s3://trail-bucket/org/").expect("valid");
        assert_eq!(
            (url.bucket.as_str(), url.prefix.as_str()),
            ("trail-bucket", "org/")
        );
        assert_eq!(S3Url::parse("s3://b1b").expect("valid").prefix, "");
        assert_eq!(S3Url::parse("s3://b1b/p").expect("valid").prefix, "p/");
        assert!(S3Url::parse("s3://").is_err());
        assert!(S3Url::parse("s3://a b/").is_err());
        assert!(S3Url::parse("s3://bucket/\u{1b}[2J").is_err());
        assert!(S3Url::parse("/tmp/x").is_err());
    }

    #[test]
    fn a_prefix_is_placed_in_the_layout() {
        assert_eq!(Folder::of_prefix(""), Folder::Above(String::new()));
        assert_eq!(Folder::of_prefix("trail/"), Folder::Above("trail/".into()));
        assert_eq!(
            Folder::of_prefix("AWSLogs/"),
            Folder::AwsLogs("AWSLogs/".into())
        );
        assert_eq!(
            Folder::of_prefix("AWSLogs/o-abcdef1234/"),
            Folder::Org("AWSLogs/o-abcdef1234/".into())
        );
        assert_eq!(
            Folder::of_prefix("AWSLogs/o-abcdef1234/111122223333/"),
            Folder::Account("AWSLogs/o-abcdef1234/111122223333/".into())
        );
        assert_eq!(
            Folder::of_prefix("x/AWSLogs/111122223333/CloudTrail/"),
            Folder::Account("x/AWSLogs/111122223333/".into())
        );
        assert_eq!(
            Folder::of_prefix("AWSLogs/111122223333/CloudTrail/eu-west-1/"),
            Folder::Region("AWSLogs/111122223333/CloudTrail/eu-west-1/".into())
        );
        assert_eq!(
            Folder::of_prefix("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/"),
            Folder::Everything("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/".into())
        );
    }

    #[test]
    fn selection_names_children_without_listing() {
        let selection = Selection {
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into()],
            ..Selection::default()
        };
        let org = Folder::Org("AWSLogs/o-abcdef1234/".into());
        let accounts = known_children(&org, &selection).expect("named");
        assert_eq!(
            accounts,
            [Folder::Account("AWSLogs/o-abcdef1234/111122223333/".into())]
        );
        assert_eq!(
            known_children(&accounts[0], &selection).expect("named"),
            [Folder::Region(
                "AWSLogs/o-abcdef1234/111122223333/CloudTrail/eu-west-1/".into()
            )]
        );
        let aws_logs = Folder::AwsLogs("AWSLogs/".into());
        assert_eq!(known_children(&aws_logs, &selection), None);
        assert_eq!(child(&aws_logs, "AWSLogs/444455556666/", &selection), None);
        assert!(child(&aws_logs, "AWSLogs/111122223333/", &selection).is_some());
        assert!(child(&aws_logs, "AWSLogs/o-abcdef1234/", &selection).is_some());
        assert_eq!(child(&aws_logs, "AWSLogs/../", &selection), None);
    }

    #[test]
    fn an_hour_lists_one_day_and_starts_after_the_files_before_it() {
        let selection = Selection {
            since: Some(at("2026-12-01T10:00:00Z")),
            until: Some(at("2026-12-01T11:00:00Z")),
            ..Selection::default()
        };
        let now = at("2026-12-01T11:30:00Z");
        let days = days(&selection, now).expect("a --since");
        assert_eq!(days.len(), 1);
        let region = "AWSLogs/111122223333/CloudTrail/eu-west-1/";
        assert_eq!(day_prefix(region, days[0]), format!("{region}2026/12/01/"));
        assert_eq!(
            start_after(region, days[0], &selection).as_deref(),
            Some(
                "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/12/01/111122223333_CloudTrail_eu-west-1_20261201T0955"
            )
        );
        // A week-old question reads a day past --until for late files.
        let old = Selection {
            since: Some(at("2026-11-20T23:00:00Z")),
            until: Some(at("2026-11-21T01:00:00Z")),
            ..Selection::default()
        };
        assert_eq!(super::days(&old, now).map(|d| d.len()), Some(3));
        assert_eq!(super::days(&Selection::default(), now), None);
    }

    #[test]
    fn keys_are_judged_by_name() {
        let selection = Selection {
            since: Some(at("2026-12-01T10:00:00Z")),
            until: Some(at("2026-12-01T11:00:00Z")),
            regions: vec!["eu-west-1".into()],
            ..Selection::default()
        };
        let key =
            |name: &str| format!("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/12/01/{name}");
        let read = key("111122223333_CloudTrail_eu-west-1_20261201T1030Z_abc.json.gz");
        assert_eq!(verdict(&read, &selection), Verdict::Read);
        let early = key("111122223333_CloudTrail_eu-west-1_20261201T0930Z_abc.json.gz");
        assert_eq!(verdict(&early, &selection), Verdict::Unwanted);
        let other = key("111122223333_CloudTrail_us-east-1_20261201T1030Z_abc.json.gz");
        assert_eq!(verdict(&other, &selection), Verdict::Unwanted);
        let digest = "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/12/01/111122223333_CloudTrail-Digest_eu-west-1_x_20261201T1030Z.json.gz";
        assert_eq!(verdict(digest, &selection), Verdict::Digest);
        assert_eq!(verdict(&key("notes.txt"), &selection), Verdict::NotALog);
        assert_eq!(verdict("folder/", &selection), Verdict::NotALog);
        // A log named otherwise is read: its records decide.
        assert_eq!(verdict("copied/events.json", &selection), Verdict::Read);
    }
}
