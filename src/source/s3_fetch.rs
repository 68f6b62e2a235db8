//! A trail's objects as inputs of the one file scanner: walked, fetched a
//! few at a time in delivery order, and handed to the reader threads
//! through a short queue — so memory holds a few objects, whatever the
//! bucket holds, and a slow reader holds the fetching back.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use indicatif::ProgressBar;
use tokio::sync::mpsc;

use super::decode::MAX_INFLATED;
use super::files::{Input, InputQueue};
use super::s3_walk::{WalkStats, Walker, batches};
use super::trail_layout::{S3Url, Selection};
use crate::aws::{AwsError, S3Reader};

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
    pub failures: Mutex<Vec<String>>,
    pub objects: AtomicU64,
    pub bytes: AtomicU64,
    pub events: AtomicU64,
}

impl Fetched {
    fn fail(&self, message: String) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(message);
    }

    /// The failures, for the report and stderr.
    pub fn failures(&self) -> Vec<String> {
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
    selection: Selection,
    now: DateTime<Utc>,
    first_index: usize,
    tx: mpsc::Sender<(usize, Input)>,
    fetched: Arc<Fetched>,
) {
    let mut index = first_index;
    for bucket in buckets {
        let reader = match bucket.reader {
            Ok(reader) => reader,
            Err(e) => {
                fetched.fail(format!("{}: {e}", bucket.url));
                continue;
            }
        };
        let walker = Walker {
            reader: &reader,
            url: &bucket.url,
            selection: &selection,
            stats: &fetched.walk,
        };
        let (leaves, failures) = walker.leaves().await;
        for failure in failures {
            fetched.fail(failure.to_string());
        }
        for batch in batches(&leaves, &selection, now) {
            let (objects, failures) = walker.batch(&leaves, batch).await;
            for failure in failures {
                fetched.fail(failure.to_string());
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
                    return;
                }
                index += 1;
            }
        }
    }
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
        self.progress.set_message(format!(
            "{} objects, {}",
            self.fetched.objects.load(Ordering::Relaxed),
            indicatif::HumanBytes(self.fetched.bytes.load(Ordering::Relaxed))
        ));
    }
}
