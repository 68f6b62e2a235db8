//! `kmstop demo` end to end in tmux, as a newcomer runs it: principals on
//! screen, the spike alert firing, the key pending deletion in the theme's
//! danger colour, `q` exits 0 and leaves the alternate screen. Each state
//! is waited for with a generous deadline, never on the story's timing:
//! how soon the demo shows things is measured in `bench/demo.py`. The demo reads nothing of the user's AWS setup
//! (a broken `~/.aws`, `AWS_PROFILE` and `AWS_ENDPOINT_URL*` pointing at a
//! trap are all ignored), and every request it sent is a read.

use crate::support;

use std::net::TcpListener;
use std::time::Duration;

use kmstop::sim::READ_ONLY_TARGETS;
use kmstop::ui::theme::{Slot, Theme};
use ratatui::style::Color;
use support::tmux::{Tmux, now};

/// The seed the screenshots use too.
const SEED: &str = "7";
/// How long the story may take to reach its incident on a loaded machine
/// (it comes within the first minute at normal speed).
const STORY_DEADLINE: Duration = Duration::from_mins(6);

/// `38;2;R;G;B`: the SGR parameters of a truecolour foreground.
fn foreground(color: Color) -> String {
    match color {
        Color::Rgb(r, g, b) => format!("38;2;{r};{g};{b}"),
        other => panic!("the dark theme's crit slot is not an RGB colour: {other:?}"),
    }
}

/// The SGR parameters in force where `text` starts on `line`, from the
/// last reset on (tmux's `capture-pane -e` output).
fn sgr_before(line: &str, text: &str) -> String {
    let at = line.find(text).expect("text on the line");
    let mut params = Vec::new();
    let mut rest = &line[..at];
    while let Some(start) = rest.find("\x1b[") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('m') else { break };
        let p = &after[..end];
        if p.is_empty() || p == "0" {
            params.clear();
        } else {
            params.push(p.to_owned());
        }
        rest = &after[end + 1..];
    }
    params.join(";")
}

#[test]
fn the_demo_tells_its_story_and_only_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A trap for any call that follows the user's AWS settings.
    let trap = TcpListener::bind("127.0.0.1:0").expect("bind the trap");
    trap.set_nonblocking(true).expect("nonblocking");
    let trap_url = format!("http://{}", trap.local_addr().expect("trap address"));
    std::fs::create_dir_all(dir.path().join(".aws")).expect("mkdir");
    std::fs::write(
        dir.path().join(".aws/config"),
        "[profile broken\nregion = \n",
    )
    .expect("write a broken ~/.aws/config");
    let exit = dir.path().join("exit");
    let requests = dir.path().join("requests.jsonl");
    let cmd = format!(
        "env HOME={dir} KMSTOP_CONFIG_DIR={dir}/config AWS_PROFILE=no-such-profile \
         AWS_REGION=ap-south-1 AWS_ENDPOINT_URL={trap} AWS_ENDPOINT_URL_KMS={trap} \
         AWS_ENDPOINT_URL_CLOUDTRAIL={trap} AWS_ENDPOINT_URL_STS={trap} \
         {bin} demo --seed {SEED} --request-log {requests} --log {dir}/kmstop.log; echo $? > {exit}",
        dir = dir.path().display(),
        trap = trap_url,
        bin = env!("CARGO_BIN_EXE_kmstop"),
        requests = requests.display(),
        exit = exit.display(),
    );
    let tmux = Tmux::new("demo");
    tmux.start(160, 45, &cmd);

    // The header says DEMO; the backfill puts principals on screen.
    tmux.wait("DEMO and principals", |s| {
        s.contains("DEMO") && s.contains("role/orders-api")
    });
    // The compromised role's burst fires the spike alert.
    tmux.wait_until(
        "unauthorized-decrypt-spike FIRING",
        now() + STORY_DEADLINE,
        |s| {
            s.lines()
                .any(|l| l.contains("FIRING") && l.contains("unauthorized-decrypt-spike"))
        },
    );
    // The key pending deletion, in the theme's danger colour.
    tmux.keys(&["3"]);
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "old-reports"]);
    tmux.keys(&["Enter"]);
    tmux.wait("the key pending deletion", |s| {
        s.lines()
            .any(|l| l.contains("old-reports") && l.contains("PendingDel"))
    });
    assert_in_crit_colour(&tmux, "PendingDel", "old-reports");

    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_file(&exit), "0");
    assert_eq!(tmux.display("#{alternate_on}"), "0");

    assert_only_reads(&trap, &requests);
}

/// `text` on screen is drawn in the dark theme's crit colour, and `other`
/// on the same line is not (else the check would prove nothing).
fn assert_in_crit_colour(tmux: &Tmux, text: &str, other: &str) {
    let crit = foreground(Theme::default().color(Slot::Crit));
    let screen = tmux.capture_escaped();
    let line = screen
        .lines()
        .find(|l| l.contains(text))
        .expect("a line with the text");
    let sgr = sgr_before(line, text);
    assert!(
        sgr.contains(&crit),
        "{text} is drawn with SGR {sgr:?}, not the crit slot's {crit}: {line:?}"
    );
    let beside = sgr_before(line, other);
    assert!(
        !beside.contains(&crit),
        "{other} beside it is in crit colour too ({beside:?}): the check would prove nothing"
    );
}

/// No connection reached the trap, and every request in the demo's log
/// is kmstop's and a read.
fn assert_only_reads(trap: &TcpListener, requests: &std::path::Path) {
    // Nothing went where the user's AWS settings point.
    assert!(
        trap.accept().is_err(),
        "the demo connected to AWS_ENDPOINT_URL*: it must ignore the user's AWS settings"
    );
    // Every request the demo sent is a read.
    let log = std::fs::read_to_string(requests).expect("the demo's request log");
    let targets: Vec<String> = log
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let agent = v["user_agent"].as_str().unwrap_or_default();
            assert!(agent.contains("app/kmstop"), "not kmstop's call: {l}");
            v["target"].as_str().expect("target").to_owned()
        })
        .collect();
    for needed in [
        "GetCallerIdentity",
        "LookupEvents",
        "ListKeys",
        "DescribeKey",
    ] {
        assert!(
            targets.iter().any(|t| t.ends_with(needed)),
            "the demo never called {needed}"
        );
    }
    for t in &targets {
        assert!(
            READ_ONLY_TARGETS.contains(&t.as_str()),
            "{t} is not on the read-only allow-list"
        );
    }
}
