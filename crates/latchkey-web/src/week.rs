//! Schedules in the pages: in words ("Mon, Tue 09:00–17:00"), and one weekly window read from
//! a form's day boxes and times (a guest's code, the on-call roster, a locksmith's hours).

use latchkey_app::AppError;
use latchkey_core::schedule::{Day, Schedule, WeeklyWindow};

fn day_words(d: Day) -> &'static str {
    match d {
        Day::Mon => "Mon",
        Day::Tue => "Tue",
        Day::Wed => "Wed",
        Day::Thu => "Thu",
        Day::Fri => "Fri",
        Day::Sat => "Sat",
        Day::Sun => "Sun",
    }
}

pub fn schedule_words(s: &Schedule) -> String {
    match s {
        Schedule::Always => "Any time".to_owned(),
        Schedule::Weekly { windows } => windows
            .iter()
            .map(|w| {
                let days: Vec<&str> = w.days.iter().map(|d| day_words(*d)).collect();
                format!(
                    "{} {}–{}",
                    days.join(", "),
                    w.start.strftime("%H:%M"),
                    w.end.strftime("%H:%M")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Schedule::DateRange { from, until } => format!(
            "From {} until {}",
            from.strftime("%Y-%m-%d %H:%M"),
            until.strftime("%Y-%m-%d %H:%M")
        ),
        Schedule::OneTime { from, until } => format!(
            "Once, {} to {}",
            from.strftime("%Y-%m-%d %H:%M"),
            until.strftime("%H:%M")
        ),
    }
}

fn parse_time(field: &str, text: &str) -> Result<jiff::civil::Time, AppError> {
    text.trim()
        .parse::<jiff::civil::Time>()
        .map_err(|_| AppError::invalid(field, "must be a time like 09:00"))
}

/// One weekly window from a form: the boxes ticked, Monday first, and the times `from` and
/// `until` (`until` earlier than `from` runs past midnight).
///
/// # Errors
/// `Invalid` when no day is ticked or a time is not a time.
pub fn weekly_schedule(
    days: [&Option<String>; 7],
    from: &str,
    until: &str,
) -> Result<Schedule, AppError> {
    let days: Vec<Day> = days
        .into_iter()
        .zip(Day::ALL)
        .filter(|(on, _)| on.is_some())
        .map(|(_, d)| *d)
        .collect();
    if days.is_empty() {
        return Err(AppError::invalid("days", "choose at least one day"));
    }
    Ok(Schedule::Weekly {
        windows: vec![WeeklyWindow {
            days,
            start: parse_time("from", from)?,
            end: parse_time("until", until)?,
        }],
    })
}
