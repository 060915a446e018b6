//! Outbound: API calls to the gateway, encoded to the topic and JSON body it expects.
//!
//! Every request is an API call (`<prefix>/_CLIENTS/<client>/api/<api>/set` with
//! `{"args":[…],"requestId":…}`), never a write to a value's `/set` topic: only the API answers
//! with the write's result, and only a JSON body keeps a PIN a string (the gateway turns a bare
//! `0427` on a `/set` topic into the number 427). [`Outbound::retain`] is always false: a
//! retained request would be replayed to the gateway on every reconnect.

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use crate::topic::Topics;
use crate::values::{
    CC_BATTERY, CC_DOOR_LOCK, CC_USER_CODE, MODE_SECURED, MODE_UNSECURED, SlotStatus,
};

/// Shortest PIN a User Code slot takes.
pub const MIN_PIN_LEN: usize = 4;
/// Longest PIN a User Code slot takes.
pub const MAX_PIN_LEN: usize = 10;
/// Longest request id accepted (it is echoed back in the answer).
pub const MAX_REQUEST_ID_LEN: usize = 64;
/// Highest node id: classic nodes are 1–232, Z-Wave Long Range ones up to 4000.
pub const MAX_NODE_ID: u16 = 4000;

/// A PIN of 4–10 ASCII digits, kept as a string so leading zeros survive. `Debug` prints `****`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    /// The PIN, if it is 4–10 ASCII digits.
    ///
    /// # Errors
    /// [`EncodeError::InvalidPin`] for anything else.
    pub fn new(digits: impl Into<String>) -> Result<Pin, EncodeError> {
        let digits = digits.into();
        if (MIN_PIN_LEN..=MAX_PIN_LEN).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            Ok(Pin(digits))
        } else {
            Err(EncodeError::InvalidPin)
        }
    }

    /// The digits.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// The Door Lock operation type, with its timeout when timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationType {
    /// Stays where it is put.
    Constant,
    /// Relocks after this many seconds (1–65535).
    Timed { seconds: u16 },
}

/// What latchkey asks of one lock (or of the gateway). Slots are 1-based User Code ids; checking
/// them against the lock's capacity is the caller's job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `getNodes []`: every node with its values.
    GetNodes,
    /// Set the code of a slot: `writeValue` of `userCode/<slot>`. zwave-js sends one User Code
    /// Set with the slot's cached status (Enabled when unknown).
    SetCode { node: u16, slot: u16, pin: Pin },
    /// Store a code with a status other than Enabled (Disabled, Messaging) in one User Code
    /// Set: `sendCommand` of User Code `set [slot, status, code]`. Writing the code first and
    /// the status after would leave it enabled, opening the door, in between.
    SetCodeAs {
        node: u16,
        slot: u16,
        status: SlotStatus,
        pin: Pin,
    },
    /// Set the status of a slot that holds a code (Enabled, Disabled, …): `writeValue` of
    /// `userIdStatus/<slot>`. Needs the code cached in the gateway: write the code first.
    SetSlotStatus {
        node: u16,
        slot: u16,
        status: SlotStatus,
    },
    /// Clear a slot: `writeValue` of `userIdStatus/<slot>` = 0.
    ClearSlot { node: u16, slot: u16 },
    /// Read a slot's status from the lock: `pollValue` of `userIdStatus/<slot>`.
    ReadSlotStatus { node: u16, slot: u16 },
    /// Read a slot's code from the lock: `pollValue` of `userCode/<slot>`.
    ReadSlotCode { node: u16, slot: u16 },
    /// `writeValue` of Door Lock `targetMode` = 255 (Secured).
    Lock { node: u16 },
    /// `writeValue` of Door Lock `targetMode` = 0 (Unsecured).
    Unlock { node: u16 },
    /// Read the bolt from the lock: `pollValue` of `currentMode`.
    ReadPosition { node: u16 },
    /// `writeValue` of Door Lock `autoRelockTime` (Door Lock v4; 0 disables).
    SetAutoRelock { node: u16, seconds: u16 },
    /// Read the auto-relock time from the lock: `pollValue` of `autoRelockTime`.
    ReadAutoRelock { node: u16 },
    /// `writeValue` of Door Lock `operationType` and, when timed, `lockTimeoutConfiguration`
    /// (two calls: zwave-js fills the rest of the Configuration Set from its cache).
    SetOperationType { node: u16, operation: OperationType },
    /// `pollValue` of Battery `level`.
    ReadBattery { node: u16 },
    /// `pingNode [node]`: a dead lock is found by asking, not by waiting for it to speak.
    Ping { node: u16 },
    /// `refreshCCValues [node, 99]`: read every slot; the values arrive as updates.
    RefreshSlots { node: u16 },
}

/// One message to publish. Never retained.
#[derive(Clone, PartialEq, Eq)]
pub struct Outbound {
    pub topic: String,
    pub payload: Vec<u8>,
    /// The API name, to match the answer (`<prefix>/_CLIENTS/<client>/api/<api>`).
    pub api: &'static str,
    /// The `requestId` the answer's `origin` echoes.
    pub request_id: String,
}

impl Outbound {
    /// Always false; see the module docs.
    pub const fn retain(&self) -> bool {
        false
    }
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The payload may hold a PIN.
        f.debug_struct("Outbound")
            .field("topic", &self.topic)
            .field("api", &self.api)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// Why a request cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("a PIN must be 4 to 10 ASCII digits")]
    InvalidPin,
    #[error("a slot number must be 1 or more")]
    SlotZero,
    #[error("a node id must be 1 to {MAX_NODE_ID}")]
    InvalidNode,
    #[error("a request id must be 1 to {MAX_REQUEST_ID_LEN} printable ASCII characters")]
    InvalidRequestId,
    #[error("this slot status cannot be written (clear the slot instead)")]
    StatusNotWritable,
    #[error("a timed operation needs a timeout of 1 second or more")]
    ZeroTimeout,
}

/// The `valueId` of a value, as `writeValue` and `pollValue` take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueId {
    pub node_id: u16,
    pub command_class: u16,
    pub endpoint: u16,
    pub property: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_key: Option<u16>,
}

impl ValueId {
    fn new(node: u16, cc: u16, property: &'static str, key: Option<u16>) -> Self {
        ValueId {
            node_id: node,
            command_class: cc,
            endpoint: 0,
            property,
            property_key: key,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiBody<'a> {
    args: Vec<Value>,
    request_id: &'a str,
}

impl Request {
    /// The node this request is about (`None` for [`Request::GetNodes`]).
    pub fn node(&self) -> Option<u16> {
        match self {
            Request::GetNodes => None,
            Request::SetCode { node, .. }
            | Request::SetCodeAs { node, .. }
            | Request::SetSlotStatus { node, .. }
            | Request::ClearSlot { node, .. }
            | Request::ReadSlotStatus { node, .. }
            | Request::ReadSlotCode { node, .. }
            | Request::Lock { node }
            | Request::Unlock { node }
            | Request::ReadPosition { node }
            | Request::SetAutoRelock { node, .. }
            | Request::ReadAutoRelock { node }
            | Request::SetOperationType { node, .. }
            | Request::ReadBattery { node }
            | Request::Ping { node }
            | Request::RefreshSlots { node } => Some(*node),
        }
    }

    /// The messages to publish, in order, each tagged with `request_id` (a second message of
    /// the same request gets `<request_id>.2`).
    ///
    /// # Errors
    /// An invalid node id, slot 0, a status that cannot be written, a zero timeout, or a
    /// request id that is empty, too long or not printable ASCII.
    pub fn encode(&self, topics: &Topics, request_id: &str) -> Result<Vec<Outbound>, EncodeError> {
        if request_id.is_empty()
            || request_id.len() > MAX_REQUEST_ID_LEN
            || !request_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(EncodeError::InvalidRequestId);
        }
        if let Some(node) = self.node()
            && !(1..=MAX_NODE_ID).contains(&node)
        {
            return Err(EncodeError::InvalidNode);
        }
        let calls = self.calls()?;
        let mut out = Vec::with_capacity(calls.len());
        for (i, (api, args)) in calls.into_iter().enumerate() {
            let id = if i == 0 {
                request_id.to_owned()
            } else {
                format!("{request_id}.{}", i + 1)
            };
            let payload = serde_json::to_vec(&ApiBody {
                args,
                request_id: &id,
            })
            .map_err(|_| EncodeError::InvalidRequestId)?;
            out.push(Outbound {
                topic: topics.api_request(api),
                payload,
                api,
                request_id: id,
            });
        }
        Ok(out)
    }

    fn calls(&self) -> Result<Vec<(&'static str, Vec<Value>)>, EncodeError> {
        let write = |id: ValueId, v: Value| ("writeValue", vec![json!(id), v]);
        let poll = |id: ValueId| ("pollValue", vec![json!(id)]);
        let slot_value = |node, property, slot: u16| {
            if slot == 0 {
                Err(EncodeError::SlotZero)
            } else {
                Ok(ValueId::new(node, CC_USER_CODE, property, Some(slot)))
            }
        };
        let door = |node, property| ValueId::new(node, CC_DOOR_LOCK, property, None);
        Ok(match self {
            Request::GetNodes => vec![("getNodes", vec![])],
            Request::SetCode { node, slot, pin } => vec![write(
                slot_value(*node, "userCode", *slot)?,
                Value::String(pin.expose().to_owned()),
            )],
            Request::SetCodeAs {
                node,
                slot,
                status,
                pin,
            } => {
                slot_value(*node, "userCode", *slot)?;
                let code = match status {
                    SlotStatus::Enabled | SlotStatus::Disabled | SlotStatus::Messaging => {
                        status.code()
                    }
                    _ => return Err(EncodeError::StatusNotWritable),
                };
                vec![(
                    "sendCommand",
                    vec![
                        json!({"nodeId": node, "commandClass": CC_USER_CODE, "endpoint": 0}),
                        json!("set"),
                        json!([slot, code, pin.expose()]),
                    ],
                )]
            }
            Request::SetSlotStatus { node, slot, status } => {
                let code = match status {
                    SlotStatus::Enabled
                    | SlotStatus::Disabled
                    | SlotStatus::Messaging
                    | SlotStatus::PassageMode => status.code(),
                    _ => return Err(EncodeError::StatusNotWritable),
                };
                vec![write(
                    slot_value(*node, "userIdStatus", *slot)?,
                    json!(code),
                )]
            }
            Request::ClearSlot { node, slot } => {
                vec![write(slot_value(*node, "userIdStatus", *slot)?, json!(0))]
            }
            Request::ReadSlotStatus { node, slot } => {
                vec![poll(slot_value(*node, "userIdStatus", *slot)?)]
            }
            Request::ReadSlotCode { node, slot } => {
                vec![poll(slot_value(*node, "userCode", *slot)?)]
            }
            Request::Lock { node } => vec![write(door(*node, "targetMode"), json!(MODE_SECURED))],
            Request::Unlock { node } => {
                vec![write(door(*node, "targetMode"), json!(MODE_UNSECURED))]
            }
            Request::ReadPosition { node } => vec![poll(door(*node, "currentMode"))],
            Request::SetAutoRelock { node, seconds } => {
                vec![write(door(*node, "autoRelockTime"), json!(seconds))]
            }
            Request::ReadAutoRelock { node } => vec![poll(door(*node, "autoRelockTime"))],
            Request::SetOperationType { node, operation } => match operation {
                OperationType::Constant => vec![write(door(*node, "operationType"), json!(1))],
                OperationType::Timed { seconds: 0 } => return Err(EncodeError::ZeroTimeout),
                OperationType::Timed { seconds } => vec![
                    write(door(*node, "operationType"), json!(2)),
                    write(door(*node, "lockTimeoutConfiguration"), json!(seconds)),
                ],
            },
            Request::ReadBattery { node } => {
                vec![poll(ValueId::new(*node, CC_BATTERY, "level", None))]
            }
            Request::Ping { node } => vec![("pingNode", vec![json!(node)])],
            Request::RefreshSlots { node } => {
                vec![("refreshCCValues", vec![json!(node), json!(CC_USER_CODE)])]
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(out: &Outbound) -> Value {
        serde_json::from_slice(&out.payload).expect("JSON")
    }

    #[test]
    fn a_pin_with_a_leading_zero_is_sent_as_a_json_string_through_write_value() {
        let pin = Pin::new("0427").expect("valid");
        let out = Request::SetCode {
            node: 12,
            slot: 3,
            pin,
        }
        .encode(&Topics::default(), "r1")
        .expect("encodes");
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].topic,
            "zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/api/writeValue/set"
        );
        assert!(!out[0].retain());
        assert_eq!(
            body(&out[0]),
            json!({"args":[{"nodeId":12,"commandClass":99,"endpoint":0,"property":"userCode","propertyKey":3},"0427"],
                   "requestId":"r1"})
        );
        assert!(!format!("{:?}", out[0]).contains("0427"));
    }

    #[test]
    fn a_disabled_or_messaging_code_goes_with_its_status_in_one_user_code_set() {
        let pin = Pin::new("0427").expect("valid");
        for (status, byte) in [(SlotStatus::Disabled, 2), (SlotStatus::Messaging, 3)] {
            let out = Request::SetCodeAs {
                node: 12,
                slot: 3,
                status,
                pin: pin.clone(),
            }
            .encode(&Topics::default(), "s1")
            .expect("encodes");
            assert_eq!(out.len(), 1, "one call, never code then status");
            assert!(out[0].topic.ends_with("/api/sendCommand/set"));
            assert_eq!(
                body(&out[0])["args"],
                json!([{"nodeId":12,"commandClass":99,"endpoint":0},"set",[3,byte,"0427"]])
            );
            assert!(!format!("{:?}", out[0]).contains("0427"));
        }
        for status in [SlotStatus::Available, SlotStatus::NotAvailable] {
            let r = Request::SetCodeAs {
                node: 12,
                slot: 3,
                status,
                pin: pin.clone(),
            };
            assert_eq!(
                r.encode(&Topics::default(), "x"),
                Err(EncodeError::StatusNotWritable)
            );
        }
        let zero = Request::SetCodeAs {
            node: 12,
            slot: 0,
            status: SlotStatus::Disabled,
            pin,
        };
        assert_eq!(
            zero.encode(&Topics::default(), "x"),
            Err(EncodeError::SlotZero)
        );
    }

    #[test]
    fn reads_clears_and_modes_use_the_reference_value_ids() {
        let t = Topics::default();
        let clear = Request::ClearSlot { node: 12, slot: 3 }
            .encode(&t, "c")
            .expect("ok");
        assert_eq!(body(&clear[0])["args"][0]["property"], "userIdStatus");
        assert_eq!(body(&clear[0])["args"][1], 0);
        let read = Request::ReadSlotCode { node: 12, slot: 3 }
            .encode(&t, "r")
            .expect("ok");
        assert!(read[0].topic.ends_with("/api/pollValue/set"));
        let unlock = Request::Unlock { node: 12 }.encode(&t, "u").expect("ok");
        assert_eq!(
            body(&unlock[0])["args"],
            json!([{"nodeId":12,"commandClass":98,"endpoint":0,"property":"targetMode"},0])
        );
        let relock = Request::ReadAutoRelock { node: 12 }
            .encode(&t, "a")
            .expect("ok");
        assert!(relock[0].topic.ends_with("/api/pollValue/set"));
        assert_eq!(body(&relock[0])["args"][0]["property"], "autoRelockTime");
        let ping = Request::Ping { node: 12 }.encode(&t, "p").expect("ok");
        assert_eq!(body(&ping[0])["args"], json!([12]));
        let timed = Request::SetOperationType {
            node: 12,
            operation: OperationType::Timed { seconds: 30 },
        }
        .encode(&t, "o")
        .expect("ok");
        assert_eq!(timed.len(), 2);
        assert_eq!(timed[1].request_id, "o.2");
    }

    #[test]
    fn bad_requests_are_refused_before_anything_is_built() {
        let t = Topics::default();
        assert_eq!(Pin::new("123"), Err(EncodeError::InvalidPin));
        assert_eq!(Pin::new("12345678901"), Err(EncodeError::InvalidPin));
        assert_eq!(Pin::new("12a4"), Err(EncodeError::InvalidPin));
        assert_eq!(
            Request::ClearSlot { node: 12, slot: 0 }.encode(&t, "x"),
            Err(EncodeError::SlotZero)
        );
        assert_eq!(
            Request::Ping { node: 0 }.encode(&t, "x"),
            Err(EncodeError::InvalidNode)
        );
        assert_eq!(
            Request::Ping { node: 12 }.encode(&t, "has space"),
            Err(EncodeError::InvalidRequestId)
        );
        assert_eq!(
            Request::SetSlotStatus {
                node: 12,
                slot: 1,
                status: SlotStatus::Available
            }
            .encode(&t, "x"),
            Err(EncodeError::StatusNotWritable)
        );
    }
}
