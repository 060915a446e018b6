//! The translation between the core's lock vocabulary and the Z-Wave session's: each
//! [`LockCommand`] for a Z-Wave lock becomes the session's [`ZwaveCommand`], each
//! [`Outcome`] and node [`Report`] becomes the core's [`LockReport`]s, and a node is named
//! `zwave/<node id>` (docs/DEVICES.md, "Z-Wave JS UI").
//!
//! Two rules of the lock model live here. latchkey numbers a lock's slots from 0 whatever the
//! protocol, and Z-Wave numbers its user ids from 1, so slot `n` is user id `n + 1`. And only
//! the session's read-back says what a slot holds (decision 86): the values the gateway
//! publishes on its own, which include its echo of a write the lock may never have taken, and
//! the lock's code-change notifications, which it sends for latchkey's own writes too, are not
//! passed on as slot readings.

use latchkey_core::lock::{
    Alarm, Availability, CodeChange, CodeChangeKind, CodeUse, DeviceAddress, DoorContact,
    LockCommand, LockProfile, LockReport, Method, Motion, Operation, Position, Protocol,
    ReportedCode, SlotReading, SlotStatus,
};
use latchkey_zwave::{Pin, Report, SlotContents, SlotStatus as ZwaveSlotStatus};

use super::{LockNode, Outcome, ZwaveCommand};

/// The first level of every Z-Wave lock's address.
pub const PREFIX: &str = "zwave";

/// The address latchkey gives node `node`.
pub fn address(node: u16) -> String {
    format!("{PREFIX}/{node}")
}

/// The node an address names, if it is a Z-Wave lock's (`zwave/<1–232 or a long-range id>`).
pub fn node_of(address: &DeviceAddress) -> Option<u16> {
    let rest = address.as_str().strip_prefix(PREFIX)?.strip_prefix('/')?;
    if rest.starts_with('0') || rest.starts_with('+') {
        return None;
    }
    rest.parse::<u16>().ok().filter(|n| *n >= 1)
}

/// latchkey's slot `slot` as a Z-Wave user id.
fn user_id(slot: u16) -> Result<u16, String> {
    slot.checked_add(1)
        .ok_or_else(|| format!("slot {slot} is beyond what a Z-Wave lock can number"))
}

/// The User Code status a code is stored with: an access code opens (Enabled); a non-access
/// code opens nothing and is reported when typed (Messaging, User Code v2); a disabled code of
/// either kind is kept and refused (Disabled).
fn user_id_status(code_use: CodeUse, enabled: bool) -> ZwaveSlotStatus {
    match (code_use, enabled) {
        (_, false) => ZwaveSlotStatus::Disabled,
        (CodeUse::Access, true) => ZwaveSlotStatus::Enabled,
        (CodeUse::NonAccess, true) => ZwaveSlotStatus::Messaging,
    }
}

/// A Z-Wave user id as latchkey's slot (`None` for 0, which names no user).
fn slot_of(user: u16) -> Option<u16> {
    user.checked_sub(1)
}

/// The session's command for `command` to `node`.
///
/// # Errors
/// A sentence saying why it cannot be sent: the code is not one a Z-Wave lock takes, or the
/// slot is beyond what Z-Wave numbers.
pub fn command(node: u16, command: &LockCommand) -> Result<ZwaveCommand, String> {
    Ok(match command {
        LockCommand::SetCode {
            slot,
            code,
            code_use,
            enabled,
        } => ZwaveCommand::SetCode {
            node,
            slot: user_id(*slot)?,
            pin: Pin::new(code.expose()).map_err(|e| e.to_string())?,
            status: user_id_status(*code_use, *enabled),
        },
        LockCommand::ClearSlot { slot } => ZwaveCommand::ClearSlot {
            node,
            slot: user_id(*slot)?,
        },
        LockCommand::ReadSlot { slot } => ZwaveCommand::ReadSlot {
            node,
            slot: user_id(*slot)?,
        },
        LockCommand::Lock => ZwaveCommand::Lock { node },
        LockCommand::Unlock => ZwaveCommand::Unlock { node },
        LockCommand::Configure(s) => ZwaveCommand::SetAutoRelock {
            node,
            seconds: u16::try_from(s.auto_relock_seconds).unwrap_or(u16::MAX),
        },
        LockCommand::ReadState => ZwaveCommand::ReadPosition { node },
    })
}

/// Z-Wave manufacturer ids of the lock makers whose models latchkey knows (the Z-Wave
/// Alliance's list): Allegion's Schlage, Spectrum Brands' Kwikset, ASSA ABLOY's Yale.
const MANUFACTURERS: [(u16, &str); 3] =
    [(0x003b, "Schlage"), (0x0090, "Kwikset"), (0x0129, "Yale")];

/// The maker a Z-Wave manufacturer id names, when latchkey knows it.
pub fn manufacturer(id: u16) -> Option<&'static str> {
    MANUFACTURERS
        .iter()
        .find(|(m, _)| *m == id)
        .map(|(_, name)| *name)
}

/// What a lock node's reports prove, from its maker, its product label and whether it sleeps
/// (an unknown model gets the cautious Z-Wave default: believed only from a read-back).
pub fn profile(node: &LockNode) -> LockProfile {
    LockProfile::for_model(
        Protocol::ZWave,
        node.manufacturer_id.and_then(manufacturer),
        (!node.product_label.is_empty()).then_some(node.product_label.as_str()),
        node.sleeping,
    )
}

/// What an outcome shows about the lock, in the core's words: a confirmed code is a read-back
/// holding exactly it, an assumed one a read-back that masks it, a confirmed clear an empty
/// read-back, a confirmed lock or unlock the position reached. A failure or an offline node
/// shows nothing: the reconciler's own timeout retries the write.
pub fn outcome(command: &LockCommand, outcome: &Outcome) -> Vec<LockReport> {
    let read = |slot: u16, status, code| {
        LockReport::Slot(SlotReading {
            slot,
            status,
            code,
            read_back: true,
        })
    };
    // A code stored as asked reads back Enabled when it does something at the keypad (opens,
    // or is reported), Disabled when it is refused.
    let held = |enabled: bool| {
        if enabled {
            SlotStatus::Enabled
        } else {
            SlotStatus::Disabled
        }
    };
    match (command, outcome) {
        (
            LockCommand::SetCode {
                slot,
                code,
                enabled,
                ..
            },
            Outcome::Confirmed,
        ) => vec![read(
            *slot,
            held(*enabled),
            ReportedCode::Exact(code.expose().to_owned()),
        )],
        (LockCommand::SetCode { slot, enabled, .. }, Outcome::Assumed) => {
            vec![read(*slot, held(*enabled), ReportedCode::Masked)]
        }
        (LockCommand::ClearSlot { slot }, Outcome::Confirmed) => {
            vec![read(*slot, SlotStatus::Empty, ReportedCode::NotReported)]
        }
        (LockCommand::ReadSlot { slot }, Outcome::Read(contents)) => vec![match contents {
            SlotContents::Empty => read(*slot, SlotStatus::Empty, ReportedCode::NotReported),
            SlotContents::Occupied { status, code } => read(
                *slot,
                match status {
                    latchkey_zwave::SlotStatus::Disabled => SlotStatus::Disabled,
                    // Any other status holds a code that does something at the keypad.
                    _ => SlotStatus::Enabled,
                },
                match code {
                    latchkey_zwave::ReportedCode::Code(c) => {
                        ReportedCode::Exact(c.expose().to_owned())
                    }
                    _ => ReportedCode::Masked,
                },
            ),
        }],
        (LockCommand::Lock, Outcome::Confirmed) => vec![LockReport::Position(Position::Locked)],
        (LockCommand::Unlock, Outcome::Confirmed) => {
            vec![LockReport::Position(Position::Unlocked)]
        }
        _ => Vec::new(),
    }
}

/// A node's availability in the core's words.
pub fn availability(a: latchkey_zwave::Availability) -> Availability {
    match a {
        latchkey_zwave::Availability::Alive | latchkey_zwave::Availability::Awake => {
            Availability::Online
        }
        latchkey_zwave::Availability::Asleep => Availability::Asleep,
        latchkey_zwave::Availability::Dead => Availability::Offline,
        latchkey_zwave::Availability::Unknown => Availability::Unknown,
    }
}

/// What a node report says, in the core's words; `None` for what latchkey does not act on (see
/// the module's rules) and for availability, which [`availability`] carries.
pub fn report(report: &Report) -> Option<LockReport> {
    Some(match report {
        Report::Position(latchkey_zwave::Position::Locked) => {
            LockReport::Position(Position::Locked)
        }
        Report::Position(latchkey_zwave::Position::Unlocked { .. }) => {
            LockReport::Position(Position::Unlocked)
        }
        Report::Door(latchkey_zwave::DoorPosition::Open) => LockReport::Door(DoorContact::Open),
        Report::Door(latchkey_zwave::DoorPosition::Closed) => LockReport::Door(DoorContact::Closed),
        Report::Battery { percent } => LockReport::Battery(*percent),
        Report::BatteryLow(true) => LockReport::BatteryLow,
        Report::AutoRelock { seconds } => LockReport::Settings {
            auto_relock_seconds: Some(*seconds),
            wrong_code_limit: None,
            keypad_disable_seconds: None,
        },
        Report::Operation(o) => LockReport::Operation(Operation {
            motion: match o.motion {
                latchkey_zwave::Motion::Locked => Motion::Lock,
                latchkey_zwave::Motion::Unlocked => Motion::Unlock,
            },
            method: match o.method {
                latchkey_zwave::Method::Keypad => Method::Keypad,
                latchkey_zwave::Method::Manual => Method::Manual,
                latchkey_zwave::Method::Remote => Method::Remote,
                latchkey_zwave::Method::Auto => Method::Auto,
            },
            slot: o.slot.and_then(slot_of),
            refused: None,
        }),
        Report::Alarm(a) => LockReport::Alarm(match a {
            latchkey_zwave::Alarm::Jam => Alarm::Jam,
            latchkey_zwave::Alarm::Tamper => Alarm::Tamper,
            latchkey_zwave::Alarm::KeypadDisabled => Alarm::KeypadDisabled,
            latchkey_zwave::Alarm::LowBattery => Alarm::LowBattery,
        }),
        Report::MessagingCode { slot } => LockReport::PresenceCode {
            slot: slot.and_then(slot_of),
        },
        // A code change names a slot but not the code: on a lock whose profile confirms by
        // read-back it confirms nothing of latchkey's own writes, and flags a slot latchkey
        // does not hold (a code programmed at the keypad with the master code).
        Report::CodeChange(change) => {
            let (kind, slot) = match change {
                latchkey_zwave::CodeChange::Added { slot } => (CodeChangeKind::Added, slot),
                latchkey_zwave::CodeChange::Deleted { slot } => (CodeChangeKind::Deleted, slot),
                latchkey_zwave::CodeChange::Duplicate { slot } => (CodeChangeKind::Duplicate, slot),
                latchkey_zwave::CodeChange::AllDeleted => return None,
            };
            LockReport::CodeChanged(CodeChange {
                kind,
                slot: slot.and_then(slot_of),
                at_keypad: false,
            })
        }
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use latchkey_core::lock::{Code, LockSettings};

    fn set(slot: u16) -> LockCommand {
        LockCommand::SetCode {
            slot,
            code: Code::new("0427").unwrap(),
            code_use: CodeUse::Access,
            enabled: true,
        }
    }

    #[test]
    fn a_node_is_addressed_as_zwave_slash_its_id_and_nothing_else_is_one() {
        let a = DeviceAddress::parse(&address(12)).unwrap();
        assert_eq!(a.as_str(), "zwave/12");
        assert_eq!(node_of(&a), Some(12));
        for other in [
            "zwave/0",
            "zwave/012",
            "zwave/x",
            "zwave/12/a",
            "zwavex/3",
            "linden/1a",
        ] {
            assert_eq!(
                node_of(&DeviceAddress::parse(other).unwrap()),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn slot_n_is_user_id_n_plus_one_both_ways() {
        match command(7, &set(0)).unwrap() {
            ZwaveCommand::SetCode {
                node,
                slot,
                pin,
                status,
            } => {
                assert_eq!((node, slot, status), (7, 1, ZwaveSlotStatus::Enabled));
                assert_eq!(pin, Pin::new("0427").unwrap());
            }
            other => panic!("{other:?}"),
        }
        let keypad = Report::Operation(latchkey_zwave::Operation {
            motion: latchkey_zwave::Motion::Unlocked,
            method: latchkey_zwave::Method::Keypad,
            slot: Some(1),
        });
        assert_eq!(
            report(&keypad),
            Some(LockReport::Operation(Operation {
                motion: Motion::Unlock,
                method: Method::Keypad,
                slot: Some(0),
                refused: None,
            }))
        );
        assert!(command(7, &LockCommand::ClearSlot { slot: u16::MAX }).is_err());
    }

    #[test]
    fn only_the_read_back_outcome_speaks_for_a_slot() {
        assert_eq!(
            outcome(&set(3), &Outcome::Assumed),
            vec![LockReport::Slot(SlotReading {
                slot: 3,
                status: SlotStatus::Enabled,
                code: ReportedCode::Masked,
                read_back: true,
            })]
        );
        assert!(matches!(
            outcome(&set(3), &Outcome::Confirmed)[..],
            [LockReport::Slot(SlotReading {
                slot: 3,
                status: SlotStatus::Enabled,
                code: ReportedCode::Exact(_),
                read_back: true,
            })]
        ));
        assert!(outcome(&set(3), &Outcome::Offline).is_empty());
        assert!(
            outcome(
                &set(3),
                &Outcome::Failed(super::super::FailReason::NotLanded)
            )
            .is_empty()
        );
        // The gateway's own publication of a slot is not a slot reading; the lock's add/delete
        // notifications are code changes, which the node's profile weighs.
        let echo = Report::SlotStatus {
            slot: 4,
            status: latchkey_zwave::SlotStatus::Enabled,
        };
        assert_eq!(report(&echo), None);
        let added = Report::CodeChange(latchkey_zwave::CodeChange::Added { slot: Some(4) });
        assert_eq!(
            report(&added),
            Some(LockReport::CodeChanged(CodeChange {
                kind: CodeChangeKind::Added,
                slot: Some(3),
                at_keypad: false,
            }))
        );
        let all = Report::CodeChange(latchkey_zwave::CodeChange::AllDeleted);
        assert_eq!(report(&all), None);
    }

    #[test]
    fn a_node_s_profile_comes_from_its_maker_and_product_label() {
        let node = |maker: Option<u16>, label: &str, sleeping: bool| LockNode {
            id: 5,
            name: String::new(),
            location: String::new(),
            manufacturer_id: maker,
            product_type: None,
            product_id: None,
            product_label: label.into(),
            firmware_version: String::new(),
            capacity: 30,
            sleeping,
            door_lock: true,
            auto_relock: false,
            availability: None,
        };
        assert_eq!(
            profile(&node(Some(0x003b), "BE469ZP", false)).name,
            "schlage-be469"
        );
        assert_eq!(
            profile(&node(Some(0x003b), "BE469ZP", false)).held_as(),
            latchkey_core::lock::CodeHeld::Assumed
        );
        assert_eq!(
            profile(&node(Some(0x0090), "914", false)).name,
            "kwikset-91x"
        );
        // Another maker's BE469, an unknown maker, no label: the Z-Wave default.
        for n in [
            node(Some(0x0129), "BE469ZP", false),
            node(Some(0x7777), "914", false),
            node(None, "", false),
        ] {
            assert_eq!(profile(&n).name, "zwave");
        }
        assert!(profile(&node(None, "", true)).sleeping);
        assert_eq!(manufacturer(0x0090), Some("Kwikset"));
        assert_eq!(manufacturer(0x0001), None);
    }

    #[test]
    fn a_disabled_code_is_stored_disabled_and_a_non_access_one_as_messaging() {
        for (code_use, enabled, want, reads) in [
            (
                CodeUse::Access,
                false,
                ZwaveSlotStatus::Disabled,
                SlotStatus::Disabled,
            ),
            (
                CodeUse::NonAccess,
                true,
                ZwaveSlotStatus::Messaging,
                SlotStatus::Enabled,
            ),
            (
                CodeUse::NonAccess,
                false,
                ZwaveSlotStatus::Disabled,
                SlotStatus::Disabled,
            ),
        ] {
            let c = LockCommand::SetCode {
                slot: 0,
                code: Code::new("0427").unwrap(),
                code_use,
                enabled,
            };
            match command(1, &c).unwrap() {
                ZwaveCommand::SetCode { status, .. } => assert_eq!(status, want),
                other => panic!("{other:?}"),
            }
            // Read back as stored: a messaging code does something at the keypad (it is
            // reported), a disabled one is refused.
            match &outcome(&c, &Outcome::Confirmed)[..] {
                [LockReport::Slot(r)] => assert_eq!(r.status, reads),
                other => panic!("{other:?}"),
            }
        }
        let typed = Report::MessagingCode { slot: Some(4) };
        assert_eq!(
            report(&typed),
            Some(LockReport::PresenceCode { slot: Some(3) })
        );
    }

    #[test]
    fn a_slot_read_and_a_state_read_are_the_locks_answers() {
        let read = LockCommand::ReadSlot { slot: 2 };
        assert_eq!(
            command(2, &read).unwrap(),
            ZwaveCommand::ReadSlot { node: 2, slot: 3 }
        );
        assert_eq!(
            outcome(&read, &Outcome::Read(SlotContents::Empty)),
            vec![LockReport::Slot(SlotReading {
                slot: 2,
                status: SlotStatus::Empty,
                code: ReportedCode::NotReported,
                read_back: true,
            })]
        );
        let masked = SlotContents::Occupied {
            status: latchkey_zwave::SlotStatus::Enabled,
            code: latchkey_zwave::ReportedCode::Masked { len: 6 },
        };
        assert!(matches!(
            outcome(&read, &Outcome::Read(masked))[..],
            [LockReport::Slot(SlotReading {
                status: SlotStatus::Enabled,
                code: ReportedCode::Masked,
                ..
            })]
        ));
        // Asking for the state is a read of `currentMode`; its answer travels as the node's
        // position report, so the outcome itself adds nothing.
        assert_eq!(
            command(2, &LockCommand::ReadState).unwrap(),
            ZwaveCommand::ReadPosition { node: 2 }
        );
        assert!(outcome(&LockCommand::ReadState, &Outcome::Confirmed).is_empty());
    }

    #[test]
    fn settings_become_the_relock_time() {
        let c = command(
            2,
            &LockCommand::Configure(LockSettings {
                auto_relock_seconds: 30,
                wrong_code_limit: 5,
                keypad_disable_seconds: 60,
            }),
        )
        .unwrap();
        assert_eq!(
            c,
            ZwaveCommand::SetAutoRelock {
                node: 2,
                seconds: 30
            }
        );
    }
}
