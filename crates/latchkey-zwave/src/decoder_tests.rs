use serde_json::json;

use super::*;
use crate::api::WriteOutcome;
use crate::values::{Alarm, Method, Motion, Operation, Position, ReportedCode, SlotStatus};

const API: &str = "zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/api";

fn decoder_knowing_node_12() -> Decoder {
    let mut d = Decoder::new(Topics::default(), Limits::default());
    let nodes = json!({"success":true,"result":[{"id":12,"name":"front_door","isSecure":true}],
                       "origin":{"args":[],"requestId":"n1"}});
    let got = d
        .decode(&format!("{API}/getNodes"), nodes.to_string().as_bytes())
        .expect("parses");
    assert!(matches!(got, Some(Inbound::Nodes { .. })));
    d
}

fn node(got: Result<Option<Inbound>, ParseError>) -> (Report, Origin) {
    match got {
        Ok(Some(Inbound::Node {
            node: 12,
            report,
            origin,
        })) => (report, origin),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_value_update_with_the_previous_time_is_an_echo_and_a_new_time_is_an_update() {
    let mut d = decoder_knowing_node_12();
    let topic = "zwave/12/99/0/userCode/3";
    let (_, first) = node(d.decode(topic, br#"{"time":1000,"value":""}"#));
    assert_eq!(first, Origin::Update { time: Some(1000) });
    let (report, echo) = node(d.decode(topic, br#"{"time":1000,"value":"0427"}"#));
    assert_eq!(echo, Origin::Echo { time: 1000 });
    assert!(matches!(
        report,
        Report::SlotCode {
            slot: 3,
            code: ReportedCode::Code(_)
        }
    ));
    let (_, answer) = node(d.decode(topic, br#"{"time":2500,"value":"0427"}"#));
    assert_eq!(answer, Origin::Update { time: Some(2500) });
}

#[test]
fn a_poll_value_answer_is_the_locks_read_back() {
    let mut d = decoder_knowing_node_12();
    let body = json!({"success":true,"result":1,
        "args":[{"nodeId":12,"commandClass":99,"endpoint":0,"property":"userIdStatus","propertyKey":3}],
        "origin":{"requestId":"p1"}});
    let (report, origin) = node(d.decode(&format!("{API}/pollValue"), body.to_string().as_bytes()));
    assert_eq!(
        report,
        Report::SlotStatus {
            slot: 3,
            status: SlotStatus::Enabled
        }
    );
    assert_eq!(
        origin,
        Origin::ReadBack {
            request_id: Some("p1".into())
        }
    );
}

#[test]
fn messages_about_unlisted_nodes_are_refused_and_counted() {
    let mut d = decoder_knowing_node_12();
    assert_eq!(
        d.decode("zwave/13/98/0/currentMode", br#"{"value":255}"#),
        Err(ParseError::UnknownNode)
    );
    let body = json!({"success":true,"result":true,"args":[99]});
    assert_eq!(
        d.decode(&format!("{API}/pingNode"), body.to_string().as_bytes()),
        Err(ParseError::UnknownNode)
    );
    assert_eq!(d.rejections().count("unknown_node"), 2);
    // Before any getNodes answer, no node is known.
    let mut fresh = Decoder::new(Topics::default(), Limits::default());
    assert_eq!(
        fresh.decode("zwave/12/status", br#"{"status":"Alive"}"#),
        Err(ParseError::UnknownNode)
    );
}

#[test]
fn wrong_types_are_refused_and_counted_by_reason() {
    let mut d = decoder_knowing_node_12();
    assert!(matches!(
        d.decode("zwave/12/98/0/currentMode", br#"{"value":"255"}"#),
        Err(ParseError::InvalidField { .. })
    ));
    assert!(matches!(
        d.decode("zwave/12/98/0/currentMode", b"255"),
        Err(ParseError::WrongType { .. })
    ));
    assert!(matches!(
        d.decode("zwave/12/status", br#"{"status":"Zombie"}"#),
        Err(ParseError::InvalidField { .. })
    ));
    assert_eq!(d.rejections().count("invalid_field"), 2);
    assert_eq!(d.rejections().count("wrong_type"), 1);
}

#[test]
fn node_status_and_events_give_availability_and_attribution() {
    let mut d = decoder_knowing_node_12();
    let (r, _) = node(d.decode(
        "zwave/12/status",
        br#"{"time":1,"value":false,"status":"Dead","nodeId":12}"#,
    ));
    assert_eq!(r, Report::Availability(Availability::Dead));
    let event = json!({"data":[{"id":12,"name":"front_door","status":4},113,
        {"type":6,"event":6,"label":"Access Control","eventLabel":"Keypad unlock operation","parameters":{"userId":3}}]});
    let (r, origin) = node(d.decode(
        "zwave/_EVENTS/ZWAVE_GATEWAY-zwave-js-ui/node/node_notification",
        event.to_string().as_bytes(),
    ));
    assert_eq!(
        r,
        Report::Operation(Operation {
            motion: Motion::Unlocked,
            method: Method::Keypad,
            slot: Some(3)
        })
    );
    assert_eq!(origin, Origin::Event);
    let (r, _) = node(d.decode(
        "zwave/12/113/0/Access_Control/Lock_state",
        br#"{"time":5,"value":11}"#,
    ));
    assert_eq!(r, Report::Alarm(Alarm::Jam));
}

#[test]
fn the_legacy_pair_is_a_fallback_when_no_notification_came() {
    let mut d = decoder_knowing_node_12();
    let (r, _) = node(d.decode("zwave/12/113/0/alarmType", br#"{"time":100,"value":19}"#));
    assert_eq!(r, Report::LegacyAlarmType(19));
    let (r, _) = node(d.decode("zwave/12/113/0/alarmLevel", br#"{"time":100,"value":4}"#));
    assert_eq!(
        r,
        Report::Operation(Operation {
            motion: Motion::Unlocked,
            method: Method::Keypad,
            slot: Some(4)
        })
    );
    // With a Notification report of the same operation, the pair stays raw.
    node(d.decode(
        "zwave/12/113/0/Access_Control/Keypad_unlock_operation",
        br#"{"time":9000,"value":{"userId":4}}"#,
    ));
    node(d.decode("zwave/12/113/0/alarmType", br#"{"time":9001,"value":19}"#));
    let (r, _) = node(d.decode("zwave/12/113/0/alarmLevel", br#"{"time":9001,"value":4}"#));
    assert_eq!(r, Report::LegacyAlarmLevel(4));
}

#[test]
fn gateway_and_driver_status_and_skipped_topics() {
    let mut d = decoder_knowing_node_12();
    assert_eq!(
        d.decode(
            "zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/status",
            br#"{"value":false}"#
        ),
        Ok(Some(Inbound::GatewayOnline(false)))
    );
    assert_eq!(
        d.decode("zwave/driver/status", b"true"),
        Ok(Some(Inbound::DriverReady(true)))
    );
    for topic in [
        "zwave/12/99/0/userCode/3/set",
        "zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/api/writeValue/set",
        "zwave/12/nodeinfo",
        "zigbee2mqtt/front_door",
    ] {
        assert_eq!(d.decode(topic, b"\xff garbage"), Ok(None), "{topic}");
    }
    let (r, _) = node(d.decode("zwave/12/98/0/targetMode", br#"{"time":3,"value":0}"#));
    assert_eq!(r, Report::Target(Position::Unlocked { mode: 0 }));
    assert_eq!(d.rejections().total(), 0);
}

#[test]
fn names_mode_resolves_node_names_from_get_nodes() {
    let topics = Topics::new("zwave", "zwave-js-ui", crate::NodeNaming::Names).expect("valid");
    let mut d = Decoder::new(topics, Limits::default());
    let nodes = json!({"success":true,"result":[{"id":12,"name":"Front door"},{"id":14}]});
    d.decode(&format!("{API}/getNodes"), nodes.to_string().as_bytes())
        .expect("parses");
    let (r, _) = node(d.decode("zwave/Front_door/128/0/level", br#"{"value":80}"#));
    assert_eq!(r, Report::Battery { percent: 80 });
    assert!(matches!(
        d.decode("zwave/nodeID_14/128/0/level", br#"{"value":80}"#),
        Ok(Some(Inbound::Node { node: 14, .. }))
    ));
    assert_eq!(
        d.decode("zwave/12/128/0/level", br#"{"value":80}"#),
        Err(ParseError::UnknownNode)
    );
}

#[test]
fn the_first_writes_echo_is_known_from_a_value_published_without_a_value() {
    let mut d = decoder_knowing_node_12();
    // At node ready the gateway publishes slots not read yet as `{"time":…}`.
    assert_eq!(
        d.decode("zwave/12/99/0/userCode/4", br#"{"time":700}"#),
        Ok(None)
    );
    let (_, origin) = node(d.decode(
        "zwave/12/99/0/userCode/4",
        br#"{"time":700,"value":"0427"}"#,
    ));
    assert_eq!(origin, Origin::Echo { time: 700 });
}

#[test]
fn a_user_code_send_command_answer_is_a_write_result_and_a_bad_one_is_refused() {
    let mut d = decoder_knowing_node_12();
    let call = json!([{"nodeId":12,"commandClass":99,"endpoint":0},"set",[3,2,"0427"]]);
    let answer = |result: serde_json::Value| {
        json!({"success":true,"result":result,"args":call.clone(),
               "origin":{"args":call.clone(),"requestId":"s1"}})
        .to_string()
    };
    let topic = format!("{API}/sendCommand");
    for (result, want) in [
        (serde_json::Value::Null, WriteOutcome::Unsupervised),
        (json!({"status":255}), WriteOutcome::Confirmed),
        (json!({"status":2}), WriteOutcome::Failed),
    ] {
        match d.decode(&topic, answer(result).as_bytes()) {
            Ok(Some(Inbound::Written {
                request_id,
                target,
                outcome,
            })) => {
                assert_eq!(request_id.as_deref(), Some("s1"));
                assert_eq!((target.node, target.key.as_deref()), (12, Some("3")));
                assert_eq!(outcome, want);
                assert!(!format!("{target:?}").contains("0427"));
            }
            other => panic!("{other:?}"),
        }
    }
    // Another command class's method, a status that is not a number, an unknown node: refused.
    let other_cc = json!({"success":true,"result":null,
        "args":[{"nodeId":12,"commandClass":98,"endpoint":0},"set",[3]]});
    assert!(d.decode(&topic, other_cc.to_string().as_bytes()).is_err());
    let bad_status = answer(json!({"status":"done"}));
    assert!(d.decode(&topic, bad_status.as_bytes()).is_err());
    let unknown = json!({"success":true,"result":null,
        "args":[{"nodeId":77,"commandClass":99,"endpoint":0},"set",[3,2,"0427"]]});
    assert!(d.decode(&topic, unknown.to_string().as_bytes()).is_err());
    // A failure names the node and masks the code it quotes.
    let failed = json!({"success":false,"message":"Node 12 refused code 0427",
        "args":call.clone(),"origin":{"requestId":"s2"}});
    match d.decode(&topic, failed.to_string().as_bytes()) {
        Ok(Some(Inbound::Failed { node, message, .. })) => {
            assert_eq!(node, Some(12));
            assert!(!message.contains("0427"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_messaging_code_typed_at_the_keypad_is_reported_with_its_slot() {
    let mut d = decoder_knowing_node_12();
    let (r, _) = node(d.decode(
        "zwave/12/113/0/Access_Control/Messaging_User_Code_entered_via_keypad",
        br#"{"time":9,"value":{"user ID":5}}"#,
    ));
    assert_eq!(r, Report::MessagingCode { slot: Some(5) });
}
