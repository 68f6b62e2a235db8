//! Seeded synthetic CloudTrail corpora for KMS audit tests and benchmarks.
//!
//! [`write_corpus`] lays out a realistic S3 CloudTrail export (gzip log files
//! with interleaved non-KMS noise, late and duplicate deliveries, digests,
//! junk files, hostile strings) and returns the [`Expected`] report computed
//! from the generator's own decisions. [`kms_record`] renders single events
//! for live simulators using the same vocabulary.

mod callers;
mod cast;
mod coverage;
pub mod expected;
pub mod identities;
pub mod layout;
pub mod noise;
pub mod ops;
mod params;
pub mod plan;
pub mod records;
pub mod spec;
pub mod text;
pub mod writer;

use std::io;
use std::path::Path;

use rand::SeedableRng;

pub use expected::{Expected, KeyCounts, PrincipalCounts};
pub use identities::{Identity, IdentityKind, KmsKey, Universe, UserIdentity};
pub use records::{KeyRef, Record, SynthEvent, SynthOutcome, kms_record};
pub use spec::CorpusSpec;
pub use text::SynthRng;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn validate(spec: &CorpusSpec) -> io::Result<()> {
    if spec.accounts.is_empty() || spec.regions.is_empty() {
        return Err(invalid("need at least one account and one region".into()));
    }
    // u8 indices in the plan keep 3M-event plans small.
    if spec.accounts.len() > 200 || spec.regions.len() > 200 {
        return Err(invalid("at most 200 accounts and 200 regions".into()));
    }
    if let Some(bad) = spec
        .accounts
        .iter()
        .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid(format!("account id {bad:?} is not 12 digits")));
    }
    if spec.files == 0 || spec.duration <= chrono::Duration::zero() {
        return Err(invalid("files and duration must be positive".into()));
    }
    if spec.kms_events > u32::MAX as usize || spec.non_kms_records > u32::MAX as usize {
        return Err(invalid("too many records for u32 indices".into()));
    }
    Ok(())
}

/// The universe (keys, callers) a spec's corpus draws from; simulators can use
/// it with [`kms_record`] to emit records consistent with a corpus.
pub fn universe(spec: &CorpusSpec) -> Universe {
    let mut rng = SynthRng::seed_from_u64(spec.seed);
    Universe::build(spec, &mut rng)
}

/// Writes a corpus under `dir` and returns what a correct report prints.
///
/// Refuses to write into a directory that already has `AWSLogs/`, because
/// leftovers from another seed would silently break the expectations.
pub fn write_corpus(dir: &Path, spec: &CorpusSpec) -> io::Result<Expected> {
    validate(spec)?;
    if dir.join("AWSLogs").exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already holds a corpus", dir.display()),
        ));
    }
    let mut rng = SynthRng::seed_from_u64(spec.seed);
    let u = Universe::build(spec, &mut rng);
    let plan = plan::plan_events(spec, &u, &mut rng);
    let noise = plan::plan_noise(spec, &u, &mut rng);
    let layout = layout::assign(spec, &u, &plan, &noise, &mut rng);

    let mut expected = Expected::from_plan(&u, &plan);
    expected.non_kms = noise.len() as u64;
    expected.files_written = layout.files.len() as u64;
    expected.late_events = layout.late_events;
    let mut kms_written = 0;
    for f in &layout.files {
        let copies = u64::from(f.copy.is_some());
        kms_written += f.kms_records() * (1 + copies);
        expected.non_kms_duplicate_records += f.noise_records() * copies;
        expected.duplicate_files += copies;
        expected.plain_json_files += u64::from(!f.gzip);
    }
    expected.duplicate_records = kms_written - expected.events;

    std::fs::create_dir_all(dir)?;
    let src = writer::Sources {
        seed: spec.seed,
        u: &u,
        plan: &plan,
        noise: &noise,
    };
    writer::write_logs(dir, &src, &layout)?;
    expected.digest_files = writer::write_digests(dir, &src, &layout)?;
    expected.junk_files = writer::write_junk(dir, spec.seed)?;
    Ok(expected)
}
