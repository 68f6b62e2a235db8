//! The knobs of a corpus and the two presets the tests and benchmarks rely on.

use chrono::{DateTime, Duration, TimeZone, Utc};

/// Describes a corpus; the same spec and seed always yield the same bytes.
#[derive(Debug, Clone)]
pub struct CorpusSpec {
    pub seed: u64,
    /// Distinct KMS events, before any duplication.
    pub kms_events: usize,
    /// s3/sts/ec2 records interleaved in the same files, so readers must filter.
    pub non_kms_records: usize,
    /// Target number of distinct log files; empty time slots are not written,
    /// so `Expected::files_written` is authoritative.
    pub files: usize,
    pub start: DateTime<Utc>,
    pub duration: Duration,
    /// 12-digit ids; the first one owns the trail.
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Share of log files written a second time (plain `.json` copy or an
    /// overlapping download under `overlap/`).
    pub duplicate_file_share: f64,
    /// Share of events carrying terminal/formula-injection strings.
    pub hostile_share: f64,
    /// When false every log file is plain JSON; when true about 1 % still is,
    /// because readers must sniff content rather than trust extensions.
    pub gzip: bool,
}

impl CorpusSpec {
    /// Small enough for debug-mode unit tests, yet it still contains every
    /// identity type, key reference form, outcome and hostile string.
    pub fn small(seed: u64) -> Self {
        Self {
            seed,
            kms_events: 1_200,
            non_kms_records: 240,
            files: 16,
            start: default_start(),
            duration: Duration::hours(2),
            accounts: default_accounts(),
            regions: default_regions(),
            duplicate_file_share: 0.2,
            hostile_share: 0.03,
            gzip: true,
        }
    }

    /// One day of a busy two-account, two-region organisation: the size the
    /// benchmarks are quoted at.
    pub fn bench(seed: u64) -> Self {
        Self {
            seed,
            kms_events: 300_000,
            non_kms_records: 90_000,
            files: 576,
            start: default_start(),
            duration: Duration::hours(24),
            accounts: default_accounts(),
            regions: default_regions(),
            duplicate_file_share: 0.02,
            hostile_share: 0.002,
            gzip: true,
        }
    }

    /// Multiplies volume (events, noise, files) and the time span alike: a
    /// larger corpus is a longer run at the same rate, which is what shows
    /// that memory follows principals and keys, not the number of events.
    #[must_use]
    // Counts are far below 2^52 and the product is rounded and at least 1, so
    // the float round trip is exact enough and never negative.
    #[allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]
    pub fn scaled(mut self, factor: f64) -> Self {
        let scale = |n: usize| ((n as f64) * factor).round().max(1.0) as usize;
        self.kms_events = scale(self.kms_events);
        self.non_kms_records = scale(self.non_kms_records);
        self.files = scale(self.files);
        let seconds = (self.duration.num_seconds() as f64 * factor).round() as i64;
        self.duration = Duration::seconds(seconds.max(1));
        self
    }
}

fn default_start() -> DateTime<Utc> {
    // A fixed instant keeps corpora reproducible across machines and days.
    Utc.with_ymd_and_hms(2025, 5, 20, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn default_accounts() -> Vec<String> {
    vec!["111122223333".to_string(), "444455556666".to_string()]
}

fn default_regions() -> Vec<String> {
    vec!["us-east-1".to_string(), "eu-west-1".to_string()]
}
