//! Keys and secrets: the master key (from the data directory or the environment), sealing PINs
//! with XChaCha20-Poly1305, the keyed PIN digest for per-door uniqueness, the audit chain's key
//! and the key that signs its anchors, random tokens, and Argon2id password hashes.

use std::fmt;
use std::path::Path;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use latchkey_core::PropertyId;
use latchkey_core::chain::ChainKey;
use latchkey_core::chain::anchor::AnchorKey;
use latchkey_core::pin::Pin;
use sha2::{Digest, Sha256};

use crate::{AppError, Result};

type HmacSha256 = Hmac<Sha256>;

/// The keys derived from the 32-byte master key. Debug never prints them.
#[derive(Clone)]
pub struct Keys {
    seal: [u8; 32],
    digest: [u8; 32],
    chain: ChainKey,
    anchor: AnchorKey,
    /// Keys the web pages' form tokens (anti-CSRF), bound to a session or a pre-session cookie.
    form: [u8; 32],
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(****)")
    }
}

fn derive(master: &[u8; 32], label: &str) -> [u8; 32] {
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(master)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Fills a buffer from the operating system's random source.
///
/// # Errors
/// `Internal` when the OS refuses (never seen on Linux).
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| AppError::Internal(format!("random source: {e}")))?;
    Ok(buf)
}

impl Keys {
    pub fn from_master(master: &[u8; 32]) -> Keys {
        Keys {
            seal: derive(master, "latchkey pin seal v1"),
            digest: derive(master, "latchkey pin digest v1"),
            chain: ChainKey::new(&derive(master, "latchkey audit chain v1")),
            anchor: AnchorKey::new(&derive(master, "latchkey audit anchor v1")),
            form: derive(master, "latchkey form token v1"),
        }
    }

    /// The key of the audit chain's HMAC: rewriting the log needs it, not only the database.
    pub fn chain_key(&self) -> &ChainKey {
        &self.chain
    }

    /// The key that signs anchors of the chain head (a separate label, so an anchor never
    /// passes for a chain link).
    pub fn anchor_key(&self) -> &AnchorKey {
        &self.anchor
    }

    /// Parses a master key written as 64 hex digits.
    ///
    /// # Errors
    /// `Invalid` when the text is not 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Keys> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| AppError::invalid("master key", "must be 64 hex digits"))?;
        let master: [u8; 32] = bytes
            .try_into()
            .map_err(|_| AppError::invalid("master key", "must be 64 hex digits (32 bytes)"))?;
        Ok(Keys::from_master(&master))
    }

    /// Loads `master.key` from the data directory, creating it (mode 0600) on first start.
    ///
    /// # Errors
    /// `Internal` when the file cannot be read or written; `Invalid` when it is malformed.
    pub fn load_or_create(dir: &Path) -> Result<Keys> {
        let path = dir.join("master.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => Keys::from_hex(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let master = random_bytes::<32>()?;
                write_private(&path, &hex::encode(master))?;
                Ok(Keys::from_master(&master))
            }
            Err(e) => Err(AppError::Internal(format!(
                "reading {}: {e}",
                path.display()
            ))),
        }
    }

    /// Seals bytes for storage: 24-byte nonce followed by the ciphertext and tag, with `aad`
    /// bound as associated data (a sealed value copied to another context fails to open).
    ///
    /// # Errors
    /// `Internal` when the random source fails.
    pub fn seal_bytes(&self, aad: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
        let cipher = XChaCha20Poly1305::new((&self.seal).into());
        let nonce_bytes = random_bytes::<24>()?;
        let nonce = XNonce::from(nonce_bytes);
        let ct = cipher
            .encrypt(&nonce, Payload { msg, aad })
            .map_err(|_| AppError::Internal("sealing a secret failed".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens what [`Keys::seal_bytes`] sealed with the same `aad`.
    ///
    /// # Errors
    /// `Internal` when the data was not sealed with this key in this context (a wrong master
    /// key, or tampering).
    pub fn open_bytes(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 24 + 16 {
            return Err(AppError::Internal("sealed secret is too short".into()));
        }
        let cipher = XChaCha20Poly1305::new((&self.seal).into());
        let (nonce, ct) = sealed.split_at(24);
        let nonce: [u8; 24] = nonce
            .try_into()
            .map_err(|_| AppError::Internal("sealed secret nonce".into()))?;
        cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
            .map_err(|_| {
                AppError::Internal("a sealed secret does not open with this master key".into())
            })
    }

    /// Seals a PIN for storage, bound to its property.
    ///
    /// # Errors
    /// `Internal` when the random source fails.
    pub fn seal_pin(&self, property: PropertyId, pin: &Pin) -> Result<Vec<u8>> {
        self.seal_bytes(&property.0.to_be_bytes(), pin.expose().as_bytes())
    }

    /// Opens a sealed PIN.
    ///
    /// # Errors
    /// `Internal` when the data was not sealed with this key for this property (a wrong master
    /// key, or tampering).
    pub fn open_pin(&self, property: PropertyId, sealed: &[u8]) -> Result<String> {
        let pt = self.open_bytes(&property.0.to_be_bytes(), sealed)?;
        String::from_utf8(pt).map_err(|_| AppError::Internal("sealed PIN is not text".into()))
    }

    /// Keyed digest of a PIN within a property: equal PINs give equal digests, and nobody
    /// without the master key can test guesses against it.
    pub fn pin_digest(&self, property: PropertyId, pin: &Pin) -> Vec<u8> {
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(&self.digest)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(&property.0.to_be_bytes());
        mac.update(pin.expose().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

impl Keys {
    /// The form token for `binding` (a session, a pre-session cookie, a case): a keyed digest,
    /// so the server checks it without storing it and nobody without the master key can make one.
    pub fn form_token(&self, binding: &str) -> String {
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(&self.form)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(binding.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| AppError::Internal(format!("creating {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| AppError::Internal(format!("writing {}: {e}", path.display())))
}

/// A new random bearer token (256 bits) with a readable prefix, and the digest to store.
///
/// # Errors
/// `Internal` when the random source fails.
pub fn new_token(prefix: &str) -> Result<(String, Vec<u8>)> {
    let token = format!("{prefix}_{}", hex::encode(random_bytes::<32>()?));
    let digest = token_digest(&token);
    Ok((token, digest))
}

/// The stored form of a bearer token.
pub fn token_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Hashes a password with Argon2id (the crate's defaults: 19 MiB, 2 passes). CPU-heavy: call
/// from a blocking thread.
///
/// # Errors
/// `Internal` when hashing fails.
pub fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))
}

/// Whether `password` matches `hash`. A malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Checks a new password's strength.
///
/// # Errors
/// `Invalid` naming the rule that failed.
pub fn check_password_strength(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < 10 {
        return Err(AppError::invalid(
            "password",
            "must be at least 10 characters long",
        ));
    }
    if n > 256 {
        return Err(AppError::invalid(
            "password",
            "must be at most 256 characters long",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::pin::PinContext;

    fn keys() -> Keys {
        Keys::from_master(&[7u8; 32])
    }

    fn pin(s: &str) -> Pin {
        Pin::parse(s, &PinContext { unit_label: None }).unwrap()
    }

    #[test]
    fn a_sealed_pin_opens_only_with_its_key_and_property() {
        let k = keys();
        let sealed = k.seal_pin(PropertyId(1), &pin("4829")).unwrap();
        assert!(
            !sealed.windows(4).any(|w| w == b"4829"),
            "ciphertext must not contain the PIN"
        );
        assert_eq!(k.open_pin(PropertyId(1), &sealed).unwrap(), "4829");
        assert!(k.open_pin(PropertyId(2), &sealed).is_err());
        assert!(
            Keys::from_master(&[8u8; 32])
                .open_pin(PropertyId(1), &sealed)
                .is_err()
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(k.open_pin(PropertyId(1), &tampered).is_err());
    }

    #[test]
    fn digests_are_equal_for_equal_pins_within_a_property_only() {
        let k = keys();
        assert_eq!(
            k.pin_digest(PropertyId(1), &pin("4829")),
            k.pin_digest(PropertyId(1), &pin("4829"))
        );
        assert_ne!(
            k.pin_digest(PropertyId(1), &pin("4829")),
            k.pin_digest(PropertyId(1), &pin("4830"))
        );
        assert_ne!(
            k.pin_digest(PropertyId(1), &pin("4829")),
            k.pin_digest(PropertyId(2), &pin("4829"))
        );
    }

    #[test]
    fn passwords_verify_and_wrong_ones_do_not() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn master_key_is_created_once_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("lk-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join("master.key"));
        let a = Keys::load_or_create(&dir).unwrap();
        let b = Keys::load_or_create(&dir).unwrap();
        assert_eq!(a.seal, b.seal);
        assert!(Keys::from_hex("zz").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
