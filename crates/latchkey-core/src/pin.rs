//! Keypad PINs: a type that never prints its digits, and the rules that refuse PINs a stranger
//! would guess (docs/ARCHITECTURE.md).
//!
//! A PIN is 4–8 ASCII digits, taken as typed (no trimming: the caller decides what a form
//! field means). The rules, checked in this order (the first that matches is the rejection):
//!
//! 1. not only digits → [`PinRejection::NotDigits`]; fewer than 4 or more than 8 →
//!    [`PinRejection::TooShort`] / [`PinRejection::TooLong`]
//! 2. one digit repeated (`0000`, `111111`) → [`PinRejection::AllSameDigit`]
//! 3. the whole PIN is one ascending or descending run, wrapping past 9/0 as the top row of a
//!    keyboard does (`1234`, `98765`, `0123`, `7890`, `8901`, `3210`, `1098`) →
//!    [`PinRejection::Sequential`]
//! 4. the unit number: a run of 3 or more digits of the unit label, or all its digits
//!    together, alone or repeated (unit `1204` → `1204`, `12041204`) →
//!    [`PinRejection::UnitNumber`]. Shorter runs are too common to hold against a PIN.
//! 5. a well-known PIN from published top lists, or a short group repeated (`1212`,
//!    `123123`, `5656`) → [`PinRejection::Common`]
//! 6. a straight line or shape on a phone keypad (`2580`, `1470`, `1379`, `1397`) →
//!    [`PinRejection::KeypadPattern`]
//! 7. a year 1900–2099 (4 digits), a valid DDMMYY / MMDDYY / YYMMDD date (6 digits) or a valid
//!    DDMMYYYY / MMDDYYYY / YYYYMMDD date with a year 1900–2099 (8 digits) →
//!    [`PinRejection::YearOrDate`]

use std::fmt;

pub mod generate;

/// A keypad code that passed [`Pin::parse`]. Its `Debug` and `Display` print `****` so it never
/// reaches a log by accident; it deliberately has no `Serialize`.
#[derive(Clone)]
pub struct Pin(String);

/// What the PIN rules need to know about whose PIN it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct PinContext<'a> {
    /// The label of the holder's unit (e.g. "1204", "4B").
    pub unit_label: Option<&'a str>,
}

/// Why a PIN was refused. The message tells the person what to do instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinRejection {
    #[error("a PIN may contain only the digits 0–9")]
    NotDigits,
    #[error("a PIN needs at least 4 digits; choose a longer one")]
    TooShort,
    #[error("a PIN has at most 8 digits; choose a shorter one")]
    TooLong,
    #[error("a PIN of one repeated digit is guessed first; mix different digits")]
    AllSameDigit,
    #[error(
        "a PIN of consecutive digits (like 1234 or 9876) is guessed first; choose digits in no order"
    )]
    Sequential,
    #[error(
        "this PIN is one of the most common PINs and is guessed first; choose a less predictable one"
    )]
    Common,
    #[error(
        "this PIN is a line or shape on the keypad and is easy to guess; choose digits that are not next to each other"
    )]
    KeypadPattern,
    #[error("this PIN is your unit number, which anyone at your door can see; choose another")]
    UnitNumber,
    #[error(
        "this PIN looks like a year or a date, which others may know; choose digits that are not a date"
    )]
    YearOrDate,
}

impl PinRejection {
    /// Every rejection, in the order the rules are checked.
    pub const ALL: &'static [PinRejection] = &[
        PinRejection::NotDigits,
        PinRejection::TooShort,
        PinRejection::TooLong,
        PinRejection::AllSameDigit,
        PinRejection::Sequential,
        PinRejection::UnitNumber,
        PinRejection::Common,
        PinRejection::KeypadPattern,
        PinRejection::YearOrDate,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PinRejection::NotDigits => "not_digits",
            PinRejection::TooShort => "too_short",
            PinRejection::TooLong => "too_long",
            PinRejection::AllSameDigit => "all_same_digit",
            PinRejection::Sequential => "sequential",
            PinRejection::Common => "common",
            PinRejection::KeypadPattern => "keypad_pattern",
            PinRejection::UnitNumber => "unit_number",
            PinRejection::YearOrDate => "year_or_date",
        }
    }
}

pub const MIN_LEN: usize = 4;
pub const MAX_LEN: usize = 8;

/// Well-known PINs from published frequency lists (DataGenetics' analysis of leaked 4-digit
/// PINs, lists of leaked 6-digit codes), less the ones another rule already refuses. Repeated
/// groups (`1212`, `123123`) are caught by a rule, not listed.
const COMMON: &[&str] = &[
    // 4 digits
    "1004", "1122", "1221", "2112", "1001", "1100", "0007", "0070", "0911", "5683", "6699", "1123",
    "1357", "4200", "0420", "1969", "3214", "0001", "1000", "1314", "5201", "1231", "3211", "1112",
    "0012", "1024", "2048", "7007", "8000", "9000", "1211", "1222", "2211",
    // 5 digits
    "11223", "12321", "13579", "24680", "12340", "00001", "11122", // 6 digits
    "112233", "123321", "159753", "102030", "789456", "456123", "654123", "520520", "520131",
    "131420", "112358", "123654", "246810", "135790", "123455", "123457", "111222", "222333",
    "000123", "100200", "010203", "147852", "987456", "101112", "111000", "000111",
    // 7–8 digits
    "5201314", "1314520", "1234321", "12344321", "11223344", "13572468", "24681357", "10203040",
    "12345679", "11112222", "12348765",
];

/// Lines and shapes on a phone keypad (1-2-3 / 4-5-6 / 7-8-9 / 0 under 8): columns, diagonals,
/// corners, crosses, and their reverses.
const KEYPAD: &[&str] = &[
    "2580", "0852", "8520", "0258", "1470", "0741", "3690", "0963", "1379", "1397", "7931", "9713",
    "3197", "7913", "9731", "3179", "1739", "1793", "3971", "7139", "9317", "1937", "1593", "3571",
    "1753", "9517", "1478", "3698", "7896", "1236", "9874", "7412", "4569", "6541", "2468", "8642",
    "1590", "3570", "7530", "9510", "7410", "9630", "14789", "36987", "12369", "74123", "15973",
    "35791", "147258", "258369", "369258", "147369", "159357", "357159", "741852", "852963",
    "963852", "258456", "456852", "2580852", "1470258", "14702580", "25803690", "36902580",
];

impl Pin {
    /// Checks `input` against the rules in the module documentation.
    ///
    /// # Errors
    /// The first rule the PIN breaks, as a [`PinRejection`] whose message says what to do.
    pub fn parse(input: &str, ctx: &PinContext<'_>) -> Result<Pin, PinRejection> {
        let d = input.as_bytes();
        if !d.iter().all(u8::is_ascii_digit) {
            return Err(PinRejection::NotDigits);
        }
        if d.len() < MIN_LEN {
            return Err(PinRejection::TooShort);
        }
        if d.len() > MAX_LEN {
            return Err(PinRejection::TooLong);
        }
        if d.iter().all(|&c| c == d[0]) {
            return Err(PinRejection::AllSameDigit);
        }
        if is_run(d, 1) || is_run(d, 9) {
            return Err(PinRejection::Sequential);
        }
        if let Some(label) = ctx.unit_label
            && matches_unit(d, label)
        {
            return Err(PinRejection::UnitNumber);
        }
        if is_repeated_group(d) || COMMON.contains(&input) {
            return Err(PinRejection::Common);
        }
        if KEYPAD.contains(&input) {
            return Err(PinRejection::KeypadPattern);
        }
        if is_year_or_date(d) {
            return Err(PinRejection::YearOrDate);
        }
        Ok(Pin(input.to_owned()))
    }

    /// The digits, for programming a lock slot or encrypting at rest. Never log them.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Each digit is the previous plus `step` modulo 10 (1 ascends, 9 descends).
fn is_run(d: &[u8], step: u8) -> bool {
    d.windows(2)
        .all(|w| (w[0] - b'0' + step) % 10 == w[1] - b'0')
}

/// The PIN is a group of 1..=len/2 digits repeated whole (`1212`, `123123`, `12341234`).
fn is_repeated_group(d: &[u8]) -> bool {
    (1..=d.len() / 2)
        .filter(|&g| d.len().is_multiple_of(g))
        .any(|g| d.chunks(g).all(|c| c == &d[..g]))
}

/// The PIN equals a unit-label digit run of 3 or more (or all its digits joined), once or
/// repeated.
fn matches_unit(pin: &[u8], label: &str) -> bool {
    let l = label.as_bytes();
    let mut all = [0u8; MAX_LEN];
    let mut all_len = 0usize;
    let mut i = 0;
    while i < l.len() {
        if !l[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < l.len() && l[i].is_ascii_digit() {
            i += 1;
        }
        let run = &l[start..i];
        if run.len() >= 3 && is_repeat_of(pin, run) {
            return true;
        }
        for &c in run {
            // A label with more digits than a PIN holds cannot equal one.
            if all_len == MAX_LEN {
                return false;
            }
            all[all_len] = c;
            all_len += 1;
        }
    }
    all_len >= 3 && is_repeat_of(pin, &all[..all_len])
}

fn is_repeat_of(pin: &[u8], unit: &[u8]) -> bool {
    !unit.is_empty()
        && pin.len().is_multiple_of(unit.len())
        && pin.chunks(unit.len()).all(|c| c == unit)
}

fn num(d: &[u8]) -> i16 {
    d.iter().fold(0i16, |n, &c| n * 10 + i16::from(c - b'0'))
}

fn valid_date(year: i16, month: i16, day: i16) -> bool {
    let (Ok(month), Ok(day)) = (i8::try_from(month), i8::try_from(day)) else {
        return false;
    };
    jiff::civil::Date::new(year, month, day).is_ok()
}

/// A two-digit year could be either century; the date counts if it exists in either (29 Feb
/// of "00" exists in 2000).
fn valid_short_date(yy: i16, month: i16, day: i16) -> bool {
    valid_date(1900 + yy, month, day) || valid_date(2000 + yy, month, day)
}

fn is_year_or_date(d: &[u8]) -> bool {
    let year_ok = |y: i16| (1900..=2099).contains(&y);
    match d.len() {
        4 => year_ok(num(d)),
        6 => {
            let (a, b, c) = (num(&d[0..2]), num(&d[2..4]), num(&d[4..6]));
            valid_short_date(c, b, a) || valid_short_date(c, a, b) || valid_short_date(a, b, c)
        }
        8 => {
            let (a, b, y) = (num(&d[0..2]), num(&d[2..4]), num(&d[4..8]));
            let (y0, m0, d0) = (num(&d[0..4]), num(&d[4..6]), num(&d[6..8]));
            (year_ok(y) && (valid_date(y, b, a) || valid_date(y, a, b)))
                || (year_ok(y0) && valid_date(y0, m0, d0))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
