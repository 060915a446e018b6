//! The control topics `latchkey-sim/<base>/<name>/<op>`: physical events and failure modes,
//! driven over MQTT (what `latchkey sim keypad …` publishes).

use tracing::{info, warn};

use std::sync::Arc;

use super::{FleetHandle, Shared};

/// `rest` is `<name>/<op>`; `payload` is trimmed text.
pub(super) fn handle(shared: &Arc<Shared>, rest: &str, payload: &str) {
    let Some((name, op)) = rest.rsplit_once('/') else {
        warn!(topic = rest, "control topic without an operation");
        return;
    };
    let fleet = FleetHandle {
        shared: Arc::clone(shared),
    };
    let result = match op {
        "keypad" => fleet.keypad(name, payload).map(|outcome| {
            info!(device = name, ?outcome, "keypad");
        }),
        "door" => match payload {
            "open" => fleet.open_door(name),
            "close" => fleet.close_door(name),
            other => {
                return warn!(
                    device = name,
                    payload = other,
                    "door: expected open or close"
                );
            }
        },
        "manual" => match payload {
            "lock" => fleet.manual(name, true),
            "unlock" => fleet.manual(name, false),
            _ => fleet.with_lock(name, |l, now| ((), l.manual_turn(now))),
        },
        "jam" => fleet.set_jam(name, payload != "off"),
        "battery" => match payload.parse::<u8>() {
            Ok(pct) => fleet.set_battery(name, pct),
            Err(_) => return warn!(device = name, payload, "battery: expected a percentage"),
        },
        "offline" => fleet.set_offline(name, true),
        "online" => fleet.set_offline(name, false),
        "duress" => {
            let mut words = payload.split_whitespace();
            let slot = words.next().and_then(|s| s.parse::<u16>().ok());
            let on = words.next() != Some("off");
            match slot {
                Some(slot) => fleet.set_duress(name, slot, on).map(|_| ()),
                None => return warn!(device = name, payload, "duress: expected a slot number"),
            }
        }
        "force" => {
            if shared.is_sensor(name) {
                fleet.open_door(name)
            } else {
                fleet.force_door(name)
            }
        }
        other => return warn!(device = name, op = other, "unknown control operation"),
    };
    if let Err(e) = result {
        warn!(error = %e, "control message ignored");
    }
}
