//! The dashboard in a real terminal: tmux on a private server at a fixed
//! size, the built binary on a log directory with hostile strings. Every
//! wait polls `capture-pane` for a sentinel with a deadline; nothing
//! sleeps blindly. Without tmux this fails, saying so: it is not skipped.

use crate::support;

use support::tmux::Tmux;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CloudTrail log directory with the fixture story in it.
fn logs(dir: &Path) -> PathBuf {
    let root = dir.join("AWSLogs/111122223333/CloudTrail/us-east-1/2025/05/20");
    std::fs::create_dir_all(&root).expect("log dir");
    let records = support::records();
    let (a, b) = records.split_at(records.len() / 2);
    for (name, part) in [("1000Z_a", a), ("1100Z_b", b)] {
        let file = root.join(format!(
            "111122223333_CloudTrail_us-east-1_20250520T{name}.json"
        ));
        let body = serde_json::json!({ "Records": part });
        std::fs::write(file, body.to_string()).expect("log file");
    }
    dir.join("AWSLogs")
}

fn start(tmux: &Tmux, dir: &Path, env: &str) -> PathBuf {
    let exit = dir.join("exit");
    let bin = env!("CARGO_BIN_EXE_kmstop");
    let cmd = format!(
        "cd {dir} && {env} KMSTOP_CONFIG_DIR={dir}/config {bin} --source {logs} --log {dir}/kmstop.log; echo $? > {exit}",
        dir = dir.display(),
        logs = logs(dir).display(),
        exit = exit.display(),
    );
    tmux.start(120, 40, &cmd);
    exit
}

#[test]
fn a_session_from_start_to_quit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux::new("session");
    let exit = start(&tmux, dir.path(), "");
    let title = tmux.display("#{pane_title}");
    tmux.wait_for("file(s) read");
    tmux.wait_for("┏ Principals");
    for (key, title) in [
        ("2", "┏ Denied"),
        ("3", "┏ Keys"),
        ("4", "┏ Alerts"),
        ("5", "┏ Events"),
        ("1", "┏ Principals"),
    ] {
        tmux.keys(&[key]);
        tmux.wait_for(title);
    }
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "1",
        "the dashboard uses the alternate screen"
    );
    // Filter the events to the hostile caller and open one as JSON.
    tmux.keys(&["5", "/"]);
    tmux.wait_for("filter (regex");
    tmux.keys(&["-l", "curl"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("/curl/");
    tmux.keys(&["Enter"]);
    // Wait for the whole view, not its first lines: under load the
    // terminal may be captured mid-draw.
    let json = tmux.wait("the event JSON with the user agent", |s| {
        s.contains("\"eventSource\"") && s.contains("pwned")
    });
    // The OSC is shown, escaped, not obeyed; the bidi override too.
    assert!(json.contains("pwned"), "{json}");
    assert!(
        json.contains("\\u{202e}") || json.contains("\\u202e"),
        "{json}"
    );
    assert_eq!(
        tmux.display("#{pane_title}"),
        title,
        "an event retitled the window"
    );
    // Back out, drill from a principal, help, resize.
    tmux.keys(&["Escape"]);
    tmux.wait_for("┏ Events");
    tmux.keys(&["1", "Enter"]);
    tmux.wait_for("Encryption contexts");
    // Esc alone: Esc and a key in one write read as Alt+key.
    tmux.keys(&["Escape"]);
    tmux.wait_for("┏ Principals");
    tmux.keys(&["?"]);
    tmux.wait_for("any key closes");
    // Any key: Space too, which is bound to nothing.
    tmux.keys(&["Space"]);
    tmux.wait("help to close on Space", |s| !s.contains("any key closes"));
    tmux.run(&["resize-window", "-t", "s", "-x", "80", "-y", "24"]);
    tmux.wait("an 80x24 frame", |s| {
        s.lines().count() <= 24
            && s.contains("┏ Principals")
            && s.lines()
                .any(|l| l.chars().count() == 80 && l.ends_with('┓'))
    });
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_file(&exit), "0");
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "the alternate screen was left"
    );
    assert_eq!(tmux.display("#{pane_title}"), title);
    let log = std::fs::read_to_string(dir.path().join("kmstop.log")).unwrap_or_default();
    assert!(log.contains("read 2 file(s)"), "log: {log}");
}

#[test]
fn a_panic_still_restores_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux::new("panic");
    let exit = start(&tmux, dir.path(), "KMSTOP_TEST_PANIC_KEY=!");
    tmux.wait_for("┏ Principals");
    assert_eq!(tmux.display("#{alternate_on}"), "1");
    tmux.keys(&["!"]);
    assert_eq!(
        tmux.wait_file(&exit),
        "101",
        "a panic exits with Rust's panic status"
    );
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    // The panic message is printed on the normal screen, after restoring.
    tmux.wait_for("panic key pressed");
}

#[test]
fn sigterm_restores_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux::new("term");
    let exit = start(&tmux, dir.path(), "");
    tmux.wait_for("┏ Principals");
    // kmstop is the only child of the pane's shell.
    let shell = tmux.display("#{pane_pid}");
    let child = Command::new("pgrep")
        .args(["-P", &shell])
        .output()
        .expect("pgrep runs");
    let pid = String::from_utf8_lossy(&child.stdout).trim().to_owned();
    assert!(
        !pid.is_empty() && !pid.contains('\n'),
        "kmstop's pid: {pid:?}"
    );
    let out = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(out.success(), "kmstop process not found");
    assert_eq!(tmux.wait_file(&exit), "0");
    assert_eq!(tmux.display("#{alternate_on}"), "0");
}

/// Issue 11: the file dashboard over the shipped fixtures (2014 to 2023)
/// counts all 76 events `report` counts, not the last 400 days' 16, and
/// says how wide its buckets had to become; `e` exports into the export
/// directory.
#[test]
fn file_mode_shows_the_whole_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux::new("whole-range");
    let exit = dir.path().join("exit");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail");
    let report = Command::new(env!("CARGO_BIN_EXE_kmstop"))
        .args(["report", "--format", "json", "--source"])
        .arg(&fixtures)
        .output()
        .expect("report runs");
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).expect("report JSON");
    let events = report["events"].as_u64().expect("events");
    let cmd = format!(
        "cd {dir} && KMSTOP_CONFIG_DIR={dir}/config {bin} --source {logs} --export-dir {dir}/exports; echo $? > {exit}",
        dir = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_kmstop"),
        logs = fixtures.display(),
        exit = exit.display(),
    );
    tmux.start(160, 40, &cmd);
    let screen = tmux.wait("every file read", |s| s.contains("file(s) read"));
    assert!(
        screen.contains(&format!("events {events} ")),
        "report counts {events}: {screen}"
    );
    // The fixtures span years: more than 20,160 one-hour buckets.
    assert!(screen.contains("per 6 h"), "{screen}");
    // `e` exports into the export directory, never the current one.
    tmux.keys(&["e"]);
    tmux.wait_for("exported to");
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_file(&exit), "0");
    let exported: Vec<_> = std::fs::read_dir(dir.path().join("exports"))
        .expect("the export directory was made")
        .collect();
    assert_eq!(exported.len(), 1, "{exported:?}");
    let stray = std::fs::read_dir(dir.path())
        .expect("cwd")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("kmstop-"));
    assert!(!stray, "an export landed in the current directory");
}

/// Issue 12: a record dated 9999 (or 1970) is set aside, said so, and never
/// becomes file mode's "now": the view ends at the newest real event.
#[test]
fn forged_event_times_never_become_now() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux::new("forged-time");
    let exit = dir.path().join("exit");
    let input =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile_cases/forged-event-times");
    let cmd = format!(
        "cd {dir} && KMSTOP_CONFIG_DIR={dir}/config {bin} --source {input}/input.json; echo $? > {exit}",
        dir = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_kmstop"),
        input = input.display(),
        exit = exit.display(),
    );
    tmux.start(160, 40, &cmd);
    let screen = tmux.wait("the file read", |s| s.contains("file(s) read"));
    assert!(screen.contains("events 3 "), "{screen}");
    assert!(
        screen.contains("3 impossible time(s) set aside"),
        "{screen}"
    );
    assert!(screen.contains("2025-01-01 00:00:09 UTC"), "{screen}");
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_file(&exit), "0");
}
