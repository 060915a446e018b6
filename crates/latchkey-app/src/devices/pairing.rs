//! Pairing devices with doors and sensors, and listing devices (paired and not).

use latchkey_core::{DoorId, SensorId};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo, Device};
use latchkey_store::property;
use serde::Serialize;
use serde_json::json;

use crate::authz::{InstallerOn, Principal};
use crate::{App, AppError, Result};
use latchkey_store::records::{Door, Sensor};

/// A device and what it is paired with.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceView {
    #[serde(flatten)]
    pub device: Device,
    pub door_id: Option<DoorId>,
    pub sensor_id: Option<SensorId>,
    /// For a paired lock, the settings it should hold (from the policy and the door's mode)
    /// and the ones it last reported.
    pub settings: Option<super::SettingsView>,
}

fn check_name(name: &str) -> Result<()> {
    latchkey_core::lock::DeviceAddress::parse(name)
        .map(drop)
        .map_err(|e| {
            AppError::invalid(
                "device",
                format!("`{name}` is not a usable device name: {e}"),
            )
        })
}

impl App {
    /// Devices the bridge has announced or reported, each with what it is paired with.
    /// Installers (of any property) and admins see every device, so they can pick unassigned
    /// ones; others see none.
    ///
    /// # Errors
    /// `Forbidden` for anyone who installs nothing.
    pub async fn list_devices(&self, who: &Principal) -> Result<Vec<DeviceView>> {
        let installer = who.is_admin()
            || who
                .active()
                .any(|m| m.role == latchkey_core::model::Role::Installer);
        if !installer {
            return Err(AppError::forbidden("only installers may list devices"));
        }
        let mut conn = self.store().read().await?;
        let devices = repo::list_devices(&mut conn).await?;
        let mut settings = self.settings_views(&mut conn, &devices).await?;
        let mut out = Vec::with_capacity(devices.len());
        for d in devices {
            let door = property::door_by_lock_name(&mut conn, &d.friendly_name).await?;
            let sensor = property::sensor_by_device_name(&mut conn, &d.friendly_name).await?;
            out.push(DeviceView {
                door_id: door.map(|x| x.id),
                sensor_id: sensor.map(|x| x.id),
                settings: settings.remove(&d.friendly_name),
                device: d,
            });
        }
        Ok(out)
    }

    /// Loads door `id` for pairing by an installer ([`Principal::installer_on`]).
    ///
    /// # Errors
    /// `NotFound` when the caller may not see the door; `Forbidden` for non-installers.
    pub async fn may_pair_lock<'a>(
        &self,
        who: &'a Principal,
        id: DoorId,
    ) -> Result<InstallerOn<'a, Door>> {
        let d = self.get_door(who, id).await?;
        who.installer_on(d)
    }

    /// Loads sensor `id` for pairing by an installer ([`Principal::installer_on`]).
    ///
    /// # Errors
    /// As [`App::may_pair_lock`].
    pub async fn may_pair_sensor<'a>(
        &self,
        who: &'a Principal,
        id: SensorId,
    ) -> Result<InstallerOn<'a, Sensor>> {
        let s = self.get_sensor(who, id).await?;
        who.installer_on(s)
    }

    /// Pairs the lock `name` with the door the capability carries, or unpairs the door with
    /// `None`. Every PIN slot of the door is then written to the new lock.
    ///
    /// # Errors
    /// `Invalid` for an unusable name; `Conflict` when the lock is paired with another door.
    pub async fn pair_lock(
        &self,
        installer: InstallerOn<'_, Door>,
        name: Option<&str>,
    ) -> Result<()> {
        let who = installer.principal();
        let mut d = installer.record().clone();
        let door = d.id;
        if let Some(n) = name {
            check_name(n)?;
        }
        let before = d.lock_name.clone();
        d.lock_name = name.map(str::to_owned);
        let mut tx = self.store().write().await?;
        property::update_door(tx.conn(), &d).await.map_err(|e| {
            AppError::conflict_or(e, "this lock is already paired with another door")
        })?;
        // A new lock holds none of our codes: everything is to be written again.
        reset_slots(tx.conn(), door, self.now()).await?;
        let ev = NewEvent::new(
            if name.is_some() {
                "door.lock_paired"
            } else {
                "door.lock_unpaired"
            },
            format!("door:{door}"),
        )
        .property(d.property_id)
        .actor(Some(who.id()))
        .data(json!({ "lock": name, "previous": before }));
        self.commit_with(tx, vec![ev]).await?;
        self.bridge().forget_pairings();
        self.devices().pairing_changed(Some(door));
        Ok(())
    }

    /// Pairs the door contact or window sensor the capability carries with a device, or
    /// unpairs it.
    ///
    /// # Errors
    /// As [`App::pair_lock`].
    pub async fn pair_sensor(
        &self,
        installer: InstallerOn<'_, Sensor>,
        name: Option<&str>,
    ) -> Result<()> {
        let who = installer.principal();
        let s = installer.record().clone();
        let sensor = s.id;
        if let Some(n) = name {
            check_name(n)?;
        }
        let mut tx = self.store().write().await?;
        property::set_sensor_device(tx.conn(), sensor, name)
            .await
            .map_err(|e| {
                AppError::conflict_or(e, "this device is already paired with another sensor")
            })?;
        let ev = NewEvent::new("sensor.paired", format!("sensor:{sensor}"))
            .property(s.property_id)
            .actor(Some(who.id()))
            .data(json!({ "device": name }));
        self.commit_with(tx, vec![ev]).await?;
        self.bridge().forget_pairings();
        self.devices().pairing_changed(None);
        Ok(())
    }
}

/// Marks every managed slot of a door as to be written again.
async fn reset_slots(
    conn: &mut latchkey_store::Conn,
    door: DoorId,
    now: jiff::Timestamp,
) -> Result<()> {
    let mut slots = repo::slots_of_door(conn, door).await?;
    for s in &mut slots {
        s.status = match s.desired {
            repo::Desired::Empty => repo::SlotStatus::Removed,
            _ => repo::SlotStatus::Pending,
        };
        s.attempts = 0;
        s.next_attempt_at = Some(now);
        s.updated_at = now;
    }
    repo::save_slots(conn, &slots).await?;
    Ok(())
}
