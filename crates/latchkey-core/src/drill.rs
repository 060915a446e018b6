//! The readiness drill (docs/LOCKOUT.md): for one resident, in each hour of the week and for each
//! way a lockout starts, how many free, fast and non-destructive ways back in are left, and
//! where fewer than two are, a sentence naming the gap and what would close it.
//!
//! The rule, step by step:
//! 1. A [`Failure`] takes away what the resident carries or remembers: a dead or lost phone takes
//!    the phone key and the proofs that live on the phone (passkey, authenticator app); a
//!    forgotten PIN takes the PIN; phone and keys both gone take the phone, its proofs and the
//!    resident's cards and physical keys.
//! 2. What is left of the resident's own credentials counts, at the hours they open the door.
//! 3. A household member counts at the hours they can open the door remotely: they need no proof.
//! 4. A spare-key holder and the building's staff open only a proven case, so they count only at
//!    the hours some proof the policy accepts is still at hand for this failure: the passkey or
//!    authenticator when the phone is left, a recovery card, an ID check when staff are there,
//!    enough guardians (household members and spare-key holders) reachable.
//! 5. A recovery card counts on its own too when the policy accepts it: it proves the case, and a
//!    proven case collects a new PIN (docs/LOCKOUT.md, "Recovery that changes credentials").
//! 6. A locksmith is paid, takes an hour and may damage the lock: the drill reports when one
//!    works as the fallback and never counts it as readiness.
//!
//! Every hour with fewer than two ways left is a gap. Counting is a few bit operations over
//! [`WeekHours`], so a building of 10,000 units is assessed in milliseconds; the cost of a drill
//! is reading the building, not this.

use serde::Serialize;

use crate::schedule::Day;
use crate::week::{HOURS, WeekHours};

mod fix;

pub use fix::Fix;

/// How a lockout starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The phone is dead or lost: no phone key, no passkey, no authenticator app.
    PhoneGone,
    /// The PIN is forgotten.
    PinForgotten,
    /// Phone and keys both gone (a lost bag): no phone, no cards, no physical keys.
    PhoneAndKeysGone,
}

impl Failure {
    /// Every failure, in order.
    pub const ALL: [Failure; 3] = [
        Failure::PhoneGone,
        Failure::PinForgotten,
        Failure::PhoneAndKeysGone,
    ];

    /// The name used in the API, the CLI and the page (`phone_gone`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::PhoneGone => "phone_gone",
            Failure::PinForgotten => "pin_forgotten",
            Failure::PhoneAndKeysGone => "phone_and_keys_gone",
        }
    }

    /// Parses [`Failure::as_str`].
    pub fn parse(s: &str) -> Option<Failure> {
        Failure::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The failure as a person says it.
    pub fn phrase(self) -> &'static str {
        match self {
            Failure::PhoneGone => "phone dead or lost",
            Failure::PinForgotten => "PIN forgotten",
            Failure::PhoneAndKeysGone => "phone and keys both gone",
        }
    }

    fn keeps_phone(self) -> bool {
        self == Failure::PinForgotten
    }

    fn keeps_pin(self) -> bool {
        self != Failure::PinForgotten
    }

    fn keeps_keys(self) -> bool {
        self != Failure::PhoneAndKeysGone
    }
}

/// A free, fast, non-destructive way back in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Way {
    Pin,
    PhoneKey,
    /// The resident's RFID card or physical key.
    Keys,
    Household,
    SpareKey,
    Staff,
    RecoveryCard,
}

impl Way {
    /// Every way, in order.
    pub const ALL: [Way; 7] = [
        Way::Pin,
        Way::PhoneKey,
        Way::Keys,
        Way::Household,
        Way::SpareKey,
        Way::Staff,
        Way::RecoveryCard,
    ];

    /// The way as the resident hears it.
    pub fn phrase(self) -> &'static str {
        match self {
            Way::Pin => "your PIN",
            Way::PhoneKey => "your phone",
            Way::Keys => "your card or key",
            Way::Household => "a household member",
            Way::SpareKey => "a spare-key holder",
            Way::Staff => "the building manager or the on-call person",
            Way::RecoveryCard => "your recovery card",
        }
    }
}

/// The proofs of identity the policy accepts, as far as the resident holds them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Proofs {
    /// The resident has a passkey and the policy accepts `passkey` (it lives on the phone).
    pub passkey: bool,
    /// The resident has an authenticator app and the policy accepts `totp` (on the phone too).
    pub totp: bool,
    /// The policy accepts `recovery_code`.
    pub recovery_code_accepted: bool,
    /// The resident holds unused recovery-card codes.
    pub recovery_card: bool,
    /// The policy accepts `id_check` (staff check a document in person).
    pub id_check: bool,
    /// How many guardians the policy needs, when it accepts `guardians` at all.
    pub guardians_required: Option<u8>,
}

/// What one resident has, hour by hour, before anything fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Situation {
    /// The hours the resident's own PIN opens their door.
    pub pin: WeekHours,
    /// Whether that PIN is only assumed on the door's lock: the lock took it but cannot show
    /// which code a slot holds (docs/DEVICES.md). It still counts; the drill says so.
    pub pin_assumed: bool,
    /// The same for their phone key.
    pub phone_key: WeekHours,
    /// The same for their RFID cards and physical keys.
    pub keys: WeekHours,
    /// For each other member of the household, the hours they can open the door remotely.
    pub household: Vec<WeekHours>,
    /// For each active spare key to the unit, the hours its holder is reachable.
    pub spare_keys: Vec<WeekHours>,
    /// Office hours and the on-call roster.
    pub staff: WeekHours,
    pub proofs: Proofs,
}

/// The hours each way works for one failure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ways {
    pub pin: WeekHours,
    pub phone_key: WeekHours,
    pub keys: WeekHours,
    pub household: WeekHours,
    pub spare_key: WeekHours,
    pub staff: WeekHours,
    pub recovery_card: WeekHours,
}

impl Ways {
    /// The hours in which `way` works.
    pub fn of(&self, way: Way) -> WeekHours {
        match way {
            Way::Pin => self.pin,
            Way::PhoneKey => self.phone_key,
            Way::Keys => self.keys,
            Way::Household => self.household,
            Way::SpareKey => self.spare_key,
            Way::Staff => self.staff,
            Way::RecoveryCard => self.recovery_card,
        }
    }

    /// The ways that work in hour `h`.
    pub fn at(&self, h: usize) -> Vec<Way> {
        Way::ALL
            .into_iter()
            .filter(|w| self.of(*w).contains(h))
            .collect()
    }

    /// How many ways work in each hour (0–7).
    pub fn counts(&self) -> [u8; HOURS] {
        let mut out = [0u8; HOURS];
        for w in Way::ALL {
            for h in self.of(w).hours() {
                out[h] += 1;
            }
        }
        out
    }

    /// The hours in which at least two ways work.
    pub fn covered_twice(&self) -> WeekHours {
        at_least(&Way::ALL.map(|w| self.of(w)), 2)
    }
}

/// The hours in which at least `k` of `sets` hold.
fn at_least(sets: &[WeekHours], k: usize) -> WeekHours {
    if k == 0 {
        return WeekHours::ALL;
    }
    // reach[j] = hours with at least j + 1 of the sets seen so far.
    let mut reach = vec![WeekHours::NONE; k];
    for s in sets {
        for j in (1..k).rev() {
            reach[j] = reach[j].union(reach[j - 1].intersect(*s));
        }
        reach[0] = reach[0].union(*s);
    }
    reach[k - 1]
}

impl Situation {
    /// The hours a case of this resident can be proven after `failure`.
    fn proven(&self, failure: Failure) -> WeekHours {
        let p = &self.proofs;
        let mut hours = WeekHours::NONE;
        if failure.keeps_phone() && (p.passkey || p.totp) {
            hours = WeekHours::ALL;
        }
        if p.recovery_code_accepted && p.recovery_card {
            hours = WeekHours::ALL;
        }
        if p.id_check {
            hours = hours.union(self.staff);
        }
        if let Some(k) = p.guardians_required {
            let guardians: Vec<WeekHours> = self
                .household
                .iter()
                .chain(&self.spare_keys)
                .copied()
                .collect();
            hours = hours.union(at_least(&guardians, usize::from(k.max(1))));
        }
        hours
    }

    /// The hours each way works once `failure` has happened.
    pub fn ways(&self, failure: Failure) -> Ways {
        let proven = self.proven(failure);
        let union = |l: &[WeekHours]| l.iter().fold(WeekHours::NONE, |a, s| a.union(*s));
        let card = self.proofs.recovery_code_accepted && self.proofs.recovery_card;
        Ways {
            pin: if failure.keeps_pin() {
                self.pin
            } else {
                WeekHours::NONE
            },
            phone_key: if failure.keeps_phone() {
                self.phone_key
            } else {
                WeekHours::NONE
            },
            keys: if failure.keeps_keys() {
                self.keys
            } else {
                WeekHours::NONE
            },
            household: union(&self.household),
            spare_key: union(&self.spare_keys).intersect(proven),
            staff: self.staff.intersect(proven),
            recovery_card: if card {
                WeekHours::ALL
            } else {
                WeekHours::NONE
            },
        }
    }
}

/// A stretch of hours with fewer than two ways back in after one failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub failure: Failure,
    /// First and last day with this gap (the same hours on each day in between).
    pub from_day: Day,
    pub to_day: Day,
    /// Local hours `[from_hour, until_hour)`; `until_hour` 24 is midnight.
    pub from_hour: u8,
    pub until_hour: u8,
    /// The ways that do work then (none or one).
    pub ways: Vec<Way>,
    /// What would close the gap: each entry alone does, or, when none alone does, all of them
    /// together.
    pub fixes: Vec<Fix>,
    /// Whether `fixes` are needed together (a pair) rather than each alone.
    pub fixes_together: bool,
    /// What the gap is and how to close it, e.g. "Mon–Fri 17:00–24:00, phone dead or lost: your
    /// only way in is your PIN; add a spare-key holder reachable then or a recovery card."
    pub fix: String,
}

/// One resident's drill for one failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub failure: Failure,
    /// Hours of the week with fewer than two ways left (0–168).
    pub short_hours: usize,
    /// Hours with no way left at all.
    pub hours_without_any_way: usize,
    pub gaps: Vec<Gap>,
    /// Whether the PIN counted here is only assumed on the lock ([`Situation::pin_assumed`]):
    /// counted, but not shown by the lock to be there.
    pub pin_assumed: bool,
    /// Ways left in each hour of the week.
    #[serde(skip)]
    pub counts: [u8; HOURS],
}

/// What the drill says of a PIN that counts but is only assumed on the lock.
pub const PIN_ASSUMED: &str = "your PIN counts, but your door's lock cannot show which code it \
    holds: the PIN was sent and taken, and is assumed to be there";

/// Assesses one resident's week for one failure.
pub fn assess(s: &Situation, failure: Failure) -> Assessment {
    let ways = s.ways(failure);
    let counts = ways.counts();
    let short = ways.covered_twice().complement();
    let without = counts.iter().filter(|c| **c == 0).count();
    // Runs within one day with the same ways, then the same run on consecutive days merged.
    let mut runs: Vec<(usize, u8, u8, Vec<Way>)> = Vec::new();
    for (start, end) in short.runs() {
        let mut h = start;
        while h < end {
            let day = h / 24;
            let here = ways.at(h);
            let mut stop = h + 1;
            while stop < end && stop / 24 == day && ways.at(stop) == here {
                stop += 1;
            }
            runs.push((day, hour_of_day(h), hour_of_day(stop - 1) + 1, here));
            h = stop;
        }
    }
    let mut gaps: Vec<Gap> = Vec::new();
    for (day, from, until, here) in runs {
        // The same hours with the same ways on the day before: extend that gap by a day.
        let same = gaps.iter_mut().find(|g| {
            usize::from(g.to_day.index()) + 1 == day
                && g.from_hour == from
                && g.until_hour == until
                && g.ways == here
        });
        match same {
            Some(g) => g.to_day = day_of(day),
            None => gaps.push(Gap {
                failure,
                from_day: day_of(day),
                to_day: day_of(day),
                from_hour: from,
                until_hour: until,
                ways: here,
                fixes: Vec::new(),
                fixes_together: false,
                fix: String::new(),
            }),
        }
    }
    gaps.sort_by_key(|g| (g.from_day.index(), g.from_hour));
    for g in &mut gaps {
        (g.fixes, g.fixes_together) = fix::fixes_for(s, failure, g);
        g.fix = fix::sentence(g);
    }
    Assessment {
        failure,
        short_hours: short.len(),
        hours_without_any_way: without,
        gaps,
        pin_assumed: s.pin_assumed && !ways.pin.is_empty(),
        counts,
    }
}

/// The hours of a gap, every day it spans.
pub fn gap_hours(g: &Gap) -> WeekHours {
    let mut set = WeekHours::NONE;
    for d in g.from_day.index()..=g.to_day.index() {
        for h in g.from_hour..g.until_hour {
            set.insert(usize::from(d) * 24 + usize::from(h));
        }
    }
    set
}

fn hour_of_day(h: usize) -> u8 {
    u8::try_from(h % 24).unwrap_or(0)
}

fn day_of(index: usize) -> Day {
    Day::ALL[index % 7]
}

#[cfg(test)]
mod tests;
