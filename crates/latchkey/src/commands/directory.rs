//! `latchkey property|unit|door …`.

use anyhow::Result;
use latchkey_app::App;
use latchkey_app::directory::{DoorInput, PropertyInput};
use latchkey_core::model::{DoorKind, DoorMode, Policy};
use latchkey_core::schedule::Schedule;
use latchkey_core::{PropertyId, UnitId};

use crate::wiring::{acting_as, app_err};

/// # Errors
/// Not an admin, bad input, a taken name, or storage failure.
pub async fn create_property(
    app: &App,
    acting: Option<&str>,
    name: &str,
    timezone: &str,
    address: &str,
) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let p = app
        .create_property(
            who.admin().map_err(app_err)?,
            PropertyInput {
                name: name.to_owned(),
                address: address.to_owned(),
                timezone: timezone.to_owned(),
                policy: Policy::default(),
                office_hours: Schedule::Always,
            },
        )
        .await
        .map_err(app_err)?;
    println!("created property {} \"{}\" ({})", p.id, p.name, p.timezone);
    Ok(())
}

/// # Errors
/// Storage failure.
pub async fn list_properties(app: &App, acting: Option<&str>) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let list = app.list_properties(&who).await.map_err(app_err)?;
    if list.is_empty() {
        println!("no properties yet; create one with `latchkey property create`");
    }
    for p in list {
        println!("{}\t{}\t{}\t{}", p.id, p.name, p.timezone, p.address);
    }
    Ok(())
}

/// # Errors
/// Bad input, a taken label, or storage failure.
pub async fn create_unit(
    app: &App,
    acting: Option<&str>,
    property: i64,
    label: &str,
    floor: i64,
) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let u = app
        .create_unit(
            who.staff(PropertyId(property)).map_err(app_err)?,
            label,
            floor,
            None,
        )
        .await
        .map_err(app_err)?;
    println!("created unit {} \"{}\" on floor {}", u.id, u.label, u.floor);
    Ok(())
}

/// # Errors
/// Bad input, a taken name, or storage failure.
pub async fn create_door(
    app: &App,
    acting: Option<&str>,
    property: i64,
    name: &str,
    kind: DoorKind,
    unit: Option<i64>,
) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let d = app
        .create_door(
            who.staff(PropertyId(property)).map_err(app_err)?,
            DoorInput {
                name: name.to_owned(),
                kind,
                unit_id: unit.map(UnitId),
                mode: DoorMode::Normal,
                pin_slots: 30,
            },
        )
        .await
        .map_err(app_err)?;
    println!("created door {} \"{}\" ({})", d.id, d.name, d.kind);
    Ok(())
}
