//! Where alerts go besides the screen: a JSON-lines log, and a command run
//! with the alert on its standard input.
//!
//! Neither may slow ingest down: the log is a buffered append, and the
//! command runs on its own thread behind a small queue; when the queue is
//! full, or the command is called more often than its rate allows, the
//! alert is dropped from the hook (never from the log) and counted.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::{self, JoinHandle};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use wait_timeout::ChildExt;

use crate::alert::Alert;

/// One line of the alerts log: when kmstop saw the change, and the alert.
#[derive(Serialize)]
struct LogLine<'a> {
    seen: DateTime<Utc>,
    #[serde(flatten)]
    alert: &'a Alert,
}

/// Appends each alert change to a file as one JSON object per line.
pub struct AlertLog {
    path: PathBuf,
    out: BufWriter<File>,
}

impl AlertLog {
    /// # Errors
    /// The file cannot be opened for appending.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::new(file),
        })
    }

    /// # Errors
    /// Writing failed (disk full, file gone).
    pub fn write(&mut self, alert: &Alert, now: DateTime<Utc>) -> io::Result<()> {
        crate::text::json::to_writer(&mut self.out, &LogLine { seen: now, alert })?;
        self.out.write_all(b"\n")
    }

    /// # Errors
    /// Writing failed.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Limits for the alert command.
#[derive(Debug, Clone, Copy)]
pub struct HookLimits {
    /// At most this many runs per minute of `now`.
    pub per_minute: u32,
    /// A run taking longer is killed.
    pub timeout: StdDuration,
    /// Alerts waiting for the command; more are dropped.
    pub queue: usize,
}

impl Default for HookLimits {
    fn default() -> Self {
        Self {
            per_minute: 10,
            timeout: StdDuration::from_secs(10),
            queue: 16,
        }
    }
}

/// What happened to the hook's work, for the status line and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HookStats {
    pub queued: u64,
    pub dropped_rate: u64,
    pub dropped_full: u64,
}

/// Runs `sh -c CMD` for alert changes, the alert JSON on stdin.
pub struct AlertHook {
    sender: Option<SyncSender<String>>,
    worker: Option<JoinHandle<Vec<String>>>,
    limits: HookLimits,
    window_start: Option<DateTime<Utc>>,
    in_window: u32,
    stats: HookStats,
}

impl AlertHook {
    #[must_use]
    pub fn start(command: &str, limits: HookLimits) -> Self {
        let (sender, receiver) = sync_channel(limits.queue.max(1));
        let command = command.to_owned();
        let worker = thread::spawn(move || run_commands(&command, &receiver, limits.timeout));
        Self {
            sender: Some(sender),
            worker: Some(worker),
            limits,
            window_start: None,
            in_window: 0,
            stats: HookStats::default(),
        }
    }

    /// Queues the alert for the command, unless over the rate or the queue
    /// is full. Never waits.
    pub fn send(&mut self, alert: &Alert, now: DateTime<Utc>) {
        if self
            .window_start
            .is_none_or(|s| now - s >= Duration::minutes(1))
        {
            self.window_start = Some(now);
            self.in_window = 0;
        }
        if self.in_window >= self.limits.per_minute {
            self.stats.dropped_rate += 1;
            return;
        }
        let mut json = Vec::new();
        if crate::text::json::to_writer(&mut json, alert).is_err() {
            return;
        }
        let Ok(json) = String::from_utf8(json) else {
            return;
        };
        match self.sender.as_ref().map(|s| s.try_send(json)) {
            Some(Ok(())) => {
                self.in_window += 1;
                self.stats.queued += 1;
            }
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => {
                self.stats.dropped_full += 1;
            }
        }
    }

    #[must_use]
    pub fn stats(&self) -> HookStats {
        self.stats
    }

    /// Waits for queued runs to finish (each bounded by the timeout) and
    /// returns the problems they had, one line each.
    #[must_use]
    pub fn finish(mut self) -> Vec<String> {
        self.sender.take();
        self.worker
            .take()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec!["alert command thread panicked".to_owned()])
            })
            .unwrap_or_default()
    }
}

fn run_commands(command: &str, alerts: &Receiver<String>, timeout: StdDuration) -> Vec<String> {
    let mut problems = Vec::new();
    for json in alerts {
        if let Err(e) = run_once(command, &json, timeout) {
            problems.push(format!("--on-alert {command:?}: {e}"));
        }
    }
    problems
}

fn run_once(command: &str, json: &str, timeout: StdDuration) -> io::Result<()> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Its own process group, so a timeout kills what `sh` started too,
    // not only `sh` (a `curl` left behind would outlive kmstop).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is not an error.
        let _ = stdin.write_all(json.as_bytes());
        let _ = stdin.write_all(b"\n");
    }
    match child.wait_timeout(timeout)? {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(io::Error::other(format!("exited with {status}"))),
        None => {
            kill_group(&mut child)?;
            child.wait()?;
            Err(io::Error::other(format!(
                "killed after {} s",
                timeout.as_secs()
            )))
        }
    }
}

/// Kills the command and every process of its group.
fn kill_group(child: &mut std::process::Child) -> io::Result<()> {
    // kill(1) with a negative pid signals the group the child leads (made
    // by `process_group(0)`); the crate forbids the unsafe libc call.
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if killed.is_ok_and(|s| s.success()) {
            return Ok(());
        }
    }
    child.kill()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertState, Severity};
    use chrono::TimeZone;

    fn alert(n: u64) -> Alert {
        let t = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        Alert {
            rule: "r".into(),
            title: "t".into(),
            severity: Severity::High,
            group: format!("principal=p{n}"),
            state: AlertState::Firing,
            count: n,
            first: t,
            last: t,
            sample_event_ids: vec![],
            acked: false,
            silenced_until: None,
            references: vec![],
        }
    }

    #[test]
    fn log_appends_one_json_object_per_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        let now = alert(0).first;
        for round in 0..2 {
            let mut log = AlertLog::open(&path).expect("open");
            log.write(&alert(round), now).expect("write");
            log.flush().expect("flush");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["group"], "principal=p1");
        assert_eq!(lines[0]["state"], "firing");
    }

    #[test]
    fn hook_gets_the_alert_and_is_rate_limited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("got");
        let command = format!("cat >> '{}'", out.display());
        let limits = HookLimits {
            per_minute: 2,
            ..HookLimits::default()
        };
        let mut hook = AlertHook::start(&command, limits);
        let now = alert(0).first;
        for n in 0..5 {
            hook.send(&alert(n), now);
        }
        let stats = hook.stats();
        assert_eq!((stats.queued, stats.dropped_rate), (2, 3));
        assert!(hook.finish().is_empty());
        let got = std::fs::read_to_string(&out).expect("command ran");
        assert_eq!(got.lines().count(), 2);
        assert!(got.contains("principal=p0") && got.contains("principal=p1"));
    }

    #[test]
    fn a_hung_command_is_killed_and_reported() {
        let limits = HookLimits {
            timeout: StdDuration::from_millis(200),
            ..HookLimits::default()
        };
        let mut hook = AlertHook::start("sleep 30", limits);
        hook.send(&alert(1), alert(1).first);
        let problems = hook.finish();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("killed"), "{problems:?}");
    }

    #[test]
    fn a_timeout_kills_what_the_command_started_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("survived");
        let limits = HookLimits {
            timeout: StdDuration::from_millis(300),
            ..HookLimits::default()
        };
        // A child of sh that would write the marker after 2 s unless killed.
        let command = format!("(sleep 2; touch {}) & wait", marker.display());
        let mut hook = AlertHook::start(&command, limits);
        hook.send(&alert(1), alert(1).first);
        let problems = hook.finish();
        assert!(problems[0].contains("killed"), "{problems:?}");
        std::thread::sleep(StdDuration::from_secs(3));
        assert!(!marker.exists(), "the command's child outlived the timeout");
    }
}
