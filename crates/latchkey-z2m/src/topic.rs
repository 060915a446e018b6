//! Topics: which Zigbee2MQTT message a topic carries, and the topics we publish to.
//!
//! A friendly name may contain `/` (`floor1/front_door`), so a topic under `<base>/` is
//! classified by its **last** segments: `…/availability`, `…/action`, `…/set`, `…/get` and
//! `…/set/<attr>` / `…/get/<attr>` are recognised as such; everything else is a device state
//! topic. The price of this rule is that a device literally named `x/availability` (or `x/set`,
//! `x/set/y`, `x/action`, …) cannot be told apart from device `x`. Zigbee2MQTT itself parses
//! commands the same way, so such names are refused by [`validate_friendly_name`] and not
//! supported. Names whose first segment is `bridge` are refused for the same reason.

/// Zigbee2MQTT's default `mqtt.base_topic`.
pub const DEFAULT_BASE: &str = "zigbee2mqtt";

/// Longest friendly name we address, in bytes.
pub const MAX_FRIENDLY_NAME_BYTES: usize = 200;

/// Last segments that make a topic something other than a device's state topic.
const RESERVED_LAST: [&str; 4] = ["availability", "action", "set", "get"];

/// Why a base topic or a friendly name cannot be used to build a topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("the base topic must not be empty")]
    EmptyBase,
    #[error("the base topic must not start or end with `/` or contain empty levels")]
    BaseSlash,
    #[error(
        "the base topic must not contain the MQTT wildcards `+` or `#`, NUL or control characters"
    )]
    BaseForbiddenChar,
    #[error("a friendly name must not be empty")]
    EmptyName,
    #[error("a friendly name may have at most {max} bytes, this one has {len}")]
    NameTooLong { len: usize, max: usize },
    #[error(
        "a friendly name must not contain the MQTT wildcards `+` or `#`, NUL or control characters"
    )]
    NameForbiddenChar,
    #[error("a friendly name must not start or end with `/` or contain `//`")]
    NameEmptySegment,
    #[error(
        "a friendly name must not end in `/availability`, `/action`, `/set`, `/get`, `/set/…` or `/get/…`, nor start with `bridge`: its topics would be ambiguous"
    )]
    NameReserved,
}

/// What an inbound topic under the base carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind<'a> {
    /// `<base>/bridge/state`: the bridge's online/offline (and MQTT last will).
    BridgeState,
    /// `<base>/bridge/devices`: every device with its definition.
    BridgeDevices,
    /// `<base>/bridge/event`: join, announce, interview, leave.
    BridgeEvent,
    /// `<base>/bridge/logging`: Zigbee2MQTT's log lines.
    BridgeLogging,
    /// `<base>/bridge/response/<request>`: the answer to a bridge request.
    BridgeResponse { request: &'a str },
    /// Any other `<base>/bridge/…` topic (info, groups, definitions, requests, legacy log…).
    BridgeOther { rest: &'a str },
    /// `<base>/<name>/availability`.
    Availability { name: &'a str },
    /// `<base>/<name>/set[/<attr>]` or `<base>/<name>/get[/<attr>]`: a command from us or
    /// another controller. Callers skip these.
    Command { name: &'a str },
    /// `<base>/<name>/action`: a plain-string copy of the state message's `action`, published
    /// for Home Assistant. Callers skip it; the state message carries the same event.
    ActionMirror { name: &'a str },
    /// `<base>/<name>`: the device's JSON state.
    DeviceState { name: &'a str },
}

/// The topic layout under one Zigbee2MQTT base topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    base: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            base: DEFAULT_BASE.to_owned(),
        }
    }
}

impl Topics {
    /// A layout under `base` (Zigbee2MQTT's `mqtt.base_topic`).
    ///
    /// # Errors
    /// The base is empty, starts or ends with `/`, has an empty level, or contains `+`, `#`,
    /// NUL or a control character.
    pub fn new(base: impl Into<String>) -> Result<Self, TopicError> {
        let base = base.into();
        if base.is_empty() {
            return Err(TopicError::EmptyBase);
        }
        if base.chars().any(forbidden_char) {
            return Err(TopicError::BaseForbiddenChar);
        }
        if base.split('/').any(str::is_empty) {
            return Err(TopicError::BaseSlash);
        }
        Ok(Topics { base })
    }

    /// The base topic.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The filter that receives everything Zigbee2MQTT publishes: `<base>/#`. Friendly names
    /// may contain `/`, so no narrower filter catches every device.
    pub fn subscription(&self) -> String {
        format!("{}/#", self.base)
    }

    /// What `topic` carries, or `None` when it is outside the base or names a device we could
    /// not address (see [`validate_friendly_name`]).
    pub fn classify<'t>(&self, topic: &'t str) -> Option<TopicKind<'t>> {
        let rest = topic.strip_prefix(self.base.as_str())?.strip_prefix('/')?;
        if let Some(bridge) = rest.strip_prefix("bridge/") {
            return Some(match bridge {
                "state" => TopicKind::BridgeState,
                "devices" => TopicKind::BridgeDevices,
                "event" => TopicKind::BridgeEvent,
                "logging" => TopicKind::BridgeLogging,
                _ => match bridge.strip_prefix("response/") {
                    Some(request) if !request.is_empty() => TopicKind::BridgeResponse { request },
                    _ => TopicKind::BridgeOther { rest: bridge },
                },
            });
        }
        if rest == "bridge" {
            return None;
        }
        let (head, last) = match rest.rsplit_once('/') {
            Some((head, last)) => (Some(head), last),
            None => (None, rest),
        };
        let kind = match (head, last) {
            (Some(name), "availability") => TopicKind::Availability { name },
            (Some(name), "action") => TopicKind::ActionMirror { name },
            (Some(name), "set" | "get") => TopicKind::Command { name },
            (Some(head), attr) => match head.rsplit_once('/') {
                Some((name, "set" | "get")) if !attr.is_empty() => TopicKind::Command { name },
                _ => TopicKind::DeviceState { name: rest },
            },
            (None, _) => TopicKind::DeviceState { name: rest },
        };
        let name = match kind {
            TopicKind::Availability { name }
            | TopicKind::ActionMirror { name }
            | TopicKind::Command { name }
            | TopicKind::DeviceState { name } => name,
            _ => return Some(kind),
        };
        validate_friendly_name(name).ok()?;
        Some(kind)
    }

    /// `<base>/<name>`: where the device publishes its state.
    ///
    /// # Errors
    /// `name` is not a friendly name we can address ([`validate_friendly_name`]).
    pub fn state(&self, name: &str) -> Result<String, TopicError> {
        validate_friendly_name(name)?;
        Ok(format!("{}/{name}", self.base))
    }

    /// `<base>/<name>/set`: where commands go.
    ///
    /// # Errors
    /// As [`Topics::state`].
    pub fn set(&self, name: &str) -> Result<String, TopicError> {
        self.suffixed(name, "set")
    }

    /// `<base>/<name>/get`: where reads go.
    ///
    /// # Errors
    /// As [`Topics::state`].
    pub fn get(&self, name: &str) -> Result<String, TopicError> {
        self.suffixed(name, "get")
    }

    /// `<base>/<name>/availability`.
    ///
    /// # Errors
    /// As [`Topics::state`].
    pub fn availability(&self, name: &str) -> Result<String, TopicError> {
        self.suffixed(name, "availability")
    }

    /// `<base>/bridge/request/<request>`, e.g. `device/options`. The request path is a constant
    /// chosen by our code, not input, so it is not validated.
    pub fn bridge_request(&self, request: &str) -> String {
        format!("{}/bridge/request/{request}", self.base)
    }

    fn suffixed(&self, name: &str, suffix: &str) -> Result<String, TopicError> {
        validate_friendly_name(name)?;
        Ok(format!("{}/{name}/{suffix}", self.base))
    }
}

/// Checks that `name` is a friendly name whose topics are unambiguous: non-empty, at most
/// [`MAX_FRIENDLY_NAME_BYTES`], no `+`, `#`, NUL or control characters, no empty `/` levels,
/// and none of the reserved endings described in the [module docs](self).
///
/// # Errors
/// The [`TopicError`] naming the first rule broken.
pub fn validate_friendly_name(name: &str) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::EmptyName);
    }
    if name.len() > MAX_FRIENDLY_NAME_BYTES {
        return Err(TopicError::NameTooLong {
            len: name.len(),
            max: MAX_FRIENDLY_NAME_BYTES,
        });
    }
    if name.chars().any(forbidden_char) {
        return Err(TopicError::NameForbiddenChar);
    }
    let segments: Vec<&str> = name.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(TopicError::NameEmptySegment);
    }
    let last = segments[segments.len() - 1];
    let before_last = segments.len().checked_sub(2).map(|i| segments[i]);
    if segments[0] == "bridge"
        || RESERVED_LAST.contains(&last)
        || matches!(before_last, Some("set" | "get"))
    {
        return Err(TopicError::NameReserved);
    }
    Ok(())
}

fn forbidden_char(c: char) -> bool {
    c == '+' || c == '#' || c.is_control()
}

#[cfg(test)]
#[path = "topic_tests.rs"]
mod tests;
