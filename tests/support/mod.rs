//! Shared by the integration tests: servers that speak AWS (moto, the
//! Athena stand-in), the expected `kmstop keys` output, and the dashboard's
//! fixed story. Each test binary uses only some of it, hence the
//! `dead_code` allowance.
#![allow(dead_code)]

pub mod athena;
pub mod key_list;
pub mod moto;
pub mod story;
pub mod tmux;

#[allow(unused_imports)]
pub use story::*;

/// Every file under `dir`, at any depth (none when it cannot be read).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `kmstop` with only fake credentials: no real `~/.aws`, no instance
/// metadata, no `AWS_*` of the person running the tests.
pub fn kmstop_offline(home: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("kmstop");
    cmd.env_clear()
        .env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// `kmstop report ARGS` with only fake credentials.
pub fn kmstop_report(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    kmstop_offline(home)
        .arg("report")
        .args(args)
        .timeout(std::time::Duration::from_mins(5))
        .output()
        .expect("kmstop runs")
}

/// A command's stdout as JSON, or a failure showing its stderr.
pub fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `records` as a gzipped CloudTrail log file's bytes (`{"Records": […]}`).
pub fn gzip_log(records: &[serde_json::Value]) -> Vec<u8> {
    use std::io::Write as _;
    let log = serde_json::json!({ "Records": records }).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(log.as_bytes()).expect("gzip");
    gz.finish().expect("gzip")
}

/// The events of `inputs`, packed as the dashboard holds them, as each of
/// two reader threads read them (in its files' order).
pub fn packed_by_reader(
    inputs: &[kmstop::source::files::Input],
) -> Vec<Vec<kmstop::event::PackedEvent>> {
    use kmstop::event::{KmsEvent, PackedEvent};

    #[derive(Default)]
    struct Packer(Vec<PackedEvent>);

    impl kmstop::source::files::Consumer for Packer {
        fn consume(&mut self, event: KmsEvent<'_>) {
            self.0.push(PackedEvent::pack(&event));
        }
    }

    let listed = kmstop::source::files::Listed::new(inputs);
    let (packers, _) = kmstop::source::files::scan(&listed, 2, Packer::default, &|_| {});
    packers.into_iter().map(|p| p.0).collect()
}
