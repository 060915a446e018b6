//! One device message's reports, gathered by kind so that ingestion reads them together (a
//! position and a refused operation in one message are one event, as docs/DEVICES.md says).

use latchkey_core::lock::{
    Alarm, CodeChange, DoorContact, LockProfile, LockReport, Method, Operation, Position,
    SlotReading,
};

/// What one message said.
pub(super) struct Said<'a> {
    /// What the device's reports prove (a programming event confirms a Zigbee lock's code, a
    /// Z-Wave lock's code-change notification does not).
    pub profile: LockProfile,
    pub position: Option<Position>,
    pub door: Option<DoorContact>,
    pub battery: Option<u8>,
    pub battery_low: bool,
    pub link_quality: Option<u8>,
    pub auto_relock_seconds: Option<u32>,
    pub wrong_code_limit: Option<u8>,
    pub keypad_disable_seconds: Option<u8>,
    pub alarms: Vec<&'a Alarm>,
    pub operations: Vec<&'a Operation>,
    pub code_changes: Vec<&'a CodeChange>,
    pub presence: Vec<Option<u16>>,
    pub others: Vec<(&'a str, Method, Option<u16>)>,
    pub slots: Vec<&'a SlotReading>,
}

impl<'a> Said<'a> {
    /// Gathers `reports`; of a value reported twice, the last counts.
    pub fn of(profile: LockProfile, reports: &'a [LockReport]) -> Said<'a> {
        let mut s = Said {
            profile,
            position: None,
            door: None,
            battery: None,
            battery_low: false,
            link_quality: None,
            auto_relock_seconds: None,
            wrong_code_limit: None,
            keypad_disable_seconds: None,
            alarms: Vec::new(),
            operations: Vec::new(),
            code_changes: Vec::new(),
            presence: Vec::new(),
            others: Vec::new(),
            slots: Vec::new(),
        };
        for r in reports {
            match r {
                LockReport::Position(p) => s.position = Some(*p),
                LockReport::Door(d) => s.door = Some(*d),
                LockReport::Battery(b) => s.battery = Some(*b),
                LockReport::BatteryLow => s.battery_low = true,
                LockReport::LinkQuality(q) => s.link_quality = Some(*q),
                // Reachability comes in its own message; a device that talks is there.
                LockReport::Availability(_) => {}
                LockReport::Slot(reading) => s.slots.push(reading),
                LockReport::Operation(o) => s.operations.push(o),
                LockReport::Alarm(a) => s.alarms.push(a),
                LockReport::CodeChanged(c) => s.code_changes.push(c),
                LockReport::PresenceCode { slot } => s.presence.push(*slot),
                LockReport::Other {
                    event,
                    method,
                    slot,
                } => s.others.push((event.as_str(), *method, *slot)),
                LockReport::Settings {
                    auto_relock_seconds,
                    wrong_code_limit,
                    keypad_disable_seconds,
                } => {
                    s.auto_relock_seconds = auto_relock_seconds.or(s.auto_relock_seconds);
                    s.wrong_code_limit = wrong_code_limit.or(s.wrong_code_limit);
                    s.keypad_disable_seconds = keypad_disable_seconds.or(s.keypad_disable_seconds);
                }
            }
        }
        s
    }

    /// Every slot the message names (operations, code changes, reads, duress, presence), for
    /// reading them all in one statement.
    pub fn slots_named(&self) -> impl Iterator<Item = u16> + '_ {
        let duress = self.alarms.iter().filter_map(|a| match a {
            Alarm::Duress { slot } => *slot,
            _ => None,
        });
        self.operations
            .iter()
            .filter_map(|o| o.slot)
            .chain(self.code_changes.iter().filter_map(|c| c.slot))
            .chain(self.slots.iter().map(|r| r.slot))
            .chain(self.presence.iter().flatten().copied())
            .chain(self.others.iter().filter_map(|o| o.2))
            .chain(duress)
    }
}

/// The word the device state stores for a bolt position.
pub(super) fn position_word(p: Position) -> &'static str {
    match p {
        Position::Locked => "locked",
        Position::Unlocked => "unlocked",
        Position::NotFullyLocked => "not_fully_locked",
    }
}

/// The word the device state stores for the door.
pub(super) fn door_word(d: DoorContact) -> &'static str {
    match d {
        DoorContact::Open => "open",
        DoorContact::Closed => "closed",
        DoorContact::Jammed => "error_jammed",
        DoorContact::ForcedOpen => "error_forced_open",
        DoorContact::Fault => "error_unspecified",
    }
}
