//! CloudTrail log files on disk (or stdin), read in parallel.
//!
//! Inputs are ordered by the delivery time in their CloudTrail file names,
//! and reader threads take them in that order from a shared counter, so
//! copies of an event reach the de-duplication close together (see
//! [`crate::dedup`]). A file is parsed whole before any of its events is
//! handed on: a file that fails contributes nothing, never half.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::container::{for_each_log_record, read_container};
use super::decode::{MAX_INFLATED, Sniffed, gunzip, sniff, strip_bom};
use crate::event::{KmsEvent, ParseError, Parsed, normalize, parse_record};

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    /// An input that failed before it could be read: a directory entry
    /// that could not be listed (a dangling link, a loop, no permission),
    /// an object S3 would not give. It fails when read, like any
    /// unreadable file.
    Failed {
        name: String,
        reason: String,
    },
    File {
        path: PathBuf,
        /// Named on the command line, rather than found in a directory: a
        /// named file that is not a log is an error, a found one is passed
        /// over.
        named: bool,
    },
    /// Records already in memory (one JSON record per line), e.g. what a
    /// LookupEvents sweep read: they go through exactly the file path.
    Memory {
        name: String,
        bytes: std::sync::Arc<[u8]>,
    },
}

impl Input {
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_owned(),
            Input::Memory { name, .. } | Input::Failed { name, .. } => name.clone(),
            Input::File { path, .. } => path.display().to_string(),
        }
    }
}

/// Something worth telling the user about, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file could not be read or parsed; none of it was counted.
    FileFailed { input: String, reason: String },
    /// The file was read, but with bytes that are not UTF-8: they read
    /// as U+FFFD, and every record was kept.
    NotUtf8 { input: String, first_at: usize },
    /// The file was read, but some pieces of it were not records.
    Malformed {
        input: String,
        count: usize,
        first: String,
    },
}

impl Problem {
    /// A warning: the file was read, with every good record counted.
    pub fn is_warning(&self) -> bool {
        !matches!(self, Self::FileFailed { .. })
    }
}

/// `file: what`, unescaped: paths and reasons carry bytes from the data,
/// so whoever shows it escapes it.
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::FileFailed { input, reason } => write!(f, "{input}: {reason}"),
            Self::NotUtf8 { input, first_at } => write!(
                f,
                "{input}: bytes that are not UTF-8 (the first at byte {first_at}) read as U+FFFD"
            ),
            Self::Malformed {
                input,
                count,
                first,
            } => write!(
                f,
                "{input}: {count} malformed record(s) skipped (first: {first})"
            ),
        }
    }
}

pub use crate::feed::ScanStats;

/// Receives the KMS events of each file, one reader thread each.
pub trait Consumer: Send {
    fn consume(&mut self, event: KmsEvent<'_>);

    /// Whether events should carry their record's text (drill-down needs
    /// it; counting does not, and reading is faster without).
    fn wants_raw(&self) -> bool {
        true
    }

    /// Called once for every input, in whatever order threads finish them,
    /// after that input's events (none if it failed): `index` is its place
    /// in the input list, so a consumer can put files back in order.
    fn end_file(&mut self, _index: usize) {}

    /// Called before an input's events, with its place in the input list.
    fn begin_file(&mut self, _index: usize, _input: &Input) {}

    /// The text an input's events were parsed from, before they are
    /// consumed: their records are slices of it.
    fn file_text(&mut self, _text: &str) {}
}

/// A record of a local log file, read again from where it was found (the
/// file read and decoded as [`scan`] reads it, then the record's bytes).
///
/// # Errors
/// The file cannot be read any more, or is shorter than when it was read;
/// or the record lies in S3 (read it with [`record_in`] once fetched).
pub fn read_record(at: &crate::feed::RecordAt) -> Result<String, String> {
    match at.file.as_ref() {
        crate::feed::RecordFile::Local(path) => {
            let input = Input::File {
                path: path.clone(),
                named: true,
            };
            record_in(&input, at)
        }
        crate::feed::RecordFile::Object { .. } => {
            Err("the record lies in S3: it is read from there".to_owned())
        }
    }
}

/// The record at `at` in `input`, decoded as [`scan`] decodes it, so the
/// offsets mean the same bytes.
///
/// # Errors
/// The input cannot be read, is no log, or is shorter than `at` says.
pub fn record_in(input: &Input, at: &crate::feed::RecordAt) -> Result<String, String> {
    let mut reader = Reader::default();
    let bytes = match reader.load(input, true)? {
        Loaded::Bytes(true) => &reader.inflated,
        Loaded::Bytes(false) => &reader.raw,
        Loaded::NotALog => return Err("no longer a log file".to_owned()),
    };
    let text = String::from_utf8_lossy(strip_bom(bytes));
    let start = at.start as usize;
    text.get(start..start + at.len as usize)
        .map(str::to_owned)
        .ok_or_else(|| "the file is shorter than when it was read".to_owned())
}

/// Expands paths into inputs: directories recursively, `-` as stdin.
///
/// # Errors
/// A path that does not exist, named as `--source`: a usage error, found
/// before any work is done.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Input>, String> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            if !inputs.contains(&Input::Stdin) {
                inputs.push(Input::Stdin);
            }
            continue;
        }
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("--source {}: {}", path.display(), io_reason(&e)))?;
        if !meta.is_dir() {
            inputs.push(Input::File {
                path: path.clone(),
                named: true,
            });
            continue;
        }
        for entry in walkdir::WalkDir::new(path).follow_links(true) {
            match entry {
                Ok(entry) if entry.file_type().is_file() => inputs.push(Input::File {
                    path: entry.into_path(),
                    named: false,
                }),
                Ok(_) => {}
                Err(e) => inputs.push(Input::Failed {
                    name: e.path().unwrap_or(path).display().to_string(),
                    reason: e.io_error().map_or_else(|| e.to_string(), io_reason),
                }),
            }
        }
    }
    inputs.sort_by_cached_key(delivery_order);
    Ok(inputs)
}

/// CloudTrail names files `<acct>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>`:
/// sorting by that stamp reads the whole tree roughly in delivery order.
fn delivery_order(input: &Input) -> (String, String) {
    let name = input.display();
    let name = name.rsplit('/').next().unwrap_or_default();
    let stamp = name
        .split('_')
        .find(|part| {
            part.len() == 14
                && part.as_bytes()[8] == b'T'
                && part.ends_with('Z')
                && part[..8].bytes().all(|b| b.is_ascii_digit())
        })
        .unwrap_or_default();
    (stamp.to_owned(), input.display())
}

/// Hands inputs to the reader threads, each with its place in the whole.
pub trait InputQueue: Sync {
    /// The next input, or `None` when every input has been handed out;
    /// it may wait for one to arrive.
    fn next(&self) -> Option<(usize, Input)>;

    /// How many inputs there are at most, when known up front: no more
    /// threads than that are started.
    fn bound(&self) -> Option<usize> {
        None
    }

    /// One input has been read, with this many KMS events.
    fn done(&self, _kms_events: u64) {}
}

/// Inputs all known up front, handed out in their order.
pub struct Listed<'a> {
    inputs: &'a [Input],
    next: AtomicUsize,
}

impl<'a> Listed<'a> {
    pub fn new(inputs: &'a [Input]) -> Self {
        Self {
            inputs,
            next: AtomicUsize::new(0),
        }
    }
}

impl InputQueue for Listed<'_> {
    fn next(&self) -> Option<(usize, Input)> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        self.inputs.get(index).map(|input| (index, input.clone()))
    }

    fn bound(&self) -> Option<usize> {
        Some(self.inputs.len())
    }
}

/// Reads every input on `threads` threads; each thread feeds its own
/// consumer from `make`, and the consumers come back for merging.
pub fn scan<C, F>(
    inputs: &dyn InputQueue,
    threads: usize,
    make: F,
    on_problem: &(dyn Fn(Problem) + Sync),
) -> (Vec<C>, ScanStats)
where
    C: Consumer,
    F: Fn() -> C + Sync,
{
    let threads = threads.clamp(1, inputs.bound().unwrap_or(threads).max(1));
    let results: Vec<(C, ScanStats)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut consumer = make();
                    let mut stats = ScanStats::default();
                    let mut reader = Reader::default();
                    while let Some((index, input)) = inputs.next() {
                        let before = stats.kms_records;
                        consumer.begin_file(index, &input);
                        reader.read(&input, &mut consumer, &mut stats, on_problem);
                        consumer.end_file(index);
                        inputs.done(stats.kms_records - before);
                    }
                    (consumer, stats)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut total = ScanStats::default();
    let consumers = results
        .into_iter()
        .map(|(consumer, stats)| {
            total += stats;
            consumer
        })
        .collect();
    (consumers, total)
}

/// A reader thread's buffers, reused from file to file.
#[derive(Default)]
struct Reader {
    raw: Vec<u8>,
    inflated: Vec<u8>,
}

impl Reader {
    fn read<C: Consumer>(
        &mut self,
        input: &Input,
        consumer: &mut C,
        stats: &mut ScanStats,
        on_problem: &(dyn Fn(Problem) + Sync),
    ) {
        let named = !matches!(input, Input::File { named: false, .. });
        let outcome = self.load(input, named).and_then(|loaded| match loaded {
            Loaded::NotALog => Ok(None),
            Loaded::Bytes(gzip) => {
                let bytes = if gzip { &self.inflated } else { &self.raw };
                parse_file(bytes, consumer, stats).map(Some)
            }
        });
        match outcome {
            Ok(None) => stats.not_log_files += 1,
            Ok(Some((malformed, bad_byte))) => {
                stats.files_read += 1;
                if let Some(first_at) = bad_byte {
                    on_problem(Problem::NotUtf8 {
                        input: input.display(),
                        first_at,
                    });
                }
                if let Some(first) = malformed.first() {
                    on_problem(Problem::Malformed {
                        input: input.display(),
                        count: malformed.len(),
                        first: first.clone(),
                    });
                }
            }
            Err(reason) => {
                stats.files_failed += 1;
                on_problem(Problem::FileFailed {
                    input: input.display(),
                    reason,
                });
            }
        }
    }

    fn load(&mut self, input: &Input, named: bool) -> Result<Loaded, String> {
        self.raw.clear();
        match input {
            Input::Stdin => read_capped(io::stdin().lock(), &mut self.raw),
            Input::File { path, .. } => read_into(path, &mut self.raw),
            Input::Failed { reason, .. } => return Err(reason.clone()),
            Input::Memory { bytes, .. } => {
                self.raw.extend_from_slice(bytes);
                Ok(())
            }
        }
        .map_err(|e| io_reason(&e))?;
        match sniff(&self.raw) {
            Sniffed::Gzip => {
                gunzip(&self.raw, &mut self.inflated).map_err(|e| e.to_string())?;
                if sniff(&self.inflated) != Sniffed::Json {
                    return Err("gzip data is not JSON".to_owned());
                }
                Ok(Loaded::Bytes(true))
            }
            Sniffed::Json => Ok(Loaded::Bytes(false)),
            Sniffed::Other if named => {
                Err("not a CloudTrail log: neither gzip nor JSON".to_owned())
            }
            Sniffed::Other => Ok(Loaded::NotALog),
        }
    }
}

enum Loaded {
    NotALog,
    /// Ready to parse; true when the text is in the inflated buffer.
    Bytes(bool),
}

/// Reads a regular file whole, at most [`MAX_INFLATED`] bytes: a FIFO
/// would block forever and a device never end.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    // Before opening: opening a FIFO waits for a writer.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device): not read",
        ));
    }
    // Sized once: doubling copies the buffer on every growth.
    let size = usize::try_from(meta.len().min(MAX_INFLATED) + 1).unwrap_or(0);
    buf.reserve_exact(size.saturating_sub(buf.len()));
    read_capped(std::fs::File::open(path)?, buf)
}

/// Reads to the end, refusing input larger than any log file.
fn read_capped(from: impl Read, buf: &mut Vec<u8>) -> io::Result<()> {
    from.take(MAX_INFLATED + 1).read_to_end(buf)?;
    if buf.len() as u64 > MAX_INFLATED {
        buf.clear();
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "larger than {} MB: larger than any CloudTrail log file",
                MAX_INFLATED >> 20
            ),
        ));
    }
    Ok(())
}

/// Parses a whole file, then hands its KMS events on. Returns the notes on
/// malformed pieces, and where the first byte that is not UTF-8 was.
fn parse_file<C: Consumer>(
    bytes: &[u8],
    consumer: &mut C,
    stats: &mut ScanStats,
) -> Result<(Vec<String>, Option<usize>), String> {
    // A stray byte that is not UTF-8 must not cost the file's other
    // records (nor hide the record it is in): it reads as U+FFFD, and the
    // caller says so.
    let bytes = strip_bom(bytes);
    let (text, bad_byte) = match std::str::from_utf8(bytes) {
        Ok(text) => (std::borrow::Cow::Borrowed(text), None),
        Err(e) => (String::from_utf8_lossy(bytes), Some(e.valid_up_to())),
    };
    let text: &str = &text;
    let mut file = FileEvents::default();
    let streamed = !consumer.wants_raw()
        && for_each_log_record(text, |record| {
            let parsed = record
                .ok_or_else(|| ParseError::NotAnObject("not an object".to_owned()))
                .and_then(|record| normalize(record, None));
            file.add(parsed);
        });
    // Contents must outlive the events borrowed from them.
    let contents;
    if !streamed {
        file = FileEvents::default();
        contents = read_container(text)?;
        file.stats.digest_files = u64::from(contents.digests > 0 && contents.items.is_empty());
        file.malformed.extend(contents.malformed.iter().cloned());
        for item in &contents.items {
            file.add(parse_record(item.raw()));
        }
    }
    file.stats.kms_records = file.events.len() as u64;
    file.stats.malformed = file.malformed.len() as u64;
    consumer.file_text(text);
    for event in file.events {
        consumer.consume(event);
    }
    *stats += file.stats;
    Ok((file.malformed, bad_byte))
}

/// One file's parse, held back until the whole file has been read.
#[derive(Default)]
struct FileEvents<'a> {
    events: Vec<KmsEvent<'a>>,
    malformed: Vec<String>,
    stats: ScanStats,
}

impl<'a> FileEvents<'a> {
    fn add(&mut self, parsed: Result<Parsed<'a>, ParseError>) {
        self.stats.records += 1;
        match parsed {
            Ok(Parsed::Kms(event)) => self.events.push(*event),
            Ok(Parsed::NonKms) => self.stats.non_kms += 1,
            Err(e) => self
                .malformed
                .push(format!("record {}: {e}", self.stats.records)),
        }
    }
}

/// The OS error without Rust's "(os error N)" suffix.
fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => {
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_owned()
        }
    }
}
