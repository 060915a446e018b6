//! The devices page's other forms: unpairing a door's lock or a sensor's device (after a
//! confirm step that says what happens to the lock's codes), and pairing a device that is not a
//! lock with a door contact or window sensor of the property.
//!
//! Installers of the property only, through the API's use cases: `may_pair_lock` and
//! `pair_lock(None)`, `may_pair_sensor` and `pair_sensor`. Unpairing a lock marks every code of
//! the door to be written again to the next lock paired with it; nothing is sent to the removed
//! lock, so the codes it holds stay on it until it is reset. The confirm step says so. A door
//! or sensor of another property, a door without a lock, an unknown device, a lock offered as a
//! sensor's device and a stale form are refused and change nothing.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::store::devices::SlotStatus;
use latchkey_core::{DoorId, PropertyId, SensorId};
use serde::Deserialize;

use crate::WebState;
use crate::devices::{number, seen_device, sensor_pairable};
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

#[derive(Deserialize)]
pub(crate) struct UnpairQuery {
    property: Option<i64>,
    door: Option<i64>,
    sensor: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "devices_unpair.html")]
struct ConfirmPage {
    layout: Layout,
    css: String,
    csrf: String,
    property: i64,
    /// `door` or `sensor`, and its id.
    field: &'static str,
    id: i64,
    /// "the lock lobby/lock from the door Lobby".
    what: String,
    device: String,
    /// A lock's: how many codes latchkey wrote to it are there, in words.
    codes: Option<String>,
}

/// What is to be unpaired: a door's lock or a sensor's device, checked against the property.
enum Target {
    Door(DoorId),
    Sensor(SensorId),
}

fn target(door: Option<&str>, sensor: Option<&str>) -> Result<Target, AppError> {
    match (
        door.filter(|d| !d.is_empty()),
        sensor.filter(|s| !s.is_empty()),
    ) {
        (Some(d), None) => Ok(Target::Door(DoorId(number("door", d)?))),
        (None, Some(s)) => Ok(Target::Sensor(SensorId(number("sensor", s)?))),
        _ => Err(AppError::invalid(
            "device",
            "name either a door or a sensor",
        )),
    }
}

fn of_property(property_id: PropertyId, p: PropertyId, what: &'static str) -> Result<(), AppError> {
    if property_id == p {
        Ok(())
    } else {
        Err(AppError::invalid(
            what,
            format!("is not a {what} of this property"),
        ))
    }
}

/// The confirm step: what will be unpaired, and what happens to the lock's codes.
pub(crate) async fn confirm(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<UnpairQuery>,
) -> Result<Response, PageError> {
    let p = PropertyId(
        q.property
            .ok_or_else(|| AppError::invalid("property", "is missing"))?,
    );
    who.principal.installer(p)?;
    let t = target(
        q.door.map(|d| d.to_string()).as_deref(),
        q.sensor.map(|s| s.to_string()).as_deref(),
    )?;
    let (field, id, what, device, codes) = match t {
        Target::Door(door) => {
            let allowed = state.app.may_pair_lock(&who.principal, door).await?;
            let d = allowed.record();
            of_property(d.property_id, p, "door")?;
            let lock = d
                .lock_name
                .clone()
                .ok_or_else(|| AppError::Conflict("this door has no lock to unpair".into()))?;
            let set = state
                .app
                .door_slots(&who.principal, door)
                .await?
                .iter()
                .filter(|s| s.status == SlotStatus::Set)
                .count();
            (
                "door",
                door.0,
                format!("the lock {lock} from the door {}", d.name),
                lock,
                Some(if set == 1 {
                    "1 code latchkey wrote is".to_owned()
                } else {
                    format!("{set} codes latchkey wrote are")
                }),
            )
        }
        Target::Sensor(sensor) => {
            let allowed = state.app.may_pair_sensor(&who.principal, sensor).await?;
            let s = allowed.record();
            of_property(s.property_id, p, "sensor")?;
            let device = s
                .device_name
                .clone()
                .ok_or_else(|| AppError::Conflict("this sensor has no device to unpair".into()))?;
            (
                "sensor",
                sensor.0,
                format!("the device {device} from the sensor {}", s.name),
                device,
                None,
            )
        }
    };
    Ok(ConfirmPage {
        layout: Layout::signed_at("Unpair a device", Some(Tab::Devices), &who, p),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        property: p.0,
        field,
        id,
        what,
        device,
        codes,
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct UnpairForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    property: String,
    #[serde(default)]
    door: String,
    #[serde(default)]
    sensor: String,
    /// The device the confirm step named: a form for a device since replaced changes nothing.
    #[serde(default)]
    device: String,
}

/// Unpairs, once confirmed: the door keeps its codes for the next lock.
pub(crate) async fn unpair(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<UnpairForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let p = PropertyId(number("property", &form.property)?);
    who.principal.installer(p)?;
    let stale =
        || AppError::Conflict("the device was changed meanwhile; nothing was unpaired".into());
    match target(Some(&form.door), Some(&form.sensor))? {
        Target::Door(door) => {
            let allowed = state.app.may_pair_lock(&who.principal, door).await?;
            of_property(allowed.record().property_id, p, "door")?;
            if allowed.record().lock_name.as_deref() != Some(form.device.as_str()) {
                return Err(stale().into());
            }
            state.app.pair_lock(allowed, None).await?;
        }
        Target::Sensor(sensor) => {
            let allowed = state.app.may_pair_sensor(&who.principal, sensor).await?;
            of_property(allowed.record().property_id, p, "sensor")?;
            if allowed.record().device_name.as_deref() != Some(form.device.as_str()) {
                return Err(stale().into());
            }
            state.app.pair_sensor(allowed, None).await?;
        }
    }
    Ok(Redirect::to(&format!("/devices?property={}&done=unpaired", p.0)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct SensorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    property: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    sensor: String,
}

/// Pairs a device that is not a lock, and paired with nothing, with a sensor of the property
/// that has no device.
pub(crate) async fn pair_sensor(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<SensorForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let p = PropertyId(number("property", &form.property)?);
    who.principal.installer(p)?;
    let device = seen_device(&state, &who, &form.device).await?;
    if !sensor_pairable(&device) {
        return Err(AppError::invalid(
            "device",
            "is a lock or already paired; a sensor takes a device that is neither",
        )
        .into());
    }
    let sensor = SensorId(number("sensor", &form.sensor)?);
    let allowed = state.app.may_pair_sensor(&who.principal, sensor).await?;
    of_property(allowed.record().property_id, p, "sensor")?;
    if allowed.record().device_name.is_some() {
        return Err(AppError::Conflict(
            "this sensor already has a device; unpair it first".to_owned(),
        )
        .into());
    }
    state
        .app
        .pair_sensor(allowed, Some(&device.device.friendly_name))
        .await?;
    Ok(Redirect::to(&format!("/devices?property={}&done=sensor", p.0)).into_response())
}
