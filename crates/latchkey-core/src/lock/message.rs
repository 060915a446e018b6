//! One message from a device gateway, in latchkey's words: what a device said, whether it can
//! be reached, which devices the gateway has, and what the gateway could not deliver. A codec's
//! message becomes one of these in the device bridge; ingestion applies them.

use super::profile::LockProfile;
use super::report::{Availability, LockReport};

/// A device the gateway lists on its network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnouncedDevice {
    /// The name latchkey addresses it by (a Zigbee2MQTT friendly name, a Z-Wave node's name).
    pub name: String,
    /// The radio's own identity (an IEEE address, a Z-Wave home and node id), when known.
    pub hardware_id: Option<String>,
    pub model: Option<String>,
    pub vendor: Option<String>,
    /// Whether it is a lock.
    pub is_lock: bool,
    /// Whether it takes PIN codes.
    pub has_keypad: bool,
}

/// One message from a gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceMessage {
    /// What one device said in one message. The reports are read together: a report of a
    /// jam and a refused operation in the same message are one event.
    Reports {
        device: String,
        /// What the device's reports prove (said by the bridge, which knows the protocol and,
        /// where the gateway names it, the model): a Z-Wave lock's code-change notification
        /// confirms nothing, a Zigbee lock's programming event does.
        profile: LockProfile,
        reports: Vec<LockReport>,
    },
    /// Whether a device can be reached.
    Availability {
        device: String,
        availability: Availability,
    },
    /// The devices the gateway has (its whole list, gateways and controllers left out).
    Devices(Vec<AnnouncedDevice>),
    /// A device left the gateway's network.
    Left { device: String },
    /// The gateway could not deliver a command to a device.
    Undelivered {
        device: String,
        /// What the command was about, as the gateway names it (a code, the position).
        what: String,
        /// The gateway's error text.
        error: String,
        /// Whether it was a lock or unlock: its command has its answer.
        position: bool,
    },
    /// Something about the gateway itself: nothing to apply.
    Gateway,
}

impl DeviceMessage {
    /// A device's reports, as one message.
    pub fn reports(
        device: impl Into<String>,
        profile: LockProfile,
        reports: Vec<LockReport>,
    ) -> DeviceMessage {
        DeviceMessage::Reports {
            device: device.into(),
            profile,
            reports,
        }
    }

    /// A device's availability.
    pub fn availability(device: impl Into<String>, availability: Availability) -> DeviceMessage {
        DeviceMessage::Availability {
            device: device.into(),
            availability,
        }
    }
}
