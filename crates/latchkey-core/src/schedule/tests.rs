// Tests may unwrap: a panic is the failure report (unwrap is refused only on outside input).
#![allow(clippy::unwrap_used)]

use super::*;
use jiff::civil::{date, time};
use jiff::tz::AmbiguousOffset;
use proptest::prelude::*;

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn weekly(days: &[Day], start: Time, end: Time) -> Schedule {
    Schedule::Weekly {
        windows: vec![WeeklyWindow {
            days: days.to_vec(),
            start,
            end,
        }],
    }
}

fn range(from: DateTime, until: DateTime) -> Schedule {
    Schedule::DateRange { from, until }
}

const NANO: jiff::SignedDuration = jiff::SignedDuration::from_nanos(1);

/// Checks the four edges of a range compiled in `tz` whose `from` resolves to `expect_from`.
fn assert_range_edges(sched: &Schedule, zone: &TimeZone, expect_from: Timestamp) {
    let c = sched.compile(zone);
    assert_eq!(c.check(expect_from, zone), ScheduleCheck::Inside);
    assert_eq!(
        c.check(expect_from - NANO, zone),
        ScheduleCheck::NotYetValid
    );
}

#[test]
fn a_schedule_that_ends_before_it_starts_is_refused_with_both_times() {
    let from = date(2026, 5, 2).at(10, 0, 0, 0);
    let until = date(2026, 5, 1).at(10, 0, 0, 0);
    let err = range(from, until).validate().unwrap_err();
    assert_eq!(err, ScheduleError::EndsBeforeStart { from, until });
    let msg = err.to_string();
    assert!(
        msg.contains("ends (2026-05-01T10:00:00) before it starts (2026-05-02T10:00:00)"),
        "{msg}"
    );
    assert!(
        range(from, from).validate().is_err(),
        "an empty range is refused"
    );
    let one = Schedule::OneTime {
        from: until,
        until: from,
    };
    assert!(one.validate().is_ok());
    assert!(one.is_one_time());
    assert!(!range(until, from).is_one_time());
}

#[test]
fn weekly_windows_are_validated() {
    let ok = weekly(&[Day::Fri], time(22, 0, 0, 0), time(6, 0, 0, 0));
    assert!(ok.validate().is_ok());
    assert_eq!(
        weekly(&[], time(9, 0, 0, 0), time(10, 0, 0, 0)).validate(),
        Err(ScheduleError::NoDays { window: 1 })
    );
    assert_eq!(
        weekly(&[Day::Mon, Day::Mon], time(9, 0, 0, 0), time(10, 0, 0, 0)).validate(),
        Err(ScheduleError::DuplicateDay {
            window: 1,
            day: Day::Mon
        })
    );
    let same = weekly(&[Day::Mon], time(9, 0, 0, 0), time(9, 0, 0, 0)).validate();
    assert!(matches!(
        same,
        Err(ScheduleError::EmptyWindow { window: 1, .. })
    ));
    assert!(
        same.unwrap_err()
            .to_string()
            .contains("start and end are the same")
    );
    assert_eq!(
        Schedule::Weekly { windows: vec![] }.validate(),
        Err(ScheduleError::NoWindows)
    );
    let w = WeeklyWindow {
        days: vec![Day::Mon],
        start: time(1, 0, 0, 0),
        end: time(2, 0, 0, 0),
    };
    let many = Schedule::Weekly {
        windows: vec![w; MAX_WINDOWS + 1],
    };
    assert_eq!(
        many.validate(),
        Err(ScheduleError::TooManyWindows { count: 33 })
    );
    assert!(
        ScheduleError::NoDays { window: 1 }
            .to_string()
            .contains("needs at least one day")
    );
}

#[test]
fn schedules_read_and_write_the_documented_json() {
    let s: Schedule = serde_json::from_str(
        r#"{"type":"weekly","windows":[{"days":["fri","sat"],"start":"22:00","end":"06:00"}]}"#,
    )
    .unwrap();
    assert_eq!(
        s,
        weekly(&[Day::Fri, Day::Sat], time(22, 0, 0, 0), time(6, 0, 0, 0))
    );
    let a: Schedule = serde_json::from_str(r#"{"type":"always"}"#).unwrap();
    assert_eq!(a, Schedule::Always);
    let r: Schedule = serde_json::from_str(
        r#"{"type":"date_range","from":"2026-05-01T10:00","until":"2026-05-02T10:00:00"}"#,
    )
    .unwrap();
    assert!(matches!(r, Schedule::DateRange { .. }));
    let back: Schedule = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    let typo = serde_json::from_str::<Schedule>(
        r#"{"type":"date_range","from":"2026-05-01T10:00","untill":"2026-05-02T10:00"}"#,
    );
    assert!(typo.is_err());
    let extra = serde_json::from_str::<Schedule>(
        r#"{"type":"weekly","windows":[{"days":["fri"],"start":"22:00","end":"06:00","tz":"x"}]}"#,
    );
    assert!(extra.is_err());
}

#[test]
fn an_overnight_window_runs_into_the_next_day() {
    let zone = tz("Europe/Berlin");
    let c = weekly(&[Day::Fri], time(22, 0, 0, 0), time(6, 0, 0, 0)).compile(&zone);
    // 2026-05-01 is a Friday; Berlin is UTC+2 in May.
    assert_eq!(
        c.check(ts("2026-05-01T19:59:59Z"), &zone),
        ScheduleCheck::OutsideWindow
    );
    assert_eq!(
        c.check(ts("2026-05-01T20:00:00Z"), &zone),
        ScheduleCheck::Inside
    );
    assert_eq!(
        c.check(ts("2026-05-02T03:59:59.999999999Z"), &zone),
        ScheduleCheck::Inside
    );
    assert_eq!(
        c.check(ts("2026-05-02T04:00:00Z"), &zone),
        ScheduleCheck::OutsideWindow
    );
    // Thursday night is not covered.
    assert_eq!(
        c.check(ts("2026-04-30T21:00:00Z"), &zone),
        ScheduleCheck::OutsideWindow
    );
}

#[test]
fn a_sunday_night_window_wraps_into_monday() {
    let zone = TimeZone::UTC;
    let c = weekly(&[Day::Sun], time(23, 0, 0, 0), time(1, 0, 0, 0)).compile(&zone);
    assert_eq!(
        c.check(ts("2026-05-03T23:30:00Z"), &zone),
        ScheduleCheck::Inside
    );
    assert_eq!(
        c.check(ts("2026-05-04T00:30:00Z"), &zone),
        ScheduleCheck::Inside
    );
    assert_eq!(
        c.check(ts("2026-05-04T01:00:00Z"), &zone),
        ScheduleCheck::OutsideWindow
    );
    assert_eq!(
        c.check(ts("2026-05-03T22:59:00Z"), &zone),
        ScheduleCheck::OutsideWindow
    );
}

#[test]
fn a_window_inside_a_dst_gap_never_opens_that_day() {
    let zone = tz("Europe/Berlin");
    let c = weekly(&[Day::Sun], time(2, 15, 0, 0), time(2, 45, 0, 0)).compile(&zone);
    let day_start = ts("2026-03-28T22:00:00Z");
    for minute in 0..(24 * 60) {
        let at = day_start + jiff::SignedDuration::from_mins(minute);
        assert_eq!(c.check(at, &zone), ScheduleCheck::OutsideWindow, "{at}");
    }
    // A window spanning the gap opens at the first local time that exists: 03:00 CEST.
    let c = weekly(&[Day::Sun], time(2, 0, 0, 0), time(4, 0, 0, 0)).compile(&zone);
    assert_eq!(
        c.check(ts("2026-03-29T00:59:59Z"), &zone),
        ScheduleCheck::OutsideWindow
    );
    assert_eq!(
        c.check(ts("2026-03-29T01:00:00Z"), &zone),
        ScheduleCheck::Inside
    );
    assert_eq!(
        c.check(ts("2026-03-29T02:00:00Z"), &zone),
        ScheduleCheck::OutsideWindow
    );
}

#[test]
fn a_window_in_a_dst_overlap_matches_both_times() {
    let zone = tz("America/New_York");
    let c = weekly(&[Day::Sun], time(1, 15, 0, 0), time(1, 45, 0, 0)).compile(&zone);
    // 01:30 EDT and 01:30 EST on 2026-11-01.
    assert_eq!(
        c.check(ts("2026-11-01T05:30:00Z"), &zone),
        ScheduleCheck::Inside
    );
    assert_eq!(
        c.check(ts("2026-11-01T06:30:00Z"), &zone),
        ScheduleCheck::Inside
    );
    assert_eq!(
        c.check(ts("2026-11-01T06:00:00Z"), &zone),
        ScheduleCheck::OutsideWindow
    );
}

#[test]
fn always_is_always_inside() {
    let zone = TimeZone::UTC;
    for c in [CompiledSchedule::always(), Schedule::Always.compile(&zone)] {
        assert_eq!(c.check(Timestamp::MIN, &zone), ScheduleCheck::Inside);
        assert_eq!(c.check(Timestamp::MAX, &zone), ScheduleCheck::Inside);
    }
}

/// (zone, local time, whether it is a gap (else an overlap), expected `from` instant).
const DST_CASES: &[(&str, &str, bool, &str)] = &[
    (
        "America/New_York",
        "2026-03-08T02:30",
        true,
        "2026-03-08T07:30:00Z",
    ),
    (
        "America/New_York",
        "2026-11-01T01:30",
        false,
        "2026-11-01T05:30:00Z",
    ),
    (
        "Europe/Berlin",
        "2026-03-29T02:30",
        true,
        "2026-03-29T01:30:00Z",
    ),
    (
        "Europe/Berlin",
        "2026-10-25T02:30",
        false,
        "2026-10-25T00:30:00Z",
    ),
    (
        "Australia/Lord_Howe",
        "2026-10-04T02:15",
        true,
        "2026-10-03T15:45:00Z",
    ),
    (
        "Australia/Lord_Howe",
        "2026-04-05T01:45",
        false,
        "2026-04-04T14:45:00Z",
    ),
];

#[test]
fn range_bounds_in_a_gap_move_later_and_in_an_overlap_take_the_earlier_instant() {
    for &(name, local, gap, expected) in DST_CASES {
        let zone = tz(name);
        let dt: DateTime = local.parse().unwrap();
        // Confirm the premise against jiff's tz data before relying on it.
        let offset = zone.to_ambiguous_timestamp(dt).offset();
        if gap {
            assert!(
                matches!(offset, AmbiguousOffset::Gap { .. }),
                "{name} {local}: {offset:?}"
            );
        } else {
            assert!(
                matches!(offset, AmbiguousOffset::Fold { .. }),
                "{name} {local}: {offset:?}"
            );
        }
        let until = dt + jiff::Span::new().days(1);
        assert_range_edges(&range(dt, until), &zone, ts(expected));
        // An `until` in the same place resolves the same way.
        let before = dt - jiff::Span::new().days(1);
        let c = range(before, dt).compile(&zone);
        assert_eq!(
            c.check(ts(expected), &zone),
            ScheduleCheck::Expired,
            "{name} {local}"
        );
        assert_eq!(
            c.check(ts(expected) - NANO, &zone),
            ScheduleCheck::Inside,
            "{name} {local}"
        );
    }
}

#[test]
fn extreme_civil_bounds_do_not_panic() {
    let zone = tz("Australia/Lord_Howe");
    let c = range(DateTime::MIN, DateTime::MAX).compile(&zone);
    assert_eq!(
        c.check(ts("2026-01-01T00:00:00Z"), &zone),
        ScheduleCheck::Inside
    );
}

// ---- property tests ----

const ZONES: &[&str] = &["America/New_York", "Europe/Berlin", "Australia/Lord_Howe"];

fn window_strategy() -> impl Strategy<Value = WeeklyWindow> {
    (
        prop::collection::btree_set(0u8..7, 1..=7),
        (0i8..24, 0i8..60, prop_oneof![Just(0i8), 0i8..60]),
        (0i8..24, 0i8..60, prop_oneof![Just(0i8), 0i8..60]),
    )
        .prop_filter("start != end", |(_, s, e)| s != e)
        .prop_map(|(days, (sh, sm, ss), (eh, em, es))| WeeklyWindow {
            days: days.into_iter().map(|d| Day::ALL[usize::from(d)]).collect(),
            start: time(sh, sm, ss, 0),
            end: time(eh, em, es, 0),
        })
}

/// The obvious reading of the rules, on the civil time the instant shows.
fn reference_inside(windows: &[WeeklyWindow], local: DateTime) -> bool {
    let day = Day::from_weekday(local.weekday());
    let yesterday = Day::from_weekday(local.weekday().previous());
    let t = local.time();
    windows.iter().any(|w| {
        w.days.iter().any(|&d| {
            if w.start < w.end {
                d == day && w.start <= t && t < w.end
            } else {
                (d == day && w.start <= t) || (d == yesterday && t < w.end)
            }
        })
    })
}

fn transitions(zone: &TimeZone) -> Vec<Timestamp> {
    let start = ts("2026-01-01T00:00:00Z");
    let end = ts("2028-01-01T00:00:00Z");
    zone.following(start)
        .map(|t| t.timestamp())
        .take_while(|&t| t < end)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn weekly_check_matches_the_local_time_the_instant_shows(
        zone_ix in 0..ZONES.len(),
        windows in prop::collection::vec(window_strategy(), 1..4),
        near_transition in any::<bool>(),
        pick in any::<prop::sample::Index>(),
        offset_s in -7200i64..=7200,
        uniform_s in 1_767_225_600i64..1_830_297_600,
        nanos in prop_oneof![Just(0i32), 0i32..1_000_000_000],
    ) {
        let zone = tz(ZONES[zone_ix]);
        let at = if near_transition {
            let ts_list = transitions(&zone);
            prop_assert_eq!(ts_list.len(), 4, "two DST changes a year in {}", ZONES[zone_ix]);
            *pick.get(&ts_list) + jiff::SignedDuration::new(offset_s, nanos)
        } else {
            Timestamp::new(uniform_s, nanos).unwrap()
        };
        let sched = Schedule::Weekly { windows: windows.clone() };
        prop_assert!(sched.validate().is_ok());
        let got = sched.compile(&zone).check(at, &zone);
        let local = at.to_zoned_datetime(zone.clone()).datetime();
        let want = if reference_inside(&windows, local) {
            ScheduleCheck::Inside
        } else {
            ScheduleCheck::OutsideWindow
        };
        prop_assert_eq!(got, want, "at {} local {}", at, local);
    }

    #[test]
    fn date_range_is_half_open_on_the_resolved_instants(
        zone_ix in 0..ZONES.len(),
        from_min in 0i64..(2 * 366 * 24 * 60),
        len_min in 1i64..(40 * 24 * 60),
        probe_s in -100_000i64..4_000_000,
    ) {
        let zone = tz(ZONES[zone_ix]);
        let base = date(2026, 1, 1).at(0, 0, 0, 0);
        let from = base + jiff::Span::new().minutes(from_min);
        let until = from + jiff::Span::new().minutes(len_min);
        let from_ts = from.to_zoned_datetime(zone.clone()).unwrap().timestamp();
        let until_ts = until.to_zoned_datetime(zone.clone()).unwrap().timestamp();
        let c = range(from, until).compile(&zone);
        prop_assert_eq!(c.check(from_ts, &zone), if from_ts < until_ts { ScheduleCheck::Inside } else { ScheduleCheck::Expired });
        prop_assert_eq!(c.check(until_ts, &zone), ScheduleCheck::Expired);
        prop_assert_eq!(c.check(from_ts - NANO, &zone), ScheduleCheck::NotYetValid);
        if from_ts < until_ts {
            prop_assert_eq!(c.check(until_ts - NANO, &zone), ScheduleCheck::Inside);
        }
        let at = from_ts + jiff::SignedDuration::from_secs(probe_s);
        let want = if at < from_ts {
            ScheduleCheck::NotYetValid
        } else if at >= until_ts {
            ScheduleCheck::Expired
        } else {
            ScheduleCheck::Inside
        };
        prop_assert_eq!(c.check(at, &zone), want);
    }
}

#[test]
fn the_next_edge_of_a_range_is_its_start_then_its_end_then_none() {
    let zone = tz("Europe/Berlin");
    let c = range(
        date(2026, 5, 2).at(10, 0, 0, 0),
        date(2026, 5, 3).at(10, 0, 0, 0),
    )
    .compile(&zone);
    let from = ts("2026-05-02T08:00:00Z");
    let until = ts("2026-05-03T08:00:00Z");
    assert_eq!(c.next_edge(ts("2026-05-01T00:00:00Z"), &zone), Some(from));
    assert_eq!(c.next_edge(from, &zone), Some(until));
    assert_eq!(c.next_edge(until, &zone), None);
    assert_eq!(CompiledSchedule::always().next_edge(from, &zone), None);
}

#[test]
fn the_next_edge_of_a_weekly_window_is_its_next_opening_or_closing_in_local_time() {
    let zone = tz("Europe/Berlin");
    // 2026-05-04 is a Monday; Berlin is UTC+2 in May.
    let c = weekly(&[Day::Mon, Day::Wed], time(9, 0, 0, 0), time(17, 30, 0, 0)).compile(&zone);
    assert_eq!(
        c.next_edge(ts("2026-05-04T05:00:00Z"), &zone),
        Some(ts("2026-05-04T07:00:00Z"))
    );
    assert_eq!(
        c.next_edge(ts("2026-05-04T07:00:00Z"), &zone),
        Some(ts("2026-05-04T15:30:00Z"))
    );
    assert_eq!(
        c.next_edge(ts("2026-05-04T15:30:00Z"), &zone),
        Some(ts("2026-05-06T07:00:00Z"))
    );
    // From Wednesday evening the next edge is the following Monday.
    assert_eq!(
        c.next_edge(ts("2026-05-06T20:00:00Z"), &zone),
        Some(ts("2026-05-11T07:00:00Z"))
    );
    // A window past midnight on Sunday closes on Monday morning.
    let night = weekly(&[Day::Sun], time(22, 0, 0, 0), time(6, 0, 0, 0)).compile(&zone);
    assert_eq!(
        night.next_edge(ts("2026-05-10T21:00:00Z"), &zone),
        Some(ts("2026-05-11T04:00:00Z"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Between an instant and its next edge nothing changes, and at the edge it does (UTC has
    /// no daylight-saving changes, so every edge is exact there).
    #[test]
    fn nothing_changes_before_the_next_edge(
        windows in prop::collection::vec(window_strategy(), 1..4),
        uniform_s in 1_767_225_600i64..1_830_297_600,
        frac in 0.0f64..1.0,
    ) {
        let zone = TimeZone::UTC;
        let c = Schedule::Weekly { windows }.compile(&zone);
        let at = Timestamp::from_second(uniform_s).unwrap();
        let Some(edge) = c.next_edge(at, &zone) else {
            // Only windows covering the whole week have no edge.
            prop_assert_eq!(c.check(at, &zone), ScheduleCheck::Inside);
            return Ok(());
        };
        prop_assert!(edge > at);
        prop_assert!(edge.duration_since(at) <= jiff::SignedDuration::from_hours(24 * 7));
        let span = edge.duration_since(at).as_nanos();
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)] // a sample point
        let mid = at + jiff::SignedDuration::from_nanos((span as f64 * frac) as i64);
        prop_assert_eq!(c.check(mid, &zone), c.check(at, &zone));
        prop_assert_eq!(c.check(edge - NANO, &zone), c.check(at, &zone));
    }
}
