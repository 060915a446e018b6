//! Z-Wave JS UI's MQTT gateway, for latchkey's server side: where the gateway publishes what,
//! the API calls latchkey makes (`getNodes`, `writeValue`, `pollValue`, `pingNode`,
//! `refreshCCValues`), and typed reports of what locks say (User Code slots, Door Lock mode and
//! door, Battery, Notification events with the user id, the legacy Alarm pair, node status).
//!
//! This crate is a pure codec: no I/O, no async, no MQTT client. It depends only on serde,
//! serde_json and thiserror. docs/DEVICES.md ("Z-Wave JS UI") says which gateway settings it
//! expects; docs/ARCHITECTURE.md (decisions 51 and 52) why a code is confirmed by reading the
//! slot back and never by the value the gateway echoes.
//!
//! Inbound, [`Decoder::decode`] takes a topic and payload bytes; it refuses oversized,
//! non-UTF-8, too deeply nested or wrongly shaped payloads and messages about nodes the
//! gateway did not list with a typed [`ParseError`], counts each refusal in
//! [`Decoder::rejections`], and never panics. Outbound, [`Request::encode`] builds API calls
//! through serde, with PINs as JSON strings and never retained.

pub mod api;
mod decoder;
pub mod events;
pub mod limits;
pub mod request;
pub mod topic;
pub mod values;

pub use api::{Api, ListedSlot, NodeSummary, ValueRef, WriteOutcome};
pub use decoder::{Decoder, Inbound, Origin};
pub use events::{LegacyAlarms, access_control, legacy_alarm};
pub use limits::{Limits, ParseError, Rejections};
pub use request::{EncodeError, OperationType, Outbound, Pin, Request};
pub use topic::{NodeNaming, TopicError, TopicKind, Topics, sanitize_level};
pub use values::{
    Alarm, Availability, Bolt, CodeChange, Confirmation, DoorPosition, Method, Motion, Operation,
    Position, Report, ReportedCode, SecretCode, SlotContents, SlotStatus,
};
