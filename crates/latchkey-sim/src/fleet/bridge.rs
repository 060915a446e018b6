//! The retained `bridge/devices` list, shaped like Zigbee2MQTT 2.x's `publishDevices`.

use serde_json::{Value, json};

use super::Devices;

/// IEEE address synthesised from the device's position (the coordinator is 0).
pub(super) fn ieee(index: usize) -> String {
    format!("0x4c4b53{index:010x}")
}

/// Every device, the coordinator first (as Zigbee2MQTT lists it; it has no definition).
pub(super) fn devices_payload(devices: &Devices) -> Value {
    let mut list = vec![json!({
        "ieee_address": ieee(0),
        "friendly_name": "Coordinator",
        "type": "Coordinator",
        "network_address": 0,
        "supported": true,
        "disabled": false,
        "interview_completed": true,
        "interviewing": false,
        "interview_state": "SUCCESSFUL",
        "definition": null,
        "endpoints": {},
    })];
    let lock_exposes = lock_exposes();
    let sensor_exposes = sensor_exposes();
    let names = devices
        .locks
        .iter()
        .map(|l| (l.name(), true))
        .chain(devices.sensors.iter().map(|s| (s.name(), false)));
    for (i, (name, is_lock)) in names.enumerate() {
        let (model, description, exposes) = if is_lock {
            (
                "LK-SIM-LOCK",
                "Virtual keypad deadbolt (latchkey sim)",
                &lock_exposes,
            )
        } else {
            (
                "LK-SIM-CONTACT",
                "Virtual door/window contact sensor (latchkey sim)",
                &sensor_exposes,
            )
        };
        list.push(json!({
            "ieee_address": ieee(i + 1),
            "friendly_name": name,
            "type": "EndDevice",
            "network_address": (i + 1) % 0xfff8,
            "power_source": "Battery",
            "model_id": model,
            "manufacturer": "latchkey",
            "supported": true,
            "disabled": false,
            "interview_completed": true,
            "interviewing": false,
            "interview_state": "SUCCESSFUL",
            "definition": {
                "model": model,
                "vendor": "latchkey",
                "description": description,
                "exposes": exposes,
                "options": [],
                "supports_ota": false,
                "source": "native",
            },
            "endpoints": {},
        }));
    }
    Value::Array(list)
}

fn lock_exposes() -> Value {
    json!([
        {"type": "lock", "features": [
            {"type": "binary", "name": "state", "label": "State", "property": "state", "access": 7,
             "value_on": "LOCK", "value_off": "UNLOCK", "description": "State of the lock"},
            {"type": "enum", "name": "lock_state", "label": "Lock state", "property": "lock_state",
             "access": 1, "values": ["not_fully_locked", "locked", "unlocked"],
             "description": "Actual state of the lock"}
        ]},
        {"type": "enum", "name": "door_state", "label": "Door state", "property": "door_state", "access": 1,
         "values": ["open", "closed", "error_jammed", "error_forced_open", "error_unspecified", "undefined"]},
        {"type": "numeric", "name": "battery", "label": "Battery", "property": "battery", "access": 5,
         "unit": "%", "value_min": 0, "value_max": 100},
        {"type": "numeric", "name": "voltage", "label": "Voltage", "property": "voltage", "access": 1, "unit": "mV"},
        {"type": "binary", "name": "battery_low", "label": "Battery low", "property": "battery_low", "access": 1,
         "value_on": true, "value_off": false},
        {"type": "composite", "name": "pin_code", "label": "PIN code", "property": "pin_code", "access": 2,
         "features": [
            {"type": "numeric", "name": "user", "label": "User", "property": "user", "access": 2,
             "description": "User ID to set or clear the pincode for"},
            {"type": "enum", "name": "user_type", "label": "User type", "property": "user_type", "access": 2,
             "values": ["unrestricted", "year_day_schedule", "week_day_schedule", "master", "non_access"]},
            {"type": "binary", "name": "user_enabled", "label": "User enabled", "property": "user_enabled",
             "access": 2, "value_on": true, "value_off": false},
            {"type": "numeric", "name": "pin_code", "label": "PIN code", "property": "pin_code", "access": 2,
             "description": "Pincode to set, set pincode to null to clear"}
         ]},
        {"type": "enum", "name": "action", "label": "Action", "property": "action", "access": 1,
         "values": ["unknown", "lock", "unlock", "lock_failure_invalid_pin_or_id",
                    "lock_failure_invalid_schedule", "unlock_failure_invalid_pin_or_id",
                    "unlock_failure_invalid_schedule", "one_touch_lock", "key_lock", "key_unlock",
                    "auto_lock", "schedule_lock", "schedule_unlock", "manual_lock", "manual_unlock",
                    "non_access_user_operational_event"]},
        {"type": "enum", "name": "action_source_name", "label": "Action source name",
         "property": "action_source_name", "access": 1, "values": ["keypad", "rfid", "manual", "rf"]},
        {"type": "numeric", "name": "action_user", "label": "Action user", "property": "action_user", "access": 1},
        {"type": "numeric", "name": "auto_relock_time", "label": "Auto relock time",
         "property": "auto_relock_time", "access": 7, "unit": "s", "value_min": 0, "value_max": 3600},
        {"type": "enum", "name": "sound_volume", "label": "Sound volume", "property": "sound_volume",
         "access": 7, "values": ["silent_mode", "low_volume", "high_volume"]},
        {"type": "numeric", "name": "linkquality", "label": "Linkquality", "property": "linkquality",
         "access": 1, "unit": "lqi", "value_min": 0, "value_max": 255}
    ])
}

fn sensor_exposes() -> Value {
    json!([
        {"type": "binary", "name": "contact", "label": "Contact", "property": "contact", "access": 1,
         "value_on": false, "value_off": true,
         "description": "Indicates if the contact is closed (= true) or open (= false)"},
        {"type": "numeric", "name": "battery", "label": "Battery", "property": "battery", "access": 1,
         "unit": "%", "value_min": 0, "value_max": 100},
        {"type": "numeric", "name": "voltage", "label": "Voltage", "property": "voltage", "access": 1, "unit": "mV"},
        {"type": "binary", "name": "battery_low", "label": "Battery low", "property": "battery_low", "access": 1,
         "value_on": true, "value_off": false},
        {"type": "numeric", "name": "linkquality", "label": "Linkquality", "property": "linkquality",
         "access": 1, "unit": "lqi", "value_min": 0, "value_max": 255}
    ])
}
