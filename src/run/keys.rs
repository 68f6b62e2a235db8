//! `kmstop keys`: read the key inventory of every selected account ×
//! region once and print it. The tokio runtime lives here, for the
//! duration of the command; the core stays free of it.

use std::io::{self, Write};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use super::{EXIT_INPUT_PROBLEM, output_width};
use crate::aws::{AwsError, KmsReader, LookupWindow, TargetOptions, caller_identity, load_account};
use crate::cli::KeysArgs;
use crate::clock::Clock;
use crate::dedup::{SeenSet, Sighting};
use crate::deletion::deletion_verdict;
use crate::deletion::window::KeyUseTally;
use crate::event::KmsEvent;
use crate::feed::SourceId;
use crate::inventory::KeyFacts;
use crate::report::key_list::{
    KeyTableOptions, KeysFormat, sorted, write_csv, write_json, write_table,
};
use crate::report::key_verdict::{self, KeyVerdictRow};
use crate::source::files::{Consumer, Problem};
use crate::source::inventory::disk::CacheFile;
use crate::source::inventory::{LastUsageCache, fetch_region};
use crate::source::lookup::state_dir;
use crate::text::escape_control;

/// What reading every region gave.
#[derive(Default)]
struct Gathered {
    keys: Vec<KeyFacts>,
    /// Per-key fields that failed for reasons other than access (stderr).
    warnings: Vec<String>,
    /// Regions whose keys could not be listed.
    failed: Vec<(SourceId, AwsError)>,
}

pub(super) fn run(args: &KeysArgs, clock: &dyn Clock) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kmstop: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_INPUT_PROBLEM);
        }
    };
    let now = clock.now();
    let gathered = match runtime.block_on(gather(&args.target.options(), now)) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("kmstop: {}", escape_control(&e.to_string()));
            return ExitCode::from(EXIT_INPUT_PROBLEM);
        }
    };
    for w in &gathered.warnings {
        eprintln!("kmstop: warning: {}", escape_control(w));
    }
    for (source, e) in &gathered.failed {
        eprintln!(
            "kmstop: {source}: cannot list keys: {}",
            escape_control(&e.to_string())
        );
    }
    let keys = match args.unused {
        Some(age) => unused_keys(gathered.keys, now - age),
        None => gathered.keys,
    };
    let mut regions_failed = gathered.failed.len();
    let printed = match args.verdict {
        Some(span) => match verdicts(args, &keys, now, span) {
            Ok((rows, failed)) => {
                for message in &failed {
                    eprintln!("kmstop: event history: {message}");
                }
                regions_failed += failed.len();
                let hidden = keys.len() - rows.len();
                print_verdicts(args, &rows, hidden)
            }
            Err(message) => {
                eprintln!(
                    "kmstop: cannot read the event history: {}",
                    escape_control(&message)
                );
                return ExitCode::from(EXIT_INPUT_PROBLEM);
            }
        },
        None => print(args, &keys, now),
    };
    match printed {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kmstop: cannot write the key list: {e}");
            return ExitCode::from(EXIT_INPUT_PROBLEM);
        }
        Ok(()) => {}
    }
    if regions_failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("kmstop: {regions_failed} region(s) could not be read; the list leaves them out");
        ExitCode::from(EXIT_INPUT_PROBLEM)
    }
}

/// One reader thread of the swept event history: the window's calls on
/// the listed keys, each distinct event once.
struct VerdictReader<'d> {
    seen: &'d SeenSet,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    tally: KeyUseTally,
}

impl Consumer for VerdictReader<'_> {
    fn wants_raw(&self) -> bool {
        false
    }

    fn consume(&mut self, event: KmsEvent<'_>) {
        if event.time < self.from || event.time > self.until {
            return;
        }
        if self.seen.sighting(event.identity(), event.substance()) == Sighting::First {
            self.tally.count(&event);
        }
    }
}

/// The verdict on each of `keys` over the last `span` of the event
/// history of every selected account × region, and a message per region
/// whose history could not be read (its verdicts then miss its calls).
fn verdicts(
    args: &KeysArgs,
    keys: &[KeyFacts],
    now: DateTime<Utc>,
    span: chrono::Duration,
) -> Result<(Vec<KeyVerdictRow>, Vec<String>), String> {
    let from = now - span;
    let seen = SeenSet::default();
    let make = || VerdictReader {
        seen: &seen,
        from,
        until: now,
        tally: KeyUseTally::new(keys.iter().map(|k| k.arn.as_str())),
    };
    let on_problem = |problem: Problem| {
        eprintln!("kmstop: warning: {}", escape_control(&problem.to_string()));
    };
    let window = LookupWindow {
        start: from,
        end: now,
    };
    let (readers, failed) =
        super::sweep::sweep_into(&args.target.options(), window, 2, make, &on_problem)?;
    let mut readers = readers.into_iter();
    let mut tally = readers.next().map_or_else(|| make().tally, |r| r.tally);
    for r in readers {
        tally.merge(r.tally);
    }
    let rows = sorted(keys, args.sort)
        .into_iter()
        .filter(|k| shown(args, k))
        .map(|k| {
            let window = tally.window(&k.arn, from, now);
            let verdict = deletion_verdict(Some(k), &window, now);
            KeyVerdictRow::new(k, &window, &verdict)
        })
        .collect();
    Ok((rows, failed))
}

/// The table leaves AWS-managed keys out unless `--all`; JSON and CSV
/// give every key.
fn shown(args: &KeysArgs, k: &KeyFacts) -> bool {
    args.all || args.format != KeysFormat::Table || k.key_manager.as_deref() != Some("AWS")
}

fn print_verdicts(args: &KeysArgs, rows: &[KeyVerdictRow], hidden: usize) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match args.format {
        KeysFormat::Json => key_verdict::write_json(rows, &mut out),
        KeysFormat::Csv => key_verdict::write_csv(rows, &mut out),
        KeysFormat::Table => {
            key_verdict::write_table(rows, output_width(), &mut out).and_then(|()| {
                if hidden > 0 {
                    writeln!(
                        out,
                        "{hidden} AWS-managed key(s) not shown: --all shows them"
                    )?;
                }
                Ok(())
            })
        }
    }
    .and_then(|()| out.flush())
}

/// Loads each profile and checks who it is (stopping at the first that
/// fails: nothing useful can be printed for it), then reads every region
/// of every profile at the same time. `GetKeyLastUsage` answers younger
/// than [`crate::source::inventory::disk::DISK_TTL`] come from the last
/// run's cache file, so runs in quick succession do not ask again.
async fn gather(options: &TargetOptions, now: DateTime<Utc>) -> Result<Gathered, AwsError> {
    let profiles: Vec<Option<String>> = if options.profiles.is_empty() {
        vec![None]
    } else {
        options.profiles.iter().cloned().map(Some).collect()
    };
    let mut reads = JoinSet::new();
    let state = state_dir();
    for profile in &profiles {
        let account = load_account(profile.as_deref(), options).await?;
        let identity = caller_identity(&account.config, profile.as_deref()).await?;
        let endpoint = account.config.endpoint_url().map(str::to_owned);
        for region in &account.regions {
            let reader = KmsReader::new(&account.config, region);
            let source = SourceId {
                account: identity.account.clone(),
                region: region.clone(),
            };
            let file = state
                .as_deref()
                .and_then(|dir| CacheFile::new(dir, &source, endpoint.as_deref()));
            reads.spawn(async move {
                let mut cache = file
                    .as_ref()
                    .map_or_else(LastUsageCache::default, |f| f.load(now));
                let read = fetch_region(&reader, &source, &mut cache, now).await;
                if let (Some(f), Ok(_)) = (&file, &read)
                    && let Err(e) = f.save(&cache)
                {
                    tracing::debug!("cannot save {}: {e}", f.path().display());
                }
                (source, read)
            });
        }
    }
    let mut gathered = Gathered::default();
    while let Some(done) = reads.join_next().await {
        let (source, read) = match done {
            Ok(d) => d,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        match read {
            Ok(inventory) => {
                gathered.keys.extend(inventory.keys);
                gathered.warnings.extend(inventory.problems);
            }
            Err(e) => gathered.failed.push((source, e)),
        }
    }
    gathered.failed.sort_by(|a, b| a.0.cmp(&b.0));
    gathered.warnings.sort();
    Ok(gathered)
}

/// The customer-managed keys KMS saw no use of since `cutoff`; the keys
/// it cannot say that of are named on stderr, so an empty list never
/// hides them.
fn unused_keys(keys: Vec<KeyFacts>, cutoff: DateTime<Utc>) -> Vec<KeyFacts> {
    let (customer, _aws_managed): (Vec<KeyFacts>, Vec<KeyFacts>) = keys
        .into_iter()
        .partition(|k| k.key_manager.as_deref() != Some("AWS"));
    let mut unused = Vec::new();
    let mut unknown = Vec::new();
    for key in customer {
        match key.unused_since(cutoff) {
            Some(true) => unused.push(key),
            Some(false) => {}
            None => unknown.push(key),
        }
    }
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(KeyFacts::display_name).collect();
        eprintln!(
            "kmstop: {} key(s) left out: KMS cannot say whether they were used since {} (kms:GetKeyLastUsage refused or unavailable, or its tracking started later): {}",
            unknown.len(),
            cutoff.format("%Y-%m-%d %H:%M UTC"),
            escape_control(&names.join(", "))
        );
    }
    unused
}

fn print(args: &KeysArgs, keys: &[KeyFacts], now: DateTime<Utc>) -> io::Result<()> {
    let rows = sorted(keys, args.sort);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match args.format {
        KeysFormat::Json => write_json(&rows, now, &mut out),
        KeysFormat::Csv => write_csv(&rows, now, &mut out),
        KeysFormat::Table => {
            let opts = KeyTableOptions {
                width: output_width(),
                all: args.all,
            };
            write_table(&rows, now, opts, &mut out)
        }
    }
    .and_then(|()| out.flush())
}
