//! Terminal commands for an installer. They open the data directory directly and act as a
//! terminal principal of an admin (`--as EMAIL`, or the first admin); `sim` needs only a broker.

pub mod admin;
pub mod audit;
pub mod broker_login;
pub mod credentials;
pub mod devices;
pub mod directory;
pub mod home_assistant;
pub mod import;
pub mod people;
pub mod recovery;
pub mod resolution;
pub mod restore;
pub mod sim;
pub mod webhook;
