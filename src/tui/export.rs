//! Writing `e`'s export to a file and saying where: into kmstop's exports
//! directory (never the current directory, where a stray file ends up in
//! a checkout), as a new file only the user can read — exports hold
//! principals, keys and whole records.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::app::{App, Status};

/// Where exports go without `--export-dir`: `exports` in kmstop's data
/// directory (`~/.local/share/kmstop/exports` on Linux).
pub fn default_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "kmstop").map_or_else(
        || PathBuf::from("kmstop-exports"),
        |d| d.data_local_dir().join("exports"),
    )
}

pub fn write(app: &mut App, dir: &Path, now: DateTime<Utc>) {
    let (ext, contents, name) = crate::ui::export::current_view(app);
    let stem = format!("kmstop-{name}-{}", now.format("%Y%m%dT%H%M%SZ"));
    let (text, warning) = match create(dir, &stem, ext, contents.as_bytes()) {
        Ok(path) => (format!("exported to {}", path.display()), false),
        Err(e) => (format!("cannot export to {}: {e}", dir.display()), true),
    };
    tracing::info!("{text}");
    app.status = Some(Status { text, warning });
}

/// Writes a new file `stem.ext` in `dir` (made if missing), `stem-2.ext`
/// and so on if that exists: two exports in one second keep both.
fn create(dir: &Path, stem: &str, ext: &str, contents: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for n in 1..100 {
        let path = if n == 1 {
            dir.join(format!("{stem}.{ext}"))
        } else {
            dir.join(format!("{stem}-{n}.{ext}"))
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => {
                file.write_all(contents)?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "99 exports of this view in this second already",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_new_private_files_and_never_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let into = dir.path().join("exports");
        let a = create(&into, "kmstop-x", "csv", b"a").expect("first");
        let b = create(&into, "kmstop-x", "csv", b"b").expect("second");
        assert_ne!(a, b);
        assert_eq!(std::fs::read(&a).expect("a"), b"a");
        assert_eq!(std::fs::read(&b).expect("b"), b"b");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&a).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A symlink planted at the name is not followed.
        #[cfg(unix)]
        {
            let target = dir.path().join("target");
            std::os::unix::fs::symlink(&target, into.join("kmstop-y.csv")).expect("symlink");
            let c = create(&into, "kmstop-y", "csv", b"c").expect("third");
            assert!(c.ends_with("kmstop-y-2.csv"));
            assert!(!target.exists());
        }
    }
}
