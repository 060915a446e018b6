//! What a model of lock can do, and what its reports prove. A profile is chosen per device from
//! its protocol and, where the protocol names it, its manufacturer and model
//! ([`LockProfile::for_model`]); a model latchkey does not know gets its protocol's cautious
//! default.

use super::command::Code;
use super::report::{ReportedCode, SlotReading, SlotStatus};

/// The protocol a lock speaks (through its gateway).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Zigbee, through Zigbee2MQTT.
    Zigbee,
    /// Z-Wave, through Z-Wave JS UI's MQTT gateway.
    ZWave,
}

/// How a lock can confirm that a code latchkey wrote is in its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Confirms {
    /// The lock announces each code added, changed or deleted from a remote source (the Zigbee
    /// door-lock cluster's programming event), and a read of the slot answers its status.
    ProgrammingEvent,
    /// A read of the slot answers its status and the code itself: compared digit for digit.
    ReadBack,
    /// A read of the slot answers its status but masks the code (`****`): the slot is known to
    /// be in use, not that it holds latchkey's code.
    MaskedReadBack,
    /// Nothing the lock reports says what a slot holds.
    Never,
}

/// How much latchkey knows of a code the lock accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeHeld {
    /// The lock itself showed the slot holds the code (a programming event, or a read-back with
    /// the same digits).
    Set,
    /// Sent, and verified as far as this lock allows (a masked read-back showing the slot in
    /// use, or a lock that reports nothing): the lock cannot show which code it holds.
    Assumed,
}

impl CodeHeld {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeHeld::Set => "set",
            CodeHeld::Assumed => "assumed",
        }
    }
}

/// What a report about a slot means for a code latchkey wrote there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The code is there, as far as the lock can tell.
    Held(CodeHeld),
    /// The slot is empty: the write did not land (write again).
    NotLanded,
    /// Another code, or the wrong status: write again.
    Wrong,
    /// Says nothing either way (a value the gateway published on its own, which may be its echo
    /// of the write rather than the lock's answer): keep waiting for the read-back.
    Unproven,
}

/// The PIN lengths a lock takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PinLengths {
    pub min: u8,
    pub max: u8,
}

impl PinLengths {
    pub fn allows(self, code: &Code) -> bool {
        (usize::from(self.min)..=usize::from(self.max)).contains(&code.len())
    }
}

/// Which of latchkey's lock settings a lock takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SettingsSupport {
    pub auto_relock: bool,
    pub wrong_code_limit: bool,
    pub keypad_disable: bool,
}

/// What a model of lock can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LockProfile {
    pub protocol: Protocol,
    /// A short name for the model (or `zigbee`/`zwave` for a protocol's default).
    pub name: &'static str,
    /// PIN slots, when the model's count is known (otherwise the door's `pin_slots` bounds it).
    pub slots: Option<u16>,
    pub pin_lengths: PinLengths,
    pub confirms: Confirms,
    /// A sleeping lock takes commands only when it wakes: its answers come late, and its
    /// silence is not an outage.
    pub sleeping: bool,
    pub settings: SettingsSupport,
}

const ALL_SETTINGS: SettingsSupport = SettingsSupport {
    auto_relock: true,
    wrong_code_limit: true,
    keypad_disable: true,
};

/// Z-Wave models latchkey knows, by manufacturer and model as the gateway names them
/// (case-insensitive prefix of the model). Schlage's BE469 and FE599 mask their codes on a
/// read; the others answer the digits.
const ZWAVE_MODELS: [(&str, &str, &str, Option<u16>, Confirms); 6] = [
    (
        "schlage",
        "be469",
        "schlage-be469",
        Some(30),
        Confirms::MaskedReadBack,
    ),
    (
        "schlage",
        "fe599",
        "schlage-fe599",
        Some(30),
        Confirms::MaskedReadBack,
    ),
    ("kwikset", "91", "kwikset-91x", Some(30), Confirms::ReadBack),
    (
        "kwikset",
        "hc620",
        "kwikset-hc620",
        Some(30),
        Confirms::ReadBack,
    ),
    ("yale", "yrd", "yale-assure", Some(250), Confirms::ReadBack),
    (
        "u-tec",
        "u-bolt",
        "ultraloq-u-bolt",
        None,
        Confirms::ReadBack,
    ),
];

impl LockProfile {
    /// A Zigbee lock through Zigbee2MQTT: the door-lock cluster's programming events and slot
    /// reads confirm codes, every setting is taken, and it does not sleep.
    pub const ZIGBEE: LockProfile = LockProfile {
        protocol: Protocol::Zigbee,
        name: "zigbee",
        slots: None,
        pin_lengths: PinLengths { min: 4, max: 8 },
        confirms: Confirms::ProgrammingEvent,
        sleeping: false,
        settings: ALL_SETTINGS,
    };

    /// A Z-Wave lock latchkey does not know by model: it is read back, and until a read shows
    /// the digits its codes are only assumed (a lock that masks them cannot do better).
    pub const ZWAVE: LockProfile = LockProfile {
        protocol: Protocol::ZWave,
        name: "zwave",
        slots: None,
        pin_lengths: PinLengths { min: 4, max: 10 },
        confirms: Confirms::ReadBack,
        sleeping: false,
        settings: SettingsSupport {
            auto_relock: true,
            wrong_code_limit: false,
            keypad_disable: false,
        },
    };

    /// The profile of a device, from its protocol and the manufacturer and model its gateway
    /// reports. An unknown model gets its protocol's default; `sleeping` comes from the
    /// gateway (a Z-Wave node that is neither listening nor frequently listening).
    pub fn for_model(
        protocol: Protocol,
        manufacturer: Option<&str>,
        model: Option<&str>,
        sleeping: bool,
    ) -> LockProfile {
        let base = match protocol {
            Protocol::Zigbee => LockProfile::ZIGBEE,
            Protocol::ZWave => LockProfile::ZWAVE,
        };
        let mut profile = match (protocol, manufacturer, model) {
            (Protocol::ZWave, Some(maker), Some(model)) => {
                let (maker, model) = (maker.to_ascii_lowercase(), model.to_ascii_lowercase());
                ZWAVE_MODELS
                    .iter()
                    .find(|(m, prefix, ..)| maker.contains(m) && model.starts_with(prefix))
                    .map_or(base, |&(_, _, name, slots, confirms)| LockProfile {
                        name,
                        slots,
                        confirms,
                        ..base
                    })
            }
            _ => base,
        };
        profile.sleeping = sleeping;
        profile
    }

    /// The status a code has once the lock accepted it as far as it can show: `set` on a lock
    /// that shows its codes, `assumed` on one that cannot.
    pub fn held_as(&self) -> CodeHeld {
        match self.confirms {
            Confirms::ProgrammingEvent | Confirms::ReadBack => CodeHeld::Set,
            Confirms::MaskedReadBack | Confirms::Never => CodeHeld::Assumed,
        }
    }

    /// What `reading` proves about `written`, written to its slot `enabled` or not.
    pub fn judge(&self, written: &Code, enabled: bool, reading: &SlotReading) -> Verdict {
        let wanted = if enabled {
            SlotStatus::Enabled
        } else {
            SlotStatus::Disabled
        };
        if self.confirms != Confirms::ProgrammingEvent && !reading.read_back {
            return Verdict::Unproven;
        }
        match reading.status {
            SlotStatus::Empty => return Verdict::NotLanded,
            s if s != wanted => return Verdict::Wrong,
            _ => {}
        }
        match (&reading.code, self.confirms) {
            (ReportedCode::Exact(c), _) if c == written.expose() => Verdict::Held(CodeHeld::Set),
            (ReportedCode::Exact(_), _) => Verdict::Wrong,
            // The Zigbee door-lock cluster's slot status is the lock's own answer, and its
            // programming event names the slot: the status is proof there.
            (_, Confirms::ProgrammingEvent) => Verdict::Held(CodeHeld::Set),
            (ReportedCode::Masked | ReportedCode::NotReported, _) => {
                Verdict::Held(CodeHeld::Assumed)
            }
        }
    }
}
