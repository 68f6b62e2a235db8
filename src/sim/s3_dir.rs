//! A directory served as a bucket (`kmstop sim --bucket NAME=DIR`): its
//! files, read once at start, under their paths relative to it. A
//! request's key is only ever looked up among them, never joined to a
//! path, so no key can reach outside the directory.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::s3::{ObjectMeta, ObjectStore};

pub struct DirStore {
    files: BTreeMap<String, (PathBuf, u64)>,
    modified: DateTime<Utc>,
}

impl DirStore {
    /// Every regular file under `root`.
    ///
    /// # Errors
    /// `root` cannot be read.
    pub fn open(root: &Path, now: DateTime<Utc>) -> io::Result<Self> {
        if !std::fs::metadata(root)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a directory", root.display()),
            ));
        }
        let mut files = BTreeMap::new();
        for entry in walkdir::WalkDir::new(root) {
            let entry = entry.map_err(io::Error::other)?;
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(root) else {
                continue;
            };
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let size = entry.metadata().map_err(io::Error::other)?.len();
            files.insert(key, (entry.into_path(), size));
        }
        Ok(Self {
            files,
            modified: now,
        })
    }
}

impl ObjectStore for DirStore {
    fn list(&self, prefix: &str, _after: Option<&str>, _now: DateTime<Utc>) -> Vec<ObjectMeta> {
        self.files
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(key, (_, size))| ObjectMeta {
                key: key.clone(),
                size: *size,
                modified: self.modified,
            })
            .collect()
    }

    fn get(&self, key: &str, _now: DateTime<Utc>) -> Option<Arc<Vec<u8>>> {
        let (path, _) = self.files.get(key)?;
        std::fs::read(path).ok().map(Arc::new)
    }
}
