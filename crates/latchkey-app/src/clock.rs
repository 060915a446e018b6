//! The source of "now". Use cases never read the system clock themselves, so schedules, DST and
//! expiry are testable with a [`ManualClock`].

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The real clock's pace from a chosen starting instant (simulations and tests that must happen
/// at, say, 02:00 on a Sunday while locks and timers run in real time).
pub struct ShiftedClock(SignedDuration);

impl ShiftedClock {
    pub fn starting_at(at: Timestamp) -> ShiftedClock {
        ShiftedClock(at.duration_since(Timestamp::now()))
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        now.checked_add(self.0).unwrap_or(now)
    }
}

/// A clock that moves only when told to (tests, simulations).
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = t.checked_add(by).unwrap_or(*t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
