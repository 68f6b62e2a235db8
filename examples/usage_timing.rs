//! Times the report's quota and cost sections over a corpus: the counting
//! while the files are read, the merge of the reader threads' counts, and
//! the answer after the load (the issue-17 target: at most 100 ms on the
//! 300 k corpus).
//!
//! ```sh
//! cargo run --release --example gen_corpus -- --out /tmp/kmstop-bench/corpus
//! cargo run --release --example usage_timing -- /tmp/kmstop-bench/corpus
//! ```
#![allow(clippy::disallowed_methods)] // a timing tool reads the clock

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use kmstop::event::KmsEvent;
use kmstop::report::{UsageSettings, UsageTally};
use kmstop::source::files::{Consumer, Listed, discover, scan};

#[derive(Default)]
struct Counter(UsageTally, u64);

impl Consumer for Counter {
    fn wants_raw(&self) -> bool {
        false
    }

    fn consume(&mut self, event: KmsEvent<'_>) {
        self.0.count(&event);
        self.1 += 1;
    }
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: usage_timing DIR");
        return ExitCode::from(2);
    };
    let inputs = match discover(std::slice::from_ref(&dir)) {
        Ok(inputs) => inputs,
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let (counters, _) = scan(&Listed::new(&inputs), 2, Counter::default, &|_| {});
    let read = start.elapsed();
    let start = Instant::now();
    let mut counters = counters.into_iter();
    let Some(Counter(mut total, mut events)) = counters.next() else {
        eprintln!("no input");
        return ExitCode::from(2);
    };
    for Counter(tally, n) in counters {
        total.merge(tally);
        events += n;
    }
    let merged = start.elapsed();
    let start = Instant::now();
    let settings = UsageSettings::default();
    let quota = total.quota(&settings);
    let cost = total.cost(&settings);
    let answered = start.elapsed();
    println!(
        "{events} events (copies included); read and counted in {read:.2?}, merged in {merged:.2?}, answered in {answered:.2?}: {} quota rows over {} series-seconds (exact: {}), {} requests priced at {} across {} principal rows",
        quota.rows.len(),
        quota.series_seconds,
        quota.exact,
        cost.requests,
        cost.usd,
        cost.principals.len()
    );
    ExitCode::SUCCESS
}
