//! Layered configuration: defaults → `latchkey.toml` → `LATCHKEY_*` environment → flags.
//! Unknown keys in the file are reported (by name, with the known keys) but do not stop the
//! server; secrets may come from `*_FILE` variables and never appear in the logged config.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cli::GlobalArgs;

/// The commented example, compiled in so that it cannot drift from what is printed.
pub const EXAMPLE: &str = include_str!("../latchkey.example.toml");

/// Keys `latchkey.toml` understands, in the order of the example.
pub const KNOWN_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "database_url_file",
    "master_key_file",
    "log",
    "secure_cookies",
];

/// The file layer: every key optional.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_url_file: Option<PathBuf>,
    pub master_key_file: Option<PathBuf>,
    pub log: Option<String>,
    pub secure_cookies: Option<bool>,
}

/// Parses the file layer. Unknown keys are dropped and returned as warnings.
///
/// # Errors
/// The text is not TOML, or a known key has the wrong type.
pub fn parse_file(text: &str, origin: &str) -> Result<(FileConfig, Vec<String>)> {
    let mut table: toml::Table = text
        .parse()
        .with_context(|| format!("{origin} is not valid TOML"))?;
    let unknown: Vec<String> = table
        .keys()
        .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    let warnings = unknown
        .iter()
        .map(|k| {
            format!(
                "{origin}: unknown key `{k}` is ignored (known keys: {})",
                KNOWN_KEYS.join(", ")
            )
        })
        .collect();
    for k in &unknown {
        table.remove(k);
    }
    let file: FileConfig = table
        .try_into()
        .with_context(|| format!("{origin} has a key with a value of the wrong type"))?;
    Ok((file, warnings))
}

/// A secret that prints as `****`.
#[derive(Clone, Default)]
pub struct Secret(pub Option<String>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(_) => f.write_str("****"),
            None => f.write_str("(data dir)"),
        }
    }
}

/// The effective configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// The master key as hex, when given by environment or file; else the data dir's key.
    pub master_key: Secret,
    pub log: String,
    pub secure_cookies: bool,
    /// Problems that did not stop start-up, for the log.
    pub warnings: Vec<String>,
}

impl Config {
    /// One line for the start-up log, secrets redacted.
    pub fn summary(&self) -> String {
        format!(
            "listen={} data_dir={} database_url={} master_key={:?} log={} secure_cookies={}",
            self.listen,
            self.data_dir.display(),
            latchkey_store::redact_url(&self.database_url),
            self.master_key,
            self.log,
            self.secure_cookies
        )
    }
}

fn read_secret_file(path: &Path, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} from {}", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim().to_owned();
    if line.is_empty() {
        bail!("{} is empty; it must hold the {what}", path.display());
    }
    Ok(line)
}

/// `NAME` or the first line of the file named by `NAME_FILE` (both set is an error).
fn env_or_file(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<Option<String>> {
    let file_var = format!("{name}_FILE");
    match (env(name), env(&file_var)) {
        (Some(_), Some(_)) => bail!("set either {name} or {file_var}, not both"),
        (Some(v), None) => Ok(Some(v)),
        (None, Some(path)) => Ok(Some(read_secret_file(Path::new(&path), name)?)),
        (None, None) => Ok(None),
    }
}

/// Resolves the layers. `env` reads an environment variable (a parameter so tests need not
/// touch the process environment).
///
/// # Errors
/// An unreadable or malformed config file, or an unreadable secret file.
pub fn load(
    flags: &GlobalArgs,
    listen_flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config> {
    let (file, mut warnings) = match &flags.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the config file {}", path.display()))?;
            parse_file(&text, &path.display().to_string())?
        }
        None => match std::fs::read_to_string("latchkey.toml") {
            Ok(text) => parse_file(&text, "latchkey.toml")?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(e) => return Err(e).context("cannot read ./latchkey.toml"),
        },
    };
    let data_dir = flags
        .data_dir
        .clone()
        .or_else(|| env("LATCHKEY_DATA_DIR").map(PathBuf::from))
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("./latchkey-data"));
    let file_url = match (file.database_url, file.database_url_file) {
        (Some(_), Some(_)) => bail!("the config file sets both database_url and database_url_file"),
        (Some(u), None) => Some(u),
        (None, Some(p)) => Some(read_secret_file(&p, "database URL")?),
        (None, None) => None,
    };
    let database_url = match flags.database_url.clone() {
        Some(u) => u,
        None => match env_or_file(env, "LATCHKEY_DATABASE_URL")?.or(file_url) {
            Some(u) => u,
            None => format!("sqlite://{}/latchkey.db", data_dir.display()),
        },
    };
    let master_key = match env_or_file(env, "LATCHKEY_MASTER_KEY")? {
        Some(k) => Some(k),
        None => file
            .master_key_file
            .as_deref()
            .map(|p| read_secret_file(p, "master key"))
            .transpose()?,
    };
    let listen = listen_flag
        .map(str::to_owned)
        .or_else(|| env("LATCHKEY_LISTEN"))
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let log = env("LATCHKEY_LOG")
        .or(file.log)
        .unwrap_or_else(|| "info".to_owned());
    if let Some(v) = env("RUST_LOG") {
        warnings.push(format!("RUST_LOG={v} is ignored; use LATCHKEY_LOG"));
    }
    Ok(Config {
        listen,
        data_dir,
        database_url,
        master_key: Secret(master_key),
        log,
        secure_cookies: file.secure_cookies.unwrap_or(false),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses_with_no_unknown_keys() {
        let (file, warnings) = parse_file(EXAMPLE, "example").expect("example parses");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(file.listen.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(file.secure_cookies, Some(false));
    }

    #[test]
    fn an_unknown_key_warns_by_name_and_lists_the_known_ones() {
        let (file, warnings) =
            parse_file("listn = \"0.0.0.0:80\"\nlog = \"debug\"\n", "t.toml").expect("parses");
        assert_eq!(file.log.as_deref(), Some("debug"));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("`listn`"), "{}", warnings[0]);
        assert!(warnings[0].contains("listen"), "{}", warnings[0]);
    }

    #[test]
    fn flags_beat_environment_which_beats_defaults() {
        let env = |k: &str| match k {
            "LATCHKEY_LISTEN" => Some("0.0.0.0:9000".to_owned()),
            "LATCHKEY_DATA_DIR" => Some("/srv/lk".to_owned()),
            "LATCHKEY_MASTER_KEY" => Some("ab".repeat(32)),
            _ => None,
        };
        let flags = GlobalArgs {
            config: Some(PathBuf::from("/nonexistent/latchkey.toml")),
            ..Default::default()
        };
        assert!(
            load(&flags, None, &env).is_err(),
            "a named config file must exist"
        );
        let flags = GlobalArgs::default();
        let c = load(&flags, Some("127.0.0.1:1"), &env).expect("loads");
        assert_eq!(c.listen, "127.0.0.1:1");
        assert_eq!(c.data_dir, PathBuf::from("/srv/lk"));
        assert_eq!(c.database_url, "sqlite:///srv/lk/latchkey.db");
        assert!(!c.summary().contains("abab"), "{}", c.summary());
    }

    #[test]
    fn a_database_password_never_reaches_the_summary() {
        let env = |k: &str| {
            (k == "LATCHKEY_DATABASE_URL").then(|| "postgres://lk:hunter2@db/lk".to_owned())
        };
        let c = load(&GlobalArgs::default(), None, &env).expect("loads");
        assert!(!c.summary().contains("hunter2"), "{}", c.summary());
    }
}
