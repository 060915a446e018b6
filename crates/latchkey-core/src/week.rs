//! The 168 hours of a week as a bit set, Monday 00:00–01:00 local time being hour 0, and the
//! hours of a week a [`Schedule`] admits.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::schedule::{CompiledSchedule, Schedule, ScheduleCheck};

/// Hours in a week.
pub const HOURS: usize = 168;

/// A set of hours of the week (bit `h` = hour `h` after Monday 00:00 local time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WeekHours([u64; 3]);

impl WeekHours {
    /// No hour.
    pub const NONE: WeekHours = WeekHours([0; 3]);
    /// Every hour.
    pub const ALL: WeekHours = WeekHours([u64::MAX, u64::MAX, (1 << (HOURS - 128)) - 1]);

    /// Adds hour `h` (ignored when `h >= 168`).
    pub fn insert(&mut self, h: usize) {
        if h < HOURS {
            self.0[h / 64] |= 1 << (h % 64);
        }
    }

    /// Whether hour `h` is in the set.
    pub fn contains(self, h: usize) -> bool {
        h < HOURS && self.0[h / 64] & (1 << (h % 64)) != 0
    }

    /// The hours in either set.
    #[must_use]
    pub fn union(self, other: WeekHours) -> WeekHours {
        WeekHours([
            self.0[0] | other.0[0],
            self.0[1] | other.0[1],
            self.0[2] | other.0[2],
        ])
    }

    /// The hours in both sets.
    #[must_use]
    pub fn intersect(self, other: WeekHours) -> WeekHours {
        WeekHours([
            self.0[0] & other.0[0],
            self.0[1] & other.0[1],
            self.0[2] & other.0[2],
        ])
    }

    /// The hours of the week not in the set.
    #[must_use]
    pub fn complement(self) -> WeekHours {
        WeekHours([!self.0[0], !self.0[1], !self.0[2]]).intersect(WeekHours::ALL)
    }

    /// How many hours are in the set.
    pub fn len(self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether no hour is in the set.
    pub fn is_empty(self) -> bool {
        self == WeekHours::NONE
    }

    /// The hours in the set, in order.
    pub fn hours(self) -> impl Iterator<Item = usize> {
        (0..HOURS).filter(move |h| self.contains(*h))
    }

    /// The set as maximal runs `[start, end)` of consecutive hours, not wrapping past Sunday.
    pub fn runs(self) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        let mut start = None;
        for h in 0..=HOURS {
            match (self.contains(h), start) {
                (true, None) => start = Some(h),
                (false, Some(s)) => {
                    runs.push((s, h));
                    start = None;
                }
                _ => {}
            }
        }
        runs
    }
}

/// The instants at which each hour of the week is sampled: the middle of each local hour of
/// the seven days starting on `first_day` (so hour `h` of the result is the weekday and hour of
/// day that `h` names, on its next occurrence). An hour that does not exist on a day of a
/// daylight-saving change takes the instant the clock shows next.
pub fn sample_instants(first_day: Date, tz: &TimeZone) -> Vec<(usize, Timestamp)> {
    let mut out = Vec::with_capacity(HOURS);
    for d in 0..7 {
        let Ok(date) = first_day.checked_add(jiff::Span::new().days(d)) else {
            continue;
        };
        let day = usize::from(date.weekday().to_monday_zero_offset().unsigned_abs());
        for hour in 0..24i8 {
            let civil = date.at(hour, 30, 0, 0);
            if let Ok(zoned) = tz.to_ambiguous_zoned_datetime(civil).compatible() {
                out.push((
                    day * 24 + usize::from(hour.unsigned_abs()),
                    zoned.timestamp(),
                ));
            }
        }
    }
    out
}

/// The hours of the week in which `schedule` admits the middle of the hour, sampled at
/// `instants` (from [`sample_instants`]). `Always` needs no sampling.
pub fn hours_of(schedule: &Schedule, tz: &TimeZone, instants: &[(usize, Timestamp)]) -> WeekHours {
    if matches!(schedule, Schedule::Always) {
        return WeekHours::ALL;
    }
    hours_of_compiled(&schedule.compile(tz), tz, instants)
}

/// [`hours_of`] for a schedule already compiled for `tz`.
pub fn hours_of_compiled(
    schedule: &CompiledSchedule,
    tz: &TimeZone,
    instants: &[(usize, Timestamp)],
) -> WeekHours {
    let mut set = WeekHours::NONE;
    for (h, at) in instants {
        if schedule.check(*at, tz) == ScheduleCheck::Inside {
            set.insert(*h);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::schedule::{Day, WeeklyWindow};
    use jiff::civil::{date, time};

    #[test]
    fn sets_count_combine_and_split_into_runs() {
        assert_eq!(WeekHours::ALL.len(), 168);
        assert_eq!(WeekHours::NONE.len(), 0);
        assert_eq!(WeekHours::ALL.complement(), WeekHours::NONE);
        let mut a = WeekHours::NONE;
        for h in [0, 1, 2, 63, 64, 65, 127, 128, 167, 168, 500] {
            a.insert(h);
        }
        assert_eq!(a.len(), 9);
        assert!(a.contains(167) && !a.contains(168));
        assert_eq!(a.runs(), vec![(0, 3), (63, 66), (127, 129), (167, 168)]);
        assert_eq!(a.complement().len(), 159);
        assert_eq!(a.union(a.complement()), WeekHours::ALL);
        assert!(a.intersect(a.complement()).is_empty());
    }

    #[test]
    fn a_weekday_evening_window_covers_exactly_its_hours() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let s = Schedule::Weekly {
            windows: vec![WeeklyWindow {
                days: vec![Day::Mon, Day::Fri],
                start: time(18, 0, 0, 0),
                end: time(22, 0, 0, 0),
            }],
        };
        // Starting on a Wednesday: Monday and Friday are still found by weekday.
        let hours = hours_of(&s, &tz, &sample_instants(date(2026, 11, 25), &tz));
        let want: Vec<usize> = (18..22).chain(4 * 24 + 18..4 * 24 + 22).collect();
        assert_eq!(hours.hours().collect::<Vec<_>>(), want);
    }

    #[test]
    fn a_week_across_a_daylight_saving_change_still_has_every_hour() {
        // Europe/Berlin springs forward on 2026-03-29 (02:00 → 03:00); New York falls back on
        // 2026-11-01 (01:00 twice).
        for (zone, day) in [
            ("Europe/Berlin", date(2026, 3, 26)),
            ("America/New_York", date(2026, 10, 29)),
            ("Australia/Lord_Howe", date(2026, 10, 1)),
        ] {
            let tz = TimeZone::get(zone).unwrap();
            let instants = sample_instants(day, &tz);
            let hours = hours_of_compiled(&CompiledSchedule::always(), &tz, &instants);
            assert_eq!(hours, WeekHours::ALL, "{zone}");
        }
    }
}
