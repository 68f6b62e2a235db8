//! Writes a benchmark corpus and its expected report.
//!
//! `cargo run --release --example gen_corpus -- --out DIR [--seed N] [--scale F] [--small]`

use std::path::PathBuf;
use std::process::ExitCode;

use kmstop::clock::{Clock, SystemClock};
use kmstop::synth::{CorpusSpec, write_corpus};

struct Args {
    out: PathBuf,
    seed: u64,
    scale: f64,
    small: bool,
}

fn parse() -> Result<Args, String> {
    let mut out = None;
    let mut seed = 42;
    let mut scale: f64 = 1.0;
    let mut small = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--seed" => {
                seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?;
            }
            "--scale" => {
                scale = value("--scale")?
                    .parse()
                    .map_err(|e| format!("--scale: {e}"))?;
            }
            "--small" => small = true,
            "-h" | "--help" => {
                return Err("usage: gen_corpus --out DIR [--seed N] [--scale F] [--small]".into());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !(scale > 0.0 && scale.is_finite()) {
        return Err("--scale must be a positive number".into());
    }
    let out = out.ok_or("--out DIR is required")?;
    Ok(Args {
        out,
        seed,
        scale,
        small,
    })
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let spec = if args.small {
        CorpusSpec::small(args.seed)
    } else {
        CorpusSpec::bench(args.seed).scaled(args.scale)
    };
    let started = SystemClock.now();
    let expected = match write_corpus(&args.out, &spec) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("gen_corpus: writing {}: {e}", args.out.display());
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = expected.check() {
        eprintln!("gen_corpus: inconsistent expectations: {e}");
        return ExitCode::FAILURE;
    }
    let json = match serde_json::to_vec_pretty(&expected) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("gen_corpus: serialising expected.json: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Beside the corpus, not in it: the corpus holds only what CloudTrail
    // (and a careless `aws s3 sync`) would put there.
    let mut expected_path = args.out.clone().into_os_string();
    expected_path.push(".expected.json");
    if let Err(e) = std::fs::write(&expected_path, json) {
        eprintln!("gen_corpus: writing expected.json: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "gen_corpus: {} KMS events (+{} duplicates), {} non-KMS, {} log files (+{} copies) in {:.1}s -> {}",
        expected.events,
        expected.duplicate_records,
        expected.non_kms,
        expected.files_written,
        expected.duplicate_files,
        (SystemClock.now() - started)
            .to_std()
            .map_or(0.0, |d| d.as_secs_f64()),
        args.out.display()
    );
    ExitCode::SUCCESS
}
