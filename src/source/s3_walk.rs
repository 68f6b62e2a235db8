//! Lists what a question needs of a trail's bucket: first the account ×
//! region folders (named by the selection where it can, listed one level
//! at a time where it cannot), then their files a delivery day at a time,
//! so the files come in delivery order and only one day's listing is held.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::trail_layout::{
    self, Folder, S3Url, Selection, Verdict, child, day_prefix, known_children, listing_prefix,
    start_after, verdict,
};
use crate::aws::{AwsError, ListRequest, ListedObject, S3Reader};

/// Listings in flight at once: S3 answers each in tens of milliseconds,
/// and an organization has hundreds of account × region folders.
const LISTINGS_IN_FLIGHT: usize = 16;

/// A folder whose files are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    /// `…/CloudTrail/REGION/`: listed a day at a time.
    Region(String),
    /// Anything else: listed whole.
    Everything(String),
}

/// What a walk found besides files: counts for the report, and the
/// folders it could not list (each a message naming it).
#[derive(Debug, Default)]
pub struct WalkStats {
    pub requests: AtomicU64,
    pub digest_files: AtomicU64,
    pub not_log_files: AtomicU64,
}

/// A failed listing, by its `s3://` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFailure {
    pub address: String,
    pub error: AwsError,
}

impl std::fmt::Display for ListFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.address, self.error)
    }
}

/// One bucket's walk.
pub struct Walker<'a> {
    pub reader: &'a S3Reader,
    pub url: &'a S3Url,
    pub selection: &'a Selection,
    pub stats: &'a WalkStats,
}

impl Walker<'_> {
    /// The leaves under the address, and the folders that failed.
    pub async fn leaves(&self) -> (Vec<Leaf>, Vec<ListFailure>) {
        let mut leaves = Vec::new();
        let mut failures = Vec::new();
        let mut pending = VecDeque::from([Folder::of_prefix(&self.url.prefix)]);
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < LISTINGS_IN_FLIGHT
                && let Some(folder) = pending.pop_front()
            {
                match folder {
                    Folder::Region(p) => leaves.push(Leaf::Region(p)),
                    Folder::Everything(p) => leaves.push(Leaf::Everything(p)),
                    folder => match known_children(&folder, self.selection) {
                        Some(children) => pending.extend(children),
                        None => running.push(self.children(folder)),
                    },
                }
            }
            let Some((parent, listed)) = running.next().await else {
                break;
            };
            match listed {
                Ok(prefixes) => {
                    let children: Vec<Folder> = prefixes
                        .iter()
                        .filter_map(|p| child(&parent, p, self.selection))
                        .collect();
                    if let (Folder::Above(p), true) = (&parent, children.is_empty()) {
                        // No AWSLogs/ under it: a plain folder of logs.
                        leaves.push(Leaf::Everything(p.clone()));
                    }
                    pending.extend(children);
                }
                Err(error) => failures.push(ListFailure {
                    address: self.url.object(&listing_prefix(&parent)),
                    error,
                }),
            }
        }
        leaves.sort_by(|a, b| leaf_prefix(a).cmp(leaf_prefix(b)));
        (leaves, failures)
    }

    async fn children(&self, folder: Folder) -> (Folder, Result<Vec<String>, AwsError>) {
        let prefix = listing_prefix(&folder);
        let listed = self.list(&prefix, true, None).await.map(|(_, p)| p);
        (folder, listed)
    }

    /// The files to read of one batch, in delivery order, with the
    /// folders that failed.
    pub async fn batch(
        &self,
        leaves: &[Leaf],
        batch: &Batch,
    ) -> (Vec<ListedObject>, Vec<ListFailure>) {
        let mut listings = FuturesUnordered::new();
        let mut objects = Vec::new();
        let mut failures = Vec::new();
        let days: &[NaiveDate] = match batch {
            Batch::Days(days) => days,
            Batch::Others | Batch::All => &[],
        };
        let mut queue = leaves.iter().flat_map(|leaf| {
            let listings: Vec<(String, Option<String>)> = match (leaf, batch) {
                (Leaf::Region(region), Batch::Days(_)) => days
                    .iter()
                    .map(|day| {
                        (
                            day_prefix(region, *day),
                            start_after(region, *day, self.selection),
                        )
                    })
                    .collect(),
                (Leaf::Region(p), Batch::All)
                | (Leaf::Everything(p), Batch::All | Batch::Others) => vec![(p.clone(), None)],
                (Leaf::Everything(_), Batch::Days(_)) | (Leaf::Region(_), Batch::Others) => {
                    Vec::new()
                }
            };
            listings
        });
        loop {
            while listings.len() < LISTINGS_IN_FLIGHT
                && let Some((prefix, after)) = queue.next()
            {
                listings.push(async move {
                    let listed = self.list(&prefix, false, after.as_deref()).await;
                    (prefix, listed)
                });
            }
            let Some((prefix, listed)) = listings.next().await else {
                break;
            };
            match listed {
                Ok((found, _)) => objects.extend(found.into_iter().filter(|o| self.wanted(o))),
                Err(error) => failures.push(ListFailure {
                    address: self.url.object(&prefix),
                    error,
                }),
            }
        }
        objects.sort_by_cached_key(|o| delivery_key(&o.key));
        (objects, failures)
    }

    fn wanted(&self, object: &ListedObject) -> bool {
        let counter = match verdict(&object.key, self.selection) {
            Verdict::Read => return true,
            Verdict::Unwanted => return false,
            Verdict::Digest => &self.stats.digest_files,
            Verdict::NotALog => &self.stats.not_log_files,
        };
        // A "folder" the console made is neither.
        if !object.key.ends_with('/') {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        false
    }

    /// Every page of one listing, each request counted.
    async fn list(
        &self,
        prefix: &str,
        delimited: bool,
        after: Option<&str>,
    ) -> Result<(Vec<ListedObject>, Vec<String>), AwsError> {
        let request = ListRequest {
            prefix,
            delimited,
            start_after: after,
            continuation: None,
        };
        let page = self
            .reader
            .list_all(request, || {
                self.stats.requests.fetch_add(1, Ordering::Relaxed);
            })
            .await?;
        Ok((page.objects, page.common_prefixes))
    }
}

/// A part of a walk, listed and read before the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// A few delivery days of every region folder: enough listings to
    /// keep [`LISTINGS_IN_FLIGHT`] busy, so a long window over few
    /// folders is not listed one request at a time.
    Days(Vec<NaiveDate>),
    /// The folders outside the layout, whole.
    Others,
    /// Every folder, whole (no `--since`: the question is everything).
    All,
}

/// The batches of a walk: each delivery day in turn, then the folders
/// outside the layout.
pub fn batches(leaves: &[Leaf], selection: &Selection, now: DateTime<Utc>) -> Vec<Batch> {
    let Some(days) = trail_layout::days(selection, now) else {
        return vec![Batch::All];
    };
    let mut batches = Vec::new();
    let regions = leaves
        .iter()
        .filter(|l| matches!(l, Leaf::Region(_)))
        .count();
    if regions > 0 {
        let per_batch = LISTINGS_IN_FLIGHT.div_ceil(regions);
        batches.extend(days.chunks(per_batch).map(|d| Batch::Days(d.to_vec())));
    }
    if leaves.iter().any(|l| matches!(l, Leaf::Everything(_))) {
        batches.push(Batch::Others);
    }
    batches
}

fn leaf_prefix(leaf: &Leaf) -> &str {
    match leaf {
        Leaf::Region(p) | Leaf::Everything(p) => p,
    }
}

/// Delivery order: by the stamp in the file name, then the key.
fn delivery_key(key: &str) -> (Option<DateTime<Utc>>, String) {
    let name = key.rsplit('/').next().unwrap_or_default();
    (
        trail_layout::TrailFileName::parse(name).map(|f| f.stamp),
        key.to_string(),
    )
}

#[cfg(test)]
#[path = "s3_walk_tests.rs"]
mod tests;
