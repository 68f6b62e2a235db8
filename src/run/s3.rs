//! `report --source s3://…`: the trail's buckets walked and fetched on a
//! runtime of their own while the report's reader threads take the
//! objects, with a progress line on stderr when it is a terminal.

use std::io::IsTerminal;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use super::live::runtime;
use crate::aws::{S3Reader, TargetOptions, load_config};
use crate::source::files::Input;
use crate::source::s3_fetch::{Arriving, Bucket, Fetched, fetch_all};
use crate::source::trail_layout::{S3Url, Selection};
use crate::text::escape_control;

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
    /// Buckets and folders that could not be listed, each named.
    pub failures: Vec<String>,
    pub digest_files: u64,
    pub not_log_files: u64,
}

/// The `--source` values that name S3, parsed; the rest stay paths.
///
/// # Errors
/// An `s3://` value that is not a bucket address, for the usage error.
pub fn split_sources(
    sources: &[std::path::PathBuf],
) -> Result<(Vec<S3Url>, Vec<std::path::PathBuf>), String> {
    let mut urls = Vec::new();
    let mut paths = Vec::new();
    for source in sources {
        match source.to_str().filter(|s| s.starts_with("s3://")) {
            Some(text) => urls.push(S3Url::parse(text).map_err(|e| format!("--source {e}"))?),
            None => paths.push(source.clone()),
        }
    }
    Ok((urls, paths))
}

/// Starts walking and fetching `urls` after the `local` inputs.
///
/// # Errors
/// The runtime cannot start.
pub fn start(
    urls: Vec<S3Url>,
    local: Vec<Input>,
    options: &TargetOptions,
    selection: Selection,
    now: DateTime<Utc>,
    threads: usize,
) -> Result<Fetching, String> {
    let runtime = runtime().map_err(|e| format!("cannot start: {e}"))?;
    let fetched = Arc::new(Fetched::default());
    // A couple of objects per reader wait, fetched; more would only hold
    // memory while the readers catch up.
    let (tx, rx) = mpsc::channel(threads.max(1) * 2);
    let first_index = local.len();
    let profile = options.profiles.first().cloned();
    let options = options.clone();
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
            fetch_all(buckets, selection, now, first_index, tx, fetched).await;
        }
    });
    let progress = progress_bar();
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
            failures.push(format!("the S3 reader stopped: {e}"));
        }
        progress.finish_and_clear();
        let walk = &fetched.walk;
        FetchSummary {
            failures: failures
                .iter()
                .map(|f| escape_control(f).into_owned())
                .collect(),
            digest_files: walk.digest_files.load(std::sync::atomic::Ordering::Relaxed),
            not_log_files: walk
                .not_log_files
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

fn progress_bar() -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let style = ProgressStyle::with_template(
        "{spinner} s3: {msg}, {human_pos} events ({per_sec}) {elapsed}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar = ProgressBar::with_draw_target(None, target).with_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
