//! Who may publish and subscribe to what on the embedded broker's device listener: pure rules,
//! applied by the front ([`crate::front`]) to every PUBLISH, SUBSCRIBE and will message.
//!
//! The rules keep the promise that **only latchkey commands locks**: a command is a
//! `<base>/<device>/set[/…]` or `<base>/<device>/get[/…]` topic, or a bridge request
//! (`<base>/bridge/request/…`). latchkey's own session never goes through the front (it is
//! in-process), so nothing on the device listener ever needs to publish one.

/// What a client that passed the front's login may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRole {
    /// A Zigbee2MQTT gateway (or the virtual locks standing in for one): publishes device state
    /// under its base topic, never a command; subscribes to anything under its base topic,
    /// commands included (it must receive them). Also the simulator's control topics
    /// (`latchkey-sim/<base>/…`), which stand for a hand on a keypad.
    Gateway { base_topic: String },
    /// A read-only client of device state (a dashboard): publishes nothing, and may subscribe
    /// only to filters that can never match a command, so it never sees a PIN being written.
    Observer { base_topic: String },
    /// Home Assistant: subscribes under its discovery prefix and latchkey's state prefix;
    /// publishes only a door's command topic (`<state>/door/<id>/set`, which latchkey then
    /// authorises as its service account's remote command) and its own birth and last will
    /// (`<discovery>/status`). Never a Zigbee2MQTT topic, so never a command to a lock.
    HomeAssistant {
        discovery_prefix: String,
        state_prefix: String,
    },
    /// An anonymous client of a broker that listens on loopback only: everything, as before
    /// the broker had logins (only processes on this machine can connect).
    Open,
}

/// The simulator's control prefix (`latchkey_sim::control_topic`).
const SIM_PREFIX: &str = "latchkey-sim";

fn levels(s: &str) -> Vec<&str> {
    s.split('/').collect()
}

/// The levels of `topic` after `base`, or `None` when it is not under `base`.
fn under<'a>(base: &str, topic: &'a str) -> Option<Vec<&'a str>> {
    let rest = topic.strip_prefix(base)?.strip_prefix('/')?;
    Some(levels(rest))
}

/// Whether the levels after the base name a command to a device or to the bridge.
fn is_command(rest: &[&str]) -> bool {
    if rest.first() == Some(&"bridge") && rest.get(1) == Some(&"request") {
        return true;
    }
    rest.iter().skip(1).any(|l| *l == "set" || *l == "get")
}

impl ClientRole {
    /// Whether this client may publish to `topic` (also asked of a CONNECT's will topic).
    pub fn may_publish(&self, topic: &str) -> bool {
        match self {
            ClientRole::Open => true,
            ClientRole::HomeAssistant {
                discovery_prefix,
                state_prefix,
            } => {
                let command = under(state_prefix, topic).is_some_and(|rest| {
                    matches!(rest.as_slice(), ["door", id, "set"]
                        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                });
                command || topic == format!("{discovery_prefix}/status")
            }
            ClientRole::Observer { .. } => false,
            ClientRole::Gateway { base_topic } => {
                if let Some(rest) = under(base_topic, topic) {
                    return !is_command(&rest);
                }
                under(&format!("{SIM_PREFIX}/{base_topic}"), topic).is_some()
            }
        }
    }

    /// Whether this client may subscribe to `filter`: it must lie under the base topic (its
    /// leading levels spelled out, no wildcard among them); an observer's filter must also be
    /// unable to match a command.
    pub fn may_subscribe(&self, filter: &str) -> bool {
        match self {
            ClientRole::Open => true,
            ClientRole::HomeAssistant {
                discovery_prefix,
                state_prefix,
            } => under(discovery_prefix, filter).is_some() || under(state_prefix, filter).is_some(),
            ClientRole::Gateway { base_topic } => {
                under(base_topic, filter).is_some()
                    || under(&format!("{SIM_PREFIX}/{base_topic}"), filter).is_some()
            }
            ClientRole::Observer { base_topic } => {
                let Some(rest) = under(base_topic, filter) else {
                    return false;
                };
                // `#` anywhere, or `+` past the device level, could match `<device>/set`;
                // `bridge/+` could match `bridge/request`.
                let wild = rest
                    .iter()
                    .enumerate()
                    .any(|(i, l)| *l == "#" || (*l == "+" && i >= 1));
                !wild && !is_command(&rest)
            }
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            ClientRole::Gateway { .. } => "gateway",
            ClientRole::Observer { .. } => "observer",
            ClientRole::HomeAssistant { .. } => "home_assistant",
            ClientRole::Open => "open",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> ClientRole {
        ClientRole::Gateway {
            base_topic: "zigbee2mqtt".into(),
        }
    }

    fn observer() -> ClientRole {
        ClientRole::Observer {
            base_topic: "zigbee2mqtt".into(),
        }
    }

    #[test]
    fn a_gateway_publishes_state_but_never_a_command() {
        let g = gateway();
        for ok in [
            "zigbee2mqtt/front-door",
            "zigbee2mqtt/front-door/availability",
            "zigbee2mqtt/bridge/devices",
            "zigbee2mqtt/bridge/response/device/rename",
            "zigbee2mqtt/kitchen/back door",
            "latchkey-sim/zigbee2mqtt/front-door/keypad",
        ] {
            assert!(g.may_publish(ok), "{ok}");
        }
        for no in [
            "zigbee2mqtt/front-door/set",
            "zigbee2mqtt/front-door/set/pin_code",
            "zigbee2mqtt/kitchen/back door/set",
            "zigbee2mqtt/front-door/get",
            "zigbee2mqtt/bridge/request/permit_join",
            "other/front-door",
            "zigbee2mqtt",
            "zigbee2mqttx/front-door",
            "latchkey-sim/other/front-door/keypad",
        ] {
            assert!(!g.may_publish(no), "{no}");
        }
    }

    #[test]
    fn a_gateway_subscribes_only_under_its_base_topic() {
        let g = gateway();
        assert!(g.may_subscribe("zigbee2mqtt/#"));
        assert!(g.may_subscribe("zigbee2mqtt/+/set"));
        assert!(g.may_subscribe("latchkey-sim/zigbee2mqtt/#"));
        for no in ["#", "+/front-door/set", "+/#", "other/#", "zigbee2mqtt"] {
            assert!(!g.may_subscribe(no), "{no}");
        }
    }

    #[test]
    fn home_assistant_publishes_only_door_commands_under_its_prefix_and_its_birth() {
        let ha = ClientRole::HomeAssistant {
            discovery_prefix: "homeassistant".into(),
            state_prefix: "latchkey".into(),
        };
        for ok in ["latchkey/door/12/set", "homeassistant/status"] {
            assert!(ha.may_publish(ok), "{ok}");
        }
        for no in [
            "zigbee2mqtt/front-door/set",
            "zigbee2mqtt/bridge/request/permit_join",
            "latchkey/status",
            "latchkey/door/12/lock",
            "latchkey/door/12/availability",
            "latchkey/door/+/set",
            "latchkey/door//set",
            "latchkey/door/12/set/x",
            "homeassistant/lock/latchkey/door_12_lock/config",
            "latchkey-sim/zigbee2mqtt/front-door/keypad",
        ] {
            assert!(!ha.may_publish(no), "{no}");
        }
        for ok in ["homeassistant/#", "latchkey/#", "latchkey/door/+/lock"] {
            assert!(ha.may_subscribe(ok), "{ok}");
        }
        for no in ["#", "zigbee2mqtt/#", "+/door/1/set"] {
            assert!(!ha.may_subscribe(no), "{no}");
        }
    }

    #[test]
    fn an_observer_never_sees_a_command_and_publishes_nothing() {
        let o = observer();
        assert!(!o.may_publish("zigbee2mqtt/front-door"));
        for ok in [
            "zigbee2mqtt/+",
            "zigbee2mqtt/front-door",
            "zigbee2mqtt/+/availability",
            "zigbee2mqtt/bridge/devices",
        ] {
            assert!(o.may_subscribe(ok), "{ok}");
        }
        for no in [
            "zigbee2mqtt/#",
            "zigbee2mqtt/+/set",
            "zigbee2mqtt/front-door/+",
            "zigbee2mqtt/front-door/set",
            "zigbee2mqtt/front-door/#",
            "zigbee2mqtt/bridge/+",
            "zigbee2mqtt/+/+",
            "#",
        ] {
            assert!(!o.may_subscribe(no), "{no}");
        }
    }
}
