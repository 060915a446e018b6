//! The SQLite files hold every credential's sealed PIN, sign-in digests and the audit log: only
//! the server's own user may read them, from the first write on.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use latchkey_store::Store;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-files-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn with_suffix(db: &Path, suffix: &str) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

async fn assert_private_while_open(db: &Path) {
    let store = Store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    // Migrations wrote through the WAL; the shared-memory index exists while a connection is open.
    for suffix in ["", "-wal", "-shm"] {
        let p = with_suffix(db, suffix);
        assert_eq!(mode(&p), 0o600, "{} is mode {:o}", p.display(), mode(&p));
    }
    store.close().await;
}

#[tokio::test]
async fn a_new_database_and_its_wal_and_shm_files_are_readable_by_their_owner_only() {
    let dir = temp_dir("new");
    assert_private_while_open(&dir.join("latchkey.db")).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_existing_database_that_others_could_read_is_made_private() {
    let dir = temp_dir("existing");
    let db = dir.join("latchkey.db");
    let store = Store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let p = with_suffix(&db, suffix);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    std::fs::write(with_suffix(&db, "-wal"), b"").unwrap();
    std::fs::set_permissions(
        with_suffix(&db, "-wal"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    assert_private_while_open(&db).await;
    let _ = std::fs::remove_dir_all(&dir);
}
