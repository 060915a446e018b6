//! The translation between the core's lock vocabulary and Zigbee2MQTT's (`latchkey-z2m`):
//! each [`LockCommand`] becomes the Zigbee2MQTT commands that carry it out, and each parsed
//! Zigbee2MQTT message becomes a [`DeviceMessage`] (docs/DEVICES.md says which field means
//! what).

use latchkey_core::lock::{
    Alarm, AnnouncedDevice, Availability, CodeChange, CodeChangeKind, CodeUse, DeviceMessage,
    DoorContact, LockCommand, LockProfile, LockReport, Method, Motion, Operation, Position,
    Refusal, ReportedCode, SlotReading, SlotStatus,
};
use latchkey_z2m::{
    Action, ActionSource, BoltState, BridgeEvent, Command, DoorState, Inbound, LockState,
    PublishVerb, SlotStatus as Z2mSlot, UserType,
};

/// The Zigbee2MQTT commands for `command`, in the order they are sent. Settings become the
/// auto-relock write, the lockout attributes' write and the read that makes the lock report
/// what it holds.
pub fn commands(command: &LockCommand) -> Vec<Command> {
    match command {
        LockCommand::SetCode {
            slot,
            code,
            code_use,
            enabled,
        } => vec![Command::SetPin {
            slot: *slot,
            pin: code.expose().to_owned(),
            user_type: match code_use {
                CodeUse::Access => UserType::Unrestricted,
                CodeUse::NonAccess => UserType::NonAccess,
            },
            enabled: *enabled,
        }],
        LockCommand::ClearSlot { slot } => vec![Command::ClearPin { slot: *slot }],
        LockCommand::ReadSlot { slot } => vec![Command::ReadSlot { slot: *slot }],
        LockCommand::Lock => vec![Command::Lock],
        LockCommand::Unlock => vec![Command::Unlock],
        LockCommand::ReadState => vec![Command::ReadState],
        LockCommand::Configure(s) => vec![
            Command::SetAutoRelock {
                seconds: s.auto_relock_seconds,
            },
            Command::WriteLockoutSettings {
                wrong_code_limit: s.wrong_code_limit,
                disable_seconds: s.keypad_disable_seconds,
            },
            Command::ReadCapabilities,
        ],
    }
}

/// The message in latchkey's words.
pub fn message(inbound: Inbound) -> DeviceMessage {
    match inbound {
        Inbound::DeviceState { name, report } => DeviceMessage::Reports {
            device: name,
            profile: LockProfile::ZIGBEE,
            reports: reports(&report),
        },
        Inbound::Availability { name, availability } => DeviceMessage::Availability {
            device: name,
            availability: match availability {
                latchkey_z2m::Availability::Online => Availability::Online,
                latchkey_z2m::Availability::Offline => Availability::Offline,
                latchkey_z2m::Availability::Cleared => Availability::Unknown,
            },
        },
        Inbound::Devices(list) => DeviceMessage::Devices(
            list.devices
                .into_iter()
                .filter(|d| d.device_type.as_deref() != Some("Coordinator"))
                .map(|d| AnnouncedDevice {
                    name: d.friendly_name,
                    hardware_id: Some(d.ieee_address),
                    model: d.model,
                    vendor: d.vendor,
                    is_lock: d.is_lock,
                    has_keypad: d.has_pin_code,
                })
                .collect(),
        ),
        Inbound::Event(BridgeEvent::DeviceLeave {
            friendly_name: Some(name),
            ..
        }) => DeviceMessage::Left { device: name },
        Inbound::Logging(log) => match log.publish_failure() {
            Some(f) => DeviceMessage::Undelivered {
                position: f.verb == PublishVerb::Set && f.attribute == "state",
                device: f.device,
                what: f.attribute,
                error: f.error,
            },
            None => DeviceMessage::Gateway,
        },
        Inbound::BridgeState(_) | Inbound::Event(_) | Inbound::Response { .. } => {
            DeviceMessage::Gateway
        }
    }
}

/// What one Zigbee2MQTT state message says. The bolt's `lock_state` is preferred to the
/// coarse `state`; a door sensor's `contact` is the door.
pub fn reports(r: &latchkey_z2m::LockReport) -> Vec<LockReport> {
    let mut out = Vec::new();
    let position = match (r.lock_state, r.state) {
        (Some(BoltState::Locked), _) | (None, Some(LockState::Locked)) => Some(Position::Locked),
        (Some(BoltState::Unlocked), _) | (None, Some(LockState::Unlocked)) => {
            Some(Position::Unlocked)
        }
        (Some(BoltState::NotFullyLocked), _) => Some(Position::NotFullyLocked),
        (None, None) => None,
    };
    out.extend(position.map(LockReport::Position));
    let door = r
        .door_state
        .map(|d| match d {
            DoorState::Open => DoorContact::Open,
            DoorState::Closed => DoorContact::Closed,
            DoorState::ErrorJammed => DoorContact::Jammed,
            DoorState::ErrorForcedOpen => DoorContact::ForcedOpen,
            DoorState::ErrorUnspecified | DoorState::Undefined => DoorContact::Fault,
        })
        .or(r.contact.map(|closed| {
            if closed {
                DoorContact::Closed
            } else {
                DoorContact::Open
            }
        }));
    out.extend(door.map(LockReport::Door));
    out.extend(r.battery.map(LockReport::Battery));
    if r.battery_low == Some(true) {
        out.push(LockReport::BatteryLow);
    }
    out.extend(r.linkquality.map(LockReport::LinkQuality));
    let caps = r.lock_caps.unwrap_or_default();
    if r.auto_relock_time.is_some()
        || caps.wrong_code_entry_limit.is_some()
        || caps.user_code_temporary_disable_time.is_some()
    {
        out.push(LockReport::Settings {
            auto_relock_seconds: r.auto_relock_time,
            wrong_code_limit: caps.wrong_code_entry_limit,
            keypad_disable_seconds: caps.user_code_temporary_disable_time,
        });
    }
    if let Some(a) = &r.alarm {
        out.push(LockReport::Alarm(match a.as_str() {
            "tamper_alarm_keypad_attempts" => Alarm::KeypadDisabled,
            "duress" => Alarm::Duress {
                slot: r.action_user,
            },
            "deadbolt_jammed" => Alarm::Jam,
            "low_battery" => Alarm::LowBattery,
            other => Alarm::Other(other.to_owned()),
        }));
    }
    if let Some(action) = &r.action {
        out.push(action_report(action, r.action_source, r.action_user));
    }
    for (slot, rep) in &r.users {
        let status = match rep.status {
            Z2mSlot::Available => SlotStatus::Empty,
            Z2mSlot::Enabled => SlotStatus::Enabled,
            Z2mSlot::Disabled => SlotStatus::Disabled,
            // A status the lock's firmware does not define: says nothing about the slot.
            Z2mSlot::NotSupported(_) => continue,
        };
        out.push(LockReport::Slot(SlotReading {
            slot: *slot,
            status,
            code: rep
                .pin_code
                .as_ref()
                .map_or(ReportedCode::NotReported, |p| {
                    ReportedCode::Exact(p.expose().to_owned())
                }),
            read_back: true,
        }));
    }
    out
}

/// An `action` (a one-shot operation event), with its source and user.
fn action_report(action: &Action, source: Option<ActionSource>, user: Option<u16>) -> LockReport {
    let by_source = match source {
        Some(ActionSource::Keypad) => Method::Keypad,
        Some(ActionSource::Rfid) => Method::Rfid,
        Some(ActionSource::Fingerprint) => Method::Fingerprint,
        Some(ActionSource::Rf) => Method::Remote,
        Some(ActionSource::Manual) => Method::Manual,
        None => Method::Unknown,
    };
    let op = |motion, method, refused| {
        LockReport::Operation(Operation {
            motion,
            method,
            slot: user,
            refused,
        })
    };
    let change = |kind| {
        LockReport::CodeChanged(CodeChange {
            kind,
            slot: user,
            at_keypad: source == Some(ActionSource::Keypad),
        })
    };
    match action {
        Action::Lock => op(Motion::Lock, by_source, None),
        Action::Unlock => op(Motion::Unlock, by_source, None),
        Action::KeyLock => op(Motion::Lock, Method::Key, None),
        Action::KeyUnlock => op(Motion::Unlock, Method::Key, None),
        Action::ManualLock => op(Motion::Lock, Method::Manual, None),
        Action::ManualUnlock => op(Motion::Unlock, Method::Manual, None),
        Action::OneTouchLock => op(Motion::Lock, Method::OneTouch, None),
        Action::AutoLock => op(Motion::Lock, Method::Auto, None),
        Action::ScheduleLock => op(Motion::Lock, Method::Schedule, None),
        Action::ScheduleUnlock => op(Motion::Unlock, Method::Schedule, None),
        Action::LockFailureInvalidPinOrId => op(Motion::Lock, by_source, Some(Refusal::WrongCode)),
        Action::UnlockFailureInvalidPinOrId => {
            op(Motion::Unlock, by_source, Some(Refusal::WrongCode))
        }
        Action::LockFailureInvalidSchedule => {
            op(Motion::Lock, by_source, Some(Refusal::OutsideSchedule))
        }
        Action::UnlockFailureInvalidSchedule => {
            op(Motion::Unlock, by_source, Some(Refusal::OutsideSchedule))
        }
        Action::NonAccessUserOperationalEvent => LockReport::PresenceCode { slot: user },
        Action::PinCodeAdded => change(CodeChangeKind::Added),
        Action::PinCodeChanged => change(CodeChangeKind::Changed),
        Action::PinCodeDeleted => change(CodeChangeKind::Deleted),
        Action::MasterCodeChanged
        | Action::RfidCodeAdded
        | Action::RfidCodeDeleted
        | Action::Unknown
        | Action::Other(_) => LockReport::Other {
            event: action.as_str().to_owned(),
            method: by_source,
            slot: user,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::lock::{Code, DeviceAddress, LockSettings};
    use latchkey_z2m::Topics;

    fn payload(c: &LockCommand) -> Vec<(String, String)> {
        commands(c)
            .iter()
            .map(|z| {
                let (t, p) = z.encode(&Topics::default(), "linden/1a").unwrap();
                (t, String::from_utf8(p).unwrap())
            })
            .collect()
    }

    #[test]
    fn a_code_goes_out_as_a_json_string_with_its_leading_zero() {
        let sent = payload(&LockCommand::SetCode {
            slot: 4,
            code: Code::new("0427").unwrap(),
            code_use: CodeUse::NonAccess,
            enabled: false,
        });
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "zigbee2mqtt/linden/1a/set");
        let body: serde_json::Value = serde_json::from_str(&sent[0].1).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"pin_code": {"user": 4, "user_type": "non_access",
                "user_enabled": false, "pin_code": "0427"}})
        );
    }

    #[test]
    fn each_command_maps_to_its_zigbee2mqtt_command() {
        assert_eq!(
            commands(&LockCommand::ClearSlot { slot: 2 }),
            [Command::ClearPin { slot: 2 }]
        );
        assert_eq!(
            commands(&LockCommand::ReadSlot { slot: 9 }),
            [Command::ReadSlot { slot: 9 }]
        );
        assert_eq!(commands(&LockCommand::Lock), [Command::Lock]);
        assert_eq!(commands(&LockCommand::Unlock), [Command::Unlock]);
        assert_eq!(commands(&LockCommand::ReadState), [Command::ReadState]);
        assert_eq!(
            commands(&LockCommand::Configure(LockSettings {
                auto_relock_seconds: 30,
                wrong_code_limit: 5,
                keypad_disable_seconds: 60,
            })),
            [
                Command::SetAutoRelock { seconds: 30 },
                Command::WriteLockoutSettings {
                    wrong_code_limit: 5,
                    disable_seconds: 60
                },
                Command::ReadCapabilities,
            ]
        );
    }

    /// A device name the app accepts at pairing is one Zigbee2MQTT's topics can address, and
    /// the other way round.
    #[test]
    fn device_addresses_and_friendly_names_agree() {
        let long = "x".repeat(201);
        for name in [
            "linden/1a-entry",
            "front door",
            "",
            "a+b",
            "a#",
            "/a",
            "a//b",
            "a/",
            "bridge",
            "bridge/x",
            "x/availability",
            "x/action",
            "x/set",
            "x/get",
            "x/set/state",
            "x/get/y",
            "availability",
            "sets/x",
            "a\tb",
            &long,
            &long[1..],
        ] {
            assert_eq!(
                DeviceAddress::parse(name).is_ok(),
                latchkey_z2m::validate_friendly_name(name).is_ok(),
                "{name:?}"
            );
        }
    }
}
