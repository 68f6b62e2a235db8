//! Which record goes into which log file, and what the files are called.
//! Mirrors CloudTrail delivery: per account and region, a file every few
//! minutes holding the preceding minutes' events, some late, some twice.

use chrono::{DateTime, Duration, Utc};
use rand::RngExt;
use rand::seq::SliceRandom;

use super::identities::Universe;
use super::plan::{NoisePlan, Planned};
use super::spec::CorpusSpec;
use super::text::{SynthRng, alnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Event(u32),
    Noise(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    /// Uncompressed `.json` twin next to the `.json.gz`.
    PlainTwin,
    /// Same file under `overlap/AWSLogs/…` (a second, overlapping download).
    Overlap,
}

#[derive(Debug, Clone)]
pub struct LogFile {
    pub account: usize,
    pub region: usize,
    pub stamp: DateTime<Utc>,
    pub suffix: String,
    pub gzip: bool,
    pub copy: Option<CopyKind>,
    pub items: Vec<Item>,
}

impl LogFile {
    /// Path relative to the corpus root, without the `.gz`.
    pub fn json_path(&self, u: &Universe) -> String {
        let (acct, region) = (&u.accounts[self.account], &u.regions[self.region]);
        format!(
            "AWSLogs/{acct}/CloudTrail/{region}/{}/{acct}_CloudTrail_{region}_{}_{}.json",
            self.stamp.format("%Y/%m/%d"),
            self.stamp.format("%Y%m%dT%H%MZ"),
            self.suffix
        )
    }

    pub fn path(&self, u: &Universe) -> String {
        let p = self.json_path(u);
        if self.gzip { format!("{p}.gz") } else { p }
    }

    pub fn kms_records(&self) -> u64 {
        self.items
            .iter()
            .filter(|i| matches!(i, Item::Event(_)))
            .count() as u64
    }

    pub fn noise_records(&self) -> u64 {
        self.items.len() as u64 - self.kms_records()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub files: Vec<LogFile>,
    pub late_events: u64,
    /// Records delivered twice in different files (not whole-file copies).
    pub redelivered: u64,
}

struct Grid {
    start: i64,
    period: i64,
    slots: usize,
    per_slot: usize,
    regions: usize,
}

/// Slot arithmetic in `usize`; times before the window land in slot 0.
fn index(q: i64) -> usize {
    usize::try_from(q.max(0)).unwrap_or(usize::MAX)
}

/// Counts and slots are small; saturating only keeps the conversion total.
fn signed(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `files / cells` rounded half up, at least 1.
// Both are file counts, far below 2^52, so the division is exact enough and
// the rounded quotient is positive.
#[allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]
fn files_per_cell(files: usize, cells: usize) -> usize {
    ((files as f64) / cells as f64).round().max(1.0) as usize
}

/// How many of `n` files get a second copy: `share` of them, at least one.
// `n` is a file count far below 2^52 and `share` a non-negative fraction.
#[allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]
fn copy_count(n: usize, share: f64) -> usize {
    ((n as f64 * share).round() as usize).clamp(1, n)
}

impl Grid {
    fn slot_of(&self, t: i64) -> usize {
        index((t - self.start) / self.period).min(self.slots - 1)
    }

    fn cell(&self, account: usize, region: usize, slot: usize, k: usize) -> usize {
        ((account * self.regions + region) * self.slots + slot) * self.per_slot + k
    }

    /// Files are stamped 5 minutes after their slot ends, so their events are
    /// 5 to (5 + period) minutes old.
    fn stamp(&self, slot: usize) -> DateTime<Utc> {
        let t = self.start + (signed(slot) + 1) * self.period + 300;
        DateTime::from_timestamp(t, 0).unwrap_or_default()
    }
}

pub fn assign(
    spec: &CorpusSpec,
    u: &Universe,
    plan: &[Planned],
    noise: &[NoisePlan],
    rng: &mut SynthRng,
) -> Layout {
    let streams = u.accounts.len() * u.regions.len();
    let span = spec.duration.num_seconds().max(60);
    // Whole minutes (file names have minute resolution), at least 5.
    let period = ((span * signed(streams)) / signed(spec.files.max(1)) / 60 * 60).max(300);
    let slots = index((span + period - 1) / period).max(1);
    let per_slot = files_per_cell(spec.files, streams * slots);
    let g = Grid {
        start: spec.start.timestamp(),
        period,
        slots,
        per_slot,
        regions: u.regions.len(),
    };
    let mut cells: Vec<Vec<Item>> = vec![Vec::new(); streams * slots * per_slot];
    let mut layout = Layout::default();

    let late_min = Duration::minutes(30).num_seconds() + period;
    let late_max = Duration::minutes(90).num_seconds();
    for (i, e) in plan.iter().enumerate() {
        let (a, r) = (e.recipient as usize, e.region as usize);
        let mut slot = g.slot_of(e.t);
        if late_min < late_max && rng.random_bool(0.03) {
            let lag = rng.random_range(late_min..=late_max);
            let target = index((e.t + lag - 300 - g.start) / period - 1);
            if target > slot && target < slots {
                slot = target;
                layout.late_events += 1;
            }
        }
        cells[g.cell(a, r, slot, rng.random_range(0..per_slot))].push(Item::Event(i as u32));
        // At-least-once delivery: a few records arrive again in a later file.
        if rng.random_bool(0.001) {
            let again = if slot + 1 < slots { slot + 1 } else { slot };
            cells[g.cell(a, r, again, rng.random_range(0..per_slot))].push(Item::Event(i as u32));
            layout.redelivered += 1;
        }
    }
    for (i, n) in noise.iter().enumerate() {
        let slot = g.slot_of(n.t);
        let cell = g.cell(
            n.account as usize,
            n.region as usize,
            slot,
            rng.random_range(0..per_slot),
        );
        cells[cell].push(Item::Noise(i as u32));
    }

    for (cell, mut items) in cells.into_iter().enumerate() {
        if items.is_empty() {
            continue;
        }
        // CloudTrail files are only roughly time-ordered.
        items.shuffle(rng);
        let stream = cell / (slots * per_slot);
        let slot = (cell / per_slot) % slots;
        layout.files.push(LogFile {
            account: stream / u.regions.len(),
            region: stream % u.regions.len(),
            stamp: g.stamp(slot),
            suffix: alnum(rng, 16),
            gzip: spec.gzip,
            copy: None,
            items,
        });
    }
    mark_plain_and_copies(spec, &mut layout.files, rng);
    layout
}

fn mark_plain_and_copies(spec: &CorpusSpec, files: &mut [LogFile], rng: &mut SynthRng) {
    let n = files.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let plain = if spec.gzip && n >= 4 {
        (n / 100).max(1)
    } else {
        0
    };
    for &i in &order[..plain] {
        files[i].gzip = false;
    }
    let copies = if spec.duplicate_file_share > 0.0 {
        copy_count(n, spec.duplicate_file_share)
    } else {
        0
    };
    order.shuffle(rng);
    for &i in &order[..copies] {
        let twin = files[i].gzip && rng.random_bool(0.5);
        files[i].copy = Some(if twin {
            CopyKind::PlainTwin
        } else {
            CopyKind::Overlap
        });
    }
}
