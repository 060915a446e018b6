//! The fee of a staff opening, shown before anything is charged (docs/LOCKOUT.md, "In the staff
//! console"), on every backend: the quote follows the lease — a free lockout first, then the
//! office-hours or after-hours fee, waived when the lock's own events show a fault — and reads
//! only; an opening confirmed at another fee than the one due now is refused with nothing
//! written; only staff get a quote, and only for a proven case.

mod common;

use common::World;
use latchkey_app::AppError;
use latchkey_app::directory::PropertyPatch;
use latchkey_app::secrets::Keys;
use latchkey_core::LockoutCaseId;
use latchkey_core::model::Role;
use latchkey_core::schedule::{Day, Schedule, WeeklyWindow};
use latchkey_store::audit::{self, NewEvent};
use std::time::Duration;

async fn pair(w: &World) {
    w.app
        .pair_lock(
            w.app
                .may_pair_lock(&w.admin, w.door.id)
                .await
                .expect("the caller may do this"),
            Some("lock-4071"),
        )
        .await
        .expect("pair");
}

async fn patch(w: &World, patch: PropertyPatch) {
    w.app
        .update_property(
            w.admin
                .property_changer(w.property.id, patch.touches_settings())
                .expect("the caller may do this"),
            patch,
        )
        .await
        .expect("the property changes");
}

/// A case for the resident, proven by the manager's ID check.
async fn proven_case(w: &World) -> LockoutCaseId {
    let (_, case) = w.open_public_case("rosa@example.org", "198.51.100.7").await;
    let manager = w.principal(w.manager.id).await;
    w.app
        .record_id_check(
            w.app
                .may_record_id_check(&manager, case, "passport, photo matches")
                .await
                .expect("the caller may do this"),
            "passport, photo matches",
        )
        .await
        .expect("id check");
    case
}

#[tokio::test]
async fn the_quote_follows_the_lease_hour_by_hour_and_reads_only() {
    latchkey_testkit::each_backend("staff_fee_quote", |db| async move {
        let w = World::build(&db).await;
        pair(&w).await;
        let case = proven_case(&w).await;
        let manager = w.principal(w.manager.id).await;
        let opener = w
            .app
            .may_staff_open(&manager, case)
            .await
            .expect("the caller may do this");

        // The office is open all week here, and the unit has its free lockout of the year.
        let q = w
            .app
            .staff_opening_quote(&opener, w.door.id)
            .await
            .expect("quote");
        assert!(q.office_hours);
        assert_eq!((q.fee_cents, q.due_cents), (2_500, 0));
        assert_eq!(q.reason, "free lockout 1 of 1 in 12 months");
        assert!(!q.waived && !q.already_charged);

        // No free lockouts in the lease, and the office open only on Mondays 08:00–09:00
        // (the world's clock is a Monday at 08:00): the office-hours fee, then after hours.
        let mut policy = w.property.policy.clone();
        policy.free_lockouts_per_year = 0;
        patch(
            &w,
            PropertyPatch {
                policy: Some(policy),
                office_hours: Some(Schedule::Weekly {
                    windows: vec![WeeklyWindow {
                        days: vec![Day::Mon],
                        start: jiff::civil::time(8, 0, 0, 0),
                        end: jiff::civil::time(9, 0, 0, 0),
                    }],
                }),
                ..Default::default()
            },
        )
        .await;
        let before = w.event_count().await;
        let q = w
            .app
            .staff_opening_quote(&opener, w.door.id)
            .await
            .expect("quote");
        assert_eq!((q.office_hours, q.due_cents), (true, 2_500));
        assert_eq!(q.reason, "lockout fee (office hours)");
        w.clock.advance(jiff::SignedDuration::from_hours(14));
        let q = w
            .app
            .staff_opening_quote(&opener, w.door.id)
            .await
            .expect("quote");
        assert_eq!((q.office_hours, q.due_cents), (false, 7_500));
        assert_eq!(q.reason, "lockout fee (after hours)");

        // The lock reported a low battery in the last day: the fee is waived, and the quote
        // names the event that shows it.
        let at = w.app.now();
        let mut tx = w.store.write().await.expect("write");
        let seq = audit::append(
            &mut tx,
            Keys::from_master(&[1; 32]).chain_key(),
            at,
            &[NewEvent::new("lock.alarm", format!("door:{}", w.door.id))
                .property(w.property.id)
                .data(serde_json::json!({ "alarm": "low_battery", "battery": 9 }))],
        )
        .await
        .expect("append");
        tx.commit().await.expect("commit");
        let q = w
            .app
            .staff_opening_quote(&opener, w.door.id)
            .await
            .expect("quote");
        assert!(q.waived);
        assert_eq!((q.fee_cents, q.due_cents), (7_500, 0));
        assert_eq!(q.evidence, vec![seq]);
        assert!(q.reason.contains("waived"), "{}", q.reason);
        assert_eq!(w.event_count().await, before + 1, "quotes write nothing");
        assert!(
            w.app
                .ledger(&manager, w.property.id, None)
                .await
                .expect("ledger")
                .is_empty()
        );

        // A door of no lock, or of another property, gets no quote.
        let lobby = w
            .app
            .create_door(
                w.admin.staff(w.property.id).expect("staff"),
                latchkey_app::directory::DoorInput {
                    name: "Lobby".into(),
                    kind: latchkey_core::model::DoorKind::BuildingEntrance,
                    unit_id: None,
                    mode: latchkey_core::model::DoorMode::Normal,
                    pin_slots: 30,
                },
            )
            .await
            .expect("door");
        assert!(matches!(
            w.app.staff_opening_quote(&opener, lobby.id).await,
            Err(AppError::Invalid { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn an_opening_confirmed_at_another_fee_is_refused_and_writes_nothing() {
    latchkey_testkit::each_backend("staff_fee_confirm", |db| async move {
        let w = World::build(&db).await;
        pair(&w).await;
        let case = proven_case(&w).await;
        let manager = w.principal(w.manager.id).await;
        let before = w.event_count().await;
        // Due now: nothing (the free lockout). Confirmed at the after-hours fee a stale page
        // showed: refused.
        let stale = w
            .app
            .staff_open_at_fee(
                w.app.may_staff_open(&manager, case).await.expect("opener"),
                w.door.id,
                7_500,
                Duration::from_secs(1),
            )
            .await;
        match stale {
            Err(AppError::Conflict(why)) => {
                assert!(why.contains("it is now nothing (was 75.00)"), "{why}");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        // At the fee due, it goes as far as the lock bridge, which does not run here: refused
        // before anything is written too.
        assert!(matches!(
            w.app
                .staff_open_at_fee(
                    w.app.may_staff_open(&manager, case).await.expect("opener"),
                    w.door.id,
                    0,
                    Duration::from_secs(1),
                )
                .await,
            Err(AppError::Unavailable(_))
        ));
        assert_eq!(w.event_count().await, before, "nothing recorded");
        assert!(
            w.app
                .ledger(&manager, w.property.id, None)
                .await
                .expect("ledger")
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn only_staff_get_a_quote_and_only_for_a_proven_case() {
    latchkey_testkit::each_backend("staff_fee_who", |db| async move {
        let w = World::build(&db).await;
        pair(&w).await;
        let (_, open) = w.open_public_case("rosa@example.org", "198.51.100.8").await;
        let manager = w.principal(w.manager.id).await;
        assert!(matches!(
            w.app.may_staff_open(&manager, open).await,
            Err(AppError::Forbidden(_))
        ));
        let case = proven_case(&w).await;
        let resident = w.principal(w.resident.id).await;
        assert!(matches!(
            w.app.may_staff_open(&resident, case).await,
            Err(AppError::Forbidden(_))
        ));
        let guest = w
            .principal(w.unit_member("Gus Guest", Role::Guest).await.id)
            .await;
        assert!(matches!(
            w.app.may_staff_open(&guest, case).await,
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            w.app.staff_case(&resident, case).await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            w.app.staff_case(&guest, case).await,
            Err(AppError::NotFound(_))
        ));
        let seen = w
            .app
            .staff_case(&manager, case)
            .await
            .expect("staff see it");
        assert_eq!(seen.doors, vec![(w.door.id, w.door.name.clone())]);
        assert_eq!(seen.view.state, "proven");
    })
    .await;
}
