use super::*;

fn topics() -> Topics {
    Topics::default()
}

#[test]
fn default_base_is_zigbee2mqtt() {
    assert_eq!(topics().base(), "zigbee2mqtt");
    assert_eq!(topics().subscription(), "zigbee2mqtt/#");
}

#[test]
fn base_topic_is_validated() {
    assert_eq!(Topics::new(""), Err(TopicError::EmptyBase));
    assert_eq!(Topics::new("z2m/"), Err(TopicError::BaseSlash));
    assert_eq!(Topics::new("/z2m"), Err(TopicError::BaseSlash));
    assert_eq!(Topics::new("a//b"), Err(TopicError::BaseSlash));
    assert_eq!(Topics::new("z2m/#"), Err(TopicError::BaseForbiddenChar));
    assert_eq!(Topics::new("z+m"), Err(TopicError::BaseForbiddenChar));
    let nested = Topics::new("home/z2m").expect("valid base");
    assert_eq!(
        nested.classify("home/z2m/front_door"),
        Some(TopicKind::DeviceState { name: "front_door" })
    );
}

#[test]
fn bridge_topics_are_classified() {
    let t = topics();
    assert_eq!(
        t.classify("zigbee2mqtt/bridge/state"),
        Some(TopicKind::BridgeState)
    );
    assert_eq!(
        t.classify("zigbee2mqtt/bridge/devices"),
        Some(TopicKind::BridgeDevices)
    );
    assert_eq!(
        t.classify("zigbee2mqtt/bridge/event"),
        Some(TopicKind::BridgeEvent)
    );
    assert_eq!(
        t.classify("zigbee2mqtt/bridge/logging"),
        Some(TopicKind::BridgeLogging)
    );
    assert_eq!(
        t.classify("zigbee2mqtt/bridge/response/device/options"),
        Some(TopicKind::BridgeResponse {
            request: "device/options"
        })
    );
    assert_eq!(
        t.classify("zigbee2mqtt/bridge/info"),
        Some(TopicKind::BridgeOther { rest: "info" })
    );
    assert_eq!(
        t.classify("zigbee2mqtt/bridge/request/permit_join"),
        Some(TopicKind::BridgeOther {
            rest: "request/permit_join"
        })
    );
}

#[test]
fn device_topics_are_classified_by_their_last_segment() {
    let t = topics();
    assert_eq!(
        t.classify("zigbee2mqtt/front_door"),
        Some(TopicKind::DeviceState { name: "front_door" })
    );
    assert_eq!(
        t.classify("zigbee2mqtt/floor1/front_door"),
        Some(TopicKind::DeviceState {
            name: "floor1/front_door"
        })
    );
    assert_eq!(
        t.classify("zigbee2mqtt/floor1/front_door/availability"),
        Some(TopicKind::Availability {
            name: "floor1/front_door"
        })
    );
    assert_eq!(
        t.classify("zigbee2mqtt/front_door/set"),
        Some(TopicKind::Command { name: "front_door" })
    );
    assert_eq!(
        t.classify("zigbee2mqtt/front_door/set/state"),
        Some(TopicKind::Command { name: "front_door" })
    );
    assert_eq!(
        t.classify("zigbee2mqtt/a/b/get"),
        Some(TopicKind::Command { name: "a/b" })
    );
    assert_eq!(
        t.classify("zigbee2mqtt/a/b/get/pin_code"),
        Some(TopicKind::Command { name: "a/b" })
    );
    assert_eq!(
        t.classify("zigbee2mqtt/front_door/action"),
        Some(TopicKind::ActionMirror { name: "front_door" })
    );
    assert_eq!(
        t.classify("zigbee2mqtt/0x000d6f0012345678"),
        Some(TopicKind::DeviceState {
            name: "0x000d6f0012345678"
        })
    );
}

#[test]
fn foreign_and_malformed_topics_are_not_classified() {
    let t = topics();
    assert_eq!(t.classify("zigbee2mqtt"), None);
    assert_eq!(t.classify("zigbee2mqtt/"), None);
    assert_eq!(t.classify("zigbee2mqttx/front_door"), None);
    assert_eq!(t.classify("homeassistant/status"), None);
    assert_eq!(t.classify("zigbee2mqtt//front_door"), None);
    assert_eq!(t.classify("zigbee2mqtt/front_door/"), None);
    assert_eq!(t.classify("zigbee2mqtt/availability"), None);
    assert_eq!(t.classify("zigbee2mqtt/set"), None);
    assert_eq!(t.classify("zigbee2mqtt/bridge"), None);
    let long = format!("zigbee2mqtt/{}", "x".repeat(MAX_FRIENDLY_NAME_BYTES + 1));
    assert_eq!(t.classify(&long), None);
}

#[test]
fn builders_produce_the_documented_topics() {
    let t = topics();
    assert_eq!(
        t.state("front_door").as_deref(),
        Ok("zigbee2mqtt/front_door")
    );
    assert_eq!(
        t.set("front_door").as_deref(),
        Ok("zigbee2mqtt/front_door/set")
    );
    assert_eq!(
        t.get("floor1/front_door").as_deref(),
        Ok("zigbee2mqtt/floor1/front_door/get")
    );
    assert_eq!(
        t.availability("front_door").as_deref(),
        Ok("zigbee2mqtt/front_door/availability")
    );
    assert_eq!(
        t.bridge_request("device/options"),
        "zigbee2mqtt/bridge/request/device/options"
    );
}

#[test]
fn friendly_names_are_validated() {
    assert_eq!(validate_friendly_name(""), Err(TopicError::EmptyName));
    assert_eq!(
        validate_friendly_name(&"x".repeat(201)),
        Err(TopicError::NameTooLong { len: 201, max: 200 })
    );
    assert!(validate_friendly_name(&"x".repeat(200)).is_ok());
    for bad in ["a+b", "a#", "a\0b", "a\nb"] {
        assert_eq!(
            validate_friendly_name(bad),
            Err(TopicError::NameForbiddenChar),
            "{bad:?}"
        );
    }
    for bad in ["/a", "a/", "a//b"] {
        assert_eq!(
            validate_friendly_name(bad),
            Err(TopicError::NameEmptySegment),
            "{bad:?}"
        );
    }
    for bad in [
        "x/availability",
        "x/set",
        "x/get",
        "x/action",
        "x/set/state",
        "x/get/y",
        "bridge",
        "bridge/x",
        "set",
    ] {
        assert_eq!(
            validate_friendly_name(bad),
            Err(TopicError::NameReserved),
            "{bad:?}"
        );
    }
    for good in [
        "front_door",
        "floor 1/front door",
        "set_x",
        "x/settings",
        "Bob's door",
    ] {
        assert!(validate_friendly_name(good).is_ok(), "{good:?}");
    }
}
