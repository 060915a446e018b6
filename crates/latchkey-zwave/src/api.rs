//! Answers of the gateway's API (`<prefix>/_CLIENTS/<client>/api/<api>`): `getNodes`, the
//! result of `writeValue` and of a User Code `sendCommand`, the value `pollValue` read from the
//! lock, `pingNode`.
//!
//! An answer is `{"success":…, "message":…, "result":…, "args":[…], "origin":{…}}`; `origin`
//! echoes our request, so its `requestId` ties the answer to the request. `args` echoes PINs:
//! nothing here keeps them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::limits::{ParseError, as_uint, truncate, wrong_type};
use crate::request::{MAX_NODE_ID, MAX_REQUEST_ID_LEN};
use crate::values::{
    Availability, CC_BATTERY, CC_DOOR_LOCK, CC_USER_CODE, Report, ReportedCode, SlotStatus,
    value_report,
};

/// Longest node name, location or label kept.
pub const MAX_TEXT: usize = 128;
/// Longest failure message kept.
pub const MAX_MESSAGE: usize = 200;

/// The API calls latchkey makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    GetNodes,
    WriteValue,
    PollValue,
    PingNode,
    RefreshCcValues,
    SendCommand,
}

impl Api {
    pub(crate) fn from_name(s: &str) -> Option<Api> {
        Some(match s {
            "getNodes" => Api::GetNodes,
            "writeValue" => Api::WriteValue,
            "pollValue" => Api::PollValue,
            "pingNode" => Api::PingNode,
            "refreshCCValues" => Api::RefreshCcValues,
            "sendCommand" => Api::SendCommand,
            _ => return None,
        })
    }
}

/// What a `writeValue` result (`SetValueResult.status`) says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// 255: the lock confirmed through Supervision.
    Confirmed,
    /// 254: sent, execution unknown. Read the value back.
    Unsupervised,
    /// 1: the lock is working on it.
    Working,
    /// 0: the lock does not support this command class.
    NoDeviceSupport,
    /// 2: failed (the node did not answer, or refused). The gateway also turns internal errors
    /// into this.
    Failed,
    /// 3.
    EndpointNotFound,
    /// 4.
    NotImplemented,
    /// 5: zwave-js refused the value (type, code length, slot beyond capacity).
    InvalidValue,
    /// Another status number.
    Other(u8),
}

impl WriteOutcome {
    fn from_status(n: u8) -> WriteOutcome {
        match n {
            255 => WriteOutcome::Confirmed,
            254 => WriteOutcome::Unsupervised,
            1 => WriteOutcome::Working,
            0 => WriteOutcome::NoDeviceSupport,
            2 => WriteOutcome::Failed,
            3 => WriteOutcome::EndpointNotFound,
            4 => WriteOutcome::NotImplemented,
            5 => WriteOutcome::InvalidValue,
            n => WriteOutcome::Other(n),
        }
    }

    /// Whether the write may have reached the lock (read it back before believing it).
    pub fn maybe_applied(self) -> bool {
        matches!(
            self,
            WriteOutcome::Confirmed | WriteOutcome::Unsupervised | WriteOutcome::Working
        )
    }
}

/// Which value a `writeValue` or `pollValue` was about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueRef {
    pub node: u16,
    pub command_class: u16,
    pub endpoint: u16,
    pub property: String,
    pub key: Option<String>,
}

/// A User Code slot as `getNodes` lists it (from the gateway's cache: it may be unread).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListedSlot {
    pub status: Option<SlotStatus>,
    pub code: Option<ReportedCode>,
}

/// One node of a `getNodes` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSummary {
    pub id: u16,
    pub name: String,
    pub location: String,
    pub status: Option<Availability>,
    pub ready: bool,
    pub failed: bool,
    /// Included with S0 or S2 security: without it, Door Lock and User Code are not available.
    pub secure: bool,
    /// Neither always listening nor frequently listening: commands wait for its wake-up.
    pub sleeping: bool,
    pub manufacturer_id: Option<u16>,
    pub product_type: Option<u16>,
    pub product_id: Option<u16>,
    pub product_label: String,
    pub firmware_version: String,
    /// Has Door Lock values.
    pub door_lock: bool,
    /// Has Door Lock `autoRelockTime` (Door Lock v4): auto-relock can be set through it.
    pub auto_relock: bool,
    /// Has Battery values.
    pub battery: bool,
    /// User Code slots by number (their count is the lock's capacity).
    pub slots: BTreeMap<u16, ListedSlot>,
}

impl NodeSummary {
    /// Whether latchkey can drive it: a secure node with Door Lock or User Code values.
    pub fn is_lock(&self) -> bool {
        self.secure && (self.door_lock || !self.slots.is_empty())
    }

    /// The number of User Code slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// A parsed API answer, before node checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Nodes(Vec<NodeSummary>, usize),
    Written(ValueRef, WriteOutcome),
    Read(ValueRef, Option<Report>),
    Pinged(u16, bool),
    Done(Option<u16>),
    Failed(Option<u16>, String),
}

/// `origin.requestId`, if it is a string we could have sent.
pub(crate) fn request_id(map: &Map<String, Value>) -> Option<String> {
    let id = map.get("origin")?.get("requestId")?.as_str()?;
    (id.len() <= MAX_REQUEST_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| id.to_owned())
}

fn first_arg(map: &Map<String, Value>) -> Option<&Value> {
    let args = map
        .get("args")
        .or_else(|| map.get("origin").and_then(|o| o.get("args")))?;
    args.as_array()?.first()
}

fn node_id(v: &Value) -> Option<u16> {
    as_uint(v, u64::from(MAX_NODE_ID))
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n >= 1)
}

fn value_ref(v: Option<&Value>) -> Result<ValueRef, ParseError> {
    let m = v
        .and_then(Value::as_object)
        .ok_or(ParseError::MissingField { field: "args" })?;
    let bad = |field| ParseError::InvalidField {
        field,
        reason: "not a valueId",
    };
    let small = |k: &'static str| {
        m.get(k)
            .and_then(|v| as_uint(v, u64::from(u16::MAX)))
            .and_then(|n| u16::try_from(n).ok())
            .ok_or(bad(k))
    };
    let property = m
        .get("property")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= MAX_TEXT)
        .ok_or(bad("property"))?;
    let key = match m.get("propertyKey") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n <= u64::from(u16::MAX)) => {
            Some(n.to_string())
        }
        Some(Value::String(s)) if s.len() <= MAX_TEXT => Some(s.clone()),
        Some(_) => return Err(bad("propertyKey")),
    };
    Ok(ValueRef {
        node: m.get("nodeId").and_then(node_id).ok_or(bad("nodeId"))?,
        command_class: small("commandClass")?,
        endpoint: m.get("endpoint").map_or(Ok(0), |_| small("endpoint"))?,
        property: property.to_owned(),
        key,
    })
}

/// Digit runs of four or more are masked: a gateway message may quote the value it refused.
fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE));
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 4 {
            out.push_str("****");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in message.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            if !c.is_control() {
                out.push(c);
            }
        }
    }
    flush(&mut run, &mut out);
    truncate(&out, MAX_MESSAGE)
}

/// Parses the answer to `api` (already size- and depth-checked JSON object).
pub(crate) fn answer(
    api: Api,
    map: &Map<String, Value>,
    max_nodes: usize,
) -> Result<Answer, ParseError> {
    let success = match map.get("success") {
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(wrong_type("boolean", other)),
        None => return Err(ParseError::MissingField { field: "success" }),
    };
    let node_arg = || match api {
        Api::WriteValue | Api::PollValue => value_ref(first_arg(map)).ok().map(|v| v.node),
        Api::SendCommand => first_arg(map)
            .and_then(|t| t.get("nodeId"))
            .and_then(node_id),
        _ => first_arg(map).and_then(node_id),
    };
    if !success {
        let message = map.get("message").and_then(Value::as_str).unwrap_or("");
        return Ok(Answer::Failed(node_arg(), scrub(message)));
    }
    let result = map.get("result").filter(|v| !v.is_null());
    Ok(match api {
        Api::GetNodes => {
            let list = result
                .ok_or(ParseError::MissingField { field: "result" })?
                .as_array()
                .ok_or_else(|| wrong_type("array", result.unwrap_or(&Value::Null)))?;
            if list.len() > max_nodes {
                return Err(ParseError::TooManyNodes { max: max_nodes });
            }
            let mut nodes = Vec::with_capacity(list.len());
            let mut skipped = 0;
            for entry in list {
                match node_summary(entry) {
                    Some(n) => nodes.push(n),
                    None => skipped += 1,
                }
            }
            Answer::Nodes(nodes, skipped)
        }
        Api::WriteValue => {
            let target = value_ref(first_arg(map))?;
            let status = result
                .and_then(|r| r.get("status"))
                .ok_or(ParseError::MissingField { field: "result" })?;
            let status = as_uint(status, 255)
                .and_then(|n| u8::try_from(n).ok())
                .ok_or(ParseError::InvalidField {
                    field: "status",
                    reason: "expected an integer 0–255",
                })?;
            Answer::Written(target, WriteOutcome::from_status(status))
        }
        Api::PollValue => {
            let target = value_ref(first_arg(map))?;
            let report = match result {
                None => None,
                Some(v) => read_report(&target, v)?,
            };
            Answer::Read(target, report)
        }
        Api::PingNode => {
            let node = node_arg().ok_or(ParseError::MissingField { field: "args" })?;
            match result {
                Some(Value::Bool(alive)) => Answer::Pinged(node, *alive),
                Some(other) => return Err(wrong_type("boolean", other)),
                None => return Err(ParseError::MissingField { field: "result" }),
            }
        }
        Api::RefreshCcValues => Answer::Done(node_arg()),
        Api::SendCommand => {
            let target = command_target(map, node_arg())?;
            // The method's own result: a Supervision result from a lock that supervises,
            // nothing from one that does not (sent, not known to be carried out).
            let outcome = match result.and_then(|r| r.get("status")) {
                None => WriteOutcome::Unsupervised,
                Some(status) => WriteOutcome::from_status(
                    as_uint(status, 255)
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or(ParseError::InvalidField {
                            field: "status",
                            reason: "expected an integer 0–255",
                        })?,
                ),
            };
            Answer::Written(target, outcome)
        }
    })
}

/// The slot a User Code `sendCommand` (`[{nodeId, commandClass: 99}, "set", [slot, …]]`) was
/// about, as the value it wrote.
fn command_target(map: &Map<String, Value>, node: Option<u16>) -> Result<ValueRef, ParseError> {
    let bad = |reason| ParseError::InvalidField {
        field: "args",
        reason,
    };
    let args = map
        .get("args")
        .or_else(|| map.get("origin").and_then(|o| o.get("args")))
        .and_then(Value::as_array)
        .ok_or(ParseError::MissingField { field: "args" })?;
    let cc = args
        .first()
        .and_then(|t| t.get("commandClass"))
        .and_then(|c| as_uint(c, u64::from(u16::MAX)));
    if cc != Some(u64::from(CC_USER_CODE)) || args.get(1).and_then(Value::as_str) != Some("set") {
        return Err(bad("not a User Code set"));
    }
    let slot = args
        .get(2)
        .and_then(|p| p.get(0))
        .and_then(|n| as_uint(n, u64::from(u16::MAX)))
        .filter(|n| *n >= 1)
        .ok_or(bad("no user id"))?;
    Ok(ValueRef {
        node: node.ok_or(bad("no node id"))?,
        command_class: CC_USER_CODE,
        endpoint: 0,
        property: "userCode".to_owned(),
        key: Some(slot.to_string()),
    })
}

fn read_report(target: &ValueRef, v: &Value) -> Result<Option<Report>, ParseError> {
    value_report(
        target.command_class,
        &target.property,
        target.key.as_deref(),
        Some(v),
    )
}

fn text(m: &Map<String, Value>, k: &str) -> String {
    m.get(k)
        .and_then(Value::as_str)
        .map(|s| truncate(s, MAX_TEXT))
        .unwrap_or_default()
}

fn flag(m: &Map<String, Value>, k: &str) -> bool {
    match m.get(k) {
        Some(Value::Bool(b)) => *b,
        // isFrequentListening is "1000ms"/"250ms" when true.
        Some(Value::String(s)) => !s.is_empty() && s != "false",
        _ => false,
    }
}

fn small(m: &Map<String, Value>, k: &str) -> Option<u16> {
    m.get(k)
        .and_then(|v| as_uint(v, u64::from(u16::MAX)))
        .and_then(|n| u16::try_from(n).ok())
}

/// One node of `getNodes`, or `None` when it has no usable id.
fn node_summary(v: &Value) -> Option<NodeSummary> {
    let m = v.as_object()?;
    let id = m.get("id").and_then(node_id)?;
    let mut node = NodeSummary {
        id,
        name: text(m, "name"),
        location: text(m, "loc"),
        status: m
            .get("status")
            .and_then(Value::as_str)
            .and_then(Availability::from_wire),
        ready: flag(m, "ready"),
        failed: flag(m, "failed"),
        secure: flag(m, "isSecure"),
        sleeping: !flag(m, "isListening") && !flag(m, "isFrequentListening"),
        manufacturer_id: small(m, "manufacturerId"),
        product_type: small(m, "productType"),
        product_id: small(m, "productId"),
        product_label: text(m, "productLabel"),
        firmware_version: text(m, "firmwareVersion"),
        ..NodeSummary::default()
    };
    let Some(values) = m.get("values").and_then(Value::as_object) else {
        return Some(node);
    };
    for value in values.values() {
        let Ok(r) = value_ref(Some(value)) else {
            continue;
        };
        match r.command_class {
            CC_DOOR_LOCK => {
                node.door_lock = true;
                if r.property == "autoRelockTime" {
                    node.auto_relock = true;
                }
            }
            CC_BATTERY => node.battery = true,
            CC_USER_CODE => {
                let Some(slot) = r.key.as_deref().and_then(crate::topic::small_number) else {
                    continue;
                };
                let reported = value.get("value");
                let report = value_report(r.command_class, &r.property, r.key.as_deref(), reported);
                let listed = r.property == "userIdStatus" || r.property == "userCode";
                if !listed {
                    continue;
                }
                // A slot whose value is not read yet (or unreadable) still exists.
                let entry = node.slots.entry(slot).or_default();
                match report {
                    Ok(Some(Report::SlotStatus { status, .. })) => entry.status = Some(status),
                    Ok(Some(Report::SlotCode { code, .. })) => entry.code = Some(code),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn write_results_are_read_from_the_set_value_result() {
        let a = answer(
            Api::WriteValue,
            &obj(json!({"success":true,"message":"Success zwave api call","result":{"status":254},
              "args":[{"nodeId":12,"commandClass":99,"endpoint":0,"property":"userCode","propertyKey":3},"0427"],
              "origin":{"args":[],"requestId":"r1"}})),
            10,
        )
        .expect("parses");
        let Answer::Written(target, outcome) = a else {
            panic!("{a:?}")
        };
        assert_eq!(outcome, WriteOutcome::Unsupervised);
        assert_eq!((target.node, target.key.as_deref()), (12, Some("3")));
    }

    #[test]
    fn a_failure_keeps_no_pin_from_its_message() {
        let a = answer(
            Api::WriteValue,
            &obj(json!({"success":false,"message":"Invalid code 0427 for slot 3","args":[{"nodeId":12,"commandClass":99,"endpoint":0,"property":"userCode","propertyKey":3},"0427"]})),
            10,
        )
        .expect("parses");
        assert_eq!(
            a,
            Answer::Failed(Some(12), "Invalid code **** for slot 3".into())
        );
    }

    #[test]
    fn get_nodes_lists_locks_with_their_slots_and_sleep_mode() {
        let a = answer(
            Api::GetNodes,
            &obj(json!({"success":true,"result":[
                {"id":1,"name":"controller","isListening":true,"values":{}},
                {"id":12,"name":"front_door","status":"Alive","ready":true,"isSecure":true,
                 "isListening":false,"isFrequentListening":"1000ms","manufacturerId":59,
                 "values":{
                   "98-0-currentMode":{"nodeId":12,"commandClass":98,"endpoint":0,"property":"currentMode","value":255},
                   "99-0-userIdStatus-1":{"nodeId":12,"commandClass":99,"endpoint":0,"property":"userIdStatus","propertyKey":1,"value":1},
                   "99-0-userCode-1":{"nodeId":12,"commandClass":99,"endpoint":0,"property":"userCode","propertyKey":1,"value":"1234"},
                   "99-0-userIdStatus-2":{"nodeId":12,"commandClass":99,"endpoint":0,"property":"userIdStatus","propertyKey":2}
                 }},
                {"id":"x"}
            ]})),
            10,
        )
        .expect("parses");
        let Answer::Nodes(nodes, skipped) = a else {
            panic!("{a:?}")
        };
        assert_eq!(skipped, 1);
        assert!(!nodes[0].is_lock());
        let lock = &nodes[1];
        assert!(lock.is_lock() && !lock.sleeping && lock.door_lock);
        assert!(
            !lock.auto_relock,
            "no autoRelockTime value: Door Lock below v4"
        );
        assert_eq!(lock.capacity(), 2);
        assert_eq!(lock.slots[&1].status, Some(SlotStatus::Enabled));
        assert_eq!(lock.slots[&2], ListedSlot::default());
    }

    #[test]
    fn too_many_nodes_are_refused() {
        let list: Vec<Value> = (1..=20).map(|i| json!({"id":i})).collect();
        assert_eq!(
            answer(
                Api::GetNodes,
                &obj(json!({"success":true,"result":list})),
                10
            ),
            Err(ParseError::TooManyNodes { max: 10 })
        );
    }
}
