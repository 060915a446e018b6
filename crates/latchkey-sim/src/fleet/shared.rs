//! The state the tasks share: device access, publishing, announcing, and routing inbound commands.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use rumqttc::{QoS, SubscribeFilter};
use serde_json::{Value, json};

use super::{
    Dev, Devices, MAX_DEVICE_LIST_BYTES, Outbound, Shared, SimError, Verb, bridge, control,
    split_command, state_file,
};
use crate::lock::VirtualLock;
use crate::message::{Message, Topic};
use crate::sensor::VirtualSensor;

impl Shared {
    /// The fleet's clock: the real one, moved ahead by [`super::FleetHandle::advance`].
    pub(super) fn now(&self) -> Instant {
        Instant::now() + std::time::Duration::from_millis(self.ahead_ms.load(Ordering::Relaxed))
    }

    pub(super) fn devices(&self) -> MutexGuard<'_, Devices> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Snapshots every lock and writes the state file (no-op without one).
    pub(super) fn save_now(&self) -> Result<(), SimError> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let _writer = self
            .save_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let snapshot = state_file::snapshot(&self.devices());
        state_file::write(path, &snapshot)
    }

    pub(super) fn availability_bytes(&self, online: bool) -> Vec<u8> {
        Message::availability_bytes(&Message::availability(online).payload, self.legacy)
    }

    pub(super) fn send(&self, item: Outbound) {
        // The receiver lives as long as the fleet; after shutdown there is nobody to tell.
        let _ = self.out.send(item);
    }

    pub(super) fn publish(&self, topic: String, payload: Vec<u8>, qos: QoS, retain: bool) {
        self.send(Outbound::Publish {
            topic,
            payload,
            qos,
            retain,
        });
    }

    /// Publishes a device's messages on the topics Zigbee2MQTT uses.
    pub(super) fn emit(&self, name: &str, msgs: Vec<Message>) {
        for m in msgs {
            match m.topic {
                Topic::State => self.publish(
                    format!("{}/{name}", self.base),
                    m.payload.to_string().into_bytes(),
                    self.qos,
                    false,
                ),
                Topic::Availability => self.publish(
                    format!("{}/{name}/availability", self.base),
                    Message::availability_bytes(&m.payload, self.legacy),
                    QoS::AtLeastOnce,
                    true,
                ),
                Topic::BridgeLogging => self.publish(
                    format!("{}/bridge/logging", self.base),
                    m.payload.to_string().into_bytes(),
                    self.qos,
                    false,
                ),
            }
        }
    }

    /// What Zigbee2MQTT publishes when it (re)connects.
    pub(super) fn announce(&self) {
        let devices = self.devices();
        let base = &self.base;
        let mut filters: Vec<SubscribeFilter> = ["+/set", "+/get", "+/set/+", "+/get/+"]
            .iter()
            .map(|f| SubscribeFilter::new(format!("{base}/{f}"), QoS::AtLeastOnce))
            .collect();
        // `+` does not match a name with a slash: subscribe to those one by one.
        for name in devices.index.keys().filter(|n| n.contains('/')) {
            for f in ["set", "get", "set/+", "get/+"] {
                filters.push(SubscribeFilter::new(
                    format!("{base}/{name}/{f}"),
                    QoS::AtLeastOnce,
                ));
            }
        }
        filters.push(SubscribeFilter::new(
            format!("{}#", self.control_prefix),
            QoS::AtLeastOnce,
        ));
        self.send(Outbound::Subscribe(filters));
        self.publish(
            format!("{base}/bridge/state"),
            self.availability_bytes(true),
            QoS::AtLeastOnce,
            true,
        );
        // A real Zigbee network holds a few hundred devices; the list of a benchmark-sized fleet
        // would be megabytes, more than brokers accept in one message. Past that size the list
        // is not published, and locks are paired by name.
        let list = bridge::devices_payload(&devices).to_string().into_bytes();
        if list.len() <= MAX_DEVICE_LIST_BYTES {
            self.publish(format!("{base}/bridge/devices"), list, self.qos, true);
        } else {
            tracing::info!(
                bytes = list.len(),
                "the device list is too large to publish; pair the locks by name"
            );
        }
        let now = self.now();
        for lock in &devices.locks {
            self.publish(
                format!("{base}/{}/availability", lock.name()),
                self.availability_bytes(lock.status(now).online),
                QoS::AtLeastOnce,
                true,
            );
        }
        for sensor in &devices.sensors {
            self.publish(
                format!("{base}/{}/availability", sensor.name()),
                self.availability_bytes(true),
                QoS::AtLeastOnce,
                true,
            );
        }
    }

    pub(super) fn on_publish(self: &Arc<Self>, topic: &str, payload: &[u8]) {
        self.counters.messages_in.fetch_add(1, Ordering::Relaxed);
        let text = String::from_utf8_lossy(payload);
        if let Some(rest) = topic.strip_prefix(&self.control_prefix) {
            control::handle(self, rest, text.trim());
            return;
        }
        let Some(rest) = topic
            .strip_prefix(&self.base)
            .and_then(|r| r.strip_prefix('/'))
        else {
            return;
        };
        let Some((name, verb, attr)) = split_command(rest) else {
            return;
        };
        // Z2M: JSON if it parses, else the raw string (a bare `LOCK`).
        let value = serde_json::from_str::<Value>(&text)
            .unwrap_or_else(|_| Value::String(text.trim().to_owned()));
        let msg = match attr {
            Some(attr) if verb == Verb::Get => json!({ attr: "" }),
            Some(attr) => json!({ attr: value }),
            None => value,
        };
        let now = self.now();
        let mut devices = self.devices();
        let Ok(dev) = devices.find(name) else {
            return;
        };
        match dev {
            Dev::Lock(i) => {
                let lock = &mut devices.locks[i];
                let before = lock.persist_version();
                let out = match verb {
                    Verb::Set => lock.handle_set(&msg, now),
                    Verb::Get => lock.handle_get(&msg, now),
                };
                let changed = lock.persist_version() != before;
                self.emit(name, out);
                if changed {
                    self.save.notify_one();
                }
            }
            Dev::Sensor(i) => {
                let sensor = &devices.sensors[i];
                let out = match verb {
                    Verb::Set => sensor.handle_set(&msg),
                    Verb::Get => sensor.handle_get(&msg),
                };
                self.emit(name, out);
            }
        }
    }

    /// Runs `f` on a lock, publishes what it produced, and schedules a save if slots changed.
    pub(super) fn with_lock<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut VirtualLock, Instant) -> (T, Vec<Message>),
    ) -> Result<T, SimError> {
        let mut devices = self.devices();
        let i = devices.lock_index(name)?;
        let lock = &mut devices.locks[i];
        let before = lock.persist_version();
        let (value, out) = f(lock, self.now());
        let changed = lock.persist_version() != before;
        self.emit(name, out);
        if changed {
            self.save.notify_one();
        }
        Ok(value)
    }

    pub(super) fn with_sensor(
        &self,
        name: &str,
        f: impl FnOnce(&mut VirtualSensor) -> Vec<Message>,
    ) -> Result<(), SimError> {
        let mut devices = self.devices();
        match devices.find(name)? {
            Dev::Sensor(i) => {
                let out = f(&mut devices.sensors[i]);
                self.emit(name, out);
                Ok(())
            }
            Dev::Lock(_) => Err(SimError::UnknownDevice(name.to_owned())),
        }
    }

    pub(super) fn is_sensor(&self, name: &str) -> bool {
        matches!(self.devices().find(name), Ok(Dev::Sensor(_)))
    }
}
