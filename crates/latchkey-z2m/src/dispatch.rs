//! One entry point for the MQTT task: classify the topic, then run the matching parser.

use crate::bridge::{BridgeEvent, BridgeResponse, DeviceList, LogMessage};
use crate::inbound::{Availability, LockReport};
use crate::limits::{Limits, ParseError};
use crate::topic::{TopicKind, Topics};

/// A parsed inbound message.
#[derive(Clone, Debug, PartialEq)]
pub enum Inbound {
    /// A device state message.
    DeviceState { name: String, report: LockReport },
    /// A device availability message.
    Availability {
        name: String,
        availability: Availability,
    },
    /// `bridge/state`.
    BridgeState(Availability),
    /// `bridge/devices`.
    Devices(DeviceList),
    /// `bridge/event`.
    Event(BridgeEvent),
    /// `bridge/logging`.
    Logging(LogMessage),
    /// `bridge/response/<request>`.
    Response {
        request: String,
        response: BridgeResponse,
    },
}

/// Classifies `topic` and parses `payload` accordingly. `Ok(None)` means the message is one we
/// skip: outside the base, a command (`/set`, `/get`), the `/action` mirror, another bridge
/// topic, or a name we cannot address.
///
/// # Errors
/// The [`ParseError`] of the parser for the topic's kind.
pub fn parse_inbound(
    topics: &Topics,
    topic: &str,
    payload: &[u8],
    limits: &Limits,
) -> Result<Option<Inbound>, ParseError> {
    let Some(kind) = topics.classify(topic) else {
        return Ok(None);
    };
    Ok(Some(match kind {
        TopicKind::DeviceState { name } => Inbound::DeviceState {
            name: name.to_owned(),
            report: LockReport::parse(payload, limits)?,
        },
        TopicKind::Availability { name } => Inbound::Availability {
            name: name.to_owned(),
            availability: Availability::parse(payload, limits)?,
        },
        TopicKind::BridgeState => Inbound::BridgeState(Availability::parse(payload, limits)?),
        TopicKind::BridgeDevices => Inbound::Devices(DeviceList::parse(payload, limits)?),
        TopicKind::BridgeEvent => Inbound::Event(BridgeEvent::parse(payload, limits)?),
        TopicKind::BridgeLogging => Inbound::Logging(LogMessage::parse(payload, limits)?),
        TopicKind::BridgeResponse { request } => Inbound::Response {
            request: request.to_owned(),
            response: BridgeResponse::parse(payload, limits)?,
        },
        TopicKind::BridgeOther { .. }
        | TopicKind::Command { .. }
        | TopicKind::ActionMirror { .. } => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_topic_is_parsed_as_a_lock_report() {
        let got = parse_inbound(
            &Topics::default(),
            "zigbee2mqtt/front_door",
            br#"{"state":"LOCK"}"#,
            &Limits::default(),
        );
        let Ok(Some(Inbound::DeviceState { name, report })) = got else {
            panic!("unexpected {got:?}");
        };
        assert_eq!(name, "front_door");
        assert_eq!(report.state, Some(crate::LockState::Locked));
    }

    #[test]
    fn commands_and_mirrors_are_skipped() {
        let t = Topics::default();
        let l = Limits::default();
        for topic in [
            "zigbee2mqtt/front_door/set",
            "zigbee2mqtt/front_door/get",
            "zigbee2mqtt/front_door/action",
            "zigbee2mqtt/bridge/info",
            "other/front_door",
        ] {
            assert_eq!(
                parse_inbound(&t, topic, b"garbage", &l),
                Ok(None),
                "{topic}"
            );
        }
    }

    #[test]
    fn bridge_devices_uses_the_larger_limit() {
        let limits = Limits {
            max_payload_bytes: 4,
            ..Limits::default()
        };
        let got = parse_inbound(
            &Topics::default(),
            "zigbee2mqtt/bridge/devices",
            b"[ ]   ",
            &limits,
        );
        assert_eq!(got, Ok(Some(Inbound::Devices(DeviceList::default()))));
    }
}
