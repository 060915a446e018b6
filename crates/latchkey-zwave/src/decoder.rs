//! One entry point for the MQTT task: classify the topic, parse the payload, resolve the node,
//! tell an early echo from the lock's answer, pair legacy alarm halves, and count every
//! refusal. Pure: it holds state (the node directory and a few timestamps) but does no I/O.
//!
//! Only nodes the gateway listed in a `getNodes` answer are accepted; messages about any other
//! node are refused as [`ParseError::UnknownNode`] and counted, as are malformed payloads. The
//! decoder learns the node list from the `getNodes` answers it decodes.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::api::{self, Answer, Api, NodeSummary, ValueRef, WriteOutcome};
use crate::events::{LegacyAlarms, node_notification, notification_value};
use crate::limits::{
    Limits, ParseError, Rejections, as_uint, parse_json, parse_object, wrong_type,
};
use crate::topic::{TopicKind, Topics};
use crate::values::{Availability, CC_NOTIFICATION, Report, value_report};

/// Most value timestamps remembered per node (enough for 250 slots and the lock's other values).
const MAX_TIMES_PER_NODE: usize = 1_024;

/// Where a node report came from, which says how far to believe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A value update whose time is new: the lock (or the gateway about the lock) said so.
    Update { time: Option<u64> },
    /// An update whose `time` is the previous update's of the same value. zwave-js publishes
    /// the written value at once for an unsupervised write, keeping the old timestamp, before
    /// the lock has answered: a heuristic sign of that echo. Never a confirmation.
    Echo { time: u64 },
    /// The value `pollValue` read from the lock: the lock's own answer.
    ReadBack { request_id: Option<String> },
    /// A one-shot notification or forwarded event.
    Event,
}

/// A decoded inbound message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Something about one node.
    Node {
        node: u16,
        report: Report,
        origin: Origin,
    },
    /// A `getNodes` answer (`skipped`: entries without a usable id).
    Nodes {
        request_id: Option<String>,
        nodes: Vec<NodeSummary>,
        skipped: usize,
    },
    /// A `writeValue` result.
    Written {
        request_id: Option<String>,
        target: ValueRef,
        outcome: WriteOutcome,
    },
    /// A `pollValue` that brought no value back (the lock did not answer).
    ReadNothing {
        request_id: Option<String>,
        target: ValueRef,
    },
    /// A `pingNode` answer.
    Pinged {
        request_id: Option<String>,
        node: u16,
        alive: bool,
    },
    /// Another API call succeeded.
    Done {
        api: Api,
        request_id: Option<String>,
        node: Option<u16>,
    },
    /// An API call failed (`message` has digit runs masked).
    Failed {
        api: Api,
        request_id: Option<String>,
        node: Option<u16>,
        message: String,
    },
    /// The gateway's own MQTT connection is up (false: its last will).
    GatewayOnline(bool),
    /// The Z-Wave driver is ready.
    DriverReady(bool),
}

#[derive(Debug, Default)]
struct NodeState {
    times: HashMap<String, u64>,
    legacy: LegacyAlarms,
    last_notification: Option<u64>,
}

/// Decodes everything one gateway publishes. See the module docs.
#[derive(Debug)]
pub struct Decoder {
    topics: Topics,
    limits: Limits,
    segments: HashMap<String, u16>,
    nodes: HashMap<u16, NodeState>,
    rejections: Rejections,
}

impl Decoder {
    /// A decoder for the gateway at `topics` that knows no node yet.
    pub fn new(topics: Topics, limits: Limits) -> Self {
        Decoder {
            topics,
            limits,
            segments: HashMap::new(),
            nodes: HashMap::new(),
            rejections: Rejections::default(),
        }
    }

    /// The topic layout.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Refusals so far, by reason.
    pub fn rejections(&self) -> &Rejections {
        &self.rejections
    }

    /// Replaces the known nodes with `nodes` (done on every decoded `getNodes` answer).
    pub fn learn(&mut self, nodes: &[NodeSummary]) {
        self.segments = nodes
            .iter()
            .map(|n| (self.topics.node_segment(n.id, &n.name), n.id))
            .collect();
        self.nodes.retain(|id, _| nodes.iter().any(|n| n.id == *id));
        for n in nodes {
            self.nodes.entry(n.id).or_default();
        }
    }

    /// Whether `node` was listed.
    pub fn knows(&self, node: u16) -> bool {
        self.nodes.contains_key(&node)
    }

    /// Decodes one message. `Ok(None)`: nothing latchkey reads (another prefix, a write by some
    /// client, a value or event latchkey does not use). Every `Err` is also counted in
    /// [`Decoder::rejections`].
    ///
    /// # Errors
    /// The payload is oversized, not UTF-8, too deep, not JSON, of the wrong shape, or about a
    /// node the gateway did not list.
    pub fn decode(&mut self, topic: &str, payload: &[u8]) -> Result<Option<Inbound>, ParseError> {
        let result = self.decode_inner(topic, payload);
        if let Err(e) = &result {
            self.rejections.record(e);
        }
        result
    }

    fn decode_inner(&mut self, topic: &str, payload: &[u8]) -> Result<Option<Inbound>, ParseError> {
        let Some(kind) = self.topics.classify(topic) else {
            return Ok(None);
        };
        let small = (self.limits.max_payload_bytes, self.limits.max_json_depth);
        match kind {
            TopicKind::Value {
                node,
                command_class,
                property,
                key,
                ..
            } => {
                let node = self.resolve(node)?;
                let map = parse_object(payload, small.0, small.1)?;
                self.value(node, command_class, property, key, &map)
            }
            TopicKind::NodeStatus { node } => {
                let node = self.resolve(node)?;
                let map = parse_object(payload, small.0, small.1)?;
                let availability = match (map.get("status"), map.get("value")) {
                    (Some(Value::String(s)), _) => {
                        Availability::from_wire(s).ok_or(ParseError::InvalidField {
                            field: "status",
                            reason: "unknown node status",
                        })?
                    }
                    (None, Some(Value::Bool(false))) => Availability::Dead,
                    (None, Some(Value::Bool(true))) => Availability::Unknown,
                    _ => return Err(ParseError::MissingField { field: "status" }),
                };
                Ok(Some(node_report(
                    node,
                    Report::Availability(availability),
                    Origin::Update {
                        time: time_of(&map),
                    },
                )))
            }
            TopicKind::LastActive { node } => {
                let node = self.resolve(node)?;
                let map = parse_object(payload, small.0, small.1)?;
                let ms =
                    map.get("value")
                        .and_then(Value::as_u64)
                        .ok_or(ParseError::InvalidField {
                            field: "value",
                            reason: "expected ms since the epoch",
                        })?;
                Ok(Some(node_report(
                    node,
                    Report::LastActive { ms },
                    Origin::Update {
                        time: time_of(&map),
                    },
                )))
            }
            TopicKind::GatewayStatus => {
                let map = parse_object(payload, small.0, small.1)?;
                match map.get("value") {
                    Some(Value::Bool(b)) => Ok(Some(Inbound::GatewayOnline(*b))),
                    Some(other) => Err(wrong_type("boolean", other)),
                    None => Err(ParseError::MissingField { field: "value" }),
                }
            }
            TopicKind::DriverStatus => match parse_json(payload, small.0, small.1)? {
                Value::Bool(b) => Ok(Some(Inbound::DriverReady(b))),
                Value::Object(m) => match m.get("value") {
                    Some(Value::Bool(b)) => Ok(Some(Inbound::DriverReady(*b))),
                    _ => Err(ParseError::MissingField { field: "value" }),
                },
                other => Err(wrong_type("boolean", &other)),
            },
            TopicKind::Event {
                scope: "node",
                name,
            } => {
                let map = parse_object(payload, small.0, small.1)?;
                self.event(name, &map)
            }
            TopicKind::ApiResponse { api } => {
                let Some(api) = Api::from_name(api) else {
                    return Ok(None);
                };
                let map = parse_object(
                    payload,
                    self.limits.max_api_payload_bytes,
                    self.limits.max_json_depth,
                )?;
                self.answer(api, &map).map(Some)
            }
            TopicKind::Event { .. }
            | TopicKind::Write
            | TopicKind::NodeInfo { .. }
            | TopicKind::ApiRequest
            | TopicKind::Other => Ok(None),
        }
    }

    fn resolve(&self, segment: &str) -> Result<u16, ParseError> {
        self.segments
            .get(segment)
            .copied()
            .ok_or(ParseError::UnknownNode)
    }

    fn known(&self, node: u16) -> Result<u16, ParseError> {
        if self.knows(node) {
            Ok(node)
        } else {
            Err(ParseError::UnknownNode)
        }
    }

    fn value(
        &mut self,
        node: u16,
        cc: u16,
        property: &str,
        key: Option<&str>,
        map: &Map<String, Value>,
    ) -> Result<Option<Inbound>, ParseError> {
        let time = time_of(map);
        let value = map.get("value");
        let state = self.nodes.entry(node).or_default();
        if cc == CC_NOTIFICATION {
            let Some(report) = notification_value(property, key, value) else {
                return Ok(None);
            };
            let report = match report {
                half @ (Report::LegacyAlarmType(_) | Report::LegacyAlarmLevel(_)) => {
                    let paired = time.and_then(|t| state.legacy.feed(&half, t));
                    // The legacy pair is a fallback: a Notification report of the same
                    // operation within the window wins.
                    let recent = match (time, state.last_notification) {
                        (Some(t), Some(n)) => t.abs_diff(n) <= LegacyAlarms::WINDOW_MS,
                        _ => false,
                    };
                    match paired {
                        Some(r) if !recent => r,
                        _ => half,
                    }
                }
                other => {
                    if let Some(t) = time {
                        state.last_notification = Some(t);
                    }
                    other
                }
            };
            return Ok(Some(node_report(node, report, Origin::Event)));
        }
        // The time is remembered even for an update without a value (the gateway publishes
        // `{"time":…}` for a value not read yet), so that the first write's echo is known.
        let origin = match time {
            Some(t) => {
                let id = format!("{cc}/{property}/{}", key.unwrap_or(""));
                if state.times.len() >= MAX_TIMES_PER_NODE && !state.times.contains_key(&id) {
                    state.times.clear();
                }
                match state.times.insert(id, t) {
                    Some(previous) if previous == t => Origin::Echo { time: t },
                    _ => Origin::Update { time: Some(t) },
                }
            }
            None => Origin::Update { time: None },
        };
        let Some(report) = value_report(cc, property, key, value)? else {
            return Ok(None);
        };
        Ok(Some(node_report(node, report, origin)))
    }

    fn event(&self, name: &str, map: &Map<String, Value>) -> Result<Option<Inbound>, ParseError> {
        let data = map
            .get("data")
            .ok_or(ParseError::MissingField { field: "data" })?
            .as_array()
            .ok_or(ParseError::InvalidField {
                field: "data",
                reason: "expected an array",
            })?;
        let node = data
            .first()
            .and_then(|n| n.get("id"))
            .and_then(|id| as_uint(id, u64::from(u16::MAX)))
            .and_then(|id| u16::try_from(id).ok())
            .ok_or(ParseError::InvalidField {
                field: "data",
                reason: "expected the node first",
            })?;
        let node = self.known(node)?;
        let report = match name {
            "node_notification" => {
                if data.get(1).and_then(Value::as_u64) != Some(u64::from(CC_NOTIFICATION)) {
                    return Ok(None);
                }
                let Some(n) = data.get(2).and_then(Value::as_object) else {
                    return Err(ParseError::InvalidField {
                        field: "data",
                        reason: "expected the notification third",
                    });
                };
                match node_notification(n) {
                    Some(r) => r,
                    None => return Ok(None),
                }
            }
            "node_dead" => Report::Availability(Availability::Dead),
            "node_alive" => Report::Availability(Availability::Alive),
            "node_sleep" => Report::Availability(Availability::Asleep),
            "node_wakeup" => Report::Availability(Availability::Awake),
            _ => return Ok(None),
        };
        Ok(Some(node_report(node, report, Origin::Event)))
    }

    fn answer(&mut self, api: Api, map: &Map<String, Value>) -> Result<Inbound, ParseError> {
        let request_id = api::request_id(map);
        Ok(match api::answer(api, map, self.limits.max_nodes)? {
            Answer::Nodes(nodes, skipped) => {
                self.learn(&nodes);
                Inbound::Nodes {
                    request_id,
                    nodes,
                    skipped,
                }
            }
            Answer::Written(target, outcome) => {
                self.known(target.node)?;
                Inbound::Written {
                    request_id,
                    target,
                    outcome,
                }
            }
            Answer::Read(target, report) => {
                let node = self.known(target.node)?;
                match report {
                    Some(report) => node_report(node, report, Origin::ReadBack { request_id }),
                    None => Inbound::ReadNothing { request_id, target },
                }
            }
            Answer::Pinged(node, alive) => Inbound::Pinged {
                request_id,
                node: self.known(node)?,
                alive,
            },
            Answer::Done(node) => Inbound::Done {
                api,
                request_id,
                node: node.map(|n| self.known(n)).transpose()?,
            },
            Answer::Failed(node, message) => Inbound::Failed {
                api,
                request_id,
                node: node.filter(|n| self.knows(*n)),
                message,
            },
        })
    }
}

fn node_report(node: u16, report: Report, origin: Origin) -> Inbound {
    Inbound::Node {
        node,
        report,
        origin,
    }
}

/// The update time: `time` (payload type 0) or `lastUpdate` (type 1).
fn time_of(map: &Map<String, Value>) -> Option<u64> {
    map.get("time")
        .or_else(|| map.get("lastUpdate"))
        .and_then(Value::as_u64)
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
