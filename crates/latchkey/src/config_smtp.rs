//! The `[smtp]` table and its `LATCHKEY_SMTP_*` variables: the relay notifications are
//! e-mailed through (docs/OPERATIONS.md, "Notifications"). Without a host, no e-mail is sent
//! and notifications stay in the database.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use latchkey_mail::{Security, SmtpConfig};
use serde::Deserialize;

/// Keys of the `[smtp]` table.
pub const SMTP_KEYS: &[&str] = &[
    "host",
    "port",
    "security",
    "username",
    "password_file",
    "from",
];

/// The `[smtp]` table of the file layer (the password only as a file).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SmtpFileConfig {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: Option<String>,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub from: Option<String>,
}

/// Resolves environment over file; `None` when no host is set.
///
/// # Errors
/// An unknown `security`, a port that is not a number, a password without a user, an
/// unreadable password file, or a missing `from`.
pub fn resolve(
    file: Option<SmtpFileConfig>,
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&std::path::Path) -> Result<String>,
    env_or_file: &dyn Fn(&str) -> Result<Option<String>>,
) -> Result<Option<SmtpConfig>> {
    let file = file.unwrap_or_default();
    let Some(host) = env("LATCHKEY_SMTP_HOST")
        .or(file.host)
        .filter(|h| !h.trim().is_empty())
    else {
        return Ok(None);
    };
    let security_text = env("LATCHKEY_SMTP_SECURITY")
        .or(file.security)
        .unwrap_or_else(|| "starttls".to_owned());
    let Some(security) = Security::parse(security_text.trim()) else {
        bail!("smtp security `{security_text}` must be starttls, tls or plain");
    };
    let port = match env("LATCHKEY_SMTP_PORT") {
        Some(p) => p
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("LATCHKEY_SMTP_PORT=`{p}` is not a port number"))?,
        None => file.port.unwrap_or(match security {
            Security::StartTls => 587,
            Security::Tls => 465,
            Security::Plain => 25,
        }),
    };
    let username = env("LATCHKEY_SMTP_USERNAME").or(file.username);
    let password = match env_or_file("LATCHKEY_SMTP_PASSWORD")? {
        Some(p) => Some(p),
        None => file.password_file.as_deref().map(read_file).transpose()?,
    };
    if password.is_some() && username.is_none() {
        bail!("an SMTP password is set without a username: set smtp username too");
    }
    let Some(from) = env("LATCHKEY_SMTP_FROM").or(file.from) else {
        bail!("smtp from is required with an SMTP host, e.g. \"latchkey <latchkey@example.org>\"");
    };
    let config = SmtpConfig {
        host,
        port,
        security,
        username,
        password,
        from,
        timeout: Duration::from_secs(30),
    };
    latchkey_mail::Smtp::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Option<SmtpConfig>> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let env2 = env.clone();
        resolve(None, &env, &|_| bail!("no files here"), &move |k: &str| {
            Ok(env2(k))
        })
    }

    #[test]
    fn smtp_is_off_without_a_host_and_checked_with_one() {
        assert!(with(&[]).unwrap().is_none());
        let c = with(&[
            ("LATCHKEY_SMTP_HOST", "smtp.example.org"),
            ("LATCHKEY_SMTP_FROM", "latchkey@example.org"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!((c.port, c.security), (587, Security::StartTls));
        let tls = with(&[
            ("LATCHKEY_SMTP_HOST", "smtp.example.org"),
            ("LATCHKEY_SMTP_SECURITY", "tls"),
            ("LATCHKEY_SMTP_FROM", "latchkey@example.org"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(tls.port, 465);
        for (bad, says) in [
            (("LATCHKEY_SMTP_SECURITY", "ssl"), "starttls, tls or plain"),
            (("LATCHKEY_SMTP_PORT", "five"), "not a port"),
            (("LATCHKEY_SMTP_PASSWORD", "p"), "without a username"),
        ] {
            let e = with(&[
                ("LATCHKEY_SMTP_HOST", "smtp.example.org"),
                ("LATCHKEY_SMTP_FROM", "latchkey@example.org"),
                bad,
            ])
            .unwrap_err();
            assert!(e.to_string().contains(says), "{e}");
        }
        let e = with(&[("LATCHKEY_SMTP_HOST", "smtp.example.org")]).unwrap_err();
        assert!(e.to_string().contains("from is required"), "{e}");
        let e = with(&[
            ("LATCHKEY_SMTP_HOST", "smtp.example.org"),
            ("LATCHKEY_SMTP_FROM", "not an address"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("from"), "{e}");
    }

    #[test]
    fn the_password_never_shows_in_debug() {
        let c = with(&[
            ("LATCHKEY_SMTP_HOST", "smtp.example.org"),
            ("LATCHKEY_SMTP_FROM", "latchkey@example.org"),
            ("LATCHKEY_SMTP_USERNAME", "lk"),
            ("LATCHKEY_SMTP_PASSWORD", "hunter2-secret"),
        ])
        .unwrap()
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
