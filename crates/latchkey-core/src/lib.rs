//! The domain of latchkey, kept pure: identifiers, the data model, schedules, the access decision,
//! PIN rules and the audit hash chain. Everything here takes the current instant as an argument
//! and performs no I/O; it depends on no async runtime, database, web or MQTT crate.

pub mod chain;
pub mod decide;
pub mod drill;
pub mod ids;
pub mod lock;
pub mod model;
pub mod pin;
pub mod schedule;
pub mod text;
pub mod totp;
pub mod week;

pub use ids::*;
