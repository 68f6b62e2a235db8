//! The dashboard's command line through the binary: `--version` names the
//! files kmstop reads, plain `kmstop` without AWS credentials says what to
//! do before any screen opens, and
//! bad `--source` paths are usage errors. The subcommands still work.

use assert_cmd::cargo::cargo_bin_cmd;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("kmstop")
        .args(args)
        .env("KMSTOP_CONFIG_DIR", "/nonexistent/kmstop-test")
        .env("HOME", "/nonexistent/kmstop-test-home")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
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
fn live_mode_without_credentials_says_what_to_do_before_any_screen() {
    let (code, out, err) = run(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "no screen was drawn: {out:?}");
    assert!(err.contains("no credentials found"), "{err}");
    assert!(err.contains("aws sso login"), "{err}");
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
