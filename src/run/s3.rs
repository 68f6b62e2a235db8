//! `--source s3://…` and `--source logs://…` on the command line: which
//! sources are buckets or log groups, and the progress line `report` shows
//! while it reads them.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::source::log_group::LogGroupUrl;
use crate::source::trail_layout::S3Url;

/// `--source` values sorted by where they are.
#[derive(Debug, Default)]
pub struct Sources {
    pub buckets: Vec<S3Url>,
    pub log_groups: Vec<LogGroupUrl>,
    pub paths: Vec<std::path::PathBuf>,
}

impl Sources {
    /// Whether any source is in AWS (and `--account` can choose in it).
    pub fn has_remote(&self) -> bool {
        !self.buckets.is_empty() || !self.log_groups.is_empty()
    }
}

/// The `--source` values that name S3 or CloudWatch Logs, parsed; the
/// rest stay paths.
///
/// # Errors
/// An `s3://` or `logs://` value that is not an address, for the usage
/// error.
pub fn split_sources(sources: &[std::path::PathBuf]) -> Result<Sources, String> {
    let mut split = Sources::default();
    for source in sources {
        let text = source.to_str().unwrap_or_default();
        if text.starts_with("s3://") {
            let url = S3Url::parse(text).map_err(|e| format!("--source {e}"))?;
            split.buckets.push(url);
        } else if text.starts_with("logs://") {
            let url = LogGroupUrl::parse(text).map_err(|e| format!("--source {e}"))?;
            split.log_groups.push(url);
        } else {
            split.paths.push(source.clone());
        }
    }
    Ok(split)
}

/// A progress line on stderr when it is a terminal.
pub fn progress_bar() -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let style = ProgressStyle::with_template(
        "{spinner} trail: {msg}, {human_pos} events ({per_sec}) {elapsed}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar = ProgressBar::with_draw_target(None, target).with_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
