//! The console's devices page: every device latchkey has seen on the broker, with its model,
//! when it was last heard, whether it is online and what it is paired with; unpaired locks come
//! first, each with a form to pair it with a door of the property that has no lock yet; a device
//! that is not a lock may be paired with a door contact or window sensor of the property that
//! has no device; a paired lock or sensor device has an "Unpair…" link to a confirm step
//! (`devices_unpair`).
//!
//! Installers of the property and admins only (`list_devices`, `installer`); pairing goes
//! through the API's use cases, `may_pair_lock` and `pair_lock`, which writes the door's codes
//! and settings to the new lock. The page refuses a device that is not an unpaired lock, a door
//! that has a lock and a door of another property, so nothing is re-paired by a stale form.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::devices::DeviceView;
use latchkey_core::model::SensorKind;
use latchkey_core::{DoorId, PropertyId};
use serde::Deserialize;

use crate::WebState;
use crate::error::PageError;
use crate::guard::{Signed, staff_property};
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

#[derive(Deserialize)]
pub(crate) struct PropertyQuery {
    property: Option<i64>,
    /// `paired`, `sensor`, `unpaired`: what the form just did.
    done: Option<String>,
}

pub struct DeviceRow {
    pub name: String,
    pub model: String,
    pub kind: &'static str,
    pub last_seen: String,
    pub availability: &'static str,
    pub online: bool,
    /// "Door: Lobby", "Sensor: …", or "Not paired".
    pub paired: String,
    /// An unpaired lock: it gets the pairing form.
    pub pairable: bool,
    /// Not a lock and paired with nothing: it gets the sensor pairing form.
    pub sensor_pairable: bool,
    /// Where its "Unpair…" link goes, when it is paired with a door or sensor of this property.
    pub unpair: Option<String>,
}

pub struct Choice {
    pub value: i64,
    pub label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "devices.html")]
struct DevicesPage {
    layout: Layout,
    css: String,
    csrf: String,
    property: i64,
    name: String,
    rows: Vec<DeviceRow>,
    unpaired: usize,
    doors: Vec<Choice>,
    /// The property's sensors without a device.
    sensors: Vec<Choice>,
    /// What was just done, in words.
    done: Option<&'static str>,
}

fn availability_words(a: &str) -> &'static str {
    match a {
        "online" => "Online",
        "offline" => "Offline",
        _ => "Not known",
    }
}

/// An unpaired lock: a lock paired with neither a door nor a sensor.
fn pairable(d: &DeviceView) -> bool {
    d.device.is_lock && d.door_id.is_none() && d.sensor_id.is_none()
}

/// A device that is not a lock, paired with nothing: a door contact or window sensor may use it.
pub(crate) fn sensor_pairable(d: &DeviceView) -> bool {
    !d.device.is_lock && d.door_id.is_none() && d.sensor_id.is_none()
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<PropertyQuery>,
) -> Result<Response, PageError> {
    let p = staff_property(&who, q.property, "The devices page")?;
    who.principal.installer(p)?;
    let property = state.app.get_property(&who.principal, p).await?;
    let tz = jiff::tz::TimeZone::get(&property.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let doors = state.app.list_doors(&who.principal, p).await?;
    let sensors = state.app.list_sensors(&who.principal, p).await?;
    let door_names: HashMap<DoorId, String> =
        doors.iter().map(|d| (d.id, d.name.clone())).collect();
    let sensor_names: HashMap<_, _> = sensors.iter().map(|s| (s.id, s.name.clone())).collect();
    let mut devices = state.app.list_devices(&who.principal).await?;
    devices.sort_by(|a, b| {
        pairable(b)
            .cmp(&pairable(a))
            .then_with(|| a.device.friendly_name.cmp(&b.device.friendly_name))
    });
    let rows: Vec<DeviceRow> = devices
        .iter()
        .map(|d| {
            let unpair = match (d.door_id, d.sensor_id) {
                (Some(id), _) if door_names.contains_key(&id) => {
                    Some(format!("/devices/unpair?property={}&door={}", p.0, id.0))
                }
                (None, Some(id)) if sensor_names.contains_key(&id) => {
                    Some(format!("/devices/unpair?property={}&sensor={}", p.0, id.0))
                }
                _ => None,
            };
            let paired = match (d.door_id, d.sensor_id) {
                (Some(id), _) => match door_names.get(&id) {
                    Some(n) => format!("Door: {n}"),
                    None => "A door of another property".to_owned(),
                },
                (None, Some(id)) => match sensor_names.get(&id) {
                    Some(n) => format!("Sensor: {n}"),
                    None => "A sensor of another property".to_owned(),
                },
                (None, None) => "Not paired".to_owned(),
            };
            let dev = &d.device;
            DeviceRow {
                name: dev.friendly_name.clone(),
                model: [dev.vendor.as_deref(), dev.model.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
                kind: if dev.is_lock { "Lock" } else { "Other device" },
                last_seen: dev.last_seen.map_or_else(
                    || "Never".to_owned(),
                    |t| tz.to_datetime(t).strftime("%d %b %Y, %H:%M").to_string(),
                ),
                availability: availability_words(&dev.availability),
                online: dev.availability == "online",
                paired,
                pairable: pairable(d),
                sensor_pairable: sensor_pairable(d),
                unpair,
            }
        })
        .collect();
    let unpaired = rows.iter().filter(|r| r.pairable).count();
    let free = doors
        .into_iter()
        .filter(|d| d.lock_name.is_none())
        .map(|d| Choice {
            value: d.id.0,
            label: d.name,
        })
        .collect();
    let free_sensors = sensors
        .into_iter()
        .filter(|s| s.device_name.is_none())
        .map(|s| Choice {
            value: s.id.0,
            label: format!(
                "{} ({})",
                s.name,
                match s.kind {
                    SensorKind::DoorContact => "door contact",
                    SensorKind::Window => "window",
                }
            ),
        })
        .collect();
    Ok(DevicesPage {
        layout: Layout::signed("Devices", Some(Tab::Devices), &who),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        property: p.0,
        name: property.name,
        rows,
        unpaired,
        doors: free,
        sensors: free_sensors,
        done: match q.done.as_deref() {
            Some("paired") => {
                Some("The lock is paired. Its door's codes and settings are being written to it.")
            }
            Some("sensor") => Some("The sensor is paired with the device."),
            Some("unpaired") => Some("Unpaired. latchkey no longer manages that device."),
            _ => None,
        },
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct PairForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    property: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    door: String,
}

/// The device named `name` among those the caller may list; refused when latchkey never saw it.
pub(crate) async fn seen_device(
    state: &WebState,
    who: &Signed,
    name: &str,
) -> Result<DeviceView, AppError> {
    state
        .app
        .list_devices(&who.principal)
        .await?
        .into_iter()
        .find(|d| d.device.friendly_name == name)
        .ok_or_else(|| AppError::invalid("device", "is not a device latchkey has seen"))
}

pub(crate) fn number(field: &'static str, raw: &str) -> Result<i64, AppError> {
    raw.trim()
        .parse()
        .map_err(|_| AppError::invalid(field, "must be chosen from the list"))
}

/// Pairs an unpaired lock with a door of the property that has no lock.
pub(crate) async fn pair(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<PairForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let p = PropertyId(number("property", &form.property)?);
    who.principal.installer(p)?;
    let device = seen_device(&state, &who, &form.device).await?;
    if !pairable(&device) {
        return Err(AppError::invalid("device", "is not an unpaired lock").into());
    }
    let door = DoorId(number("door", &form.door)?);
    let installer = state.app.may_pair_lock(&who.principal, door).await?;
    if installer.record().property_id != p {
        return Err(AppError::invalid("door", "is not a door of this property").into());
    }
    if installer.record().lock_name.is_some() {
        return Err(
            AppError::Conflict("this door already has a lock; unpair it first".to_owned()).into(),
        );
    }
    state
        .app
        .pair_lock(installer, Some(&device.device.friendly_name))
        .await?;
    Ok(Redirect::to(&format!("/devices?property={}&done=paired", p.0)).into_response())
}
