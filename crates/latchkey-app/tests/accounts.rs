//! No account takeover through a household member, on every backend: a sign-in e-mail address
//! changes only by its person or by staff (and the old address is told), and adding a person
//! never reveals whether an address is already registered.

mod common;

use common::{RESIDENT_EMAIL, RESIDENT_PASSWORD, World, membership, person};
use latchkey_app::AppError;
use latchkey_core::PersonId;
use latchkey_core::model::Role;
use latchkey_store::lockout as repo;

async fn told(w: &World, who: PersonId, kind: &str) -> Vec<serde_json::Value> {
    let mut conn = w.store.read().await.expect("read");
    repo::notifications_of_person_kind(&mut conn, who, kind)
        .await
        .expect("notifications")
        .into_iter()
        .map(|n| n.body)
        .collect()
}

const HUGO_EMAIL: &str = "hugo@example.org";
const HUGO_PASSWORD: &str = "hugo's long password";

#[tokio::test]
async fn a_resident_cannot_change_a_household_members_sign_in_email_and_nothing_changes() {
    latchkey_testkit::each_backend("accounts_household_email", |db| async move {
        let w = World::build(&db).await;
        let (hugo, _) = { let input = person(
                    "Hugo Household",
                    Some(HUGO_EMAIL),
                    Some(HUGO_PASSWORD),
                    membership(Role::Household, Some(w.unit.id)),
                ); w.app.create_person(w.app.may_create_person(&w.admin, w.property.id, &input).expect("the caller may do this"), input) }
            .await
            .expect("a household member who signs in");
        let rosa = w.principal(w.resident.id).await;
        let before = w.event_count().await;
        match async { w
            .app
            .update_person(w.app.may_update_person(&rosa, hugo.id).await?, None, Some("rosa.second@example.org"), None).await }.await
        {
            Err(AppError::Forbidden(why)) => assert_eq!(
                why,
                "only the person themself or the building's staff may change a sign-in e-mail address"
            ),
            other => panic!("expected Forbidden, got {:?}", other.map(|p| p.email)),
        }
        assert_eq!(w.event_count().await, before, "nothing was recorded");
        w.app
            .login(HUGO_EMAIL, HUGO_PASSWORD, "192.0.2.40")
            .await
            .expect("Hugo's own address still signs him in");
        assert!(matches!(
            w.app
                .login("rosa.second@example.org", HUGO_PASSWORD, "192.0.2.40")
                .await,
            Err(AppError::Unauthenticated(_))
        ));
        let renamed = w
            .app
            .update_person(w.app.may_update_person(&rosa, hugo.id).await.expect("the caller may do this"), Some("Hugo H."), None, Some("+49 30 123456"))
            .await
            .expect("a resident still keeps a household member's name and phone up to date");
        assert_eq!(renamed.email.as_deref(), Some(HUGO_EMAIL));
    })
    .await;
}

#[tokio::test]
async fn staff_may_change_a_sign_in_email_and_the_old_address_is_told() {
    latchkey_testkit::each_backend("accounts_staff_email", |db| async move {
        let w = World::build(&db).await;
        let max = w.principal(w.manager.id).await;
        let changed = w
            .app
            .update_person(
                w.app
                    .may_update_person(&max, w.resident.id)
                    .await
                    .expect("the caller may do this"),
                None,
                Some("Rosa.New@Example.org"),
                None,
            )
            .await
            .expect("staff may change it");
        assert_eq!(changed.email.as_deref(), Some("rosa.new@example.org"));
        let notes = told(&w, w.resident.id, "email_changed").await;
        assert_eq!(notes.len(), 1, "the person is told");
        assert_eq!(notes[0]["to"], RESIDENT_EMAIL, "at the old address");
        w.app
            .login("rosa.new@example.org", RESIDENT_PASSWORD, "192.0.2.41")
            .await
            .expect("the new address signs in");
        let rosa = w.principal(w.resident.id).await;
        w.app
            .update_person(
                w.app
                    .may_update_person(&rosa, w.resident.id)
                    .await
                    .expect("the caller may do this"),
                None,
                Some("rosa@example.net"),
                None,
            )
            .await
            .expect("the person changes her own address");
        assert_eq!(told(&w, w.resident.id, "email_changed").await.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn adding_a_person_with_a_registered_address_answers_as_for_a_new_one() {
    latchkey_testkit::each_backend("accounts_create_enumeration", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        let add = |email: &'static str| {
            let w = &w;
            let rosa = &rosa;
            async move {
                async {
                    let input = person(
                        "New Member",
                        Some(email),
                        Some("a long new password"),
                        membership(Role::Household, Some(w.unit.id)),
                    );
                    w.app
                        .create_person(w.app.may_create_person(rosa, w.property.id, &input)?, input)
                        .await
                }
                .await
            }
        };
        let fresh = add("fresh@example.org").await.expect("a new address");
        let taken = add("admin@example.org")
            .await
            .expect("a registered address gets the same answer");
        let shape = |p: &latchkey_app::store::records::Person| {
            (
                p.name.clone(),
                p.email.clone().map(|e| e.contains('@')),
                p.has_password,
                p.is_admin,
            )
        };
        assert_eq!(shape(&fresh.0), shape(&taken.0));
        assert_eq!(taken.0.email.as_deref(), Some("admin@example.org"));
        let seen = w
            .app
            .get_person(&rosa, taken.0.id)
            .await
            .expect("the creator sees the person");
        assert_eq!(seen.email.as_deref(), Some("admin@example.org"));
        let signed = w
            .app
            .login("admin@example.org", "admin's long password", "192.0.2.42")
            .await
            .expect("the owner of the address still signs in");
        assert_eq!(signed.person.id, w.admin.id());
        assert!(matches!(
            w.app
                .login("admin@example.org", "a long new password", "192.0.2.43")
                .await,
            Err(AppError::Unauthenticated(_))
        ));
        assert_eq!(
            told(&w, w.admin.id(), "email_typed_for_new_person")
                .await
                .len(),
            1,
            "the owner of the address is told"
        );
    })
    .await;
}
