//! Webhook secrets and signatures, after the Standard Webhooks convention: a secret is
//! `whsec_` and the base64 of 32 random bytes (the bytes are the HMAC key); a request carries
//! `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`, a space-separated
//! list of `v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, one per valid secret.
//! Pure: no clock, no storage.

use std::fmt;

use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::secrets::random_bytes;
use crate::{AppError, Result};

/// The prefix of a secret as shown.
pub const PREFIX: &str = "whsec_";

/// A signing key. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(****)")
    }
}

impl SigningKey {
    /// 32 fresh random bytes.
    ///
    /// # Errors
    /// `Internal` when the random source fails.
    pub fn random() -> Result<SigningKey> {
        Ok(SigningKey(random_bytes::<32>()?.to_vec()))
    }

    pub(crate) fn from_bytes(bytes: Vec<u8>) -> SigningKey {
        SigningKey(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as shown to its owner once: `whsec_` and base64.
    pub fn shown(&self) -> String {
        format!("{PREFIX}{}", BASE64.encode(&self.0))
    }

    /// Reads a secret as shown (for a receiver written in Rust, and the benchmark).
    ///
    /// # Errors
    /// `Invalid("secret")` without the prefix or with bad base64.
    pub fn parse(shown: &str) -> Result<SigningKey> {
        let b64 = shown
            .strip_prefix(PREFIX)
            .ok_or_else(|| AppError::invalid("secret", "a webhook secret starts with whsec_"))?;
        BASE64
            .decode(b64.as_bytes())
            .map(SigningKey)
            .map_err(|_| AppError::invalid("secret", "the part after whsec_ is not base64"))
    }

    /// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(&mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header for `keys` (the current secret first).
pub fn signature_header(keys: &[SigningKey], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| k.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_example_signature_is_reproduced() {
        // The test vector of the Standard Webhooks specification.
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        assert_eq!(
            key.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_shows_with_its_prefix_and_reads_back() {
        let key = SigningKey::random().expect("random");
        let shown = key.shown();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(SigningKey::parse(&shown).expect("parse"), key);
        assert!(!format!("{key:?}").contains(&shown[6..]));
        assert!(SigningKey::parse("abc").is_err());
    }

    #[test]
    fn the_header_carries_one_signature_per_key() {
        let a = SigningKey::random().expect("random");
        let b = SigningKey::random().expect("random");
        let h = signature_header(&[a.clone(), b.clone()], "7", 1, b"{}");
        assert_eq!(
            h,
            format!("{} {}", a.sign("7", 1, b"{}"), b.sign("7", 1, b"{}"))
        );
    }
}
