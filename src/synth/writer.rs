//! Puts a layout on disk: log files (gzip or plain), their duplicate copies,
//! digest files, and junk a directory walker must survive.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use rand::RngExt;
use serde_json::json;

use super::identities::Universe;
use super::layout::{CopyKind, Item, Layout, LogFile};
use super::noise::noise_record;
use super::plan::{NoisePlan, Planned};
use super::records::kms_record;
use super::text::{SynthRng, derived_rng, event_time, hex};

/// Purposes for `derived_rng`, so event and noise streams never coincide.
pub const EVENT_STREAM: u64 = 1;
pub const NOISE_STREAM: u64 = 2;
const JUNK_STREAM: u64 = 3;

pub struct Sources<'a> {
    pub seed: u64,
    pub u: &'a Universe,
    pub plan: &'a [Planned],
    pub noise: &'a [NoisePlan],
}

/// Compact `{"Records":[…]}` without trailing newline, as CloudTrail writes.
pub fn render_file(src: &Sources, file: &LogFile) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(file.items.len() * 1_600 + 16);
    buf.extend_from_slice(b"{\"Records\":[");
    for (n, item) in file.items.iter().enumerate() {
        if n > 0 {
            buf.push(b',');
        }
        let record = match *item {
            Item::Event(i) => {
                let mut rng = derived_rng(src.seed, EVENT_STREAM, u64::from(i));
                kms_record(&src.plan[i as usize].event(src.u), &mut rng)
            }
            Item::Noise(i) => {
                let n = &src.noise[i as usize];
                let mut rng = derived_rng(src.seed, NOISE_STREAM, u64::from(i));
                let t = chrono::DateTime::from_timestamp(n.t, 0).unwrap_or_default();
                let (region, acct) = (
                    &src.u.regions[n.region as usize],
                    &src.u.accounts[n.account as usize],
                );
                noise_record(n.kind, t, n.id, region, acct, &mut rng)
            }
        };
        serde_json::to_writer(&mut buf, &record).map_err(io::Error::other)?;
    }
    buf.extend_from_slice(b"]}");
    Ok(buf)
}

fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    // flate2 writes mtime 0 and no name, keeping output byte-reproducible.
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 8), Compression::new(6));
    enc.write_all(data)?;
    enc.finish()
}

fn put(root: &Path, rel: &str, data: &[u8]) -> io::Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, data)
}

fn write_one(root: &Path, src: &Sources, file: &LogFile) -> io::Result<()> {
    let json = render_file(src, file)?;
    let rel = file.path(src.u);
    let body = if file.gzip {
        gzip(&json)?
    } else {
        json.clone()
    };
    put(root, &rel, &body)?;
    match file.copy {
        Some(CopyKind::PlainTwin) => put(root, &file.json_path(src.u), &json),
        Some(CopyKind::Overlap) => put(root, &format!("overlap/{rel}"), &body),
        None => Ok(()),
    }
}

/// Writes all log files using every core; output does not depend on the
/// thread count because each file is rendered from its own seeds.
pub fn write_logs(root: &Path, src: &Sources, layout: &Layout) -> io::Result<()> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(8);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || -> io::Result<()> {
                    for file in layout.files.iter().skip(t).step_by(threads) {
                        write_one(root, src, file)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| io::Error::other("writer thread panicked"))?
        })
    })
}

/// One digest per account/region for the first hours: no `Records` key, so a
/// reader must skip them without error.
pub fn write_digests(root: &Path, src: &Sources, layout: &Layout) -> io::Result<u64> {
    let u = src.u;
    let mut rng = derived_rng(src.seed, JUNK_STREAM, 0);
    let trail_region = &u.regions[0];
    let mut written = 0;
    for a in 0..u.accounts.len() {
        for r in 0..u.regions.len() {
            let files: Vec<&LogFile> = layout
                .files
                .iter()
                .filter(|f| f.account == a && f.region == r)
                .collect();
            for chunk in files.chunks(12).take(2) {
                let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
                    continue;
                };
                let (acct, region) = (&u.accounts[a], &u.regions[r]);
                let end = last.stamp + chrono::Duration::minutes(5);
                let logs: Vec<_> = chunk.iter().map(|f| json!({
                    "s3Bucket": u.trail_bucket, "s3Object": f.path(u),
                    "hashValue": hex(&mut rng, 64), "hashAlgorithm": "SHA-256",
                    "newestEventTime": event_time(f.stamp), "oldestEventTime": event_time(f.stamp - chrono::Duration::minutes(15)),
                })).collect();
                let stamp = end.format("%Y%m%dT%H%MZ");
                let rel = format!(
                    "AWSLogs/{acct}/CloudTrail-Digest/{region}/{}/{acct}_CloudTrail-Digest_{region}_management-events_{trail_region}_{stamp}.json.gz",
                    end.format("%Y/%m/%d")
                );
                let digest = json!({
                    "awsAccountId": acct, "digestStartTime": event_time(first.stamp - chrono::Duration::hours(1)),
                    "digestEndTime": event_time(end), "digestS3Bucket": u.trail_bucket, "digestS3Object": rel,
                    "digestPublicKeyFingerprint": hex(&mut rng, 32), "digestSignatureAlgorithm": "SHA256withRSA",
                    "newestEventTime": event_time(last.stamp), "oldestEventTime": event_time(first.stamp - chrono::Duration::minutes(15)),
                    "previousDigestS3Bucket": u.trail_bucket, "previousDigestHashValue": hex(&mut rng, 64),
                    "previousDigestHashAlgorithm": "SHA-256", "previousDigestSignature": hex(&mut rng, 512),
                    "logFiles": logs,
                });
                let body = serde_json::to_vec(&digest).map_err(io::Error::other)?;
                put(root, &rel, &gzip(&body)?)?;
                written += 1;
            }
        }
    }
    Ok(written)
}

/// Files that are neither gzip nor JSON at the corpus root. Returns the count.
pub fn write_junk(root: &Path, seed: u64) -> io::Result<u64> {
    let mut rng: SynthRng = derived_rng(seed, JUNK_STREAM, 1);
    put(
        root,
        "README.txt",
        b"Synthetic CloudTrail corpus generated by kmstop's synth module.\nNot real AWS data. See expected.json for the counts a correct report prints.\n",
    )?;
    let mut ds = b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00\x00\x00\x08\x00".to_vec();
    ds.extend((0..2_032).map(|_| rng.random::<u8>()));
    put(root, ".DS_Store", &ds)?;
    Ok(2)
}
