//! Time-based one-time passwords (RFC 6238) as authenticator apps implement them: HMAC-SHA1,
//! 6 digits, 30-second steps counted from the Unix epoch. Used to prove a resident's identity
//! ("password + TOTP") before a lockout is lifted.
//!
//! Everything here is pure and takes the current time as an argument; new secrets are made from
//! random bytes by the caller (the app layer owns the random source).
//!
//! Replay protection is the caller's half of the contract: [`verify`] returns the time step the
//! code matched; store it and pass it back as `last_used_step` next time, and a code (or an
//! earlier one) cannot be used twice.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Number of digits in a code.
pub const DIGITS: usize = 6;
/// Length of a time step in seconds.
pub const PERIOD_SECONDS: u64 = 30;
/// Length of a [`Secret`] in bytes (160 bits, the HMAC-SHA1 output size RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;
/// How many steps before and after the current one [`verify`] accepts, for clock drift.
pub const DRIFT_STEPS: u64 = 1;

/// `10^DIGITS`, the modulus of the truncated HMAC.
const MODULUS: u32 = 1_000_000;

/// A shared TOTP key. Its `Debug` prints `Secret(****)` so it never reaches a log by accident;
/// it deliberately has no `Display`, `Serialize` or `PartialEq` (a non-constant-time compare).
#[derive(Clone)]
pub struct Secret([u8; SECRET_LEN]);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl Secret {
    /// A secret from raw bytes (e.g. read back from storage).
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Secret {
        Secret(bytes)
    }

    /// Parses a secret written in base32, as shown to people and put in `otpauth://` URIs.
    /// Accepts what [`decode_base32`] accepts.
    ///
    /// # Errors
    /// [`SecretError::Base32`] when the text is not base32; [`SecretError::WrongLength`] when it
    /// does not decode to exactly [`SECRET_LEN`] bytes.
    pub fn from_base32(text: &str) -> Result<Secret, SecretError> {
        let bytes = decode_base32(text)?;
        let len = bytes.len();
        let bytes: [u8; SECRET_LEN] = bytes
            .try_into()
            .map_err(|_| SecretError::WrongLength { bytes: len })?;
        Ok(Secret(bytes))
    }

    /// The raw bytes, for storage. Handle them as a credential.
    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// The secret in RFC 4648 base32 without padding (32 characters), for manual entry into an
    /// authenticator app.
    pub fn to_base32(&self) -> String {
        encode_base32(&self.0)
    }

    /// The `otpauth://totp/…` URI an authenticator app reads from a QR code. `issuer` (e.g.
    /// "Latchkey – Maple Court") and `account` (e.g. the resident's e-mail) are percent-encoded.
    /// The URI contains the secret: show it only to its holder and never log it.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = percent_encode(issuer);
        let account = percent_encode(account);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
             &algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECONDS}",
            secret = self.to_base32(),
        )
    }
}

/// Why a secret could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text is not valid base32.
    #[error("the secret is not valid base32: {0}")]
    Base32(#[from] Base32Error),
    /// The text decodes to the wrong number of bytes.
    #[error("the secret must be {SECRET_LEN} bytes (32 base32 characters), not {bytes} bytes")]
    WrongLength {
        /// How many bytes the text decoded to.
        bytes: usize,
    },
}

/// Why a code was refused by [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The code is not exactly [`DIGITS`] ASCII digits.
    #[error("a one-time code is exactly 6 digits (0–9), with no spaces")]
    Malformed,
    /// The code matches no step in the accepted window.
    #[error(
        "the one-time code is wrong or expired; enter the code your authenticator app shows now"
    )]
    Mismatch,
    /// The code matches a step that was already used (or is older than one that was).
    #[error("this one-time code was already used; wait for the next code and enter that")]
    Replayed {
        /// The step the code matched.
        step: u64,
    },
}

/// The time step (RFC 6238's `T`) that contains `unix_seconds`.
pub fn step_at(unix_seconds: u64) -> u64 {
    unix_seconds / PERIOD_SECONDS
}

/// The code for the time step containing `unix_seconds`: [`DIGITS`] digits, zero-padded.
pub fn code_at(secret: &Secret, unix_seconds: u64) -> String {
    let digits = code_for_step(secret, step_at(unix_seconds));
    digits.iter().map(|&d| char::from(d)).collect()
}

/// Checks `code` against the step containing `unix_seconds` and [`DRIFT_STEPS`] steps either
/// side. On success returns the matched step: store it and pass it as `last_used_step` on the
/// next call so the same code cannot be used twice. When the code matches more than one step
/// (a 6-digit collision), the latest is returned, which refuses the most on replay.
///
/// # Errors
/// - [`TotpError::Malformed`]: `code` is not exactly [`DIGITS`] ASCII digits (checked first; no
///   trimming is done).
/// - [`TotpError::Replayed`]: the code matches only steps ≤ `last_used_step`.
/// - [`TotpError::Mismatch`]: the code matches no step in the window.
pub fn verify(
    secret: &Secret,
    code: &str,
    unix_seconds: u64,
    last_used_step: Option<u64>,
) -> Result<u64, TotpError> {
    let given: [u8; DIGITS] = code
        .as_bytes()
        .try_into()
        .map_err(|_| TotpError::Malformed)?;
    if !given.iter().all(u8::is_ascii_digit) {
        return Err(TotpError::Malformed);
    }

    let now = step_at(unix_seconds);
    let first = now.saturating_sub(DRIFT_STEPS);
    let last = now.saturating_add(DRIFT_STEPS);
    let mut fresh = None;
    let mut replayed = None;
    // Every step in the window is computed and compared, match or not, so the time taken does
    // not reveal which step (if any) matched.
    for step in first..=last {
        if constant_time_eq(&code_for_step(secret, step), &given) {
            if last_used_step.is_some_and(|used| step <= used) {
                replayed = Some(step);
            } else {
                fresh = Some(step);
            }
        }
    }
    match (fresh, replayed) {
        (Some(step), _) => Ok(step),
        (None, Some(step)) => Err(TotpError::Replayed { step }),
        (None, None) => Err(TotpError::Mismatch),
    }
}

/// HOTP (RFC 4226) of `step`: HMAC-SHA1 of the big-endian counter, dynamic truncation, and the
/// last [`DIGITS`] decimal digits as ASCII.
fn code_for_step(secret: &Secret, step: u64) -> [u8; DIGITS] {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&secret.0)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(&step.to_be_bytes());
    let hash: [u8; 20] = mac.finalize().into_bytes().into();

    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    let mut value = binary % MODULUS;
    let mut digits = [b'0'; DIGITS];
    for digit in digits.iter_mut().rev() {
        // `value % 10` is below 10, so the cast cannot truncate.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    digits
}

/// Compares two codes without an early exit, so timing does not reveal how many leading digits
/// were right.
fn constant_time_eq(a: &[u8; DIGITS], b: &[u8; DIGITS]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Why text could not be decoded by [`decode_base32`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Base32Error {
    /// A character outside `A–Z`, `a–z`, `2–7`, space and `=`.
    #[error("{character:?} at position {position} is not a base32 character (A–Z and 2–7 only)")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its position in the text, counted in characters from 0.
        position: usize,
    },
    /// A base32 character after `=` padding.
    #[error("base32 text continues after its '=' padding at position {position}")]
    DataAfterPadding {
        /// The position of the character after the padding, counted in characters from 0.
        position: usize,
    },
    /// A number of characters no byte string encodes to (1, 3 or 6 more than a multiple of 8):
    /// the text was cut short or has a character too many.
    #[error("base32 text of {symbols} characters is truncated or has a character too many")]
    Truncated {
        /// How many base32 characters the text has (spaces and padding not counted).
        symbols: usize,
    },
}

/// Encodes bytes as RFC 4648 base32 (upper case) without `=` padding.
pub fn encode_base32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(bytes)
}

/// Decodes RFC 4648 base32. Letters may be upper or lower case; spaces anywhere and trailing `=`
/// padding are ignored, since people copy secrets in groups and from padded URIs.
///
/// # Errors
/// [`Base32Error::InvalidCharacter`] for any other character, [`Base32Error::DataAfterPadding`]
/// when base32 characters follow `=`, and [`Base32Error::Truncated`] when the number of
/// characters is one no byte string encodes to.
pub fn decode_base32(text: &str) -> Result<Vec<u8>, Base32Error> {
    // What people type is normalised here (with positions kept for the message); the decoding
    // itself is data-encoding's.
    let mut symbols = String::with_capacity(text.len());
    let mut padded = false;
    for (position, character) in text.chars().enumerate() {
        match character {
            ' ' => {}
            '=' => padded = true,
            'A'..='Z' | 'a'..='z' | '2'..='7' if padded => {
                return Err(Base32Error::DataAfterPadding { position });
            }
            'A'..='Z' | '2'..='7' => symbols.push(character),
            'a'..='z' => symbols.push(character.to_ascii_uppercase()),
            _ => {
                return Err(Base32Error::InvalidCharacter {
                    character,
                    position,
                });
            }
        }
    }
    LENIENT_BASE32
        .decode(symbols.as_bytes())
        .map_err(|_| Base32Error::Truncated {
            symbols: symbols.len(),
        })
}

/// RFC 4648 base32 without padding that ignores the unused low bits of the last character, as
/// authenticator apps do.
static LENIENT_BASE32: std::sync::LazyLock<data_encoding::Encoding> =
    std::sync::LazyLock::new(|| {
        let mut spec = data_encoding::BASE32_NOPAD.specification();
        spec.check_trailing_bits = false;
        spec.encoding()
            .unwrap_or_else(|e| unreachable!("a valid base32 specification: {e}"))
    });

/// Percent-encodes everything except RFC 3986 unreserved characters, byte by byte of UTF-8.
fn percent_encode(text: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests;
