//! VAPID (RFC 8292): the `Authorization: vapid t=<JWT>, k=<public key>` header that tells a
//! push service which server sends. The JWT is ES256 over `{"aud", "exp", "sub"}`: `aud` the
//! origin of the endpoint, `exp` 12 hours ahead (the RFC allows at most 24), `sub` the
//! operator's `mailto:` or `https:` contact.

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::json;

/// How far ahead a token expires, in seconds.
pub const LIFETIME_SECS: u64 = 12 * 3600;

fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

/// The origin of an endpoint URL (`https://push.example.net`, with a port only when it is
/// not the scheme's own), or `None` for a URL without a host.
pub fn origin(endpoint: &url::Url) -> Option<String> {
    let host = endpoint.host_str()?;
    Some(match endpoint.port() {
        Some(p) => format!("{}://{host}:{p}", endpoint.scheme()),
        None => format!("{}://{host}", endpoint.scheme()),
    })
}

/// The header's value for a request to `audience` at `now_secs` (Unix seconds).
pub fn authorization(
    key: &SigningKey,
    public_b64: &str,
    audience: &str,
    subject: &str,
    now_secs: u64,
) -> String {
    let header = b64(br#"{"typ":"JWT","alg":"ES256"}"#);
    let claims = json!({ "aud": audience, "exp": now_secs + LIFETIME_SECS, "sub": subject });
    let claims = b64(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{claims}");
    let signature: Signature = key.sign(signing_input.as_bytes());
    format!(
        "vapid t={signing_input}.{}, k={public_b64}",
        b64(&signature.to_bytes())
    )
}

/// Checks a VAPID subject: `mailto:` with an address, or an `https:` URL.
///
/// # Errors
/// A sentence saying what is wrong.
pub fn check_subject(subject: &str) -> Result<(), String> {
    let ok = match subject.split_once(':') {
        Some(("mailto", rest)) => rest.contains('@') && !rest.contains(char::is_whitespace),
        Some(("https", _)) => url::Url::parse(subject).is_ok_and(|u| u.host_str().is_some()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "push subject `{subject}` must be a mailto: address or an https: URL where push \
             services can reach the operator, e.g. mailto:admin@example.org"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_the_endpoint_origin_without_a_default_port() {
        let u = |s: &str| url::Url::parse(s).unwrap_or_else(|_| unreachable!());
        assert_eq!(
            origin(&u("https://fcm.googleapis.com/fcm/send/abc")).as_deref(),
            Some("https://fcm.googleapis.com")
        );
        assert_eq!(
            origin(&u("https://push.example.net:443/x")).as_deref(),
            Some("https://push.example.net")
        );
        assert_eq!(
            origin(&u("http://127.0.0.1:4711/x")).as_deref(),
            Some("http://127.0.0.1:4711")
        );
    }

    #[test]
    fn subjects_are_a_mail_address_or_an_https_url() {
        assert!(check_subject("mailto:admin@example.org").is_ok());
        assert!(check_subject("https://door.example.org/contact").is_ok());
        assert!(check_subject("http://door.example.org").is_err());
        assert!(check_subject("admin@example.org").is_err());
        assert!(check_subject("mailto:nobody").is_err());
    }
}
