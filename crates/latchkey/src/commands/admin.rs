//! `latchkey admin create`.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result, bail};
use latchkey_app::App;

use crate::wiring::app_err;

/// The password from a file, `LATCHKEY_ADMIN_PASSWORD`, or one line of standard input.
fn read_password(file: Option<&Path>) -> Result<String> {
    let line = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
        None => match std::env::var("LATCHKEY_ADMIN_PASSWORD") {
            Ok(pw) => pw,
            Err(_) => {
                eprintln!("password (one line on standard input):");
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            }
        },
    };
    if line.is_empty() {
        bail!(
            "the password is empty; give it with --password-file, LATCHKEY_ADMIN_PASSWORD or standard input"
        );
    }
    Ok(line)
}

/// # Errors
/// Bad input, a taken e-mail address, or storage failure.
pub async fn create(
    app: &App,
    name: &str,
    email: &str,
    password_file: Option<&Path>,
) -> Result<()> {
    let password = read_password(password_file)?;
    let p = app
        .create_admin(name, email, &password)
        .await
        .map_err(app_err)?;
    println!(
        "created admin {} <{}> (person {})",
        p.name,
        p.email.as_deref().unwrap_or(""),
        p.id
    );
    Ok(())
}
