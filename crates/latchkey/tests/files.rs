//! After `serve` starts, the data directory and everything secret in it belong to the server's
//! user alone — also when the directory already existed with looser permissions.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Starts `serve` on `dir`, waits until it listens, checks the modes, and stops it.
fn serve_and_check(dir: &Path) -> String {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--no-mqtt",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir)
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .env_remove("LATCHKEY_MASTER_KEY_FILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("text");
    assert!(first.starts_with("latchkey listening on"), "{first}");
    let mut problems = Vec::new();
    let expect = |p: PathBuf, want: u32, problems: &mut Vec<String>| {
        let got = mode(&p);
        if got != want {
            problems.push(format!("{} is {got:o}, not {want:o}", p.display()));
        }
    };
    expect(dir.to_path_buf(), 0o700, &mut problems);
    for file in [
        "latchkey.db",
        "latchkey.db-wal",
        "latchkey.db-shm",
        "master.key",
    ] {
        expect(dir.join(file), 0o600, &mut problems);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(problems.is_empty(), "{problems:?}\n{log}");
    log
}

#[test]
fn a_new_data_directory_and_its_files_are_private_after_serve_starts() {
    let dir = std::env::temp_dir()
        .join(format!("latchkey-files-{}", std::process::id()))
        .join("data");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    serve_and_check(&dir);
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn an_existing_data_directory_others_could_read_is_tightened_and_the_log_says_so() {
    let dir = std::env::temp_dir().join(format!("latchkey-files-old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("master.key"), "ab".repeat(32)).unwrap();
    for p in [dir.join("master.key"), dir.clone()] {
        let m = if p == dir { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let log = serve_and_check(&dir);
    assert!(
        log.contains("0755") && log.contains("0700"),
        "the log names the old and the new mode: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
