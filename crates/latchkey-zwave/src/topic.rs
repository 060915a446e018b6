//! Where Z-Wave JS UI's MQTT gateway publishes what, and where its API listens.
//!
//! latchkey reads the gateway's "ValueId topics" layout (`gateway.type` 0) with the node
//! location left out (`gateway.ignoreLoc` on), so a node is always exactly one topic level:
//! its numeric id ([`NodeNaming::Ids`], `gateway.nodeNames` off — recommended, a rename in the
//! gateway then changes nothing) or its sanitised name, `nodeID_<id>` when unnamed
//! ([`NodeNaming::Names`], the gateway's default). Under the prefix:
//!
//! | Topic | Kind |
//! |---|---|
//! | `<node>/<cc>/<endpoint>/<property>[/<key>]` | a value ([`TopicKind::Value`]) |
//! | `…/set` | a write by some client ([`TopicKind::Write`], skipped) |
//! | `<node>/status`, `<node>/lastActive`, `<node>/nodeinfo` | node status |
//! | `_CLIENTS/ZWAVE_GATEWAY-<name>/api/<api>[/set]` | API response [request] |
//! | `_CLIENTS/ZWAVE_GATEWAY-<name>/status` | the gateway's own online flag (last will) |
//! | `_EVENTS/ZWAVE_GATEWAY-<name>/<scope>/<event>` | forwarded driver events |
//! | `driver/status` | the Z-Wave driver is ready |
//!
//! Another gateway's `_CLIENTS`/`_EVENTS` topics are not ours and classify as
//! [`TopicKind::Other`].

/// The gateway's default MQTT prefix (`mqtt.prefix`).
pub const DEFAULT_PREFIX: &str = "zwave";
/// The gateway's default MQTT name (`mqtt.name`).
pub const DEFAULT_NAME: &str = "zwave-js-ui";
/// Longest node name segment accepted.
pub const MAX_NODE_SEGMENT_BYTES: usize = 128;

/// How the gateway names a node in topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NodeNaming {
    /// `gateway.nodeNames` off: the numeric node id.
    #[default]
    Ids,
    /// `gateway.nodeNames` on: the sanitised node name, or `nodeID_<id>` when it has none.
    Names,
}

/// Why a prefix or gateway name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("the prefix must not be empty, start or end with `/`, or have an empty level")]
    BadPrefix,
    #[error("the prefix must not contain `+`, `#`, NUL or control characters")]
    PrefixForbiddenChar,
    #[error("the gateway name has nothing left after the gateway's own sanitising")]
    EmptyName,
}

/// What an inbound topic under the prefix carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind<'a> {
    /// A value of a node.
    Value {
        node: &'a str,
        command_class: u16,
        endpoint: u16,
        property: &'a str,
        key: Option<&'a str>,
    },
    /// `…/set`: a write by some client (ours included). Skipped.
    Write,
    /// `<node>/status`.
    NodeStatus { node: &'a str },
    /// `<node>/lastActive`.
    LastActive { node: &'a str },
    /// `<node>/nodeinfo`.
    NodeInfo { node: &'a str },
    /// Our gateway's answer to an API call.
    ApiResponse { api: &'a str },
    /// An API call to our gateway (ours or another client's). Skipped.
    ApiRequest,
    /// Our gateway's own online flag.
    GatewayStatus,
    /// `driver/status`.
    DriverStatus,
    /// A forwarded driver event (`gateway.sendEvents`).
    Event { scope: &'a str, name: &'a str },
    /// Anything else under the prefix.
    Other,
}

/// The topic layout of one gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    client: String,
    naming: NodeNaming,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            prefix: DEFAULT_PREFIX.to_owned(),
            client: format!("ZWAVE_GATEWAY-{DEFAULT_NAME}"),
            naming: NodeNaming::Ids,
        }
    }
}

impl Topics {
    /// The layout of a gateway with `mqtt.prefix` = `prefix` and `mqtt.name` = `name` (the
    /// gateway sanitises the name the same way it sanitises topic levels).
    ///
    /// # Errors
    /// The prefix is empty, has an empty level or an MQTT wildcard; the name sanitises to
    /// nothing.
    pub fn new(prefix: &str, name: &str, naming: NodeNaming) -> Result<Self, TopicError> {
        if prefix.is_empty() || prefix.split('/').any(str::is_empty) {
            return Err(TopicError::BadPrefix);
        }
        if prefix
            .chars()
            .any(|c| c == '+' || c == '#' || c.is_control())
        {
            return Err(TopicError::PrefixForbiddenChar);
        }
        let name = sanitize_level(name);
        if name.is_empty() {
            return Err(TopicError::EmptyName);
        }
        Ok(Topics {
            prefix: prefix.to_owned(),
            client: format!("ZWAVE_GATEWAY-{name}"),
            naming,
        })
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The gateway's MQTT client id, `ZWAVE_GATEWAY-<sanitised name>`.
    pub fn client_id(&self) -> &str {
        &self.client
    }

    /// How nodes are named in topics.
    pub fn naming(&self) -> NodeNaming {
        self.naming
    }

    /// `<prefix>/#`: everything the gateway publishes.
    pub fn subscription(&self) -> String {
        format!("{}/#", self.prefix)
    }

    /// Where an API call goes: `<prefix>/_CLIENTS/<client>/api/<api>/set`.
    pub fn api_request(&self, api: &str) -> String {
        format!("{}/_CLIENTS/{}/api/{api}/set", self.prefix, self.client)
    }

    /// Where its answer comes: `<prefix>/_CLIENTS/<client>/api/<api>`.
    pub fn api_response(&self, api: &str) -> String {
        format!("{}/_CLIENTS/{}/api/{api}", self.prefix, self.client)
    }

    /// The topic level of a node, given its id and name as the gateway lists them.
    pub fn node_segment(&self, id: u16, name: &str) -> String {
        match self.naming {
            NodeNaming::Ids => id.to_string(),
            NodeNaming::Names => {
                let s = sanitize_level(name);
                if s.is_empty() {
                    format!("nodeID_{id}")
                } else {
                    s
                }
            }
        }
    }

    /// A value topic: `<prefix>/<node>/<cc>/<endpoint>/<property>[/<key>]`, with property and
    /// key sanitised as the gateway does.
    pub fn value(
        &self,
        node: &str,
        command_class: u16,
        endpoint: u16,
        property: &str,
        key: Option<&str>,
    ) -> String {
        let mut t = format!(
            "{}/{node}/{command_class}/{endpoint}/{}",
            self.prefix,
            sanitize_level(property)
        );
        if let Some(key) = key {
            t.push('/');
            t.push_str(&sanitize_level(key));
        }
        t
    }

    /// What `topic` carries, or `None` when it is outside the prefix.
    pub fn classify<'t>(&self, topic: &'t str) -> Option<TopicKind<'t>> {
        let rest = topic
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('/')?;
        let levels: Vec<&str> = rest.split('/').collect();
        let ours = |client: &str| client == self.client;
        Some(match levels.as_slice() {
            ["_CLIENTS", client, "api", api] if ours(client) => TopicKind::ApiResponse { api },
            ["_CLIENTS", client, "api", _, "set"] if ours(client) => TopicKind::ApiRequest,
            ["_CLIENTS", client, "status"] if ours(client) => TopicKind::GatewayStatus,
            ["_EVENTS", client, scope, name] if ours(client) => TopicKind::Event { scope, name },
            ["_CLIENTS" | "_EVENTS", ..] => TopicKind::Other,
            ["driver", "status"] => TopicKind::DriverStatus,
            [.., "set"] => TopicKind::Write,
            [node, "status"] => TopicKind::NodeStatus { node },
            [node, "lastActive"] => TopicKind::LastActive { node },
            [node, "nodeinfo"] => TopicKind::NodeInfo { node },
            [node, cc, ep, property] => value_kind(node, cc, ep, property, None),
            [node, cc, ep, property, key] => value_kind(node, cc, ep, property, Some(key)),
            _ => TopicKind::Other,
        })
    }
}

fn value_kind<'t>(
    node: &'t str,
    cc: &str,
    ep: &str,
    property: &'t str,
    key: Option<&'t str>,
) -> TopicKind<'t> {
    match (small_number(cc), small_number(ep)) {
        (Some(command_class), Some(endpoint))
            if !node.is_empty() && node.len() <= MAX_NODE_SEGMENT_BYTES && !property.is_empty() =>
        {
            TopicKind::Value {
                node,
                command_class,
                endpoint,
                property,
                key,
            }
        }
        _ => TopicKind::Other,
    }
}

/// A canonical decimal 0–65535 (no sign, no leading zeros but `0` itself).
pub(crate) fn small_number(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// One topic level as the gateway writes it: `/` becomes `-`, whitespace becomes `_`, and any
/// character other than ASCII letters and digits, `-`, `_` and Latin-1 letters is dropped.
pub fn sanitize_level(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '/' => Some('-'),
            c if c.is_whitespace() => Some('_'),
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => Some(c),
            'À'..='ÿ' if c != '×' && c != '÷' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_topics_of_the_reference_classify() {
        let t = Topics::default();
        assert_eq!(
            t.classify("zwave/12/99/0/userCode/3"),
            Some(TopicKind::Value {
                node: "12",
                command_class: 99,
                endpoint: 0,
                property: "userCode",
                key: Some("3")
            })
        );
        assert_eq!(
            t.classify("zwave/12/98/0/currentMode"),
            Some(TopicKind::Value {
                node: "12",
                command_class: 98,
                endpoint: 0,
                property: "currentMode",
                key: None
            })
        );
        assert_eq!(
            t.classify("zwave/12/113/0/Access_Control/Keypad_unlock_operation"),
            Some(TopicKind::Value {
                node: "12",
                command_class: 113,
                endpoint: 0,
                property: "Access_Control",
                key: Some("Keypad_unlock_operation")
            })
        );
    }

    #[test]
    fn writes_api_and_status_topics_classify() {
        let t = Topics::default();
        assert_eq!(
            t.classify("zwave/12/99/0/userCode/3/set"),
            Some(TopicKind::Write)
        );
        assert_eq!(
            t.classify("zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/api/writeValue"),
            Some(TopicKind::ApiResponse { api: "writeValue" })
        );
        assert_eq!(
            t.classify("zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/api/writeValue/set"),
            Some(TopicKind::ApiRequest)
        );
        assert_eq!(
            t.classify("zwave/_CLIENTS/ZWAVE_GATEWAY-other/api/writeValue"),
            Some(TopicKind::Other)
        );
        assert_eq!(
            t.classify("zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/status"),
            Some(TopicKind::GatewayStatus)
        );
        assert_eq!(
            t.classify("zwave/driver/status"),
            Some(TopicKind::DriverStatus)
        );
        assert_eq!(
            t.classify("zwave/12/status"),
            Some(TopicKind::NodeStatus { node: "12" })
        );
        assert_eq!(
            t.classify("zwave/12/99/00/userCode/3"),
            Some(TopicKind::Other)
        );
        assert_eq!(t.classify("zigbee2mqtt/12/status"), None);
        assert_eq!(t.classify("zwavex/12/status"), None);
    }

    #[test]
    fn names_are_sanitised_as_the_gateway_does() {
        assert_eq!(
            sanitize_level("Keypad unlock operation"),
            "Keypad_unlock_operation"
        );
        assert_eq!(sanitize_level("front/door #1"), "front-door_1");
        let t = Topics::new("home/zw", "My Gateway!", NodeNaming::Names).expect("valid");
        assert_eq!(t.client_id(), "ZWAVE_GATEWAY-My_Gateway");
        assert_eq!(t.node_segment(12, "Front door"), "Front_door");
        assert_eq!(t.node_segment(12, ""), "nodeID_12");
        assert_eq!(
            t.api_request("getNodes"),
            "home/zw/_CLIENTS/ZWAVE_GATEWAY-My_Gateway/api/getNodes/set"
        );
        assert_eq!(
            Topics::new("a//b", "x", NodeNaming::Ids),
            Err(TopicError::BadPrefix)
        );
        assert_eq!(
            Topics::new("a/#", "x", NodeNaming::Ids),
            Err(TopicError::PrefixForbiddenChar)
        );
        assert_eq!(
            Topics::new("zwave", "!!", NodeNaming::Ids),
            Err(TopicError::EmptyName)
        );
    }
}
