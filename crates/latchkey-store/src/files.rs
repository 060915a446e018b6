//! The SQLite files are private to the server's user. SQLite creates a database file with mode
//! 0644 (less the umask) and gives its `-wal`, `-shm` and `-journal` files the database file's
//! own mode, so creating the database file 0600 before SQLite opens it keeps all of them private
//! from the first write. Files left readable by an older version or a copy are tightened, with
//! a warning.

use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

/// Creates `db` when `create` (empty: SQLite takes an empty file for a new database) readable
/// by its owner only, and tightens it and its companion files when others may read them.
///
/// # Errors
/// `Database` with the I/O error when a file cannot be created or its mode changed.
#[cfg(unix)]
pub(crate) fn make_private(db: &Path, create: bool) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    let io = |e: std::io::Error, path: &Path| {
        StoreError::Database(sqlx::Error::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        )))
    };
    if create {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(db)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            // A missing directory and the like: SQLite reports it in its own words.
            Err(_) => return Ok(()),
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = with_suffix(db, suffix);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e, &path)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io(e, &path))?;
            tracing::warn!(
                file = %path.display(),
                "{} was readable by others (mode {mode:04o}); it is now 0600",
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn make_private(_db: &Path, _create: bool) -> Result<()> {
    Ok(())
}

fn with_suffix(db: &Path, suffix: &str) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}
