//! Layered configuration: defaults → `latchkey.toml` → `LATCHKEY_*` environment → flags.
//! Unknown keys in the file are reported (by name, with the known keys) but do not stop the
//! server; secrets may come from `*_FILE` variables and never appear in the logged config.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use latchkey_http::{PublicOrigin, ScrapeToken};
use latchkey_mqtt::MqttUrl;
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
    "log_format",
    "metrics_token_file",
    "secure_cookies",
    "public_url",
    "mqtt_listen",
    "mqtt_url",
    "mqtt_url_file",
    "mqtt_base_topic",
    "zwave_prefix",
    "zwave_gateway_name",
    "mqtt_tls_cert",
    "mqtt_tls_key",
    "replica_id",
    "push_subject",
    "alarm_window_seconds",
    "alarm_offline_grace_seconds",
    "webhook_targets",
    "audit",
    "smtp",
    "home_assistant",
];

/// Keys of the `[audit]` table.
pub const AUDIT_KEYS: &[&str] = &["anchor_file"];

/// The file layer: every key optional.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_url_file: Option<PathBuf>,
    pub master_key_file: Option<PathBuf>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    pub metrics_token_file: Option<PathBuf>,
    pub secure_cookies: Option<bool>,
    pub public_url: Option<String>,
    pub mqtt_listen: Option<String>,
    pub mqtt_url: Option<String>,
    pub mqtt_url_file: Option<PathBuf>,
    pub mqtt_base_topic: Option<String>,
    pub zwave_prefix: Option<String>,
    pub zwave_gateway_name: Option<String>,
    pub mqtt_tls_cert: Option<PathBuf>,
    pub mqtt_tls_key: Option<PathBuf>,
    pub replica_id: Option<String>,
    pub push_subject: Option<String>,
    pub alarm_window_seconds: Option<u32>,
    pub alarm_offline_grace_seconds: Option<u32>,
    pub webhook_targets: Option<String>,
    pub audit: Option<AuditFileConfig>,
    pub smtp: Option<crate::config_smtp::SmtpFileConfig>,
    pub home_assistant: Option<crate::config_hass::HassFileConfig>,
}

/// The `[audit]` table of the file layer.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuditFileConfig {
    pub anchor_file: Option<PathBuf>,
}

/// What `serve` flags override; every other command passes `Overrides::default()`.
#[derive(Clone, Debug, Default)]
pub struct Overrides<'a> {
    pub listen: Option<&'a str>,
    pub mqtt_listen: Option<&'a str>,
    pub mqtt_url: Option<&'a str>,
    pub audit_anchor_file: Option<&'a Path>,
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
    let mut warnings: Vec<String> = unknown
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
    if let Some(toml::Value::Table(smtp)) = table.get_mut("smtp") {
        let unknown: Vec<String> = smtp
            .keys()
            .filter(|k| !crate::config_smtp::SMTP_KEYS.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            warnings.push(format!(
                "{origin}: unknown key `smtp.{k}` is ignored (known keys of [smtp]: {})",
                crate::config_smtp::SMTP_KEYS.join(", ")
            ));
            smtp.remove(&k);
        }
    }
    if let Some(toml::Value::Table(hass)) = table.get_mut("home_assistant") {
        let unknown: Vec<String> = hass
            .keys()
            .filter(|k| !crate::config_hass::HASS_KEYS.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            warnings.push(format!(
                "{origin}: unknown key `home_assistant.{k}` is ignored (known keys of \
                 [home_assistant]: {})",
                crate::config_hass::HASS_KEYS.join(", ")
            ));
            hass.remove(&k);
        }
    }
    if let Some(toml::Value::Table(audit)) = table.get_mut("audit") {
        let unknown: Vec<String> = audit
            .keys()
            .filter(|k| !AUDIT_KEYS.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            warnings.push(format!(
                "{origin}: unknown key `audit.{k}` is ignored (known keys of [audit]: {})",
                AUDIT_KEYS.join(", ")
            ));
            audit.remove(&k);
        }
    }
    let file: FileConfig = table
        .try_into()
        .with_context(|| format!("{origin} has a key with a value of the wrong type"))?;
    Ok((file, warnings))
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// For a person at a terminal or reading a journal.
    #[default]
    Text,
    /// One JSON object a line (`timestamp`, `level`, `target`, `message` and the event's
    /// fields), for a log collector.
    Json,
}

impl LogFormat {
    /// Parses `text` or `json`.
    ///
    /// # Errors
    /// Any other value, with the two accepted.
    pub fn parse(s: &str) -> Result<LogFormat> {
        match s.trim() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => bail!("log_format `{other}` must be text or json"),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
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
    /// How log lines are written: human text (the default) or one JSON object a line.
    pub log_format: LogFormat,
    /// The token a Prometheus scraper presents to read `/metrics`; `None`: metrics are off.
    pub metrics_token: Option<ScrapeToken>,
    /// Whether the session cookie is `Secure`, when set; else see [`Config::cookies_secure`].
    pub secure_cookies: Option<bool>,
    /// The URL browsers reach latchkey at (behind a proxy: the proxy's), whose origin is the
    /// only one allowed to send changes with the session cookie.
    pub public_url: Option<PublicOrigin>,
    /// Where the embedded MQTT broker listens (MQTT 3.1.1, for Zigbee2MQTT and devices).
    pub mqtt_listen: SocketAddr,
    /// An external broker to use instead of the embedded one. `Display` redacts the password.
    pub mqtt_url: Option<MqttUrl>,
    /// Zigbee2MQTT's `mqtt.base_topic`.
    pub mqtt_base_topic: String,
    /// The Z-Wave JS UI gateway's MQTT prefix and name, when Z-Wave locks are run
    /// (docs/DEVICES.md, "Z-Wave JS UI"); `None`: no Z-Wave (the default).
    pub zwave: Option<latchkey_zwave::Topics>,
    /// TLS on the embedded broker's device listener: certificate chain and key (PEM files).
    pub mqtt_tls: Option<latchkey_mqtt::TlsFiles>,
    /// This replica's stable name: its MQTT client id is `latchkey-<replica_id>` (so a
    /// restarted replica resumes its persistent session) and it holds the reconciler lease.
    pub replica_id: String,
    /// Where `serve` appends signed anchors of the audit chain's head (outside the data
    /// directory); they also go to the log.
    pub audit_anchor_file: Option<PathBuf>,
    /// The relay notifications are e-mailed through; `None` sends no e-mail. `Debug`
    /// redacts the password.
    pub smtp: Option<latchkey_mail::SmtpConfig>,
    /// Home Assistant's MQTT discovery and commands; `None`: off (the default).
    pub home_assistant: Option<crate::config_hass::HassConfig>,
    /// The operator's contact for push services (`mailto:` or `https:`); `None` turns
    /// notifications on devices off.
    pub push_subject: Option<String>,
    /// How staff are told of alarms: the digest window and the offline grace.
    pub alarms: latchkey_app::alarms::AlarmConfig,
    /// Which addresses webhook endpoints may reach (`lan` or `public`).
    pub webhook_targets: latchkey_webhook::Targets,
    /// Problems that did not stop start-up, for the log.
    pub warnings: Vec<String>,
}

impl Config {
    /// Where links printed by the terminal point: the public URL, else this machine's
    /// `localhost` at the listening port.
    pub fn link_base(&self) -> String {
        match &self.public_url {
            Some(url) => url.to_string(),
            None => {
                let port = self.listen.rsplit_once(':').map_or("8080", |(_, p)| p);
                format!("http://localhost:{port}")
            }
        }
    }

    /// One line for the start-up log, secrets redacted.
    pub fn summary(&self) -> String {
        format!(
            "listen={} data_dir={} database_url={} master_key={:?} log={} secure_cookies={} \
             public_url={} mqtt_listen={} mqtt_url={} mqtt_base_topic={} mqtt_tls={} \
             zwave={} replica_id={} audit_anchor_file={} smtp={} home_assistant={} \
             push_subject={} log_format={} metrics={} alarm_window={}s \
             alarm_offline_grace={}s webhook_targets={:?}",
            self.listen,
            self.data_dir.display(),
            latchkey_store::redact_url(&self.database_url),
            self.master_key,
            self.log,
            self.secure_cookies
                .map_or_else(|| "(unless loopback)".to_owned(), |b| b.to_string()),
            self.public_url
                .as_ref()
                .map_or_else(|| "(from Host)".to_owned(), ToString::to_string),
            self.mqtt_listen,
            self.mqtt_url
                .as_ref()
                .map_or_else(|| "(embedded broker)".to_owned(), ToString::to_string),
            self.mqtt_base_topic,
            self.mqtt_tls
                .as_ref()
                .map_or_else(|| "off".to_owned(), |t| t.cert.display().to_string()),
            self.zwave.as_ref().map_or_else(
                || "off".to_owned(),
                |z| format!("{} ({})", z.prefix(), z.client_id())
            ),
            self.replica_id,
            self.audit_anchor_file
                .as_ref()
                .map_or_else(|| "(log only)".to_owned(), |p| p.display().to_string()),
            self.smtp.as_ref().map_or_else(
                || "(no e-mail)".to_owned(),
                |s| format!("{}:{} {:?} from {}", s.host, s.port, s.security, s.from)
            ),
            self.home_assistant.as_ref().map_or_else(
                || "off".to_owned(),
                |h| format!(
                    "on (discovery {}, topics {}, broker {})",
                    h.topics.discovery_prefix(),
                    h.topics.prefix(),
                    h.mqtt_url
                        .as_ref()
                        .map_or_else(|| "latchkey's own".to_owned(), ToString::to_string)
                )
            ),
            self.push_subject.as_deref().unwrap_or("(push off)"),
            self.log_format.as_str(),
            if self.metrics_token.is_some() {
                "on (token)"
            } else {
                "off"
            },
            self.alarms.window.as_secs(),
            self.alarms.offline_grace.as_secs(),
            self.webhook_targets,
        )
    }
}

impl Config {
    /// Whether the session cookie is marked `Secure` when serving on `bound`: as configured;
    /// else as the public URL's scheme says; else unless the address is loopback (a browser
    /// on the same machine over plain HTTP is the one case where the cookie must travel
    /// without TLS).
    pub fn cookies_secure(&self, bound: SocketAddr) -> bool {
        self.secure_cookies
            .unwrap_or_else(|| match &self.public_url {
                Some(url) => url.is_https(),
                None => !bound.ip().is_loopback(),
            })
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
    overrides: &Overrides<'_>,
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
    let listen = overrides
        .listen
        .map(str::to_owned)
        .or_else(|| env("LATCHKEY_LISTEN"))
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let log = env("LATCHKEY_LOG")
        .or(file.log)
        .unwrap_or_else(|| "info".to_owned());
    let log_format = env("LATCHKEY_LOG_FORMAT")
        .or(file.log_format)
        .map(|f| LogFormat::parse(&f))
        .transpose()?
        .unwrap_or_default();
    let metrics_token = match env_or_file(env, "LATCHKEY_METRICS_TOKEN")? {
        Some(t) => Some(t),
        None => file
            .metrics_token_file
            .as_deref()
            .map(|p| read_secret_file(p, "metrics token"))
            .transpose()?,
    }
    .map(|t| ScrapeToken::new(&t).map_err(|e| anyhow::anyhow!("{e}")))
    .transpose()?;
    if let Some(v) = env("RUST_LOG") {
        warnings.push(format!("RUST_LOG={v} is ignored; use LATCHKEY_LOG"));
    }
    let mqtt_listen_text = overrides
        .mqtt_listen
        .map(str::to_owned)
        .or_else(|| env("LATCHKEY_MQTT_LISTEN"))
        .or(file.mqtt_listen)
        .unwrap_or_else(|| DEFAULT_MQTT_LISTEN.to_owned());
    let mqtt_listen: SocketAddr = mqtt_listen_text.parse().with_context(|| {
        format!("mqtt_listen `{mqtt_listen_text}` is not an address like 127.0.0.1:1883")
    })?;
    let file_mqtt_url = match (file.mqtt_url, file.mqtt_url_file) {
        (Some(_), Some(_)) => bail!("the config file sets both mqtt_url and mqtt_url_file"),
        (Some(u), None) => Some(u),
        (None, Some(p)) => Some(read_secret_file(&p, "MQTT broker URL")?),
        (None, None) => None,
    };
    let mqtt_url = match overrides.mqtt_url {
        Some(u) => Some(u.to_owned()),
        None => env_or_file(env, "LATCHKEY_MQTT_URL")?.or(file_mqtt_url),
    }
    .map(|u| MqttUrl::parse(&u))
    .transpose()?;
    let secure_cookies = match env("LATCHKEY_SECURE_COOKIES") {
        Some(v) => Some(match v.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => bail!("LATCHKEY_SECURE_COOKIES=`{v}` must be true or false"),
        }),
        None => file.secure_cookies,
    };
    let public_url = env("LATCHKEY_PUBLIC_URL")
        .or(file.public_url)
        .filter(|u| !u.trim().is_empty())
        .map(|u| PublicOrigin::parse(&u).map_err(|e| anyhow::anyhow!("public_url: {e}")))
        .transpose()?;
    let mqtt_base_topic = env("LATCHKEY_MQTT_BASE_TOPIC")
        .or(file.mqtt_base_topic)
        .unwrap_or_else(|| "zigbee2mqtt".to_owned());
    latchkey_z2m::Topics::new(mqtt_base_topic.clone())
        .with_context(|| format!("mqtt_base_topic `{mqtt_base_topic}` cannot be used"))?;
    let zwave = zwave_topics(
        env("LATCHKEY_ZWAVE_PREFIX").or(file.zwave_prefix),
        env("LATCHKEY_ZWAVE_GATEWAY_NAME").or(file.zwave_gateway_name),
    )?;
    let tls_cert = env("LATCHKEY_MQTT_TLS_CERT")
        .map(PathBuf::from)
        .or(file.mqtt_tls_cert);
    let tls_key = env("LATCHKEY_MQTT_TLS_KEY")
        .map(PathBuf::from)
        .or(file.mqtt_tls_key);
    let mqtt_tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(latchkey_mqtt::TlsFiles { cert, key }),
        (None, None) => None,
        _ => bail!("mqtt_tls_cert and mqtt_tls_key go together: set both or neither"),
    };
    let replica_id = env("LATCHKEY_REPLICA_ID")
        .or(file.replica_id)
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(hostname);
    let audit_anchor_file = overrides
        .audit_anchor_file
        .map(Path::to_path_buf)
        .or_else(|| env("LATCHKEY_AUDIT_ANCHOR_FILE").map(PathBuf::from))
        .or(file.audit.and_then(|a| a.anchor_file));
    if let Some(anchor) = &audit_anchor_file {
        outside_data_dir(anchor, &data_dir)?;
    }
    let smtp = crate::config_smtp::resolve(
        file.smtp,
        env,
        &|p| read_secret_file(p, "SMTP password"),
        &|name| env_or_file(env, name),
    )?;
    let push_subject = env("LATCHKEY_PUSH_SUBJECT")
        .or(file.push_subject)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if let Some(subject) = &push_subject {
        latchkey_push::vapid::check_subject(subject).map_err(anyhow::Error::msg)?;
    }
    let home_assistant = crate::config_hass::resolve(
        file.home_assistant,
        env,
        &|p, what| read_secret_file(p, what),
        &|name| env_or_file(env, name),
        &mqtt_base_topic,
    )?;
    let alarms = latchkey_app::alarms::AlarmConfig {
        window: alarm_seconds(
            env("LATCHKEY_ALARM_WINDOW_SECONDS"),
            file.alarm_window_seconds,
            "alarm_window_seconds",
            30,
        )?,
        offline_grace: alarm_seconds(
            env("LATCHKEY_ALARM_OFFLINE_GRACE_SECONDS"),
            file.alarm_offline_grace_seconds,
            "alarm_offline_grace_seconds",
            60,
        )?,
    };
    let webhook_targets = match env("LATCHKEY_WEBHOOK_TARGETS")
        .or(file.webhook_targets)
        .as_deref()
        .map(str::trim)
    {
        None | Some("lan") => latchkey_webhook::Targets::AnyButLinkLocal,
        Some("public") => latchkey_webhook::Targets::PublicOnly,
        Some(other) => bail!("webhook_targets `{other}` is not one of: lan, public"),
    };
    Ok(Config {
        smtp,
        home_assistant,
        push_subject,
        alarms,
        webhook_targets,
        listen,
        data_dir,
        database_url,
        master_key: Secret(master_key),
        log,
        log_format,
        metrics_token,
        secure_cookies,
        public_url,
        mqtt_listen,
        mqtt_url,
        mqtt_base_topic,
        zwave,
        mqtt_tls,
        replica_id,
        audit_anchor_file,
        warnings,
    })
}

/// The Z-Wave JS UI gateway's topics: on when a prefix is given, its name `zwave-js-ui` unless
/// said otherwise.
///
/// # Errors
/// A name without a prefix, or a prefix or name the gateway could not have.
fn zwave_topics(
    prefix: Option<String>,
    name: Option<String>,
) -> Result<Option<latchkey_zwave::Topics>> {
    let prefix = prefix
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty());
    let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    match (prefix, name) {
        (None, None) => Ok(None),
        (None, Some(_)) => bail!(
            "zwave_gateway_name is set but zwave_prefix is not: set zwave_prefix (Z-Wave JS \
             UI's MQTT prefix, `zwave` by default) to run Z-Wave locks"
        ),
        (Some(prefix), name) => {
            let name = name.unwrap_or_else(|| latchkey_zwave::topic::DEFAULT_NAME.to_owned());
            latchkey_zwave::Topics::new(&prefix, &name, latchkey_zwave::NodeNaming::Ids)
                .map(Some)
                .map_err(|e| {
                    anyhow::anyhow!("zwave_prefix `{prefix}` / zwave_gateway_name `{name}`: {e}")
                })
        }
    }
}

/// Seconds from the environment, else the file, else `default`; at most an hour.
fn alarm_seconds(
    env: Option<String>,
    file: Option<u32>,
    name: &str,
    default: u32,
) -> Result<jiff::SignedDuration> {
    let secs = match env {
        Some(v) => v.trim().parse::<u32>().with_context(|| {
            format!(
                "LATCHKEY_{}=`{v}` must be a whole number of seconds",
                name.to_uppercase()
            )
        })?,
        None => file.unwrap_or(default),
    };
    if secs > 3_600 {
        bail!("{name} = {secs} is too long: at most 3600 seconds (an hour)");
    }
    Ok(jiff::SignedDuration::from_secs(i64::from(secs)))
}

/// Refuses an anchor file inside the data directory: whoever can change the database there can
/// change the anchors next to it, and anchors are only worth keeping where they cannot.
///
/// # Errors
/// The file is inside the data directory (symbolic links followed as far as they exist).
pub fn outside_data_dir(anchor: &Path, data_dir: &Path) -> Result<()> {
    let (a, d) = (resolved(anchor), resolved(data_dir));
    if a.starts_with(&d) {
        bail!(
            "the audit anchor file {} is inside the data directory {}; anchors must be kept \
             where the database's writers cannot change them: choose a file outside it (another \
             disk, mount or machine), e.g. /var/log/latchkey/anchors",
            anchor.display(),
            data_dir.display()
        );
    }
    Ok(())
}

/// `path` made absolute and normalised (`.` and `..` taken out by hand), with its longest
/// existing ancestor resolved by the file system (symbolic links).
fn resolved(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut absolute = PathBuf::new();
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                absolute.pop();
            }
            Component::CurDir => {}
            other => absolute.push(other),
        }
    }
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let mut out = loop {
        if let Ok(real) = existing.canonicalize() {
            break real;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break absolute.clone(),
        }
    };
    if out != absolute {
        for name in rest.iter().rev() {
            out.push(name);
        }
    }
    out
}

/// The embedded broker's default address: the standard MQTT port, loopback only.
pub const DEFAULT_MQTT_LISTEN: &str = "127.0.0.1:1883";

/// The machine's host name, the default replica id: stable across restarts, so a restarted
/// replica gets its persistent MQTT session (and the reconciler lease) back. `latchkey` when
/// the name cannot be read.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "latchkey".to_owned())
}

/// The tracing filter to install: the configured one, with rumqttd (which logs every ordinary
/// client disconnect at ERROR) held to warnings unless the filter says otherwise about it.
pub fn log_filter(configured: &str) -> String {
    let configured = configured.trim();
    if configured.contains("rumqttd") {
        configured.to_owned()
    } else if configured.is_empty() {
        "info,rumqttd=warn".to_owned()
    } else {
        format!("{configured},rumqttd=warn")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration with only these environment variables set.
    fn load_with(vars: &'static [(&'static str, &'static str)]) -> Result<Config> {
        load(
            &GlobalArgs::default(),
            &Overrides::default(),
            &move |k: &str| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| (*v).to_owned())
            },
        )
    }

    #[test]
    fn the_example_config_parses_with_no_unknown_keys() {
        let (file, warnings) = parse_file(EXAMPLE, "example").expect("example parses");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(file.listen.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(file.secure_cookies, None, "the default is decided at start");
    }

    #[test]
    fn the_cookie_is_secure_unless_serving_on_loopback_or_told_otherwise() {
        let local: SocketAddr = "127.0.0.1:8080".parse().expect("address");
        let local6: SocketAddr = "[::1]:8080".parse().expect("address");
        let open: SocketAddr = "0.0.0.0:8080".parse().expect("address");
        let c = load_with(&[]).expect("loads");
        assert!(!c.cookies_secure(local) && !c.cookies_secure(local6));
        assert!(
            c.cookies_secure(open),
            "beyond loopback the cookie is Secure"
        );
        let c = load_with(&[("LATCHKEY_SECURE_COOKIES", "false")]).expect("loads");
        assert!(!c.cookies_secure(open), "an operator may turn it off");
        let c = load_with(&[("LATCHKEY_SECURE_COOKIES", "true")]).expect("loads");
        assert!(c.cookies_secure(local), "an operator may force it on");
        let c = load_with(&[("LATCHKEY_PUBLIC_URL", "https://door.example.org")]).expect("loads");
        assert!(
            c.cookies_secure(local),
            "behind a TLS proxy on the same machine"
        );
        assert!(c.summary().contains("public_url=https://door.example.org"));
        assert!(load_with(&[("LATCHKEY_SECURE_COOKIES", "maybe")]).is_err());
        let e = load_with(&[("LATCHKEY_PUBLIC_URL", "door.example.org/x")]).expect_err("refused");
        assert!(e.to_string().contains("public_url"), "{e}");
    }

    #[test]
    fn zwave_is_off_until_a_prefix_is_given_and_bad_settings_are_refused() {
        let c = load_with(&[]).expect("loads");
        assert!(c.zwave.is_none());
        assert!(c.summary().contains("zwave=off"));
        let c = load_with(&[("LATCHKEY_ZWAVE_PREFIX", "zwave")]).expect("loads");
        let z = c.zwave.as_ref().expect("on");
        assert_eq!(
            (z.prefix(), z.client_id()),
            ("zwave", "ZWAVE_GATEWAY-zwave-js-ui")
        );
        let c = load_with(&[
            ("LATCHKEY_ZWAVE_PREFIX", "home/zw"),
            ("LATCHKEY_ZWAVE_GATEWAY_NAME", "attic"),
        ])
        .expect("loads");
        assert!(c.summary().contains("zwave=home/zw (ZWAVE_GATEWAY-attic)"));
        for (vars, says) in [
            (
                &[("LATCHKEY_ZWAVE_GATEWAY_NAME", "attic")][..],
                "zwave_prefix is not",
            ),
            (&[("LATCHKEY_ZWAVE_PREFIX", "zw/#")][..], "zwave_prefix"),
            (&[("LATCHKEY_ZWAVE_PREFIX", "zw//a")][..], "zwave_prefix"),
        ] {
            let e = load_with(vars).expect_err("refused");
            assert!(e.to_string().contains(says), "{e}");
        }
    }

    #[test]
    fn the_alarm_window_and_grace_come_from_the_environment_and_stay_within_an_hour() {
        let c = load_with(&[]).expect("loads");
        assert_eq!(c.alarms.window, jiff::SignedDuration::from_secs(30));
        assert_eq!(c.alarms.offline_grace, jiff::SignedDuration::from_secs(60));
        let c = load_with(&[
            ("LATCHKEY_ALARM_WINDOW_SECONDS", "20"),
            ("LATCHKEY_ALARM_OFFLINE_GRACE_SECONDS", "0"),
        ])
        .expect("loads");
        assert_eq!(c.alarms.window, jiff::SignedDuration::from_secs(20));
        assert_eq!(c.alarms.offline_grace, jiff::SignedDuration::ZERO);
        assert!(c.summary().contains("alarm_window=20s"));
        let e = load_with(&[("LATCHKEY_ALARM_WINDOW_SECONDS", "3601")]).expect_err("refused");
        assert!(e.to_string().contains("alarm_window_seconds"), "{e}");
        let e = load_with(&[("LATCHKEY_ALARM_WINDOW_SECONDS", "soon")]).expect_err("refused");
        assert!(
            e.to_string().contains("LATCHKEY_ALARM_WINDOW_SECONDS"),
            "{e}"
        );
        let (file, warnings) = parse_file("alarm_window_seconds = 25\n", "t.toml").expect("parses");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(file.alarm_window_seconds, Some(25));
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
            load(&flags, &Overrides::default(), &env).is_err(),
            "a named config file must exist"
        );
        let flags = GlobalArgs::default();
        let c = load(
            &flags,
            &Overrides {
                listen: Some("127.0.0.1:1"),
                ..Default::default()
            },
            &env,
        )
        .expect("loads");
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
        let c = load(&GlobalArgs::default(), &Overrides::default(), &env).expect("loads");
        assert!(!c.summary().contains("hunter2"), "{}", c.summary());
    }

    #[test]
    fn mqtt_defaults_to_the_embedded_broker_on_the_standard_port() {
        let c = load(&GlobalArgs::default(), &Overrides::default(), &|_| None).expect("loads");
        assert_eq!(c.mqtt_listen.to_string(), DEFAULT_MQTT_LISTEN);
        assert!(c.mqtt_url.is_none());
        assert_eq!(c.mqtt_base_topic, "zigbee2mqtt");
        assert!(!c.replica_id.is_empty());
        assert!(
            c.summary().contains("mqtt_url=(embedded broker)"),
            "{}",
            c.summary()
        );
    }

    #[test]
    fn mqtt_flags_beat_the_environment_and_the_broker_password_is_redacted() {
        let env = |k: &str| match k {
            "LATCHKEY_MQTT_LISTEN" => Some("0.0.0.0:1884".to_owned()),
            "LATCHKEY_MQTT_URL" => Some("mqtt://env:envpass@env-host".to_owned()),
            "LATCHKEY_REPLICA_ID" => Some("node-b".to_owned()),
            "LATCHKEY_MQTT_BASE_TOPIC" => Some("z2m/house".to_owned()),
            _ => None,
        };
        let c = load(&GlobalArgs::default(), &Overrides::default(), &env).expect("loads");
        assert_eq!(c.mqtt_listen.to_string(), "0.0.0.0:1884");
        assert_eq!(c.replica_id, "node-b");
        assert_eq!(c.mqtt_base_topic, "z2m/house");
        assert!(!c.summary().contains("envpass"), "{}", c.summary());
        let flags = Overrides {
            mqtt_listen: Some("127.0.0.1:0"),
            mqtt_url: Some("mqtts://lk:s3cret@broker.example:8883"),
            ..Default::default()
        };
        let c = load(&GlobalArgs::default(), &flags, &env).expect("loads");
        assert_eq!(c.mqtt_listen.port(), 0);
        let url = c.mqtt_url.as_ref().expect("a broker URL");
        assert_eq!(
            (url.host(), url.port(), url.is_tls()),
            ("broker.example", 8883, true)
        );
        assert_eq!(url.password(), Some("s3cret"));
        assert!(!c.summary().contains("s3cret"), "{}", c.summary());
        assert!(c.summary().contains("broker.example"), "{}", c.summary());
    }

    #[test]
    fn the_broker_url_can_come_from_a_file_and_a_bad_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("latchkey-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let secret = dir.join("mqtt-url");
        std::fs::write(&secret, "mqtt://lk:fromfile@10.0.0.2:1883\n").expect("writes");
        let path = secret.display().to_string();
        let env = |k: &str| (k == "LATCHKEY_MQTT_URL_FILE").then(|| path.clone());
        let c = load(&GlobalArgs::default(), &Overrides::default(), &env).expect("loads");
        assert_eq!(
            c.mqtt_url.as_ref().and_then(|u| u.password()),
            Some("fromfile")
        );
        let bad = Overrides {
            mqtt_url: Some("http://broker"),
            ..Default::default()
        };
        assert!(load(&GlobalArgs::default(), &bad, &|_| None).is_err());
        let bad = Overrides {
            mqtt_listen: Some("localhost"),
            ..Default::default()
        };
        let e = load(&GlobalArgs::default(), &bad, &|_| None).expect_err("refused");
        assert!(e.to_string().contains("mqtt_listen"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_anchor_file_inside_the_data_directory_is_refused_by_every_layer() {
        let dir = std::env::temp_dir().join(format!("latchkey-anchor-cfg-{}", std::process::id()));
        let data = dir.join("data");
        std::fs::create_dir_all(&data).expect("temp dir");
        let inside = data.join("anchors");
        let sneaky = dir.join("elsewhere/../data/sub/anchors");
        let outside = dir.join("anchors");
        let data_text = data.display().to_string();
        for bad in [&inside, &sneaky] {
            let bad_text = bad.display().to_string();
            let env = |k: &str| match k {
                "LATCHKEY_DATA_DIR" => Some(data_text.clone()),
                "LATCHKEY_AUDIT_ANCHOR_FILE" => Some(bad_text.clone()),
                _ => None,
            };
            let e = load(&GlobalArgs::default(), &Overrides::default(), &env)
                .expect_err("an anchor file in the data directory is refused");
            assert!(
                e.to_string().contains("is inside the data directory"),
                "{e}"
            );
        }
        let env = |k: &str| (k == "LATCHKEY_DATA_DIR").then(|| data_text.clone());
        let flag = Overrides {
            audit_anchor_file: Some(&inside),
            ..Default::default()
        };
        assert!(
            load(&GlobalArgs::default(), &flag, &env).is_err(),
            "the flag too"
        );
        let flag = Overrides {
            audit_anchor_file: Some(&outside),
            ..Default::default()
        };
        let c = load(&GlobalArgs::default(), &flag, &env).expect("outside is fine");
        assert_eq!(c.audit_anchor_file.as_deref(), Some(outside.as_path()));
        assert!(
            c.summary()
                .contains(&format!("audit_anchor_file={}", outside.display())),
            "{}",
            c.summary()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_anchor_file_can_be_set_in_the_audit_table_and_typos_there_warn() {
        let (file, warnings) = parse_file(
            "[audit]\nanchor_file = \"/var/log/latchkey/anchors\"\nanchor_fiel = \"x\"\n",
            "t.toml",
        )
        .expect("parses");
        assert_eq!(
            file.audit.and_then(|a| a.anchor_file),
            Some(PathBuf::from("/var/log/latchkey/anchors"))
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("`audit.anchor_fiel`"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn logs_are_text_unless_json_is_asked_for_and_a_typo_stops_the_start() {
        let c = load(&GlobalArgs::default(), &Overrides::default(), &|_| None).expect("loads");
        assert_eq!(c.log_format, LogFormat::Text);
        let env = |k: &str| (k == "LATCHKEY_LOG_FORMAT").then(|| "json".to_owned());
        let c = load(&GlobalArgs::default(), &Overrides::default(), &env).expect("loads");
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(c.summary().contains("log_format=json"), "{}", c.summary());
        let env = |k: &str| (k == "LATCHKEY_LOG_FORMAT").then(|| "jsno".to_owned());
        let e = load(&GlobalArgs::default(), &Overrides::default(), &env).expect_err("refused");
        assert!(e.to_string().contains("text or json"), "{e}");
        let (file, warnings) = parse_file("log_format = \"json\"\n", "t.toml").expect("parses");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(file.log_format.as_deref(), Some("json"));
    }

    #[test]
    fn metrics_are_off_by_default_and_the_token_never_reaches_the_summary() {
        let c = load(&GlobalArgs::default(), &Overrides::default(), &|_| None).expect("loads");
        assert!(c.metrics_token.is_none());
        assert!(c.summary().contains("metrics=off"), "{}", c.summary());
        let token = "f00dcafe".repeat(5);
        let env = |k: &str| (k == "LATCHKEY_METRICS_TOKEN").then(|| token.clone());
        let c = load(&GlobalArgs::default(), &Overrides::default(), &env).expect("loads");
        assert!(c.metrics_token.is_some());
        assert!(!c.summary().contains(&token), "{}", c.summary());
        assert!(!format!("{c:?}").contains(&token), "not in Debug either");
        let env = |k: &str| (k == "LATCHKEY_METRICS_TOKEN").then(|| "short".to_owned());
        let e = load(&GlobalArgs::default(), &Overrides::default(), &env).expect_err("refused");
        assert!(e.to_string().contains("at least 32"), "{e}");
        let dir = std::env::temp_dir().join(format!("latchkey-mtoken-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("token");
        std::fs::write(&file, format!("{token}\n")).expect("writes");
        let path = file.display().to_string();
        let env = |k: &str| (k == "LATCHKEY_METRICS_TOKEN_FILE").then(|| path.clone());
        let c = load(&GlobalArgs::default(), &Overrides::default(), &env).expect("loads");
        assert!(c.metrics_token.is_some(), "from the file");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rumqttd_is_held_to_warnings_unless_the_filter_names_it() {
        assert_eq!(log_filter("info"), "info,rumqttd=warn");
        assert_eq!(log_filter(""), "info,rumqttd=warn");
        assert_eq!(log_filter("debug,rumqttd=info"), "debug,rumqttd=info");
    }
}
