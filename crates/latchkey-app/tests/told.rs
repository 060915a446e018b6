//! Every "told" is queued: each event kind whose meaning says someone is told of it
//! (`latchkey_app::event_kinds::tells`, read from the event-kinds table) writes its
//! notification rows in the transaction of the event, on every backend. The kinds come from the
//! table, so a new kind that tells without a scenario here fails
//! `every_kind_that_tells_has_a_scenario`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{World, pin_for};
use latchkey_app::DevicePort;
use latchkey_app::devices::{IngestItem, RemoteAction};
use latchkey_app::directory::DoorPatch;
use latchkey_app::event_kinds::{DEVICE_EVENT_KINDS, tells};
use latchkey_app::store::records::Person;
use latchkey_app::{AppError, authz::Principal};
use latchkey_core::lock::LockCommand;
use latchkey_core::model::{DoorMode, Role};
use latchkey_core::{DoorId, PersonId};
use latchkey_store::lockout::{Notification, notifications_of_person_kind};
use latchkey_z2m::limits::Limits;
use latchkey_z2m::{Topics, parse_inbound};

/// The kinds with a scenario below, and the notification kinds each must queue.
const SCENARIOS: &[(&str, &[&str])] = &[
    ("credential.rotated", &["credential.rotated"]),
    (
        "door.compromised",
        &["door.compromised", "door.repair_needed"],
    ),
    ("door.mode_changed", &["door.mode_changed"]),
    ("lock.alarm", &["lock.unexpected_opening"]),
    ("lock.emergency_command", &["lock.emergency_command"]),
];

#[test]
fn every_kind_that_tells_has_a_scenario() {
    let telling: BTreeSet<&str> = DEVICE_EVENT_KINDS
        .iter()
        .filter(|k| tells(k))
        .map(|k| k.kind)
        .collect();
    let covered: BTreeSet<&str> = SCENARIOS.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        telling, covered,
        "each event kind whose meaning says someone is told needs a scenario in this file"
    );
}

/// A link that takes every command and never answers.
struct Silent;

impl DevicePort for Silent {
    fn desired_state_changed(&self, _door: DoorId) {}

    fn drives_devices(&self) -> bool {
        true
    }

    fn send(&self, _name: &str, _command: &LockCommand) -> Result<(), String> {
        Ok(())
    }
    fn connected(&self) -> bool {
        true
    }
}

struct Home {
    w: World,
    household: Person,
    manager: Principal,
}

async fn home(db: &latchkey_testkit::TestDb) -> Home {
    home_with(db, Arc::new(latchkey_app::NoDevices)).await
}

async fn home_with(db: &latchkey_testkit::TestDb, devices: Arc<dyn DevicePort>) -> Home {
    let w = World::build_with(db, devices).await;
    let household = w.unit_member("Hugo Household", Role::Household).await;
    let manager = w.principal(w.manager.id).await;
    Home {
        w,
        household,
        manager,
    }
}

async fn told(h: &Home, person: PersonId, kind: &str) -> Vec<Notification> {
    let mut conn = h.w.store.read().await.unwrap();
    notifications_of_person_kind(&mut conn, person, kind)
        .await
        .unwrap()
}

/// The data of the latest event of `kind`, and its instant.
async fn latest(h: &Home, kind: &str) -> Option<(serde_json::Value, jiff::Timestamp)> {
    latest_where(h, kind, |_| true).await
}

/// As [`latest`], among the events whose data `pick` accepts.
async fn latest_where(
    h: &Home,
    kind: &str,
    pick: impl Fn(&serde_json::Value) -> bool,
) -> Option<(serde_json::Value, jiff::Timestamp)> {
    let mut conn = h.w.store.read().await.unwrap();
    latchkey_store::audit::stored_after(&mut conn, i64::MIN, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .filter(|e| e.kind == kind)
        .map(|e| {
            (
                serde_json::from_str(&e.data).unwrap(),
                jiff::Timestamp::from_microsecond(e.at_micros).unwrap(),
            )
        })
        .find(|(data, _)| pick(data))
}

/// Waits for `kind` to be queued for `person` (work that runs after a batch's commit).
async fn told_soon(h: &Home, person: PersonId, kind: &str) -> Vec<Notification> {
    for _ in 0..200 {
        let n = told(h, person, kind).await;
        if !n.is_empty() {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Vec::new()
}

async fn ingest(h: &Home, lock: &str, payload: &str) {
    let message = parse_inbound(
        &Topics::default(),
        &format!("zigbee2mqtt/{lock}"),
        payload.as_bytes(),
        &Limits::default(),
    )
    .unwrap()
    .unwrap();
    h.w.app
        .ingest(vec![IngestItem {
            identity: None,
            message: latchkey_bridge::zigbee::message(message),
        }])
        .await
        .unwrap();
}

async fn pair(h: &Home, lock: &str) {
    h.w.app
        .pair_lock(
            h.w.app
                .may_pair_lock(&h.w.admin, h.w.door.id)
                .await
                .unwrap(),
            Some(lock),
        )
        .await
        .unwrap();
}

/// The household (resident and household member) each got exactly one row of `kind`, written
/// at the instant of the event that told them.
async fn household_told(h: &Home, kind: &str, at: jiff::Timestamp) -> Vec<Notification> {
    let mut all = Vec::new();
    for p in [h.w.resident.id, h.household.id] {
        let rows = told(h, p, kind).await;
        assert_eq!(rows.len(), 1, "{kind} for person {p}: {rows:?}");
        assert_eq!(rows[0].created_at, at, "queued with the event");
        all.extend(rows);
    }
    all
}

#[tokio::test]
async fn a_staff_change_of_a_homes_mode_tells_the_household_who_and_why() {
    latchkey_testkit::each_backend("told_mode", |db| async move {
        let h = home(&db).await;
        let patch = |reason: Option<&str>| DoorPatch {
            mode: Some(DoorMode::Privacy),
            reason: reason.map(str::to_owned),
            ..DoorPatch::default()
        };

        // Without a reason (or with one that says nothing) staff are refused, and nothing is
        // written or told.
        let before = h.w.event_count().await;
        for reason in [None, Some("  "), Some("fix")] {
            let p = patch(reason);
            let got =
                h.w.app
                    .update_door(
                        h.w.app
                            .may_update_door(&h.manager, h.w.door.id, &p)
                            .await
                            .unwrap(),
                        p,
                    )
                    .await;
            assert!(
                matches!(&got, Err(AppError::Invalid { field, .. }) if field == "reason"),
                "{reason:?}: {got:?}"
            );
        }
        let door = h.w.app.get_door(&h.w.admin, h.w.door.id).await.unwrap();
        assert_eq!(door.mode, DoorMode::Normal);
        assert_eq!(h.w.event_count().await, before);
        assert!(
            told(&h, h.w.resident.id, "door.mode_changed")
                .await
                .is_empty()
        );

        // A reason without a change of mode is refused too.
        let p = DoorPatch {
            reason: Some("no mode given".into()),
            ..DoorPatch::default()
        };
        let got =
            h.w.app
                .update_door(
                    h.w.app
                        .may_update_door(&h.manager, h.w.door.id, &p)
                        .await
                        .unwrap(),
                    p,
                )
                .await;
        assert!(matches!(&got, Err(AppError::Invalid { field, .. }) if field == "reason"));

        let p = patch(Some("police request during an investigation"));
        h.w.app
            .update_door(
                h.w.app
                    .may_update_door(&h.manager, h.w.door.id, &p)
                    .await
                    .unwrap(),
                p,
            )
            .await
            .unwrap();
        let (data, at) = latest(&h, "door.mode_changed").await.unwrap();
        assert_eq!(data["reason"], "police request during an investigation");
        let rows = household_told(&h, "door.mode_changed", at).await;
        for n in &rows {
            assert_eq!(n.body["by"], h.w.manager.id.0);
            assert_eq!(n.body["by_name"], "Max Manager");
            assert_eq!(n.body["reason"], "police request during an investigation");
            assert_eq!(n.body["to"], "privacy");
        }
        let mut listed: Vec<i64> = serde_json::from_value(data["told"].clone()).unwrap();
        listed.sort_unstable();
        let mut expected = vec![h.w.resident.id.0, h.household.id.0];
        expected.sort_unstable();
        assert_eq!(listed, expected, "the event names who was told");

        // The household switching its own door needs no reason and tells nobody.
        let rosa = h.w.principal(h.w.resident.id).await;
        let p = DoorPatch {
            mode: Some(DoorMode::Normal),
            ..DoorPatch::default()
        };
        h.w.app
            .update_door(
                h.w.app
                    .may_update_door(&rosa, h.w.door.id, &p)
                    .await
                    .unwrap(),
                p,
            )
            .await
            .unwrap();
        assert_eq!(told(&h, h.household.id, "door.mode_changed").await.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn an_emergency_command_tells_the_household() {
    latchkey_testkit::each_backend("told_emergency", |db| async move {
        let h = home_with(&db, Arc::new(Silent)).await;
        pair(&h, "told/4071").await;
        let cmd =
            h.w.app
                .remote_command(
                    h.w.app
                        .may_remote_command(
                            &h.manager,
                            h.w.door.id,
                            RemoteAction::Lock,
                            Some("water is coming through the ceiling below"),
                        )
                        .await
                        .unwrap(),
                    Duration::ZERO,
                )
                .await
                .unwrap();
        assert_eq!(cmd.status, "unconfirmed");
        let (data, at) = latest(&h, "lock.emergency_command").await.unwrap();
        assert_eq!(data["residents_told"], true);
        let rows = household_told(&h, "lock.emergency_command", at).await;
        assert!(
            rows.iter()
                .all(|n| n.body["reason"] == "water is coming through the ceiling below")
        );
    })
    .await;
}

#[tokio::test]
async fn an_unexpected_opening_tells_the_household() {
    latchkey_testkit::each_backend("told_unexpected", |db| async move {
        let h = home(&db).await;
        pair(&h, "told/4071").await;
        // Slot 7 holds nothing latchkey put there.
        ingest(
            &h,
            "told/4071",
            r#"{"action":"unlock","action_source_name":"keypad","action_user":7,"state":"UNLOCK","lock_state":"unlocked"}"#,
        )
        .await;
        let (data, at) = latest_where(&h, "lock.alarm", |d| d["alarm"] == "unexpected_opening")
            .await
            .expect("the opening is an alarm");
        assert_eq!(data["why"], "unmanaged_slot");
        household_told(&h, "lock.unexpected_opening", at).await;
    })
    .await;
}

#[tokio::test]
async fn a_forced_door_tells_staff_the_household_and_each_rotated_pins_holder() {
    latchkey_testkit::each_backend("told_forced", |db| async move {
        let h = home(&db).await;
        pair(&h, "told/4071").await;
        let rosa = h.w.principal(h.w.resident.id).await;
        let input = pin_for(h.w.resident.id, Some(h.w.unit.id), None);
        h.w.app
            .create_credential(
                rosa.credential_issuer(h.w.property.id, input.unit_id)
                    .unwrap(),
                input,
            )
            .await
            .unwrap();
        ingest(
            &h,
            "told/4071",
            r#"{"state":"LOCK","lock_state":"locked","door_state":"closed"}"#,
        )
        .await;
        ingest(&h, "told/4071", r#"{"door_state":"error_forced_open"}"#).await;
        assert!(
            !told_soon(&h, h.w.resident.id, "door.compromised")
                .await
                .is_empty(),
            "the incident is opened after the batch"
        );
        let (_, at) = latest(&h, "door.compromised").await.unwrap();
        household_told(&h, "door.compromised", at).await;
        let repair = told(&h, h.w.manager.id, "door.repair_needed").await;
        assert_eq!(repair.len(), 1, "staff are told to repair it");
        assert_eq!(repair[0].created_at, at);
        let (rotated, rotated_at) = latest(&h, "credential.rotated").await.unwrap();
        assert!(rotated["new_credential"].is_i64());
        let new_pin = told(&h, h.w.resident.id, "credential.rotated").await;
        assert_eq!(new_pin.len(), 1, "the holder is told the new code");
        assert_eq!(new_pin[0].created_at, rotated_at);
        assert!(new_pin[0].body["pin_sealed_hex"].is_string());
    })
    .await;
}
