//! The embedded broker: rumqttd in-process.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttd::local::LinkBuilder;
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::v5::V5;
use rumqttd::{ConnectionSettings, LinkType, Router, RouterConfig, Server, ServerSettings};
use tokio::sync::mpsc;

use crate::front::{Authenticator, Front};
use crate::local::{self, Connector, Link};
use crate::{Inbound, MqttError, MqttUrl, QoS, SessionHandle};

/// A certificate chain and its private key, PEM files, for TLS on the device listener.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How to run the embedded broker.
#[derive(Clone)]
pub struct BrokerOptions {
    /// Where Zigbee2MQTT and devices connect (MQTT 3.1.1, the Zigbee2MQTT default). Port 0 picks a
    /// free port; [`EmbeddedBroker::listen_addr`] tells which.
    pub listen: SocketAddr,
    /// Most simultaneous client connections, over both listeners.
    pub max_connections: usize,
    /// Largest PUBLISH payload accepted, in bytes.
    pub max_payload: usize,
    /// The client id of latchkey's own **in-process** session, taken with
    /// [`EmbeddedBroker::take_local_session`]. `None` (the default) creates none.
    ///
    /// The id is a connection like any other in the broker: a TCP client that connects with the
    /// same id takes it over (the local session then reconnects and takes it back), so pick one
    /// no device uses. It must not contain `+`, `#`, `/` or `$`.
    pub local_client: Option<String>,
    /// Checks the logins of device clients ([`crate::Verdict`]). Without one, only anonymous
    /// clients of a loopback-only listener get in.
    pub authenticator: Option<Authenticator>,
    /// TLS on the device listener (rustls, ring); `None`: plain TCP.
    pub tls: Option<TlsFiles>,
    /// How often a connected client's login is checked again, as a safety net for a change
    /// no one told of. Default 60 s.
    pub login_recheck: Duration,
    /// Told when a login is rotated or revoked (any new value): every connected client's login
    /// is checked again at once, and the clients whose login no longer holds are disconnected.
    pub login_changes: Option<tokio::sync::watch::Receiver<u64>>,
}

impl std::fmt::Debug for BrokerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerOptions")
            .field("listen", &self.listen)
            .field("max_connections", &self.max_connections)
            .field("max_payload", &self.max_payload)
            .field("local_client", &self.local_client)
            .field("authenticator", &self.authenticator.is_some())
            .field("tls", &self.tls)
            .field("login_recheck", &self.login_recheck)
            .field("login_changes", &self.login_changes.is_some())
            .finish()
    }
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1883),
            max_connections: 20_000,
            // Zigbee2MQTT's `bridge/devices` list grows with the network; 1 MiB holds hundreds of
            // devices. Lock state messages are a few hundred bytes.
            max_payload: 1024 * 1024,
            local_client: None,
            authenticator: None,
            tls: None,
            login_recheck: Duration::from_secs(60),
            login_changes: None,
        }
    }
}

/// Whether a listen address is reachable from this machine only. Anything else (a LAN
/// address, `0.0.0.0`, `::`) refuses anonymous clients.
pub fn is_loopback_only(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// rumqttd in-process: its router on a thread named `router-0`, two listeners, each on its
/// own thread, and latchkey's front of the device listener:
///
/// - the **device listener** on [`BrokerOptions::listen`] (thread `mqtt-front`), for Zigbee2MQTT
///   and devices (MQTT 3.1.1, optionally TLS): it checks logins and holds each client to the
///   topic rules of its [`ClientRole`](crate::ClientRole), then forwards to
/// - rumqttd's **v4** listener on an ephemeral `127.0.0.1` port (thread `mqtt-v4`), which
///   accepts only the internal login;
/// - a **v5** listener on an ephemeral `127.0.0.1` port ([`EmbeddedBroker::internal_v5_addr`],
///   thread `mqtt-v5-internal`), for MQTT 5 [`Session`](crate::Session)s (shared subscriptions,
///   session expiry), also with the internal login only ([`EmbeddedBroker::internal_url`]).
///   Messages route between them;
///
/// Anonymous device clients get in only when the device listener is loopback-only
/// ([`is_loopback_only`]); on any other address every client needs a login that the
/// [`BrokerOptions::authenticator`] accepts.
///
/// and, with [`BrokerOptions::local_client`], an **in-process session** that skips TCP
/// ([`EmbeddedBroker::take_local_session`]).
///
/// **There is no graceful shutdown.** The threads end with the process; dropping this value does
/// not stop them. rumqttd keeps nothing on disk: retained messages and persistent sessions vanish
/// on restart.
///
/// rumqttd logs ordinary client disconnects at ERROR level; the binary should filter it with
/// `rumqttd=warn` in its tracing filter. rumqttd also never sets `TCP_NODELAY` on accepted
/// sockets, so when it forwards two messages back to back to one TCP client the second can wait
/// ≈ 40 ms (Nagle + delayed ACK), and QoS 1 request/response pairs stall the same way. The
/// in-process session has no socket, hence no such stall.
pub struct EmbeddedBroker {
    listen: SocketAddr,
    internal_v5: SocketAddr,
    /// The login of rumqttd's internal listeners (random per process).
    internal_login: (String, String),
    /// Makes in-process links (rumqttd's router channel, whose type rumqttd does not export).
    connector: Connector,
    /// The in-process session's client id and its first link, until taken.
    local: Mutex<Option<(String, Link)>>,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("listen", &self.listen)
            .field("internal_v5", &self.internal_v5)
            .finish_non_exhaustive()
    }
}

/// How long `start` waits for rumqttd's listeners to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

impl EmbeddedBroker {
    /// Starts the broker and returns once both listeners accept TCP connections.
    ///
    /// # Errors
    /// - [`MqttError::AddrInUse`] when `listen` is taken (its message says what to do);
    /// - [`MqttError::Bind`] when `listen` cannot be bound for another reason;
    /// - [`MqttError::BrokerStart`] when a broker thread cannot be spawned or its listeners do
    ///   not come up within 5 s;
    /// - [`MqttError::LocalSession`] when [`BrokerOptions::local_client`] is not a usable client
    ///   id or the broker refuses the in-process connection.
    ///
    /// # Panics
    /// When the OS cannot spawn rumqttd's router thread (rumqttd unwraps that).
    pub fn start(options: BrokerOptions) -> Result<Self, MqttError> {
        if let Some(id) = &options.local_client {
            local::check_client_id(id)?;
        }
        let tls = options.tls.as_ref().map(tls_acceptor).transpose()?;
        // The device listener is ours: bound here and kept.
        let device = bind(options.listen)?;
        let listen = device.local_addr().map_err(|source| MqttError::Bind {
            addr: options.listen,
            source,
        })?;
        // rumqttd binds on its own thread and only logs a failure, so find problems here first.
        let internal_v4 = probe_bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;
        let internal_v5 = probe_bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;
        let internal_login = (
            "latchkey-internal".to_owned(),
            random_secret().map_err(MqttError::BrokerStart)?,
        );

        // What `rumqttd::Broker::start` does, minus its metrics/console/bridge parts, but keeping
        // the router channel: `Broker` keeps it private, so its `link()` works only before
        // `start()` takes the broker for good, and a local session whose link the router drops
        // (a TCP client connected with the same id) could never reconnect.
        let (router, v4, v5) = broker_config(&options, internal_v4, internal_v5, &internal_login);
        let router_tx = Router::new(0, router).spawn();
        spawn_server(&v4.name.clone(), Server::new(v4, router_tx.clone(), V4))?;
        spawn_server(&v5.name.clone(), Server::new(v5, router_tx.clone(), V5))?;
        let connector: Connector = Arc::new(move |client_id: &str| {
            // `dynamic_filters` is moot in rumqttd 0.20 (`DataLog::matches` never returns None,
            // so a publish nobody subscribed to is dropped, never refused); set it like the
            // listeners do in case that changes.
            LinkBuilder::new(client_id, router_tx.clone())
                .clean_session(true)
                .dynamic_filters(true)
                .build()
                .map(|(tx, rx, _connack)| (tx, rx))
                .map_err(|e| e.to_string())
        });

        wait_until_listening(internal_v4, 4, &internal_login)?;
        wait_until_listening(internal_v5, 5, &internal_login)?;
        let front = Arc::new(Front {
            upstream: internal_v4,
            internal_user: internal_login.0.clone(),
            internal_password: internal_login.1.clone(),
            authenticator: options.authenticator.clone(),
            anonymous: is_loopback_only(listen),
            tls,
            // The largest PUBLISH plus its topic and header.
            max_packet: options.max_payload + 70_000,
            reserved_client: options.local_client.clone(),
            recheck: options.login_recheck,
            changes: options.login_changes.clone(),
        });
        spawn_front(front, device)?;
        // The router answers a link's connect at once; this is the in-process session's first
        // link, made now so that a refusal shows at start.
        let local = match options.local_client {
            Some(id) => {
                // The router occasionally drops the very first link's connect while it is still
                // settling (seen as a closed channel); a short retry gets it.
                let mut attempt = 0;
                let link = loop {
                    match connector(&id) {
                        Ok(link) => break link,
                        Err(e) if attempt >= 20 => {
                            return Err(MqttError::LocalSession(format!(
                                "the broker refused client `{id}`: {e}"
                            )));
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, attempt, "the in-process link was refused; retrying");
                            attempt += 1;
                            std::thread::sleep(Duration::from_millis(25));
                        }
                    }
                };
                Some((id, link))
            }
            None => None,
        };
        tracing::info!(
            %listen,
            %internal_v5,
            anonymous = is_loopback_only(listen),
            tls = options.tls.is_some(),
            "embedded MQTT broker listening"
        );
        Ok(Self {
            listen,
            internal_v5,
            internal_login,
            connector,
            local: Mutex::new(local),
        })
    }

    /// The in-process session of [`BrokerOptions::local_client`]: the same [`SessionHandle`] and
    /// [`Inbound`] channel as [`Session::start`](crate::Session::start), without TCP. Callable
    /// once.
    ///
    /// It subscribes to `subscriptions` (`$share/…` filters are allowed but pointless: there is
    /// one local session) and reports [`ConnState::Connected`](crate::ConnState::Connected) once
    /// the broker has acknowledged them. Differences from a TCP session:
    ///
    /// - Everything is **QoS 0** inside the process: the requested QoS of subscriptions and
    ///   publishes is ignored, messages arrive with `qos: AtMostOnce` and `ack: None`. Nothing is
    ///   lost in the hand-off; devices still get the QoS they subscribed with (rumqttd forwards
    ///   at the subscriber's QoS, whatever the publisher's).
    /// - A full inbound channel makes the broker hold this session's messages in its in-memory
    ///   log (it does not drop them until the consumer falls behind by more than the log holds,
    ///   8 segments of `max(4 × max_payload, 1 MiB)`), and publishing keeps working meanwhile.
    /// - Publishes queue in a channel of 1,024 (`try_publish` fails with `QueueFull` when it is
    ///   full) drained by the session's own thread (`mqtt-local-session`), so no call blocks a
    ///   tokio worker.
    /// - If the broker drops the link (another client connected with the same id), the session
    ///   reconnects with the same backoff as a TCP session and resubscribes; messages in
    ///   between are missed.
    ///
    /// Works inside or outside a tokio runtime.
    ///
    /// # Errors
    /// [`MqttError::LocalSession`] when no `local_client` was configured, the session was already
    /// taken, a filter is invalid (empty, or starting with `$` other than `$share/`), or its
    /// thread cannot be spawned.
    pub fn take_local_session(
        &self,
        subscriptions: Vec<(String, QoS)>,
        inbound_capacity: usize,
    ) -> Result<(SessionHandle, mpsc::Receiver<Inbound>), MqttError> {
        for (filter, _) in &subscriptions {
            local::check_filter(filter)?;
        }
        let taken = self
            .local
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some((client_id, link)) = taken else {
            return Err(MqttError::LocalSession(
                "no in-process session: BrokerOptions::local_client was not set, \
                 or the session was already taken"
                    .to_owned(),
            ));
        };
        let filters = subscriptions.into_iter().map(|(f, _)| f).collect();
        local::start(
            client_id,
            link,
            self.connector.clone(),
            filters,
            inbound_capacity,
        )
    }

    /// The v4 listener's real address (with the port picked when `listen` had port 0).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The loopback v5 listener for latchkey's own session.
    pub fn internal_v5_addr(&self) -> SocketAddr {
        self.internal_v5
    }

    /// The v5 listener's URL with its internal login: the only way in. Never log the password.
    pub fn internal_url(&self) -> MqttUrl {
        MqttUrl::tcp(self.internal_v5).with_login(&self.internal_login.0, &self.internal_login.1)
    }
}

/// 32 random bytes from the OS, as hex.
fn random_secret() -> Result<String, String> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| format!("random source: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn bind(addr: SocketAddr) -> Result<TcpListener, MqttError> {
    match TcpListener::bind(addr) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(MqttError::AddrInUse { addr }),
        Err(source) => Err(MqttError::Bind { addr, source }),
    }
}

/// The device listener's TLS: the certificate chain and key from PEM files, rustls with ring.
fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, MqttError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect)
        .map_err(|e| MqttError::Tls(format!("certificate {}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(MqttError::Tls(format!(
            "certificate {}: no certificate in the file",
            files.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| MqttError::Tls(format!("private key {}: {e}", files.key.display())))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| MqttError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| MqttError::Tls(format!("certificate and key do not make a server: {e}")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Runs the device listener's front on its own thread with a current-thread runtime.
fn spawn_front(front: Arc<Front>, listener: TcpListener) -> Result<(), MqttError> {
    std::thread::Builder::new()
        .name("mqtt-front".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "the MQTT device listener has no runtime");
                    return;
                }
            };
            runtime.block_on(front.run(listener));
        })
        .map(drop)
        .map_err(|e| MqttError::BrokerStart(format!("cannot spawn the device listener: {e}")))
}

/// Binds `addr` once to learn whether it is free (and which port 0 becomes), then releases it
/// for rumqttd. Another process could take the port in between; `wait_until_listening` would
/// then connect to that process instead, which is an accepted, very narrow race.
fn probe_bind(addr: SocketAddr) -> Result<SocketAddr, MqttError> {
    match TcpListener::bind(addr) {
        Ok(listener) => listener
            .local_addr()
            .map_err(|source| MqttError::Bind { addr, source }),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(MqttError::AddrInUse { addr }),
        Err(source) => Err(MqttError::Bind { addr, source }),
    }
}

/// A minimal MQTT CONNECT (clean session, keep-alive 60 s, the internal login) for protocol
/// level 4 or 5.
fn connect_packet(level: u8, client_id: &str, login: &(String, String)) -> Vec<u8> {
    let mut var = vec![0, 4, b'M', b'Q', b'T', b'T', level, 0xC2, 0, 60];
    if level == 5 {
        var.push(0); // no properties
    }
    for field in [client_id, &login.0, &login.1] {
        let bytes = field.as_bytes();
        var.extend_from_slice(&u16::try_from(bytes.len()).unwrap_or(0).to_be_bytes());
        var.extend_from_slice(bytes);
    }
    crate::packet::Frame {
        header: 0x10,
        body: var,
    }
    .encode()
}

/// Says hello properly (CONNECT, CONNACK, DISCONNECT) so that the broker logs no error about
/// a client that vanished before connecting.
fn handshake(mut stream: TcpStream, level: u8, login: &(String, String)) {
    use std::io::{Read, Write};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let id = format!("latchkey-probe-{}", std::process::id());
    if stream.write_all(&connect_packet(level, &id, login)).is_ok() {
        let mut ack = [0u8; 16];
        let _ = stream.read(&mut ack);
        let _ = stream.write_all(&[0xE0, 0x00]);
    }
}

fn wait_until_listening(
    addr: SocketAddr,
    level: u8,
    login: &(String, String),
) -> Result<(), MqttError> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    // A wildcard listen address is reached through loopback.
    let target = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    loop {
        match TcpStream::connect_timeout(&target, Duration::from_millis(200)) {
            Ok(stream) => {
                handshake(stream, level, login);
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(MqttError::BrokerStart(format!(
                    "nothing listens on {addr} after {STARTUP_TIMEOUT:?}: {e}"
                )));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Runs one rumqttd listener on its own thread with a current-thread runtime, as
/// `rumqttd::Broker::start` does.
fn spawn_server<P>(name: &str, mut server: Server<P>) -> Result<(), MqttError>
where
    P: rumqttd::protocol::Protocol + Clone + Send + 'static,
{
    let name = name.to_owned();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, listener = name, "MQTT listener has no runtime");
                    return;
                }
            };
            // Runs for the life of the process.
            if let Err(e) = runtime.block_on(server.start(LinkType::Remote)) {
                tracing::error!(error = %e, listener = name, "MQTT listener stopped");
            }
        })
        .map(drop)
        .map_err(|e| MqttError::BrokerStart(format!("cannot spawn a broker thread: {e}")))
}

fn broker_config(
    options: &BrokerOptions,
    internal_v4: SocketAddr,
    internal_v5: SocketAddr,
    login: &(String, String),
) -> (RouterConfig, ServerSettings, ServerSettings) {
    let connections = ConnectionSettings {
        // Time a client has to send CONNECT after the TCP handshake.
        connection_timeout_ms: 10_000,
        max_payload_size: options.max_payload,
        // QoS 1/2 messages in flight per connection; a few hundred keep a busy subscriber
        // (the server ingesting 10,000 locks' confirmations) streaming.
        max_inflight_count: 500,
        // Both listeners are internal: the front and latchkey's own sessions use this login,
        // so a process on this machine cannot go around the front.
        auth: Some(HashMap::from([login.clone()])),
        external_auth: None,
        // Meant to let devices publish to topics nobody subscribed to yet. rumqttd 0.20 never
        // reads it on that path (`DataLog::matches` always returns `Some`, maybe empty): such a
        // publish is accepted and dropped either way. Kept in case a later rumqttd honours it.
        dynamic_filters: true,
    };
    let server = |name: &str, addr: SocketAddr| ServerSettings {
        name: name.to_owned(),
        listen: addr,
        tls: None,
        // rumqttd sleeps this long after each accept; 10,000 locks reconnecting at once must not
        // queue for seconds.
        next_connection_delay_ms: 0,
        connections: connections.clone(),
    };
    // Every filter (each subscription filter, and each topic published with no subscriber) gets
    // its own in-memory commit log of `max_segment_count` segments of `max_segment_size` bytes.
    // A reader that falls further behind than that skips ahead (loses messages), so the size
    // must cover a burst of 10,000 lock reports on one wildcard filter (≈ 3 MB), while staying
    // small enough that thousands of per-device filters do not hold much memory.
    let max_segment_size = (4 * options.max_payload).max(1024 * 1024);
    let router = RouterConfig {
        // Both listeners draw from one connection table; RouterConfig::default() allows 0.
        max_connections: options.max_connections.max(1),
        // Packets handed to one connection per router pass: bounds latency for the others.
        max_outgoing_packet_count: 200,
        max_segment_size,
        max_segment_count: 8,
        ..RouterConfig::default()
    };
    (
        router,
        server("mqtt-v4", internal_v4),
        server("mqtt-v5-internal", internal_v5),
    )
}
