//! The dashboard's command line through the binary: `--version` names the
//! files kmstop reads, plain `kmstop` (live mode) with no AWS setup fails
//! before the screen opens, saying what to do, and bad `--source` paths are
//! usage errors. The subcommands still work.

use assert_cmd::cargo::cargo_bin_cmd;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("kmstop")
        .args(args)
        .env("KMSTOP_CONFIG_DIR", "/nonexistent/kmstop-test")
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_prints_the_paths_it_uses() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    assert!(
        out.contains("config: /nonexistent/kmstop-test/config.toml"),
        "{out}"
    );
    assert!(
        out.contains("rules:  /nonexistent/kmstop-test/rules.toml"),
        "{out}"
    );
}

#[test]
fn live_mode_without_an_aws_setup_says_what_to_do() {
    let mut cmd = cargo_bin_cmd!("kmstop");
    for v in [
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        cmd.env_remove(v);
    }
    let out = cmd
        .env("HOME", "/nonexistent/kmstop-test")
        .env("KMSTOP_CONFIG_DIR", "/nonexistent/kmstop-test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no region") && err.contains("--region"),
        "{err}"
    );
}

#[test]
fn bad_sources_and_flags_are_usage_errors() {
    let (code, _, err) = run(&["--source", "/nonexistent/logs"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/logs"), "{err}");
    let (code, _, _) = run(&["--sauce", "x"]);
    assert_eq!(code, 2);
    // A subcommand and dashboard flags do not mix.
    let (code, _, _) = run(&["--theme", "light", "rules"]);
    assert_eq!(code, 2);
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--source") && out.contains("--theme") && out.contains("report"),
        "{out}"
    );
}

#[test]
fn subcommands_still_run() {
    let (code, out, _) = run(&["rules", "--format", "json"]);
    assert_eq!(code, 0);
    assert!(out.trim_start().starts_with('['));
}
