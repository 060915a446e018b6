//! Properties over hostile gateway payloads: the decoder never panics, every refusal is a typed
//! error that is counted, PINs survive encoding as equal JSON strings, and nothing is retained.

use latchkey_zwave::{Decoder, Limits, NodeNaming, Pin, Request, Topics};
use proptest::prelude::*;
use serde_json::{Value, json};

const API: &str = "zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/api";

/// Topics a payload is tried on: values, status, events and API answers of a known node (12)
/// and an unknown one (13).
fn topics() -> Vec<String> {
    let mut t: Vec<String> = [
        "12/99/0/userCode/3",
        "12/99/0/userIdStatus/3",
        "12/98/0/currentMode",
        "12/98/0/targetMode",
        "12/98/0/doorStatus",
        "12/98/0/boltStatus",
        "12/98/0/autoRelockTime",
        "12/128/0/level",
        "12/128/0/isLow",
        "12/113/0/Access_Control/Keypad_unlock_operation",
        "12/113/0/Access_Control/Lock_state",
        "12/113/0/alarmType",
        "12/113/0/alarmLevel",
        "12/status",
        "12/lastActive",
        "13/98/0/currentMode",
        "13/status",
        "driver/status",
        "_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/status",
        "_EVENTS/ZWAVE_GATEWAY-zwave-js-ui/node/node_notification",
        "_EVENTS/ZWAVE_GATEWAY-zwave-js-ui/node/node_dead",
    ]
    .iter()
    .map(|s| format!("zwave/{s}"))
    .collect();
    for api in [
        "getNodes",
        "writeValue",
        "pollValue",
        "pingNode",
        "refreshCCValues",
    ] {
        t.push(format!("{API}/{api}"));
    }
    t
}

fn decoder() -> Decoder {
    let mut d = Decoder::new(Topics::default(), Limits::default());
    let nodes = json!({"success":true,"result":[{"id":12,"name":"front_door","isSecure":true}]});
    d.decode(&format!("{API}/getNodes"), nodes.to_string().as_bytes())
        .expect("node list");
    d
}

/// Runs every topic; checks each refusal was counted and the node list survived.
fn run_everywhere(payload: &[u8]) -> Result<(), TestCaseError> {
    for topic in topics() {
        let mut d = decoder();
        let before = d.rejections().total();
        let result = d.decode(&topic, payload);
        let counted = d.rejections().total() - before;
        match result {
            Err(e) => {
                prop_assert_eq!(counted, 1, "{} on {} was not counted", e, topic);
                prop_assert_eq!(d.rejections().count(e.code()), 1);
            }
            Ok(_) => prop_assert_eq!(counted, 0),
        }
    }
    Ok(())
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "0427",
            "****",
            "0000",
            "",
            "0x31320a",
            "Alive",
            "Dead",
            "Asleep",
            "open",
            "locked",
            "userCode",
            "userIdStatus",
            "currentMode",
            "1000ms",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        prop::sample::select(vec![
            0u64, 1, 2, 3, 11, 12, 13, 16, 19, 99, 98, 113, 128, 254, 255, 256, 65536
        ])
        .prop_map(Value::from),
    ];
    let keys = prop::sample::select(vec![
        "value",
        "time",
        "lastUpdate",
        "status",
        "nodeId",
        "success",
        "result",
        "args",
        "origin",
        "requestId",
        "message",
        "data",
        "id",
        "type",
        "event",
        "parameters",
        "userId",
        "user ID",
        "commandClass",
        "endpoint",
        "property",
        "propertyKey",
        "values",
        "isSecure",
        "name",
        "isListening",
        "isFrequentListening",
        "99-0-userCode-1",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_and_refusals_are_counted(payload in prop::collection::vec(any::<u8>(), 0..256)) {
        run_everywhere(&payload)?;
    }

    #[test]
    fn arbitrary_json_never_panics_and_refusals_are_counted(value in arb_json()) {
        run_everywhere(&serde_json::to_vec(&value).expect("serialisable"))?;
        // The same value where the decoder looks for it.
        for wrapped in [
            json!({"time": 1, "value": value.clone()}),
            json!({"success": true, "result": value.clone(), "args": [value.clone()]}),
            json!({"success": true, "result": [value.clone()]}),
            json!({"success": true, "result": {"status": value.clone()},
                   "args": [{"nodeId":12,"commandClass":99,"endpoint":0,"property":"userCode","propertyKey":3}]}),
            json!({"data": [{"id": 12}, 113, value.clone()]}),
        ] {
            run_everywhere(&serde_json::to_vec(&wrapped).expect("serialisable"))?;
        }
    }

    #[test]
    fn classify_never_panics(topic in ".{0,80}") {
        let _ = Topics::default().classify(&topic);
        let _ = Topics::default().classify(&format!("zwave/{topic}"));
        let names = Topics::new("zwave", "zwave-js-ui", NodeNaming::Names).expect("valid");
        let _ = names.classify(&format!("zwave/{topic}"));
    }

    #[test]
    fn a_pin_is_sent_as_an_equal_json_string_never_retained(
        pin in "[0-9]{4,10}",
        slot in 1u16..=250,
        node in 1u16..=232,
    ) {
        let out = Request::SetCode { node, slot, pin: Pin::new(pin.clone()).expect("valid") }
            .encode(&Topics::default(), "r")
            .expect("encodes");
        prop_assert_eq!(out.len(), 1);
        prop_assert!(!out[0].retain());
        let body: Value = serde_json::from_slice(&out[0].payload).expect("JSON");
        prop_assert_eq!(&body["args"][1], &Value::String(pin));
        prop_assert_eq!(&body["args"][0]["propertyKey"], &Value::from(slot));
        prop_assert_eq!(&body["args"][0]["nodeId"], &Value::from(node));
    }
}

#[test]
fn huge_and_deep_payloads_are_refused_with_their_reason() {
    let mut d = decoder();
    let huge = format!(r#"{{"value":"{}"}}"#, "1".repeat(1 << 20));
    assert_eq!(
        d.decode("zwave/12/99/0/userCode/3", huge.as_bytes())
            .map_err(|e| e.code()),
        Err("too_large")
    );
    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    assert_eq!(
        d.decode(&format!("{API}/getNodes"), deep.as_bytes())
            .map_err(|e| e.code()),
        Err("too_deep")
    );
    let many: Vec<Value> = (1..=5_000).map(|i| json!({"id": i})).collect();
    let body = json!({"success": true, "result": many});
    assert_eq!(
        d.decode(&format!("{API}/getNodes"), body.to_string().as_bytes())
            .map_err(|e| e.code()),
        Err("too_many_nodes")
    );
    assert_eq!(d.rejections().total(), 3);
    // The refused node list did not replace the known one.
    assert!(d.knows(12));
}
