//! Virtual Zigbee2MQTT locks and door sensors: the device side that the demo, the tests and the
//! benchmarks talk to.
//!
//! - [`lock::VirtualLock`] and [`sensor::VirtualSensor`] are pure state machines (no I/O; the caller
//!   passes the instant).
//! - [`zwave`] is the same for Z-Wave: virtual locks behind a virtual Z-Wave JS UI MQTT gateway,
//!   with the quirks of real ones (the value echo before the lock answers, a dropped write,
//!   masked codes, a sleeping node, a dead node).
//! - [`fleet`] runs many of them behind one MQTT connection, the way one Zigbee2MQTT instance does,
//!   and offers an in-process [`FleetHandle`] for tests.
//!
//! Payloads are written from the protocol as docs/DEVICES.md describes it and share no code with
//! the server's parsers (`latchkey-z2m`, `latchkey-zwave`), so that a mistake in one is not
//! mirrored in the other.
//!
//! Depends on tokio, rumqttc, serde/serde_json, thiserror and tracing only.

pub mod fleet;
pub mod lock;
pub mod message;
pub mod sensor;
pub mod zwave;

pub use fleet::{FleetConfig, FleetHandle, FleetStats, SimError, control_topic, run};
pub use lock::{
    Bolt, DoorState, KeypadOutcome, LockConfig, LockStatus, PinWriteMode, RefusalReason, Slot,
    SlotStatus, UserType, VirtualLock,
};
pub use message::{Message, Topic};
pub use sensor::VirtualSensor;
