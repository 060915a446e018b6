//! Codes latchkey draws itself, and how many digits they need.
//!
//! A code is out of reach when guessing at the keypad cannot find it. The lock refuses its
//! keypad after the policy's `wrong_code_limit` wrong codes in a row, and latchkey raises a
//! `lock.alarm` for every such lockout. The model: an attacker gets [`LOCKOUTS_PER_DAY`]
//! lockouts a day at one door for [`GUESS_DAYS`] days — `limit × lockouts × days` guesses —
//! and every code on that door is a target, so the chance of opening it is at most
//! `codes × guesses / space`, where `space` counts the codes of that length the PIN rules
//! accept (see [`accepted_codes`]). A generated code gets the fewest digits, from
//! [`GENERATED_MIN_LEN`] up to [`MAX_LEN`], that keep this chance below 1 in [`TARGET_ODDS`].
//! [`MAX_LEN`] is the most a lock takes; where even that is not enough (a door with many codes,
//! a high limit), the code gets [`MAX_LEN`] digits and [`guess_chance`] says how far it falls
//! short. With the default limit of 5 every generated code has 8 digits.

use super::{MAX_LEN, Pin, PinContext};

/// Wrong-code lockouts an attacker is assumed to get at one door per day. Each one is a
/// `lock.alarm` at the door, so more than one a day, day after day, does not go unseen.
pub const LOCKOUTS_PER_DAY: u64 = 1;
/// How many days the attacker keeps guessing.
pub const GUESS_DAYS: u64 = 365;
/// The chance of a guess opening the door stays below 1 in this many.
pub const TARGET_ODDS: u64 = 10_000;
/// Generated codes are never shorter than this.
pub const GENERATED_MIN_LEN: usize = 6;
/// Draws before [`generate`] gives up on finding a code the rules accept. A draw is refused
/// about one time in ten at 6 digits, so 100 refusals in a row mean a broken source.
pub const MAX_DRAWS: usize = 100;

/// A lower bound on the `len`-digit codes the PIN rules accept: 8 in 10 of them. The rules
/// refuse fewer than that (mostly dates: about 1 six-digit code in 10, 1 eight-digit code in
/// 500; a test counts them).
pub fn accepted_codes(len: usize) -> u128 {
    10u128.pow(u32::try_from(len).unwrap_or(u32::MAX).min(38)) / 10 * 8
}

/// Guesses the attacker of the module model gets at one door.
pub fn guesses(wrong_code_limit: u8) -> u128 {
    u128::from(wrong_code_limit.max(1)) * u128::from(LOCKOUTS_PER_DAY) * u128::from(GUESS_DAYS)
}

/// The chance that those guesses open a door holding `codes` codes of `len` digits.
pub fn guess_chance(codes: u64, wrong_code_limit: u8, len: usize) -> f64 {
    let hits = u128::from(codes.max(1)) * guesses(wrong_code_limit);
    // Both are far below 2^53 for any door and length here, so the division is exact enough.
    #[allow(clippy::cast_precision_loss)]
    let chance = hits as f64 / accepted_codes(len) as f64;
    chance.min(1.0)
}

/// The digits a generated code needs on a door that will hold `codes` codes (counting the new
/// one), under a wrong-code limit of `wrong_code_limit`.
pub fn generated_len(codes: u64, wrong_code_limit: u8) -> usize {
    let needed = u128::from(codes.max(1)) * guesses(wrong_code_limit) * u128::from(TARGET_ODDS);
    (GENERATED_MIN_LEN..=MAX_LEN)
        .find(|&len| needed < accepted_codes(len))
        .unwrap_or(MAX_LEN)
}

/// Draws a `len`-digit code the PIN rules accept for `ctx`, taking random numbers from `draw`
/// (uniform over all of `u64`). `None` when [`MAX_DRAWS`] draws in a row were refused, or
/// `len` is not a length a PIN may have.
pub fn generate(len: usize, ctx: &PinContext<'_>, mut draw: impl FnMut() -> u64) -> Option<Pin> {
    if !(super::MIN_LEN..=MAX_LEN).contains(&len) {
        return None;
    }
    let modulus = 10u64.pow(u32::try_from(len).ok()?);
    // Draws at or above the last whole multiple of the modulus are thrown away, so that every
    // code is exactly as likely as every other.
    let limit = u64::MAX - u64::MAX % modulus;
    for _ in 0..MAX_DRAWS {
        let n = draw();
        if n >= limit {
            continue;
        }
        if let Ok(pin) = Pin::parse(&format!("{:0len$}", n % modulus), ctx) {
            return Some(pin);
        }
    }
    None
}
