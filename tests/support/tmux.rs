//! A private tmux server at a fixed size for end-to-end tests: every wait
//! polls `capture-pane` for the state it needs, with a generous deadline;
//! nothing sleeps blindly and nothing waits on how soon a state comes.
//! Without tmux a test fails, saying so: it is not skipped.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long any state may take to appear. Minutes, on purpose: CI is 2
/// cores shared with a build, and a test here asserts *what* the screen
/// shows, never how fast (latency targets live in `bench/`). A passing
/// test never waits this long; only a failing one does.
pub const DEADLINE: Duration = Duration::from_mins(3);

pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn new(tag: &str) -> Self {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "tmux is required for the end-to-end test (apt-get install tmux); it was not found"
        );
        Self {
            socket: format!("kmstop-e2e-{tag}-{}", std::process::id()),
        }
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts session `s` at `width` × `height` running `cmd` (through
    /// `sh -c`), kept on screen after it exits.
    pub fn start(&self, width: u16, height: u16, cmd: &str) {
        let (w, h) = (width.to_string(), height.to_string());
        self.run(&["new-session", "-d", "-s", "s", "-x", &w, "-y", &h, cmd]);
        self.run(&["set-option", "-t", "s", "remain-on-exit", "on"]);
    }

    pub fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "s"])
    }

    pub fn display(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "s", format])
            .trim()
            .to_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "s"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Polls the screen until `ok` holds; panics with the screen if not.
    pub fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait_until(what, now() + DEADLINE, ok)
    }

    /// Polls the screen until `ok` holds, up to `deadline`; panics with
    /// the screen if not.
    pub fn wait_until(&self, what: &str, deadline: Instant, ok: impl Fn(&str) -> bool) -> String {
        loop {
            let screen = self.capture();
            if ok(&screen) {
                return screen;
            }
            assert!(
                now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The screen with its colours and attributes as SGR sequences.
    pub fn capture_escaped(&self) -> String {
        self.run(&["capture-pane", "-p", "-e", "-t", "s"])
    }

    pub fn wait_for(&self, sentinel: &str) -> String {
        self.wait(sentinel, |s| s.contains(sentinel))
    }

    /// The exit status the test's shell wrote to `path` once kmstop ended.
    pub fn wait_file(&self, path: &Path) -> String {
        let deadline = now() + DEADLINE;
        loop {
            if let Ok(text) = std::fs::read_to_string(path)
                && text.ends_with('\n')
            {
                return text.trim().to_owned();
            }
            assert!(
                now() < deadline,
                "kmstop did not exit; screen:\n{}",
                self.capture()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Real time, for deadlines.
#[allow(clippy::disallowed_methods)] // a deadline is about real time
pub fn now() -> Instant {
    Instant::now()
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
