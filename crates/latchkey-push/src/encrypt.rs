//! Message encryption for Web Push (RFC 8291) in the `aes128gcm` content coding (RFC 8188),
//! as one record. The steps, each named as the RFCs name them:
//!
//! 1. A fresh P-256 key pair (`as_private`, `as_public`) per message, and ECDH with the
//!    browser's `ua_public` gives `ecdh_secret`.
//! 2. `IKM = HKDF(salt = auth_secret, ikm = ecdh_secret, info = "WebPush: info" 0x00 ua_public
//!    as_public, 32 bytes)`.
//! 3. A random 16-byte `salt`; `PRK = HKDF-Extract(salt, IKM)`; the content key `CEK` (16
//!    bytes, info `"Content-Encoding: aes128gcm" 0x00`) and `NONCE` (12 bytes, info
//!    `"Content-Encoding: nonce" 0x00`).
//! 4. The record is the payload followed by the delimiter 0x02 (last record), sealed with
//!    AES-128-GCM under `CEK` and `NONCE` (record 0, so the nonce is used as derived).
//! 5. The body is the header `salt || rs (4096, u32 big-endian) || idlen (65) || as_public`
//!    followed by the sealed record.

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The record size written in the header: one record holds any payload we send.
pub const RECORD_SIZE: u32 = 4096;

/// What went wrong: the subscription's keys are unusable, or randomness failed.
#[derive(Debug, PartialEq, Eq)]
pub struct EncryptError(pub String);

fn random<const N: usize>() -> Result<[u8; N], EncryptError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| EncryptError(format!("random source: {e}")))?;
    Ok(b)
}

fn ephemeral() -> Result<SecretKey, EncryptError> {
    for _ in 0..8 {
        if let Ok(k) = SecretKey::from_slice(&random::<32>()?) {
            return Ok(k);
        }
    }
    Err(EncryptError(
        "no valid P-256 key from the random source".into(),
    ))
}

fn expand(prk: &Hkdf<Sha256>, info: &[u8], out: &mut [u8]) -> Result<(), EncryptError> {
    prk.expand(info, out)
        .map_err(|_| EncryptError("HKDF output length".into()))
}

/// Encrypts `payload` for the browser whose public key is `ua_public` (65 bytes) and whose
/// authentication secret is `auth_secret` (16 bytes). Returns the request body.
///
/// # Errors
/// The keys are not a P-256 point and 16 bytes; the payload does not fit one record.
pub fn encrypt(
    ua_public: &[u8],
    auth_secret: &[u8],
    payload: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    encrypt_with(
        ua_public,
        auth_secret,
        payload,
        &ephemeral()?,
        random::<16>()?,
    )
}

/// [`encrypt`] with the sender's key pair and the salt given (for the RFC's test vector).
///
/// # Errors
/// As [`encrypt`].
pub fn encrypt_with(
    ua_public: &[u8],
    auth_secret: &[u8],
    payload: &[u8],
    as_private: &SecretKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, EncryptError> {
    if auth_secret.len() != 16 {
        return Err(EncryptError(
            "the authentication secret is not 16 bytes".into(),
        ));
    }
    // Payload, delimiter and tag must fit the record.
    if payload.len() + 1 + 16 > RECORD_SIZE as usize {
        return Err(EncryptError("the payload does not fit one record".into()));
    }
    let ua = PublicKey::from_sec1_bytes(ua_public)
        .map_err(|_| EncryptError("the subscription's key is not a P-256 point".into()))?;
    let as_public = as_private.public_key().to_sec1_point(false);
    let as_public = as_public.as_bytes();
    let ua_public = ua.to_sec1_point(false);
    let ua_public = ua_public.as_bytes();
    let shared = as_private.diffie_hellman(&ua);

    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    expand(
        &Hkdf::<Sha256>::new(Some(auth_secret), shared.raw_secret_bytes()),
        &key_info,
        &mut ikm,
    )?;

    let prk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let mut cek = [0u8; 16];
    expand(&prk, b"Content-Encoding: aes128gcm\0", &mut cek)?;
    let mut nonce = [0u8; 12];
    expand(&prk, b"Content-Encoding: nonce\0", &mut nonce)?;

    let mut record = payload.to_vec();
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| EncryptError("CEK length".into()))?;
    let sealed = cipher
        .encrypt(&nonce.into(), record.as_slice())
        .map_err(|_| EncryptError("AES-GCM failed".into()))?;

    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        data_encoding::BASE64URL_NOPAD
            .decode(s.as_bytes())
            .unwrap_or_default()
    }

    /// RFC 8291, section 5 and appendix A: the example message, byte for byte.
    #[test]
    fn the_rfc_example_encrypts_to_the_rfc_bytes() {
        let as_private = SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"))
            .unwrap_or_else(|_| unreachable!("the RFC's key is valid"));
        let ua_public = b64(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        );
        let auth = b64("BTBZMqHH6r4Tts7J_aSIgg");
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw")
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        let body = encrypt_with(
            &ua_public,
            &auth,
            b"When I grow up, I want to be a watermelon",
            &as_private,
            salt,
        )
        .unwrap_or_default();
        assert_eq!(
            data_encoding::BASE64URL_NOPAD.encode(&body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }
}
