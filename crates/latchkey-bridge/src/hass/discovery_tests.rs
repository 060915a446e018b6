//! What latchkey relies on from Home Assistant's MQTT discovery schemas (integrations
//! `lock.mqtt`, `binary_sensor.mqtt`, `sensor.mqtt`, `event.mqtt` and the discovery page):
//!
//! - discovery topic `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`, node and
//!   object ids of `[a-zA-Z0-9_-]` only; an empty retained payload removes the entity;
//! - `lock` requires `command_topic`; its states default to `LOCKED`, `UNLOCKED`, `JAMMED`,
//!   `LOCKING`, `UNLOCKING` (`state_*`) and its commands to `LOCK`/`UNLOCK` (`payload_*`);
//!   without `state_topic` it is optimistic;
//! - `binary_sensor`, `sensor` and `event` require `state_topic`; a binary sensor's default
//!   payloads are `ON`/`OFF`; `event` requires `event_types` and reads `event_type` from a JSON
//!   message;
//! - `availability` is a list of `{topic, payload_available, payload_not_available}`,
//!   `availability_mode: all` needs every topic online;
//! - `unique_id` must be unique per entity; `device.identifiers` groups entities into a device.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use super::*;

fn topics() -> HassTopics {
    HassTopics::new("homeassistant", "latchkey").unwrap()
}

fn door(id: i64) -> DoorInfo {
    DoorInfo {
        id: DoorId(id),
        name: "1A entry".into(),
    }
}

fn config(entity: Entity, d: &DoorInfo) -> serde_json::Value {
    serde_json::to_value(topics().entity_config(entity, d)).unwrap()
}

#[test]
fn every_entity_has_the_fields_its_schema_requires() {
    let d = door(7);
    for entity in Entity::ALL {
        let c = config(entity, &d);
        for key in [
            "name",
            "unique_id",
            "state_topic",
            "availability",
            "device",
            "origin",
        ] {
            assert!(c.get(key).is_some(), "{entity:?} lacks {key}: {c}");
        }
        assert_eq!(c["availability_mode"], "all");
        let availability = c["availability"].as_array().unwrap();
        assert_eq!(availability.len(), 2, "latchkey's and the lock's");
        assert_eq!(availability[0]["topic"], "latchkey/status");
        assert_eq!(availability[1]["topic"], "latchkey/door/7/availability");
        for a in availability {
            assert_eq!(a["payload_available"], "online");
            assert_eq!(a["payload_not_available"], "offline");
        }
        assert_eq!(c["device"]["identifiers"][0], "latchkey_door_7");
        assert_eq!(c["device"]["name"], "1A entry");
    }
    let lock = config(Entity::Lock, &d);
    assert_eq!(lock["command_topic"], "latchkey/door/7/set");
    assert_eq!(lock["state_topic"], "latchkey/door/7/lock");
    assert_eq!(
        (&lock["payload_lock"], &lock["payload_unlock"]),
        (&"LOCK".into(), &"UNLOCK".into())
    );
    for (key, value) in [
        ("state_locked", "LOCKED"),
        ("state_unlocked", "UNLOCKED"),
        ("state_jammed", "JAMMED"),
        ("state_locking", "LOCKING"),
        ("state_unlocking", "UNLOCKING"),
    ] {
        assert_eq!(lock[key], value);
    }
    assert_eq!(lock["optimistic"], false);
    assert!(
        lock.get("payload_open").is_none(),
        "latchkey does not unlatch"
    );
    let contact = config(Entity::Contact, &d);
    assert_eq!(contact["device_class"], "door");
    assert_eq!(
        (&contact["payload_on"], &contact["payload_off"]),
        (&"ON".into(), &"OFF".into())
    );
    assert!(contact.get("command_topic").is_none());
    let battery = config(Entity::Battery, &d);
    assert_eq!(battery["device_class"], "battery");
    assert_eq!(battery["unit_of_measurement"], "%");
    let alarm = config(Entity::Alarm, &d);
    let types: Vec<&str> = alarm["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for t in ["forced_entry", "jammed", "wrong_code_limit", "tamper"] {
        assert!(types.contains(&t), "{t}");
    }
}

#[test]
fn unique_ids_and_config_topics_are_unique_and_plain() {
    let t = topics();
    let mut ids = BTreeSet::new();
    let mut configs = BTreeSet::new();
    for id in [1, 2, 10, 12] {
        for entity in Entity::ALL {
            assert!(ids.insert(t.unique_id(entity, DoorId(id))));
            let topic = t.config(entity, DoorId(id));
            assert!(configs.insert(topic.clone()));
            let levels: Vec<&str> = topic.split('/').collect();
            assert_eq!(levels.len(), 5, "{topic}");
            assert_eq!(levels[0], "homeassistant");
            assert_eq!(levels[1], entity.component());
            assert_eq!(levels[4], "config");
            for id_level in &levels[2..4] {
                assert!(
                    id_level
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                    "{topic}"
                );
            }
        }
    }
    let other = HassTopics::new("homeassistant", "house/two").unwrap();
    assert_ne!(
        other.unique_id(Entity::Lock, DoorId(1)),
        t.unique_id(Entity::Lock, DoorId(1)),
        "two latchkeys on one Home Assistant"
    );
    assert!(
        other
            .config(Entity::Lock, DoorId(1))
            .contains("/house_two/")
    );
}

#[test]
fn a_command_topic_names_one_door_and_nothing_else() {
    let t = topics();
    assert_eq!(t.door_of_command("latchkey/door/12/set"), Some(DoorId(12)));
    for no in [
        "latchkey/door/12/lock",
        "latchkey/door/+/set",
        "latchkey/door//set",
        "latchkey/door/-1/set",
        "latchkey/door/1x/set",
        "latchkey/door/99999999999999999999/set",
        "other/door/12/set",
        "latchkeyx/door/12/set",
    ] {
        assert_eq!(t.door_of_command(no), None, "{no}");
    }
}

#[test]
fn prefixes_must_be_plain_and_apart() {
    for (d, p) in [
        ("homeassistant", ""),
        ("homeassistant", "a/+"),
        ("homeassistant", "#"),
        ("homeassistant", "$SYS"),
        ("homeassistant", "/latchkey"),
        ("homeassistant", "homeassistant"),
        ("homeassistant", "homeassistant/latchkey"),
        ("latchkey/ha", "latchkey"),
    ] {
        assert!(HassTopics::new(d, p).is_err(), "{d} {p}");
    }
}

#[test]
fn a_duress_alarm_is_never_told_and_unknown_alarms_are_other() {
    assert_eq!(event_type("duress"), None);
    assert_eq!(event_type("forced_entry"), Some("forced_entry"));
    assert_eq!(event_type("front_escutcheon_removed"), Some("tamper"));
    assert_eq!(event_type("something_new"), Some("other"));
}
