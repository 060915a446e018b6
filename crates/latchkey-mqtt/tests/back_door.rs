//! The embedded broker is not an open door: anonymous clients of a listener beyond loopback
//! are refused, a gateway's login cannot command a lock, and a client without the gateway's
//! rights cannot read the PINs written to locks.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::{local_session, recv};
use latchkey_mqtt::{
    Authenticator, BrokerOptions, ClientRole, EmbeddedBroker, Login, QoS, Verdict,
};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, NetworkOptions,
    Packet,
};
use tokio::sync::mpsc;

const BASE: &str = "z2m";
const QUIET: Duration = Duration::from_millis(500);

/// Logins: `gw`/`gw-secret` is the gateway, `dash`/`dash-secret` an observer.
fn authenticator(calls: Arc<AtomicUsize>) -> Authenticator {
    Arc::new(move |login: Login| {
        calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let base_topic = BASE.to_owned();
            match (login.username.as_str(), login.password.as_str()) {
                ("gw", "gw-secret") => Verdict::Allowed {
                    name: "gw".into(),
                    role: ClientRole::Gateway { base_topic },
                },
                ("dash", "dash-secret") => Verdict::Allowed {
                    name: "dash".into(),
                    role: ClientRole::Observer { base_topic },
                },
                ("limited", _) => Verdict::RateLimited,
                _ => Verdict::WrongCredentials,
            }
        })
    })
}

fn broker(listen: &str, calls: Arc<AtomicUsize>) -> EmbeddedBroker {
    EmbeddedBroker::start(BrokerOptions {
        listen: listen.parse().expect("addr"),
        local_client: Some("latchkey-test".into()),
        authenticator: Some(authenticator(calls)),
        ..BrokerOptions::default()
    })
    .expect("broker starts")
}

/// Connects to the broker through loopback (a wildcard listener is reached there too) and
/// returns the CONNACK's verdict.
async fn connect(
    broker: &EmbeddedBroker,
    id: &str,
    login: Option<(&str, &str)>,
) -> Result<(AsyncClient, EventLoop), ConnectReturnCode> {
    let port = broker.listen_addr().port();
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    if let Some((u, p)) = login {
        opts.set_credentials(u, p);
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => return Err(code),
                Err(e) => panic!("unexpected connection error: {e}"),
            }
        }
    })
    .await
    .expect("a CONNACK in time");
    outcome.map(|()| (client, eventloop))
}

/// Runs the client's event loop: publishes go to the channel, SUBACK codes to the other.
fn drive(mut eventloop: EventLoop) -> (mpsc::Receiver<(String, Bytes)>, mpsc::Receiver<Vec<u8>>) {
    let (tx, rx) = mpsc::channel(256);
    let (sub_tx, sub_rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send((p.topic, p.payload)).await;
                }
                Ok(Event::Incoming(Packet::SubAck(a))) => {
                    let codes = a
                        .return_codes
                        .iter()
                        .map(|c| match c {
                            rumqttc::SubscribeReasonCode::Success(q) => *q as u8,
                            rumqttc::SubscribeReasonCode::Failure => 0x80,
                        })
                        .collect();
                    let _ = sub_tx.send(codes).await;
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    (rx, sub_rx)
}

async fn subscribed(
    client: &AsyncClient,
    subacks: &mut mpsc::Receiver<Vec<u8>>,
    filter: &str,
) -> u8 {
    client
        .subscribe(filter, rumqttc::QoS::AtLeastOnce)
        .await
        .expect("queue subscribe");
    let codes = tokio::time::timeout(Duration::from_secs(5), subacks.recv())
        .await
        .expect("a SUBACK in time")
        .expect("a SUBACK");
    codes[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_client_of_a_broker_beyond_loopback_is_refused() {
    let calls = Arc::new(AtomicUsize::new(0));
    let b = broker("0.0.0.0:0", calls.clone());
    let refused = connect(&b, "intruder", None).await.err();
    assert_eq!(refused, Some(ConnectReturnCode::NotAuthorized));
    // A wrong password and an unknown user are refused too; the gateway's login gets in.
    let wrong = connect(&b, "guess", Some(("gw", "guess"))).await.err();
    assert_eq!(wrong, Some(ConnectReturnCode::BadUserNamePassword));
    let limited = connect(&b, "guess", Some(("limited", "x"))).await.err();
    assert_eq!(limited, Some(ConnectReturnCode::NotAuthorized));
    assert!(connect(&b, "z2m", Some(("gw", "gw-secret"))).await.is_ok());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the anonymous client was never asked about"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rumqttds_own_listeners_refuse_anyone_without_the_internal_login() {
    let b = broker("127.0.0.1:0", Arc::new(AtomicUsize::new(0)));
    let (_c, mut ev) = rumqttc::v5::AsyncClient::new(opts_v5(b.internal_v5_addr().port()), 8);
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ev.poll().await {
                Ok(rumqttc::v5::Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::ConnAck(
                    a,
                ))) => return a.code == rumqttc::v5::mqttbytes::v5::ConnectReturnCode::Success,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    })
    .await
    .unwrap_or(false);
    assert!(
        !outcome,
        "an anonymous v5 client got into the internal listener"
    );
}

fn opts_v5(port: u16) -> rumqttc::v5::MqttOptions {
    let mut o = rumqttc::v5::MqttOptions::new("sneaky", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_login_cannot_command_a_lock() {
    let b = broker("0.0.0.0:0", Arc::new(AtomicUsize::new(0)));
    let (latchkey, mut latchkey_rx) = local_session(&b, &[("z2m/#", QoS::AtMostOnce)], 64).await;
    // The lock's side: the gateway, listening for commands as Zigbee2MQTT does.
    let (lock, lock_ev) = connect(&b, "z2m", Some(("gw", "gw-secret")))
        .await
        .expect("in");
    let (mut lock_rx, mut lock_subacks) = drive(lock_ev);
    assert_eq!(subscribed(&lock, &mut lock_subacks, "z2m/+/set").await, 1);
    // A second connection with the same login tries to open the door.
    let (evil, evil_ev) = connect(&b, "evil", Some(("gw", "gw-secret")))
        .await
        .expect("in");
    let _ = drive(evil_ev);
    for qos in [rumqttc::QoS::AtMostOnce, rumqttc::QoS::AtLeastOnce] {
        evil.publish(
            "z2m/front-door/set",
            qos,
            false,
            &b"{\"state\":\"UNLOCK\"}"[..],
        )
        .await
        .expect("queued");
    }
    evil.publish(
        "z2m/bridge/request/permit_join",
        rumqttc::QoS::AtMostOnce,
        false,
        &b"true"[..],
    )
    .await
    .expect("queued");
    // State it may publish still flows, and after it, nothing else arrived.
    evil.publish(
        "z2m/front-door",
        rumqttc::QoS::AtMostOnce,
        false,
        &b"{\"state\":\"LOCK\"}"[..],
    )
    .await
    .expect("queued");
    let got = recv(&mut latchkey_rx, Duration::from_secs(5))
        .await
        .expect("state arrives");
    assert_eq!(
        got.topic, "z2m/front-door",
        "the forbidden publishes never reached latchkey"
    );
    assert!(
        tokio::time::timeout(QUIET, lock_rx.recv()).await.is_err(),
        "the lock received a command from the gateway's login"
    );
    // latchkey itself commands the lock: the path works.
    latchkey
        .publish(
            "z2m/front-door/set",
            b"{\"state\":\"LOCK\"}".to_vec(),
            QoS::AtMostOnce,
            false,
        )
        .await
        .expect("publish");
    let (topic, _) = tokio::time::timeout(Duration::from_secs(5), lock_rx.recv())
        .await
        .expect("in time")
        .expect("the lock gets latchkey's command");
    assert_eq!(topic, "z2m/front-door/set");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_gateways_rights_cannot_read_pins() {
    let b = broker("0.0.0.0:0", Arc::new(AtomicUsize::new(0)));
    let (latchkey, _rx) = local_session(&b, &[("z2m/#", QoS::AtMostOnce)], 64).await;
    let (dash, dash_ev) = connect(&b, "dash", Some(("dash", "dash-secret")))
        .await
        .expect("in");
    let (mut dash_rx, mut dash_subacks) = drive(dash_ev);
    for filter in [
        "z2m/#",
        "z2m/+/set",
        "z2m/front-door/+",
        "#",
        "z2m/front-door/set",
    ] {
        assert_eq!(
            subscribed(&dash, &mut dash_subacks, filter).await,
            0x80,
            "{filter}"
        );
    }
    // A mixed SUBSCRIBE keeps the allowed filter and refuses the other.
    dash.subscribe_many([
        rumqttc::SubscribeFilter::new("z2m/front-door".into(), rumqttc::QoS::AtLeastOnce),
        rumqttc::SubscribeFilter::new("z2m/+/set".into(), rumqttc::QoS::AtLeastOnce),
    ])
    .await
    .expect("queued");
    let codes = tokio::time::timeout(Duration::from_secs(5), dash_subacks.recv())
        .await
        .expect("in time")
        .expect("suback");
    assert_eq!(codes, vec![1, 0x80]);
    // Nor may it publish anything.
    dash.publish(
        "z2m/front-door/set",
        rumqttc::QoS::AtMostOnce,
        false,
        &b"{}"[..],
    )
    .await
    .expect("queued");

    latchkey
        .publish(
            "z2m/front-door/set",
            br#"{"pin_code":{"user":3,"pin_code":"482915"}}"#.to_vec(),
            QoS::AtMostOnce,
            false,
        )
        .await
        .expect("publish");
    latchkey
        .publish(
            "z2m/front-door",
            b"{\"state\":\"LOCK\"}".to_vec(),
            QoS::AtMostOnce,
            false,
        )
        .await
        .expect("publish");
    let (topic, _) = tokio::time::timeout(Duration::from_secs(5), dash_rx.recv())
        .await
        .expect("in time")
        .expect("the state arrives");
    assert_eq!(
        topic, "z2m/front-door",
        "the PIN was not delivered before the state"
    );
    assert!(tokio::time::timeout(QUIET, dash_rx.recv()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_takes_over_latchkeys_own_session() {
    let b = broker("127.0.0.1:0", Arc::new(AtomicUsize::new(0)));
    let refused = connect(&b, "latchkey-test", None).await.err();
    assert_eq!(refused, Some(ConnectReturnCode::BadClientId));
    // A loopback-only broker still lets anonymous clients in, as before logins existed.
    assert!(connect(&b, "local-tool", None).await.is_ok());
}

/// The test-only CA and certificate in `tests/fixtures` (made with openssl, valid for a century).
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_the_device_port_speaks_only_tls_and_still_asks_for_a_login() {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let b = EmbeddedBroker::start(BrokerOptions {
        listen: "0.0.0.0:0".parse().expect("addr"),
        authenticator: Some(authenticator(Arc::new(AtomicUsize::new(0)))),
        tls: Some(latchkey_mqtt::TlsFiles {
            cert: fixture("device-port.crt"),
            key: fixture("device-port.key"),
        }),
        ..BrokerOptions::default()
    })
    .expect("broker starts with TLS");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(fixture("ca.crt")).expect("ca") {
        roots.add(cert.expect("pem")).expect("a root");
    }
    let tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let attempt = |login: Option<(&str, &str)>, tls: Option<Arc<rustls::ClientConfig>>| {
        let mut opts = MqttOptions::new("tls-client", "localhost", b.listen_addr().port());
        opts.set_keep_alive(Duration::from_secs(30));
        if let Some((u, p)) = login {
            opts.set_credentials(u, p);
        }
        if let Some(cfg) = tls {
            opts.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Rustls(
                cfg,
            )));
        }
        async move {
            let (_c, mut ev) = AsyncClient::new(opts, 8);
            tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    match ev.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                        Ok(_) => {}
                        Err(e) => return Err(e.to_string()),
                    }
                }
            })
            .await
            .unwrap_or_else(|_| Err("timed out".to_owned()))
        }
    };
    attempt(Some(("gw", "gw-secret")), Some(tls.clone()))
        .await
        .expect("the gateway connects over TLS");
    let anonymous = attempt(None, Some(tls.clone())).await;
    let refusal = anonymous.expect_err("anonymous over TLS is refused");
    assert!(refusal.contains("NotAuthorized"), "{refusal}");
    assert!(
        attempt(Some(("gw", "gw-secret")), None).await.is_err(),
        "plain MQTT is not spoken on a TLS port"
    );
}

#[test]
fn bad_tls_files_stop_the_broker_with_a_clear_error() {
    let err = EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        tls: Some(latchkey_mqtt::TlsFiles {
            cert: fixture("device-port.key"),
            key: fixture("device-port.key"),
        }),
        ..BrokerOptions::default()
    })
    .expect_err("a key is not a certificate");
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_login_is_cut_off_while_connected() {
    let revoked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = revoked.clone();
    let auth: Authenticator = Arc::new(move |login: Login| {
        let gone = flag.load(Ordering::SeqCst);
        Box::pin(async move {
            if !gone && login.username == "gw" && login.password == "gw-secret" {
                Verdict::Allowed {
                    name: "gw".into(),
                    role: ClientRole::Gateway {
                        base_topic: BASE.to_owned(),
                    },
                }
            } else {
                Verdict::WrongCredentials
            }
        })
    });
    let b = EmbeddedBroker::start(BrokerOptions {
        listen: "0.0.0.0:0".parse().expect("addr"),
        authenticator: Some(auth),
        login_recheck: Duration::from_millis(100),
        ..BrokerOptions::default()
    })
    .expect("broker starts");
    let (_client, mut ev) = connect(&b, "z2m", Some(("gw", "gw-secret")))
        .await
        .expect("in");
    // Still connected after several checks.
    let alive = tokio::time::timeout(Duration::from_millis(500), ev.poll()).await;
    assert!(
        alive.is_err() || alive.is_ok_and(|r| r.is_ok()),
        "dropped while valid"
    );
    revoked.store(true, Ordering::SeqCst);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if ev.poll().await.is_err() {
                return;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection outlived its login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_told_change_cuts_the_old_password_at_once_and_keeps_the_new_one() {
    // The current password of `gw`; a rotation replaces it.
    let current = Arc::new(std::sync::Mutex::new("old-secret".to_owned()));
    let attempts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (now, then) = (current.clone(), attempts.clone());
    let auth: Authenticator = Arc::new(move |login: Login| {
        let ok = login.username == "gw"
            && *now.lock().unwrap_or_else(|p| p.into_inner()) == login.password;
        then.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(login.attempt);
        Box::pin(async move {
            if ok {
                Verdict::Allowed {
                    name: "gw".into(),
                    role: ClientRole::Gateway {
                        base_topic: BASE.to_owned(),
                    },
                }
            } else {
                Verdict::WrongCredentials
            }
        })
    });
    let (tell, changes) = tokio::sync::watch::channel(0u64);
    let b = EmbeddedBroker::start(BrokerOptions {
        listen: "0.0.0.0:0".parse().expect("addr"),
        authenticator: Some(auth),
        // Far beyond the test: only being told can cut the client in time.
        login_recheck: Duration::from_secs(3600),
        login_changes: Some(changes),
        ..BrokerOptions::default()
    })
    .expect("broker starts");
    let (_old, mut old_ev) = connect(&b, "z2m-a", Some(("gw", "old-secret")))
        .await
        .expect("in");
    *current.lock().unwrap_or_else(|p| p.into_inner()) = "new-secret".to_owned();
    let (_new, mut new_ev) = connect(&b, "z2m-b", Some(("gw", "new-secret")))
        .await
        .expect("the new password connects");
    tell.send_modify(|n| *n += 1);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while old_ev.poll().await.is_ok() {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the old password's connection outlived the change"
    );
    let kept = tokio::time::timeout(QUIET, async { while new_ev.poll().await.is_ok() {} }).await;
    assert!(kept.is_err(), "the new password's connection is kept");
    let attempts = attempts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(
        attempts
            .iter()
            .filter(|a| **a == latchkey_mqtt::Attempt::Recheck)
            .count(),
        2,
        "both connections were checked again, as rechecks (not guesses): {attempts:?}"
    );
}
