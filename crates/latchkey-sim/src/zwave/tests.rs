//! The virtual gateway as a pure state machine: what it publishes for each input.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

const API: &str = "zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/api";

fn gateway(quirks: Quirks) -> Gateway {
    let mut lock = ZwaveLockConfig::new(12, "front_door");
    lock.capacity = 5;
    lock.quirks = quirks;
    Gateway::new(GatewaySettings::default(), vec![lock])
}

fn call(g: &mut Gateway, api: &str, args: Value, now: Instant) -> Vec<Publish> {
    let body = json!({"args": args, "requestId": "t"});
    g.on_message(
        &format!("{API}/{api}/set"),
        body.to_string().as_bytes(),
        now,
        5_000,
    )
}

fn on<'a>(out: &'a [Publish], topic: &str) -> Vec<&'a Value> {
    out.iter()
        .filter(|p| p.topic == topic)
        .map(|p| &p.payload)
        .collect()
}

fn code_id(slot: u16) -> Value {
    json!({"nodeId":12,"commandClass":99,"endpoint":0,"property":"userCode","propertyKey":slot})
}

#[test]
fn a_code_write_is_echoed_with_the_old_time_and_answered_by_the_lock_later() {
    let mut g = gateway(Quirks::default());
    let t0 = Instant::now();
    let out = call(&mut g, "writeValue", json!([code_id(3), "0427"]), t0);
    let echo = on(&out, "zwave/12/99/0/userCode/3");
    assert_eq!(echo.len(), 1);
    assert_eq!(echo[0]["value"], "0427");
    assert_eq!(echo[0]["time"], 1, "the echo keeps the value's old time");
    assert_eq!(
        on(&out, &format!("{API}/writeValue"))[0]["result"],
        json!({"status":254})
    );
    assert_eq!(
        g.slot(12, 3).map(|s| s.status),
        Some(0),
        "the lock has not answered yet"
    );
    let later = g.tick(t0 + Duration::from_secs(1), 6_000);
    assert_eq!(
        on(&later, "zwave/12/99/0/userIdStatus/3")[0],
        &json!({"time":6_000,"value":1})
    );
    assert_eq!(g.slot(12, 3).map(|s| s.code), Some("0427".into()));
}

#[test]
fn a_dropped_first_write_reads_back_empty_and_the_retry_lands() {
    let mut g = gateway(Quirks {
        drop_first_write: true,
        ..Quirks::default()
    });
    let t0 = Instant::now();
    call(&mut g, "writeValue", json!([code_id(3), "0427"]), t0);
    let later = g.tick(t0 + Duration::from_secs(1), 6_000);
    assert_eq!(on(&later, "zwave/12/99/0/userIdStatus/3")[0]["value"], 0);
    call(&mut g, "writeValue", json!([code_id(3), "0427"]), t0);
    g.tick(t0 + Duration::from_secs(2), 7_000);
    assert_eq!(g.slot(12, 3).map(|s| s.status), Some(1));
}

#[test]
fn masked_locks_hide_codes_and_cleared_slots_use_their_spelling() {
    let mut g = gateway(Quirks {
        masked_codes: true,
        empty_code: "0000".into(),
        supervised: true,
        ..Quirks::default()
    });
    let t0 = Instant::now();
    let out = call(&mut g, "writeValue", json!([code_id(2), "123456"]), t0);
    assert_eq!(
        on(&out, &format!("{API}/writeValue"))[0]["result"]["status"],
        255
    );
    let read = call(&mut g, "pollValue", json!([code_id(2)]), t0);
    assert_eq!(
        on(&read, &format!("{API}/pollValue"))[0]["result"],
        "******"
    );
    let empty = call(&mut g, "pollValue", json!([code_id(1)]), t0);
    assert_eq!(on(&empty, &format!("{API}/pollValue"))[0]["result"], "0000");
}

#[test]
fn a_dead_node_fails_writes_polls_and_pings() {
    let mut g = gateway(Quirks {
        dead: true,
        ..Quirks::default()
    });
    let t0 = Instant::now();
    let out = call(&mut g, "writeValue", json!([code_id(3), "0427"]), t0);
    assert_eq!(
        on(&out, &format!("{API}/writeValue"))[0]["result"],
        json!({"status":2})
    );
    assert_eq!(on(&out, "zwave/12/status")[0]["status"], "Dead");
    assert!(
        on(&out, "zwave/12/99/0/userCode/3").is_empty(),
        "no echo for a failed send"
    );
    let poll = call(&mut g, "pollValue", json!([code_id(3)]), t0);
    assert_eq!(on(&poll, &format!("{API}/pollValue"))[0]["success"], false);
    let ping = call(&mut g, "pingNode", json!([12]), t0);
    assert_eq!(on(&ping, &format!("{API}/pingNode"))[0]["result"], false);
}

#[test]
fn a_sleeping_node_answers_at_its_wake_up() {
    let mut g = gateway(Quirks {
        sleeping: Some(Duration::from_secs(5)),
        ..Quirks::default()
    });
    let t0 = Instant::now();
    assert!(call(&mut g, "pingNode", json!([12]), t0).is_empty());
    assert!(g.tick(t0 + Duration::from_secs(1), 6_000).is_empty());
    let woke = g.tick(t0 + Duration::from_secs(5), 10_000);
    let statuses: Vec<_> = on(&woke, "zwave/12/status")
        .iter()
        .map(|s| s["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("Awake"), json!("Asleep")]);
    assert_eq!(on(&woke, &format!("{API}/pingNode"))[0]["result"], true);
}

#[test]
fn status_without_a_cached_code_fails_and_bad_values_are_refused() {
    let mut g = gateway(Quirks::default());
    let t0 = Instant::now();
    let status = json!({"nodeId":12,"commandClass":99,"endpoint":0,"property":"userIdStatus","propertyKey":3});
    let out = call(&mut g, "writeValue", json!([status, 1]), t0);
    assert_eq!(
        on(&out, &format!("{API}/writeValue"))[0]["result"],
        json!({"status":2})
    );
    let out = call(&mut g, "writeValue", json!([code_id(3), 427]), t0);
    assert_eq!(
        on(&out, &format!("{API}/writeValue"))[0]["result"]["status"],
        5
    );
    let out = call(&mut g, "writeValue", json!([code_id(9), "0427"]), t0);
    assert_eq!(
        on(&out, &format!("{API}/writeValue"))[0]["result"]["status"],
        5
    );
    let out = g.on_message(&format!("{API}/writeValue/set"), b"{\"args\":1}", t0, 1);
    assert_eq!(
        on(&out, &format!("{API}/writeValue"))[0]["message"],
        "Args must be an array"
    );
}
