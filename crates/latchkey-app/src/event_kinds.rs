//! The audit event kinds about doors, locks and sensors, each with what it means. This table is
//! the one docs/DEVICES.md shows (`crates/latchkey-app/tests/event_kinds.rs` fails when the two
//! differ, and when a kind written by the code is missing here or a kind here is written nowhere),
//! and `latchkey event kinds` prints it.

/// One kind of audit event and its one-line meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventKind {
    pub kind: &'static str,
    pub meaning: &'static str,
}

const fn k(kind: &'static str, meaning: &'static str) -> EventKind {
    EventKind { kind, meaning }
}

/// Every event kind latchkey writes about doors, locks and sensors, sorted by kind.
pub const DEVICE_EVENT_KINDS: &[EventKind] = &[
    k(
        "access.checked",
        "someone asked whether a person may open a door at an instant (the answer is in the event)",
    ),
    k(
        "access.denied",
        "a code typed at a keypad was refused (wrong code, outside its schedule, frozen, privacy mode …)",
    ),
    k(
        "access.granted",
        "a code typed at a keypad opened the door; the credential is named",
    ),
    k(
        "access.presence_code",
        "the one-time code of a lockout case's presence challenge was typed at the door",
    ),
    k(
        "credential.rotated",
        "a credential was replaced with a new code because its door was compromised; its holder is told the new code",
    ),
    k(
        "door.closed",
        "the door's contact (or the lock's door sensor) reported the door closed",
    ),
    k(
        "door.compromised",
        "a forced entry opened an incident: the door's codes are rotated, staff are told to repair it and the door's household is told",
    ),
    k(
        "door.compromised_closed",
        "staff closed a compromised-door incident, saying what was done",
    ),
    k("door.created", "a door was added to a property"),
    k(
        "door.lock_paired",
        "a lock was paired with the door; every PIN of the door is written to it",
    ),
    k("door.lock_unpaired", "the door's lock was unpaired"),
    k(
        "door.marked_for_service",
        "a locksmith's visit left the door needing service",
    ),
    k(
        "door.mode_changed",
        "the door's mode changed (normal, privacy, vacation, passage, no_remote); when staff change a home's door, its household is told who and why",
    ),
    k(
        "door.opened",
        "the door's contact (or the lock's door sensor) reported the door open",
    ),
    k(
        "door.service_closed",
        "staff closed a door-service incident, saying what was done",
    ),
    k(
        "door.updated",
        "the door was edited (its name, slot count or mode)",
    ),
    k(
        "lock.alarm",
        "an alarm with an `alarm` and a `severity` (see the alarms above); for an unexpected opening the household is told",
    ),
    k(
        "lock.capacity_exceeded",
        "the door has more PINs than its lock has slots; the rest wait",
    ),
    k(
        "lock.case_command",
        "staff opened a unit's door for a proven lockout case",
    ),
    k(
        "lock.changed_while_away",
        "asked after an outage, the lock's position or door differed from what latchkey knew; the gap's bounds are named",
    ),
    k(
        "lock.code_adopted",
        "an admin attached a code found on a lock to a person; the lock was not written",
    ),
    k(
        "lock.code_removal_ordered",
        "an admin ordered a code found on a lock (one latchkey did not know) cleared from it",
    ),
    k(
        "lock.command",
        "a person sent a remote lock or unlock command",
    ),
    k(
        "lock.command_confirmed",
        "the lock reported the position a remote command asked for",
    ),
    k(
        "lock.command_failed",
        "a remote command failed: the lock reported a jam or refused it, or it could not be sent (the reason is named)",
    ),
    k(
        "lock.command_refused",
        "a remote command from an automation (Home Assistant) was refused: the account may not send it to that door now (the reason is named); nothing was sent",
    ),
    k(
        "lock.command_rejected",
        "the lock or Zigbee2MQTT refused a command, with its reason",
    ),
    k(
        "lock.command_unconfirmed",
        "the lock did not report within the command's wait; it may still act",
    ),
    k(
        "lock.emergency_command",
        "staff sent an emergency command to a unit's door, with a reason; the household is told",
    ),
    k(
        "lock.event",
        "the lock reported an action latchkey does not act on (master code, RFID change …)",
    ),
    k(
        "lock.jam_cleared",
        "a jammed lock reported a full position again (which one is not said)",
    ),
    k(
        "lock.jammed",
        "the bolt did not throw (`not_fully_locked`, `error_jammed`, `deadbolt_jammed`); the commands it failed are named",
    ),
    k("lock.locked", "the lock reported its bolt thrown"),
    k("lock.online", "the lock came back after being offline"),
    k(
        "lock.operated",
        "the lock was turned by hand, by its auto-relock or by a command (the method is named)",
    ),
    k(
        "lock.slot_failed",
        "latchkey gave up writing or clearing a PIN slot after its attempts, with the reason",
    ),
    k(
        "lock.slot_lost",
        "a slot that held a latchkey PIN was found empty or changed on the lock",
    ),
    k(
        "lock.slot_removed",
        "the lock confirmed a PIN slot is empty",
    ),
    k(
        "lock.slot_set",
        "the lock confirmed a PIN slot holds its code",
    ),
    k(
        "lock.spare_key_command",
        "a spare-key holder opened a unit's door for a proven lockout case",
    ),
    k("lock.unlocked", "the lock reported its bolt withdrawn"),
    k("sensor.closed", "a contact sensor reported closed"),
    k(
        "sensor.created",
        "a door or window contact sensor was added",
    ),
    k("sensor.opened", "a contact sensor reported open"),
    k(
        "sensor.paired",
        "a contact sensor device was paired with (or unpaired from) a sensor",
    ),
];

/// Whether a kind's meaning says that someone is told of it: each such event queues its
/// notifications in its own transaction (`crates/latchkey-app/tests/told.rs` checks every one).
pub fn tells(kind: &EventKind) -> bool {
    kind.meaning.contains(" told")
}

/// Looks a kind up.
pub fn meaning(kind: &str) -> Option<&'static str> {
    DEVICE_EVENT_KINDS
        .iter()
        .find(|k| k.kind == kind)
        .map(|k| k.meaning)
}

/// The table as Markdown, as docs/DEVICES.md holds it.
pub fn markdown_table() -> String {
    let mut out = String::from("| event | meaning |\n|---|---|\n");
    for k in DEVICE_EVENT_KINDS {
        out.push_str(&format!("| `{}` | {} |\n", k.kind, k.meaning));
    }
    out
}
