//! `VirtualSensor`: a battery door/window contact sensor as Zigbee2MQTT reports it.
//!
//! `contact: true` means closed (the magnet is near), as Z2M's contact sensors report it.

use serde_json::{Map, Value, json};

use crate::message::Message;

/// One simulated opening sensor. Pure: no I/O.
#[derive(Debug)]
pub struct VirtualSensor {
    name: String,
    closed: bool,
    battery: u8,
    linkquality: u8,
    online: bool,
}

impl VirtualSensor {
    /// A closed sensor with a full battery, online.
    pub fn new(name: impl Into<String>, linkquality: u8) -> Self {
        Self {
            name: name.into(),
            closed: true,
            battery: 100,
            linkquality,
            online: true,
        }
    }

    /// The friendly name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when the door or window is closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The door or window opens (false) or closes (true); reported at once.
    pub fn set_closed(&mut self, closed: bool) -> Vec<Message> {
        self.closed = closed;
        self.deliver(vec![self.state_message()])
    }

    /// Sets the battery percentage; reported at once.
    pub fn set_battery(&mut self, percent: u8) -> Vec<Message> {
        self.battery = percent.min(100);
        self.deliver(vec![self.state_message()])
    }

    /// Off the network (true) or back.
    pub fn set_offline(&mut self, offline: bool) -> Vec<Message> {
        if self.online != offline {
            return Vec::new();
        }
        self.online = !offline;
        if offline {
            vec![Message::availability(false)]
        } else {
            vec![Message::availability(true), self.state_message()]
        }
    }

    /// `/get`: any readable key republishes the state; others get Z2M's "no converter" line.
    pub fn handle_get(&self, msg: &Value) -> Vec<Message> {
        let Some(obj) = msg.as_object() else {
            return Vec::new();
        };
        let out = obj
            .iter()
            .map(|(k, v)| match k.as_str() {
                "contact" | "battery" | "voltage" | "state" => self.state_message(),
                _ => Message::no_converter(k, &self.name, v),
            })
            .collect();
        self.deliver(out)
    }

    /// `/set`: a contact sensor has nothing to set.
    pub fn handle_set(&self, msg: &Value) -> Vec<Message> {
        match msg.as_object() {
            Some(obj) => obj
                .iter()
                .map(|(k, v)| Message::no_converter(k, &self.name, v))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The cached fields.
    pub fn state_message(&self) -> Message {
        let mut m = Map::new();
        m.insert("contact".into(), json!(self.closed));
        m.insert("battery".into(), json!(self.battery));
        // CR2032: 2.5 V flat … 3.0 V full.
        m.insert("voltage".into(), json!(2500 + 5 * u32::from(self.battery)));
        m.insert("battery_low".into(), json!(self.battery < 15));
        m.insert("linkquality".into(), json!(self.linkquality));
        Message::state(m)
    }

    fn deliver(&self, out: Vec<Message>) -> Vec<Message> {
        if self.online { out } else { Vec::new() }
    }
}
