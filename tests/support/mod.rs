//! Shared by the integration tests: servers that speak AWS (moto), the
//! expected `kmstop keys` output, and the dashboard's fixed story. Each test
//! binary uses only some of it, hence the `dead_code` allowance.
#![allow(dead_code)]

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
