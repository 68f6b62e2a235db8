//! The Athena stand-in (`tests/support/athena_duck.py`: Athena's JSON wire
//! protocol, queries run by sqlglot and DuckDB over CloudTrail files on disk)
//! on a free loopback port, killed when dropped. Missing duckdb or sqlglot
//! fails the test: a skipped test would look like a passing one.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Loading a corpus and importing DuckDB take long on a loaded 2-core
/// machine.
const START_DEADLINE: Duration = Duration::from_mins(3);
const START_POLL: Duration = Duration::from_millis(100);

/// The stand-in's scripts.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/athena_duck.py");
pub const CHECK_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/athena_duck_check.py"
);

/// How a table's folder holds its log files.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// `DIR` is `.../AWSLogs/ACCOUNT`; partitions `region`, `timestamp`.
    Account,
    /// `DIR` holds one folder per account; partitions `account`, `region`,
    /// `timestamp`.
    Org,
}

impl Layout {
    fn arg(self) -> &'static str {
        match self {
            Layout::Account => "account",
            Layout::Org => "org",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct AthenaOptions {
    /// Workgroups besides `primary` (whose output is `s3://athena-results/`
    /// unless listed here): name and output location, if any.
    pub workgroups: Vec<(String, Option<String>)>,
    /// Each query stays `RUNNING` at least this long (so a client can stop it).
    pub delay: Option<Duration>,
    /// Operations answered with `AccessDeniedException`, e.g.
    /// `StartQueryExecution`.
    pub deny: Vec<String>,
}

pub struct AthenaDuck {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    /// The port file, the request log and the stand-in's stderr.
    dir: tempfile::TempDir,
}

/// Panics unless `python3` can import duckdb and sqlglot.
pub fn require_duckdb() {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb, sqlglot"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "duckdb/sqlglot missing: pip install duckdb sqlglot — scripts/test installs them"
    );
}

impl AthenaDuck {
    /// Serves `tables` (`db.table`, its folder, its layout) once loaded.
    pub fn start(tables: &[(&str, &Path, Layout)], options: &AthenaOptions) -> Self {
        require_duckdb();
        let dir = tempfile::tempdir().expect("temp dir for the Athena stand-in");
        let mut cmd = Command::new("python3");
        cmd.arg(SCRIPT)
            .arg("--port-file")
            .arg(dir.path().join("port"))
            .arg("--log")
            .arg(dir.path().join("requests.jsonl"));
        for (name, folder, layout) in tables {
            cmd.arg("--table")
                .arg(format!("{name}={}:{}", folder.display(), layout.arg()));
        }
        for (name, output) in &options.workgroups {
            cmd.arg("--workgroup").arg(match output {
                Some(output) => format!("{name}={output}"),
                None => name.clone(),
            });
        }
        if let Some(delay) = options.delay {
            cmd.arg("--delay").arg(delay.as_secs_f64().to_string());
        }
        for action in &options.deny {
            cmd.arg("--deny").arg(action);
        }
        // A file, not a pipe: an unread pipe could fill up and stall it.
        let err = File::create(dir.path().join("stderr")).expect("stand-in stderr file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(err.try_clone().expect("stand-in stderr file"))
            .stderr(err)
            .spawn()
            .expect("python3 runs the Athena stand-in");
        let mut athena = Self {
            child,
            endpoint: String::new(),
            dir,
        };
        let port = athena.wait_port();
        athena.endpoint = format!("http://127.0.0.1:{port}");
        athena
    }

    /// The port the stand-in writes (by renaming a whole file) once it serves.
    #[allow(clippy::disallowed_methods)] // a deadline is about real time
    fn wait_port(&mut self) -> u16 {
        let path = self.dir.path().join("port");
        let deadline = Instant::now() + START_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(text) = std::fs::read_to_string(&path) {
                return text.trim().parse().expect("a port number in the port file");
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the Athena stand-in exited ({status}) before serving:\n{}",
                    self.stderr()
                );
            }
            sleep(START_POLL);
        }
        panic!(
            "the Athena stand-in did not serve within {} s:\n{}",
            START_DEADLINE.as_secs(),
            self.stderr()
        );
    }

    /// One entry per request so far: `operation`, `query_execution_id`, and
    /// for `StartQueryExecution` `sql`, `statement_type` (DML or DDL),
    /// `duckdb_sql`, `data_scanned_bytes` (or `failed`, the reason); `error`
    /// when the request was refused.
    pub fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line in the stand-in's log"))
            .collect()
    }

    /// The SQL of every `StartQueryExecution`, in order.
    pub fn queries(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|e| e["operation"] == "StartQueryExecution")
            .filter_map(|e| e["sql"].as_str().map(str::to_owned))
            .collect()
    }

    /// What the stand-in printed (load times, skipped files, tracebacks).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }
}

impl Drop for AthenaDuck {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kmstop report --format json` over `source`: a folder run locally, or
/// `athena://…` against the stand-in at `endpoint`; `flags` added to
/// both. Fails the test, with stderr, unless the report succeeds.
pub fn report_json(source: &str, endpoint: &str, flags: &[&str]) -> serde_json::Value {
    let home = tempfile::tempdir().expect("home");
    let args = [&["--source", source, "--format", "json"][..], flags].concat();
    if !source.starts_with("athena://") {
        return super::json_of(&super::kmstop_report(home.path(), &args));
    }
    let out = super::kmstop_offline(home.path())
        .arg("report")
        .args(&args)
        .args(["--athena-region", "us-east-1", "--endpoint-url", endpoint])
        .args(["--max-scanned", "1TB"])
        .timeout(Duration::from_mins(10))
        .output()
        .expect("kmstop runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    super::json_of(&out)
}
