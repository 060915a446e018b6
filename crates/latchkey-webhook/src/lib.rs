//! latchkey's webhook channel: the outbox's [`WebhookSender`] port over HTTP/1.1 (hyper's
//! client, TLS by rustls with the ring provider and the Web PKI roots). The only crate that
//! makes outbound HTTP requests. Depends on `latchkey-app` for the port only.
//!
//! What it guarantees (docs/OPERATIONS.md, "Webhooks"):
//!
//! 1. **Bounded**: connecting, sending and reading the answer take at most `timeout` together.
//! 2. **No redirects**: a 3xx is reported as it is (a failed attempt), never followed.
//! 3. **Addresses**: the host is resolved here and each address checked before connecting
//!    (so a name cannot be re-pointed between check and use): link-local addresses (the cloud
//!    metadata service at 169.254.169.254 among them), unspecified, multicast and broadcast
//!    ones are always refused; loopback and private ones only when [`Targets::PublicOnly`].
//! 4. **Reuse**: an idle connection per origin is kept and reused (keep-alive).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use latchkey_app::outbox::{Posting, WebhookRequest, WebhookSender};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

/// Which addresses an endpoint may resolve to (an admin's setting: `webhooks.targets`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Targets {
    /// Public, private (LAN) and loopback addresses: receivers on the same network, like a
    /// home automation server.
    AnyButLinkLocal,
    /// Public addresses only.
    PublicOnly,
}

/// The sender's settings.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Per request, connect to last byte of the answer (10 s).
    pub timeout: Duration,
    pub targets: Targets,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(10),
            targets: Targets::AnyButLinkLocal,
        }
    }
}

type Conn = SendRequest<Full<Bytes>>;

/// POSTs webhooks.
pub struct HttpSender {
    config: HttpConfig,
    tls: TlsConnector,
    idle: Mutex<HashMap<String, Vec<Conn>>>,
}

/// The bytes of an answer read at most (the rest is dropped with the connection).
const ANSWER_LIMIT: usize = 64 * 1024;

impl HttpSender {
    pub fn new(config: HttpConfig) -> HttpSender {
        let roots = tokio_rustls::rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"));
        HttpSender {
            config,
            tls: TlsConnector::from(Arc::new(tls)),
            idle: Mutex::new(HashMap::new()),
        }
    }

    async fn exchange(&self, r: &WebhookRequest) -> Result<u16, String> {
        let url = url::Url::parse(&r.url).map_err(|e| format!("bad URL: {e}"))?;
        let host = url.host_str().ok_or("the URL has no host")?.to_owned();
        let port = url.port_or_known_default().ok_or("the URL has no port")?;
        let origin = format!("{}://{host}:{port}", url.scheme());
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        let mut conn = match self.take_idle(&origin) {
            Some(c) => c,
            None => self.connect(&url, &host, port).await?,
        };
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "latchkey-webhooks/1")
            .header("webhook-id", &r.id)
            .header("webhook-timestamp", r.timestamp.to_string())
            .header("webhook-signature", &r.signature)
            .body(Full::new(Bytes::from(r.body.clone())))
            .map_err(|e| format!("building the request: {e}"))?;
        let answer = conn
            .send_request(request)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        let status = answer.status().as_u16();
        let mut body = answer.into_body();
        let mut read = 0usize;
        let mut complete = true;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading the answer: {e}"))?;
            if let Some(d) = frame.data_ref() {
                read += d.len();
                if read > ANSWER_LIMIT {
                    complete = false;
                    break;
                }
            }
        }
        if complete && conn.is_ready() {
            self.put_idle(origin, conn);
        }
        Ok(status)
    }

    fn take_idle(&self, origin: &str) -> Option<Conn> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = idle.get_mut(origin)?;
        while let Some(c) = list.pop() {
            if c.is_ready() && !c.is_closed() {
                return Some(c);
            }
        }
        None
    }

    fn put_idle(&self, origin: String, conn: Conn) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = idle.entry(origin).or_default();
        if list.len() < 8 {
            list.push(conn);
        }
    }

    async fn connect(&self, url: &url::Url, host: &str, port: u16) -> Result<Conn, String> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("resolving {host}: {e}"))?
            .collect();
        let addr = addrs
            .iter()
            .copied()
            .find(|a| allowed(a.ip(), self.config.targets))
            .ok_or_else(|| {
                format!(
                    "{host} resolves only to addresses webhooks may not reach ({}); see \
                     docs/OPERATIONS.md, \"Webhooks\"",
                    addrs
                        .iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if url.scheme() == "https" {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| format!("{host} is not a TLS server name: {e}"))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}: {e}"))?;
            handshake(TokioIo::new(tls)).await
        } else {
            handshake(TokioIo::new(tcp)).await
        }
    }
}

async fn handshake<T>(io: T) -> Result<Conn, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (send, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "a webhook connection ended");
        }
    });
    Ok(send)
}

/// Whether a webhook may connect to `ip` (rule 3 of the crate's list).
pub fn allowed(ip: IpAddr, targets: Targets) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let never = match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xffc0) == 0xfe80 || v6.is_unspecified() || v6.is_multicast()
                // The cloud metadata service's IPv6 address.
                || v6 == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    };
    if never {
        return false;
    }
    match targets {
        Targets::AnyButLinkLocal => true,
        Targets::PublicOnly => match ip {
            IpAddr::V4(v4) => {
                !(v4.is_loopback()
                    || v4.is_private()
                    || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64))
            }
            IpAddr::V6(v6) => !(v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00),
        },
    }
}

impl WebhookSender for HttpSender {
    fn post<'a>(&'a self, request: &'a WebhookRequest) -> Posting<'a> {
        Box::pin(async move {
            match tokio::time::timeout(self.config.timeout, self.exchange(request)).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "no answer within {} s",
                    self.config.timeout.as_secs_f64()
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| unreachable!("test address"))
    }

    #[test]
    fn the_metadata_service_and_link_local_addresses_are_never_reached() {
        for t in [Targets::AnyButLinkLocal, Targets::PublicOnly] {
            for a in [
                "169.254.169.254",
                "fe80::1",
                "0.0.0.0",
                "::ffff:169.254.169.254",
                "fd00:ec2::254",
                "224.0.0.1",
            ] {
                assert!(!allowed(ip(a), t), "{a} {t:?}");
            }
        }
    }

    #[test]
    fn private_addresses_are_reached_only_when_the_setting_allows() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.10",
            "172.16.0.1",
            "::1",
            "fd12::1",
            "100.64.0.1",
        ] {
            assert!(allowed(ip(a), Targets::AnyButLinkLocal), "{a}");
            assert!(!allowed(ip(a), Targets::PublicOnly), "{a}");
        }
        assert!(allowed(ip("93.184.216.34"), Targets::PublicOnly));
    }
}
