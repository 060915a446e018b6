//! When a credential may be used (docs/ARCHITECTURE.md): always, on weekly windows, within a date
//! range, or once within a date range.
//!
//! # Semantics
//!
//! * Every time in a schedule is the property's local wall-clock time (its IANA time zone).
//! * A weekly window is half-open, `[start, end)`, on each listed day. A window whose `end` is
//!   earlier than its `start` runs past midnight into the next day: `22:00–06:00` on `fri`
//!   covers Friday 22:00 up to (not including) Saturday 06:00, and on `sun` it runs into Monday.
//!   `start == end` is an error, because it would be ambiguous between "never" and "all day".
//!   A whole day is `00:00`–`23:59:59.999999999`.
//! * Daylight-saving changes: an instant is judged by the local time it actually shows.
//!   During a gap the missing local times never occur (on 2026-03-29 in Europe/Berlin the
//!   instant after 01:59:59 shows 03:00, so a window 02:15–02:45 is not open that day, and a
//!   window 02:00–04:00 opens at 03:00). During an overlap the repeated hour shows twice, so a
//!   window covering it matches both times.
//! * `date_range` and `one_time` are half-open, `[from, until)`. Their bounds are resolved to
//!   instants once, with jiff's *compatible* disambiguation: a bound inside a gap moves later
//!   (02:30 in a gap that jumps 02:00→03:00 becomes 03:30), a bound inside an overlap takes the
//!   earlier of its two instants. `until <= from` is an error. Before `from` the schedule is
//!   [`ScheduleCheck::NotYetValid`], at or after `until` it is [`ScheduleCheck::Expired`].
//! * `one_time` is checked exactly like `date_range`; the single use is enforced by the
//!   caller's `max_uses` (see [`Schedule::is_one_time`]).
//!
//! [`CompiledSchedule::check`] is on the hot path of every access decision, so compiling does
//! all the work that does not depend on the instant and `check` never allocates.

use jiff::Timestamp;
use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most windows a weekly schedule may hold; locks hold far fewer, and a bound keeps a hostile
/// request from making every decision slow.
pub const MAX_WINDOWS: usize = 32;

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;
const NANOS_PER_WEEK: i64 = 7 * NANOS_PER_DAY;

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    /// Every day, Monday first.
    pub const ALL: &'static [Day] = &[
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    /// Monday = 0 … Sunday = 6.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The day of a civil date's weekday.
    pub fn from_weekday(w: jiff::civil::Weekday) -> Day {
        match w {
            jiff::civil::Weekday::Monday => Day::Mon,
            jiff::civil::Weekday::Tuesday => Day::Tue,
            jiff::civil::Weekday::Wednesday => Day::Wed,
            jiff::civil::Weekday::Thursday => Day::Thu,
            jiff::civil::Weekday::Friday => Day::Fri,
            jiff::civil::Weekday::Saturday => Day::Sat,
            jiff::civil::Weekday::Sunday => Day::Sun,
        }
    }

    /// The name as written for people: "Mon" … "Sun".
    pub fn short_name(self) -> &'static str {
        match self {
            Day::Mon => "Mon",
            Day::Tue => "Tue",
            Day::Wed => "Wed",
            Day::Thu => "Thu",
            Day::Fri => "Fri",
            Day::Sat => "Sat",
            Day::Sun => "Sun",
        }
    }

    /// The stable lowercase name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Day::Mon => "mon",
            Day::Tue => "tue",
            Day::Wed => "wed",
            Day::Thu => "thu",
            Day::Fri => "fri",
            Day::Sat => "sat",
            Day::Sun => "sun",
        }
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recurring window `[start, end)` on each of `days`, in local time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyWindow {
    pub days: Vec<Day>,
    pub start: Time,
    /// Earlier than `start` means the window ends on the following day.
    pub end: Time,
}

/// When a credential may be used. See the module documentation for the exact semantics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    Always,
    Weekly { windows: Vec<WeeklyWindow> },
    DateRange { from: DateTime, until: DateTime },
    OneTime { from: DateTime, until: DateTime },
}

/// Why a schedule was refused. Windows are numbered from 1, as a person counts them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "the schedule ends ({until}) before it starts ({from}); `until` must be later than `from`"
    )]
    EndsBeforeStart { from: DateTime, until: DateTime },
    #[error("a weekly schedule needs at least one window")]
    NoWindows,
    #[error("a weekly schedule may have at most {MAX_WINDOWS} windows, this one has {count}")]
    TooManyWindows { count: usize },
    #[error("a weekly window needs at least one day (window {window} has none)")]
    NoDays { window: usize },
    #[error("window {window} lists {day} more than once; list each day once")]
    DuplicateDay { window: usize, day: Day },
    #[error(
        "window start and end are the same ({at}) in window {window}; for a whole day use 00:00 to 23:59:59.999999999"
    )]
    EmptyWindow { window: usize, at: Time },
}

impl Schedule {
    /// Checks the schedule can mean something.
    ///
    /// # Errors
    /// [`ScheduleError`] names the first problem found, with the window number where it applies.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        match self {
            Schedule::Always => Ok(()),
            Schedule::Weekly { windows } => {
                if windows.is_empty() {
                    return Err(ScheduleError::NoWindows);
                }
                if windows.len() > MAX_WINDOWS {
                    return Err(ScheduleError::TooManyWindows {
                        count: windows.len(),
                    });
                }
                for (i, w) in windows.iter().enumerate() {
                    let window = i + 1;
                    if w.days.is_empty() {
                        return Err(ScheduleError::NoDays { window });
                    }
                    let mut seen = 0u8;
                    for &day in &w.days {
                        let bit = 1u8 << day.index();
                        if seen & bit != 0 {
                            return Err(ScheduleError::DuplicateDay { window, day });
                        }
                        seen |= bit;
                    }
                    if w.start == w.end {
                        return Err(ScheduleError::EmptyWindow {
                            window,
                            at: w.start,
                        });
                    }
                }
                Ok(())
            }
            Schedule::DateRange { from, until } | Schedule::OneTime { from, until } => {
                if until <= from {
                    Err(ScheduleError::EndsBeforeStart {
                        from: *from,
                        until: *until,
                    })
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Whether this schedule is meant for a single use; callers set `max_uses = 1` for it.
    pub fn is_one_time(&self) -> bool {
        matches!(self, Schedule::OneTime { .. })
    }

    /// Resolves the schedule for fast checking in `tz`. An invalid schedule compiles to one
    /// that admits nothing it would not admit anyway (an empty window is dropped, a reversed
    /// range is never inside), so compiling never fails; call [`Schedule::validate`] on input.
    pub fn compile(&self, tz: &TimeZone) -> CompiledSchedule {
        let inner = match self {
            Schedule::Always => Compiled::Always,
            Schedule::Weekly { windows } => Compiled::Weekly(compile_windows(windows)),
            Schedule::DateRange { from, until } | Schedule::OneTime { from, until } => {
                Compiled::Range {
                    from: resolve(tz, *from),
                    until: resolve(tz, *until),
                }
            }
        };
        CompiledSchedule { inner }
    }
}

/// Local civil time to an instant, gap → later, overlap → earlier. Only civil times at the
/// very ends of jiff's range can fail; they saturate, which keeps the range's meaning.
fn resolve(tz: &TimeZone, dt: DateTime) -> Timestamp {
    match tz.to_ambiguous_timestamp(dt).compatible() {
        Ok(ts) => ts,
        Err(_) if dt.year() < 1970 => Timestamp::MIN,
        Err(_) => Timestamp::MAX,
    }
}

fn nanos_of_day(t: Time) -> i64 {
    ((i64::from(t.hour()) * 60 + i64::from(t.minute())) * 60 + i64::from(t.second()))
        * 1_000_000_000
        + i64::from(t.subsec_nanosecond())
}

/// Turns windows into sorted, disjoint `[start, end)` spans of nanoseconds since Monday 00:00.
fn compile_windows(windows: &[WeeklyWindow]) -> Box<[(i64, i64)]> {
    let mut spans: Vec<(i64, i64)> = Vec::new();
    for w in windows {
        let start = nanos_of_day(w.start);
        let end = nanos_of_day(w.end);
        if start == end {
            continue;
        }
        for &day in &w.days {
            let base = i64::from(day.index()) * NANOS_PER_DAY;
            let s = base + start;
            let e = if end > start {
                base + end
            } else {
                base + NANOS_PER_DAY + end
            };
            if e > NANOS_PER_WEEK {
                // Sunday night into Monday morning wraps to the start of the week.
                spans.push((s, NANOS_PER_WEEK));
                spans.push((0, e - NANOS_PER_WEEK));
            } else {
                spans.push((s, e));
            }
        }
    }
    spans.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged.into_boxed_slice()
}

/// A schedule resolved for one time zone, ready to be checked many times.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledSchedule {
    inner: Compiled,
}

#[derive(Clone, Debug, PartialEq)]
enum Compiled {
    Always,
    /// Sorted, disjoint spans in nanoseconds since Monday 00:00 local time.
    Weekly(Box<[(i64, i64)]>),
    Range {
        from: Timestamp,
        until: Timestamp,
    },
}

/// Where an instant falls relative to a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleCheck {
    Inside,
    /// Before a date range begins.
    NotYetValid,
    /// At or after a date range ends.
    Expired,
    /// Outside every weekly window.
    OutsideWindow,
}

impl CompiledSchedule {
    /// A schedule that admits every instant.
    pub fn always() -> Self {
        CompiledSchedule {
            inner: Compiled::Always,
        }
    }

    /// Where `at` falls. `tz` must be the zone the schedule was compiled for; weekly windows
    /// use it to find the local time `at` shows.
    pub fn check(&self, at: Timestamp, tz: &TimeZone) -> ScheduleCheck {
        match &self.inner {
            Compiled::Always => ScheduleCheck::Inside,
            Compiled::Range { from, until } => {
                if at < *from {
                    ScheduleCheck::NotYetValid
                } else if at >= *until {
                    ScheduleCheck::Expired
                } else {
                    ScheduleCheck::Inside
                }
            }
            Compiled::Weekly(spans) => {
                let local = tz.to_datetime(at);
                let t = i64::from(local.weekday().to_monday_zero_offset()) * NANOS_PER_DAY
                    + nanos_of_day(local.time());
                let i = spans.partition_point(|&(_, end)| end <= t);
                match spans.get(i) {
                    Some(&(start, _)) if start <= t => ScheduleCheck::Inside,
                    _ => ScheduleCheck::OutsideWindow,
                }
            }
        }
    }

    /// The first instant after `after` at which [`CompiledSchedule::check`] may change: a
    /// range's `from` or `until`, or the next start or end of a weekly window resolved in `tz`
    /// (`None` when nothing changes any more). Callers that act at edges re-check at the
    /// returned instant, so an edge that changes nothing is harmless.
    ///
    /// Around daylight-saving changes an edge may be found late or not at all: a window bound in
    /// a gap resolves as `check` sees it (later); a bound in a repeated hour is found once, at
    /// its first occurrence, so a window reopening in the repeat is not an edge here.
    pub fn next_edge(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match &self.inner {
            Compiled::Always => None,
            Compiled::Range { from, until } => {
                if after < *from {
                    Some(*from)
                } else if after < *until {
                    Some(*until)
                } else {
                    None
                }
            }
            Compiled::Weekly(spans) => {
                let local = tz.to_datetime(after);
                let offset = i64::from(local.weekday().to_monday_zero_offset());
                let t = offset * NANOS_PER_DAY + nanos_of_day(local.time());
                let monday = local
                    .date()
                    .to_datetime(Time::midnight())
                    .checked_sub(jiff::SignedDuration::from_hours(24 * offset))
                    .ok()?;
                let mut bounds: Vec<i64> = spans.iter().flat_map(|&(s, e)| [s, e]).collect();
                // A window running from Sunday into Monday is two spans meeting at the week's
                // turn; that meeting is no edge.
                let wraps = spans.first().is_some_and(|s| s.0 == 0)
                    && spans.last().is_some_and(|s| s.1 == NANOS_PER_WEEK);
                if wraps {
                    bounds.retain(|&b| b != 0 && b != NANOS_PER_WEEK);
                }
                bounds.sort_unstable();
                bounds.dedup();
                for week in 0..3 {
                    for &b in &bounds {
                        let at = b + week * NANOS_PER_WEEK;
                        if at <= t {
                            continue;
                        }
                        let dt = monday
                            .checked_add(jiff::SignedDuration::from_nanos(at))
                            .ok()?;
                        let instant = resolve(tz, dt);
                        if instant > after {
                            return Some(instant);
                        }
                    }
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
