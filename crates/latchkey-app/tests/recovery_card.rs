//! Recovery cards on every backend: a printed card's code proves a lockout case once, a new card
//! replaces the old codes, a code proves nothing for a case about nobody, and the readiness drill
//! counts a card as a way back in.

mod common;

use common::World;
use latchkey_app::AppError;
use latchkey_app::lockout::{CARD_CODES, PublicStart};
use latchkey_core::drill::Way;

fn start(w: &World, identity: &str) -> PublicStart {
    PublicStart {
        property_id: w.property.id.0,
        unit: w.unit.label.clone(),
        identity: identity.to_owned(),
    }
}

async fn case(w: &World, identity: &str, source: &str) -> String {
    w.app
        .start_lockout_public(start(w, identity), source)
        .await
        .expect("start")
        .token
}

fn refused<T: std::fmt::Debug>(r: Result<T, AppError>) {
    assert!(matches!(r, Err(AppError::Forbidden(_))), "{r:?}");
}

#[tokio::test]
async fn a_recovery_card_code_proves_a_case_once_and_a_new_card_replaces_the_old_codes() {
    latchkey_testkit::each_backend("recovery_card", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        assert_eq!(w.app.recovery_codes_left(&rosa).await.unwrap(), 0);
        let card = w
            .app
            .print_recovery_card(rosa.card_holder().unwrap())
            .await
            .expect("print");
        assert_eq!(card.codes.len(), CARD_CODES);
        assert_eq!(
            w.app.recovery_codes_left(&rosa).await.unwrap(),
            CARD_CODES as i64
        );

        // A made-up code is refused like any other; the right one, typed loosely, proves it.
        let first = case(&w, &w.resident.name, "203.0.113.30").await;
        refused(
            w.app
                .prove_with_recovery_code(&first, "AAAA-BBBB-CCCC", "203.0.113.30")
                .await,
        );
        let typed = card.codes[0].to_lowercase().replace('-', " ");
        let view = w
            .app
            .prove_with_recovery_code(&first, &typed, "203.0.113.30")
            .await
            .expect("a code from the card proves the case");
        assert_eq!(view.state, "proven");
        assert_eq!(
            w.app.recovery_codes_left(&rosa).await.unwrap(),
            CARD_CODES as i64 - 1
        );

        // Used once: the same code on another case is refused.
        let second = case(&w, &w.resident.name, "203.0.113.31").await;
        refused(
            w.app
                .prove_with_recovery_code(&second, &card.codes[0], "203.0.113.31")
                .await,
        );
        // A case about nobody: even a good code proves nothing, and is not used up.
        let stranger = case(&w, "Nobody Here", "203.0.113.32").await;
        refused(
            w.app
                .prove_with_recovery_code(&stranger, &card.codes[1], "203.0.113.32")
                .await,
        );
        assert_eq!(
            w.app.recovery_codes_left(&rosa).await.unwrap(),
            CARD_CODES as i64 - 1
        );

        // A new card: the old card's unused codes stop working.
        let new = w
            .app
            .print_recovery_card(rosa.card_holder().unwrap())
            .await
            .expect("print again");
        assert!(new.codes.iter().all(|c| !card.codes.contains(c)));
        refused(
            w.app
                .prove_with_recovery_code(&second, &card.codes[1], "203.0.113.31")
                .await,
        );
        let view = w
            .app
            .prove_with_recovery_code(&second, &new.codes[0], "203.0.113.31")
            .await
            .expect("the new card works");
        assert_eq!(view.state, "proven");
    })
    .await;
}

#[tokio::test]
async fn the_readiness_drill_counts_a_recovery_card_as_a_way_back_in() {
    latchkey_testkit::each_backend("recovery_card_drill", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        let hours = |r: &latchkey_app::readiness::Readiness| {
            let mine = r
                .report
                .iter()
                .find(|x| x.person_id == w.resident.id)
                .expect("Rosa is assessed");
            (
                mine.hours_by_way
                    .get(&Way::RecoveryCard)
                    .copied()
                    .unwrap_or(0),
                mine.failures.iter().map(|f| f.short_hours).sum::<usize>(),
            )
        };
        let before = w.app.readiness(&w.admin, w.property.id).await.unwrap();
        let (card_hours, short_before) = hours(&before);
        assert_eq!(card_hours, 0);
        w.app
            .print_recovery_card(rosa.card_holder().unwrap())
            .await
            .unwrap();
        let after = w.app.readiness(&w.admin, w.property.id).await.unwrap();
        let (card_hours, short_after) = hours(&after);
        assert_eq!(card_hours, 168, "paper works at every hour");
        assert!(
            short_after < short_before || short_before == 0,
            "a card closes gaps: {short_before} → {short_after}"
        );
    })
    .await;
}
