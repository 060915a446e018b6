//! The `[home_assistant]` table and its `LATCHKEY_HOME_ASSISTANT_*` variables: Home Assistant's
//! MQTT discovery and commands (docs/OPERATIONS.md, "Home Assistant"). Off unless `enabled`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use latchkey_bridge::hass::HassTopics;
use latchkey_mqtt::MqttUrl;
use serde::Deserialize;

/// Keys of the `[home_assistant]` table.
pub const HASS_KEYS: &[&str] = &[
    "enabled",
    "mqtt_url",
    "mqtt_url_file",
    "discovery_prefix",
    "state_prefix",
    "token_file",
];

/// The `[home_assistant]` table of the file layer (the token only as a file).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct HassFileConfig {
    pub enabled: Option<bool>,
    pub mqtt_url: Option<String>,
    pub mqtt_url_file: Option<PathBuf>,
    pub discovery_prefix: Option<String>,
    pub state_prefix: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// The effective Home Assistant settings. `Debug` never prints the token.
#[derive(Clone)]
pub struct HassConfig {
    /// The broker Home Assistant listens to; `None`: latchkey's own (the embedded broker, or
    /// `mqtt_url`).
    pub mqtt_url: Option<MqttUrl>,
    pub topics: HassTopics,
    /// The service account's API token.
    pub token: String,
}

impl std::fmt::Debug for HassConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HassConfig")
            .field("mqtt_url", &self.mqtt_url.as_ref().map(ToString::to_string))
            .field("topics", &self.topics)
            .field("token", &"****")
            .finish()
    }
}

/// Resolves environment over file; `None` unless enabled.
///
/// # Errors
/// `enabled` is not true or false; enabled without a token; an unreadable token or URL file;
/// a bad broker URL; prefixes that are not plain topics, lie under one another, or overlap
/// Zigbee2MQTT's base topic `base_topic`.
pub fn resolve(
    file: Option<HassFileConfig>,
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&Path, &str) -> Result<String>,
    env_or_file: &dyn Fn(&str) -> Result<Option<String>>,
    base_topic: &str,
) -> Result<Option<HassConfig>> {
    let file = file.unwrap_or_default();
    let enabled = match env("LATCHKEY_HOME_ASSISTANT_ENABLED") {
        Some(v) => match v.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => bail!("LATCHKEY_HOME_ASSISTANT_ENABLED=`{v}` must be true or false"),
        },
        None => file.enabled.unwrap_or(false),
    };
    if !enabled {
        return Ok(None);
    }
    let token = match env_or_file("LATCHKEY_HOME_ASSISTANT_TOKEN")? {
        Some(t) => t,
        None => match &file.token_file {
            Some(p) => read_file(p, "Home Assistant service account's token")?,
            None => bail!(
                "home_assistant is enabled without the service account's token: set \
                 home_assistant.token_file or LATCHKEY_HOME_ASSISTANT_TOKEN_FILE (make the \
                 account with `latchkey home-assistant account`)"
            ),
        },
    };
    let file_url = match (file.mqtt_url, file.mqtt_url_file) {
        (Some(_), Some(_)) => {
            bail!("the config file sets both home_assistant.mqtt_url and mqtt_url_file")
        }
        (Some(u), None) => Some(u),
        (None, Some(p)) => Some(read_file(&p, "Home Assistant's MQTT broker URL")?),
        (None, None) => None,
    };
    let mqtt_url = env_or_file("LATCHKEY_HOME_ASSISTANT_MQTT_URL")?
        .or(file_url)
        .filter(|u| !u.trim().is_empty())
        .map(|u| MqttUrl::parse(&u))
        .transpose()
        .context("home_assistant.mqtt_url")?;
    let discovery = env("LATCHKEY_HOME_ASSISTANT_DISCOVERY_PREFIX")
        .or(file.discovery_prefix)
        .unwrap_or_else(|| "homeassistant".to_owned());
    let prefix = env("LATCHKEY_HOME_ASSISTANT_STATE_PREFIX")
        .or(file.state_prefix)
        .unwrap_or_else(|| "latchkey".to_owned());
    let topics = HassTopics::new(discovery.trim(), prefix.trim())
        .map_err(|e| anyhow::anyhow!("home_assistant: {e}"))?;
    let nested = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}/"));
    for p in [topics.prefix(), topics.discovery_prefix()] {
        if nested(p, base_topic) || nested(base_topic, p) {
            bail!(
                "home_assistant: `{p}` overlaps Zigbee2MQTT's base topic `{base_topic}`; choose \
                 prefixes apart from it, so that a gateway's topics and Home Assistant's never \
                 meet"
            );
        }
    }
    Ok(Some(HassConfig {
        mqtt_url,
        topics,
        token,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Option<HassConfig>> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let env2 = env.clone();
        resolve(
            None,
            &env,
            &|_, _| bail!("no files here"),
            &move |k: &str| Ok(env2(k)),
            "zigbee2mqtt",
        )
    }

    #[test]
    fn home_assistant_is_off_by_default_and_needs_a_token_when_on() {
        assert!(with(&[]).unwrap().is_none());
        let e = with(&[("LATCHKEY_HOME_ASSISTANT_ENABLED", "true")]).unwrap_err();
        assert!(e.to_string().contains("token"), "{e}");
        let c = with(&[
            ("LATCHKEY_HOME_ASSISTANT_ENABLED", "true"),
            ("LATCHKEY_HOME_ASSISTANT_TOKEN", "lkt_secret-token"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.topics.prefix(), "latchkey");
        assert_eq!(c.topics.discovery_prefix(), "homeassistant");
        assert!(c.mqtt_url.is_none(), "latchkey's own broker");
        assert!(!format!("{c:?}").contains("secret-token"));
    }

    #[test]
    fn prefixes_apart_from_zigbee2mqtt_and_a_plain_url_are_required() {
        for (key, value, says) in [
            (
                "LATCHKEY_HOME_ASSISTANT_STATE_PREFIX",
                "zigbee2mqtt/ha",
                "overlaps",
            ),
            (
                "LATCHKEY_HOME_ASSISTANT_DISCOVERY_PREFIX",
                "zigbee2mqtt",
                "overlaps",
            ),
            ("LATCHKEY_HOME_ASSISTANT_STATE_PREFIX", "a/#", "plain"),
            ("LATCHKEY_HOME_ASSISTANT_MQTT_URL", "http://ha", "mqtt_url"),
            ("LATCHKEY_HOME_ASSISTANT_ENABLED", "maybe", "true or false"),
        ] {
            let e = with(&[
                (key, value),
                ("LATCHKEY_HOME_ASSISTANT_ENABLED", "true"),
                ("LATCHKEY_HOME_ASSISTANT_TOKEN", "lkt_x"),
            ])
            .unwrap_err();
            assert!(format!("{e:#}").contains(says), "{key}={value}: {e:#}");
        }
    }
}
