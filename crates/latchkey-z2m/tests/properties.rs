//! Properties over arbitrary input: no parser panics, PINs survive encoding as strings, and
//! topics built for a valid name classify back to that name.

use latchkey_z2m::{
    Availability, BridgeEvent, BridgeResponse, Command, DeviceList, Limits, LockReport, LogMessage,
    TopicKind, Topics, UserType, parse_inbound, validate_friendly_name,
};
use proptest::prelude::*;
use serde_json::Value;

fn run_every_parser(payload: &[u8]) {
    let limits = Limits::default();
    let _ = LockReport::parse(payload, &limits);
    let _ = Availability::parse(payload, &limits);
    let _ = DeviceList::parse(payload, &limits);
    let _ = BridgeEvent::parse(payload, &limits);
    let _ = BridgeResponse::parse(payload, &limits);
    if let Ok(msg) = LogMessage::parse(payload, &limits) {
        let _ = msg.publish_failure();
    }
    let topics = Topics::default();
    for topic in [
        "zigbee2mqtt/front_door",
        "zigbee2mqtt/front_door/availability",
        "zigbee2mqtt/bridge/state",
        "zigbee2mqtt/bridge/devices",
        "zigbee2mqtt/bridge/event",
        "zigbee2mqtt/bridge/logging",
        "zigbee2mqtt/bridge/response/device/options",
    ] {
        let _ = parse_inbound(&topics, topic, payload, &limits);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("LOCK"),
            Just("locked"),
            Just("online"),
            Just("keypad"),
            Just("enabled"),
            Just("not_supported_3"),
            Just("pin_code"),
            Just("lock"),
            Just("device_interview"),
            Just("0x000d6f0012345678"),
            Just("65535"),
            Just("0427"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let keys = prop_oneof![
        Just("state"),
        Just("lock_state"),
        Just("door_state"),
        Just("battery"),
        Just("voltage"),
        Just("battery_low"),
        Just("linkquality"),
        Just("action"),
        Just("action_source"),
        Just("action_source_name"),
        Just("action_user"),
        Just("action_source_user"),
        Just("users"),
        Just("status"),
        Just("pin_code"),
        Just("auto_relock_time"),
        Just("sound_volume"),
        Just("lock_caps"),
        Just("numOfPinUsersSupported"),
        Just("type"),
        Just("data"),
        Just("ieee_address"),
        Just("friendly_name"),
        Just("definition"),
        Just("exposes"),
        Just("features"),
        Just("name"),
        Just("message"),
        Just("level"),
        Just("0"),
        Just("3"),
        Just("70000"),
    ]
    .prop_map(str::to_owned);
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_ .'-]{1,12}"
}

fn arb_name() -> impl Strategy<Value = String> {
    prop::collection::vec(arb_segment(), 1..5).prop_map(|segs| segs.join("/"))
}

fn arb_user_type() -> impl Strategy<Value = UserType> {
    prop::sample::select(UserType::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_parser_panics_on_arbitrary_bytes(payload in prop::collection::vec(any::<u8>(), 0..512)) {
        run_every_parser(&payload);
    }

    #[test]
    fn no_parser_panics_on_json_like_text(payload in r#"[\[\]{}":,0-9a-z\\ .-]{0,200}"#) {
        run_every_parser(payload.as_bytes());
    }

    #[test]
    fn no_parser_panics_on_arbitrary_json(value in arb_json()) {
        let bytes = serde_json::to_vec(&value).expect("serialisable");
        run_every_parser(&bytes);
        let wrapped = serde_json::to_vec(&serde_json::json!({ "users": value.clone(), "lock_caps": value.clone(),
            "data": value.clone(), "definition": { "exposes": value.clone() } })).expect("serialisable");
        run_every_parser(&wrapped);
        let list = serde_json::to_vec(&Value::Array(vec![value])).expect("serialisable");
        run_every_parser(&list);
    }

    #[test]
    fn classify_never_panics(topic in ".{0,80}") {
        let _ = Topics::default().classify(&topic);
        let _ = Topics::default().classify(&format!("zigbee2mqtt/{topic}"));
    }

    #[test]
    fn set_pin_payload_carries_the_pin_as_an_equal_string(
        pin in "[0-9]{4,8}",
        slot in any::<u16>(),
        user_type in arb_user_type(),
        enabled in any::<bool>(),
    ) {
        let cmd = Command::SetPin { slot, pin: pin.clone(), user_type, enabled };
        let (topic, payload) = cmd.encode(&Topics::default(), "front_door").expect("valid PIN");
        prop_assert_eq!(topic, "zigbee2mqtt/front_door/set");
        let value: Value = serde_json::from_slice(&payload).expect("JSON");
        prop_assert_eq!(&value["pin_code"]["pin_code"], &Value::String(pin));
        prop_assert_eq!(&value["pin_code"]["user"], &Value::from(slot));
        prop_assert_eq!(&value["pin_code"]["user_enabled"], &Value::Bool(enabled));
        prop_assert_eq!(&value["pin_code"]["user_type"], &Value::from(user_type.as_str()));
    }

    #[test]
    fn topics_round_trip_for_valid_names(name in arb_name()) {
        prop_assume!(validate_friendly_name(&name).is_ok());
        let topics = Topics::default();
        let state = topics.state(&name).expect("valid name");
        prop_assert_eq!(topics.classify(&state), Some(TopicKind::DeviceState { name: &name }));
        let availability = topics.availability(&name).expect("valid name");
        prop_assert_eq!(topics.classify(&availability), Some(TopicKind::Availability { name: &name }));
        let set = topics.set(&name).expect("valid name");
        prop_assert_eq!(topics.classify(&set), Some(TopicKind::Command { name: &name }));
        let get = topics.get(&name).expect("valid name");
        prop_assert_eq!(topics.classify(&get), Some(TopicKind::Command { name: &name }));
    }

    #[test]
    fn names_with_reserved_segments_round_trip_or_are_refused(
        head in arb_name(),
        tail in prop::sample::select(vec!["set", "get", "availability", "action", "bridge", "state"]),
        more in prop::option::of(arb_segment()),
    ) {
        let name = match more {
            Some(m) => format!("{head}/{tail}/{m}"),
            None => format!("{head}/{tail}"),
        };
        let topics = Topics::default();
        if let Ok(state) = topics.state(&name) {
            prop_assert_eq!(topics.classify(&state), Some(TopicKind::DeviceState { name: &name }));
        }
    }
}
