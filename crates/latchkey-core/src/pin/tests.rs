// Tests may unwrap: a panic is the failure report (unwrap is refused only on outside input).
#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

const NO_UNIT: PinContext<'static> = PinContext { unit_label: None };

fn reject(pin: &str) -> PinRejection {
    match Pin::parse(pin, &NO_UNIT) {
        Ok(_) => panic!("{pin} was accepted"),
        Err(e) => e,
    }
}

fn assert_all(pins: &[&str], want: PinRejection) {
    for pin in pins {
        assert_eq!(reject(pin), want, "{pin}");
    }
}

#[test]
fn good_pins_are_accepted() {
    for pin in [
        "4829", "73914", "50836142", "2957", "608417", "8316", "94037",
    ] {
        let p = Pin::parse(pin, &NO_UNIT).unwrap_or_else(|e| panic!("{pin}: {e}"));
        assert_eq!(p.expose(), pin);
    }
}

#[test]
fn a_pin_never_prints_its_digits() {
    let p = Pin::parse("4829", &NO_UNIT).unwrap();
    assert_eq!(format!("{p}"), "****");
    assert_eq!(format!("{p:?}"), "****");
    assert_eq!(format!("{:?}", Some(p)), "Some(****)");
}

#[test]
fn only_four_to_eight_ascii_digits() {
    assert_all(
        &["12a4", "48 29", " 4829", "４８２９", "-4829", "48.29"],
        PinRejection::NotDigits,
    );
    assert_all(&["", "4", "482"], PinRejection::TooShort);
    assert_all(&["482957301", "48295730148"], PinRejection::TooLong);
}

#[test]
fn one_repeated_digit_is_refused() {
    assert_all(
        &["0000", "1111", "111111", "99999999", "55555"],
        PinRejection::AllSameDigit,
    );
}

#[test]
fn runs_up_down_and_wrapping_are_refused() {
    assert_all(
        &[
            "1234", "98765", "0123", "7890", "8901", "9012", "3210", "1098", "12345678", "43210",
        ],
        PinRejection::Sequential,
    );
}

#[test]
fn common_pins_and_repeated_groups_are_refused() {
    assert_all(
        &[
            "1212", "1004", "6969", "1122", "1313", "1010", "696969", "123123", "112233", "121212",
            "102030", "159753", "5656", "12341234", "25802580",
        ],
        PinRejection::Common,
    );
}

#[test]
fn keypad_shapes_are_refused() {
    assert_all(
        &[
            "2580", "0852", "1470", "3690", "1379", "1397", "7931", "9713", "147258", "2468",
        ],
        PinRejection::KeypadPattern,
    );
}

#[test]
fn the_unit_number_is_refused_when_it_has_three_digits_or_more() {
    let unit = |label| PinContext {
        unit_label: Some(label),
    };
    assert_eq!(
        Pin::parse("1204", &unit("1204")).unwrap_err(),
        PinRejection::UnitNumber
    );
    assert_eq!(
        Pin::parse("12041204", &unit("1204")).unwrap_err(),
        PinRejection::UnitNumber
    );
    assert_eq!(
        Pin::parse("304304", &unit("Apt 304")).unwrap_err(),
        PinRejection::UnitNumber
    );
    assert_eq!(
        Pin::parse("1204", &unit("B-12-04")).unwrap_err(),
        PinRejection::UnitNumber
    );
    assert_eq!(
        Pin::parse("5827", &unit("Tower 5827 / 3")).unwrap_err(),
        PinRejection::UnitNumber
    );
    // Short runs are too common to count against a PIN.
    assert!(Pin::parse("4848", &unit("4B")).is_err_and(|e| e != PinRejection::UnitNumber));
    assert!(Pin::parse("4829", &unit("48")).is_ok());
    assert!(Pin::parse("4829", &unit("1204")).is_ok());
    assert!(Pin::parse("12049", &unit("1204")).is_ok());
    assert!(
        Pin::parse("4829", &unit("123456789012")).is_ok(),
        "long labels do not panic"
    );
}

#[test]
fn years_and_dates_are_refused() {
    assert_all(
        &[
            "1900", "1987", "2000", "2001", "2099", "250390", "031290", "900325", "29021996",
            "02291996", "19960229", "31122005", "12312005",
        ],
        PinRejection::YearOrDate,
    );
    // Not a date: month 13 every way round, or 30 February.
    for pin in ["1899", "2100", "311390", "300290", "30021995", "20251301"] {
        assert!(Pin::parse(pin, &NO_UNIT).is_ok(), "{pin}");
    }
    // 29 Feb of "00" exists in 2000.
    assert_eq!(reject("290200"), PinRejection::YearOrDate);
}

#[test]
fn every_listed_pin_is_refused_for_the_listed_reason() {
    // Keeps the lists free of entries an earlier rule already catches, and of typos.
    for pin in COMMON {
        assert_eq!(reject(pin), PinRejection::Common, "{pin}");
    }
    for pin in KEYPAD {
        assert_eq!(reject(pin), PinRejection::KeypadPattern, "{pin}");
    }
}

#[test]
fn every_rejection_says_what_to_do() {
    for r in PinRejection::ALL {
        let msg = r.to_string();
        assert!(msg.len() > 20, "{msg}");
        assert!(
            r.as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_')
        );
    }
    assert_eq!(PinRejection::YearOrDate.as_str(), "year_or_date");
}

proptest! {
    #[test]
    fn parse_never_panics_and_accepts_only_four_to_eight_digits(s in "\\PC{0,12}|[0-9]{1,10}") {
        // No unit label here: with the input as its own unit number every PIN would be refused
        // by the unit rule and the assertions below would never run.
        if let Ok(p) = Pin::parse(&s, &NO_UNIT) {
            prop_assert!((4..=8).contains(&p.expose().len()));
            prop_assert!(p.expose().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn a_pin_that_is_the_unit_number_is_refused(s in "[0-9]{4,8}") {
        let unit = PinContext { unit_label: Some(&s) };
        prop_assert!(Pin::parse(&s, &unit).is_err());
    }

    #[test]
    fn digit_strings_are_accepted_or_rejected_by_a_content_rule(s in "[0-9]{4,8}") {
        if let Err(e) = Pin::parse(&s, &NO_UNIT) {
            prop_assert!(!matches!(e, PinRejection::NotDigits | PinRejection::TooShort | PinRejection::TooLong));
        }
    }
}

/// The properties above only mean something if their inputs reach the accepting branch: most
/// random digit strings of four to eight digits are good PINs.
#[test]
fn most_random_digit_strings_are_accepted() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = "[0-9]{4,8}";
    let mut accepted = 0;
    for _ in 0..1000 {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        if Pin::parse(&s, &NO_UNIT).is_ok() {
            accepted += 1;
        }
    }
    assert!(accepted > 500, "only {accepted} of 1000 accepted");
}

mod generated {
    use super::super::generate::*;
    use super::*;

    /// A deterministic stand-in for the random source (splitmix64).
    fn source(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn with_the_default_limit_every_generated_code_has_eight_digits() {
        for codes in [1, 2, 10, 100, 10_000] {
            assert_eq!(generated_len(codes, 5), 8, "{codes} codes on the door");
        }
    }

    #[test]
    fn the_length_grows_with_the_codes_on_the_door_and_the_wrong_code_limit() {
        // One guess per lockout, one lockout a day for a year: 365 guesses.
        assert_eq!(generated_len(1, 1), 7);
        assert_eq!(generated_len(2, 1), 7);
        assert_eq!(generated_len(3, 1), 8);
        assert_eq!(generated_len(1, 3), 8);
        for limit in 1..=20u8 {
            let mut last = 0;
            for codes in [1, 2, 5, 50, 500, 5_000] {
                let len = generated_len(codes, limit);
                assert!((GENERATED_MIN_LEN..=MAX_LEN).contains(&len));
                assert!(len >= last, "more codes never mean fewer digits");
                last = len;
            }
        }
    }

    #[test]
    fn below_the_cap_the_chance_of_a_year_of_guessing_stays_under_the_target() {
        for limit in 1..=20u8 {
            for codes in 1..=50u64 {
                let len = generated_len(codes, limit);
                let chance = guess_chance(codes, limit, len);
                if len < MAX_LEN {
                    assert!(
                        chance < 1.0 / TARGET_ODDS as f64,
                        "{codes} codes, limit {limit}, {len} digits: {chance}"
                    );
                }
            }
        }
        // Where the cap binds, the chance is what the documentation says it is.
        let lobby = guess_chance(100, 5, 8);
        assert!((lobby - 100.0 * 1825.0 / 8e7).abs() < 1e-12, "{lobby}");
    }

    #[test]
    fn the_rules_refuse_fewer_codes_than_the_length_calculation_assumes() {
        let accepted = (0..1_000_000u64)
            .filter(|n| Pin::parse(&format!("{n:06}"), &NO_UNIT).is_ok())
            .count() as u128;
        assert!(
            accepted >= accepted_codes(6),
            "{accepted} six-digit codes pass the rules"
        );
        let mut draw = source(7);
        let sample = 200_000u64;
        let passed = (0..sample)
            .filter(|_| Pin::parse(&format!("{:08}", draw() % 100_000_000), &NO_UNIT).is_ok())
            .count() as u64;
        assert!(
            passed * 10 >= sample * 9,
            "{passed} of {sample} eight-digit codes pass"
        );
    }

    #[test]
    fn generated_codes_have_the_length_asked_and_pass_the_rules() {
        let ctx = PinContext {
            unit_label: Some("1204"),
        };
        let mut draw = source(42);
        for len in GENERATED_MIN_LEN..=MAX_LEN {
            for _ in 0..2_000 {
                let pin = generate(len, &ctx, &mut draw).unwrap();
                assert_eq!(pin.expose().len(), len);
                assert!(Pin::parse(pin.expose(), &ctx).is_ok());
            }
        }
    }

    #[test]
    fn a_broken_random_source_gives_no_code_rather_than_a_guessable_one() {
        let ctx = PinContext::default();
        assert!(
            generate(6, &ctx, || 0).is_none(),
            "000000 is refused, every time"
        );
        assert!(generate(8, &ctx, || u64::MAX).is_none());
        assert!(
            generate(3, &ctx, source(1)).is_none(),
            "too short for a PIN"
        );
        assert!(
            generate(9, &ctx, source(1)).is_none(),
            "too long for a lock"
        );
    }
}
