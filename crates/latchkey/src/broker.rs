//! The embedded broker's logins as `serve` uses them: the check behind the device listener
//! (the database's broker logins, and the demo fleet's login of this process), the first
//! gateway login created on a broker beyond loopback, and Zigbee2MQTT's `mqtt:` settings.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use latchkey_app::broker_logins::{BrokerRole, NewBrokerLogin};
use latchkey_app::broker_settings::BrokerAddress;
use latchkey_app::{App, AppError};
use latchkey_mqtt::{Attempt, Authenticator, ClientRole, Login, Verdict};
use tokio::runtime::Handle;

use crate::config::Config;

/// The demo fleet's user name; its password is random per process and never stored.
const FLEET_USER: &str = "latchkey-demo-fleet";

/// A login for the demo's virtual locks, valid while this process runs.
///
/// # Errors
/// The OS random source fails.
pub fn fleet_login() -> Result<(String, String)> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    Ok((FLEET_USER.to_owned(), hex::encode(buf)))
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The device listener's login check (`hass_topics`: the prefixes a `home_assistant` login is
/// held to). The broker's front runs on its own thread and runtime;
/// the check runs on the server's runtime (`runtime`), where the database pool lives.
pub fn authenticator(
    app: App,
    base_topic: String,
    runtime: Handle,
    fleet: Option<(String, String)>,
    hass_topics: latchkey_bridge::hass::HassTopics,
) -> Authenticator {
    Arc::new(move |login: Login| {
        let (app, base_topic, runtime, fleet, hass_topics) = (
            app.clone(),
            base_topic.clone(),
            runtime.clone(),
            fleet.clone(),
            hass_topics.clone(),
        );
        Box::pin(async move {
            if let Some((user, password)) = &fleet
                && login.username == *user
            {
                return if same(password, &login.password) {
                    Verdict::Allowed {
                        name: user.clone(),
                        role: ClientRole::Gateway { base_topic },
                    }
                } else {
                    Verdict::WrongCredentials
                };
            }
            let source = login.peer.ip().to_string();
            let checked = runtime
                .spawn(async move {
                    match login.attempt {
                        Attempt::Connect => {
                            app.check_broker_login(&login.username, &login.password, &source)
                                .await
                        }
                        // Quietly: a login that stopped holding is not a guess.
                        Attempt::Recheck => app
                            .broker_login_holds(&login.username, &login.password)
                            .await?
                            .ok_or_else(|| {
                                AppError::Unauthenticated("the login no longer holds".into())
                            }),
                    }
                })
                .await;
            match checked {
                Ok(Ok((found, role))) => Verdict::Allowed {
                    name: found.name,
                    role: match role {
                        BrokerRole::Gateway => ClientRole::Gateway { base_topic },
                        BrokerRole::Observer => ClientRole::Observer { base_topic },
                        BrokerRole::HomeAssistant => ClientRole::HomeAssistant {
                            discovery_prefix: hass_topics.discovery_prefix().to_owned(),
                            state_prefix: hass_topics.prefix().to_owned(),
                        },
                    },
                },
                Ok(Err(AppError::Unauthenticated(_))) => Verdict::WrongCredentials,
                Ok(Err(AppError::RateLimited { .. })) => Verdict::RateLimited,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot check an MQTT login");
                    Verdict::Unavailable
                }
                Err(e) => {
                    tracing::error!(error = %e, "the MQTT login check panicked");
                    Verdict::Unavailable
                }
            }
        })
    })
}

/// Zigbee2MQTT's `mqtt:` section for a login, as YAML to paste into its `configuration.yaml`.
pub fn zigbee2mqtt_settings(config: &Config, listen: SocketAddr, login: &NewBrokerLogin) -> String {
    broker_address(config, listen).settings_for(login).yaml
}

/// Where Zigbee2MQTT reaches the embedded broker listening on `listen`.
pub fn broker_address(config: &Config, listen: SocketAddr) -> BrokerAddress {
    BrokerAddress {
        base_topic: config.mqtt_base_topic.clone(),
        listen,
        tls_cert: config.mqtt_tls.as_ref().map(|t| t.cert.clone()),
    }
}

/// On a broker beyond loopback: creates the first gateway login when there is none. Returns
/// what to add to the banner line: that logins are required and, for a login just created,
/// Zigbee2MQTT's settings with its password (shown only now).
///
/// # Errors
/// The database cannot be read or written.
pub async fn announce_logins(app: &App, config: &Config, listen: SocketAddr) -> Result<String> {
    if latchkey_mqtt::is_loopback_only(listen) {
        return Ok(String::new());
    }
    match app
        .first_gateway_login()
        .await
        .map_err(crate::wiring::app_err)?
    {
        Some(created) => Ok(format!(
            "; anonymous clients are refused\n\
             Created the broker login \"{name}\" for your Zigbee2MQTT gateway; its password is \
             shown only now (`latchkey broker-login rotate {name}` makes a new one).\n\
             Put this in Zigbee2MQTT's configuration.yaml and restart it:\n\n{settings}",
            name = created.login.name,
            settings = zigbee2mqtt_settings(config, listen, &created)
        )),
        None => {
            Ok("; anonymous clients are refused (logins: latchkey broker-login list)".to_owned())
        }
    }
}
