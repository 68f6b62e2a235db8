//! README.md's commands, run as written, so the README cannot drift from
//! the program. A fenced block preceded by a marker is run:
//!
//! ```text
//! <!-- readme-test: KIND [expect="TEXT"]… [port=N] -->
//! ```
//!
//! - `run`: the block through `bash` (`set -euo pipefail`); exit 0, every
//!   `expect` in its output;
//! - `server`: started first, in the background, until the test ends; the
//!   test waits for `port` to accept connections;
//! - `tui`: one command in a tmux terminal; every `expect` on screen, then
//!   `q` exits 0 off the alternate screen;
//! - `config`: a `config.toml` that must load without a warning;
//! - `rules`: a rules file `kmstop rules --check` must accept;
//! - `usage` (with `command="NAME"`): an "every flag" block that must name
//!   exactly the flags, and value lists, of `kmstop NAME --help`.
//!
//! Facts that are not commands are checked too (`facts`): the Rust version
//! is `Cargo.toml`'s `rust-version`, the install line uses `--locked`, and
//! every example in `--help` is still one pasteable command at 80 columns.
//!
//! Commands run as a newcomer's shell would run them: `kmstop` is the
//! binary under test (first on `PATH`), `cargo run --release --` at the
//! start of a command is that binary too (the test does not build a second
//! time), the working directory has the repository's `tests/` (its sample
//! logs), and HOME, the config directory and every `AWS_*` setting are the
//! test's own, empty. One liberty: a server's port (`port=N`) is replaced
//! by a free one in every block, so the test does not depend on N being
//! free on the machine (a simulator someone started from the README).

use crate::support;

#[path = "readme/facts.rs"]
mod facts;

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::tmux::{Tmux, now};
use wait_timeout::ChildExt;

/// How long one `run` block may take on a loaded machine (they take
/// seconds; a hung one fails instead of hanging the suite).
const BLOCK_DEADLINE: Duration = Duration::from_mins(5);

#[derive(Debug)]
struct Block {
    kind: String,
    expects: Vec<String>,
    port: Option<u16>,
    /// The subcommand a `usage` block describes.
    command: Option<String>,
    body: String,
    /// 1-based line of the marker, for messages.
    line: usize,
}

/// `key="value with spaces"` and `key=value` pairs, in order.
fn attributes(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().to_owned();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .expect("a closing quote in a readme-test marker");
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push((key, value.to_owned()));
        rest = next.trim();
    }
    out
}

/// Every marked block of `readme`, in order.
fn blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(marker) = lines[i]
            .trim()
            .strip_prefix("<!-- readme-test:")
            .and_then(|m| m.strip_suffix("-->"))
        else {
            i += 1;
            continue;
        };
        let line = i + 1;
        let marker = marker.trim();
        let (kind, attrs) = marker.split_once(' ').unwrap_or((marker, ""));
        let fence = lines.get(i + 1).copied().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "README.md:{line}: a readme-test marker must be followed by a fenced block"
        );
        let mut body = String::new();
        i += 2;
        while i < lines.len() && !lines[i].starts_with("```") {
            body.push_str(lines[i]);
            body.push('\n');
            i += 1;
        }
        let mut block = Block {
            kind: kind.to_owned(),
            expects: Vec::new(),
            port: None,
            command: None,
            body,
            line,
        };
        for (key, value) in attributes(attrs) {
            match key.as_str() {
                "expect" => block.expects.push(value),
                "port" => block.port = Some(value.parse().expect("a port number")),
                "command" => block.command = Some(value),
                other => panic!("README.md:{line}: unknown readme-test attribute {other}"),
            }
        }
        out.push(block);
        i += 1;
    }
    out
}

/// The newcomer's shell: `kmstop` on `PATH`, an empty HOME and config, no
/// AWS settings, the repository's `tests/` in the working directory.
struct Shell {
    dir: tempfile::TempDir,
}

const AWS_VARIABLES: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_ENDPOINT_URL_CLOUDTRAIL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

impl Shell {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["bin", "home", "config", "state", "cwd"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kmstop"), dir.path().join("bin/kmstop"))
            .expect("link kmstop");
        let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        std::os::unix::fs::symlink(tests, dir.path().join("cwd/tests")).expect("link tests/");
        Self { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn search_path(&self) -> String {
        format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// The variables the shell sets (besides removing the AWS ones).
    fn variables(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PATH", self.search_path()),
            ("HOME", self.path("home").display().to_string()),
            (
                "KMSTOP_CONFIG_DIR",
                self.path("config").display().to_string(),
            ),
            ("KMSTOP_STATE_DIR", self.path("state").display().to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("COLUMNS", "160".to_owned()),
        ]
    }

    fn bash(&self, script: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(format!("set -euo pipefail\n{script}"))
            .current_dir(self.path("cwd"));
        for v in AWS_VARIABLES {
            c.env_remove(v);
        }
        for (k, v) in self.variables() {
            c.env(k, v);
        }
        c
    }

    /// The same environment as an `env` prefix, for a command tmux runs.
    fn env_prefix(&self) -> String {
        let unset = AWS_VARIABLES.iter().map(|v| format!(" -u {v}"));
        let set = self
            .variables()
            .into_iter()
            .map(|(k, v)| format!(" {k}='{v}'"));
        std::iter::once("env".to_owned())
            .chain(unset)
            .chain(set)
            .collect()
    }
}

/// A command line as a person would paste it: `cargo run --release --`
/// is the built binary (the test does not build again).
fn as_installed(command: &str) -> String {
    let command = command.trim();
    command
        .strip_prefix("cargo run --release -- ")
        .map_or_else(|| command.to_owned(), |rest| format!("kmstop {rest}"))
}

fn run_block(shell: &Shell, block: &Block) {
    if block.body.contains("jq ") {
        let jq = Command::new("jq").arg("--version").output();
        assert!(
            jq.is_ok_and(|o| o.status.success()),
            "README.md:{}: jq is needed to run this block (apt-get install jq)",
            block.line
        );
    }
    let script: String = block
        .body
        .lines()
        .map(as_installed)
        .collect::<Vec<_>>()
        .join("\n");
    let mut child = shell
        .bash(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    if child.wait_timeout(BLOCK_DEADLINE).expect("wait").is_none() {
        let _ = child.kill();
        panic!(
            "README.md:{}: the block did not finish in {} min:\n{}",
            block.line,
            BLOCK_DEADLINE.as_secs() / 60,
            block.body
        );
    }
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "README.md:{}: the block failed ({}):\n{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        block.line,
        out.status,
        block.body
    );
    for e in &block.expects {
        assert!(
            stdout.contains(e.as_str()),
            "README.md:{}: {e:?} is not in the output of\n{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            block.line,
            block.body
        );
    }
}

/// A background server (its own process group, so all of it stops).
struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.wait();
    }
}

/// Each server's port, replaced by a free one everywhere it appears.
fn with_free_ports(mut blocks: Vec<Block>) -> Vec<Block> {
    let ports: Vec<u16> = blocks.iter().filter_map(|b| b.port).collect();
    for port in ports {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        for b in &mut blocks {
            b.body = b.body.replace(&port.to_string(), &free.to_string());
            if b.port == Some(port) {
                b.port = Some(free);
            }
        }
    }
    blocks
}

fn start_server(shell: &Shell, block: &Block) -> Server {
    use std::os::unix::process::CommandExt;
    let port = block
        .port
        .unwrap_or_else(|| panic!("README.md:{}: a server block needs port=N", block.line));
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "README.md:{}: port {port} is already in use",
        block.line
    );
    let child = shell
        .bash(&as_installed(&block.body))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("bash runs");
    let server = Server { child };
    let deadline = now() + support::tmux::DEADLINE;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            now() < deadline,
            "README.md:{}: nothing listens on {port} {} s after\n{}",
            block.line,
            support::tmux::DEADLINE.as_secs(),
            block.body
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn tui_block(shell: &Shell, block: &Block, tag: &str) {
    let commands: Vec<&str> = block
        .body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        commands.len(),
        1,
        "README.md:{}: a tui block is one command",
        block.line
    );
    let command = as_installed(commands[0]);
    assert!(
        !command.contains('\''),
        "README.md:{}: the test cannot quote a command with ' in it",
        block.line
    );
    let exit = shell.path(&format!("exit-{tag}"));
    let script = format!(
        "cd '{}' && {} bash -c '{command}'; echo $? > '{}'",
        shell.path("cwd").display(),
        shell.env_prefix(),
        exit.display()
    );
    let tmux = Tmux::new(tag);
    tmux.start(160, 45, &script);
    let what = format!("{:?} from README.md:{}", block.expects, block.line);
    tmux.wait(&what, |s| {
        block.expects.iter().all(|e| s.contains(e.as_str()))
    });
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_file(&exit), "0", "README.md:{}", block.line);
    assert_eq!(tmux.display("#{alternate_on}"), "0");
}

fn config_block(block: &Block) {
    let (_, warnings) = kmstop::config::parse(&block.body, "README.md");
    assert!(
        warnings.is_empty(),
        "README.md:{}: the config example has problems: {warnings:?}",
        block.line
    );
}

fn rules_block(shell: &Shell, block: &Block) {
    let file = shell.path("readme-rules.toml");
    std::fs::write(&file, &block.body).expect("write the rules");
    let out = Command::new(env!("CARGO_BIN_EXE_kmstop"))
        .args(["rules", "--check"])
        .arg(&file)
        .output()
        .expect("kmstop runs");
    assert!(
        out.status.success(),
        "README.md:{}: kmstop rules --check refuses the example:\n{}",
        block.line,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The README's own promises: the first of the two commands is the demo
/// and the second runs the tests; the demo, `report` on the shipped
/// samples, and `keys` against the simulator are among the tested blocks.
fn check_coverage(readme: &str, blocks: &[Block]) {
    let two = readme
        .split("## The two commands")
        .nth(1)
        .expect("README.md has a section \"The two commands\"");
    let fences: Vec<&str> = two
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or_default().trim())
        .take(2)
        .collect();
    assert_eq!(fences, ["cargo run --release -- demo", "scripts/test"]);
    let has = |kind: &str, text: &str| {
        blocks
            .iter()
            .any(|b| b.kind == kind && b.body.contains(text))
    };
    assert!(has("tui", "-- demo"), "the demo block is not tested");
    assert!(
        has("run", "kmstop report --source tests/fixtures/cloudtrail"),
        "report on the sample logs is not tested"
    );
    assert!(
        has("server", "kmstop sim"),
        "the simulator block is not tested"
    );
    assert!(
        has("run", "kmstop keys --endpoint-url"),
        "keys against the simulator is not tested"
    );
    assert!(
        has("usage", "kmstop report --source"),
        "report's \"every flag\" usage is not checked against --help"
    );
    let kinds: BTreeSet<&str> = blocks.iter().map(|b| b.kind.as_str()).collect();
    for k in &kinds {
        assert!(
            ["run", "server", "tui", "config", "rules", "usage"].contains(k),
            "unknown readme-test kind {k}"
        );
    }
}

#[test]
fn the_readme_commands_work_as_written() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let blocks = blocks(&readme);
    check_coverage(&readme, &blocks);
    facts::check_install(&readme);
    let blocks = with_free_ports(blocks);
    let shell = Shell::new();
    // Servers first: later blocks (anywhere in the README) talk to them.
    let _servers: Vec<Server> = blocks
        .iter()
        .filter(|b| b.kind == "server")
        .map(|b| start_server(&shell, b))
        .collect();
    for (i, block) in blocks.iter().enumerate() {
        match block.kind.as_str() {
            "run" => run_block(&shell, block),
            "tui" => tui_block(&shell, block, &format!("readme{i}")),
            "config" => config_block(block),
            "rules" => rules_block(&shell, block),
            "usage" => facts::check_usage(
                &block.body,
                block.command.as_deref().unwrap_or_else(|| {
                    panic!("README.md:{}: a usage block needs command=NAME", block.line)
                }),
                block.line,
            ),
            _ => {}
        }
    }
}

#[test]
fn markers_are_parsed_with_their_attributes() {
    let text = "x\n<!-- readme-test: run expect=\"a b\" expect=c port=9 -->\n```sh\necho hi\n```\n";
    let b = blocks(text);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].kind, "run");
    assert_eq!(b[0].expects, ["a b", "c"]);
    assert_eq!(b[0].port, Some(9));
    assert_eq!(b[0].body, "echo hi\n");
    assert_eq!(b[0].line, 2);
    assert_eq!(
        as_installed("cargo run --release -- demo --seed 3"),
        "kmstop demo --seed 3"
    );
    assert_eq!(as_installed("kmstop keys"), "kmstop keys");
}

#[test]
fn help_examples_are_whole_commands_at_80_columns() {
    facts::check_help_examples();
}
