//! What a virtual device hands to the fleet for publishing, and the Zigbee2MQTT log-line format.
//!
//! Written from the protocol as docs/DEVICES.md describes it, deliberately not shared with the
//! server's parser.

use serde_json::{Map, Value, json};

/// Where a message goes, relative to the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// `<base>/<name>`: the state object (cached fields, plus one-shot `action*`/`alarm` fields).
    State,
    /// `<base>/<name>/availability`, retained. The payload is always the 2.x JSON form here;
    /// the fleet turns it into the legacy plain string when asked to.
    Availability,
    /// `<base>/bridge/logging`: a Zigbee2MQTT log line (`{"level","message","namespace"}`).
    BridgeLogging,
}

/// One message to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Where it goes.
    pub topic: Topic,
    /// The JSON payload.
    pub payload: Value,
}

impl Message {
    pub(crate) fn state(payload: Map<String, Value>) -> Self {
        Self {
            topic: Topic::State,
            payload: Value::Object(payload),
        }
    }

    pub(crate) fn availability(online: bool) -> Self {
        Self {
            topic: Topic::Availability,
            payload: json!({ "state": if online { "online" } else { "offline" } }),
        }
    }

    /// A log line as Zigbee2MQTT 2.x puts it on `bridge/logging`.
    pub(crate) fn log(level: &str, message: String) -> Self {
        Self {
            topic: Topic::BridgeLogging,
            payload: json!({ "level": level, "message": message, "namespace": "z2m" }),
        }
    }

    /// The line Zigbee2MQTT logs when a converter throws (`lib/extension/publish.ts`):
    /// `Publish 'set' 'pin_code' to 'front_door' failed: 'Error: user must be in range for device'`.
    pub(crate) fn publish_failed(verb: &str, key: &str, device: &str, error: &str) -> Self {
        Self::log(
            "error",
            format!("Publish '{verb}' '{key}' to '{device}' failed: 'Error: {error}'"),
        )
    }

    /// The line Zigbee2MQTT logs for a key that no converter of the device handles.
    pub(crate) fn no_converter(key: &str, device: &str, value: &Value) -> Self {
        Self::log(
            "error",
            format!("No converter available for '{key}' on '{device}': ({value})"),
        )
    }

    /// The availability payload in the form the fleet publishes it.
    pub(crate) fn availability_bytes(payload: &Value, legacy: bool) -> Vec<u8> {
        if legacy {
            payload
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("offline")
                .as_bytes()
                .to_vec()
        } else {
            payload.to_string().into_bytes()
        }
    }
}
