//! `--state-file`: the slot tables and settings of every lock, as JSON, replaced atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Devices, SimError};
use crate::lock::LockSnapshot;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct StateFile {
    version: u32,
    locks: BTreeMap<String, LockSnapshot>,
}

pub(super) fn snapshot(devices: &Devices) -> StateFile {
    StateFile {
        version: 1,
        locks: devices
            .locks
            .iter()
            .map(|l| (l.name().to_owned(), l.snapshot()))
            .collect(),
    }
}

/// Restores every lock named in the file; a missing file is a fresh start.
pub(super) fn load(path: &Path, devices: &mut Devices) -> Result<(), SimError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SimError::StateFile {
                path: path.to_owned(),
                source,
            });
        }
    };
    let file: StateFile = serde_json::from_str(&text).map_err(|source| SimError::StateFormat {
        path: path.to_owned(),
        source,
    })?;
    for lock in &mut devices.locks {
        if let Some(snap) = file.locks.get(lock.name()) {
            lock.restore(snap);
        }
    }
    Ok(())
}

/// Writes next to the target, syncs, then renames over it: a crash leaves the old or the new file.
pub(super) fn write(path: &Path, state: &StateFile) -> Result<(), SimError> {
    let io = |source| SimError::StateFile {
        path: path.to_owned(),
        source,
    };
    let bytes = serde_json::to_vec(state).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = tmp_path(path);
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(&bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// A temporary name of its own for every write: the background saver and the final save on
/// shutdown may write at the same moment, and must not rename each other's file away.
fn tmp_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.{n}.tmp", std::process::id()));
    path.with_file_name(name)
}
