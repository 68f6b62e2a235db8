//! `report --source aws`: sweeps the window in every selected account ×
//! region in parallel, each at its region's pace, and hands the records to
//! the report as in-memory inputs — the same path log files take.

use std::io::IsTerminal;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::live::{accounts, runtime};
use crate::aws::{CloudTrailReader, LookupWindow, TargetOptions};
use crate::feed::SourceId;
use crate::source::files::Input;
use crate::source::lookup::{Pacer, sweep};
use crate::text::escape_control;

/// What a sweep brought: one input per account × region that answered
/// (records oldest first, one per line), and one message per account ×
/// region that failed, naming it and why.
pub struct Swept {
    pub inputs: Vec<Input>,
    pub failed: Vec<String>,
}

/// Sweeps every selected account × region; the message to print when
/// nothing could be swept at all (no credentials, every region failed).
pub fn sweep_inputs(
    options: &TargetOptions,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Swept, String> {
    let rt = runtime().map_err(|e| format!("cannot start: {e}"))?;
    rt.block_on(async {
        let accounts = accounts(options).await?;
        let bars = MultiProgress::with_draw_target(if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let style = ProgressStyle::with_template(
            "{spinner} {prefix}: {pos} events, back to {msg} ({elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let mut tasks = Vec::new();
        for account in &accounts {
            for source in account.sources() {
                let reader = CloudTrailReader::new(&account.config.config, &source.region);
                let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(source.to_string());
                bar.enable_steady_tick(std::time::Duration::from_millis(200));
                let window = LookupWindow {
                    start: since,
                    end: until,
                };
                tasks.push(tokio::spawn(sweep_one(reader, source, window, bar)));
            }
        }
        let mut inputs = Vec::new();
        let mut failed = Vec::new();
        for task in tasks {
            match task.await {
                Ok(Ok(input)) => inputs.push(input),
                Ok(Err(message)) => failed.push(message),
                Err(e) => failed.push(format!("sweep stopped: {e}")),
            }
        }
        if inputs.is_empty() && !failed.is_empty() {
            return Err(failed.join("\n"));
        }
        Ok(Swept { inputs, failed })
    })
}

async fn sweep_one(
    reader: CloudTrailReader,
    source: SourceId,
    window: LookupWindow,
    bar: ProgressBar,
) -> Result<Input, String> {
    let pacer = Pacer::lookup_events();
    let progress = |events: u64, oldest: DateTime<Utc>| {
        bar.set_position(events);
        bar.set_message(oldest.format("%Y-%m-%d %H:%M").to_string());
    };
    let swept = sweep(&reader, &pacer, window, progress)
        .await
        .map_err(|e| format!("{source}: {}", escape_control(&e.to_string())))?;
    bar.finish_with_message(format!(
        "done: {} requests, {} throttled",
        swept.requests, swept.throttles
    ));
    let mut bytes = Vec::with_capacity(swept.records.iter().map(|(_, r)| r.len() + 1).sum());
    for (_, record) in &swept.records {
        // One record per line: a record with a raw newline (never seen,
        // but the string is AWS's) is made one line without changing it.
        bytes.extend(record.bytes().map(|b| if b == b'\n' { b' ' } else { b }));
        bytes.push(b'\n');
    }
    Ok(Input::Memory {
        name: format!("aws:{source}"),
        bytes: Arc::from(bytes),
    })
}
