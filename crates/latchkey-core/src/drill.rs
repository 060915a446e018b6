//! The readiness drill (docs/LOCKOUT.md): for one resident, which independent ways back in work in
//! each hour of the week, and where fewer than two do, a sentence naming the gap and its fix.
//!
//! The ways are independent because they fail independently: a forgotten PIN does not stop a
//! phone key, a dead phone does not stop a household member. Counting them per hour is a few
//! bit operations over [`WeekHours`], so a building of 10,000 units is assessed in
//! milliseconds; the cost of a drill is reading the building, not this.

use serde::Serialize;

use crate::schedule::Day;
use crate::week::{HOURS, WeekHours};

/// An independent way back in, in the order a locked-out resident would try them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Way {
    Pin,
    PhoneKey,
    Household,
    SpareKey,
    Staff,
    Locksmith,
    /// A printed recovery card: it proves who the resident is when the phone is gone, so that
    /// the ways above open for a proven case.
    RecoveryCard,
}

impl Way {
    /// Every way, in order.
    pub const ALL: [Way; 7] = [
        Way::Pin,
        Way::PhoneKey,
        Way::Household,
        Way::SpareKey,
        Way::Staff,
        Way::Locksmith,
        Way::RecoveryCard,
    ];

    /// The way as the resident hears it.
    pub fn phrase(self) -> &'static str {
        match self {
            Way::Pin => "your PIN",
            Way::PhoneKey => "your phone",
            Way::Household => "a household member",
            Way::SpareKey => "a spare-key holder",
            Way::Staff => "the building manager or the on-call person",
            Way::Locksmith => "a verified locksmith",
            Way::RecoveryCard => "your recovery card",
        }
    }
}

/// The hours of the week in which each way works for one resident.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ways {
    /// The resident's own PIN on their door.
    pub pin: WeekHours,
    /// The resident's own phone key on their door.
    pub phone_key: WeekHours,
    /// Another member of the household who can open the door remotely.
    pub household: WeekHours,
    /// A trusted contact holding a digital spare key to the unit.
    pub spare_key: WeekHours,
    /// The manager in office hours, or the on-call person.
    pub staff: WeekHours,
    /// A locksmith the property has verified, in their working hours.
    pub locksmith: WeekHours,
    /// Unused codes on a printed recovery card: paper has no battery, so every hour.
    pub recovery_card: WeekHours,
}

impl Ways {
    /// The hours in which `way` works.
    pub fn of(&self, way: Way) -> WeekHours {
        match way {
            Way::Pin => self.pin,
            Way::PhoneKey => self.phone_key,
            Way::Household => self.household,
            Way::SpareKey => self.spare_key,
            Way::Staff => self.staff,
            Way::Locksmith => self.locksmith,
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

    /// The hours in which at least two ways work.
    pub fn covered_twice(&self) -> WeekHours {
        let sets = Way::ALL.map(|w| self.of(w));
        let mut twice = WeekHours::NONE;
        for (i, a) in sets.iter().enumerate() {
            for b in &sets[i + 1..] {
                twice = twice.union(a.intersect(*b));
            }
        }
        twice
    }
}

/// A stretch of hours with fewer than two ways back in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// First and last day with this gap (the same hours on each day in between).
    pub from_day: Day,
    pub to_day: Day,
    /// Local hours `[from_hour, until_hour)`; `until_hour` 24 is midnight.
    pub from_hour: u8,
    pub until_hour: u8,
    /// The ways that do work then (none or one).
    pub ways: Vec<Way>,
    /// What the gap is and how to close it, e.g. "Mon–Fri 18:00–24:00: your only way in is
    /// your phone; add a PIN or a spare-key holder."
    pub fix: String,
}

/// One resident's drill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// Hours of the week with fewer than two ways (0–168).
    pub short_hours: usize,
    /// Hours with no way back in at all.
    pub hours_without_any_way: usize,
    pub gaps: Vec<Gap>,
}

/// Assesses one resident's week.
pub fn assess(ways: &Ways) -> Assessment {
    let short = ways.covered_twice().complement();
    let any = Way::ALL
        .into_iter()
        .fold(WeekHours::NONE, |acc, w| acc.union(ways.of(w)));
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
                from_day: day_of(day),
                to_day: day_of(day),
                from_hour: from,
                until_hour: until,
                ways: here,
                fix: String::new(),
            }),
        }
    }
    gaps.sort_by_key(|g| (g.from_day.index(), g.from_hour));
    for g in &mut gaps {
        g.fix = fix_for(g, ways);
    }
    Assessment {
        short_hours: short.len(),
        hours_without_any_way: HOURS - any.len(),
        gaps,
    }
}

fn hour_of_day(h: usize) -> u8 {
    u8::try_from(h % 24).unwrap_or(0)
}

fn day_of(index: usize) -> Day {
    Day::ALL[index % 7]
}

/// The sentence for a gap: when, what is left, and the ways the resident can add themselves.
fn fix_for(g: &Gap, ways: &Ways) -> String {
    let days = if g.from_day == g.to_day {
        g.from_day.short_name().to_owned()
    } else {
        format!("{}–{}", g.from_day.short_name(), g.to_day.short_name())
    };
    let when = format!("{days} {:02}:00–{:02}:00", g.from_hour, g.until_hour);
    let hour = (g.from_day.index() as usize) * 24 + usize::from(g.from_hour);
    // What a resident can arrange alone, in the order that helps most.
    let missing: Vec<&str> = [
        (Way::Pin, "a PIN"),
        (Way::SpareKey, "a spare-key holder"),
        (Way::PhoneKey, "a phone key"),
        (Way::RecoveryCard, "a printed recovery card"),
    ]
    .into_iter()
    .filter(|(w, _)| !ways.of(*w).contains(hour))
    .map(|(w, text)| {
        if ways.of(w).is_empty() {
            text
        } else {
            match w {
                Way::Pin => "a PIN valid at these hours",
                Way::SpareKey => "a spare-key holder for these hours",
                Way::RecoveryCard => "a printed recovery card",
                _ => "a phone key valid at these hours",
            }
        }
    })
    .take(2)
    .collect();
    let add = missing.join(" or ");
    match g.ways.as_slice() {
        [] => format!(
            "{when}: there is no way back in; add {}.",
            missing.join(" and ")
        ),
        [only] => format!("{when}: your only way in is {}; add {add}.", only.phrase()),
        _ => format!("{when}: fewer than two ways back in; add {add}."),
    }
}

#[cfg(test)]
mod tests;
