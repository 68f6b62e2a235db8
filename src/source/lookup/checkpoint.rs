//! Where a poller was: its plan and the ids it delivered within re-read
//! reach, saved atomically so a restart resumes without a gap (the fresh
//! scan goes on from the saved tip) or a repeat (re-reads skip the ids).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::PlanState;
use super::seen::Delivered;
use crate::feed::SourceId;

/// Bumped when the saved shape changes: an old file is then ignored.
const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub source: SourceId,
    pub plan: PlanState,
    pub delivered: Delivered,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    #[serde(flatten)]
    checkpoint: Checkpoint,
}

impl Checkpoint {
    /// The saved checkpoint of `source` at `path`; `None` when there is
    /// none yet. A file for another source or version is an error.
    pub fn load(path: &Path, source: &SourceId) -> io::Result<Option<Self>> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let on_disk: OnDisk = serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        if on_disk.version != VERSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: version {} (expected {VERSION})",
                    path.display(),
                    on_disk.version
                ),
            ));
        }
        if &on_disk.checkpoint.source != source {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: belongs to {}",
                    path.display(),
                    on_disk.checkpoint.source
                ),
            ));
        }
        Ok(Some(on_disk.checkpoint))
    }

    /// Writes to a temporary file and renames it over the old one, so a
    /// crash leaves either the old or the new checkpoint, never half.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        let on_disk = OnDisk {
            version: VERSION,
            checkpoint: self.clone(),
        };
        // One write, not one per JSON token (thousands of syscalls a save).
        let mut text = serde_json::to_vec(&on_disk)?;
        text.push(b'\n');
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    }
}

/// The state directory: `$KMSTOP_STATE_DIR`, else the platform's (e.g.
/// `~/.local/state/kmstop`).
pub fn state_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KMSTOP_STATE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let dirs = directories::ProjectDirs::from("", "", "kmstop")?;
    Some(
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_path_buf(),
    )
}

/// The checkpoint file of one source for one consumer (`tail`, …);
/// `None` unless the account id and region are what AWS writes, so no
/// answer from an endpoint can name a path outside the state directory.
pub fn checkpoint_path(dir: &Path, consumer: &str, source: &SourceId) -> Option<PathBuf> {
    source.is_safe().then(|| {
        dir.join("checkpoints").join(format!(
            "{consumer}-{}-{}.json",
            source.account, source.region
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_aws_writes_names_a_checkpoint() {
        let dir = Path::new("/state");
        let source = |account: &str, region: &str| SourceId {
            account: account.into(),
            region: region.into(),
        };
        assert_eq!(
            checkpoint_path(dir, "tail", &source("111122223333", "us-gov-west-1")),
            Some(PathBuf::from(
                "/state/checkpoints/tail-111122223333-us-gov-west-1.json"
            ))
        );
        for (account, region) in [
            ("../../../../tmp/x", "us-east-1"),
            ("11112222333", "us-east-1"),
            ("111122223333/..", "us-east-1"),
            ("111122223333", "../us-east-1"),
            ("111122223333", "us-east-1/x"),
            ("１１１１２２２２３３３３", "us-east-1"),
        ] {
            assert_eq!(
                checkpoint_path(dir, "tail", &source(account, region)),
                None,
                "{account} {region}"
            );
        }
    }
}
