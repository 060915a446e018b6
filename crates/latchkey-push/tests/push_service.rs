//! Web Push to a push service inside the test, on every backend. The service checks each
//! request as a real one would (the VAPID JWT's ES256 signature against the server's public
//! key, its audience and expiry; the headers) and decrypts the body with the private key of a
//! browser the test made, by RFC 8291 and RFC 8188 written out here with RustCrypto
//! primitives — never with the code under test.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use bytes::Bytes;
use hkdf::Hkdf;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use latchkey_app::authz::Principal;
use latchkey_app::outbox::{Channels, OutboxConfig};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::push::{PushPolicy, SubscriptionInput};
use latchkey_app::{App, AppConfig, ManualClock, NoDevices, secrets::Keys};
use latchkey_core::model::{DoorKind, DoorMode, Policy, Role};
use latchkey_push::{PushConfig, WebPush};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use sha2::Sha256;

const SUBJECT: &str = "mailto:ops@linden.example";

fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    data_encoding::BASE64URL_NOPAD
        .decode(text.as_bytes())
        .unwrap()
}

/// A browser's side of a subscription: its key pair and authentication secret.
struct Browser {
    private: p256::SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Browser {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).unwrap();
        let mut auth = [0u8; 16];
        getrandom::fill(&mut auth).unwrap();
        Browser {
            private: p256::SecretKey::from_slice(&bytes).unwrap(),
            auth,
        }
    }

    fn public(&self) -> Vec<u8> {
        self.private
            .public_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec()
    }

    /// RFC 8291 section 3.4 and RFC 8188 section 2, from the receiving end.
    fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        let salt = &body[..16];
        let rs = u32::from_be_bytes(body[16..20].try_into().unwrap());
        let idlen = usize::from(body[20]);
        assert_eq!(
            idlen, 65,
            "the key id is the sender's uncompressed public key"
        );
        let as_public = &body[21..21 + idlen];
        let record = &body[21 + idlen..];
        assert!(record.len() <= rs as usize, "one record");
        let sender = p256::PublicKey::from_sec1_bytes(as_public).unwrap();
        let shared =
            p256::ecdh::diffie_hellman(self.private.to_nonzero_scalar(), sender.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(&self.public());
        info.extend_from_slice(as_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes())
            .expand(&info, &mut ikm)
            .unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .unwrap();
        let mut nonce = [0u8; 12];
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let mut plain = Aes128Gcm::new_from_slice(&cek)
            .unwrap()
            .decrypt(&nonce.into(), record)
            .expect("the body decrypts with the browser's keys");
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(
            plain.pop(),
            Some(2),
            "the last record ends with delimiter 2"
        );
        plain
    }

    fn subscription(&self, endpoint: &str) -> SubscriptionInput {
        SubscriptionInput {
            endpoint: endpoint.into(),
            p256dh: b64(&self.public()),
            auth: b64(&self.auth),
            name: "Firefox on Linux".into(),
        }
    }
}

/// One request the push service got.
#[derive(Clone, Debug)]
struct Got {
    path: String,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
    answered: u16,
}

/// A push service on a port of its own: answers with the statuses queued, then 201.
#[derive(Clone)]
struct PushService {
    origin: String,
    got: Arc<Mutex<Vec<Got>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl PushService {
    async fn start(answers: &[u16]) -> PushService {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let s = PushService {
            origin,
            got: Arc::default(),
            answers: Arc::new(Mutex::new(answers.iter().copied().collect())),
        };
        let me = s.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let me = me.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let me = me.clone();
                            async move {
                                let path = req.uri().path().to_owned();
                                let headers = req.headers().clone();
                                let body =
                                    req.into_body().collect().await.unwrap().to_bytes().to_vec();
                                let answered =
                                    me.answers.lock().unwrap().pop_front().unwrap_or(201);
                                me.got.lock().unwrap().push(Got {
                                    path,
                                    headers,
                                    body,
                                    answered,
                                });
                                Ok::<_, Infallible>(
                                    Response::builder()
                                        .status(answered)
                                        .body(Full::new(Bytes::new()))
                                        .unwrap(),
                                )
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        s
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/push/{name}", self.origin)
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

struct House {
    app: App,
    clock: Arc<ManualClock>,
    property: i64,
    rosa: Principal,
    paul: Principal,
}

async fn house(db: &latchkey_testkit::TestDb) -> House {
    let start = jiff::civil::date(2026, 1, 5)
        .at(12, 0, 0, 0)
        .in_tz("Europe/Berlin")
        .unwrap()
        .timestamp();
    let clock = Arc::new(ManualClock::new(start));
    let app = App::new(
        db.open().await,
        Keys::from_master(&[7; 32]),
        clock.clone(),
        Arc::new(NoDevices),
        AppConfig {
            push: PushPolicy {
                enabled: true,
                loopback_http: true,
            },
            ..AppConfig::default()
        },
    );
    let admin = app
        .create_admin("Ada Admin", "admin@example.org", "admin's long password")
        .await
        .unwrap();
    let admin = app.terminal_principal(admin.id).await.unwrap();
    let property = app
        .create_property(
            admin.admin().unwrap(),
            latchkey_app::directory::PropertyInput {
                name: "Linden House".into(),
                address: "1 Lock Lane".into(),
                timezone: "Europe/Berlin".into(),
                policy: Policy::default(),
                office_hours: latchkey_core::schedule::Schedule::Always,
            },
        )
        .await
        .unwrap();
    let unit = app
        .create_unit(admin.staff(property.id).unwrap(), "4071", 4, None)
        .await
        .unwrap();
    app.create_door(
        admin.staff(property.id).unwrap(),
        latchkey_app::directory::DoorInput {
            name: "4071 entry".into(),
            kind: DoorKind::UnitEntry,
            unit_id: Some(unit.id),
            mode: DoorMode::Normal,
            pin_slots: 30,
        },
    )
    .await
    .unwrap();
    let mut people = Vec::new();
    for (name, email, role) in [
        ("Rosa Resident", "rosa@example.org", Role::Resident),
        ("Paul Partner", "paul@example.org", Role::Household),
    ] {
        let input = PersonInput {
            name: name.into(),
            email: Some(email.into()),
            phone: None,
            password: None,
            membership: MembershipInput {
                role,
                unit_id: Some(unit.id),
                valid_from: None,
                valid_until: None,
            },
        };
        let (p, _) = app
            .create_person(
                app.may_create_person(&admin, property.id, &input).unwrap(),
                input,
            )
            .await
            .unwrap();
        people.push(app.terminal_principal(p.id).await.unwrap());
    }
    let paul = people.pop().unwrap();
    let rosa = people.pop().unwrap();
    House {
        app,
        clock,
        property: property.id.0,
        rosa,
        paul,
    }
}

async fn worker(h: &House) -> latchkey_app::outbox::OutboxWorker {
    let key = h.app.vapid_key().await.unwrap();
    let push = WebPush::new(
        &key,
        &PushConfig {
            subject: SUBJECT.into(),
            timeout: Duration::from_secs(10),
        },
    )
    .unwrap();
    h.app.outbox_worker(
        OutboxConfig {
            web_url: "https://latchkey.example.org".into(),
            ..OutboxConfig::default()
        },
        Channels {
            push: Some(Arc::new(push)),
            ..Channels::default()
        },
    )
}

async fn open_case(h: &House) -> String {
    h.app
        .start_lockout_public(
            latchkey_app::lockout::PublicStart {
                property_id: h.property,
                unit: "4071".into(),
                identity: "Rosa Resident".into(),
            },
            "203.0.113.9",
        )
        .await
        .unwrap()
        .token
}

/// What a push service checks of the VAPID header (RFC 8292 sections 2 and 3).
fn check_vapid(got: &Got, service: &PushService, server_public: &[u8]) {
    let auth = got.headers["authorization"].to_str().unwrap();
    let rest = auth.strip_prefix("vapid ").expect("the vapid scheme");
    let (t, k) = rest.split_once(", ").unwrap();
    let jwt = t.strip_prefix("t=").unwrap();
    let k = unb64(k.strip_prefix("k=").unwrap());
    assert_eq!(k, server_public, "k is the server's public key");
    let (signed, signature) = jwt.rsplit_once('.').unwrap();
    let (header, claims) = signed.split_once('.').unwrap();
    let header: serde_json::Value = serde_json::from_slice(&unb64(header)).unwrap();
    assert_eq!(header["alg"], "ES256");
    let key = VerifyingKey::from_sec1_bytes(server_public).unwrap();
    let signature = Signature::from_slice(&unb64(signature)).unwrap();
    key.verify(signed.as_bytes(), &signature)
        .expect("the JWT is signed with the server's VAPID key");
    let claims: serde_json::Value = serde_json::from_slice(&unb64(claims)).unwrap();
    assert_eq!(
        claims["aud"],
        service.origin.as_str(),
        "aud is the endpoint's origin"
    );
    assert_eq!(claims["sub"], SUBJECT);
    let now = jiff::Timestamp::now().as_second();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        exp > now && exp <= now + 24 * 3600,
        "exp within 24 h: {exp} vs {now}"
    );
}

#[tokio::test]
async fn each_subscribed_browser_gets_its_notice_encrypted_for_it_and_signed_for_by_the_server() {
    latchkey_testkit::each_backend("push_delivered", |db| async move {
        let h = house(&db).await;
        let service = PushService::start(&[]).await;
        let rosa_phone = Browser::new();
        let paul_laptop = Browser::new();
        h.app
            .add_push_subscription(
                h.rosa.own_account(),
                rosa_phone.subscription(&service.endpoint("rosa")),
            )
            .await
            .unwrap();
        h.app
            .add_push_subscription(
                h.paul.own_account(),
                paul_laptop.subscription(&service.endpoint("paul")),
            )
            .await
            .unwrap();
        let worker = worker(&h).await;
        let token = open_case(&h).await;
        h.app.ask_guardians(&token).await.unwrap();
        let pass = worker.pass().await.unwrap();
        assert_eq!(
            pass.sent, 3,
            "two case notices and a guardian request: {pass:?}"
        );
        let server_public = h.app.vapid_key().await.unwrap().public_bytes().to_vec();
        let got = service.got();
        assert_eq!(got.len(), 3);
        let mut texts = Vec::new();
        for g in &got {
            check_vapid(g, &service, &server_public);
            assert_eq!(g.headers["content-encoding"], "aes128gcm");
            assert_eq!(
                g.headers["urgency"], "high",
                "a lockout is a security notice"
            );
            assert!(g.headers["ttl"].to_str().unwrap().parse::<u64>().unwrap() > 0);
            assert!(g.body.len() < 4096, "under the push services' 4 KB");
            let browser = if g.path.ends_with("/rosa") {
                &rosa_phone
            } else {
                &paul_laptop
            };
            let plain = String::from_utf8(browser.decrypt(&g.body)).unwrap();
            assert!(!plain.contains(&token), "the case token travels nowhere");
            for secret in ["lkc_", "lkg_", "sealed", "guardian?t="] {
                assert!(!plain.contains(secret), "{secret} in {plain}");
            }
            let v: serde_json::Value = serde_json::from_str(&plain).unwrap();
            assert!(v["path"].as_str().unwrap().starts_with('/'));
            texts.push((g.path.clone(), v["title"].as_str().unwrap().to_owned()));
        }
        texts.sort();
        assert_eq!(
            texts,
            [
                (
                    "/push/paul".to_owned(),
                    "Please confirm who is locked out".to_owned()
                ),
                (
                    "/push/paul".to_owned(),
                    "Someone says they are locked out of your home".to_owned()
                ),
                (
                    "/push/rosa".to_owned(),
                    "Someone says they are locked out of your home".to_owned()
                ),
            ]
        );
        assert_eq!(worker.pass().await.unwrap().sent, 0, "each once");
    })
    .await;
}

#[tokio::test]
async fn a_subscription_the_push_service_calls_gone_is_dropped_and_not_retried() {
    latchkey_testkit::each_backend("push_gone", |db| async move {
        let h = house(&db).await;
        let service = PushService::start(&[410]).await;
        let phone = Browser::new();
        h.app
            .add_push_subscription(
                h.rosa.own_account(),
                phone.subscription(&service.endpoint("rosa")),
            )
            .await
            .unwrap();
        let worker = worker(&h).await;
        open_case(&h).await;
        let pass = worker.pass().await.unwrap();
        assert_eq!((pass.sent, pass.retried, pass.dead), (0, 0, 1), "{pass:?}");
        assert!(
            h.app
                .my_push_subscriptions(h.rosa.own_account())
                .await
                .unwrap()
                .is_empty(),
            "the subscription is dropped"
        );
        for _ in 0..4 {
            h.clock.advance(jiff::SignedDuration::from_mins(30));
            assert_eq!(
                worker.pass().await.unwrap(),
                latchkey_app::outbox::Pass::default()
            );
        }
        assert_eq!(service.got().len(), 1, "asked once");
        // A new notice finds no subscription: no push delivery is made for it.
        open_case(&h).await;
        assert_eq!(worker.pass().await.unwrap().sent, 0);
        assert_eq!(service.got().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_busy_push_service_gets_the_notice_again_later_and_it_arrives_once() {
    latchkey_testkit::each_backend("push_retry", |db| async move {
        let h = house(&db).await;
        let service = PushService::start(&[503]).await;
        let phone = Browser::new();
        h.app
            .add_push_subscription(
                h.rosa.own_account(),
                phone.subscription(&service.endpoint("rosa")),
            )
            .await
            .unwrap();
        let worker = worker(&h).await;
        open_case(&h).await;
        let first = worker.pass().await.unwrap();
        assert_eq!((first.sent, first.retried), (0, 1), "{first:?}");
        let mut sent = 0;
        for _ in 0..6 {
            h.clock.advance(jiff::SignedDuration::from_mins(5));
            sent += worker.pass().await.unwrap().sent;
        }
        assert_eq!(sent, 1);
        let got = service.got();
        let answers: Vec<u16> = got.iter().map(|g| g.answered).collect();
        assert_eq!(answers, [503, 201], "refused once, delivered once");
        assert_eq!(
            phone.decrypt(&got[0].body).len(),
            phone.decrypt(&got[1].body).len()
        );
        assert_eq!(
            h.app
                .my_push_subscriptions(h.rosa.own_account())
                .await
                .unwrap()
                .len(),
            1,
            "a busy service does not cost the subscription"
        );
    })
    .await;
}

/// An e-mail relay that only counts whom it was given messages for.
#[derive(Default)]
struct Relay {
    to: Mutex<Vec<String>>,
}

impl latchkey_app::outbox::Mailer for Relay {
    fn send<'a>(
        &'a self,
        email: &'a latchkey_app::outbox::Email,
    ) -> latchkey_app::outbox::Sending<'a> {
        Box::pin(async move {
            self.to.lock().unwrap().push(email.to.clone());
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_security_notice_chosen_for_push_goes_by_e_mail_while_no_browser_is_subscribed() {
    latchkey_testkit::each_backend("push_fallback", |db| async move {
        let h = house(&db).await;
        let service = PushService::start(&[]).await;
        let relay = Arc::new(Relay::default());
        let key = h.app.vapid_key().await.unwrap();
        let push = WebPush::new(
            &key,
            &PushConfig {
                subject: SUBJECT.into(),
                timeout: Duration::from_secs(10),
            },
        )
        .unwrap();
        let worker = h.app.outbox_worker(
            OutboxConfig::default(),
            Channels {
                email: Some(relay.clone()),
                push: Some(Arc::new(push)),
                ..Channels::default()
            },
        );
        let push_only = latchkey_app::outbox::Preferences {
            default_channels: vec![latchkey_app::outbox::Channel::Push],
            ..latchkey_app::outbox::Preferences::default()
        };
        for p in [&h.rosa, &h.paul] {
            h.app
                .set_my_notification_preferences(p.own_account(), push_only.clone())
                .await
                .unwrap();
        }
        let phone = Browser::new();
        h.app
            .add_push_subscription(
                h.rosa.own_account(),
                phone.subscription(&service.endpoint("rosa")),
            )
            .await
            .unwrap();
        open_case(&h).await;
        let pass = worker.pass().await.unwrap();
        assert_eq!(pass.sent, 2, "{pass:?}");
        assert_eq!(service.got().len(), 1, "Rosa's browser, by push only");
        assert_eq!(
            *relay.to.lock().unwrap(),
            ["paul@example.org"],
            "Paul has no browser subscribed: his lockout notice goes by e-mail"
        );
    })
    .await;
}

#[test]
fn this_test_decrypts_the_rfc_8291_example() {
    let browser = Browser {
        private: p256::SecretKey::from_slice(&unb64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
            .unwrap(),
        auth: unb64("BTBZMqHH6r4Tts7J_aSIgg").try_into().unwrap(),
    };
    let body = unb64(
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
    );
    assert_eq!(
        browser.decrypt(&body),
        b"When I grow up, I want to be a watermelon"
    );
}
