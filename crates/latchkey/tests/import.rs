//! `latchkey import` through the real binary, on every backend: a file with wrong lines names
//! each on standard error, fails and writes nothing; fixed, it imports with a summary and the
//! invitation links in a private file; the same file again is refused.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

const HEADER: &str = "unit,floor,door,resident_name,resident_email,role\n";

fn run(dir: &PathBuf, url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .arg("--database-url")
        .arg(url)
        .args(args)
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .env("LATCHKEY_ADMIN_PASSWORD", "correct-horse-battery")
        .env("LATCHKEY_LOG", "warn")
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn import_names_each_wrong_line_then_imports_the_fixed_file_once() {
    latchkey_testkit::each_backend("cli_import", |db| async move {
        let dir = std::env::temp_dir().join(format!(
            "latchkey-import-{:?}-{}",
            db.backend,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let ok = |args: &[&str]| {
            let (ok, out, err) = run(&dir, &db.url, args);
            assert!(ok, "{args:?} failed: {out}{err}");
            out
        };
        ok(&[
            "admin",
            "create",
            "--name",
            "Ada",
            "--email",
            "ada@example.org",
        ]);
        ok(&[
            "property",
            "create",
            "--name",
            "Birch",
            "--timezone",
            "Europe/Berlin",
        ]);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("birch.csv");
        let bad = format!(
            "{HEADER}1A,1,Door 1A,Ana,ana@example.org,\n1B,1,Door 1B,Bo,bo@,\n\
             1C,1,Door 1C,Cy,,tenant\n"
        );
        std::fs::write(&file, bad).unwrap();
        let path = file.to_str().unwrap();
        let (good, out, err) = run(&dir, &db.url, &["import", "--property", "1", path]);
        assert!(!good, "wrong lines fail: {out}");
        assert!(
            err.contains("birch.csv: line 3: resident_email `bo@`"),
            "{err}"
        );
        assert!(err.contains("birch.csv: line 4: role `tenant`"), "{err}");
        assert!(
            err.contains("2 lines are wrong; nothing was imported"),
            "{err}"
        );

        let fixed = format!(
            "{HEADER}1A,1,Door 1A,Ana,ana@example.org,\n1B,1,Door 1B,Bo,bo@example.org,\n\
             1C,1,Door 1C,Cy,,household\n"
        );
        std::fs::write(&file, fixed).unwrap();
        // The check passing shows the refused run wrote no unit.
        let checked = ok(&["import", "--property", "1", "--check", path]);
        assert!(
            checked.contains(
                "it would import 3 units, 3 entry doors and 3 people; nothing was written"
            ),
            "{checked}"
        );
        let links = dir.join("links.csv");
        let out = ok(&[
            "import",
            "--property",
            "1",
            path,
            "--invitations",
            links.to_str().unwrap(),
        ]);
        assert!(
            out.contains("imported 3 units, 3 entry doors and 3 people into property 1"),
            "{out}"
        );
        assert!(out.contains("2 invitation links written to"), "{out}");
        let text = std::fs::read_to_string(&links).unwrap();
        assert!(
            text.starts_with("unit,name,email,link,valid_until\n"),
            "{text}"
        );
        assert_eq!(text.matches("/welcome?t=lki_").count(), 2, "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&links).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only its owner reads the links");
        }

        let (again, _, err) = run(&dir, &db.url, &["import", "--property", "1", path]);
        assert!(!again);
        assert!(
            err.contains("line 2: unit 1A already exists in this property"),
            "{err}"
        );
        assert!(err.contains("3 lines are wrong"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
        db.remove().await;
    })
    .await;
}
