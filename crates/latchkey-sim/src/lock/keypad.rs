//! The keypad: deciding a typed code against the slot table, wrong-code counting and lockouts.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{
    Bolt, KeypadOutcome, MAX_LOCKOUT_DOUBLINGS, NO_USER, RefusalReason, SOURCE_KEYPAD, SlotStatus,
    UserType, VirtualLock,
};
use crate::message::Message;

impl VirtualLock {
    // ----- physical inputs -----

    /// Someone types `pin` on the keypad.
    pub fn keypad(&mut self, pin: &str, now: Instant) -> (KeypadOutcome, Vec<Message>) {
        if self.battery_dead() {
            return (
                KeypadOutcome::Refused {
                    reason: RefusalReason::BatteryDead,
                },
                Vec::new(),
            );
        }
        let mut out = Vec::new();
        if self.keypad_disabled(now) {
            out.push(self.event("unlock_failure_invalid_pin_or_id", SOURCE_KEYPAD, NO_USER));
            return (KeypadOutcome::Disabled, self.deliver(out));
        }
        let outcome = match self.find_slot(pin) {
            Some(i) if self.opens(i) => {
                self.wrong_codes = 0;
                self.lockouts_in_row = 0;
                out.push(self.event("unlock", SOURCE_KEYPAD, i));
                if self.duress.contains(&i) {
                    let mut alarm = self.cached();
                    alarm.insert("alarm".into(), json!("duress"));
                    alarm.insert("action_user".into(), json!(i));
                    out.push(Message::state(alarm));
                }
                self.start_actuation(Bolt::Unlocked, false, now, &mut out);
                KeypadOutcome::Opened { slot: i }
            }
            Some(i) if self.slots[usize::from(i)].status == SlotStatus::Enabled => {
                // Enabled but not opening: a non_access user.
                out.push(self.event("non_access_user_operational_event", SOURCE_KEYPAD, i));
                KeypadOutcome::NonAccess { slot: i }
            }
            found => {
                out.push(self.event("unlock_failure_invalid_pin_or_id", SOURCE_KEYPAD, NO_USER));
                self.count_wrong_code(now, &mut out);
                KeypadOutcome::Refused {
                    reason: if found.is_some() {
                        RefusalReason::SlotDisabled
                    } else {
                        RefusalReason::UnknownPin
                    },
                }
            }
        };
        (outcome, self.deliver(out))
    }

    fn count_wrong_code(&mut self, now: Instant, out: &mut Vec<Message>) {
        self.wrong_codes = self.wrong_codes.saturating_add(1);
        if self.wrong_code_limit == 0 || self.wrong_codes < self.wrong_code_limit {
            return;
        }
        let doublings = self.lockouts_in_row.min(MAX_LOCKOUT_DOUBLINGS);
        let secs = u64::from(self.disable_time_s) << doublings;
        self.keypad_disabled_until = Some(now + Duration::from_secs(secs));
        self.lockouts_in_row += 1;
        self.wrong_codes = 0;
        let mut alarm = self.cached();
        alarm.insert("alarm".into(), json!("tamper_alarm_keypad_attempts"));
        out.push(Message::state(alarm));
    }

    pub(super) fn find_slot(&self, pin: &str) -> Option<u16> {
        if pin.is_empty() {
            return None;
        }
        self.slots
            .iter()
            .position(|s| s.status != SlotStatus::Available && s.pin.expose_secret() == pin)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// An occupied, enabled slot of a type that admits (schedules are not simulated).
    pub(super) fn opens(&self, slot: u16) -> bool {
        let s = &self.slots[usize::from(slot)];
        s.status == SlotStatus::Enabled && s.user_type != UserType::NonAccess && !s.pin.is_empty()
    }
}
