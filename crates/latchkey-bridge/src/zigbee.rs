//! The translation between the core's lock vocabulary and Zigbee2MQTT's (`latchkey-z2m`):
//! each [`LockCommand`] becomes the Zigbee2MQTT commands that carry it out.

use latchkey_core::lock::{CodeUse, LockCommand};
use latchkey_z2m::{Command, UserType};

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
