//! Zigbee2MQTT's `mqtt:` settings for a broker login, as the terminal prints them and the API
//! returns them (once, with the password): the same text either way.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::broker_logins::NewBrokerLogin;

/// Where Zigbee2MQTT reaches the embedded broker.
#[derive(Clone, Debug)]
pub struct BrokerAddress {
    /// Zigbee2MQTT's base topic (`zigbee2mqtt` by default).
    pub base_topic: String,
    /// The device listener's address (`--mqtt-listen`).
    pub listen: SocketAddr,
    /// The certificate of the device listener when it speaks TLS.
    pub tls_cert: Option<PathBuf>,
}

/// Zigbee2MQTT's `mqtt:` section for one login.
#[derive(Clone)]
pub struct Zigbee2MqttSettings {
    pub base_topic: String,
    /// `mqtt://HOST:PORT` or `mqtts://…`; `THIS-HOST` when the broker listens on every address.
    pub server: String,
    pub user: String,
    /// Shown once; only its digest is kept.
    pub password: String,
    pub client_id: String,
    /// The same, as YAML to paste into Zigbee2MQTT's `configuration.yaml`.
    pub yaml: String,
}

impl std::fmt::Debug for Zigbee2MqttSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zigbee2MqttSettings")
            .field("base_topic", &self.base_topic)
            .field("server", &self.server)
            .field("user", &self.user)
            .field("password", &"****")
            .finish_non_exhaustive()
    }
}

impl BrokerAddress {
    /// The settings Zigbee2MQTT needs to log in as `login`.
    pub fn settings_for(&self, login: &NewBrokerLogin) -> Zigbee2MqttSettings {
        let scheme = if self.tls_cert.is_some() {
            "mqtts"
        } else {
            "mqtt"
        };
        let host = if self.listen.ip().is_unspecified() {
            "THIS-HOST".to_owned()
        } else {
            match self.listen {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            }
        };
        let server = format!("{scheme}://{host}:{}", self.listen.port());
        let mut yaml = String::new();
        let _ = writeln!(yaml, "mqtt:");
        let _ = writeln!(yaml, "  base_topic: {}", self.base_topic);
        let _ = writeln!(yaml, "  server: {server}");
        let _ = writeln!(yaml, "  user: {}", login.login.name);
        let _ = writeln!(yaml, "  password: {}", login.password);
        let _ = writeln!(yaml, "  client_id: {}", login.login.name);
        if let Some(cert) = &self.tls_cert {
            let _ = writeln!(
                yaml,
                "  # the CA that signed {}, copied to the gateway:",
                cert.display()
            );
            let _ = writeln!(yaml, "  ca: /path/to/ca.pem");
        }
        if self.listen.ip().is_unspecified() {
            let _ = writeln!(
                yaml,
                "# THIS-HOST: the address the gateway reaches this machine at."
            );
        }
        Zigbee2MqttSettings {
            base_topic: self.base_topic.clone(),
            server,
            user: login.login.name.clone(),
            password: login.password.clone(),
            client_id: login.login.name.clone(),
            yaml,
        }
    }
}
