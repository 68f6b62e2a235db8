//! `kmstop rules` through the binary: every fixture in
//! `tests/fixtures/rules/valid` checks clean, and every one in `invalid`
//! fails with the message, line and column its first line expects
//! (`# expect: LINE:COLUMN fragment`).

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules")
        .join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn rules(args: &[&str]) -> (i32, String, String) {
    // A fixed, empty config dir: the user's own rules must not leak in.
    let out = cargo_bin_cmd!("kmstop")
        .arg("rules")
        .args(args)
        .env("KMSTOP_CONFIG_DIR", "/nonexistent/kmstop-test")
        .output()
        .expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

fn builtin_ids() -> Vec<String> {
    let (code, stdout, stderr) = rules(&["--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let list: Value = serde_json::from_str(&stdout).expect("json");
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

#[test]
fn valid_rule_files_check_clean() {
    let builtins = builtin_ids();
    let files = fixtures("valid");
    assert!(files.len() >= 4);
    for file in files {
        let text = fs::read_to_string(&file).expect("readable");
        let needs_builtins = text.contains("[[override]]");
        if needs_builtins && builtins.is_empty() {
            // Overrides name built-in rules; nothing to override yet.
            eprintln!("skipping {}: no built-in rules", file.display());
            continue;
        }
        let (code, stdout, stderr) = rules(&["--check", file.to_str().expect("utf-8 path")]);
        assert_eq!(code, 0, "{}: {stderr}", file.display());
        assert!(stdout.ends_with(", OK\n"), "{stdout}");
        assert!(
            stdout.starts_with(&format!("{}: ", file.display())),
            "{stdout}"
        );
        assert!(stderr.is_empty(), "{stderr}");

        // The same file lists: its rules show with the file as source.
        let (code, stdout, stderr) = rules(&[
            "--rules",
            file.to_str().expect("utf-8 path"),
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "{stderr}");
        let list: Value = serde_json::from_str(&stdout).expect("json");
        let from_file = list
            .as_array()
            .expect("array")
            .iter()
            .filter(|r| {
                r["source"]
                    .as_str()
                    .is_some_and(|s| s.contains(file.to_str().expect("utf-8")))
            })
            .count();
        assert!(from_file > 0, "{}: {stdout}", file.display());
    }
}

/// `# expect: 3:1 fragment` → (3, 1, "fragment").
fn expectation(text: &str) -> (usize, usize, String) {
    let first = text.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix("# expect: ")
        .expect("first line: # expect: L:C fragment");
    let (position, fragment) = rest.split_once(' ').expect("L:C then fragment");
    let (line, column) = position.split_once(':').expect("L:C");
    (
        line.parse().expect("line"),
        column.parse().expect("column"),
        fragment.to_owned(),
    )
}

#[test]
fn invalid_rule_files_fail_with_position_and_reason() {
    let files = fixtures("invalid");
    assert!(files.len() >= 10);
    for file in files {
        let text = fs::read_to_string(&file).expect("readable");
        let (line, column, fragment) = expectation(&text);
        let (code, stdout, stderr) = rules(&["--check", file.to_str().expect("utf-8 path")]);
        assert_eq!(code, 1, "{}: {stdout}{stderr}", file.display());
        let at = format!("{}:{line}:{column}: ", file.display());
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&at) && l.contains(&fragment)),
            "{}: want {at}… {fragment}\ngot:\n{stderr}",
            file.display()
        );
        assert!(stdout.is_empty(), "{stdout}");
        // The same file given with --rules stops kmstop too.
        let (code, _, stderr) = rules(&["--rules", file.to_str().expect("utf-8 path")]);
        assert_eq!(code, 1, "{stderr}");
    }
}

#[test]
fn missing_files_and_usage_errors() {
    let (code, _, stderr) = rules(&["--check", "/nonexistent/rules.toml"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("/nonexistent/rules.toml: cannot read the rules file"),
        "{stderr}"
    );
    // An explicit --rules file must exist; the default one may be absent.
    let (code, _, stderr) = rules(&["--rules", "/nonexistent/rules.toml"]);
    assert_eq!(code, 1, "{stderr}");
    let (code, _, stderr) = rules(&[]);
    assert_eq!(code, 0, "{stderr}");
    for bad in [
        &["--check"][..],
        &["--format", "csv"],
        &["--rules", "a", "--check", "b"],
    ] {
        let (code, _, _) = rules(bad);
        assert_eq!(code, 2, "{bad:?}");
    }
}

#[test]
fn default_file_is_read_from_the_config_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spike = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules/valid/spike.toml");
    fs::copy(spike, dir.path().join("rules.toml")).expect("copy");
    let out = cargo_bin_cmd!("kmstop")
        .args(["rules", "--format", "table"])
        .env("KMSTOP_CONFIG_DIR", dir.path())
        .env("COLUMNS", "200")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(stdout.contains("my-denied-spike"), "{stdout}");
    assert!(stdout.contains("spike"), "{stdout}");
}

#[test]
fn errors_are_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("evil.toml");
    fs::write(
        &file,
        "[[rule]]\nid = \"x\\u001b]0;pwned\\u0007\"\ntitle = \"t\"\nseverity = \"low\"\nkind = \"every\"\n",
    )
    .expect("write");
    let (code, _, stderr) = rules(&["--check", file.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stderr.contains("]0;pwned"), "{stderr}");
}

/// `rules --check` prints every error of a file, not the first: an unknown
/// top-level key, two wrong keys of one rule, a rule missing its window, a
/// wrong type in a `[rule.match]`, an unknown override — in file order.
#[test]
fn check_prints_every_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("many.toml");
    fs::write(
        &file,
        "colour = \"red\"\n\
         [[rule]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"loud\"\nkind = \"every\"\nbogus = 1\n\
         [[rule]]\nid = \"b\"\ntitle = \"t\"\nseverity = \"low\"\nkind = \"threshold\"\ncount = 3\n\
         [[rule]]\nid = \"c\"\ntitle = \"t\"\nseverity = \"low\"\nkind = \"every\"\n\
         [rule.match]\nprincipal = 3\n\
         [[override]]\nid = \"no-such-builtin\"\n",
    )
    .expect("write");
    let path = file.to_str().expect("utf-8");
    let (code, stdout, stderr) = rules(&["--check", path]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let wanted = [
        ("1:1", "unknown field `colour`"),
        ("5:12", "severity: unknown variant `loud`"),
        ("7:1", "unknown field `bogus`"),
        ("8:1", "a threshold rule needs \"window\""),
        ("20:13", "match.principal: invalid type"),
        ("21:1", "no built-in rule has id \"no-such-builtin\""),
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    for (i, (at, fragment)) in wanted.iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or_default();
        assert!(
            line.starts_with(&format!("{path}:{at}: ")) && line.contains(fragment),
            "error {i}: want {at} … {fragment}\ngot:\n{stderr}"
        );
    }
    assert_eq!(
        lines.last().copied(),
        Some("kmstop: 6 error(s) in the rules file"),
        "{stderr}"
    );
}

/// A reader that went away before kmstop writes (`| head`, `| true`) is
/// not a crash: the commands that print end as they would have.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let home = tempfile::tempdir().expect("home");
    let rules = home.path().join("rules.toml");
    std::fs::write(&rules, "").expect("an empty rules file");
    let rules = rules.to_str().expect("utf-8 path");
    let cases: [&[&str]; 4] = [
        &["rules"],
        &["rules", "--check", rules],
        &[
            "report",
            "--source",
            "athena://db/t",
            "--since",
            "1d",
            "--dry-run",
        ],
        &[
            "athena",
            "ddl",
            "--bucket",
            "trail-bucket",
            "--account",
            "111122223333",
        ],
    ];
    for args in cases {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin!("kmstop"))
            .args(args)
            .env_clear()
            .env("HOME", home.path())
            .stdout(writer)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}
