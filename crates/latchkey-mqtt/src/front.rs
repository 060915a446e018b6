//! The front of the embedded broker's device listener: a thin check in front of rumqttd.
//!
//! rumqttd 0.20 can check a user name and password at CONNECT (`ConnectionSettings::
//! external_auth`), but it has no hook for what a client publishes or subscribes to, and its
//! login check does not see the client's address. So the device listener is ours: each client
//! connection is read packet by packet, its CONNECT is checked (login, will topic), its PUBLISH
//! and SUBSCRIBE packets are held to its [`ClientRole`], and what passes is forwarded to
//! rumqttd's own v4 listener on an internal loopback port, which itself accepts only the
//! internal login this front uses. Packets from rumqttd go back as they are, except a SUBACK
//! whose refused filters the front took out of the SUBSCRIBE.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::acl::ClientRole;
use crate::packet::{self, CONNECT, Connect, Frame, PUBLISH, SUBACK, SUBSCRIBE};

/// Why the front asks about a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// A client's CONNECT: a wrong password is a guess (counted, logged).
    Connect,
    /// A connected client's login, checked again after a rotation or revocation (and now and
    /// then): a login that no longer holds is not a guess, only a connection to close.
    Recheck,
}

/// A login the front asks about. `Debug` never prints the password.
pub struct Login {
    pub client_id: String,
    pub username: String,
    pub password: String,
    /// Where the client connects from (for limits and logs).
    pub peer: SocketAddr,
    pub attempt: Attempt,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &"****")
            .field("peer", &self.peer)
            .field("attempt", &self.attempt)
            .finish()
    }
}

/// The answer to a [`Login`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let it in as `name` (the credential's name, for logs and client ids) with `role`.
    Allowed { name: String, role: ClientRole },
    /// Unknown user name, wrong password, or a revoked credential (CONNACK 4).
    WrongCredentials,
    /// Too many wrong passwords from this address lately (CONNACK 5).
    RateLimited,
    /// The check itself failed, e.g. the database is unreachable (CONNACK 3): a failure is
    /// never a yes.
    Unavailable,
}

/// Checks a login; supplied by whoever holds the credentials (the server: the database).
pub type Authenticator =
    Arc<dyn Fn(Login) -> Pin<Box<dyn Future<Output = Verdict> + Send>> + Send + Sync>;

/// How long a client has for the TLS handshake and its CONNECT.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Front {
    pub upstream: SocketAddr,
    pub internal_user: String,
    pub internal_password: String,
    pub authenticator: Option<Authenticator>,
    /// Anonymous clients are let in (as [`ClientRole::Open`]) only on a loopback-only listener.
    pub anonymous: bool,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub max_packet: usize,
    /// The in-process session's client id, which no client of the listener may take over.
    pub reserved_client: Option<String>,
    /// How often a connected client's login is checked again, so that a revoked or rotated
    /// login is cut off without waiting for it to reconnect.
    pub recheck: Duration,
    /// Changes when a login is rotated or revoked: every connected login is checked again at
    /// once (the periodic check stays as a safety net).
    pub changes: Option<tokio::sync::watch::Receiver<u64>>,
}

impl Front {
    /// Accepts connections for the life of the process.
    pub async fn run(self: Arc<Self>, listener: std::net::TcpListener) {
        let listener = match listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(listener))
        {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "the MQTT device listener cannot start");
                return;
            }
        };
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "MQTT accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let front = self.clone();
            tokio::spawn(async move {
                let result = match &front.tls {
                    Some(acceptor) => {
                        match tokio::time::timeout(CONNECT_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => front.serve(tls, peer).await,
                            Ok(Err(e)) => Err(format!("TLS handshake: {e}")),
                            Err(_) => Err("TLS handshake timed out".to_owned()),
                        }
                    }
                    None => front.serve(stream, peer).await,
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "MQTT device connection ended");
                }
            });
        }
    }

    /// Decides who the client is from its CONNECT; `Err(code)` is the CONNACK refusal.
    async fn admit(&self, connect: &Connect, peer: SocketAddr) -> Result<(String, ClientRole), u8> {
        let Some(username) = &connect.username else {
            if self.anonymous {
                if self.reserved_client.as_deref() == Some(connect.client_id.as_str()) {
                    tracing::warn!(%peer, client_id = %connect.client_id, "refused an MQTT client using latchkey's own client id");
                    return Err(2);
                }
                return Ok(("anonymous".to_owned(), ClientRole::Open));
            }
            tracing::warn!(
                %peer,
                client_id = %connect.client_id,
                "refused an anonymous MQTT client: the broker listens beyond loopback, so every \
                 client needs a login (latchkey broker-login create)"
            );
            return Err(5);
        };
        let Some(auth) = &self.authenticator else {
            tracing::warn!(%peer, user = %username, "refused an MQTT login: this broker has no logins");
            return Err(4);
        };
        let password = connect
            .password
            .as_deref()
            .and_then(|p| std::str::from_utf8(p).ok())
            .unwrap_or_default()
            .to_owned();
        let verdict = auth(Login {
            client_id: connect.client_id.clone(),
            username: username.clone(),
            password,
            peer,
            attempt: Attempt::Connect,
        })
        .await;
        match verdict {
            Verdict::Allowed { name, role } => Ok((name, role)),
            Verdict::WrongCredentials => {
                tracing::warn!(%peer, user = %username, "refused an MQTT login: wrong user name or password");
                Err(4)
            }
            Verdict::RateLimited => {
                tracing::warn!(%peer, user = %username, "refused an MQTT login: too many wrong passwords from this address");
                Err(5)
            }
            Verdict::Unavailable => {
                tracing::error!(%peer, user = %username, "refused an MQTT login: the check failed");
                Err(3)
            }
        }
    }

    async fn serve<S>(&self, stream: S, peer: SocketAddr) -> Result<(), String>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (client_r, mut client_w) = tokio::io::split(stream);
        let mut client_r = BufReader::new(client_r);
        let first = tokio::time::timeout(
            CONNECT_TIMEOUT,
            packet::read_frame(&mut client_r, self.max_packet),
        )
        .await
        .map_err(|_| "no CONNECT in time".to_owned())?
        .map_err(|e| e.to_string())?
        .ok_or("closed before CONNECT")?;
        if first.kind() != CONNECT {
            return Err("the first packet is not a CONNECT".to_owned());
        }
        let mut connect = Connect::parse(&first.body).ok_or("malformed CONNECT")?;
        if connect.protocol != "MQTT" || connect.level != 4 {
            let _ = client_w.write_all(&packet::connack(1)).await;
            return Err(format!(
                "protocol {} level {}: this listener speaks MQTT 3.1.1",
                connect.protocol, connect.level
            ));
        }
        let (name, role) = match self.admit(&connect, peer).await {
            Ok(x) => x,
            Err(code) => {
                let _ = client_w.write_all(&packet::connack(code)).await;
                return Err(format!("refused with CONNACK {code}"));
            }
        };
        // What to check again while the client stays connected (logins only).
        let again = match (&self.authenticator, &connect.username) {
            (Some(auth), Some(username)) => Some((
                auth.clone(),
                username.clone(),
                connect
                    .password
                    .as_deref()
                    .and_then(|p| std::str::from_utf8(p).ok())
                    .unwrap_or_default()
                    .to_owned(),
                connect.client_id.clone(),
            )),
            _ => None,
        };
        if let Some((topic, _)) = &connect.will
            && !role.may_publish(topic)
        {
            tracing::warn!(%peer, client = %name, %topic, "refused an MQTT client whose will topic it may not publish to");
            let _ = client_w.write_all(&packet::connack(5)).await;
            return Err("forbidden will topic".to_owned());
        }
        // A login's client ids live in their own namespace: no client can take over another
        // login's connection, nor latchkey's own session.
        if role != ClientRole::Open && !connect.client_id.is_empty() {
            connect.client_id = format!("{name}~{}", connect.client_id);
        }
        connect.username = Some(self.internal_user.clone());
        connect.password = Some(self.internal_password.clone().into_bytes());

        let upstream = TcpStream::connect(self.upstream)
            .await
            .map_err(|e| format!("cannot reach the broker: {e}"))?;
        let _ = upstream.set_nodelay(true);
        let (up_r, mut up_w) = upstream.into_split();
        let mut up_r = BufReader::new(up_r);
        up_w.write_all(&connect.encode())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(%peer, client = %name, role = role.name(), "MQTT device client connected");

        // One writer per client, so that refusals can be answered between forwarded packets.
        let (to_client, mut outbox) = mpsc::channel::<Vec<u8>>(64);
        let writer = async move {
            while let Some(bytes) = outbox.recv().await {
                if client_w.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            let _ = client_w.shutdown().await;
        };
        // SUBSCRIBEs the front trimmed: packet id → which of the client's filters were kept.
        let trimmed: Arc<Mutex<HashMap<u16, Vec<bool>>>> = Arc::default();
        let max = self.max_packet;
        let downstream = {
            let to_client = to_client.clone();
            let trimmed = trimmed.clone();
            async move {
                while let Ok(Some(frame)) = packet::read_frame(&mut up_r, max).await {
                    let bytes = match (frame.kind(), packet::suback_codes(&frame)) {
                        (SUBACK, Some((pid, codes))) => {
                            let kept = trimmed
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .remove(&pid);
                            match kept {
                                Some(kept) => {
                                    let mut from_broker = codes.into_iter();
                                    let all: Vec<u8> = kept
                                        .iter()
                                        .map(|k| {
                                            if *k {
                                                from_broker.next().unwrap_or(0x80)
                                            } else {
                                                0x80
                                            }
                                        })
                                        .collect();
                                    packet::suback(pid, &all)
                                }
                                None => frame.encode(),
                            }
                        }
                        _ => frame.encode(),
                    };
                    if to_client.send(bytes).await.is_err() {
                        break;
                    }
                }
            }
        };
        let upstream_loop = async move {
            loop {
                let frame = match packet::read_frame(&mut client_r, max).await {
                    Ok(Some(f)) => f,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(e.to_string()),
                };
                match self.check(&frame, &name, &role, peer, &trimmed) {
                    Pass::Forward(bytes) => {
                        if up_w.write_all(&bytes).await.is_err() {
                            return Ok(());
                        }
                    }
                    Pass::Answer(bytes) => {
                        if to_client.send(bytes).await.is_err() {
                            return Ok(());
                        }
                    }
                    Pass::Drop => {}
                    Pass::Close(why) => return Err(why),
                }
            }
        };
        let recheck = async {
            let Some((auth, username, password, client_id)) = again else {
                return std::future::pending().await;
            };
            let mut changes = self.changes.clone();
            loop {
                let changed = async {
                    match &mut changes {
                        Some(rx) => {
                            if rx.changed().await.is_err() {
                                // No one tells of changes any more: the periodic check remains.
                                std::future::pending::<()>().await;
                            }
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = tokio::time::sleep(self.recheck) => {}
                    () = changed => {}
                }
                let verdict = auth(Login {
                    client_id: client_id.clone(),
                    username: username.clone(),
                    password: password.clone(),
                    peer,
                    attempt: Attempt::Recheck,
                })
                .await;
                match verdict {
                    // A check that cannot be made now does not cut a client off.
                    Verdict::Allowed { .. } | Verdict::Unavailable => {}
                    Verdict::WrongCredentials | Verdict::RateLimited => {
                        tracing::warn!(%peer, user = %username, "closed an MQTT connection: its login was revoked or rotated");
                        return;
                    }
                }
            }
        };
        tokio::select! {
            r = upstream_loop => r,
            () = downstream => Ok(()),
            () = writer => Ok(()),
            () = recheck => Err("the login no longer holds".to_owned()),
        }
    }

    /// What to do with one packet from the client.
    fn check(
        &self,
        frame: &Frame,
        name: &str,
        role: &ClientRole,
        peer: SocketAddr,
        trimmed: &Mutex<HashMap<u16, Vec<bool>>>,
    ) -> Pass {
        match frame.kind() {
            CONNECT => Pass::Close("a second CONNECT".to_owned()),
            PUBLISH => {
                let Some((topic, qos, pid)) = packet::publish_topic(frame) else {
                    return Pass::Close("malformed PUBLISH".to_owned());
                };
                if role.may_publish(&topic) {
                    return Pass::Forward(frame.encode());
                }
                tracing::warn!(%peer, client = %name, role = role.name(), %topic, "dropped an MQTT publish this client may not make");
                match (qos, pid) {
                    (0, _) => Pass::Drop,
                    // Acknowledged like Mosquitto does, so the client does not resend it.
                    (1, Some(pid)) => Pass::Answer(packet::puback(pid)),
                    _ => Pass::Close("a forbidden QoS 2 publish".to_owned()),
                }
            }
            SUBSCRIBE => {
                let Some((pid, filters)) = packet::subscribe_filters(frame) else {
                    return Pass::Close("malformed SUBSCRIBE".to_owned());
                };
                let kept: Vec<bool> = filters.iter().map(|(f, _)| role.may_subscribe(f)).collect();
                for ((f, _), _) in filters.iter().zip(&kept).filter(|(_, k)| !**k) {
                    tracing::warn!(%peer, client = %name, role = role.name(), filter = %f, "refused an MQTT subscription this client may not have");
                }
                if kept.iter().all(|k| *k) {
                    return Pass::Forward(frame.encode());
                }
                if !kept.iter().any(|k| *k) {
                    return Pass::Answer(packet::suback(pid, &vec![0x80; filters.len()]));
                }
                let allowed: Vec<(String, u8)> = filters
                    .into_iter()
                    .zip(&kept)
                    .filter(|(_, k)| **k)
                    .map(|(f, _)| f)
                    .collect();
                trimmed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(pid, kept);
                Pass::Forward(packet::subscribe(pid, &allowed))
            }
            _ => Pass::Forward(frame.encode()),
        }
    }
}

enum Pass {
    Forward(Vec<u8>),
    Answer(Vec<u8>),
    Drop,
    Close(String),
}
