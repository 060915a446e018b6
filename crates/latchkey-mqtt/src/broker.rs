//! The embedded broker: rumqttd in-process.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use crate::MqttError;

/// How to run the embedded broker.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Where Zigbee2MQTT and devices connect (MQTT 3.1.1, the Zigbee2MQTT default). Port 0 picks a
    /// free port; [`EmbeddedBroker::listen_addr`] tells which.
    pub listen: SocketAddr,
    /// Most simultaneous client connections, over both listeners.
    pub max_connections: usize,
    /// Largest PUBLISH payload accepted, in bytes.
    pub max_payload: usize,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1883),
            max_connections: 20_000,
            // Zigbee2MQTT's `bridge/devices` list grows with the network; 1 MiB holds hundreds of
            // devices. Lock state messages are a few hundred bytes.
            max_payload: 1024 * 1024,
        }
    }
}

/// rumqttd running on its own thread, with two listeners:
///
/// - a **v4** (MQTT 3.1.1) listener on [`BrokerOptions::listen`], for Zigbee2MQTT and devices;
/// - a **v5** listener on an ephemeral `127.0.0.1` port ([`EmbeddedBroker::internal_v5_addr`]),
///   for latchkey's own [`Session`](crate::Session), which needs MQTT 5 (shared subscriptions,
///   session expiry). Messages route between the two.
///
/// **There is no graceful shutdown.** rumqttd's `Broker::start()` blocks forever; it runs on a
/// thread named `mqtt-broker` that ends with the process. Dropping this value does not stop it.
/// rumqttd keeps nothing on disk: retained messages and persistent sessions vanish on restart.
///
/// rumqttd logs ordinary client disconnects at ERROR level; the binary should filter it with
/// `rumqttd=warn` in its tracing filter. rumqttd also never sets `TCP_NODELAY` on accepted
/// sockets, so QoS 1 request/response pairs through it can stall ≈ 40 ms (Nagle + delayed ACK);
/// QoS 0 does not.
#[derive(Debug)]
pub struct EmbeddedBroker {
    listen: SocketAddr,
    internal_v5: SocketAddr,
}

/// How long `start` waits for rumqttd's listeners to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

impl EmbeddedBroker {
    /// Starts the broker and returns once both listeners accept TCP connections.
    ///
    /// # Errors
    /// - [`MqttError::AddrInUse`] when `listen` is taken (its message says what to do);
    /// - [`MqttError::Bind`] when `listen` cannot be bound for another reason;
    /// - [`MqttError::BrokerStart`] when the broker thread cannot be spawned or its listeners do
    ///   not come up within 5 s.
    pub fn start(options: BrokerOptions) -> Result<Self, MqttError> {
        // rumqttd binds on its own thread and only logs a failure, so find problems here first.
        let listen = probe_bind(options.listen)?;
        let internal_v5 = probe_bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;

        let config = broker_config(&options, listen, internal_v5);
        std::thread::Builder::new()
            .name("mqtt-broker".to_owned())
            .spawn(move || {
                let mut broker = Broker::new(config);
                // Blocks for the life of the process.
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded MQTT broker stopped");
                }
            })
            .map_err(|e| MqttError::BrokerStart(format!("cannot spawn the broker thread: {e}")))?;

        wait_until_listening(listen, 4)?;
        wait_until_listening(internal_v5, 5)?;
        tracing::info!(%listen, %internal_v5, "embedded MQTT broker listening");
        Ok(Self {
            listen,
            internal_v5,
        })
    }

    /// The v4 listener's real address (with the port picked when `listen` had port 0).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The loopback v5 listener for latchkey's own session.
    pub fn internal_v5_addr(&self) -> SocketAddr {
        self.internal_v5
    }
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

/// A minimal MQTT CONNECT (clean session, keep-alive 60 s) for protocol level 4 or 5.
fn connect_packet(level: u8, client_id: &str) -> Vec<u8> {
    let mut var = vec![0, 4, b'M', b'Q', b'T', b'T', level, 0x02, 0, 60];
    if level == 5 {
        var.push(0); // no properties
    }
    let id = client_id.as_bytes();
    var.extend_from_slice(&u16::try_from(id.len()).unwrap_or(0).to_be_bytes());
    var.extend_from_slice(id);
    let mut packet = vec![0x10, u8::try_from(var.len()).unwrap_or(0)];
    packet.extend_from_slice(&var);
    packet
}

/// Says hello properly (CONNECT, CONNACK, DISCONNECT) so that the broker logs no error about
/// a client that vanished before connecting.
fn handshake(mut stream: TcpStream, level: u8) {
    use std::io::{Read, Write};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let id = format!("latchkey-probe-{}", std::process::id());
    if stream.write_all(&connect_packet(level, &id)).is_ok() {
        let mut ack = [0u8; 16];
        let _ = stream.read(&mut ack);
        let _ = stream.write_all(&[0xE0, 0x00]);
    }
}

fn wait_until_listening(addr: SocketAddr, level: u8) -> Result<(), MqttError> {
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
                handshake(stream, level);
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

fn broker_config(options: &BrokerOptions, listen: SocketAddr, internal_v5: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        // Time a client has to send CONNECT after the TCP handshake.
        connection_timeout_ms: 10_000,
        max_payload_size: options.max_payload,
        // QoS 1/2 messages in flight per connection; a few hundred keep a busy subscriber
        // (the server ingesting 10,000 locks' confirmations) streaming.
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        // Without this rumqttd refuses publishes to topics nobody subscribed to first, and
        // devices publish state before anyone listens.
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
    Config {
        id: 0,
        router,
        v4: Some(HashMap::from([(
            "v4".to_owned(),
            server("mqtt-v4", listen),
        )])),
        v5: Some(HashMap::from([(
            "v5".to_owned(),
            server("mqtt-v5-internal", internal_v5),
        )])),
        ..Config::default()
    }
}
