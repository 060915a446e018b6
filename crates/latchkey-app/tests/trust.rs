//! One person never acts on another's records, on every backend: the loaders (`App::may_…`)
//! and the capabilities minted in `authz` refuse a session, token, passkey, password, lockout
//! case or door that is not the caller's to touch, and nothing is written.

mod common;

use common::{RESIDENT_EMAIL, RESIDENT_PASSWORD, TwoSteps, World, membership, person};
use latchkey_app::AppError;
use latchkey_app::devices::RemoteAction;
use latchkey_app::lockout::BookLocksmith;
use latchkey_app::store::auth::GrantKind;
use latchkey_core::LocksmithId;
use latchkey_core::model::Role;

const NINA_EMAIL: &str = "nina@example.org";
const NINA_PASSWORD: &str = "nina's long password";

/// Nina, the resident of unit 4072 next door, who can sign in.
async fn neighbour(w: &World) -> latchkey_app::authz::Principal {
    let unit = w
        .app
        .create_unit(
            w.admin
                .staff(w.property.id)
                .expect("the caller may do this"),
            "4072",
            4,
            None,
        )
        .await
        .expect("unit 4072");
    let input = person(
        "Nina Neighbour",
        Some(NINA_EMAIL),
        Some(NINA_PASSWORD),
        membership(Role::Resident, Some(unit.id)),
    );
    let (nina, _) = w
        .app
        .create_person(
            w.app
                .may_create_person(&w.admin, w.property.id, &input)
                .expect("the caller may do this"),
            input,
        )
        .await
        .expect("Nina");
    w.principal(nina.id).await
}

#[tokio::test]
async fn a_person_cannot_end_anothers_session_or_token_and_nothing_changes() {
    latchkey_testkit::each_backend("trust_grants", |db| async move {
        let w = World::build(&db).await;
        let nina = neighbour(&w).await;
        let rosa_session = w
            .app
            .login(RESIDENT_EMAIL, RESIDENT_PASSWORD, "192.0.2.1")
            .await
            .expect("Rosa signs in");
        let rosa = w
            .app
            .authenticate(GrantKind::Session, &rosa_session.token)
            .await
            .expect("Rosa's session");
        let nina_session = w
            .app
            .login(NINA_EMAIL, NINA_PASSWORD, "192.0.2.2")
            .await
            .expect("Nina signs in");
        let (nina_token, nina_grant) = w
            .app
            .create_api_token(nina.own_account(), "nina's script")
            .await
            .expect("Nina's token");
        let before = w.event_count().await;
        for (kind, id) in [
            (GrantKind::ApiToken, nina_grant.id),
            (GrantKind::Session, nina_session.session.id),
        ] {
            match w.app.may_revoke_grant(&rosa, kind, id).await {
                Err(AppError::NotFound(_)) => {}
                other => panic!(
                    "expected NotFound for {kind:?}, got {:?}",
                    other.map(|r| r.grant().id)
                ),
            }
        }
        assert_eq!(w.event_count().await, before, "nothing was recorded");
        w.app
            .authenticate(GrantKind::ApiToken, &nina_token)
            .await
            .expect("Nina's token still works");
        w.app
            .authenticate(GrantKind::Session, &nina_session.token)
            .await
            .expect("Nina's session still works");
        // Rosa ends her own session; an admin may end anyone's token (as before).
        w.app
            .revoke_grant(
                w.app
                    .may_revoke_grant(&rosa, GrantKind::Session, rosa_session.session.id)
                    .await
                    .expect("her own session"),
            )
            .await
            .expect("revoked");
        w.app
            .revoke_grant(
                w.app
                    .may_revoke_grant(&w.admin, GrantKind::ApiToken, nina_grant.id)
                    .await
                    .expect("an admin ends any token"),
            )
            .await
            .expect("revoked");
        assert!(matches!(
            w.app.authenticate(GrantKind::ApiToken, &nina_token).await,
            Err(AppError::Unauthenticated(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn a_person_cannot_rename_or_remove_anothers_passkey_and_nothing_changes() {
    latchkey_testkit::each_backend("trust_passkeys", |db| async move {
        let w = World::build(&db).await;
        let nina = neighbour(&w).await;
        let stored = {
            let mut tx = w.store.write().await.expect("write");
            let stored = latchkey_store::passkeys::create_passkey(
                tx.conn(),
                nina.id(),
                b"nina's authenticator",
                "Nina's phone",
                "{}",
                w.app.now(),
            )
            .await
            .expect("Nina's passkey");
            tx.commit().await.expect("commit");
            stored
        };
        let rosa = w.principal(w.resident.id).await;
        let before = w.event_count().await;
        // Not Rosa, and not an admin either: a passkey is a way into one person's account.
        for who in [&rosa, &w.admin] {
            assert!(matches!(
                w.app
                    .may_rename_passkey(who, stored.id, "mine now")
                    .await
                    .map(|o| o.passkey().id),
                Err(AppError::NotFound(_))
            ));
            assert!(matches!(
                w.app
                    .may_remove_passkey(who, stored.id)
                    .await
                    .map(|o| o.passkey().id),
                Err(AppError::NotFound(_))
            ));
        }
        assert_eq!(w.event_count().await, before, "nothing was recorded");
        let left = w.app.list_passkeys(&nina).await.expect("Nina's passkeys");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].name, "Nina's phone");
        // Nina herself may.
        w.app
            .rename_passkey(
                w.app
                    .may_rename_passkey(&nina, stored.id, "Nina's old phone")
                    .await
                    .expect("her own passkey"),
                "Nina's old phone",
            )
            .await
            .expect("renamed");
        w.app
            .remove_passkey(
                w.app
                    .may_remove_passkey(&nina, stored.id)
                    .await
                    .expect("her own passkey"),
            )
            .await
            .expect("removed");
        assert!(w.app.list_passkeys(&nina).await.expect("list").is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_person_cannot_set_anothers_password_and_it_still_signs_them_in() {
    latchkey_testkit::each_backend("trust_password", |db| async move {
        let w = World::build(&db).await;
        let nina = neighbour(&w).await;
        let rosa = w.principal(w.resident.id).await;
        assert!(matches!(
            rosa.password_setter(nina.id()).map(|s| s.person()),
            Err(AppError::Forbidden(_))
        ));
        w.app
            .login(NINA_EMAIL, NINA_PASSWORD, "192.0.2.3")
            .await
            .expect("Nina's password is unchanged");
        // An admin may (as before).
        w.app
            .set_password(
                w.admin.password_setter(nina.id()).expect("an admin"),
                "nina's new long password",
            )
            .await
            .expect("set");
        w.app
            .login(NINA_EMAIL, "nina's new long password", "192.0.2.3")
            .await
            .expect("the new password");
    })
    .await;
}

#[tokio::test]
async fn a_neighbour_cannot_act_in_anothers_lockout_case_and_nothing_changes() {
    latchkey_testkit::each_backend("trust_lockout", |db| async move {
        let w = World::build(&db).await;
        let nina = neighbour(&w).await;
        let (case, _) = w
            .app
            .start_lockout_as(&w.admin, w.property.id, w.unit.id, w.resident.id)
            .await
            .expect("staff open a case for Rosa");
        // Nina may not open one in Rosa's name either.
        assert!(matches!(
            nina.case_starter(w.property.id, w.resident.id)
                .map(|s| s.person()),
            Err(AppError::Forbidden(_))
        ));
        let before = w.event_count().await;
        let book = BookLocksmith {
            locksmith_id: LocksmithId(1),
            door_id: None,
            window_minutes: None,
        };
        assert!(matches!(
            w.app
                .may_book_locksmith(&nina, case.id, &book)
                .await
                .map(|p| p.case().id),
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            w.app
                .may_record_forced_entry(&nina, case.id, "door kicked in")
                .await
                .map(|p| p.case().id),
            Err(AppError::NotFound(_))
        ));
        assert_eq!(w.event_count().await, before, "nothing was recorded");
        let view = w
            .app
            .lockout_case(&w.admin, case.id)
            .await
            .expect("the case");
        assert_eq!(view.state, case.state, "the case did not move");
    })
    .await;
}

#[tokio::test]
async fn a_neighbour_cannot_command_or_check_anothers_door_and_nothing_changes() {
    latchkey_testkit::each_backend("trust_doors", |db| async move {
        let w = World::build(&db).await;
        let nina = neighbour(&w).await;
        let before = w.event_count().await;
        for action in [RemoteAction::Unlock, RemoteAction::Lock] {
            assert!(matches!(
                w.app
                    .may_remote_command(&nina, w.door.id, action, None)
                    .await
                    .map(|c| c.action()),
                Err(AppError::NotFound(_))
            ));
        }
        assert!(matches!(
            w.app
                .may_remote_command(&nina, w.door.id, RemoteAction::Unlock, Some("a flood"))
                .await
                .map(|c| c.action()),
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            w.app
                .check_access_as(
                    &nina,
                    latchkey_app::access::AccessQuery {
                        credential_id: None,
                        person_id: Some(w.resident.id),
                        door_id: w.door.id,
                        at: None,
                        method: None,
                        emergency_override: false,
                    },
                )
                .await
                .map(|a| a.granted),
            Err(AppError::NotFound(_))
        ));
        assert_eq!(w.event_count().await, before, "nothing was recorded");
    })
    .await;
}
