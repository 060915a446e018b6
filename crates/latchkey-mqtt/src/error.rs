use std::net::SocketAddr;

/// Everything that can go wrong in the MQTT transport.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// The embedded broker's listen address is taken by another process.
    #[error(
        "port {} on {} is in use (is another MQTT broker such as Mosquitto running?). \
         Use --mqtt-listen HOST:PORT to pick another port, \
         or --mqtt-url mqtt://HOST:PORT to use that broker instead",
        .addr.port(),
        .addr.ip()
    )]
    AddrInUse { addr: SocketAddr },

    /// The embedded broker could not bind its address for another reason (permission, no such
    /// interface, …).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    /// The embedded broker did not come up.
    #[error("embedded MQTT broker failed to start: {0}")]
    BrokerStart(String),

    /// The embedded broker's in-process session is not available (not configured, already
    /// taken, refused by the broker) or was asked for an invalid filter.
    #[error("in-process MQTT session: {0}")]
    LocalSession(String),

    /// A broker URL could not be parsed. `url` has its password redacted.
    #[error("invalid MQTT URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// TLS could not be set up (no usable root certificates, bad configuration).
    #[error("MQTT TLS setup failed: {0}")]
    Tls(String),

    /// The session has ended (`close()` was called, or every handle was dropped).
    #[error("the MQTT session is closed")]
    SessionClosed,

    /// `try_publish` found the request queue full: the broker connection is slower than the
    /// publisher. `publish` would have waited instead.
    #[error("the MQTT request queue is full")]
    QueueFull,

    /// A topic name that MQTT does not allow for publishing (empty, or containing `+` / `#`).
    #[error("invalid MQTT topic `{0}` for publishing")]
    InvalidTopic(String),
}
