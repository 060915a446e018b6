use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::message::{Message, Topic};

const ACT: Duration = Duration::from_secs(2);

fn lock() -> VirtualLock {
    VirtualLock::new("front", LockConfig::default())
}

fn instant_lock() -> VirtualLock {
    VirtualLock::new(
        "front",
        LockConfig {
            actuation: Duration::ZERO,
            ..LockConfig::default()
        },
    )
}

fn set(l: &mut VirtualLock, v: Value, now: Instant) -> Vec<Message> {
    l.handle_set(&v, now)
}

fn add_pin(l: &mut VirtualLock, user: u16, pin: &str, now: Instant) {
    let out = set(
        l,
        json!({"pin_code":{"user":user,"user_type":"unrestricted","user_enabled":true,"pin_code":pin}}),
        now,
    );
    assert_eq!(field(&out[0], "action"), json!("pin_code_added"));
}

fn field(m: &Message, key: &str) -> Value {
    m.payload.get(key).cloned().unwrap_or(Value::Null)
}

fn actions(out: &[Message]) -> Vec<String> {
    out.iter()
        .filter_map(|m| m.payload.get("action").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_new_lock_is_locked_closed_and_full() {
    let l = lock();
    let m = l.state_message();
    assert_eq!(m.topic, Topic::State);
    assert_eq!(field(&m, "state"), json!("LOCK"));
    assert_eq!(field(&m, "lock_state"), json!("locked"));
    assert_eq!(field(&m, "door_state"), json!("closed"));
    assert_eq!(field(&m, "battery"), json!(100));
    assert_eq!(field(&m, "voltage"), json!(6000));
    assert_eq!(field(&m, "auto_relock_time"), json!(0));
    assert!(m.payload.get("linkquality").is_some());
    assert_eq!(l.slots().len(), 30);
}

#[test]
fn remote_unlock_reports_an_rf_event_at_once_and_the_state_only_after_actuation() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = set(&mut l, json!({"state":"UNLOCK"}), t0);
    assert_eq!(out.len(), 1, "no optimistic state");
    assert_eq!(field(&out[0], "action"), json!("unlock"));
    assert_eq!(field(&out[0], "action_source"), json!(1));
    assert_eq!(field(&out[0], "action_source_name"), json!("rf"));
    assert_eq!(field(&out[0], "action_user"), json!(65535));
    assert_eq!(field(&out[0], "lock_state"), json!("locked"), "cached, old");

    assert!(l.tick(t0 + ACT / 2).is_empty());
    let out = l.tick(t0 + ACT);
    assert_eq!(out.len(), 1);
    assert_eq!(field(&out[0], "state"), json!("UNLOCK"));
    assert_eq!(field(&out[0], "lock_state"), json!("unlocked"));
    assert_eq!(
        field(&out[0], "action"),
        Value::Null,
        "state reports carry no action"
    );
}

#[test]
fn zero_actuation_reports_the_new_state_in_the_same_call() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    let out = set(&mut l, json!({"state":"UNLOCK"}), t0);
    assert_eq!(out.len(), 2);
    assert_eq!(field(&out[1], "state"), json!("UNLOCK"));
}

#[test]
fn bare_strings_are_commands_case_insensitively() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    let out = l.handle_set(&json!("unlock"), t0);
    assert_eq!(field(&out[1], "lock_state"), json!("unlocked"));
    let out = l.handle_set(&json!("TOGGLE"), t0);
    assert_eq!(field(&out[1], "lock_state"), json!("locked"));
    let out = set(&mut l, json!({"state":"toggle"}), t0);
    assert_eq!(field(&out[1], "lock_state"), json!("unlocked"));
}

#[test]
fn an_unknown_state_command_is_logged_like_z2m() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = set(&mut l, json!({"state":"OPEN"}), t0);
    assert_eq!(out[0].topic, Topic::BridgeLogging);
    assert_eq!(
        field(&out[0], "message"),
        json!(
            "Publish 'set' 'state' to 'front' failed: 'Error: 'OPEN' not allowed, choose between: LOCK,UNLOCK,TOGGLE'"
        )
    );
}

#[test]
fn a_remote_unlock_with_a_valid_code_names_the_slot() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    add_pin(&mut l, 4, "2468", t0);
    let out = set(
        &mut l,
        json!({"state":{"state":"UNLOCK","code":"2468"}}),
        t0,
    );
    assert_eq!(field(&out[0], "action_user"), json!(4));
    assert_eq!(field(&out[1], "lock_state"), json!("unlocked"));
}

#[test]
fn a_remote_unlock_with_a_wrong_code_fails_and_does_not_move() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    add_pin(&mut l, 4, "2468", t0);
    let out = set(
        &mut l,
        json!({"state":{"state":"UNLOCK","code":"1111"}}),
        t0,
    );
    assert_eq!(actions(&out), ["unlock_failure_invalid_pin_or_id"]);
    assert_eq!(l.status(t0).bolt, Bolt::Locked);
}

#[test]
fn a_numeric_code_in_a_command_is_replaced_by_an_empty_one() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    let out = set(&mut l, json!({"state":{"state":"UNLOCK","code":1234}}), t0);
    assert_eq!(actions(&out), ["unlock"]);
}

#[test]
fn setting_a_pin_emits_added_then_changed_from_rf() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = set(
        &mut l,
        json!({"pin_code":{"user":3,"user_type":"unrestricted","user_enabled":true,"pin_code":"0427"}}),
        t0,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(field(&out[0], "action"), json!("pin_code_added"));
    assert_eq!(field(&out[0], "action_user"), json!(3));
    assert_eq!(field(&out[0], "action_source_name"), json!("rf"));
    assert_eq!(l.slots()[3].pin.expose_secret(), "0427");
    assert_eq!(l.slots()[3].status, SlotStatus::Enabled);

    let out = set(&mut l, json!({"pin_code":{"user":3,"pin_code":"9999"}}), t0);
    assert_eq!(actions(&out), ["pin_code_changed"]);
}

#[test]
fn a_numeric_pin_is_stored_as_its_decimal_string_so_leading_zeros_are_lost() {
    let t0 = Instant::now();
    let mut l = lock();
    // JSON cannot carry 0427 as a number; a client that sent it numerically sent 427.
    let out = set(&mut l, json!({"pin_code":{"user":1,"pin_code":4270}}), t0);
    assert_eq!(actions(&out), ["pin_code_added"]);
    assert_eq!(l.slots()[1].pin.expose_secret(), "4270");
    let out = set(
        &mut l,
        json!({"pin_code":{"user":3,"pin_code":12345.0}}),
        t0,
    );
    assert_eq!(actions(&out), ["pin_code_added"]);
    assert_eq!(l.slots()[3].pin.expose_secret(), "12345");
    let out = set(&mut l, json!({"pin_code":{"user":2,"pin_code":427}}), t0);
    assert!(
        out.is_empty(),
        "427 is too short for the lock: silently rejected"
    );
    assert_eq!(l.slots()[2].status, SlotStatus::Available);
}

#[test]
fn an_out_of_range_user_changes_nothing_and_logs_z2m_error() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = set(
        &mut l,
        json!({"pin_code":{"user":30,"pin_code":"1234"}}),
        t0,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].topic, Topic::BridgeLogging);
    assert_eq!(
        out[0].payload,
        json!({"level":"error","namespace":"z2m",
               "message":"Publish 'set' 'pin_code' to 'front' failed: 'Error: user must be in range for device'"})
    );
    assert!(l.slots().iter().all(|s| s.status == SlotStatus::Available));
    let out = set(&mut l, json!({"pin_code":{"pin_code":"1234"}}), t0);
    assert_eq!(
        out[0].topic,
        Topic::BridgeLogging,
        "a missing user is out of range too"
    );
}

#[test]
fn a_numeric_string_user_is_accepted_as_javascript_would() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = set(
        &mut l,
        json!({"pin_code":{"user":"2","pin_code":"1234"}}),
        t0,
    );
    assert_eq!(actions(&out), ["pin_code_added"]);
}

#[test]
fn an_unknown_user_type_is_logged_with_the_lookup_error() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = set(
        &mut l,
        json!({"pin_code":{"user":2,"user_type":"guest","pin_code":"1234"}}),
        t0,
    );
    let msg = field(&out[0], "message");
    assert!(
        msg.as_str().is_some_and(|m| m.contains("got: 'guest'")),
        "{msg}"
    );
}

#[test]
fn a_null_or_absent_pin_clears_the_slot_with_a_deleted_event() {
    let t0 = Instant::now();
    let mut l = lock();
    add_pin(&mut l, 5, "1357", t0);
    let out = set(&mut l, json!({"pin_code":{"user":5,"pin_code":null}}), t0);
    assert_eq!(actions(&out), ["pin_code_deleted"]);
    assert_eq!(l.slots()[5], Slot::default());
    add_pin(&mut l, 5, "1357", t0);
    let out = set(&mut l, json!({"pin_code":{"user":5}}), t0);
    assert_eq!(actions(&out), ["pin_code_deleted"]);
}

#[test]
fn the_lock_silently_rejects_duplicates_and_malformed_codes() {
    let t0 = Instant::now();
    let mut l = lock();
    add_pin(&mut l, 0, "1234", t0);
    for bad in ["1234", "12", "123456789", "12a4"] {
        let out = set(&mut l, json!({"pin_code":{"user":1,"pin_code":bad}}), t0);
        assert!(out.is_empty(), "{bad} should be dropped silently");
    }
    assert_eq!(l.slots()[1].status, SlotStatus::Available);
}

#[test]
fn user_status_disables_and_reenables_without_touching_the_pin() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    add_pin(&mut l, 2, "2222", t0);
    let out = set(
        &mut l,
        json!({"user_status":{"user":2,"status":"disabled"}}),
        t0,
    );
    assert_eq!(actions(&out), ["pin_code_changed"]);
    assert_eq!(
        l.keypad("2222", t0).0,
        KeypadOutcome::Refused {
            reason: RefusalReason::SlotDisabled
        }
    );
    set(
        &mut l,
        json!({"user_status":{"user":2,"status":"enabled"}}),
        t0,
    );
    assert_eq!(l.keypad("2222", t0).0, KeypadOutcome::Opened { slot: 2 });
    let out = set(
        &mut l,
        json!({"user_status":{"user":2,"status":"available"}}),
        t0,
    );
    assert_eq!(actions(&out), ["pin_code_deleted"]);
}

#[test]
fn user_status_on_an_empty_slot_is_silently_ignored() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = set(
        &mut l,
        json!({"user_status":{"user":2,"status":"enabled"}}),
        t0,
    );
    assert!(out.is_empty());
}

#[test]
fn reading_a_slot_gives_its_status_and_never_the_pin() {
    let t0 = Instant::now();
    let mut l = lock();
    add_pin(&mut l, 3, "0427", t0);
    let out = l.handle_get(&json!({"pin_code":{"user":3}}), t0);
    assert_eq!(out.len(), 1);
    assert_eq!(field(&out[0], "users"), json!({"3":{"status":"enabled"}}));
    assert!(!out[0].payload.to_string().contains("0427"));
    let out = l.handle_get(&json!({"pin_code":{"user":4}}), t0);
    assert_eq!(field(&out[0], "users"), json!({"4":{"status":"available"}}));
}

#[test]
fn reading_every_slot_publishes_one_message_per_slot_and_counts_a_flood() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = l.handle_get(&json!({"pin_code":""}), t0);
    assert_eq!(out.len(), 30);
    assert_eq!(
        field(&out[29], "users"),
        json!({"29":{"status":"available"}})
    );
    assert_eq!(l.floods(), 1);
}

#[test]
fn get_state_republishes_the_cached_state() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = l.handle_get(&json!({"state":""}), t0);
    assert_eq!(out, vec![l.state_message()]);
}

#[test]
fn keypad_with_an_enabled_pin_opens_after_the_actuation() {
    let t0 = Instant::now();
    let mut l = lock();
    add_pin(&mut l, 3, "0427", t0);
    let (outcome, out) = l.keypad("0427", t0);
    assert_eq!(outcome, KeypadOutcome::Opened { slot: 3 });
    assert_eq!(out.len(), 1);
    assert_eq!(field(&out[0], "action"), json!("unlock"));
    assert_eq!(field(&out[0], "action_source"), json!(0));
    assert_eq!(field(&out[0], "action_source_name"), json!("keypad"));
    assert_eq!(field(&out[0], "action_user"), json!(3));
    assert_eq!(field(&out[0], "state"), json!("LOCK"));
    let out = l.tick(t0 + ACT);
    assert_eq!(field(&out[0], "state"), json!("UNLOCK"));
    assert_eq!(field(&out[0], "lock_state"), json!("unlocked"));
}

#[test]
fn a_non_access_code_is_reported_and_never_opens() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    set(
        &mut l,
        json!({"pin_code":{"user":7,"user_type":"non_access","pin_code":"7777"}}),
        t0,
    );
    let (outcome, out) = l.keypad("7777", t0);
    assert_eq!(outcome, KeypadOutcome::NonAccess { slot: 7 });
    assert_eq!(actions(&out), ["non_access_user_operational_event"]);
    assert_eq!(field(&out[0], "action_user"), json!(7));
    assert_eq!(l.status(t0).bolt, Bolt::Locked);
}

#[test]
fn a_slot_written_disabled_never_opens() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    set(
        &mut l,
        json!({"pin_code":{"user":1,"user_enabled":false,"pin_code":"1111"}}),
        t0,
    );
    let (outcome, out) = l.keypad("1111", t0);
    assert_eq!(
        outcome,
        KeypadOutcome::Refused {
            reason: RefusalReason::SlotDisabled
        }
    );
    assert_eq!(actions(&out), ["unlock_failure_invalid_pin_or_id"]);
}

#[test]
fn a_wrong_pin_is_an_invalid_pin_failure_with_no_user() {
    let t0 = Instant::now();
    let mut l = lock();
    let (outcome, out) = l.keypad("9999", t0);
    assert_eq!(
        outcome,
        KeypadOutcome::Refused {
            reason: RefusalReason::UnknownPin
        }
    );
    assert_eq!(actions(&out), ["unlock_failure_invalid_pin_or_id"]);
    assert_eq!(field(&out[0], "action_user"), json!(65535));
}

#[test]
fn five_wrong_codes_disable_the_keypad_raise_an_alarm_and_refuse_even_right_codes() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    add_pin(&mut l, 0, "1234", t0);
    for _ in 0..4 {
        let (_, out) = l.keypad("0000", t0);
        assert_eq!(out.len(), 1);
    }
    let (_, out) = l.keypad("0000", t0);
    assert_eq!(out.len(), 2);
    assert_eq!(
        field(&out[1], "alarm"),
        json!("tamper_alarm_keypad_attempts")
    );

    let (outcome, out) = l.keypad("1234", t0 + Duration::from_secs(59));
    assert_eq!(outcome, KeypadOutcome::Disabled);
    assert_eq!(actions(&out), ["unlock_failure_invalid_pin_or_id"]);
    assert!(l.status(t0).keypad_disabled);

    l.tick(t0 + Duration::from_secs(60));
    assert_eq!(
        l.keypad("1234", t0 + Duration::from_secs(60)).0,
        KeypadOutcome::Opened { slot: 0 }
    );
}

#[test]
fn repeated_lockouts_double_the_disable_time_and_a_good_code_resets_it() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    add_pin(&mut l, 0, "1234", t0);
    let burst = |l: &mut VirtualLock, at: Instant| {
        for _ in 0..5 {
            l.keypad("0000", at);
        }
    };
    burst(&mut l, t0);
    let t1 = t0 + Duration::from_secs(60);
    burst(&mut l, t1);
    assert_eq!(
        l.keypad("1234", t1 + Duration::from_secs(119)).0,
        KeypadOutcome::Disabled
    );
    let t2 = t1 + Duration::from_secs(120);
    assert_eq!(l.keypad("1234", t2).0, KeypadOutcome::Opened { slot: 0 });
    burst(&mut l, t2);
    assert_eq!(
        l.keypad("1234", t2 + Duration::from_secs(60)).0,
        KeypadOutcome::Opened { slot: 0 },
        "back to the base time after a success"
    );
}

#[test]
fn the_wrong_code_settings_are_written_and_read_through_the_generic_converters() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    let out = set(
        &mut l,
        json!({"write":{"cluster":"closuresDoorLock","payload":{"wrongCodeEntryLimit":2,"userCodeTemporaryDisableTime":10}}}),
        t0,
    );
    assert_eq!(out[0].topic, Topic::BridgeLogging);
    l.keypad("0000", t0);
    let (_, out) = l.keypad("0000", t0);
    assert_eq!(
        field(&out[1], "alarm"),
        json!("tamper_alarm_keypad_attempts")
    );
    assert!(!l.status(t0 + Duration::from_secs(10)).keypad_disabled);

    let out = set(
        &mut l,
        json!({"read":{"cluster":"closuresDoorLock","attributes":["numOfPinUsersSupported","minPinLen","maxPinLen","wrongCodeEntryLimit"],"state_property":"lock_caps"}}),
        t0,
    );
    let caps = out
        .iter()
        .find(|m| m.topic == Topic::State)
        .map(|m| field(m, "lock_caps"));
    assert_eq!(
        caps,
        Some(
            json!({"numOfPinUsersSupported":30,"minPinLen":4,"maxPinLen":8,"wrongCodeEntryLimit":2})
        )
    );
}

#[test]
fn writing_an_unknown_attribute_is_an_error_and_changes_nothing() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = set(
        &mut l,
        json!({"write":{"cluster":"closuresDoorLock","payload":{"wrongCodeEntryLimit":2,"bogus":1}}}),
        t0,
    );
    assert_eq!(field(&out[0], "level"), json!("error"));
    assert_eq!(l.snapshot().wrong_code_limit, 5);
}

#[test]
fn auto_relock_locks_again_after_the_configured_time() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    let out = set(&mut l, json!({"auto_relock_time":30}), t0);
    assert_eq!(field(&out[0], "auto_relock_time"), json!(30));
    set(&mut l, json!({"state":"UNLOCK"}), t0);
    assert!(l.tick(t0 + Duration::from_secs(29)).is_empty());
    let out = l.tick(t0 + Duration::from_secs(30));
    assert_eq!(actions(&out), ["auto_lock"]);
    assert_eq!(field(&out[1], "state"), json!("LOCK"));
}

#[test]
fn auto_relock_waits_for_an_open_door_to_close() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    set(&mut l, json!({"auto_relock_time":5}), t0);
    set(&mut l, json!({"state":"UNLOCK"}), t0);
    l.open_door(t0);
    assert!(l.tick(t0 + Duration::from_secs(5)).is_empty());
    l.close_door(t0 + Duration::from_secs(20));
    assert!(l.tick(t0 + Duration::from_secs(24)).is_empty());
    let out = l.tick(t0 + Duration::from_secs(25));
    assert_eq!(field(&out[1], "lock_state"), json!("locked"));
}

#[test]
fn sound_volume_is_set_and_echoed_or_refused_with_the_allowed_values() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = set(&mut l, json!({"sound_volume":"silent_mode"}), t0);
    assert_eq!(field(&out[0], "sound_volume"), json!("silent_mode"));
    let out = set(&mut l, json!({"sound_volume":"loud"}), t0);
    assert_eq!(out[0].topic, Topic::BridgeLogging);
}

#[test]
fn a_duress_code_opens_normally_and_raises_a_duress_alarm() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    add_pin(&mut l, 9, "9119", t0);
    assert!(l.set_duress(9, true));
    let (outcome, out) = l.keypad("9119", t0);
    assert_eq!(outcome, KeypadOutcome::Opened { slot: 9 });
    assert_eq!(field(&out[0], "action"), json!("unlock"));
    assert_eq!(field(&out[1], "alarm"), json!("duress"));
    assert_eq!(field(&out[1], "action_user"), json!(9));
    assert_eq!(field(&out[2], "lock_state"), json!("unlocked"));
}

#[test]
fn a_jammed_lock_ends_not_fully_locked_and_reports_error_jammed() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    set(&mut l, json!({"state":"UNLOCK"}), t0);
    l.set_jam(true);
    let out = set(&mut l, json!({"state":"LOCK"}), t0);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(field(&out[1], "lock_state"), json!("not_fully_locked"));
    assert_eq!(field(&out[1], "state"), json!("UNLOCK"));
    assert_eq!(field(&out[1], "door_state"), json!("error_jammed"));
    // The remote operation failed, said by the `rf` source with no user.
    assert_eq!(
        field(&out[1], "action"),
        json!("lock_failure_invalid_pin_or_id")
    );
    assert_eq!(field(&out[1], "action_source_name"), json!("rf"));
    assert_eq!(field(&out[1], "action_user"), json!(65535));
    l.set_jam(false);
    let out = set(&mut l, json!({"state":"LOCK"}), t0);
    assert_eq!(field(&out[1], "lock_state"), json!("locked"));
    assert_eq!(field(&out[1], "door_state"), json!("closed"));
}

#[test]
fn opening_the_door_while_locked_is_reported_as_forced_open() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    let out = l.open_door(t0);
    assert_eq!(field(&out[0], "door_state"), json!("error_forced_open"));
    let out = l.close_door(t0);
    assert_eq!(field(&out[0], "door_state"), json!("closed"));
    set(&mut l, json!({"state":"UNLOCK"}), t0);
    let out = l.open_door(t0);
    assert_eq!(field(&out[0], "door_state"), json!("open"));
}

#[test]
fn a_manual_turn_moves_the_bolt_at_once_with_a_manual_event() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = l.manual_turn(t0);
    assert_eq!(actions(&out), ["manual_unlock"]);
    assert_eq!(field(&out[0], "action_source_name"), json!("manual"));
    assert_eq!(field(&out[1], "lock_state"), json!("unlocked"));
}

#[test]
fn the_stale_state_mode_reports_the_manual_event_but_not_the_state() {
    let t0 = Instant::now();
    let mut l = lock();
    l.set_report_manual_state(false);
    let out = l.manual_turn(t0);
    assert_eq!(out.len(), 1);
    assert_eq!(l.status(t0).bolt, Bolt::Unlocked);
}

#[test]
fn each_actuation_drains_the_battery_and_a_flat_lock_does_nothing() {
    let t0 = Instant::now();
    let mut l = VirtualLock::new(
        "front",
        LockConfig {
            actuation: Duration::ZERO,
            battery_drain_per_actuation: 50.0,
            ..LockConfig::default()
        },
    );
    add_pin(&mut l, 0, "1234", t0);
    let out = set(&mut l, json!({"state":"UNLOCK"}), t0);
    assert_eq!(field(&out[1], "battery"), json!(50));
    let out = set(&mut l, json!({"state":"LOCK"}), t0);
    assert_eq!(field(&out[1], "battery"), json!(0));
    assert_eq!(field(&out[1], "battery_low"), json!(true));
    let out = set(&mut l, json!({"state":"UNLOCK"}), t0);
    assert!(out.iter().all(|m| m.topic == Topic::BridgeLogging));
    assert_eq!(l.status(t0).bolt, Bolt::Locked);
    assert_eq!(
        l.keypad("1234", t0),
        (
            KeypadOutcome::Refused {
                reason: RefusalReason::BatteryDead
            },
            vec![]
        )
    );
}

#[test]
fn an_offline_lock_reports_offline_fails_commands_but_its_keypad_still_works() {
    let t0 = Instant::now();
    let mut l = instant_lock();
    add_pin(&mut l, 0, "1234", t0);
    let out = l.set_offline(true);
    assert_eq!(out, vec![Message::availability(false)]);
    assert_eq!(out[0].payload, json!({"state":"offline"}));
    let out = set(&mut l, json!({"state":"UNLOCK"}), t0);
    assert_eq!(
        field(&out[0], "message"),
        json!("Publish 'set' 'state' to 'front' failed: 'Error: Delivery failed'")
    );
    assert_eq!(l.status(t0).bolt, Bolt::Locked);
    let (outcome, out) = l.keypad("1234", t0);
    assert_eq!(outcome, KeypadOutcome::Opened { slot: 0 });
    assert!(out.is_empty(), "nothing reaches Zigbee2MQTT");
    let out = l.set_offline(false);
    assert_eq!(out[0].payload, json!({"state":"online"}));
    assert_eq!(field(&out[1], "lock_state"), json!("unlocked"));
}

#[test]
fn the_failure_modes_for_pin_writes_drop_or_log_the_write() {
    let t0 = Instant::now();
    let mut l = lock();
    l.set_pin_write_mode(PinWriteMode::SilentlyIgnore);
    assert!(set(&mut l, json!({"pin_code":{"user":1,"pin_code":"1234"}}), t0).is_empty());
    l.set_pin_write_mode(PinWriteMode::DeliveryFailed);
    let out = set(&mut l, json!({"pin_code":{"user":1,"pin_code":"1234"}}), t0);
    assert_eq!(
        field(&out[0], "message"),
        json!("Publish 'set' 'pin_code' to 'front' failed: 'Error: Delivery failed'")
    );
    assert_eq!(l.slots()[1].status, SlotStatus::Available);
}

#[test]
fn a_snapshot_restores_slots_duress_and_settings() {
    let t0 = Instant::now();
    let mut l = lock();
    add_pin(&mut l, 3, "0427", t0);
    l.set_duress(3, true);
    set(&mut l, json!({"auto_relock_time":15}), t0);
    let snap = l.snapshot();
    let mut fresh = lock();
    fresh.restore(&snap);
    assert_eq!(fresh.slots(), l.slots());
    assert_eq!(fresh.snapshot(), snap);
}

#[test]
fn a_pin_never_shows_in_debug_output() {
    let slot = Slot {
        status: SlotStatus::Enabled,
        pin: Pin::new("0427"),
        user_type: UserType::Unrestricted,
    };
    assert!(!format!("{slot:?}").contains("0427"));
}

#[test]
fn an_unknown_key_is_logged_as_having_no_converter() {
    let t0 = Instant::now();
    let mut l = lock();
    let out = set(&mut l, json!({"brightness":3}), t0);
    assert_eq!(
        field(&out[0], "message"),
        json!("No converter available for 'brightness' on 'front': (3)")
    );
}
