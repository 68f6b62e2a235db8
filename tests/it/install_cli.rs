//! What a terminal tool installs beside itself, through the binary: shell
//! completions for bash, zsh and fish that know every subcommand, and a
//! manual page that renders (with `man -l` where man is installed, else
//! checked as roff), one page per subcommand with `--dir`.

use std::io::Write;
use std::process::{Command, Stdio};

use assert_cmd::cargo::cargo_bin_cmd;

/// Every subcommand a user can type (clap's own `help` aside).
const SUBCOMMANDS: &[&str] = &[
    "report",
    "rules",
    "tail",
    "doctor",
    "sim",
    "keys",
    "demo",
    "completions",
    "man",
];

fn stdout_of(args: &[&str]) -> String {
    let out = cargo_bin_cmd!("kmstop").args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "kmstop {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn completions_know_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        for sub in SUBCOMMANDS {
            assert!(
                script.contains(sub),
                "the {shell} completions do not offer `{sub}`"
            );
        }
        // Flags of a subcommand, not only the names.
        assert!(
            script.contains("include-own-calls") && script.contains("reread-after"),
            "the {shell} completions lack subcommand flags"
        );
    }
    // The bash script is valid bash.
    let script = stdout_of(&["completions", "bash"]);
    let mut bash = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .spawn()
        .expect("bash runs");
    bash.stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write the script");
    assert!(
        bash.wait().expect("bash ends").success(),
        "bash -n refuses it"
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = cargo_bin_cmd!("kmstop")
        .args(["completions", "tcsh"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tcsh") && err.contains("bash"), "{err}");
}

fn man_available() -> bool {
    Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The page as `man -l` shows it, plain text.
fn rendered(roff: &str) -> String {
    let mut man = Command::new("man")
        .args(["-l", "-"])
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("man runs");
    man.stdin
        .take()
        .expect("stdin")
        .write_all(roff.as_bytes())
        .expect("write the page");
    let out = man.wait_with_output().expect("man ends");
    assert!(
        out.status.success(),
        "man -l refuses the page: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_manual_page_renders() {
    let roff = stdout_of(&["man"]);
    assert!(
        roff.contains(".TH kmstop 1"),
        "no roff title header:\n{roff}"
    );
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(roff.contains(section), "no {section}");
    }
    if man_available() {
        let text = rendered(&roff);
        assert!(text.contains("kmstop - top for AWS KMS"), "{text}");
        for sub in SUBCOMMANDS {
            assert!(
                text.contains(&format!("kmstop-{sub}(1)")),
                "the page does not list kmstop-{sub}(1):\n{text}"
            );
        }
        assert!(text.contains("--include-own-calls"), "{text}");
    }
}

#[test]
fn man_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_str().expect("UTF-8 path");
    let out = cargo_bin_cmd!("kmstop")
        .args(["man", "--dir", path])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let main = std::fs::read_to_string(dir.path().join("kmstop.1")).expect("kmstop.1");
    assert!(main.contains(".TH kmstop 1"));
    for sub in SUBCOMMANDS {
        let page = std::fs::read_to_string(dir.path().join(format!("kmstop-{sub}.1")))
            .unwrap_or_else(|e| panic!("kmstop-{sub}.1: {e}"));
        assert!(page.contains(&format!(".TH kmstop-{sub} 1")), "{page}");
    }
    let report = std::fs::read_to_string(dir.path().join("kmstop-report.1")).expect("page");
    assert!(report.contains("alerts\\-log"), "{report}");

    let missing = dir.path().join("no-such-dir");
    let out = cargo_bin_cmd!("kmstop")
        .args(["man", "--dir"])
        .arg(&missing)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-dir") && err.contains("not a directory"),
        "{err}"
    );
}
