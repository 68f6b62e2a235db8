//! `GetKeyLastUsage` answers kept between quick runs of `kmstop keys`. The
//! call's quota is a few requests a second, so a second run a minute after
//! the first would ask again for every key, be throttled and leave
//! `last_used` unknown. One small file per account × region in the state
//! directory, read only while its answers are fresh ([`DISK_TTL`]; KMS's
//! own figure may be an hour old).
//!
//! The account id and the region name the file, and an endpoint and a
//! config file chose them: both are checked before they name anything.
//! The file is written to a new temporary file (created exclusively, 0600)
//! and renamed into place; it is read without following a symlink and
//! only when no one else may write it, and never past [`MAX_BYTES`].

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::fetch::LastUsageCache;
use crate::feed::SourceId;

/// How old a saved answer may be and still be used.
pub const DISK_TTL: Duration = Duration::minutes(10);
/// A cache file bigger than this is not read (an answer takes ~100 bytes:
/// far more than any region's keys need).
pub const MAX_BYTES: u64 = 16 << 20;
/// Answers kept at most (more than any region has keys).
const MAX_ENTRIES: usize = 100_000;
/// Bumped when the saved shape changes: an old file is then ignored.
const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    account: String,
    region: String,
    /// The endpoint the answers came from (`None`: AWS itself): a
    /// simulator or moto with the same account id is another account.
    endpoint: Option<String>,
    cache: LastUsageCache,
}

/// The cache file of one account × region at one endpoint.
#[derive(Debug, Clone)]
pub struct CacheFile {
    path: PathBuf,
    account: String,
    region: String,
    endpoint: Option<String>,
}

impl CacheFile {
    /// The file for `source` under `state_dir`; `None` when the account id
    /// or the region is not one AWS would name (nothing is read or
    /// written then).
    pub fn new(state_dir: &Path, source: &SourceId, endpoint: Option<&str>) -> Option<Self> {
        if !source.is_safe() {
            return None;
        }
        let name = format!("last-used-{}-{}.json", source.account, source.region);
        Some(Self {
            path: state_dir.join("cache").join(name),
            account: source.account.clone(),
            region: source.region.clone(),
            endpoint: endpoint.map(str::to_owned),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fresh answers an earlier run saved; empty when there is no
    /// usable file (missing, a symlink, writable by others, too big, for
    /// another account, region, endpoint or version, or unparsable).
    pub fn load(&self, now: DateTime<Utc>) -> LastUsageCache {
        match self.read(now) {
            Ok(cache) => cache,
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::debug!("last-used cache {} not used: {e}", self.path.display());
                }
                LastUsageCache::default()
            }
        }
    }

    fn read(&self, now: DateTime<Utc>) -> io::Result<LastUsageCache> {
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)?;
        let meta = file.metadata()?;
        let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
        if !meta.is_file() {
            return Err(invalid("not a regular file"));
        }
        if meta.permissions().mode() & 0o022 != 0 {
            return Err(invalid("others may write it"));
        }
        if meta.len() > MAX_BYTES {
            return Err(invalid("too big"));
        }
        let mut text = String::new();
        file.take(MAX_BYTES).read_to_string(&mut text)?;
        let on_disk: OnDisk = serde_json::from_str(&text).map_err(io::Error::from)?;
        if on_disk.version != VERSION
            || on_disk.account != self.account
            || on_disk.region != self.region
            || on_disk.endpoint != self.endpoint
        {
            return Err(invalid("for another version, account, region or endpoint"));
        }
        let mut cache = on_disk.cache;
        cache.keep_recent(now, DISK_TTL, MAX_ENTRIES);
        Ok(cache)
    }

    /// Writes `cache` atomically: a new 0600 file in the same directory,
    /// renamed over the old one (a symlink there is replaced, not
    /// followed).
    pub fn save(&self, cache: &LastUsageCache) -> io::Result<()> {
        let dir = self
            .path
            .parent()
            .ok_or_else(|| io::Error::other("the cache file has no directory"))?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        if !fs::symlink_metadata(dir)?.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a directory (a symlink?)",
                dir.display()
            )));
        }
        let on_disk = OnDisk {
            version: VERSION,
            account: self.account.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            cache: cache.clone(),
        };
        // tempfile creates it with O_EXCL and mode 0600.
        let mut tmp = tempfile::Builder::new()
            .prefix(".last-used-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        // One write, not one per JSON token.
        let mut text = serde_json::to_vec(&on_disk)?;
        text.push(b'\n');
        tmp.write_all(&text)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(account: &str, region: &str) -> SourceId {
        SourceId {
            account: account.to_owned(),
            region: region.to_owned(),
        }
    }

    #[test]
    fn only_real_account_ids_and_regions_name_a_file() {
        let dir = Path::new("/state");
        let ok = CacheFile::new(dir, &source("111122223333", "us-gov-west-1"), None)
            .expect("a valid account and region");
        assert_eq!(
            ok.path(),
            Path::new("/state/cache/last-used-111122223333-us-gov-west-1.json")
        );
        for (account, region) in [
            ("../../etc/x", "us-east-1"),
            ("11112222333", "us-east-1"),
            ("1111222233334", "us-east-1"),
            ("11112222333a", "us-east-1"),
            ("١١١١٢٢٢٢٣٣٣٣", "us-east-1"),
            ("111122223333", "us-east-1/../../x"),
            ("111122223333", ""),
            ("111122223333", "US-EAST-1"),
            ("111122223333", "us-east"),
            ("111122223333", "-east-1"),
        ] {
            assert!(
                CacheFile::new(dir, &source(account, region), None).is_none(),
                "{account:?} {region:?}"
            );
        }
    }

    fn at(minutes_ago: i64) -> DateTime<Utc> {
        now() - Duration::minutes(minutes_ago)
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-05-20T10:00:00Z")
            .expect("time")
            .to_utc()
    }

    fn file(dir: &Path) -> CacheFile {
        CacheFile::new(dir, &source("111122223333", "us-east-1"), None).expect("valid")
    }

    #[test]
    fn saves_0600_and_loads_only_fresh_answers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = file(dir.path());
        let cache = LastUsageCache::default()
            .with_answer("1234abcd-12ab-34cd-56ef-1234567890ab", at(1), Some(at(30)))
            .with_answer("mrk-1234abcd12ab34cd56ef1234567890ab", at(9), None)
            .with_answer("stale", at(11), None)
            .with_answer("future", now() + Duration::minutes(5), None)
            .with_answer("../not-a-key-id", at(1), None);
        f.save(&cache).expect("save");
        let mode = fs::metadata(f.path()).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = f.load(now());
        assert_eq!(loaded.len(), 2, "{loaded:?}");
        let expected = LastUsageCache::default()
            .with_answer("1234abcd-12ab-34cd-56ef-1234567890ab", at(1), Some(at(30)))
            .with_answer("mrk-1234abcd12ab34cd56ef1234567890ab", at(9), None);
        assert_eq!(loaded, expected);
        // Saving again replaces the file; no temporary file is left.
        f.save(&loaded).expect("save again");
        let names: Vec<String> = fs::read_dir(f.path().parent().expect("dir"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["last-used-111122223333-us-east-1.json"]);
    }

    #[test]
    fn another_endpoint_or_an_unsafe_file_is_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = file(dir.path());
        let cache = LastUsageCache::default().with_answer("1234abcd-12ab", at(1), Some(at(30)));
        f.save(&cache).expect("save");
        assert_eq!(f.load(now()).len(), 1);
        let moto = CacheFile::new(
            dir.path(),
            &source("111122223333", "us-east-1"),
            Some("http://127.0.0.1:5000"),
        )
        .expect("valid");
        assert!(moto.load(now()).is_empty(), "another endpoint's answers");
        // Writable by others: not trusted.
        fs::set_permissions(f.path(), fs::Permissions::from_mode(0o622)).expect("chmod");
        assert!(f.load(now()).is_empty());
        fs::set_permissions(f.path(), fs::Permissions::from_mode(0o600)).expect("chmod");
        // Not JSON: ignored.
        fs::write(f.path(), "{not json").expect("write");
        assert!(f.load(now()).is_empty());
    }

    #[test]
    fn a_symlink_is_neither_followed_nor_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = file(dir.path());
        let elsewhere = dir.path().join("victim");
        fs::write(&elsewhere, "precious").expect("write");
        fs::create_dir_all(f.path().parent().expect("dir")).expect("mkdir");
        std::os::unix::fs::symlink(&elsewhere, f.path()).expect("symlink");
        assert!(f.load(now()).is_empty(), "read through a symlink");
        let cache = LastUsageCache::default().with_answer("1234abcd-12ab", at(1), Some(at(30)));
        f.save(&cache).expect("save");
        assert_eq!(fs::read_to_string(&elsewhere).expect("victim"), "precious");
        assert!(
            fs::symlink_metadata(f.path())
                .expect("file")
                .file_type()
                .is_file()
        );
        assert_eq!(f.load(now()).len(), 1);
    }

    #[test]
    fn a_cache_directory_that_is_a_symlink_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        fs::create_dir_all(&target).expect("mkdir");
        std::os::unix::fs::symlink(&target, dir.path().join("cache")).expect("symlink");
        let f = file(dir.path());
        let cache = LastUsageCache::default().with_answer("1234abcd-12ab", at(1), Some(at(30)));
        assert!(f.save(&cache).is_err());
        assert_eq!(fs::read_dir(&target).expect("dir").count(), 0);
    }
}
