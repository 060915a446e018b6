//! latchkey's own lock vocabulary, whatever the protocol: what latchkey asks a lock to do
//! ([`LockCommand`]), what a lock tells it ([`LockReport`]), how a device is named
//! ([`DeviceAddress`]), and what a model of lock can do ([`LockProfile`]): how many slots, which
//! PIN lengths, whether and how it confirms a code, whether it sleeps, which settings it takes.
//!
//! The use cases speak only this. Each protocol is a pure codec crate of its own (Zigbee2MQTT's,
//! Z-Wave JS UI's) and the device bridge translates between a codec's vocabulary and this one
//! (docs/ARCHITECTURE.md, "The lock model"). Nothing here knows a topic, a payload or a
//! cluster; nothing here performs I/O.
//!
//! The decision that matters most is [`LockProfile::judge`]: whether what a lock reported about
//! a slot proves the code latchkey wrote is there (`set`), shows only that the slot is in use
//! (`assumed`: the lock cannot show its codes), or shows the write did not land.

mod address;
mod command;
mod message;
mod profile;
mod report;

pub use address::{AddressError, DeviceAddress, MAX_ADDRESS_BYTES};
pub use command::{Code, CodeError, CodeUse, LockCommand, LockSettings, MAX_AUTO_RELOCK_SECONDS};
pub use message::{AnnouncedDevice, DeviceMessage};
pub use profile::{
    CodeHeld, Confirms, LockProfile, PinLengths, Protocol, SettingsSupport, Verdict,
};
pub use report::{
    Alarm, Availability, CodeChange, CodeChangeKind, DoorContact, LockReport, Method, Motion,
    Operation, Position, Refusal, ReportedCode, SlotReading, SlotStatus,
};

#[cfg(test)]
#[path = "lock/tests.rs"]
mod tests;
