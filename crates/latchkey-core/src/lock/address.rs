//! How latchkey names a device: one string, the same whatever the protocol (a Zigbee2MQTT
//! friendly name such as `linden/1a-entry`, a Z-Wave node's name). The rules are those that keep
//! every protocol's topics unambiguous, so a name that passes here can be addressed by any codec.

use std::fmt;

/// Longest device address, in bytes.
pub const MAX_ADDRESS_BYTES: usize = 200;

/// Last `/` levels that would make a device's topic something else (an availability topic, a
/// command, an action mirror).
const RESERVED_LAST: [&str; 4] = ["availability", "action", "set", "get"];

/// Why a string cannot name a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("a device name must not be empty")]
    Empty,
    #[error("a device name may have at most {max} bytes, this one has {len}")]
    TooLong { len: usize, max: usize },
    #[error(
        "a device name must not contain the MQTT wildcards `+` or `#`, NUL or control characters"
    )]
    ForbiddenChar,
    #[error("a device name must not start or end with `/` or contain `//`")]
    EmptySegment,
    #[error(
        "a device name must not end in `/availability`, `/action`, `/set`, `/get`, `/set/…` or `/get/…`, nor start with `bridge`: its topics would be ambiguous"
    )]
    Reserved,
}

/// A device's name, checked: non-empty, at most [`MAX_ADDRESS_BYTES`], no `+`, `#`, NUL or
/// control characters, no empty `/` levels, not starting with `bridge` and not ending in a level
/// that a protocol reserves.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceAddress(String);

impl DeviceAddress {
    /// # Errors
    /// The [`AddressError`] naming the first rule broken.
    pub fn parse(name: &str) -> Result<DeviceAddress, AddressError> {
        if name.is_empty() {
            return Err(AddressError::Empty);
        }
        if name.len() > MAX_ADDRESS_BYTES {
            return Err(AddressError::TooLong {
                len: name.len(),
                max: MAX_ADDRESS_BYTES,
            });
        }
        if name.chars().any(|c| c == '+' || c == '#' || c.is_control()) {
            return Err(AddressError::ForbiddenChar);
        }
        let levels: Vec<&str> = name.split('/').collect();
        if levels.iter().any(|s| s.is_empty()) {
            return Err(AddressError::EmptySegment);
        }
        let last = levels[levels.len() - 1];
        let before_last = levels.len().checked_sub(2).map(|i| levels[i]);
        if levels[0] == "bridge"
            || RESERVED_LAST.contains(&last)
            || matches!(before_last, Some("set" | "get"))
        {
            return Err(AddressError::Reserved);
        }
        Ok(DeviceAddress(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeviceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceAddress({:?})", self.0)
    }
}
