//! Home Assistant on the embedded broker, end to end: latchkey announces each door by MQTT
//! discovery, a command on Home Assistant's command topic is the service account's remote
//! command (authorised, audited, confirmed by the virtual lock, reported on the state topic), a
//! command the account may not send is refused and recorded, unpairing a lock takes its
//! entities back, and nothing under latchkey's topics names a person or carries a PIN.
//! On SQLite, and on PostgreSQL when `LATCHKEY_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Broker, Rig, connected, rig_on_db};
use latchkey_app::credentials::CredentialInput;
use latchkey_app::directory::DoorInput;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::store::audit::EventFilter;
use latchkey_app::store::records::Event;
use latchkey_bridge::hass::{self, HassOptions, HassTopics};
use latchkey_core::DoorId;
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Role};
use latchkey_core::schedule::Schedule;
use latchkey_mqtt::{
    BrokerOptions, EmbeddedBroker, QoS, Session, SessionHandle, SessionOptions, Will,
};
use serde_json::Value;

/// The resident's PIN, which must never reach a Home Assistant topic.
const PIN: &str = "480261";
/// The service account's name, which must never reach one either.
const ACCOUNT: &str = "Hal Automation";

/// Every message a client subscribed to `#` saw: topic, payload, retained.
type Seen = Arc<Mutex<Vec<(String, Vec<u8>, bool)>>>;

/// A client of the broker that records everything: Home Assistant's side of the test.
async fn listener(rig: &Rig, id: &str) -> (SessionHandle, Seen) {
    let mut opts = SessionOptions::new(rig.broker.server_url(), id);
    opts.subscriptions = vec![("#".into(), QoS::AtMostOnce)];
    let (handle, mut rx) = Session::start(opts).unwrap();
    connected(&mut handle.state()).await;
    let seen: Seen = Arc::default();
    let into = seen.clone();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            into.lock()
                .unwrap()
                .push((m.topic, m.payload.to_vec(), m.retain));
        }
    });
    (handle, seen)
}

async fn eventually<F: Fn() -> Fut, Fut: Future<Output = bool>>(what: &str, f: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The last payload seen on `topic`.
fn last(seen: &Seen, topic: &str) -> Option<Vec<u8>> {
    seen.lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(t, _, _)| t == topic)
        .map(|(_, p, _)| p.clone())
}

fn payloads(seen: &Seen, topic: &str) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(t, _, _)| t == topic)
        .map(|(_, p, _)| String::from_utf8_lossy(p).into_owned())
        .collect()
}

async fn log(rig: &Rig, kind: &str) -> Vec<Event> {
    rig.app
        .list_events(
            &rig.admin,
            None,
            EventFilter {
                kind_prefix: Some(kind.into()),
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

/// The rig's door (lock-0) and a second door of the same unit (lock-1); a service account
/// with a phone key for the first door only; its API token; latchkey's Home Assistant link.
struct Setup {
    rig: Rig,
    back: DoorId,
    account: latchkey_core::PersonId,
    topics: HassTopics,
}

/// With `stale_command`, an `UNLOCK` of the rig's door is left retained on the command topic
/// before latchkey's link starts, as a misconfigured automation would leave it.
async fn setup(db: latchkey_testkit::TestDb, test: &str, stale_command: bool) -> Setup {
    let broker = EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..BrokerOptions::default()
    })
    .unwrap();
    let rig = rig_on_db(test, db, Broker::Embedded(broker)).await;
    let app = &rig.app;
    let back = app
        .create_door(
            rig.admin.staff(rig.property).unwrap(),
            DoorInput {
                name: "1A back door".into(),
                kind: DoorKind::UnitEntry,
                unit_id: Some(rig.unit),
                mode: DoorMode::Normal,
                pin_slots: 10,
            },
        )
        .await
        .unwrap()
        .id;
    app.pair_lock(
        app.may_pair_lock(&rig.admin, back).await.unwrap(),
        Some("lock-1"),
    )
    .await
    .unwrap();
    let input = PersonInput {
        name: ACCOUNT.into(),
        email: None,
        phone: None,
        password: None,
        membership: MembershipInput {
            role: Role::Guest,
            unit_id: Some(rig.unit),
            valid_from: None,
            valid_until: None,
        },
    };
    let (account, _) = app
        .create_person(
            app.may_create_person(&rig.admin, rig.property, &input)
                .unwrap(),
            input,
        )
        .await
        .unwrap();
    let key = CredentialInput {
        person_id: account.id,
        kind: CredentialKind::PhoneKey,
        label: None,
        unit_id: Some(rig.unit),
        doors: Some(vec![rig.door]),
        schedule: Schedule::Always,
        max_uses: None,
        duress: false,
        pin: None,
        card_uid: None,
    };
    app.create_credential(
        rig.admin
            .credential_issuer(rig.property, Some(rig.unit))
            .unwrap(),
        key,
    )
    .await
    .unwrap();
    let who = app.terminal_principal(account.id).await.unwrap();
    let (token, _) = app
        .create_api_token(who.own_account(), "Home Assistant")
        .await
        .unwrap();

    let topics = HassTopics::new("homeassistant", "latchkey").unwrap();
    if stale_command {
        let (ha, _) = listener(&rig, "stale-automation").await;
        ha.try_publish(
            topics.door(rig.door, "set"),
            b"UNLOCK".to_vec(),
            QoS::AtMostOnce,
            true,
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut opts = SessionOptions::new(rig.broker.server_url(), format!("latchkey-hass-{test}"));
    (opts.subscriptions, opts.unshared_subscriptions) = hass::subscriptions(&topics);
    opts.shared_group = Some("latchkey-hass".into());
    opts.last_will = Some(Will {
        topic: topics.status(),
        payload: b"offline".to_vec(),
        qos: QoS::AtLeastOnce,
        retain: true,
    });
    let (handle, rx) = Session::start(opts).unwrap();
    tokio::spawn(hass::run(
        app.clone(),
        handle,
        rx,
        HassOptions {
            topics: topics.clone(),
            token,
            resync: Duration::from_millis(200),
            command_wait: Duration::from_secs(10),
            qos: QoS::AtMostOnce,
        },
    ));
    Setup {
        rig,
        back,
        account: account.id,
        topics,
    }
}

/// The four discovery configurations of a door, parsed, once all are there.
async fn configs(seen: &Seen, topics: &HassTopics, door: DoorId) -> BTreeMap<String, Value> {
    let all = || {
        hass::Entity::ALL
            .iter()
            .filter_map(|e| {
                let topic = topics.config(*e, door);
                last(seen, &topic).filter(|p| !p.is_empty()).map(|p| {
                    (
                        e.component().to_owned(),
                        serde_json::from_slice(&p).unwrap(),
                    )
                })
            })
            .collect::<BTreeMap<String, Value>>()
    };
    eventually("every entity of the door is announced", || async {
        all().len() == 4
    })
    .await;
    all()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_sees_each_door_and_its_commands_are_the_accounts_remote_commands() {
    latchkey_testkit::each_backend("hass_commands", |db| async move {
        let s = setup(db, "hass_commands", false).await;
        let (rig, topics) = (&s.rig, &s.topics);
        let (_ha, seen) = listener(rig, "home-assistant").await;
        // The resident's PIN goes onto the lock (the listener must see it on Zigbee2MQTT's
        // topic, or the scan at the end proves nothing).
        let pin = rig.pin(PIN).await;
        rig.until_status(pin, "set").await;

        // Discovery: both doors, field by field against the schemas (see the unit tests in
        // src/hass/discovery_tests.rs for what each schema requires).
        let mut unique = BTreeSet::new();
        for door in [rig.door, s.back] {
            let c = configs(&seen, topics, door).await;
            let lock = &c["lock"];
            assert_eq!(lock["command_topic"], format!("latchkey/door/{door}/set"));
            assert_eq!(lock["state_topic"], format!("latchkey/door/{door}/lock"));
            assert_eq!(lock["payload_lock"], "LOCK");
            assert_eq!(lock["payload_unlock"], "UNLOCK");
            assert_eq!(lock["state_jammed"], "JAMMED");
            assert_eq!(c["binary_sensor"]["device_class"], "door");
            assert_eq!(c["sensor"]["device_class"], "battery");
            assert_eq!(c["sensor"]["unit_of_measurement"], "%");
            assert!(c["event"]["event_types"].as_array().unwrap().len() >= 4);
            for (component, config) in &c {
                for key in ["unique_id", "state_topic", "availability", "device"] {
                    assert!(config.get(key).is_some(), "{component} lacks {key}");
                }
                assert!(unique.insert(config["unique_id"].as_str().unwrap().to_owned()));
                assert_eq!(
                    config["device"]["identifiers"], lock["device"]["identifiers"],
                    "one device per door"
                );
                let availability: Vec<&str> = config["availability"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["topic"].as_str().unwrap())
                    .collect();
                assert_eq!(
                    availability,
                    [
                        "latchkey/status".to_owned(),
                        format!("latchkey/door/{door}/availability")
                    ]
                );
            }
        }
        eventually("latchkey and the lock are online", || async {
            last(&seen, "latchkey/status").as_deref() == Some(b"online")
                && last(&seen, &format!("latchkey/door/{}/availability", rig.door)).as_deref()
                    == Some(b"online")
        })
        .await;

        // UNLOCK from Home Assistant: the account's phone key opens this door.
        let (ha, _) = listener(rig, "home-assistant-commands").await;
        ha.try_publish(
            topics.door(rig.door, "set"),
            b"UNLOCK".to_vec(),
            QoS::AtMostOnce,
            false,
        )
        .unwrap();
        let state = format!("latchkey/door/{}/lock", rig.door);
        eventually("the state topic says UNLOCKED", || async {
            last(&seen, &state).as_deref() == Some(b"UNLOCKED")
        })
        .await;
        assert!(
            payloads(&seen, &state).contains(&"UNLOCKING".to_owned()),
            "the command showed as under way first: {:?}",
            payloads(&seen, &state)
        );
        assert_eq!(
            rig.fleet.bolt("lock-0").unwrap(),
            latchkey_sim::Bolt::Unlocked,
            "the virtual lock really turned"
        );
        let sent = log(rig, "lock.command").await;
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(
            sent[0].actor_id,
            Some(s.account),
            "the service account is the actor"
        );
        assert_eq!(sent[0].subject, format!("door:{}", rig.door));
        assert_eq!(sent[0].data["action"], "unlock");
        assert!(
            sent[0].data["credential_id"].is_i64(),
            "on the basis of its phone key"
        );
        eventually("the lock's confirmation is recorded", || async {
            !log(rig, "lock.command_confirmed").await.is_empty()
        })
        .await;

        // LOCK goes the same way back.
        ha.try_publish(
            topics.door(rig.door, "set"),
            b"LOCK".to_vec(),
            QoS::AtMostOnce,
            false,
        )
        .unwrap();
        eventually("the state topic says LOCKED", || async {
            last(&seen, &state).as_deref() == Some(b"LOCKED")
        })
        .await;
        assert_eq!(
            rig.fleet.bolt("lock-0").unwrap(),
            latchkey_sim::Bolt::Locked
        );

        // The back door: announced (the account's unit), but its phone key does not open it.
        let back_state = format!("latchkey/door/{}/lock", s.back);
        let before = payloads(&seen, &back_state);
        ha.try_publish(
            topics.door(s.back, "set"),
            b"UNLOCK".to_vec(),
            QoS::AtMostOnce,
            false,
        )
        .unwrap();
        eventually("the refusal is recorded", || async {
            !log(rig, "lock.command_refused").await.is_empty()
        })
        .await;
        let refused = log(rig, "lock.command_refused").await;
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].actor_id, Some(s.account));
        assert_eq!(refused[0].subject, format!("door:{}", s.back));
        assert_eq!(refused[0].property_id, Some(rig.property));
        assert_eq!(refused[0].data["action"], "unlock");
        assert_eq!(refused[0].data["via"], "home_assistant");
        let reason = refused[0].data["reason"].as_str().unwrap();
        assert!(reason.contains("does not open this door"), "{reason}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            rig.fleet.bolt("lock-1").unwrap(),
            latchkey_sim::Bolt::Locked,
            "nothing reached the lock"
        );
        assert_eq!(
            log(rig, "lock.command").await.len(),
            2,
            "no command was recorded"
        );
        assert!(
            !payloads(&seen, &back_state)[before.len()..].contains(&"UNLOCKING".to_owned()),
            "the state never moved"
        );

        // The door opens, then is forced while locked: the contact follows, and the forced
        // entry is an alarm event (not retained).
        let contact = format!("latchkey/door/{}/contact", rig.door);
        rig.fleet.open_door("lock-0").unwrap();
        eventually("the contact says open", || async {
            last(&seen, &contact).as_deref() == Some(b"ON")
        })
        .await;
        rig.fleet.close_door("lock-0").unwrap();
        eventually("the contact says closed", || async {
            last(&seen, &contact).as_deref() == Some(b"OFF")
        })
        .await;
        rig.fleet.force_door("lock-0").unwrap();
        let alarm = format!("latchkey/door/{}/alarm", rig.door);
        eventually("the forced entry is an event", || async {
            payloads(&seen, &alarm)
                .iter()
                .any(|p| p.contains("\"event_type\":\"forced_entry\""))
        })
        .await;
        // A Home Assistant that starts later finds the door's state, but no event to replay.
        let (_late, late) = listener(rig, "home-assistant-late").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(last(&late, &contact).is_some(), "the state is retained");
        let replayed: Vec<_> = late
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, retained)| *t == alarm && *retained)
            .map(|(_, p, _)| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert!(replayed.is_empty(), "an event is not: {replayed:?}");

        // Nothing under latchkey's or Home Assistant's topics names a person or carries a
        // code; the same listener did see the PIN on its way to the lock.
        let all = seen.lock().unwrap().clone();
        assert!(
            all.iter().any(|(t, p, _)| t.starts_with("zigbee2mqtt/")
                && String::from_utf8_lossy(p).contains(PIN)),
            "the scan can see a PIN where one travels"
        );
        let ours: Vec<_> = all
            .iter()
            .filter(|(t, _, _)| t.starts_with("latchkey/") || t.starts_with("homeassistant/"))
            .collect();
        assert!(ours.len() > 20, "{}", ours.len());
        for (topic, payload, _) in ours {
            let text = String::from_utf8_lossy(payload).to_lowercase();
            for secret in [
                PIN,
                "rita",
                ACCOUNT,
                "hal",
                "slot",
                "pin",
                "credential",
                "@",
            ] {
                assert!(
                    !text.contains(&secret.to_lowercase())
                        && !topic.to_lowercase().contains(&secret.to_lowercase()),
                    "{topic} carries `{secret}`: {text}"
                );
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_command_is_ignored_unpairing_takes_entities_back_and_revoking_takes_them_all() {
    latchkey_testkit::each_backend("hass_unpair", |db| async move {
        let s = setup(db, "hass_unpair", true).await;
        let (rig, topics) = (&s.rig, &s.topics);
        let (ha, seen) = listener(rig, "home-assistant").await;
        configs(&seen, topics, s.back).await;
        configs(&seen, topics, rig.door).await;
        // The retained command reached the link (as retained) and was not carried out: it
        // would open the door again on every reconnect.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(log(rig, "lock.command").await.is_empty());
        assert_eq!(
            rig.fleet.bolt("lock-0").unwrap(),
            latchkey_sim::Bolt::Locked
        );
        ha.try_publish(
            topics.door(rig.door, "set"),
            Vec::new(),
            QoS::AtMostOnce,
            true,
        )
        .unwrap();

        rig.app
            .pair_lock(
                rig.app.may_pair_lock(&rig.admin, s.back).await.unwrap(),
                None,
            )
            .await
            .unwrap();
        for entity in hass::Entity::ALL {
            let topic = topics.config(entity, s.back);
            eventually("the unpaired door's entity is removed", || async {
                last(&seen, &topic).is_some_and(|p| p.is_empty())
            })
            .await;
        }
        // A Home Assistant that connects now finds only the door still paired.
        let (_late, late) = listener(rig, "home-assistant-late").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let kept = topics.config(hass::Entity::Lock, rig.door);
        assert!(
            late.lock()
                .unwrap()
                .iter()
                .any(|(t, p, retained)| *t == kept && !p.is_empty() && *retained),
            "discovery is retained, as Home Assistant expects"
        );
        assert!(
            last(&late, &topics.config(hass::Entity::Lock, s.back)).is_none_or(|p| p.is_empty())
        );

        // The service account's token is revoked: its doors are withdrawn, and a command is
        // refused before anything is sent.
        let who = rig.app.terminal_principal(s.account).await.unwrap();
        let grants = rig
            .app
            .list_grants(&who, latchkey_app::store::auth::GrantKind::ApiToken)
            .await
            .unwrap();
        rig.app
            .revoke_grant(
                rig.app
                    .may_revoke_grant(
                        &rig.admin,
                        latchkey_app::store::auth::GrantKind::ApiToken,
                        grants[0].id,
                    )
                    .await
                    .unwrap(),
            )
            .await
            .unwrap();
        for entity in hass::Entity::ALL {
            let topic = topics.config(entity, rig.door);
            eventually("the revoked account's door is removed", || async {
                last(&seen, &topic).is_some_and(|p| p.is_empty())
            })
            .await;
        }
    })
    .await;
}
