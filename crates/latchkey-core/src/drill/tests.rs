#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

fn hours(ranges: &[(usize, usize)]) -> WeekHours {
    let mut set = WeekHours::NONE;
    for (a, b) in ranges {
        for h in *a..*b {
            set.insert(h);
        }
    }
    set
}

/// Office hours Monday to Friday 09:00–17:00.
fn office() -> WeekHours {
    hours(
        &(0..5)
            .map(|d| (d * 24 + 9, d * 24 + 17))
            .collect::<Vec<_>>(),
    )
}

#[test]
fn a_pin_and_a_phone_at_all_hours_leave_no_gap() {
    let a = assess(&Ways {
        pin: WeekHours::ALL,
        phone_key: WeekHours::ALL,
        ..Ways::default()
    });
    assert_eq!(a.short_hours, 0);
    assert!(a.gaps.is_empty());
}

#[test]
fn a_recovery_card_is_a_second_way_at_every_hour() {
    let phone_only = assess(&Ways {
        phone_key: WeekHours::ALL,
        ..Ways::default()
    });
    assert_eq!(phone_only.short_hours, 168);
    let a = assess(&Ways {
        phone_key: WeekHours::ALL,
        recovery_card: WeekHours::ALL,
        ..Ways::default()
    });
    assert_eq!(a.short_hours, 0);
    assert!(a.gaps.is_empty());
}

#[test]
fn a_phone_alone_after_office_hours_is_named_with_its_fix() {
    let a = assess(&Ways {
        phone_key: WeekHours::ALL,
        staff: office(),
        ..Ways::default()
    });
    // 168 hours minus 5 × 8 office hours.
    assert_eq!(a.short_hours, 128);
    assert_eq!(a.hours_without_any_way, 0);
    let evening = a
        .gaps
        .iter()
        .find(|g| g.from_day == Day::Mon && g.from_hour == 17)
        .unwrap();
    assert_eq!((evening.to_day, evening.until_hour), (Day::Fri, 24));
    assert_eq!(evening.ways, vec![Way::PhoneKey]);
    assert_eq!(
        evening.fix,
        "Mon–Fri 17:00–24:00: your only way in is your phone; add a PIN or a spare-key holder."
    );
    let spans: Vec<_> = a
        .gaps
        .iter()
        .map(|g| (g.from_day, g.to_day, g.from_hour, g.until_hour))
        .collect();
    assert_eq!(
        spans,
        vec![
            (Day::Mon, Day::Fri, 0, 9),
            (Day::Mon, Day::Fri, 17, 24),
            (Day::Sat, Day::Sun, 0, 24),
        ]
    );
}

#[test]
fn no_way_at_all_says_so_and_asks_for_two_additions() {
    let a = assess(&Ways::default());
    assert_eq!(a.short_hours, 168);
    assert_eq!(a.hours_without_any_way, 168);
    assert_eq!(a.gaps.len(), 1);
    assert_eq!(
        a.gaps[0].fix,
        "Mon–Sun 00:00–24:00: there is no way back in; add a PIN and a spare-key holder."
    );
}

#[test]
fn a_pin_limited_to_some_hours_is_asked_for_at_the_others() {
    let a = assess(&Ways {
        pin: hours(&[(8, 20)]),
        spare_key: WeekHours::ALL,
        ..Ways::default()
    });
    let night = a
        .gaps
        .iter()
        .find(|g| g.from_day == Day::Mon && g.from_hour == 0)
        .unwrap();
    assert_eq!(night.until_hour, 8);
    assert_eq!(
        night.fix,
        "Mon 00:00–08:00: your only way in is a spare-key holder; add a PIN valid at these hours or a phone key."
    );
}

fn week_hours() -> impl Strategy<Value = WeekHours> {
    proptest::collection::vec(0usize..168, 0..168).prop_map(|hs| {
        let mut set = WeekHours::NONE;
        for h in hs {
            set.insert(h);
        }
        set
    })
}

proptest! {
    /// The gaps cover exactly the hours with fewer than two ways, each gap's ways are the ways
    /// of each of its hours, and the counts agree with counting hour by hour.
    #[test]
    fn gaps_are_exactly_the_hours_with_fewer_than_two_ways(
        pin in week_hours(), phone in week_hours(), household in week_hours(),
        spare in week_hours(), staff in week_hours(), locksmith in week_hours(),
    ) {
        let ways = Ways { pin, phone_key: phone, household, spare_key: spare, staff, locksmith, recovery_card: WeekHours::NONE };
        let a = assess(&ways);
        let mut in_gaps = WeekHours::NONE;
        for g in &a.gaps {
            prop_assert!(g.ways.len() < 2);
            for d in g.from_day.index()..=g.to_day.index() {
                for hod in g.from_hour..g.until_hour {
                    let h = usize::from(d) * 24 + usize::from(hod);
                    prop_assert!(!in_gaps.contains(h), "hour {} in two gaps", h);
                    in_gaps.insert(h);
                    prop_assert_eq!(&ways.at(h), &g.ways);
                }
            }
            prop_assert!(!g.fix.is_empty());
        }
        let short: Vec<usize> = (0..168).filter(|h| ways.at(*h).len() < 2).collect();
        prop_assert_eq!(in_gaps.hours().collect::<Vec<_>>(), short.clone());
        prop_assert_eq!(a.short_hours, short.len());
        prop_assert_eq!(a.hours_without_any_way, (0..168).filter(|h| ways.at(*h).is_empty()).count());
    }
}
