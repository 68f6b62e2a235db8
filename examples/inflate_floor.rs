//! The report's physical floor: every gzip file under a directory inflated
//! with libdeflate (the library `report` uses) on every core, in one
//! process, nothing parsed. `bench/report.sh` times it beside `report`:
//!
//! ```sh
//! cargo run --release --example inflate_floor -- DIR [THREADS]
//! ```
//!
//! Prints the files and bytes inflated. Reading the files is included, as
//! it is in `report`; process start-up is paid once, not once per file as
//! with `libdeflate-gunzip`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: inflate_floor DIR [THREADS]");
        return ExitCode::from(2);
    };
    let threads = args
        .next()
        .and_then(|t| t.to_str()?.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let files: Vec<PathBuf> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().to_string_lossy().ends_with(".json.gz"))
        .map(walkdir::DirEntry::into_path)
        .collect();
    let queue = Mutex::new(files.iter());
    let inflated = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                let mut decompressor = libdeflater::Decompressor::new();
                let mut out = Vec::new();
                loop {
                    let next = queue.lock().map(|mut q| q.next().cloned());
                    let Ok(Some(path)) = next else { break };
                    let Ok(gz) = std::fs::read(&path) else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    // The gzip trailer's size (mod 2^32): log files are far smaller.
                    let size = gz
                        .len()
                        .checked_sub(4)
                        .and_then(|at| gz.get(at..))
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, |b: [u8; 4]| u32::from_le_bytes(b) as usize);
                    out.resize(size, 0);
                    match decompressor.gzip_decompress(&gz, &mut out) {
                        Ok(n) => {
                            inflated.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    println!(
        "{} files, {} bytes inflated, {} failed, {threads} threads",
        files.len(),
        inflated.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    ExitCode::SUCCESS
}
