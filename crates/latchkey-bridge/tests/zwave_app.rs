//! Z-Wave locks run by the app, end to end: a real broker (the embedded rumqttd on port 0),
//! virtual Z-Wave locks behind the virtual Z-Wave JS UI gateway, latchkey's gateway session
//! linked to the device port, ingestion and the reconciler, on SQLite. A door paired with
//! `zwave/<node>` gets its PINs through the session: read first, written, and believed only
//! from the read-back (`set` where the lock shows its codes, `assumed` where it masks them);
//! a keypad opening is attributed to its credential; a revoke empties the slot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod zwave_common;

use std::sync::Arc;
use std::time::Duration;

use latchkey_app::authz::Principal;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::devices::reconcile;
use latchkey_app::directory::DoorInput;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, SystemClock};
use latchkey_bridge::BridgePort;
use latchkey_bridge::zwave::link::{ZwaveLink, run_events};
use latchkey_bridge::zwave::{session_options, start};
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, DoorId};
use latchkey_mqtt::{BrokerOptions, EmbeddedBroker, QoS, Session, SessionOptions};
use latchkey_sim::zwave::{ZwaveSimConfig, ZwaveSimHandle, run};
use latchkey_zwave::Topics;
use zwave_common::{connected, lock, quick};

struct World {
    app: App,
    admin: Principal,
    resident: Principal,
    shows: DoorId,
    masks: DoorId,
    sim: ZwaveSimHandle,
    hand: latchkey_mqtt::SessionHandle,
    _broker: EmbeddedBroker,
    _db: latchkey_testkit::TestDb,
}

async fn door(
    app: &App,
    admin: &Principal,
    p: latchkey_core::PropertyId,
    unit: latchkey_core::UnitId,
    name: &str,
) -> DoorId {
    app.create_door(
        admin.staff(p).unwrap(),
        DoorInput {
            name: name.into(),
            kind: DoorKind::UnitEntry,
            unit_id: Some(unit),
            mode: DoorMode::Normal,
            pin_slots: 10,
        },
    )
    .await
    .unwrap()
    .id
}

/// Node 5 shows its codes; node 6 masks them (a Schlage BE469).
async fn world(test: &str) -> World {
    let broker = EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_payload: 16 << 20,
        ..BrokerOptions::default()
    })
    .unwrap();
    let (sim, _task) = run(ZwaveSimConfig::new(
        broker.listen_addr().port(),
        vec![lock(5, |_| {}), lock(6, |l| l.quirks.masked_codes = true)],
    ));
    assert!(sim.connected(Duration::from_secs(10)).await);
    let mut hand_opts = SessionOptions::new(broker.internal_url(), format!("hand-{test}"));
    hand_opts.subscriptions = Vec::new();
    let (hand, _rx) = Session::start(hand_opts).unwrap();
    connected(&mut hand.state()).await;

    let db = latchkey_testkit::TestDb::sqlite(test);
    let store = db.open().await;
    let (port, reconcile_rx) = BridgePort::new();
    let app = App::new(
        store,
        Keys::from_master(&[9; 32]),
        Arc::new(SystemClock),
        port.clone(),
        AppConfig::default(),
    );
    let (handle, inbound) = Session::start(session_options(
        broker.internal_url(),
        &format!("latchkey-{test}"),
        &Topics::default(),
    ))
    .unwrap();
    connected(&mut handle.state()).await;
    let (gateway, events, _session) = start(handle.clone(), inbound, quick());
    let (link, jobs) = ZwaveLink::new(gateway, handle.state());
    port.connect_zwave(link);
    tokio::spawn(run_events(app.clone(), events, jobs));
    tokio::spawn(reconcile::run(
        app.clone(),
        reconcile_rx,
        reconcile::ReconcileOptions {
            tick: Duration::from_millis(50),
            confirm_after: Duration::from_secs(10),
            sweep_every: Duration::from_secs(2),
            ..Default::default()
        },
    ));

    let (admin, prop, unit) = common::house(&app, "Z-Wave House", "2B").await;
    let shows = door(&app, &admin, prop.id, unit.id, "2B entry").await;
    let masks = door(&app, &admin, prop.id, unit.id, "2B back door").await;
    let input = PersonInput {
        name: "Zoe".into(),
        email: Some("zoe@example.org".into()),
        phone: None,
        password: None,
        membership: MembershipInput {
            role: Role::Resident,
            unit_id: Some(unit.id),
            valid_from: None,
            valid_until: None,
        },
    };
    let (zoe, _) = app
        .create_person(
            app.may_create_person(&admin, prop.id, &input).unwrap(),
            input,
        )
        .await
        .unwrap();
    let resident = app.terminal_principal(zoe.id).await.unwrap();
    for (d, name) in [(shows, "zwave/5"), (masks, "zwave/6")] {
        app.pair_lock(app.may_pair_lock(&admin, d).await.unwrap(), Some(name))
            .await
            .unwrap();
    }
    World {
        app,
        admin,
        resident,
        shows,
        masks,
        sim,
        hand,
        _broker: broker,
        _db: db,
    }
}

impl World {
    async fn pin(&self, pin: &str) -> CredentialId {
        let door = self.app.get_door(&self.admin, self.shows).await.unwrap();
        let input = CredentialInput {
            person_id: self.resident.id(),
            kind: CredentialKind::Pin,
            label: None,
            unit_id: door.unit_id,
            doors: Some(vec![self.shows, self.masks]),
            schedule: Schedule::Always,
            max_uses: None,
            duress: false,
            pin: Some(pin.into()),
            card_uid: None,
        };
        self.app
            .create_credential(
                self.resident
                    .credential_issuer(door.property_id, input.unit_id)
                    .unwrap(),
                input,
            )
            .await
            .unwrap()
            .credential
            .id
    }

    async fn until(&self, id: CredentialId, want: &[(&str, &str)]) {
        common::until_on_locks(&self.app, &self.admin, id, want).await;
    }
}

#[tokio::test]
async fn a_pin_reaches_zwave_locks_set_where_shown_assumed_where_masked_and_opens_and_goes() {
    let w = world("zwave_app").await;
    let id = w.pin("586137").await;
    w.until(id, &[("zwave/5", "set"), ("zwave/6", "assumed")])
        .await;
    // On the locks themselves: slot 0 is the lock's user id 1.
    let held = w.sim.slot(5, 1).expect("node 5 slot 1");
    assert_eq!((held.status, held.code.as_str()), (1, "586137"));
    assert_eq!(w.sim.slot(6, 1).expect("node 6 slot 1").status, 1);

    // A keypad opening at node 5 is the credential's.
    w.hand
        .publish(
            "latchkey-sim/zwave/5/keypad".to_owned(),
            b"586137".to_vec(),
            QoS::AtLeastOnce,
            false,
        )
        .await
        .unwrap();
    common::attributed(&w.app, &w.admin, id).await;

    // Revoked: both slots are emptied, as each lock's read-back shows.
    common::revoke(&w.app, &w.resident, id).await;
    w.until(id, &[("zwave/5", "removed"), ("zwave/6", "removed")])
        .await;
    assert_eq!(w.sim.slot(5, 1).expect("slot").status, 0);
    assert_eq!(w.sim.slot(6, 1).expect("slot").status, 0);
}
