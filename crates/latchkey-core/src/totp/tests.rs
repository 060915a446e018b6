// Tests may unwrap: a panic is the failure report (unwrap is refused only on outside input).
#![allow(clippy::unwrap_used)]

use super::*;

/// The SHA-1 secret of RFC 6238 Appendix B: the ASCII bytes "12345678901234567890".
fn rfc_secret() -> Secret {
    Secret::from_bytes(*b"12345678901234567890")
}

/// A time in the middle of a step, so ±30 s stays one step away.
const T: u64 = 1_111_111_111;

#[test]
fn codes_match_the_rfc_6238_sha1_vectors() {
    // Appendix B lists 8-digit codes; a 6-digit code is their last 6 digits.
    let vectors = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    let secret = rfc_secret();
    for (time, eight_digits) in vectors {
        assert_eq!(code_at(&secret, time), eight_digits[2..], "time {time}");
    }
}

#[test]
fn codes_are_six_digits_zero_padded() {
    let secret = rfc_secret();
    assert_eq!(code_at(&secret, 1_111_111_109), "081804");
    assert_eq!(code_at(&secret, 1_234_567_890), "005924");
}

#[test]
fn a_code_is_the_same_for_the_whole_step() {
    let secret = rfc_secret();
    assert_eq!(
        code_at(&secret, 1_111_111_110),
        code_at(&secret, 1_111_111_139)
    );
    assert_ne!(
        code_at(&secret, 1_111_111_139),
        code_at(&secret, 1_111_111_140)
    );
}

#[test]
fn the_current_code_is_accepted_and_its_step_returned() {
    let secret = rfc_secret();
    assert_eq!(verify(&secret, "050471", T, None), Ok(step_at(T)));
    assert_eq!(step_at(T), 37_037_037);
}

#[test]
fn one_step_of_drift_either_side_is_accepted() {
    let secret = rfc_secret();
    let now = step_at(T);
    let behind = code_at(&secret, T - PERIOD_SECONDS);
    let ahead = code_at(&secret, T + PERIOD_SECONDS);
    assert_eq!(verify(&secret, &behind, T, None), Ok(now - 1));
    assert_eq!(verify(&secret, &ahead, T, None), Ok(now + 1));
}

#[test]
fn two_steps_of_drift_either_side_are_refused() {
    let secret = rfc_secret();
    let too_old = code_at(&secret, T - 2 * PERIOD_SECONDS);
    let too_new = code_at(&secret, T + 2 * PERIOD_SECONDS);
    assert_eq!(verify(&secret, &too_old, T, None), Err(TotpError::Mismatch));
    assert_eq!(verify(&secret, &too_new, T, None), Err(TotpError::Mismatch));
}

#[test]
fn a_code_for_another_secret_is_refused() {
    let other = Secret::from_bytes([7; SECRET_LEN]);
    let code = code_at(&other, T);
    assert_ne!(code, code_at(&rfc_secret(), T));
    assert_eq!(
        verify(&rfc_secret(), &code, T, None),
        Err(TotpError::Mismatch)
    );
}

#[test]
fn a_used_step_cannot_be_used_again() {
    let secret = rfc_secret();
    let code = code_at(&secret, T);
    let step = verify(&secret, &code, T, None).unwrap();
    assert_eq!(
        verify(&secret, &code, T, Some(step)),
        Err(TotpError::Replayed { step })
    );
    // Still refused while the code stays in the drift window.
    assert_eq!(
        verify(&secret, &code, T + PERIOD_SECONDS, Some(step)),
        Err(TotpError::Replayed { step })
    );
}

#[test]
fn a_step_older_than_the_last_used_one_is_refused_as_replay() {
    let secret = rfc_secret();
    let earlier = code_at(&secret, T - PERIOD_SECONDS);
    assert_eq!(
        verify(&secret, &earlier, T, Some(step_at(T))),
        Err(TotpError::Replayed {
            step: step_at(T) - 1
        })
    );
}

#[test]
fn a_later_step_is_accepted_after_one_was_used() {
    let secret = rfc_secret();
    let first = verify(&secret, &code_at(&secret, T), T, None).unwrap();
    let later = T + PERIOD_SECONDS;
    assert_eq!(
        verify(&secret, &code_at(&secret, later), later, Some(first)),
        Ok(first + 1)
    );
}

#[test]
fn a_wrong_code_is_a_mismatch_not_a_replay() {
    let secret = rfc_secret();
    let wrong = if code_at(&secret, T) == "000000" {
        "000001"
    } else {
        "000000"
    };
    assert_eq!(
        verify(&secret, wrong, T, Some(step_at(T))),
        Err(TotpError::Mismatch)
    );
}

#[test]
fn malformed_codes_are_refused_before_any_comparison() {
    let secret = rfc_secret();
    for code in [
        "12345",
        "1234567",
        "12a456",
        " 123456",
        "123456 ",
        "",
        "05047١",
        "０５０４７１",
    ] {
        assert_eq!(
            verify(&secret, code, T, None),
            Err(TotpError::Malformed),
            "{code:?}"
        );
    }
}

#[test]
fn the_window_does_not_overflow_at_either_end_of_time() {
    let secret = rfc_secret();
    assert_eq!(verify(&secret, &code_at(&secret, 0), 10, None), Ok(0));
    let end = u64::MAX;
    assert_eq!(
        verify(&secret, &code_at(&secret, end), end, None),
        Ok(step_at(end))
    );
}

#[test]
fn base32_matches_the_rfc_4648_vectors() {
    let vectors = [
        ("", ""),
        ("f", "MY"),
        ("fo", "MZXQ"),
        ("foo", "MZXW6"),
        ("foob", "MZXW6YQ"),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ];
    for (plain, encoded) in vectors {
        assert_eq!(encode_base32(plain.as_bytes()), encoded, "{plain:?}");
        assert_eq!(
            decode_base32(encoded).unwrap(),
            plain.as_bytes(),
            "{encoded:?}"
        );
    }
}

#[test]
fn base32_decoding_accepts_lower_case_spaces_and_padding() {
    assert_eq!(decode_base32("mzxw6ytboi").unwrap(), b"foobar");
    assert_eq!(decode_base32("MzXw 6yTb Oi").unwrap(), b"foobar");
    assert_eq!(decode_base32("MZXW6YTBOI======").unwrap(), b"foobar");
    assert_eq!(decode_base32("MY======").unwrap(), b"f");
    assert_eq!(decode_base32("MZXW6YQ= ").unwrap(), b"foob");
}

#[test]
fn bad_base32_is_refused() {
    assert_eq!(
        decode_base32("MZXW1"),
        Err(Base32Error::InvalidCharacter {
            character: '1',
            position: 4
        })
    );
    assert_eq!(
        decode_base32("MZ-XW"),
        Err(Base32Error::InvalidCharacter {
            character: '-',
            position: 2
        })
    );
    assert_eq!(
        decode_base32("MZXW\n6"),
        Err(Base32Error::InvalidCharacter {
            character: '\n',
            position: 4
        })
    );
    assert_eq!(
        decode_base32("MZXWé"),
        Err(Base32Error::InvalidCharacter {
            character: 'é',
            position: 4
        })
    );
    assert_eq!(
        decode_base32("MY=A"),
        Err(Base32Error::DataAfterPadding { position: 3 })
    );
    for truncated in ["M", "MZX", "MZXW6Y"] {
        assert!(
            matches!(decode_base32(truncated), Err(Base32Error::Truncated { .. })),
            "{truncated:?}"
        );
    }
}

#[test]
fn a_secret_survives_a_base32_round_trip() {
    let secret = Secret::from_bytes(
        *b"\x8f\x01\xfe\x10\x7a\x00\xff\x42\x99\x13\x37\xc0\xde\x0b\xad\xf0\x0d\x5e\xa7\x21",
    );
    let text = secret.to_base32();
    assert_eq!(text.len(), 32);
    assert!(!text.contains('='));
    let back = Secret::from_base32(&text).unwrap();
    assert_eq!(back.as_bytes(), secret.as_bytes());
    let lower = Secret::from_base32(&text.to_lowercase()).unwrap();
    assert_eq!(lower.as_bytes(), secret.as_bytes());
}

#[test]
fn the_rfc_secret_has_its_known_base32_form() {
    assert_eq!(rfc_secret().to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

#[test]
fn a_secret_of_the_wrong_length_is_refused() {
    assert_eq!(
        Secret::from_base32("MZXW6YTBOI").err(),
        Some(SecretError::WrongLength { bytes: 6 })
    );
    assert_eq!(
        Secret::from_base32("not base32!").err(),
        Some(SecretError::Base32(Base32Error::InvalidCharacter {
            character: '!',
            position: 10
        }))
    );
}

#[test]
fn debug_of_a_secret_hides_its_bytes() {
    let secret = rfc_secret();
    let debug = format!("{secret:?}");
    assert_eq!(debug, "Secret(****)");
    assert!(!debug.contains(&secret.to_base32()));
    assert!(!debug.contains("12345678901234567890"));
}

#[test]
fn the_otpauth_uri_carries_the_secret_and_encodes_issuer_and_account() {
    let uri = rfc_secret().otpauth_uri("Latchkey: Maple Court", "ana.pérez+door@example.org");
    assert_eq!(
        uri,
        "otpauth://totp/Latchkey%3A%20Maple%20Court:ana.p%C3%A9rez%2Bdoor%40example.org\
         ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Latchkey%3A%20Maple%20Court\
         &algorithm=SHA1&digits=6&period=30"
    );
}
