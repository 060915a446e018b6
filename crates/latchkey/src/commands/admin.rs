//! `latchkey admin create`.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result, bail};
use latchkey_app::App;

use crate::wiring::app_err;

/// The first line of `file`, or else of `env`, or else one line of standard input (asked for as
/// `what`): a secret kept out of the shell's history.
///
/// # Errors
/// The file or standard input cannot be read.
pub fn read_secret_line(file: Option<&Path>, env: Option<&str>, what: &str) -> Result<String> {
    if let Some(path) = file {
        return Ok(std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} file {}", path.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .to_owned());
    }
    if let Some(value) = env.and_then(|name| std::env::var(name).ok()) {
        return Ok(value);
    }
    eprintln!("{what} (one line on standard input):");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The password from a file, `LATCHKEY_ADMIN_PASSWORD`, or one line of standard input.
fn read_password(file: Option<&Path>) -> Result<String> {
    let line = read_secret_line(file, Some("LATCHKEY_ADMIN_PASSWORD"), "password")?;
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
