//! `latchkey device list|pair|unpair` and `latchkey credential status`.

use anyhow::Result;
use latchkey_app::App;
use latchkey_core::{CredentialId, DoorId, SensorId};

use crate::cli::PairTarget;
use crate::wiring::{acting_as, app_err};

/// # Errors
/// Not an installer, or storage failure.
pub async fn list(app: &App, acting: Option<&str>) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let devices = app.list_devices(&who).await.map_err(app_err)?;
    if devices.is_empty() {
        println!(
            "no devices yet: they appear when Zigbee2MQTT (or `latchkey sim run`) reports them to \
             the broker `latchkey serve` uses"
        );
        return Ok(());
    }
    println!(
        "{:<32} {:<24} {:<5} {:<12} {:>7}  {:<24}  PAIRED WITH",
        "NAME", "MODEL", "LOCK", "AVAILABILITY", "BATTERY", "SETTINGS WANTED/REPORTED"
    );
    for d in devices {
        let paired = match (d.door_id, d.sensor_id) {
            (Some(door), _) => format!("door {door}"),
            (None, Some(sensor)) => format!("sensor {sensor}"),
            (None, None) => "-".to_owned(),
        };
        let dev = &d.device;
        let settings = d
            .settings
            .map_or_else(|| "-".to_owned(), |s| settings_cell(&s));
        println!(
            "{:<32} {:<24} {:<5} {:<12} {:>7}  {settings:<24}  {paired}",
            dev.friendly_name,
            dev.model.as_deref().unwrap_or("-"),
            if dev.is_lock { "yes" } else { "no" },
            dev.availability,
            dev.battery
                .map_or_else(|| "-".to_owned(), |b| format!("{b}%")),
        );
    }
    Ok(())
}

/// `relock 30/30 limit 5/5 off 60/60`: each setting as wanted and as the lock reported it
/// (`?` before the lock reports it).
fn settings_cell(s: &latchkey_app::devices::SettingsView) -> String {
    let v = |x: Option<i64>| x.map_or_else(|| "?".to_owned(), |x| x.to_string());
    format!(
        "relock {}/{} limit {}/{} off {}/{}",
        v(s.desired.auto_relock_seconds),
        v(s.reported.auto_relock_seconds),
        v(s.desired.wrong_code_limit),
        v(s.reported.wrong_code_limit),
        v(s.desired.keypad_disable_seconds),
        v(s.reported.keypad_disable_seconds),
    )
}

/// Pairs (`device` is `Some`) or unpairs a door's lock or a sensor's device.
///
/// # Errors
/// Not an installer of the property, an unusable friendly name, a device paired elsewhere, or
/// storage failure.
pub async fn pair(
    app: &App,
    acting: Option<&str>,
    target: PairTarget,
    device: Option<&str>,
) -> Result<()> {
    let who = acting_as(app, acting).await?;
    match (target.door, target.sensor) {
        (Some(door), _) => {
            app.pair_lock(
                app.may_pair_lock(&who, DoorId(door))
                    .await
                    .map_err(app_err)?,
                device,
            )
            .await
            .map_err(app_err)?;
            match device {
                Some(name) => println!(
                    "door {door} is paired with the lock \"{name}\"; its PINs are being written \
                     (see `latchkey credential status`)"
                ),
                None => println!("door {door} has no lock now"),
            }
        }
        (None, Some(sensor)) => {
            app.pair_sensor(
                app.may_pair_sensor(&who, SensorId(sensor))
                    .await
                    .map_err(app_err)?,
                device,
            )
            .await
            .map_err(app_err)?;
            match device {
                Some(name) => println!("sensor {sensor} is paired with the device \"{name}\""),
                None => println!("sensor {sensor} has no device now"),
            }
        }
        (None, None) => unreachable!("clap requires --door or --sensor"),
    }
    Ok(())
}

/// # Errors
/// The credential does not exist (or the admin may not see it), or storage failure.
pub async fn credential_status(app: &App, acting: Option<&str>, credential: i64) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let list = app
        .credential_locks(&who, CredentialId(credential))
        .await
        .map_err(app_err)?;
    if list.is_empty() {
        println!("credential {credential} opens no doors");
        return Ok(());
    }
    println!(
        "{:<6} {:<32} {:<13} {:>4}  REASON",
        "DOOR", "LOCK", "STATUS", "SLOT"
    );
    for s in list {
        println!(
            "{:<6} {:<32} {:<13} {:>4}  {}",
            s.door_id,
            s.lock.as_deref().unwrap_or("-"),
            s.status,
            s.slot.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            s.reason.as_deref().unwrap_or(""),
        );
    }
    Ok(())
}
