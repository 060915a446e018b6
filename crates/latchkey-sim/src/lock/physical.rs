//! Physical inputs, time and test knobs: hand turns, the door, actuation, ticks, failure modes.

use std::time::{Duration, Instant};

use super::{
    Actuation, Bolt, DoorState, NO_USER, PinWriteMode, SOURCE_INDETERMINATE, SOURCE_MANUAL,
    SOURCE_RF, VirtualLock,
};
use crate::message::Message;

impl VirtualLock {
    // ----- physical inputs -----

    /// Someone turns the thumb-turn or key: the bolt toggles at once, reported as a manual event.
    pub fn manual_turn(&mut self, now: Instant) -> Vec<Message> {
        let lock = self.bolt != Bolt::Locked;
        self.manual_set(lock, now)
    }

    /// Someone turns the bolt by hand to `locked` (true) or unlocked (false).
    pub fn manual_set(&mut self, locked: bool, now: Instant) -> Vec<Message> {
        let target = if locked { Bolt::Locked } else { Bolt::Unlocked };
        self.actuation = None;
        self.bolt = target;
        if self.door_error == Some(DoorState::ErrorJammed) {
            self.door_error = None;
        }
        self.after_bolt_moved(now);
        let mut out = vec![self.event(
            if locked {
                "manual_lock"
            } else {
                "manual_unlock"
            },
            SOURCE_MANUAL,
            NO_USER,
        )];
        if self.report_manual {
            out.push(Message::state(self.cached()));
        }
        self.deliver(out)
    }

    /// The door opens. Opening it while the bolt is thrown is forced entry.
    pub fn open_door(&mut self, _now: Instant) -> Vec<Message> {
        self.door_open = true;
        if self.bolt == Bolt::Locked {
            self.door_error = Some(DoorState::ErrorForcedOpen);
        }
        self.deliver(vec![Message::state(self.cached())])
    }

    /// The door is forced open whatever the bolt says.
    pub fn force_door(&mut self, _now: Instant) -> Vec<Message> {
        self.door_open = true;
        self.door_error = Some(DoorState::ErrorForcedOpen);
        self.deliver(vec![Message::state(self.cached())])
    }

    /// The door closes; a deferred auto-relock starts counting again.
    pub fn close_door(&mut self, now: Instant) -> Vec<Message> {
        self.door_open = false;
        if self.door_error == Some(DoorState::ErrorForcedOpen) {
            self.door_error = None;
        }
        if self.relock_when_closed && self.auto_relock_time > 0 && self.bolt == Bolt::Unlocked {
            self.relock_when_closed = false;
            self.relock_at = Some(now + Duration::from_secs(u64::from(self.auto_relock_time)));
        }
        self.deliver(vec![Message::state(self.cached())])
    }

    /// Lets time pass: completes a due actuation, fires auto-relock, re-enables the keypad.
    pub fn tick(&mut self, now: Instant) -> Vec<Message> {
        if self.keypad_disabled_until.is_some_and(|t| t <= now) {
            self.keypad_disabled_until = None;
        }
        if self.battery_dead() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Some(a) = self.actuation
            && a.due <= now
        {
            self.complete_actuation(a.target, a.remote, a.due, &mut out);
        }
        if let Some(at) = self.relock_at
            && at <= now
        {
            self.relock_at = None;
            if self.bolt == Bolt::Unlocked && self.actuation.is_none() {
                if self.door_open {
                    self.relock_when_closed = true;
                } else {
                    out.push(self.event("auto_lock", SOURCE_INDETERMINATE, NO_USER));
                    self.start_actuation(Bolt::Locked, false, now, &mut out);
                }
            }
        }
        self.deliver(out)
    }

    // ----- test and demo knobs -----

    /// Jam mode: while on, every actuation ends `not_fully_locked` with `door_state: error_jammed`;
    /// one started by a remote command also reports its failure (`lock_failure_invalid_pin_or_id`
    /// or `unlock_…` from the `rf` source).
    pub fn set_jam(&mut self, on: bool) {
        self.jam = on;
    }

    /// Loses the next PIN write on its way to the lock: nothing is answered and the slot stays
    /// as it was, as when the mesh drops a frame.
    pub fn drop_next_pin_write(&mut self) {
        self.drop_next_pin_write = true;
    }

    /// Takes the lock off the network (true) or back. Offline: availability `offline`, commands are
    /// answered by Z2M's `Delivery failed`, reports are lost; the keypad keeps working locally.
    pub fn set_offline(&mut self, offline: bool) -> Vec<Message> {
        if self.online != offline {
            return Vec::new();
        }
        self.online = !offline;
        if offline {
            vec![Message::availability(false)]
        } else {
            let mut out = vec![Message::availability(true)];
            if !self.battery_dead() {
                out.push(Message::state(self.cached()));
            }
            out
        }
    }

    /// Sets the battery percentage (0 = flat: the lock stops acting and reporting).
    pub fn set_battery(&mut self, percent: u8) -> Vec<Message> {
        self.battery = f64::from(percent.min(100));
        if self.battery_dead() {
            self.actuation = None;
            self.relock_at = None;
            return Vec::new();
        }
        self.deliver(vec![Message::state(self.cached())])
    }

    /// Marks (or unmarks) a slot as a duress code: it opens normally and raises `"alarm":"duress"`.
    pub fn set_duress(&mut self, slot: u16, on: bool) -> bool {
        if slot >= self.cfg.capacity {
            return false;
        }
        let changed = if on {
            self.duress.insert(slot)
        } else {
            self.duress.remove(&slot)
        };
        if changed {
            self.persist_version += 1;
        }
        true
    }

    /// How PIN writes are treated (failure modes).
    pub fn set_pin_write_mode(&mut self, mode: PinWriteMode) {
        self.pin_writes = mode;
    }

    /// When false, a manual turn sends its event but no state report: the stale-state failure.
    pub fn set_report_manual_state(&mut self, on: bool) {
        self.report_manual = on;
    }

    /// Every cached field as one state message, as `/get {"state":""}` gives.
    pub fn state_message(&self) -> Message {
        Message::state(self.cached())
    }

    pub(super) fn start_actuation(
        &mut self,
        target: Bolt,
        remote: bool,
        now: Instant,
        out: &mut Vec<Message>,
    ) {
        if self.cfg.actuation.is_zero() {
            self.actuation = None;
            self.complete_actuation(target, remote, now, out);
        } else {
            self.actuation = Some(Actuation {
                target,
                due: now + self.cfg.actuation,
                remote,
            });
        }
    }

    fn complete_actuation(
        &mut self,
        target: Bolt,
        remote: bool,
        at: Instant,
        out: &mut Vec<Message>,
    ) {
        self.actuation = None;
        self.battery = (self.battery - self.cfg.battery_drain_per_actuation).max(0.0);
        if self.jam {
            self.bolt = Bolt::NotFullyLocked;
            self.door_error = Some(DoorState::ErrorJammed);
            self.relock_at = None;
            if remote {
                // The operation failed: one message with the failure event and the jammed
                // position, as Zigbee2MQTT merges an operation event with the cached fields.
                let failed = if target == Bolt::Locked {
                    "lock_failure_invalid_pin_or_id"
                } else {
                    "unlock_failure_invalid_pin_or_id"
                };
                out.push(self.event(failed, SOURCE_RF, NO_USER));
                return;
            }
        } else {
            self.bolt = target;
            if self.door_error == Some(DoorState::ErrorJammed) {
                self.door_error = None;
            }
            self.after_bolt_moved(at);
        }
        out.push(Message::state(self.cached()));
    }

    fn after_bolt_moved(&mut self, at: Instant) {
        self.relock_when_closed = false;
        self.relock_at = (self.bolt == Bolt::Unlocked && self.auto_relock_time > 0)
            .then(|| at + Duration::from_secs(u64::from(self.auto_relock_time)));
    }
}
