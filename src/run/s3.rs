//! `--source s3://…` on the command line: which sources are buckets, and
//! the progress line `report` shows while it reads them.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::source::trail_layout::S3Url;

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

/// A progress line on stderr when it is a terminal.
pub fn progress_bar() -> ProgressBar {
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
