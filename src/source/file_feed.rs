//! Log files as a source for the dashboard: reads them on reader threads
//! (the same [`scan`] as `report`) and sends each file's events as one
//! owned batch, with progress, into the consumer's bounded channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::thread;

use super::files::{Consumer, Input, Listed, Problem, scan};
use super::trail_fetch::{TrailPlan, start};
use super::trail_layout::S3Url;
use crate::event::{KmsEvent, PackedEvent};
use crate::feed::ScanStats;
use crate::feed::{RecordAt, RecordFile, SourceMsg};

struct Batcher<M> {
    tx: SyncSender<M>,
    events: Vec<(PackedEvent, Option<RecordAt>)>,
    done: Arc<AtomicUsize>,
    /// Unknown while a bucket is still being listed.
    total: Option<usize>,
    /// The file being read, when its records can be read again (a local
    /// file, an S3 object), and where its text lies in memory (address,
    /// length).
    file: Option<Arc<RecordFile>>,
    text: (usize, usize),
}

impl<M> Batcher<M> {
    /// Where the event's record lies in the file being read, when it is a
    /// slice of the file's text.
    fn record_at(&self, event: &KmsEvent<'_>) -> Option<RecordAt> {
        let file = self.file.as_ref()?;
        let raw = event.raw.as_deref()?;
        let start = raw.as_ptr().addr().checked_sub(self.text.0)?;
        if start + raw.len() > self.text.1 {
            return None;
        }
        Some(RecordAt {
            file: Arc::clone(file),
            start: u32::try_from(start).ok()?,
            len: u32::try_from(raw.len()).ok()?,
        })
    }
}

impl<M: From<SourceMsg> + Send> Consumer for Batcher<M> {
    fn consume(&mut self, mut event: KmsEvent<'_>) {
        // A record that can be read again cheaply is not copied: the
        // dashboard holds every event of the files, and records are most
        // of it. One in S3 costs an object's GET to read again: the
        // newest arrivals keep theirs, as the live ones do.
        let at = self.record_at(&event);
        if at
            .as_ref()
            .is_some_and(|at| matches!(at.file.as_ref(), RecordFile::Local(_)))
        {
            event.raw = None;
        }
        self.events.push((PackedEvent::pack(&event), at));
    }

    fn begin_file(&mut self, _index: usize, input: &Input) {
        self.file = match input {
            Input::File { path, .. } => Some(Arc::new(RecordFile::Local(path.clone()))),
            // Named by `S3Url::object`; a log group's events have no place.
            Input::Memory { name, .. } => S3Url::object_of(name).map(|(bucket, key)| {
                Arc::new(RecordFile::Object {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })
            }),
            _ => None,
        };
        self.text = (0, 0);
    }

    fn file_text(&mut self, text: &str) {
        self.text = (text.as_ptr().addr(), text.len());
    }

    fn end_file(&mut self, _index: usize) {
        self.file = None;
        let events = std::mem::take(&mut self.events);
        if !events.is_empty() {
            let _ = self.tx.send(SourceMsg::FileEvents(events).into());
        }
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = self.tx.send(
            SourceMsg::FilesRead {
                done,
                total: self.total,
            }
            .into(),
        );
    }
}

/// Starts reading `inputs`, then the buckets of `s3` (if any), on
/// `threads` reader threads; the messages end with
/// [`SourceMsg::FilesDone`]. A full channel makes the readers wait.
pub fn spawn<M: From<SourceMsg> + Send + 'static>(
    inputs: Vec<Input>,
    s3: Option<TrailPlan>,
    threads: usize,
    tx: SyncSender<M>,
) {
    let spawned = thread::Builder::new()
        .name("kmstop-files".into())
        .spawn(move || {
            let done = Arc::new(AtomicUsize::new(0));
            let total = s3.is_none().then_some(inputs.len());
            let problem_tx = tx.clone();
            let on_problem = move |p: Problem| {
                let text = p.to_string();
                tracing::warn!("{text}");
                let _ = problem_tx.send(SourceMsg::FileProblem(text).into());
            };
            let make = || Batcher {
                tx: tx.clone(),
                events: Vec::new(),
                done: Arc::clone(&done),
                total,
                file: None,
                text: (0, 0),
            };
            let stats = match s3 {
                None => scan(&Listed::new(&inputs), threads, make, &on_problem).1,
                Some(plan) => read_buckets(inputs, plan, threads, make, &on_problem),
            };
            let _ = tx.send(SourceMsg::FilesDone(stats).into());
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the file reader: {e}");
    }
}

/// The local inputs, then the buckets' objects as they are fetched; the
/// folders that could not be listed become problems like failed files.
fn read_buckets<C: super::files::Consumer, F: Fn() -> C + Sync>(
    inputs: Vec<Input>,
    plan: TrailPlan,
    threads: usize,
    make: F,
    on_problem: &(dyn Fn(Problem) + Sync),
) -> ScanStats {
    let progress = indicatif::ProgressBar::hidden();
    let fetching = match start(plan, inputs, threads, progress) {
        Ok(fetching) => fetching,
        Err(reason) => {
            on_problem(Problem::FileFailed {
                input: "s3".to_owned(),
                reason,
            });
            return ScanStats::default();
        }
    };
    let (_, mut stats) = scan(&fetching.queue, threads, make, on_problem);
    let summary = fetching.finish();
    for failure in summary.failures {
        stats.files_failed += 1;
        on_problem(Problem::FileFailed {
            input: failure.address,
            reason: failure.error.to_string(),
        });
    }
    stats.digest_files += summary.digest_files;
    stats.not_log_files += summary.not_log_files;
    stats
}
