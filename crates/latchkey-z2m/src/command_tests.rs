use super::*;

fn encode(cmd: &Command) -> (String, String) {
    let (topic, payload) = cmd
        .encode(&Topics::default(), "front_door")
        .expect("encodable command");
    (topic, String::from_utf8(payload).expect("UTF-8 JSON"))
}

fn golden(cmd: Command, topic: &str, json: &str) {
    assert_eq!(encode(&cmd), (topic.to_owned(), json.to_owned()), "{cmd:?}");
}

const SET: &str = "zigbee2mqtt/front_door/set";
const GET: &str = "zigbee2mqtt/front_door/get";

#[test]
fn lock_and_unlock() {
    golden(Command::Lock, SET, r#"{"state":"LOCK"}"#);
    golden(Command::Unlock, SET, r#"{"state":"UNLOCK"}"#);
}

#[test]
fn set_pin_sends_the_pin_as_a_string() {
    golden(
        Command::SetPin {
            slot: 3,
            pin: "0427".into(),
            user_type: UserType::Unrestricted,
            enabled: true,
        },
        SET,
        r#"{"pin_code":{"user":3,"user_type":"unrestricted","user_enabled":true,"pin_code":"0427"}}"#,
    );
    golden(
        Command::SetPin {
            slot: 249,
            pin: "00000000".into(),
            user_type: UserType::NonAccess,
            enabled: false,
        },
        SET,
        r#"{"pin_code":{"user":249,"user_type":"non_access","user_enabled":false,"pin_code":"00000000"}}"#,
    );
}

#[test]
fn every_user_type_has_its_wire_name() {
    let names: Vec<&str> = UserType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "unrestricted",
            "year_day_schedule",
            "week_day_schedule",
            "master",
            "non_access"
        ]
    );
}

#[test]
fn set_pin_refuses_malformed_pins() {
    for pin in ["123", "123456789", "12a4", "", "١٢٣٤", " 1234", "1234\n"] {
        let cmd = Command::SetPin {
            slot: 0,
            pin: pin.into(),
            user_type: UserType::Unrestricted,
            enabled: true,
        };
        assert_eq!(
            cmd.encode(&Topics::default(), "front_door"),
            Err(EncodeError::InvalidPin),
            "{pin:?}"
        );
    }
}

#[test]
fn clear_pin_sends_null() {
    golden(
        Command::ClearPin { slot: 3 },
        SET,
        r#"{"pin_code":{"user":3,"pin_code":null}}"#,
    );
}

#[test]
fn set_user_status() {
    golden(
        Command::SetUserStatus {
            slot: 3,
            status: UserStatus::Disabled,
        },
        SET,
        r#"{"user_status":{"user":3,"status":"disabled"}}"#,
    );
    golden(
        Command::SetUserStatus {
            slot: 0,
            status: UserStatus::Enabled,
        },
        SET,
        r#"{"user_status":{"user":0,"status":"enabled"}}"#,
    );
    golden(
        Command::SetUserStatus {
            slot: 1,
            status: UserStatus::Available,
        },
        SET,
        r#"{"user_status":{"user":1,"status":"available"}}"#,
    );
}

#[test]
fn reads_go_to_get() {
    golden(
        Command::ReadSlot { slot: 3 },
        GET,
        r#"{"pin_code":{"user":3}}"#,
    );
    golden(Command::ReadState, GET, r#"{"state":""}"#);
}

#[test]
fn settings() {
    golden(
        Command::SetAutoRelock { seconds: 30 },
        SET,
        r#"{"auto_relock_time":30}"#,
    );
    golden(
        Command::SetAutoRelock { seconds: 0 },
        SET,
        r#"{"auto_relock_time":0}"#,
    );
    golden(
        Command::SetAutoRelock { seconds: 3600 },
        SET,
        r#"{"auto_relock_time":3600}"#,
    );
    assert_eq!(
        Command::SetAutoRelock { seconds: 3601 }.encode(&Topics::default(), "front_door"),
        Err(EncodeError::AutoRelockTooLong {
            seconds: 3601,
            max: 3600
        })
    );
    golden(
        Command::SetSoundVolume(SoundVolume::SilentMode),
        SET,
        r#"{"sound_volume":"silent_mode"}"#,
    );
    golden(
        Command::SetSoundVolume(SoundVolume::HighVolume),
        SET,
        r#"{"sound_volume":"high_volume"}"#,
    );
}

#[test]
fn lockout_settings_use_the_generic_write() {
    golden(
        Command::WriteLockoutSettings {
            wrong_code_limit: 5,
            disable_seconds: 60,
        },
        SET,
        r#"{"write":{"cluster":"closuresDoorLock","payload":{"wrongCodeEntryLimit":5,"userCodeTemporaryDisableTime":60}}}"#,
    );
    let zero = |wrong_code_limit, disable_seconds| {
        Command::WriteLockoutSettings {
            wrong_code_limit,
            disable_seconds,
        }
        .encode(&Topics::default(), "front_door")
    };
    assert_eq!(
        zero(0, 60),
        Err(EncodeError::ZeroLockoutValue {
            field: "wrong_code_limit"
        })
    );
    assert_eq!(
        zero(5, 0),
        Err(EncodeError::ZeroLockoutValue {
            field: "disable_seconds"
        })
    );
}

#[test]
fn capabilities_use_the_generic_read_with_a_state_property() {
    golden(
        Command::ReadCapabilities,
        SET,
        r#"{"read":{"cluster":"closuresDoorLock","attributes":["numOfPinUsersSupported","minPinLen","maxPinLen","wrongCodeEntryLimit","userCodeTemporaryDisableTime"],"state_property":"lock_caps"}}"#,
    );
}

#[test]
fn device_names_are_validated_and_may_contain_slashes() {
    assert_eq!(
        Command::Lock.encode(&Topics::default(), "x/set"),
        Err(EncodeError::Topic(TopicError::NameReserved))
    );
    assert_eq!(
        Command::Lock.encode(&Topics::default(), ""),
        Err(EncodeError::Topic(TopicError::EmptyName))
    );
    let (topic, _) = Command::ReadState
        .encode(&Topics::default(), "floor1/front_door")
        .expect("valid name");
    assert_eq!(topic, "zigbee2mqtt/floor1/front_door/get");
}

#[test]
fn debug_never_prints_the_pin() {
    let cmd = Command::SetPin {
        slot: 3,
        pin: "0427".into(),
        user_type: UserType::Unrestricted,
        enabled: true,
    };
    let debug = format!("{cmd:?}");
    assert!(!debug.contains("0427"), "{debug}");
    assert!(debug.contains("****"));
}
