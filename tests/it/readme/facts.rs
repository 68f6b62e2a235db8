//! README facts that are not commands to run: the Rust version it asks
//! for is `Cargo.toml`'s `rust-version`, the install line is the one that
//! builds what was tested, and an "every flag" usage block names exactly
//! the flags (and value lists) `--help` has. The examples in `--help` are
//! checked too: at 80 columns each is still one command a person can
//! paste (clap wraps long lines, which once split a jq expression).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use kmstop::cli::Cli;

/// `Cargo.toml`'s `rust-version`.
fn rust_version() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let text = std::fs::read_to_string(path).expect("Cargo.toml");
    let manifest: toml::Table = toml::from_str(&text).expect("Cargo.toml parses");
    manifest["package"]
        .get("rust-version")
        .and_then(toml::Value::as_str)
        .expect("Cargo.toml declares package.rust-version")
        .to_owned()
}

/// The Install section asks for the Rust that `Cargo.toml` declares, and
/// installs with `--locked` (the versions the tests ran with).
pub fn check_install(readme: &str) {
    let install = readme
        .split("\n## Install")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README.md has an Install section");
    let version = rust_version();
    assert!(
        install.contains(&format!("({version} or newer")),
        "README.md's Install section does not ask for Rust {version} or newer \
         (Cargo.toml's rust-version):\n{install}"
    );
    assert!(
        install.contains("cargo install --locked --path ."),
        "README.md's Install section lacks `cargo install --locked --path .`:\n{install}"
    );
}

/// A flag's long name and, for a flag that takes one of a list, the list.
fn flags_of(command: &str) -> BTreeMap<String, BTreeSet<String>> {
    let cli = Cli::command();
    let cmd = cli
        .get_subcommands()
        .find(|c| c.get_name() == command)
        .unwrap_or_else(|| panic!("kmstop has no subcommand {command}"));
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| {
            let values = a
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_owned())
                .collect();
            a.get_long().map(|l| (l.to_owned(), values))
        })
        .filter(|(l, _)| l != "help" && l != "version")
        .collect()
}

/// The `--flag` names in a usage block, each with the `a|b|c` list that
/// follows it (empty when it takes free text or nothing).
fn flags_in(block: &str) -> BTreeMap<String, BTreeSet<String>> {
    let re = regex::Regex::new(r"--([a-z][a-z0-9-]*)(?:[ =]([^\s\]\[]+))?").expect("regex");
    re.captures_iter(block)
        .map(|c| {
            let values = c
                .get(2)
                .map(|v| v.as_str())
                .filter(|v| v.contains('|'))
                .map(|v| v.split('|').map(str::to_owned).collect())
                .unwrap_or_default();
            (c[1].to_owned(), values)
        })
        .collect()
}

/// An "every flag" block (`<!-- readme-test: usage command="NAME" -->`)
/// names every flag `kmstop NAME --help` has, no other, and lists each
/// flag's choices as `--help` does.
pub fn check_usage(body: &str, command: &str, line: usize) {
    let help = flags_of(command);
    let block = flags_in(body);
    for flag in help.keys() {
        assert!(
            block.contains_key(flag),
            "README.md:{line}: the usage of `kmstop {command}` lacks --{flag} (in --help)"
        );
    }
    for (flag, values) in &block {
        let Some(choices) = help.get(flag) else {
            panic!(
                "README.md:{line}: the usage of `kmstop {command}` names --{flag}, which --help does not have"
            );
        };
        assert!(
            values.is_empty() || values == choices,
            "README.md:{line}: --{flag} lists {values:?}; --help has {choices:?}"
        );
    }
}

/// The logical lines of the `Examples:` section of a help text (joined
/// where a line ends with `\`).
fn examples(help: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut continued = false;
    for line in help
        .lines()
        .skip_while(|l| l.trim() != "Examples:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
    {
        let text = line.trim();
        match out.last_mut() {
            Some(last) if continued => {
                last.push('\n');
                last.push_str(text);
            }
            _ => out.push(text.to_owned()),
        }
        continued = text.ends_with('\\');
    }
    out
}

/// Every example in every `--help`, at 80 columns, is one whole command:
/// it starts with a command and bash can parse it.
pub fn check_help_examples() {
    let cli = Cli::command();
    let mut commands: Vec<Vec<String>> = vec![Vec::new()];
    commands.extend(
        cli.get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| vec![c.get_name().to_owned()]),
    );
    let mut checked = 0;
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_kmstop"))
            .args(&args)
            .arg("--help")
            .env("COLUMNS", "80")
            .output()
            .expect("kmstop runs");
        assert!(out.status.success(), "kmstop {args:?} --help failed");
        let help = String::from_utf8_lossy(&out.stdout);
        for example in examples(&help) {
            checked += 1;
            assert!(
                example.starts_with("kmstop ") || example.starts_with("aws "),
                "`kmstop {} --help` at 80 columns has a cut example line: {example:?}",
                args.join(" ")
            );
            let parsed = Command::new("bash")
                .args(["-n", "-c", &example])
                .output()
                .expect("bash runs");
            assert!(
                parsed.status.success(),
                "`kmstop {} --help` at 80 columns has an example bash cannot parse: {example:?}: {}",
                args.join(" "),
                String::from_utf8_lossy(&parsed.stderr)
            );
        }
    }
    assert!(
        checked > 20,
        "only {checked} examples found: is the parser right?"
    );
}

#[test]
fn examples_are_joined_and_cut_lines_seen() {
    let help = "Usage\n\nExamples:\n  kmstop a \\\n    --b c\n  kmstop d | jq '.[] |\n  select(.x)'\n\nMore:\n  not an example\n";
    assert_eq!(
        examples(help),
        ["kmstop a \\\n--b c", "kmstop d | jq '.[] |", "select(.x)'"]
    );
    let flags = flags_in("kmstop x --source PATH… [--format table|json] [--all]");
    assert_eq!(flags.len(), 3);
    assert_eq!(
        flags["format"],
        BTreeSet::from(["table".into(), "json".into()])
    );
    assert!(flags["source"].is_empty() && flags["all"].is_empty());
}
