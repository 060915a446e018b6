use super::*;

fn report(json: &str) -> LockReport {
    LockReport::parse(json.as_bytes(), &Limits::default()).expect("a valid state message")
}

#[test]
fn keypad_unlock_by_user_3_is_an_event_beside_the_cached_position() {
    let r = report(
        r#"{"action":"unlock","action_source":0,"action_source_name":"keypad","action_user":3,
            "battery":87,"linkquality":120,"lock_state":"locked","state":"LOCK"}"#,
    );
    assert_eq!(r.action, Some(Action::Unlock));
    assert_eq!(r.action_source, Some(ActionSource::Keypad));
    assert_eq!(r.action_user, Some(3));
    assert_eq!(r.battery, Some(87));
    assert_eq!(r.linkquality, Some(120));
    assert_eq!(r.lock_state, Some(BoltState::Locked));
    assert_eq!(r.state, Some(LockState::Locked));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn position_message_without_action_fields() {
    let r = report(r#"{"lock_state":"unlocked","state":"UNLOCK","door_state":"closed"}"#);
    assert_eq!(r.state, Some(LockState::Unlocked));
    assert_eq!(r.lock_state, Some(BoltState::Unlocked));
    assert_eq!(r.door_state, Some(DoorState::Closed));
    assert_eq!(r.action, None);
    assert_eq!(r.action_user, None);
}

#[test]
fn yale_c4_locked_and_unlocked_are_accepted_case_insensitively() {
    assert_eq!(
        report(r#"{"state":"LOCKED","alarm":"deadbolt_jammed","tamper":false}"#).state,
        Some(LockState::Locked)
    );
    assert_eq!(
        report(r#"{"state":"Unlocked"}"#).state,
        Some(LockState::Unlocked)
    );
    assert_eq!(report(r#"{"state":"lock"}"#).state, Some(LockState::Locked));
}

#[test]
fn unknown_state_string_is_ignored_with_a_warning() {
    let r = report(r#"{"state":"ON","lock_state":"locked"}"#);
    assert_eq!(r.state, None);
    assert_eq!(r.lock_state, Some(BoltState::Locked));
    assert_eq!(r.warnings, vec!["state: unknown value".to_owned()]);
}

#[test]
fn jam_and_door_errors_are_parsed() {
    let r = report(r#"{"lock_state":"not_fully_locked","door_state":"error_jammed"}"#);
    assert_eq!(r.lock_state, Some(BoltState::NotFullyLocked));
    assert_eq!(r.door_state, Some(DoorState::ErrorJammed));
    for d in DoorState::ALL {
        let json = format!(r#"{{"door_state":"{}"}}"#, d.as_str());
        assert_eq!(report(&json).door_state, Some(*d));
    }
}

#[test]
fn programming_event_names_the_slot() {
    let r = report(
        r#"{"action":"pin_code_added","action_source":0,"action_source_name":"keypad","action_user":7}"#,
    );
    assert_eq!(r.action, Some(Action::PinCodeAdded));
    assert_eq!(r.action_user, Some(7));
}

#[test]
fn no_user_65535_is_none() {
    let r =
        report(r#"{"action":"manual_unlock","action_source_name":"manual","action_user":65535}"#);
    assert_eq!(r.action, Some(Action::ManualUnlock));
    assert_eq!(r.action_source, Some(ActionSource::Manual));
    assert_eq!(r.action_user, None);
    assert!(r.warnings.is_empty());
}

#[test]
fn yale_action_source_user_is_a_fallback_for_action_user() {
    let r = report(r#"{"action":"unlock","action_source_user":12}"#);
    assert_eq!(r.action_user, Some(12));
}

#[test]
fn raw_action_source_code_is_used_without_a_name() {
    let r = report(r#"{"action":"unlock","action_source":3}"#);
    assert_eq!(r.action_source, Some(ActionSource::Rfid));
    let r = report(r#"{"action":"unlock","action_source":9}"#);
    assert_eq!(r.action_source, None);
    assert_eq!(
        r.warnings,
        vec!["action_source: unknown source code".to_owned()]
    );
}

#[test]
fn vendor_and_empty_actions() {
    assert_eq!(
        report(r#"{"action":"keypad_unlock"}"#).action,
        Some(Action::Other("keypad_unlock".into()))
    );
    let r = report(r#"{"action":""}"#);
    assert_eq!(r.action, None);
    assert!(r.warnings.is_empty());
    assert_eq!(report(r#"{"action":null}"#).action, None);
}

#[test]
fn type_confusion_is_ignored_with_warnings() {
    let r = report(
        r#"{"battery":"87","action_user":"3","linkquality":300,"battery_low":"yes",
            "voltage":-1,"lock_state":5,"action":{"x":1},"auto_relock_time":1.5,
            "sound_volume":"loud","state":"LOCK"}"#,
    );
    assert_eq!(r.state, Some(LockState::Locked));
    assert_eq!(r.battery, None);
    assert_eq!(r.action_user, None);
    assert_eq!(r.linkquality, None);
    assert_eq!(r.battery_low, None);
    assert_eq!(r.voltage, None);
    assert_eq!(r.lock_state, None);
    assert_eq!(r.action, None);
    assert_eq!(r.auto_relock_time, None);
    assert_eq!(r.sound_volume, None);
    assert_eq!(r.warnings.len(), 9, "{:?}", r.warnings);
    assert!(r.warnings.iter().all(|w| !w.contains("87")));
}

#[test]
fn battery_range_and_rounding() {
    assert_eq!(report(r#"{"battery":87.5}"#).battery, Some(88));
    assert_eq!(report(r#"{"battery":0}"#).battery, Some(0));
    assert_eq!(report(r#"{"battery":100}"#).battery, Some(100));
    let r = report(r#"{"battery":101}"#);
    assert_eq!(r.battery, None);
    assert_eq!(r.warnings, vec!["battery: out of range 0–100".to_owned()]);
    assert_eq!(report(r#"{"battery":-3}"#).battery, None);
}

#[test]
fn settings_and_power_fields() {
    let r = report(
        r#"{"auto_relock_time":30,"sound_volume":"low_volume","voltage":5800,"battery_low":false}"#,
    );
    assert_eq!(r.auto_relock_time, Some(30));
    assert_eq!(r.sound_volume, Some(SoundVolume::LowVolume));
    assert_eq!(r.voltage, Some(5800));
    assert_eq!(r.battery_low, Some(false));
}

#[test]
fn users_map_reply_is_read_per_slot() {
    let r = report(
        r#"{"users":{"0":{"status":"enabled","pin_code":"1234"},"3":{"status":"enabled","pin_code":"0427"},"4":{"status":"available"}}}"#,
    );
    assert_eq!(r.users.len(), 3);
    assert_eq!(r.users[&0].status, SlotStatus::Enabled);
    assert_eq!(
        r.users[&3].pin_code.as_ref().map(ReportedPin::expose),
        Some("0427")
    );
    assert_eq!(r.users[&4].status, SlotStatus::Available);
    assert_eq!(r.users[&4].pin_code, None);
    assert!(r.warnings.is_empty());
}

#[test]
fn users_map_quirks() {
    let r = report(
        r#"{"users":{"1":{"status":"enabled","pin_code":427},"2":{"status":"enabled","pin_code":{}},
            "5":{"status":"not_supported_7"},"x":{"status":"enabled"},"07":{"status":"bogus"},
            "70000":{"status":"enabled"},"8":"enabled","9":{"status":"disabled","pin_code":"12a4"}}}"#,
    );
    assert_eq!(r.users[&1].status, SlotStatus::Enabled);
    assert_eq!(r.users[&1].pin_code, None);
    assert_eq!(r.users[&2].pin_code, None);
    assert_eq!(r.users[&5].status, SlotStatus::NotSupported(7));
    assert_eq!(r.users[&9].status, SlotStatus::Disabled);
    assert_eq!(r.users[&9].pin_code, None);
    assert_eq!(r.users.len(), 4);
    assert!(
        r.warnings
            .contains(&"users.pin_code: numeric PIN is ambiguous (leading zeros lost)".to_owned())
    );
    assert_eq!(r.warnings.len(), 7, "{:?}", r.warnings);
}

#[test]
fn reported_pin_debug_is_redacted() {
    let r = report(r#"{"users":{"3":{"status":"enabled","pin_code":"0427"}}}"#);
    let debug = format!("{r:?}");
    assert!(!debug.contains("0427"), "{debug}");
    assert!(debug.contains("****"));
}

#[test]
fn lock_caps_read_reply() {
    let r = report(
        r#"{"lock_caps":{"numOfPinUsersSupported":30,"minPinLen":4,"maxPinLen":8,
            "wrongCodeEntryLimit":5,"userCodeTemporaryDisableTime":60}}"#,
    );
    assert_eq!(
        r.lock_caps,
        Some(LockCaps {
            num_pin_users: Some(30),
            min_pin_len: Some(4),
            max_pin_len: Some(8),
            wrong_code_entry_limit: Some(5),
            user_code_temporary_disable_time: Some(60),
        })
    );
    let partial = report(r#"{"lock_caps":{"numOfPinUsersSupported":250,"maxPinLen":"8"}}"#);
    assert_eq!(
        partial.lock_caps,
        Some(LockCaps {
            num_pin_users: Some(250),
            ..LockCaps::default()
        })
    );
    assert_eq!(partial.warnings.len(), 1);
}

#[test]
fn state_message_must_be_an_object() {
    let l = Limits::default();
    assert_eq!(
        LockReport::parse(b"\"LOCK\"", &l),
        Err(ParseError::WrongType {
            expected: "object",
            found: "string"
        })
    );
    assert_eq!(LockReport::parse(b"", &l), Err(ParseError::Empty));
    assert_eq!(LockReport::parse(b"\xc3\x28", &l), Err(ParseError::NotUtf8));
}

#[test]
fn availability_accepts_both_forms() {
    let l = Limits::default();
    let parse = |p: &[u8]| Availability::parse(p, &l);
    assert_eq!(parse(br#"{"state":"online"}"#), Ok(Availability::Online));
    assert_eq!(parse(br#"{"state":"offline"}"#), Ok(Availability::Offline));
    assert_eq!(parse(b"online"), Ok(Availability::Online));
    assert_eq!(parse(b"offline"), Ok(Availability::Offline));
    assert_eq!(parse(b" OFFLINE\n"), Ok(Availability::Offline));
    assert_eq!(parse(b""), Ok(Availability::Cleared));
}

#[test]
fn availability_rejects_anything_else() {
    let l = Limits::default();
    let parse = |p: &[u8]| Availability::parse(p, &l);
    let unrecognised = Err(ParseError::Unrecognised {
        what: "availability",
    });
    assert_eq!(parse(b"maybe"), unrecognised);
    assert_eq!(parse(b"   "), unrecognised);
    assert_eq!(parse(br#"{"state":"asleep"}"#), unrecognised);
    assert_eq!(parse(br#""online""#), unrecognised);
    assert_eq!(
        parse(br#"{"status":"online"}"#),
        Err(ParseError::MissingField { field: "state" })
    );
    assert_eq!(
        parse(br#"{"state":true}"#),
        Err(ParseError::InvalidField {
            field: "state",
            reason: "expected a string"
        })
    );
    assert!(matches!(parse(b"{"), Err(ParseError::InvalidJson { .. })));
    assert_eq!(parse(b"\xff"), Err(ParseError::NotUtf8));
}
