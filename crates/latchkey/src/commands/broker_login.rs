//! `latchkey broker-login …`: logins of the embedded MQTT broker, one per Zigbee2MQTT gateway.

use anyhow::Result;
use latchkey_app::App;
use latchkey_app::broker_logins::BrokerRole;

use crate::broker::zigbee2mqtt_settings;
use crate::config::Config;
use crate::wiring::{acting_as, app_err};

fn print_settings(config: &Config, login: &latchkey_app::broker_logins::NewBrokerLogin) {
    println!(
        "broker login \"{}\" ({}); the password is shown only now.\n\
         Zigbee2MQTT's configuration.yaml:\n\n{}",
        login.login.name,
        login.login.role,
        zigbee2mqtt_settings(config, config.mqtt_listen, login)
    );
}

/// # Errors
/// Not an admin, a bad or taken name, or storage failure.
pub async fn create(
    app: &App,
    config: &Config,
    acting: Option<&str>,
    name: &str,
    role: BrokerRole,
) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let made = app
        .create_broker_login(&who.admin().map_err(app_err)?, name, role)
        .await
        .map_err(app_err)?;
    print_settings(config, &made);
    Ok(())
}

/// # Errors
/// Not an admin, no such login, or storage failure.
pub async fn rotate(app: &App, config: &Config, acting: Option<&str>, name: &str) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let made = app
        .rotate_broker_login(&who.admin().map_err(app_err)?, name)
        .await
        .map_err(app_err)?;
    print_settings(config, &made);
    println!(
        "The old password no longer connects; a client still connected with it is cut off \
         within moments (by the running server, through the change feed)."
    );
    Ok(())
}

/// # Errors
/// Not an admin, no such login, or storage failure.
pub async fn revoke(app: &App, acting: Option<&str>, name: &str) -> Result<()> {
    let who = acting_as(app, acting).await?;
    app.revoke_broker_login(&who.admin().map_err(app_err)?, name)
        .await
        .map_err(app_err)?;
    println!(
        "revoked the broker login \"{name}\"; it can no longer connect, and a client connected \
         with it is cut off within moments (by the running server, through the change feed)"
    );
    Ok(())
}

/// # Errors
/// Not an admin, or storage failure.
pub async fn list(app: &App, acting: Option<&str>) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let logins = app
        .list_broker_logins(&who.admin().map_err(app_err)?)
        .await
        .map_err(app_err)?;
    if logins.is_empty() {
        println!("no broker logins (create one with `latchkey broker-login create NAME`)");
    }
    for l in logins {
        println!(
            "{}\t{}\tcreated {}{}",
            l.name,
            l.role,
            l.created_at,
            l.rotated_at
                .map(|t| format!(", rotated {t}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
