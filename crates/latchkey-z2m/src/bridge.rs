//! Bridge messages: `bridge/devices` ([`DeviceList`]), `bridge/event` ([`BridgeEvent`]),
//! `bridge/logging` ([`LogMessage`], with [`LogMessage::publish_failure`]) and
//! `bridge/response/<x>` ([`BridgeResponse`]). `bridge/state` has the same two forms as device
//! availability and is parsed by [`crate::Availability::parse`].
//!
//! Identifiers (IEEE addresses, friendly names) that are malformed or too long are refused;
//! free text (model, vendor, log messages) is cut to a bounded length instead.

use serde_json::{Map, Value};

use crate::limits::{Limits, ParseError, Warnings, json_type, parse_json, parse_object, truncate};
use crate::topic::validate_friendly_name;

/// Longest free-text field (model, vendor, power source, event type…) kept, in bytes.
pub const MAX_TEXT_BYTES: usize = 128;

/// Longest log message kept, in bytes.
pub const MAX_LOG_MESSAGE_BYTES: usize = 4096;

/// Where a device is in Zigbee2MQTT's interview (`interview_state`, or the deprecated
/// `interview_completed`/`interviewing` booleans).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InterviewState {
    Pending,
    InProgress,
    Successful,
    Failed,
}

impl InterviewState {
    fn from_wire(s: &str) -> Option<Self> {
        [
            ("pending", InterviewState::Pending),
            ("in_progress", InterviewState::InProgress),
            ("successful", InterviewState::Successful),
            ("failed", InterviewState::Failed),
        ]
        .into_iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
        .map(|(_, state)| state)
    }
}

/// One entry of `bridge/devices`, reduced to what latchkey uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `ieee_address`, e.g. `0x000d6f0012345678` (validated: `0x` and 16 hex digits).
    pub ieee_address: String,
    /// `friendly_name` (validated by [`validate_friendly_name`]).
    pub friendly_name: String,
    /// `type`: `Coordinator`, `Router` or `EndDevice`.
    pub device_type: Option<String>,
    /// `definition.model`.
    pub model: Option<String>,
    /// `definition.vendor`.
    pub vendor: Option<String>,
    /// `definition.exposes` has an entry of type `lock` (at any depth of `features`).
    pub is_lock: bool,
    /// An expose named `pin_code` exists (at any depth): PIN management is available.
    pub has_pin_code: bool,
    /// `power_source`, e.g. `Battery`.
    pub power_source: Option<String>,
    /// `supported`: Zigbee2MQTT has a definition for it.
    pub supported: Option<bool>,
    /// `disabled` (false when absent).
    pub disabled: bool,
    pub interview_state: Option<InterviewState>,
}

/// The parsed `bridge/devices` list, with the entries that were skipped noted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceList {
    pub devices: Vec<DeviceInfo>,
    /// Why entries were skipped or fields ignored, bounded in number.
    pub warnings: Vec<String>,
}

impl DeviceList {
    /// Parses `bridge/devices`, under `limits.max_devices_payload_bytes` and
    /// `limits.max_devices_json_depth`. Entries without a valid `ieee_address` or an
    /// addressable `friendly_name` are skipped with a warning; other missing fields are absent.
    ///
    /// # Errors
    /// The payload is too large, not UTF-8, too deep, not JSON, or not a JSON array.
    pub fn parse(payload: &[u8], limits: &Limits) -> Result<DeviceList, ParseError> {
        let value = parse_json(
            payload,
            limits.max_devices_payload_bytes,
            limits.max_devices_json_depth,
        )?;
        let Value::Array(entries) = value else {
            return Err(ParseError::WrongType {
                expected: "array",
                found: json_type(&value),
            });
        };
        let mut w = Warnings::default();
        let devices = entries
            .iter()
            .filter_map(|entry| device_info(entry, &mut w))
            .collect();
        Ok(DeviceList {
            devices,
            warnings: w.finish(),
        })
    }
}

fn device_info(entry: &Value, w: &mut Warnings) -> Option<DeviceInfo> {
    let Some(map) = entry.as_object() else {
        w.push("devices", "entry is not an object");
        return None;
    };
    let Some(ieee_address) = map.get("ieee_address").and_then(ieee) else {
        w.push("devices", "entry without a valid ieee_address");
        return None;
    };
    let Some(friendly_name) = map.get("friendly_name").and_then(friendly) else {
        w.push("devices", "entry without an addressable friendly_name");
        return None;
    };
    let definition = map.get("definition").and_then(Value::as_object);
    let exposes = definition.and_then(|d| d.get("exposes"));
    let interview_state = map
        .get("interview_state")
        .and_then(Value::as_str)
        .and_then(InterviewState::from_wire)
        .or_else(|| {
            if map.get("interview_completed") == Some(&Value::Bool(true)) {
                Some(InterviewState::Successful)
            } else if map.get("interviewing") == Some(&Value::Bool(true)) {
                Some(InterviewState::InProgress)
            } else {
                None
            }
        });
    Some(DeviceInfo {
        ieee_address,
        friendly_name,
        device_type: text(map, "type"),
        model: definition.and_then(|d| text(d, "model")),
        vendor: definition.and_then(|d| text(d, "vendor")),
        is_lock: exposes.is_some_and(|e| {
            any_expose(e, &|x| {
                x.get("type").and_then(Value::as_str) == Some("lock")
            })
        }),
        has_pin_code: exposes.is_some_and(|e| {
            any_expose(e, &|x| {
                x.get("name").and_then(Value::as_str) == Some("pin_code")
                    || x.get("property").and_then(Value::as_str) == Some("pin_code")
            })
        }),
        power_source: text(map, "power_source"),
        supported: map.get("supported").and_then(Value::as_bool),
        disabled: map
            .get("disabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        interview_state,
    })
}

/// Whether any expose in the `exposes` array, or in the `features` of any expose at any depth,
/// satisfies `pred`. Recursion is bounded by the depth pre-scan of the payload.
fn any_expose(exposes: &Value, pred: &dyn Fn(&Map<String, Value>) -> bool) -> bool {
    let Some(list) = exposes.as_array() else {
        return false;
    };
    list.iter()
        .filter_map(Value::as_object)
        .any(|expose| pred(expose) || expose.get("features").is_some_and(|f| any_expose(f, pred)))
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .map(|s| truncate(s, MAX_TEXT_BYTES))
}

fn ieee(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    let hex = s.strip_prefix("0x")?;
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_owned())
}

fn friendly(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    validate_friendly_name(s).ok()?;
    Some(s.to_owned())
}

/// `status` of a `device_interview` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InterviewStatus {
    Started,
    Successful,
    Failed,
}

/// A `bridge/event` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BridgeEvent {
    /// A device joined the network (a fresh `bridge/devices` comes just before).
    DeviceJoined {
        ieee_address: String,
        friendly_name: String,
    },
    /// A device announced itself (rejoined, often after power loss).
    DeviceAnnounce {
        ieee_address: String,
        friendly_name: String,
    },
    /// An interview started, succeeded or failed; `supported` comes with the outcome.
    DeviceInterview {
        ieee_address: String,
        friendly_name: String,
        status: InterviewStatus,
        supported: Option<bool>,
    },
    /// A device left the network.
    DeviceLeave {
        ieee_address: String,
        friendly_name: Option<String>,
    },
    /// Any other event type, its name cut to [`MAX_TEXT_BYTES`].
    Other { event_type: String },
}

impl BridgeEvent {
    /// Parses `bridge/event`.
    ///
    /// # Errors
    /// The usual payload checks; a missing or non-string `type`; for a known type, a missing
    /// `data` object, a missing or malformed `ieee_address` or `friendly_name`, or an unknown
    /// interview `status`.
    pub fn parse(payload: &[u8], limits: &Limits) -> Result<BridgeEvent, ParseError> {
        let map = parse_object(payload, limits.max_payload_bytes, limits.max_json_depth)?;
        let event_type = match map.get("type") {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                return Err(ParseError::InvalidField {
                    field: "type",
                    reason: "expected a string",
                });
            }
            None => return Err(ParseError::MissingField { field: "type" }),
        };
        let known = matches!(
            event_type,
            "device_joined" | "device_announce" | "device_interview" | "device_leave"
        );
        if !known {
            return Ok(BridgeEvent::Other {
                event_type: truncate(event_type, MAX_TEXT_BYTES),
            });
        }
        let data = match map.get("data") {
            Some(Value::Object(data)) => data,
            Some(_) => {
                return Err(ParseError::InvalidField {
                    field: "data",
                    reason: "expected an object",
                });
            }
            None => return Err(ParseError::MissingField { field: "data" }),
        };
        let ieee_address = required(data, "ieee_address", ieee, "expected 0x and 16 hex digits")?;
        let name = || {
            required(
                data,
                "friendly_name",
                |v| {
                    v.as_str()
                        .map(|s| truncate(s, crate::topic::MAX_FRIENDLY_NAME_BYTES))
                },
                "expected a string",
            )
        };
        Ok(match event_type {
            "device_joined" => BridgeEvent::DeviceJoined {
                ieee_address,
                friendly_name: name()?,
            },
            "device_announce" => BridgeEvent::DeviceAnnounce {
                ieee_address,
                friendly_name: name()?,
            },
            "device_interview" => {
                let status = match data.get("status").and_then(Value::as_str) {
                    Some("started") => InterviewStatus::Started,
                    Some("successful") => InterviewStatus::Successful,
                    Some("failed") => InterviewStatus::Failed,
                    Some(_) => {
                        return Err(ParseError::InvalidField {
                            field: "status",
                            reason: "unknown interview status",
                        });
                    }
                    None => return Err(ParseError::MissingField { field: "status" }),
                };
                BridgeEvent::DeviceInterview {
                    ieee_address,
                    friendly_name: name()?,
                    status,
                    supported: data.get("supported").and_then(Value::as_bool),
                }
            }
            _ => BridgeEvent::DeviceLeave {
                ieee_address,
                friendly_name: name().ok(),
            },
        })
    }
}

fn required(
    map: &Map<String, Value>,
    field: &'static str,
    read: impl Fn(&Value) -> Option<String>,
    reason: &'static str,
) -> Result<String, ParseError> {
    match map.get(field) {
        None | Some(Value::Null) => Err(ParseError::MissingField { field }),
        Some(v) => read(v).ok_or(ParseError::InvalidField { field, reason }),
    }
}

/// The level of a `bridge/logging` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    Error,
    Warning,
    Info,
    Debug,
    Other,
}

/// A `bridge/logging` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogMessage {
    pub level: LogLevel,
    /// The message, cut to [`MAX_LOG_MESSAGE_BYTES`].
    pub message: String,
    /// `namespace`, e.g. `z2m`, when present.
    pub namespace: Option<String>,
}

/// Which device topic a failed publish came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PublishVerb {
    Set,
    Get,
}

/// A `Publish '<set|get>' '<attribute>' to '<device>' failed: '<error>'` log line: the only
/// trace of a converter error or a Zigbee delivery failure for a device command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishFailure {
    pub verb: PublishVerb,
    /// The command key, e.g. `pin_code` or `state`.
    pub attribute: String,
    /// The friendly name.
    pub device: String,
    /// Zigbee2MQTT's error text, e.g. `Error: user must be in range for device`.
    pub error: String,
}

impl LogMessage {
    /// Parses `bridge/logging`. A missing or unknown `level` is [`LogLevel::Other`].
    ///
    /// # Errors
    /// The usual payload checks, and a missing or non-string `message`.
    pub fn parse(payload: &[u8], limits: &Limits) -> Result<LogMessage, ParseError> {
        let map = parse_object(payload, limits.max_payload_bytes, limits.max_json_depth)?;
        let message = match map.get("message") {
            Some(Value::String(s)) => truncate(s, MAX_LOG_MESSAGE_BYTES),
            Some(_) => {
                return Err(ParseError::InvalidField {
                    field: "message",
                    reason: "expected a string",
                });
            }
            None => return Err(ParseError::MissingField { field: "message" }),
        };
        let level = match map.get("level").and_then(Value::as_str) {
            Some("error") => LogLevel::Error,
            Some("warning" | "warn") => LogLevel::Warning,
            Some("info") => LogLevel::Info,
            Some("debug") => LogLevel::Debug,
            _ => LogLevel::Other,
        };
        Ok(LogMessage {
            level,
            message,
            namespace: text(&map, "namespace"),
        })
    }

    /// The failed device publish this line reports, if it is one. The device name is taken up
    /// to the first `' failed: '`, so names containing that text are not recognised.
    pub fn publish_failure(&self) -> Option<PublishFailure> {
        let rest = self.message.strip_prefix("Publish '")?;
        let (verb, rest) = rest.split_once("' '")?;
        let verb = match verb {
            "set" => PublishVerb::Set,
            "get" => PublishVerb::Get,
            _ => return None,
        };
        let (attribute, rest) = rest.split_once("' to '")?;
        let (device, rest) = rest.split_once("' failed: '")?;
        let error = rest.strip_suffix('\'').unwrap_or(rest);
        if attribute.is_empty() || device.is_empty() {
            return None;
        }
        Some(PublishFailure {
            verb,
            attribute: attribute.to_owned(),
            device: device.to_owned(),
            error: error.to_owned(),
        })
    }
}

/// `status` of a bridge response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseStatus {
    Ok,
    Error,
}

/// A `bridge/response/<request>` message.
#[derive(Clone, Debug, PartialEq)]
pub struct BridgeResponse {
    pub status: ResponseStatus,
    /// `data`, as sent (`Null` when absent).
    pub data: Value,
    /// `error`, cut to [`MAX_LOG_MESSAGE_BYTES`].
    pub error: Option<String>,
    /// `transaction`, as text (Zigbee2MQTT echoes whatever the request carried).
    pub transaction: Option<String>,
}

impl BridgeResponse {
    /// Parses `bridge/response/<request>`.
    ///
    /// # Errors
    /// The usual payload checks, and a missing or unknown `status`.
    pub fn parse(payload: &[u8], limits: &Limits) -> Result<BridgeResponse, ParseError> {
        let mut map = parse_object(payload, limits.max_payload_bytes, limits.max_json_depth)?;
        let status = match map.get("status").and_then(Value::as_str) {
            Some("ok") => ResponseStatus::Ok,
            Some("error") => ResponseStatus::Error,
            Some(_) => {
                return Err(ParseError::InvalidField {
                    field: "status",
                    reason: "expected `ok` or `error`",
                });
            }
            None => return Err(ParseError::MissingField { field: "status" }),
        };
        let error = map
            .get("error")
            .and_then(Value::as_str)
            .map(|s| truncate(s, MAX_LOG_MESSAGE_BYTES));
        let transaction = match map.get("transaction") {
            Some(Value::String(s)) => Some(truncate(s, MAX_TEXT_BYTES)),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Ok(BridgeResponse {
            status,
            data: map.remove("data").unwrap_or(Value::Null),
            error,
            transaction,
        })
    }
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
