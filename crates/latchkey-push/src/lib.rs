//! latchkey's Web Push channel: [`WebPush`] implements the outbox's [`Pusher`] port. Each
//! message is encrypted for its subscription ([`encrypt`], RFC 8291 `aes128gcm`), signed for
//! with the server's VAPID key ([`vapid`], RFC 8292) and posted to the subscription's push
//! service (RFC 8030) over HTTP/1.1 with rustls (the ring provider, webpki roots; no OpenSSL,
//! no aws-lc), with `TTL`, `Urgency` (high for security notices) and `Content-Encoding`.
//!
//! What the push service answers decides what happens next: 2xx is delivered; 404 and 410
//! mean the browser unsubscribed (the subscription is dropped, the delivery ends); 429 and
//! 5xx, a timeout or a broken connection are retried by the outbox; any other 4xx is refused
//! for good.
//!
//! Depends on `latchkey-app` (for the port, the message and the key) only; the binary wires it.

pub mod encrypt;
pub mod vapid;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use latchkey_app::outbox::{PushError, PushMessage, Pusher, Pushing, SendError};
use latchkey_app::push::VapidKey;
use latchkey_app::{Clock, SystemClock};
use p256::ecdsa::SigningKey;
use tokio::net::TcpStream;

/// Options of the channel.
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// The operator's contact for push services: `mailto:` or `https:`.
    pub subject: String,
    /// How long one request may take, connection included.
    pub timeout: Duration,
}

/// The Web Push channel.
pub struct WebPush {
    key: SigningKey,
    public_b64: String,
    subject: String,
    timeout: Duration,
    tls: tokio_rustls::TlsConnector,
    /// The JWT's expiry is checked against the push service's clock: real time.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for WebPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebPush({}, {})", self.subject, self.public_b64)
    }
}

impl WebPush {
    /// The channel signing with `key`.
    ///
    /// # Errors
    /// A sentence: the subject is not a `mailto:` or `https:` contact, or TLS cannot be set up.
    pub fn new(key: &VapidKey, config: &PushConfig) -> Result<WebPush, String> {
        vapid::check_subject(&config.subject)?;
        let signing = SigningKey::from_slice(key.secret_bytes())
            .map_err(|_| "the VAPID key is not a P-256 key".to_owned())?;
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(WebPush {
            key: signing,
            public_b64: key.public_base64(),
            subject: config.subject.clone(),
            timeout: config.timeout,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            clock: Arc::new(SystemClock),
        })
    }

    async fn send(&self, m: &PushMessage) -> Result<(), PushError> {
        let permanent = |why: String| PushError::Send(SendError::Permanent(why));
        let transient = |why: String| PushError::Send(SendError::Transient(why));
        let url = url::Url::parse(&m.endpoint)
            .map_err(|_| permanent("the subscription's endpoint is not a URL".into()))?;
        let audience = vapid::origin(&url)
            .ok_or_else(|| permanent("the subscription's endpoint has no host".into()))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(permanent(format!("endpoint scheme `{other}`"))),
        };
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let body = encrypt::encrypt(&m.p256dh, &m.auth, &m.payload)
            .map_err(|e| permanent(format!("encrypting: {}", e.0)))?;
        let now = u64::try_from(self.clock.now().as_second()).unwrap_or(0);
        let authorization =
            vapid::authorization(&self.key, &self.public_b64, &audience, &self.subject, now);
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let authority = audience
            .split_once("://")
            .map_or(audience.as_str(), |(_, a)| a)
            .to_owned();
        let request = Request::post(path)
            .header(hyper::header::HOST, authority)
            .header("TTL", m.ttl.as_secs().to_string())
            .header("Urgency", m.urgency.as_str())
            .header(hyper::header::CONTENT_ENCODING, "aes128gcm")
            .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
            .header(hyper::header::AUTHORIZATION, authorization)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| permanent(format!("building the request: {e}")))?;
        let exchange = async {
            let tcp = TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
            let _ = tcp.set_nodelay(true);
            if https {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|_| format!("`{host}` is not a TLS server name"))?;
                let tls = self
                    .tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS with {host}: {e}"))?;
                exchange(TokioIo::new(tls), request).await
            } else {
                exchange(TokioIo::new(tcp), request).await
            }
        };
        let (status, text) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                transient(format!(
                    "the push service did not answer in {:?}",
                    self.timeout
                ))
            })?
            .map_err(transient)?;
        classify(status, &text)
    }
}

/// One request and its answer on a fresh connection.
async fn exchange<T>(io: T, request: Request<Full<Bytes>>) -> Result<(StatusCode, String), String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let driver = tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP: {e}"));
    let out = match response {
        Ok(r) => {
            let status = r.status();
            let text = Limited::new(r.into_body(), 2048)
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                .unwrap_or_default();
            Ok((status, text))
        }
        Err(e) => Err(e),
    };
    driver.abort();
    out
}

/// What a push service's answer means for the delivery.
///
/// # Errors
/// `Gone` for 404 and 410; `Transient` for 429 and 5xx; `Permanent` for any other non-2xx.
pub fn classify(status: StatusCode, text: &str) -> Result<(), PushError> {
    let said = |s: StatusCode| {
        let t: String = text.chars().take(200).collect();
        if t.trim().is_empty() {
            format!("HTTP {}", s.as_u16())
        } else {
            format!("HTTP {}: {}", s.as_u16(), t.trim())
        }
    };
    match status.as_u16() {
        200..=299 => Ok(()),
        404 | 410 => Err(PushError::Gone(format!("HTTP {}", status.as_u16()))),
        429 | 500..=599 => Err(PushError::Send(SendError::Transient(said(status)))),
        _ => Err(PushError::Send(SendError::Permanent(said(status)))),
    }
}

impl Pusher for WebPush {
    fn push<'a>(&'a self, message: &'a PushMessage) -> Pushing<'a> {
        Box::pin(async move {
            let r = self.send(message).await;
            if let Err(e) = &r {
                tracing::debug!(delivery = message.delivery_id, error = %e, "push not accepted");
            }
            r
        })
    }
}
