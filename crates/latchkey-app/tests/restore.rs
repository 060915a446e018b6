//! After a restore (docs/OPERATIONS.md, "After a restore"; docs/ARCHITECTURE.md, decisions
//! 31–33): the history check, the restored state, codes found on locks that latchkey does not
//! know, and the unmanaged-code policy. On every backend.

mod common;

use common::World;
use latchkey_app::AppError;
use latchkey_app::devices::{Adoption, HistoryCheck, IngestItem};
use latchkey_app::secrets::Keys;
use latchkey_core::PersonId;
use latchkey_core::chain::anchor::Anchor;
use latchkey_store::restore::{self as notes, Mark};

const LOCK: &str = "lock-4071";

async fn paired(w: &World) {
    w.app
        .pair_lock(
            w.app
                .may_pair_lock(&w.admin, w.door.id)
                .await
                .expect("the admin may pair"),
            Some(LOCK),
        )
        .await
        .expect("pair");
}

/// The lock reports slot `n` holding an enabled code.
async fn report_code_in(w: &World, n: u16) {
    let body = format!(r#"{{"users":{{"{n}":{{"status":"enabled"}}}}}}"#);
    w.app
        .ingest(vec![IngestItem {
            identity: None,
            message: latchkey_bridge::zigbee::message(
                latchkey_z2m::parse_inbound(
                    &latchkey_z2m::Topics::default(),
                    &format!("zigbee2mqtt/{LOCK}"),
                    body.as_bytes(),
                    &latchkey_z2m::Limits::default(),
                )
                .expect("parse")
                .expect("a device message"),
            ),
        }])
        .await
        .expect("ingest");
}

/// A marker of a history that went further than this database's (signed with the world's key).
async fn marker_ahead(w: &World) -> String {
    let head = Anchor::parse(&w.app.history_marker().await.expect("marker"))
        .expect("a marker parses")
        .seq;
    Anchor::sign(
        Keys::from_master(&[1; 32]).anchor_key(),
        head + 40,
        [7; 32],
        w.app.now(),
    )
    .to_line()
}

async fn slot(w: &World, n: i64) -> Option<latchkey_store::devices::Slot> {
    let mut conn = w.store.read().await.expect("read");
    latchkey_store::devices::get_slot(&mut conn, w.door.id, n)
        .await
        .expect("slot")
}

async fn unmanaged_alarms(w: &World) -> Vec<serde_json::Value> {
    w.app
        .list_events(
            &w.admin,
            None,
            latchkey_app::store::audit::EventFilter {
                kind_prefix: Some("lock.alarm".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.data)
        .filter(|d| d["alarm"] == "unmanaged_code")
        .collect()
}

#[tokio::test]
async fn a_log_that_does_not_hold_the_recorded_head_enters_the_restored_state_once() {
    latchkey_testkit::each_backend("restore_detect", |db| async move {
        let w = World::build(&db).await;
        assert_eq!(
            w.app.check_history(None).await.expect("check"),
            HistoryCheck::NoMarker
        );
        let here = w.app.history_marker().await.expect("marker");
        assert_eq!(
            w.app.check_history(Some(&here)).await.expect("check"),
            HistoryCheck::Continues
        );
        assert!(w.app.restored_state().await.expect("state").is_none());

        let ahead = marker_ahead(&w).await;
        let found = w.app.check_history(Some(&ahead)).await.expect("check");
        assert!(
            matches!(found, HistoryCheck::Restored { newly: true, .. }),
            "{found:?}"
        );
        let again = w.app.check_history(Some(&ahead)).await.expect("check");
        assert!(
            matches!(again, HistoryCheck::Restored { newly: false, .. }),
            "{again:?}"
        );
        let state = w
            .app
            .restored_state()
            .await
            .expect("state")
            .expect("restored");
        let head = Anchor::parse(&here).expect("parses").seq;
        assert_eq!(state.head_seq, head);
        assert_eq!(state.marker_seq, head + 40);
        assert!(
            w.all_events_text()
                .await
                .matches("restore.detected")
                .count()
                == 1,
            "the restore is recorded once"
        );
    })
    .await;
}

#[tokio::test]
async fn a_marker_of_another_history_or_not_signed_by_this_key_is_a_restore() {
    latchkey_testkit::each_backend("restore_other_history", |db| async move {
        let w = World::build(&db).await;
        let head = Anchor::parse(&w.app.history_marker().await.expect("marker"))
            .expect("parses")
            .seq;
        // The same position with another hash: a different history.
        let other = Anchor::sign(
            Keys::from_master(&[1; 32]).anchor_key(),
            head,
            [9; 32],
            w.app.now(),
        )
        .to_line();
        assert!(matches!(
            w.app.check_history(Some(&other)).await.expect("check"),
            HistoryCheck::Restored { .. }
        ));
        let w2 = World::build(&latchkey_testkit::TestDb::sqlite("restore_foreign_key")).await;
        let foreign = Anchor::sign(
            Keys::from_master(&[2; 32]).anchor_key(),
            1,
            [0; 32],
            w2.app.now(),
        )
        .to_line();
        assert!(matches!(
            w2.app.check_history(Some(&foreign)).await.expect("check"),
            HistoryCheck::Restored { .. }
        ));
    })
    .await;
}

#[tokio::test]
async fn in_the_restored_state_an_unknown_code_is_kept_until_an_admin_adopts_or_removes_it() {
    latchkey_testkit::each_backend("restore_unknown_codes", |db| async move {
        let w = World::build(&db).await;
        paired(&w).await;
        let ahead = marker_ahead(&w).await;
        w.app.check_history(Some(&ahead)).await.expect("check");
        // The default policy clears unmanaged codes; not in the restored state.
        assert!(w.property.policy.clear_unmanaged_codes);
        report_code_in(&w, 3).await;
        report_code_in(&w, 4).await;
        let s = slot(&w, 3).await.expect("slot 3 is known");
        assert_eq!(s.status.as_str(), "unmanaged");
        assert!(s.credential_id.is_none());
        let alarms = unmanaged_alarms(&w).await;
        assert_eq!(alarms.len(), 2, "{alarms:?}");
        assert!(
            alarms
                .iter()
                .all(|a| a["clearing"] == false && a["restored"] == true)
        );
        let review = w.app.restore_review(&w.admin).await.expect("review");
        assert!(review.restored.is_some());
        let listed: Vec<i64> = review.unknown_codes.iter().map(|c| c.slot).collect();
        assert_eq!(listed, [3, 4]);

        // Only an admin reviews and decides.
        let rosa = w.principal(w.resident.id).await;
        assert!(matches!(
            w.app.restore_review(&rosa).await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            w.app.may_review_restore(&rosa),
            Err(AppError::Forbidden(_))
        ));

        // A code the PIN rules refuse, or a slot without an unknown code, changes nothing.
        let adopt = |slot: i64, pin: &str| Adoption {
            door: w.door.id,
            slot,
            person: w.resident.id,
            pin: pin.into(),
            label: None,
        };
        let admin = || w.app.may_review_restore(&w.admin).expect("admin");
        assert!(matches!(
            w.app.adopt_code(admin(), adopt(3, "12")).await,
            Err(AppError::Invalid { ref field, .. }) if field == "pin"
        ));
        assert!(matches!(
            w.app.adopt_code(admin(), adopt(9, "583920")).await,
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            w.app
                .adopt_code(
                    admin(),
                    Adoption {
                        person: PersonId(999_999),
                        ..adopt(3, "583920")
                    }
                )
                .await,
            Err(AppError::Invalid { ref field, .. }) if field == "person"
        ));
        assert_eq!(
            slot(&w, 3).await.expect("slot").status.as_str(),
            "unmanaged"
        );

        // Adopting attaches it to the person, in that slot, as the lock already holds it.
        let id = w
            .app
            .adopt_code(admin(), adopt(3, "583920"))
            .await
            .expect("adopt");
        let s = slot(&w, 3).await.expect("slot");
        assert_eq!(s.credential_id, Some(id));
        assert_eq!(s.status.as_str(), "set");
        let c = w
            .app
            .get_credential(&w.admin, id)
            .await
            .expect("credential");
        assert_eq!(c.person_id, w.resident.id);
        assert_eq!(c.doors, vec![w.door.id]);

        // Removing orders the code cleared, even in the restored state (the admin decided).
        w.app
            .remove_unknown_code(admin(), w.door.id, 4)
            .await
            .expect("remove");
        let s = slot(&w, 4).await.expect("slot");
        assert_eq!(s.status.as_str(), "removing");
        let mut conn = w.store.read().await.expect("read");
        let note = notes::note(&mut conn, w.door.id, 4)
            .await
            .expect("note")
            .expect("noted");
        assert!(note.decided_at.is_some());
        drop(conn);
        assert!(
            w.app
                .restore_review(&w.admin)
                .await
                .expect("review")
                .unknown_codes
                .is_empty()
        );

        // Leaving the restored state is an audited decision, made once.
        w.app.end_restored_state(admin()).await.expect("end");
        assert!(w.app.restored_state().await.expect("state").is_none());
        assert!(matches!(
            w.app.end_restored_state(admin()).await,
            Err(AppError::Conflict(_))
        ));
        assert!(w.all_events_text().await.contains("restore.ended"));
        assert!(w.all_events_text().await.contains("lock.code_adopted"));
        assert!(
            w.all_events_text()
                .await
                .contains("lock.code_removal_ordered")
        );
    })
    .await;
}

#[tokio::test]
async fn the_unmanaged_code_policy_never_clears_a_slot_latchkey_wrote_before() {
    latchkey_testkit::each_backend("restore_written_before", |db| async move {
        let w = World::build(&db).await;
        paired(&w).await;
        assert!(w.property.policy.clear_unmanaged_codes);
        {
            let mut tx = w.store.write().await.expect("write");
            notes::mark(tx.conn(), Mark::Written, &[(w.door.id, 5)], w.app.now())
                .await
                .expect("mark");
            tx.commit().await.expect("commit");
        }
        report_code_in(&w, 5).await;
        report_code_in(&w, 6).await;
        // Slot 5 may hold a code of latchkey's from a history the database lost: kept.
        assert_eq!(
            slot(&w, 5).await.expect("slot").status.as_str(),
            "unmanaged"
        );
        // Slot 6 was never latchkey's: the policy clears it, as before.
        let s6 = slot(&w, 6).await.expect("slot");
        assert_eq!(s6.status.as_str(), "removing");
        let alarms = unmanaged_alarms(&w).await;
        let by_slot = |n: i64| {
            alarms
                .iter()
                .find(|a| a["slot"] == n)
                .unwrap_or_else(|| panic!("no alarm for slot {n}: {alarms:?}"))
        };
        assert_eq!(by_slot(5)["clearing"], false);
        assert_eq!(by_slot(5)["written_before"], true);
        assert_eq!(by_slot(6)["clearing"], true);
    })
    .await;
}

#[tokio::test]
async fn a_read_the_lock_never_answered_is_read_again_never_turned_into_a_write() {
    use latchkey_store::devices::{self as repo, Desired, PROBE_UNANSWERED, Slot, SlotStatus};
    latchkey_testkit::each_backend("restore_unanswered_read", |db| async move {
        let w = World::build(&db).await;
        paired(&w).await;
        let now = w.app.now();
        let failed = |slot: i64, reason: &str| Slot {
            door_id: w.door.id,
            slot,
            credential_id: None,
            desired: Desired::Enabled,
            status: SlotStatus::Failed,
            reason: Some(reason.into()),
            attempts: 6,
            next_attempt_at: None,
            updated_at: now,
        };
        let mut tx = w.store.write().await.expect("write");
        repo::save_slots(
            tx.conn(),
            &[
                failed(1, PROBE_UNANSWERED),
                failed(2, "the lock did not confirm"),
            ],
        )
        .await
        .expect("save");
        // The lock comes back: its unfinished slot work is due now.
        repo::expedite_door(tx.conn(), w.door.id, now)
            .await
            .expect("expedite");
        tx.commit().await.expect("commit");
        assert_eq!(slot(&w, 1).await.expect("slot").status, SlotStatus::Probing);
        assert_eq!(slot(&w, 2).await.expect("slot").status, SlotStatus::Pending);
        let mut conn = w.store.read().await.expect("read");
        let due = repo::due_slots(&mut conn, now, 10).await.expect("due");
        assert!(
            due.iter()
                .any(|s| s.slot == 1 && s.status == SlotStatus::Probing)
        );
    })
    .await;
}
