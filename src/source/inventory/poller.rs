//! Keeping one account × region's inventory fresh: a full read on an
//! interval, and single keys re-read as soon as an event says they
//! changed. Results go out as [`SourceMsg::Keys`] over the bounded
//! channel every live source shares.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::fetch::{LastUsageCache, fetch_key, fetch_region};
use crate::aws::KmsReader;
use crate::clock::Clock;
use crate::feed::{SourceId, SourceMsg};
use crate::source::outbox::Outbox;

/// How often the whole region is read again.
pub const DEFAULT_INTERVAL: Duration = Duration::from_mins(5);
/// After a failed full read (e.g. `ListKeys` denied or unreachable), the
/// next try comes sooner than the interval, but not in a tight loop.
const RETRY_AFTER_FAILURE: Duration = Duration::from_mins(1);
/// One-key requests waiting; more are dropped (the next full read catches
/// the key up), so a burst of events cannot grow memory.
const REQUEST_QUEUE: usize = 256;

/// Event names after which a key's facts are stale: state, rotation,
/// policy, aliases, description, material, or a new key.
pub fn changes_key(event_name: &str) -> bool {
    matches!(
        event_name,
        "CreateKey"
            | "ScheduleKeyDeletion"
            | "CancelKeyDeletion"
            | "DisableKey"
            | "EnableKey"
            | "EnableKeyRotation"
            | "DisableKeyRotation"
            | "RotateKeyOnDemand"
            | "PutKeyPolicy"
            | "CreateAlias"
            | "UpdateAlias"
            | "DeleteAlias"
            | "UpdateKeyDescription"
            | "ImportKeyMaterial"
            | "DeleteImportedKeyMaterial"
    )
}

/// Asks a running poller to re-read single keys.
#[derive(Debug, Clone)]
pub struct InventoryHandle {
    requests: mpsc::Sender<String>,
}

impl InventoryHandle {
    /// A handle whose requests go to `requests` (tests of its callers).
    #[cfg(test)]
    pub(crate) fn over(requests: mpsc::Sender<String>) -> Self {
        Self { requests }
    }

    /// Re-reads the key `id` (a key id or ARN) soon. False when the queue
    /// is full or the poller has stopped: the next full read still
    /// brings the key up to date.
    pub fn refresh_key(&self, id: &str) -> bool {
        self.requests.try_send(id.to_string()).is_ok()
    }
}

/// Starts the poller on the current tokio runtime. It reads the region at
/// once, then every `interval`; it stops when `out` is closed.
pub fn spawn(
    reader: KmsReader,
    source: SourceId,
    interval: Duration,
    clock: Arc<dyn Clock>,
    out: impl Into<Outbox>,
) -> (InventoryHandle, JoinHandle<()>) {
    let out = out.into();
    let (tx, rx) = mpsc::channel(REQUEST_QUEUE);
    let task = tokio::spawn(run(reader, source, interval, clock, out, rx));
    (InventoryHandle { requests: tx }, task)
}

async fn run(
    reader: KmsReader,
    source: SourceId,
    interval: Duration,
    clock: Arc<dyn Clock>,
    out: Outbox,
    mut requests: mpsc::Receiver<String>,
) {
    let mut cache = LastUsageCache::default();
    let mut requests_open = true;
    loop {
        let delay = match fetch_region(&reader, &source, &mut cache, clock.now()).await {
            Ok(inventory) => {
                for p in &inventory.problems {
                    tracing::warn!(source = %source, "{p}");
                }
                let update = SourceMsg::Keys {
                    source: source.clone(),
                    keys: inventory.keys,
                    complete: true,
                };
                if !out.send(update).await {
                    return;
                }
                interval
            }
            Err(e) => {
                tracing::warn!(source = %source, "key inventory: ListKeys: {e}");
                RETRY_AFTER_FAILURE.min(interval)
            }
        };
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                () = out.closed() => return,
                request = requests.recv(), if requests_open => {
                    let Some(first) = request else {
                        // Every handle is gone: only the interval remains.
                        requests_open = false;
                        continue;
                    };
                    let ids = drain_distinct(first, &mut requests);
                    for id in ids {
                        if !refresh_one(&reader, &source, &id, &mut cache, clock.as_ref(), &out).await {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// The first request and every other one already queued, each key once:
/// a burst of events on one key costs one read.
fn drain_distinct(first: String, requests: &mut mpsc::Receiver<String>) -> Vec<String> {
    let mut ids = vec![first];
    while let Ok(more) = requests.try_recv() {
        if !ids.contains(&more) {
            ids.push(more);
        }
    }
    ids
}

/// Re-reads one key and sends it; false when `out` is closed.
async fn refresh_one(
    reader: &KmsReader,
    source: &SourceId,
    id: &str,
    cache: &mut LastUsageCache,
    clock: &dyn Clock,
    out: &Outbox,
) -> bool {
    match fetch_key(reader, source, id, cache, clock.now()).await {
        Ok(Some((facts, problems))) => {
            for p in &problems {
                tracing::warn!(source = %source, "{p}");
            }
            let update = SourceMsg::Keys {
                source: source.clone(),
                keys: vec![facts],
                complete: false,
            };
            out.send(update).await
        }
        // Deleted since: the next full read drops it.
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(source = %source, "key inventory: DescribeKey {id}: {e}");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changing_events_are_recognised_and_reads_are_not() {
        for name in [
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
            "DisableKey",
            "EnableKey",
            "EnableKeyRotation",
            "DisableKeyRotation",
            "PutKeyPolicy",
            "CreateAlias",
            "UpdateAlias",
            "DeleteAlias",
            "RotateKeyOnDemand",
            "UpdateKeyDescription",
            "CreateKey",
        ] {
            assert!(changes_key(name), "{name}");
        }
        for name in [
            "Decrypt",
            "DescribeKey",
            "ListKeys",
            "GenerateDataKey",
            "disablekey",
        ] {
            assert!(!changes_key(name), "{name}");
        }
    }

    #[tokio::test]
    async fn queued_requests_for_one_key_cost_one_read() {
        let (tx, mut rx) = mpsc::channel(8);
        for id in ["b", "a", "b", "c", "a"] {
            tx.try_send(id.to_string()).expect("room");
        }
        let first = rx.recv().await.expect("queued");
        assert_eq!(drain_distinct(first, &mut rx), ["b", "a", "c"]);
    }
}
