//! A trail where it lands, as inputs of the one file scanner: a bucket's
//! objects walked and fetched a few at a time in delivery order, a log
//! group's pages searched ([`super::logs_fetch`]), all handed to the reader
//! threads through a short queue — so memory holds a few objects, whatever
//! the bucket holds, and a slow reader holds the fetching back.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use indicatif::ProgressBar;
use tokio::sync::mpsc;

use super::decode::MAX_INFLATED;
use super::files::{Input, InputQueue};
use super::log_group::LogGroupUrl;
use super::logs_fetch::{Group, fetch_groups};
use super::s3_walk::{ListFailure, WalkStats, Walker, batches};
use super::trail_layout::{S3Url, Selection};
use crate::aws::{AwsError, ErrorKind, LogsReader, S3Reader};
use crate::aws::{TargetOptions, load_config};

/// Objects fetched ahead of the readers: enough to hide S3's latency,
/// few enough that memory holds only a handful of files.
const FETCHES_IN_FLIGHT: usize = 8;

/// One `s3://` source, with its reader or why there is none.
pub struct Bucket {
    pub url: S3Url,
    pub reader: Result<S3Reader, AwsError>,
}

/// What the walks and fetches came to, besides the objects' events.
#[derive(Debug, Default)]
pub struct Fetched {
    pub walk: WalkStats,
    /// Buckets and folders that could not be listed, each named.
    pub failures: Mutex<Vec<ListFailure>>,
    pub objects: AtomicU64,
    /// `FilterLogEvents` pages read.
    pub log_pages: AtomicU64,
    /// Log groups searched to the end of the question.
    pub groups_searched: AtomicU64,
    pub bytes: AtomicU64,
    pub events: AtomicU64,
}

impl Fetched {
    pub fn fail(&self, failure: ListFailure) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(failure);
    }

    /// The failures, for the report and stderr.
    pub fn failures(&self) -> Vec<ListFailure> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Walks and fetches every bucket, sending each object (or why it could
/// not be had) numbered from `first_index`; stops early when the readers
/// are gone.
pub async fn fetch_all(
    buckets: Vec<Bucket>,
    selection: &Selection,
    now: DateTime<Utc>,
    first_index: usize,
    tx: &mpsc::Sender<(usize, Input)>,
    fetched: &Arc<Fetched>,
) -> usize {
    let mut index = first_index;
    for bucket in buckets {
        let reader = match bucket.reader {
            Ok(reader) => reader,
            Err(error) => {
                fetched.fail(ListFailure {
                    address: bucket.url.to_string(),
                    error,
                });
                continue;
            }
        };
        let walker = Walker {
            reader: &reader,
            url: &bucket.url,
            selection,
            stats: &fetched.walk,
        };
        let (leaves, failures) = walker.leaves().await;
        for failure in failures {
            fetched.fail(failure);
        }
        for batch in batches(&leaves, selection, now) {
            let (objects, failures) = walker.batch(&leaves, &batch).await;
            for failure in failures {
                fetched.fail(failure);
            }
            let mut arriving = stream::iter(objects)
                .map(|object| {
                    let reader = &reader;
                    let name = bucket.url.object(&object.key);
                    async move {
                        match reader.get(&object.key, MAX_INFLATED).await {
                            Ok(bytes) => Input::Memory {
                                name,
                                bytes: Arc::from(bytes),
                            },
                            Err(e) => Input::Failed {
                                name,
                                reason: e.to_string(),
                            },
                        }
                    }
                })
                .buffered(FETCHES_IN_FLIGHT);
            while let Some(input) = arriving.next().await {
                if let Input::Memory { bytes, .. } = &input {
                    fetched.objects.fetch_add(1, Ordering::Relaxed);
                    fetched
                        .bytes
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
                if tx.send((index, input)).await.is_err() {
                    return index;
                }
                index += 1;
            }
        }
    }
    index
}

/// Local inputs first, then the objects as they arrive.
pub struct Arriving {
    local: Vec<Input>,
    next_local: AtomicUsize,
    rx: Mutex<mpsc::Receiver<(usize, Input)>>,
    fetched: Arc<Fetched>,
    progress: ProgressBar,
}

impl Arriving {
    /// A queue of `local` inputs, then what `fetch_all` sends on `rx`
    /// (numbered from `local.len()`).
    pub fn new(
        local: Vec<Input>,
        rx: mpsc::Receiver<(usize, Input)>,
        fetched: Arc<Fetched>,
        progress: ProgressBar,
    ) -> Self {
        Self {
            local,
            next_local: AtomicUsize::new(0),
            rx: Mutex::new(rx),
            fetched,
            progress,
        }
    }
}

impl InputQueue for Arriving {
    fn next(&self) -> Option<(usize, Input)> {
        let at = self.next_local.fetch_add(1, Ordering::Relaxed);
        if let Some(input) = self.local.get(at) {
            return Some((at, input.clone()));
        }
        self.rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .blocking_recv()
    }

    fn done(&self, kms_events: u64) {
        let events = self.fetched.events.fetch_add(kms_events, Ordering::Relaxed) + kms_events;
        self.progress.set_position(events);
        let objects = self.fetched.objects.load(Ordering::Relaxed);
        let pages = self.fetched.log_pages.load(Ordering::Relaxed);
        let read = match (objects, pages) {
            (_, 0) => format!("{objects} objects"),
            (0, _) => format!("{pages} log pages"),
            _ => format!("{objects} objects, {pages} log pages"),
        };
        self.progress.set_message(format!(
            "{read}, {}",
            indicatif::HumanBytes(self.fetched.bytes.load(Ordering::Relaxed))
        ));
    }
}

/// The buckets and log groups to read and the question: all a reader
/// thread needs to start the fetching itself.
#[derive(Debug, Clone)]
pub struct TrailPlan {
    pub buckets: Vec<S3Url>,
    pub log_groups: Vec<LogGroupUrl>,
    pub options: TargetOptions,
    pub selection: Selection,
    pub now: DateTime<Utc>,
}

/// Fetching under way; the queue is the report's input.
pub struct Fetching {
    runtime: tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<()>,
    fetched: Arc<Fetched>,
    pub queue: Arriving,
    progress: ProgressBar,
}

/// What the fetching came to, for the report's `skipped` and stderr.
pub struct FetchSummary {
    /// Buckets, folders and log groups that could not be read, each named.
    pub failures: Vec<ListFailure>,
    /// Log groups searched to the end: an empty answer from one is an
    /// answer, not a source with nothing in it.
    pub groups_searched: u64,
    pub digest_files: u64,
    pub not_log_files: u64,
}

/// Starts walking and fetching the plan's buckets, then searching its log
/// groups, after the `local` inputs.
///
/// # Errors
/// The runtime cannot start.
pub fn start(
    plan: TrailPlan,
    local: Vec<Input>,
    threads: usize,
    progress: ProgressBar,
) -> Result<Fetching, String> {
    let TrailPlan {
        buckets: urls,
        log_groups,
        options,
        selection,
        now,
    } = plan;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("kmstop-s3")
        .build()
        .map_err(|e| format!("cannot start: {e}"))?;
    let fetched = Arc::new(Fetched::default());
    // A couple of objects per reader wait, fetched; more would only hold
    // memory while the readers catch up.
    let (tx, rx) = mpsc::channel(threads.max(1) * 2);
    let first_index = local.len();
    let profile = options.profiles.first().cloned();
    let task = runtime.spawn({
        let fetched = Arc::clone(&fetched);
        async move {
            let config = load_config(profile.as_deref(), &options).await;
            let mut buckets = Vec::new();
            for url in urls {
                let reader = match &config {
                    Ok(config) => S3Reader::open(config, &url.bucket).await,
                    Err(e) => Err(e.clone()),
                };
                buckets.push(Bucket { url, reader });
            }
            let next = fetch_all(buckets, &selection, now, first_index, &tx, &fetched).await;
            match config {
                Ok(config) => {
                    let groups = log_groups
                        .into_iter()
                        .map(|url| Group {
                            reader: LogsReader::new(
                                &config,
                                url.identifier(),
                                url.region.as_deref(),
                            ),
                            url,
                        })
                        .collect();
                    fetch_groups(groups, &selection, next, &tx, &fetched).await;
                }
                Err(error) => {
                    for url in log_groups {
                        fetched.fail(ListFailure {
                            address: url.to_string(),
                            error: error.clone(),
                        });
                    }
                }
            }
        }
    });
    let queue = Arriving::new(local, rx, Arc::clone(&fetched), progress.clone());
    Ok(Fetching {
        runtime,
        task,
        fetched,
        queue,
        progress,
    })
}

impl Fetching {
    /// Waits for the fetching to end (the report has read every object).
    pub fn finish(self) -> FetchSummary {
        let Self {
            runtime,
            task,
            fetched,
            queue,
            progress,
        } = self;
        drop(queue);
        let mut failures = fetched.failures();
        if let Err(e) = runtime.block_on(task) {
            failures.push(ListFailure {
                address: "s3".to_owned(),
                error: AwsError::new(ErrorKind::Other, format!("the S3 reader stopped: {e}")),
            });
        }
        progress.finish_and_clear();
        let walk = &fetched.walk;
        FetchSummary {
            failures,
            groups_searched: fetched.groups_searched.load(Ordering::Relaxed),
            digest_files: walk.digest_files.load(std::sync::atomic::Ordering::Relaxed),
            not_log_files: walk
                .not_log_files
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}
