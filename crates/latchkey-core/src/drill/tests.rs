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

/// The default policy's proofs: passkey, authenticator, recovery card, ID check.
fn default_proofs() -> Proofs {
    Proofs {
        passkey: false,
        totp: false,
        recovery_code_accepted: true,
        recovery_card: false,
        id_check: true,
        guardians_required: None,
    }
}

/// A resident living alone with a PIN and a phone key at every hour, office hours only.
fn alone() -> Situation {
    Situation {
        pin: WeekHours::ALL,
        phone_key: WeekHours::ALL,
        staff: office(),
        proofs: default_proofs(),
        ..Situation::default()
    }
}

fn gap_at(a: &Assessment, day: Day, hour: u8) -> &Gap {
    a.gaps
        .iter()
        .find(|g| {
            g.from_day.index() <= day.index()
                && day.index() <= g.to_day.index()
                && g.from_hour <= hour
                && hour < g.until_hour
        })
        .unwrap()
}

#[test]
fn a_pin_and_a_phone_are_not_readiness_when_one_of_them_fails() {
    let s = alone();
    for f in Failure::ALL {
        let a = assess(&s, f);
        // Office hours: the remaining credential and staff (ID check); else one way.
        assert_eq!(a.short_hours, 168 - 40, "{f:?}");
    }
    let night = assess(&s, Failure::PhoneGone);
    let g = gap_at(&night, Day::Tue, 2);
    assert_eq!(g.ways, vec![Way::Pin]);
    assert_eq!(
        g.fix,
        "Mon–Fri 17:00–24:00, phone dead or lost: your only way in is your PIN; add a printed recovery card or someone on the on-call roster at these hours."
            .replace("Mon–Fri 17:00–24:00", &format!(
                "{}–{} {:02}:00–{:02}:00",
                g.from_day.short_name(), g.to_day.short_name(), g.from_hour, g.until_hour
            ))
    );
}

#[test]
fn a_spare_key_holder_counts_only_when_the_case_can_be_proven() {
    let mut s = alone();
    s.spare_keys.push(WeekHours::ALL);
    // Phone gone at night: no passkey, no card, no staff for an ID check: the holder cannot
    // release anything.
    assert_eq!(assess(&s, Failure::PhoneGone).short_hours, 128);
    // With the phone left, the resident's passkey proves the case.
    s.proofs.passkey = true;
    assert_eq!(assess(&s, Failure::PinForgotten).short_hours, 0);
    assert_eq!(assess(&s, Failure::PhoneGone).short_hours, 128);
    // A policy that accepts one guardian: the holder vouches and releases.
    s.proofs.guardians_required = Some(1);
    assert_eq!(assess(&s, Failure::PhoneGone).short_hours, 0);
    // Two guardians needed and only one reachable: not proven.
    s.proofs.guardians_required = Some(2);
    assert_eq!(assess(&s, Failure::PhoneGone).short_hours, 128);
}

#[test]
fn a_recovery_card_counts_only_when_the_policy_accepts_it() {
    let mut s = alone();
    s.proofs.recovery_card = true;
    let a = assess(&s, Failure::PhoneAndKeysGone);
    assert_eq!(a.short_hours, 0);
    s.proofs.recovery_code_accepted = false;
    assert_eq!(assess(&s, Failure::PhoneAndKeysGone).short_hours, 128);
}

#[test]
fn staff_count_only_in_their_hours_and_a_forgotten_pin_leaves_the_phone() {
    let s = Situation {
        phone_key: WeekHours::ALL,
        staff: office(),
        proofs: default_proofs(),
        ..Situation::default()
    };
    let forgot = assess(&s, Failure::PinForgotten);
    assert_eq!(forgot.counts[10], 2, "Mon 10:00: phone and staff");
    assert_eq!(forgot.counts[20], 1, "Mon 20:00: phone only");
    let lost = assess(&s, Failure::PhoneAndKeysGone);
    assert_eq!(lost.counts[10], 1, "staff with an ID check");
    assert_eq!(lost.counts[20], 0);
    assert_eq!(lost.hours_without_any_way, 128);
    let night = gap_at(&lost, Day::Mon, 20);
    assert!(night.ways.is_empty());
    assert!(
        night.fix.contains("there is no free way back in"),
        "{}",
        night.fix
    );
}

#[test]
fn keys_survive_a_dead_phone_but_not_a_lost_bag() {
    let s = Situation {
        keys: WeekHours::ALL,
        household: vec![WeekHours::ALL],
        proofs: default_proofs(),
        ..Situation::default()
    };
    assert_eq!(assess(&s, Failure::PhoneGone).short_hours, 0);
    assert_eq!(assess(&s, Failure::PhoneAndKeysGone).short_hours, 168);
}

#[test]
fn each_named_fix_closes_its_gap() {
    let s = alone();
    for f in Failure::ALL {
        let a = assess(&s, f);
        for g in &a.gaps {
            assert!(!g.fixes.is_empty(), "{}", g.fix);
            for fix in &g.fixes {
                let mut t = s.clone();
                let h = gap_hours(g);
                match fix {
                    Fix::Pin => t.pin = t.pin.union(h),
                    Fix::PhoneKey => t.phone_key = t.phone_key.union(h),
                    Fix::SpareKey => t.spare_keys.push(h),
                    Fix::RecoveryCard => t.proofs.recovery_card = true,
                    Fix::OnCall => t.staff = t.staff.union(h),
                }
                let after = assess(&t, f);
                assert!(
                    h.hours().all(|x| after.counts[x] >= 2),
                    "{fix:?} for {}",
                    g.fix
                );
                assert!(after.short_hours <= a.short_hours - h.len());
            }
        }
    }
}

#[test]
fn failures_parse_back_from_their_names() {
    for f in Failure::ALL {
        assert_eq!(Failure::parse(f.as_str()), Some(f));
    }
    assert_eq!(Failure::parse("phone"), None);
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
        spare in week_hours(), staff in week_hours(), keys in week_hours(),
        card in any::<bool>(), fi in 0usize..3,
    ) {
        let s = Situation {
            pin, pin_assumed: false, phone_key: phone, keys, household: vec![household], spare_keys: vec![spare], staff,
            proofs: Proofs { recovery_card: card, ..default_proofs() },
        };
        let f = Failure::ALL[fi];
        let ways = s.ways(f);
        let a = assess(&s, f);
        let mut in_gaps = WeekHours::NONE;
        for g in &a.gaps {
            prop_assert!(g.ways.len() < 2);
            for h in gap_hours(g).hours() {
                prop_assert!(!in_gaps.contains(h), "hour {} in two gaps", h);
                in_gaps.insert(h);
                prop_assert_eq!(&ways.at(h), &g.ways);
            }
            prop_assert!(!g.fix.is_empty());
        }
        let short: Vec<usize> = (0..168).filter(|h| ways.at(*h).len() < 2).collect();
        prop_assert_eq!(in_gaps.hours().collect::<Vec<_>>(), short.clone());
        prop_assert_eq!(a.short_hours, short.len());
        prop_assert_eq!(a.hours_without_any_way, (0..168).filter(|h| ways.at(*h).is_empty()).count());
        for h in 0..168 {
            prop_assert_eq!(usize::from(a.counts[h]), ways.at(h).len());
        }
    }
}

#[test]
fn an_assumed_pin_counts_and_the_drill_says_so() {
    let sure = alone();
    let assumed = Situation {
        pin_assumed: true,
        ..alone()
    };
    for f in Failure::ALL {
        let (a, b) = (assess(&sure, f), assess(&assumed, f));
        // It counts exactly as a confirmed PIN does.
        assert_eq!(a.counts, b.counts, "{f:?}");
        assert_eq!(a.gaps, b.gaps, "{f:?}");
        assert!(!a.pin_assumed);
        // And is said wherever the PIN is still a way in.
        assert_eq!(b.pin_assumed, f.keeps_pin(), "{f:?}");
    }
    // No PIN, nothing to say.
    let none = Situation {
        pin: WeekHours::NONE,
        pin_assumed: true,
        ..alone()
    };
    assert!(!assess(&none, Failure::PhoneGone).pin_assumed);
    assert!(PIN_ASSUMED.contains("assumed"));
}
