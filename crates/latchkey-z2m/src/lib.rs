//! Zigbee2MQTT's wire format, for latchkey's server side: which topic carries what, typed
//! inbound payloads (lock state, availability, bridge messages) parsed with hostile input in
//! mind, and typed outbound commands encoded to `(topic, bytes)`.
//!
//! This crate is a pure codec: no I/O, no async, no MQTT client. It depends
//! only on serde, serde_json and thiserror. The protocol facts it encodes are described in
//! docs/DEVICES.md; the choices it makes where the protocol leaves room are written on the
//! items they concern.
//!
//! Inbound, every parser takes the payload bytes and a [`Limits`]; it refuses oversized,
//! non-UTF-8, too deeply nested or wrongly shaped payloads with a typed [`ParseError`] and never
//! panics. Fields of a device state message that have the wrong type or an unknown value are
//! ignored and noted in the report's `warnings` instead of failing the whole message.
//! Outbound, [`Command::encode`] builds JSON through serde, never by string concatenation, and
//! always sends PINs as JSON strings.

/// Declares a plain enum with stable wire names: `as_str` gives the name Zigbee2MQTT uses,
/// `from_wire` reads it back (ASCII case-insensitively), and `Serialize` writes the name.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name Zigbee2MQTT uses for this value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value with this wire name (compared ASCII case-insensitively), if any.
            pub fn from_wire(s: &str) -> Option<Self> {
                $(if s.eq_ignore_ascii_case($text) { return Some($name::$variant); })+
                None
            }
        }
    };
}

pub mod action;
pub mod bridge;
pub mod command;
mod dispatch;
pub mod inbound;
pub mod limits;
pub mod topic;

pub use action::{Action, ActionSource};
pub use bridge::{
    BridgeEvent, BridgeResponse, DeviceInfo, DeviceList, InterviewState, InterviewStatus, LogLevel,
    LogMessage, PublishFailure, PublishVerb, ResponseStatus,
};
pub use command::{Command, EncodeError, UserStatus, UserType};
pub use dispatch::{Inbound, parse_inbound};
pub use inbound::{
    Availability, BoltState, DoorState, LOCK_CAPS_PROPERTY, LockCaps, LockReport, LockState,
    ReportedPin, SlotReport, SlotStatus, SoundVolume,
};
pub use limits::{Limits, ParseError};
pub use topic::{TopicError, TopicKind, Topics, validate_friendly_name};
