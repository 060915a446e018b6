//! MQTT transport for latchkey: the embedded broker and the client session task.
//!
//! - [`EmbeddedBroker`] runs rumqttd in-process behind latchkey's own device listener (logins,
//!   topic rules by [`ClientRole`], optional TLS) for Zigbee2MQTT and devices, a v5 listener on
//!   an internal loopback port, and optionally an in-process session
//!   for latchkey itself ([`EmbeddedBroker::take_local_session`]) that skips TCP and with it the
//!   ≈ 40 ms Nagle stalls of rumqttd's sockets.
//! - [`Session`] is one tokio task that owns the MQTT 5 event loop (rumqttc) and talks to the rest
//!   of the server through a bounded channel of [`Inbound`] messages and a cloneable
//!   [`SessionHandle`] (style rule 11).
//! - [`MqttUrl`] parses `mqtt://` / `mqtts://` broker URLs.
//!
//! This crate is transport only: topics and byte payloads. It depends on no other latchkey crate,
//! and it is the only crate that uses rumqttd. Payload parsing lives in `latchkey-z2m`.

mod acl;
mod broker;
mod error;
mod front;
mod local;
mod packet;
mod session;
mod url;

pub use acl::ClientRole;
pub use broker::{BrokerOptions, EmbeddedBroker, TlsFiles, is_loopback_only};
pub use error::MqttError;
pub use front::{Attempt, Authenticator, Login, Verdict};
pub use session::{
    AckToken, ConnState, Inbound, QoS, Session, SessionHandle, SessionOptions, Will,
};
pub use url::MqttUrl;
