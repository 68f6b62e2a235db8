//! However a set of logs is copied, renamed, re-compressed, nested and
//! ordered — an `aws s3 sync` run twice, a colleague's download beside
//! yours — the report equals the report over one copy of each file: every
//! count, every row, every alert. Only the tallies of what was passed over
//! (files read, copies, non-KMS records) may differ.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kmstop::report::{ReportSettings, build_report};
use kmstop::source::files::{Listed, discover};
use kmstop::synth::{CorpusSpec, write_corpus};
use proptest::prelude::*;

/// The originals: the shipped real fixtures (two of which reuse one
/// identity for different records) and a small generated corpus.
fn originals() -> &'static (tempfile::TempDir, Vec<PathBuf>) {
    static ORIGINALS: OnceLock<(tempfile::TempDir, Vec<PathBuf>)> = OnceLock::new();
    ORIGINALS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = CorpusSpec {
            kms_events: 400,
            non_kms_records: 60,
            files: 6,
            duplicate_file_share: 0.0,
            hostile_share: 0.0,
            ..CorpusSpec::small(5)
        };
        write_corpus(&dir.path().join("corpus"), &spec).expect("corpus");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail");
        for name in [
            "awsdocs_aws-kms-developer-guide.json",
            "coralogix-aws-shipper_cloudtrail.log.json",
            "panther-analysis_aws_kms_cmk_loss.json",
        ] {
            std::fs::copy(fixtures.join(name), dir.path().join(name)).expect("copy");
        }
        let mut files: Vec<PathBuf> = crate::support::files_under(dir.path())
            .into_iter()
            .filter(|p| {
                let n = p.to_string_lossy();
                (n.ends_with(".json") || n.ends_with(".json.gz")) && !n.contains("Digest")
            })
            .collect();
        files.sort();
        (dir, files)
    })
}

/// The plain JSON of a log file, whether it was gzipped or not.
fn plain(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).expect("read");
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
            .expect("gunzip");
        out
    } else {
        bytes
    }
}

/// The report's JSON without what copies change by design.
fn report_of(dir: &Path) -> serde_json::Value {
    let inputs = discover(&[dir.to_path_buf()]).expect("discover");
    let report = build_report(&Listed::new(&inputs), &ReportSettings::new(2), &|_| {})
        .expect("rules")
        .0;
    let mut json = serde_json::to_value(&report).expect("json");
    json.as_object_mut().expect("object").remove("files_read");
    let skipped = json["skipped"].as_object_mut().expect("skipped");
    for copied in ["duplicates", "conflicting_copies", "non_kms"] {
        skipped.remove(copied);
    }
    json
}

/// Where two JSON values first differ, for a readable failure.
fn first_difference(at: &str, got: &serde_json::Value, want: &serde_json::Value) -> String {
    use serde_json::Value;
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or(&Value::Null);
                if gv != wv {
                    return first_difference(&format!("{at}.{k}"), gv, wv);
                }
            }
            format!("{at}: extra keys")
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                if gv != wv {
                    return first_difference(&format!("{at}[{i}]"), gv, wv);
                }
            }
            format!("{at}: equal")
        }
        (Value::Array(g), Value::Array(w)) => {
            let only = |a: &[Value], b: &[Value]| -> Vec<String> {
                a.iter()
                    .filter(|x| !b.contains(x))
                    .map(|x| format!("{} {} {} {}", x["rule"], x["group"], x["state"], x["count"]))
                    .collect()
            };
            format!(
                "{at}: {} against {} items; only got: {:?}; only wanted: {:?}",
                g.len(),
                w.len(),
                only(g, w),
                only(w, g)
            )
        }
        _ => format!("{at}: got {got}, want {want}"),
    }
}

/// One copy of an original: which, under what name, where, compressed or not.
#[derive(Debug, Clone)]
struct Copy {
    original: usize,
    name: u32,
    subdir: u8,
    gzip: bool,
}

fn copy_strategy(originals: usize) -> impl Strategy<Value = Copy> {
    (0..originals, any::<u32>(), 0u8..4, any::<bool>()).prop_map(
        |(original, name, subdir, gzip)| Copy {
            original,
            name,
            subdir,
            gzip,
        },
    )
}

fn write_copies(dir: &Path, files: &[PathBuf], copies: &[Copy]) {
    for (i, c) in copies.iter().enumerate() {
        let sub = dir.join(format!("copy-{}", c.subdir));
        std::fs::create_dir_all(&sub).expect("mkdir");
        // Names in CloudTrail's shape with another delivery stamp, so the
        // order files are read in changes with the name.
        let stem = format!(
            "111122223333_CloudTrail_us-east-1_20250101T{:04}Z_{:08x}{i}",
            c.name % 2400,
            c.name
        );
        let text = plain(&files[c.original]);
        if c.gzip {
            let file = std::fs::File::create(sub.join(format!("{stem}.json.gz"))).expect("create");
            let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            gz.write_all(&text).expect("write");
            gz.finish().expect("finish");
        } else {
            std::fs::write(sub.join(format!("{stem}.json")), text).expect("write");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_copying_renaming_and_order_gives_the_report_of_one_copy(
        extra in prop::collection::vec(copy_strategy(64), 0..12),
        layout in prop::collection::vec(copy_strategy(64), 16),
    ) {
        let (_, files) = originals();
        let extra: Vec<Copy> = extra
            .into_iter()
            .map(|c| Copy { original: c.original % files.len(), ..c })
            .collect();
        // One copy of every original under its own new name and place...
        let once: Vec<Copy> = layout
            .iter()
            .take(files.len())
            .enumerate()
            .map(|(original, c)| Copy { original, ..c.clone() })
            .collect();
        let one = tempfile::tempdir().expect("tempdir");
        write_copies(one.path(), files, &once);
        // ...against those and any number of further copies, renamed,
        // re-compressed and placed elsewhere.
        let many = tempfile::tempdir().expect("tempdir");
        let mut all = once.clone();
        all.extend(extra);
        write_copies(many.path(), files, &all);

        let want = report_of(one.path());
        prop_assert!(want["events"].as_u64() > Some(400));
        let got = report_of(many.path());
        prop_assert!(got == want, "{}", first_difference("", &got, &want));
    }
}

#[test]
fn the_originals_are_the_fixtures_and_the_corpus() {
    let (_, files) = originals();
    // Three fixtures and the corpus's files, fewer than the layouts drawn.
    assert!((9..=16).contains(&files.len()), "{files:?}");
}
