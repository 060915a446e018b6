//! [`FleetHandle`]: synchronous in-process access to a running fleet.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rumqttc::QoS;

use super::{FleetHandle, FleetStats, Outbound, SimError};
use crate::lock::{Bolt, KeypadOutcome, LockStatus, Slot, VirtualLock};
use crate::message::Message;

impl FleetHandle {
    /// Types `pin` on a lock's keypad. Decided locally against the current slot table, with or
    /// without a broker; the resulting events are published if the broker is there.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn keypad(&self, name: &str, pin: &str) -> Result<KeypadOutcome, SimError> {
        self.shared.with_lock(name, |l, now| l.keypad(pin, now))
    }

    /// Moves the fleet's clock `by` ahead of the real one, then lets every lock act on what
    /// came due (an auto-relock, a keypad lockout ending), as if that much time had passed.
    /// For tests of minutes-long behaviour in seconds; the clock never goes back.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.shared.ahead_ms.fetch_add(ms, Ordering::Relaxed);
        let now = self.shared.now();
        let mut devices = self.shared.devices();
        for lock in &mut devices.locks {
            if lock.next_deadline().is_some_and(|d| d <= now) {
                let msgs = lock.tick(now);
                self.shared.emit(lock.name(), msgs);
            }
        }
    }

    /// A copy of a lock's slot table (index = ZCL user id).
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn slots(&self, name: &str) -> Result<Vec<Slot>, SimError> {
        self.shared
            .with_lock(name, |l, _| (l.slots().to_vec(), Vec::new()))
    }

    /// A lock's physical state.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn lock_state(&self, name: &str) -> Result<LockStatus, SimError> {
        self.shared
            .with_lock(name, |l, now| (l.status(now), Vec::new()))
    }

    /// Opens the door of a lock (forced entry if the bolt is thrown) or a contact sensor.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] for a bad name.
    pub fn open_door(&self, name: &str) -> Result<(), SimError> {
        if self.shared.is_sensor(name) {
            return self.shared.with_sensor(name, |s| s.set_closed(false));
        }
        self.shared.with_lock(name, |l, now| ((), l.open_door(now)))
    }

    /// Closes the door of a lock or a contact sensor.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] for a bad name.
    pub fn close_door(&self, name: &str) -> Result<(), SimError> {
        if self.shared.is_sensor(name) {
            return self.shared.with_sensor(name, |s| s.set_closed(true));
        }
        self.shared
            .with_lock(name, |l, now| ((), l.close_door(now)))
    }

    /// Forces a lock's door open (`door_state: error_forced_open`).
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn force_door(&self, name: &str) -> Result<(), SimError> {
        self.shared
            .with_lock(name, |l, now| ((), l.force_door(now)))
    }

    /// Turns a lock's bolt by hand.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn manual(&self, name: &str, locked: bool) -> Result<(), SimError> {
        self.shared
            .with_lock(name, |l, now| ((), l.manual_set(locked, now)))
    }

    /// Jam mode on or off for a lock.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn set_jam(&self, name: &str, on: bool) -> Result<(), SimError> {
        self.shared.with_lock(name, |l, _| {
            l.set_jam(on);
            ((), Vec::new())
        })
    }

    /// Takes a device off the network (availability `offline`) or brings it back.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] for a bad name.
    pub fn set_offline(&self, name: &str, offline: bool) -> Result<(), SimError> {
        if self.shared.is_sensor(name) {
            return self.shared.with_sensor(name, |s| s.set_offline(offline));
        }
        self.shared
            .with_lock(name, |l, _| ((), l.set_offline(offline)))
    }

    /// Sets a device's battery percentage (0 = a flat lock that stops acting).
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] for a bad name.
    pub fn set_battery(&self, name: &str, percent: u8) -> Result<(), SimError> {
        if self.shared.is_sensor(name) {
            return self.shared.with_sensor(name, |s| s.set_battery(percent));
        }
        self.shared
            .with_lock(name, |l, _| ((), l.set_battery(percent)))
    }

    /// Marks or unmarks a lock slot as a duress code. Returns false for a slot out of range.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn set_duress(&self, name: &str, slot: u16, on: bool) -> Result<bool, SimError> {
        self.shared
            .with_lock(name, |l, _| (l.set_duress(slot, on), Vec::new()))
    }

    /// Runs `f` on a lock's state machine directly (failure modes and anything not wrapped here);
    /// what it returns is published.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn with_lock<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut VirtualLock, Instant) -> (T, Vec<Message>),
    ) -> Result<T, SimError> {
        self.shared.with_lock(name, f)
    }

    /// The bolt position of a lock, for quick assertions.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn bolt(&self, name: &str) -> Result<Bolt, SimError> {
        Ok(self.lock_state(name)?.bolt)
    }

    /// Every device name: locks first, then sensors.
    pub fn device_names(&self) -> Vec<String> {
        let devices = self.shared.devices();
        devices
            .locks
            .iter()
            .map(|l| l.name().to_owned())
            .chain(devices.sensors.iter().map(|s| s.name().to_owned()))
            .collect()
    }

    /// Counters since start.
    pub fn stats(&self) -> FleetStats {
        let c = &self.shared.counters;
        FleetStats {
            messages_in: c.messages_in.load(Ordering::Relaxed),
            messages_out: c.messages_out.load(Ordering::Relaxed),
            dropped_while_disconnected: c.dropped.load(Ordering::Relaxed),
            floods: self
                .shared
                .devices()
                .locks
                .iter()
                .map(VirtualLock::floods)
                .sum(),
            connects: c.connects.load(Ordering::Relaxed),
        }
    }

    /// True while the broker connection is up.
    pub fn is_connected(&self) -> bool {
        *self.shared.connected.borrow()
    }

    /// Waits until connected, up to `timeout`. Returns whether it is.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.shared.connected.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Writes the state file now (it is also written after every slot change).
    ///
    /// # Errors
    /// [`SimError::StateFile`] when the file cannot be written. Without a state file: `Ok`.
    pub fn save_state(&self) -> Result<(), SimError> {
        self.shared.save_now()
    }

    /// Stops the fleet like Zigbee2MQTT stops: `bridge/state` offline, then a clean disconnect.
    /// Returns once the fleet's task has finished (or after 5 s).
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::Relaxed);
        if self.is_connected() {
            shared.publish(
                format!("{}/bridge/state", shared.base),
                shared.availability_bytes(false),
                QoS::AtLeastOnce,
                true,
            );
            shared.send(Outbound::Disconnect);
        } else {
            shared.stop.send_replace(true);
        }
        let mut stopped = shared.stopped.subscribe();
        if tokio::time::timeout(Duration::from_secs(5), stopped.wait_for(|s| *s))
            .await
            .is_err()
        {
            shared.stop.send_replace(true);
        }
    }
}
