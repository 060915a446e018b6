//! A code a lock took but cannot show is `assumed`, never `set`: in a credential's status on its
//! locks, in the door's slots, and in the readiness drill, which counts the PIN but says so. A
//! lost assumed code is written again like a lost `set` one. Whether a written code is `set` or
//! `assumed` is the read-back's word, and a value a gateway publishes on its own is no read-back.
//! Every test runs on every backend.

mod common;

use common::{World, pin_for};
use latchkey_app::devices::IngestItem;
use latchkey_core::drill::Failure;
use latchkey_core::lock::{
    CodeChange, CodeChangeKind, DeviceMessage, LockProfile, LockReport, Protocol, ReportedCode,
    SlotReading, SlotStatus as LockSlot,
};
use latchkey_core::{CredentialId, DoorId};
use latchkey_store::devices::{self as repo, Desired, Slot, SlotStatus};
use latchkey_z2m::limits::Limits;
use latchkey_z2m::{Topics, parse_inbound};

const LOCK: &str = "lock-4071";

/// The world with its door's lock paired and Rosa's PIN on it in slot 0, as `status`.
async fn with_pin(db: &latchkey_testkit::TestDb, status: SlotStatus) -> (World, CredentialId) {
    let w = World::build(db).await;
    w.app
        .pair_lock(
            w.app
                .may_pair_lock(&w.admin, w.door.id)
                .await
                .expect("the caller may do this"),
            Some(LOCK),
        )
        .await
        .expect("paired");
    let rp = w.principal(w.resident.id).await;
    let created = w
        .app
        .create_credential(
            rp.credential_issuer(w.property.id, Some(w.unit.id))
                .expect("the caller may do this"),
            pin_for(w.resident.id, Some(w.unit.id), Some("58274613")),
        )
        .await
        .expect("credential");
    let id = created.credential.id;
    put_slot(&w, w.door.id, id, status).await;
    (w, id)
}

/// What the lock is found to hold, as the reconciler and ingestion would have left it.
async fn put_slot(w: &World, door: DoorId, id: CredentialId, status: SlotStatus) {
    put_slot_as(w, door, id, Desired::Enabled, status).await;
}

async fn put_slot_as(
    w: &World,
    door: DoorId,
    id: CredentialId,
    desired: Desired,
    status: SlotStatus,
) {
    let mut tx = w.store.write().await.expect("tx");
    repo::save_slots(
        tx.conn(),
        &[Slot {
            door_id: door,
            slot: 0,
            credential_id: Some(id),
            desired,
            status,
            reason: None,
            attempts: 0,
            next_attempt_at: None,
            updated_at: w.app.now(),
        }],
    )
    .await
    .expect("slot");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn an_assumed_code_is_shown_as_assumed_never_as_set() {
    latchkey_testkit::each_backend("assumed_status", |db| async move {
        let (w, id) = with_pin(&db, SlotStatus::Assumed).await;
        let rp = w.principal(w.resident.id).await;
        let on_locks = w.app.credential_locks(&rp, id).await.expect("status");
        assert_eq!(on_locks.len(), 1);
        assert_eq!(on_locks[0].status, "assumed");
        assert_eq!(on_locks[0].lock.as_deref(), Some(LOCK));
        let slots = w.app.door_slots(&w.admin, w.door.id).await.expect("slots");
        assert_eq!(slots[0].status, SlotStatus::Assumed);
        assert_eq!(
            serde_json::to_value(&slots[0]).expect("json")["status"],
            "assumed"
        );
        // Stored and read back as itself on this backend.
        let mut conn = w.store.read().await.expect("conn");
        assert_eq!(
            repo::assumed_credentials(&mut conn, w.property.id)
                .await
                .expect("read"),
            vec![id]
        );
        assert!(
            repo::assumed_credentials(&mut conn, latchkey_core::PropertyId(999_999))
                .await
                .expect("read")
                .is_empty(),
            "another property's locks hold nothing of it"
        );
    })
    .await;
}

#[tokio::test]
async fn the_drill_counts_an_assumed_pin_and_says_so() {
    latchkey_testkit::each_backend("assumed_drill", |db| async move {
        let (w, id) = with_pin(&db, SlotStatus::Set).await;
        let sure = w
            .app
            .readiness(&w.admin, w.property.id)
            .await
            .expect("drill");
        let rosa = |r: &latchkey_app::readiness::Readiness| {
            r.report
                .iter()
                .find(|x| x.name == "Rosa Resident")
                .expect("Rosa")
                .clone()
        };
        assert!(rosa(&sure).failures.iter().all(|f| !f.pin_assumed));

        put_slot(&w, w.door.id, id, SlotStatus::Assumed).await;
        let assumed = w
            .app
            .readiness(&w.admin, w.property.id)
            .await
            .expect("drill");
        let r = rosa(&assumed);
        for f in &r.failures {
            // Still a way in wherever the PIN is remembered, and said so there only.
            assert_eq!(
                f.pin_assumed,
                f.failure != Failure::PinForgotten,
                "{:?}",
                f.failure
            );
        }
        let before = rosa(&sure);
        for (a, b) in before.failures.iter().zip(&r.failures) {
            assert_eq!(a.short_hours, b.short_hours, "the PIN counts all the same");
        }
        // The heat map's residents say it too (the page prints the drill's sentence).
        let map = w
            .app
            .readiness_map(
                w.admin.staff(w.property.id).expect("staff"),
                Failure::PhoneGone,
            )
            .await
            .expect("map");
        let on_map = map
            .units
            .iter()
            .flat_map(|u| &u.residents)
            .find(|x| x.person_id == w.resident.id)
            .expect("Rosa on the map");
        assert!(on_map.pin_assumed);
    })
    .await;
}

#[tokio::test]
async fn a_lost_assumed_code_is_written_again() {
    latchkey_testkit::each_backend("assumed_lost", |db| async move {
        let (w, id) = with_pin(&db, SlotStatus::Assumed).await;
        let message = parse_inbound(
            &Topics::default(),
            &format!("zigbee2mqtt/{LOCK}"),
            br#"{"users":{"0":{"status":"available"}}}"#,
            &Limits::default(),
        )
        .expect("parsed")
        .expect("a device message");
        w.app
            .ingest(vec![IngestItem {
                identity: None,
                message: latchkey_bridge::zigbee::message(message),
            }])
            .await
            .expect("ingested");
        let rp = w.principal(w.resident.id).await;
        let on_locks = w.app.credential_locks(&rp, id).await.expect("status");
        assert_eq!(on_locks[0].status, "pending", "to be written again");
        assert!(
            w.all_events_text().await.contains("lock.slot_lost"),
            "the loss is recorded"
        );
    })
    .await;
}

/// What a lock of `profile` reported, in the core's words.
async fn said(w: &World, profile: LockProfile, report: LockReport) {
    w.app
        .ingest(vec![IngestItem {
            identity: None,
            message: DeviceMessage::reports(LOCK, profile, vec![report]),
        }])
        .await
        .expect("ingested");
}

/// A Z-Wave lock's answer to a read of slot 0 (`read_back`), or its gateway's publication.
async fn read_back(w: &World, code: ReportedCode, read_back: bool) {
    said(
        w,
        LockProfile::ZWAVE,
        LockReport::Slot(SlotReading {
            slot: 0,
            status: LockSlot::Enabled,
            code,
            read_back,
        }),
    )
    .await;
}

/// A code-change notification about `slot`.
fn added(slot: u16) -> LockReport {
    LockReport::CodeChanged(CodeChange {
        kind: CodeChangeKind::Added,
        slot: Some(slot),
        at_keypad: false,
    })
}

#[tokio::test]
async fn a_masked_read_back_makes_a_written_code_assumed() {
    latchkey_testkit::each_backend("assumed_masked", |db| async move {
        let (w, id) = with_pin(&db, SlotStatus::Pending).await;
        let rp = w.principal(w.resident.id).await;
        read_back(&w, ReportedCode::Masked, true).await;
        let on_locks = w.app.credential_locks(&rp, id).await.expect("status");
        assert_eq!(on_locks[0].status, "assumed", "a masked code is never set");
        let text = w.all_events_text().await;
        assert!(
            text.contains("lock.slot_set") && text.contains("assumed"),
            "the event says how far the lock confirmed: {text}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_exact_read_back_makes_a_written_code_set() {
    latchkey_testkit::each_backend("assumed_exact", |db| async move {
        let (w, id) = with_pin(&db, SlotStatus::Pending).await;
        let rp = w.principal(w.resident.id).await;
        read_back(&w, ReportedCode::Exact("58274613".into()), true).await;
        let on_locks = w.app.credential_locks(&rp, id).await.expect("status");
        assert_eq!(on_locks[0].status, "set");
    })
    .await;
}

#[tokio::test]
async fn a_value_the_gateway_published_on_its_own_confirms_nothing() {
    latchkey_testkit::each_backend("assumed_echo", |db| async move {
        let (w, id) = with_pin(&db, SlotStatus::Pending).await;
        let before = w.event_count().await;
        // The gateway's echo of a write the lock may never have taken.
        read_back(&w, ReportedCode::Exact("58274613".into()), false).await;
        let rp = w.principal(w.resident.id).await;
        let on_locks = w.app.credential_locks(&rp, id).await.expect("status");
        assert_eq!(
            on_locks[0].status, "pending",
            "still waiting for the read-back"
        );
        assert_eq!(w.event_count().await, before, "nothing recorded");
    })
    .await;
}

#[tokio::test]
async fn a_lock_that_masks_its_codes_by_model_makes_even_an_exact_read_assumed() {
    latchkey_testkit::each_backend("assumed_model", |db| async move {
        let (w, id) = with_pin(&db, SlotStatus::Pending).await;
        let be469 =
            LockProfile::for_model(Protocol::ZWave, Some("Schlage"), Some("BE469ZP"), false);
        said(
            &w,
            be469,
            LockReport::Slot(SlotReading {
                slot: 0,
                status: LockSlot::Enabled,
                code: ReportedCode::Exact("58274613".into()),
                read_back: true,
            }),
        )
        .await;
        let rp = w.principal(w.resident.id).await;
        let on_locks = w.app.credential_locks(&rp, id).await.expect("status");
        assert_eq!(on_locks[0].status, "assumed");
    })
    .await;
}

#[tokio::test]
async fn a_zwave_code_change_notification_confirms_nothing_a_zigbee_programming_event_does() {
    latchkey_testkit::each_backend("assumed_notice", |db| async move {
        let (w, id) = with_pin(&db, SlotStatus::Pending).await;
        let rp = w.principal(w.resident.id).await;
        // The notification a Z-Wave lock sends for latchkey's write and the keypad's alike.
        said(&w, LockProfile::ZWAVE, added(0)).await;
        let on_locks = w.app.credential_locks(&rp, id).await.expect("status");
        assert_eq!(on_locks[0].status, "pending", "waiting for the read-back");
        assert!(!w.all_events_text().await.contains("unmanaged_code"));
        // The Zigbee door-lock cluster's programming event is the lock's own word.
        said(&w, LockProfile::ZIGBEE, added(0)).await;
        let on_locks = w.app.credential_locks(&rp, id).await.expect("status");
        assert_eq!(on_locks[0].status, "set");
    })
    .await;
}

#[tokio::test]
async fn a_code_programmed_at_a_zwave_keypad_in_a_slot_latchkey_does_not_hold_is_flagged() {
    latchkey_testkit::each_backend("assumed_keypad", |db| async move {
        let (w, _) = with_pin(&db, SlotStatus::Set).await;
        said(&w, LockProfile::ZWAVE, added(6)).await;
        let text = w.all_events_text().await;
        assert!(
            text.contains("unmanaged_code") && text.contains("\"slot\":6"),
            "the stranger's code is an alarm: {text}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_write_landing_after_its_credential_was_revoked_is_cleared_again_never_left() {
    // latchkey wrote the PIN, the credential was revoked, then the lock's "code added" for that
    // write arrives (a Z-Wave lock works through its queue; a busy Zigbee mesh is late). The
    // code is on the lock: it must be cleared, not taken for a stranger's code and left there
    // while the credential reads "removed".
    for (tag, profile, already) in [
        (
            "late_zwave_removing",
            LockProfile::ZWAVE,
            SlotStatus::Removing,
        ),
        (
            "late_zwave_removed",
            LockProfile::ZWAVE,
            SlotStatus::Removed,
        ),
        (
            "late_zigbee_removing",
            LockProfile::ZIGBEE,
            SlotStatus::Removing,
        ),
        (
            "late_zigbee_removed",
            LockProfile::ZIGBEE,
            SlotStatus::Removed,
        ),
    ] {
        latchkey_testkit::each_backend(tag, |db| async move {
            let (w, id) = with_pin(&db, SlotStatus::Set).await;
            put_slot_as(&w, w.door.id, id, Desired::Empty, already).await;
            said(&w, profile, added(0)).await;
            let rp = w.principal(w.resident.id).await;
            let on_locks = w.app.credential_locks(&rp, id).await.expect("status");
            assert_eq!(
                on_locks[0].status, "removing",
                "after {already:?}: still to be cleared from the lock"
            );
            assert!(
                !w.all_events_text().await.contains("unmanaged_code"),
                "latchkey's own code is no stranger's"
            );
        })
        .await;
    }
}
