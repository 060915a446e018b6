//! One file per resource. Each handler extracts, calls one app function and maps to a DTO.

pub mod access;
pub mod alarms;
pub mod auth;
pub mod broker_logins;
pub mod credentials;
pub mod devices;
pub mod doors;
pub mod entry_notices;
pub mod events;
pub mod import;
pub mod ledger;
pub mod lockouts;
pub mod locksmith_jobs;
pub mod notifications;
pub mod people;
pub mod privacy;
pub mod properties;
pub mod push;
pub mod readiness;
pub mod recovery;
pub mod recovery_card;
pub mod resolution;
pub mod restore;
pub mod stream;
pub mod units;
pub mod webhooks;
