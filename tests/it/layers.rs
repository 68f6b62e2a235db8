//! The house rules of `src/`, read from the source itself: the core does
//! no I/O and knows no runtime, terminal or higher layer; the dashboard's
//! state knows nothing of how it is drawn, read or reported; no file grows
//! past what one person reads in a sitting; `unsafe` lives in one file.

use std::path::{Path, PathBuf};

use crate::support;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file of a module (a directory or a single file).
fn module_files(name: &str) -> Vec<PathBuf> {
    let dir = src().join(name);
    if dir.is_dir() {
        support::files_under(&dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect()
    } else {
        vec![src().join(format!("{name}.rs"))]
    }
}

/// The lines of `modules` that use any of `forbidden`: comments aside,
/// and up to the file's tests (which may reach across layers to check
/// that two of them agree).
fn uses(modules: &[&str], forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for module in modules {
        for file in module_files(module) {
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code == "#[cfg(test)]" {
                    break;
                }
                if code.starts_with("//") {
                    continue;
                }
                if let Some(word) = forbidden.iter().find(|w| code.contains(*w)) {
                    found.push(format!("{}:{}: {word}", file.display(), n + 1));
                }
            }
        }
    }
    found
}

#[test]
fn the_core_does_no_io_and_knows_no_higher_layer() {
    let core = [
        "event",
        "dedup",
        "store",
        "aggregate",
        "alert",
        "inventory",
        "feed",
        "deletion",
        "who",
    ];
    let found = uses(
        &core,
        &[
            "tokio",
            "ratatui",
            "crossterm",
            "std::fs",
            "std::thread",
            "std::env",
            "std::net::Tcp",
            "std::net::Udp",
            "SystemClock",
            "crate::source",
            "crate::aws",
            "crate::app",
            "crate::ui",
            "crate::tui",
            "crate::run",
            "crate::report",
            "crate::config",
            "crate::rules_file",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_app_state_knows_nothing_of_drawing_reading_or_reporting() {
    let found = uses(
        &["app"],
        &[
            "crate::ui",
            "crate::tui",
            "crate::source",
            "crate::aws",
            "crate::report",
            "crate::run",
            "tokio",
            "std::fs",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn no_source_file_is_longer_than_a_sitting() {
    let long: Vec<String> = support::files_under(&src())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter_map(|p| {
            let lines = std::fs::read_to_string(&p).ok()?.lines().count();
            (lines > 620).then(|| format!("{}: {lines} lines", p.display()))
        })
        .collect();
    assert!(long.is_empty(), "{long:#?}");
}

/// `unsafe` is denied crate-wide; one call into the C library is allowed
/// it, in one small file, and no other file may allow it.
#[test]
fn unsafe_is_allowed_in_one_file_only() {
    let allowing: Vec<String> = support::files_under(&src())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .contains("allow(unsafe_code)")
        })
        .map(|p| p.strip_prefix(src()).unwrap_or(&p).display().to_string())
        .collect();
    assert_eq!(allowing, ["memory.rs"]);
}
