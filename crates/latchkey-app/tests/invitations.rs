//! Invitation links and the fresh proof before an unlock, on every backend: a link signs its
//! person in once, expires, is stored only as a digest, is replaced by a newer one, and tells
//! nobody who exists; an unlock from a session without a fresh proof is refused.

mod common;

use common::{RESIDENT_EMAIL, RESIDENT_PASSWORD, TwoSteps, World, membership, person};
use latchkey_app::AppError;
use latchkey_app::passkeys::Proof;
use latchkey_app::store::auth::GrantKind;
use latchkey_core::PersonId;
use latchkey_core::model::Role;

const NEW_EMAIL: &str = "nina@example.org";
const NEW_PASSWORD: &str = "nina's first password";

/// A resident added by staff without a password.
async fn newcomer(w: &World) -> PersonId {
    let input = person(
        "Nina",
        Some(NEW_EMAIL),
        None,
        membership(Role::Resident, Some(w.unit.id)),
    );
    w.app
        .create_person(
            w.app
                .may_create_person(&w.admin, w.property.id, &input)
                .expect("staff may add a resident"),
            input,
        )
        .await
        .expect("a new resident")
        .0
        .id
}

/// The two steps of an invitation: the check (which loads the person), then the link.
async fn invite(
    w: &World,
    who: &latchkey_app::authz::Principal,
    person: PersonId,
) -> Result<latchkey_app::invitations::NewInvitation, AppError> {
    w.app
        .create_invitation(w.app.may_invite(who, person).await?)
        .await
}

/// The check, then the withdrawal of the person's live link.
async fn uninvite(
    w: &World,
    who: &latchkey_app::authz::Principal,
    person: PersonId,
) -> Result<(), AppError> {
    w.app
        .revoke_invitation(w.app.may_invite(who, person).await?)
        .await
}

async fn has_password(w: &World, id: PersonId) -> bool {
    w.app
        .get_person(&w.admin, id)
        .await
        .expect("person")
        .has_password
}

#[tokio::test]
async fn a_link_signs_its_person_in_once_and_a_second_use_changes_nothing() {
    latchkey_testkit::each_backend("invite_once", |db| async move {
        let w = World::build(&db).await;
        let nina = newcomer(&w).await;
        let manager = w.principal(w.manager.id).await;
        let inv = invite(&w, &manager, nina).await.expect("invite");
        assert!(inv.token.starts_with("lki_"));
        let signed = w
            .app
            .accept_invitation(&inv.token, NEW_PASSWORD, "192.0.2.10")
            .await
            .expect("the link works once");
        assert_eq!(signed.person.id, nina);
        let who = w
            .app
            .authenticate(GrantKind::Session, &signed.token)
            .await
            .expect("the link signed her in");
        assert_eq!(who.id(), nina);
        let before = w.all_events_text().await;
        match w
            .app
            .accept_invitation(&inv.token, "an attacker's password", "192.0.2.11")
            .await
        {
            Err(AppError::Conflict(why)) => assert!(why.contains("already been used"), "{why}"),
            other => panic!("expected Conflict, got {:?}", other.map(|s| s.session.id)),
        }
        w.app
            .login(NEW_EMAIL, NEW_PASSWORD, "192.0.2.12")
            .await
            .expect("her own password still signs her in");
        assert!(matches!(
            w.app
                .login(NEW_EMAIL, "an attacker's password", "192.0.2.12")
                .await,
            Err(AppError::Unauthenticated(_))
        ));
        let after = w.all_events_text().await;
        assert!(after.contains("person.invitation_created"));
        assert!(after.contains("person.invitation_used"));
        assert!(!before.contains("person.invitation_refused"));
        assert!(
            after.contains("person.invitation_refused"),
            "the second try is audited"
        );
        assert!(
            !after.contains(&inv.token),
            "the token never reaches the log"
        );
    })
    .await;
}

#[tokio::test]
async fn an_expired_link_is_refused_and_sets_no_password() {
    latchkey_testkit::each_backend("invite_expired", |db| async move {
        let w = World::build(&db).await;
        let nina = newcomer(&w).await;
        let inv = invite(&w, &w.admin, nina).await.expect("invite");
        assert_eq!(
            inv.expires_at,
            latchkey_app::Clock::now(&*w.clock) + w.app.config().invitation_ttl
        );
        w.clock.advance(w.app.config().invitation_ttl);
        match w
            .app
            .accept_invitation(&inv.token, NEW_PASSWORD, "192.0.2.20")
            .await
        {
            Err(AppError::Conflict(why)) => assert!(why.contains("expired"), "{why}"),
            other => panic!("expected Conflict, got {:?}", other.map(|s| s.session.id)),
        }
        assert!(!has_password(&w, nina).await);
    })
    .await;
}

#[tokio::test]
async fn only_a_digest_of_the_link_is_stored_and_a_new_link_revokes_the_old_one() {
    latchkey_testkit::each_backend("invite_digest", |db| async move {
        let w = World::build(&db).await;
        let nina = newcomer(&w).await;
        let first = invite(&w, &w.admin, nina).await.expect("invite");
        let mut conn = w.store.read().await.expect("read");
        let stored = latchkey_store::passkeys::find_invitation(
            &mut conn,
            &latchkey_app::secrets::token_digest(&first.token),
        )
        .await
        .expect("read")
        .expect("found by its digest");
        assert_eq!(stored.person_id, nina);
        let raw: Vec<Vec<u8>> = sqlx_rows(&mut conn).await;
        drop(conn);
        assert_eq!(raw.len(), 1);
        assert_eq!(raw[0], latchkey_app::secrets::token_digest(&first.token));
        assert!(
            !raw[0]
                .windows(first.token.len())
                .any(|w| w == first.token.as_bytes()),
            "the token itself is not stored"
        );

        let second = invite(&w, &w.admin, nina).await.expect("again");
        assert_ne!(first.token, second.token);
        match w
            .app
            .accept_invitation(&first.token, NEW_PASSWORD, "192.0.2.30")
            .await
        {
            Err(AppError::Conflict(why)) => assert!(why.contains("replaced"), "{why}"),
            other => panic!("expected Conflict, got {:?}", other.map(|s| s.session.id)),
        }
        assert!(!has_password(&w, nina).await);
        uninvite(&w, &w.admin, nina).await.expect("withdrawn");
        assert!(matches!(
            w.app
                .accept_invitation(&second.token, NEW_PASSWORD, "192.0.2.30")
                .await,
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(
            uninvite(&w, &w.admin, nina).await,
            Err(AppError::NotFound(_))
        ));
        assert!(!has_password(&w, nina).await);
    })
    .await;
}

async fn sqlx_rows(conn: &mut latchkey_store::Conn) -> Vec<Vec<u8>> {
    use sqlx::Row;
    sqlx::query("SELECT token_hash FROM invitations")
        .fetch_all(conn)
        .await
        .expect("read")
        .iter()
        .map(|r| r.try_get::<Vec<u8>, _>("token_hash").expect("bytes"))
        .collect()
}

#[tokio::test]
async fn links_tell_nobody_who_exists_and_bad_links_are_limited_per_source() {
    latchkey_testkit::each_backend("invite_enumeration", |db| async move {
        let w = World::build(&db).await;
        let nina = newcomer(&w).await;
        let rosa = w.principal(w.resident.id).await;
        // A resident is not staff: her neighbour is "not found", like nobody at all.
        let neighbour = invite(&w, &rosa, nina).await;
        let nobody = invite(&w, &w.admin, PersonId(999_999)).await;
        assert!(matches!(neighbour, Err(AppError::NotFound(ref s)) if s == "person"));
        assert!(matches!(nobody, Err(AppError::NotFound(ref s)) if s == "person"));
        // Someone who already has a password cannot be invited (no takeover by staff).
        assert!(matches!(
            invite(&w, &w.admin, w.resident.id).await,
            Err(AppError::Conflict(_))
        ));

        let inv = invite(&w, &w.admin, nina).await.expect("invite");
        let limit = w.app.config().login_attempts;
        for i in 0..limit {
            let guess = format!("lki_{i:064x}");
            assert!(matches!(
                w.app
                    .accept_invitation(&guess, NEW_PASSWORD, "198.51.100.1")
                    .await,
                Err(AppError::NotFound(_))
            ));
        }
        assert!(matches!(
            w.app
                .accept_invitation(&inv.token, NEW_PASSWORD, "198.51.100.1")
                .await,
            Err(AppError::RateLimited { .. })
        ));
        assert!(
            !has_password(&w, nina).await,
            "the guesser's source changed nothing"
        );
        w.app
            .accept_invitation(&inv.token, NEW_PASSWORD, "192.0.2.40")
            .await
            .expect("the person, from elsewhere, is not blocked");
    })
    .await;
}

#[tokio::test]
async fn a_session_gives_a_fresh_proof_before_an_unlock_and_it_lasts_the_window() {
    latchkey_testkit::each_backend("unlock_proof", |db| async move {
        let w = World::build(&db).await;
        // Her door has a lock and she a phone key: only the proof stands between her and it.
        w.app
            .pair_lock(
                w.app
                    .may_pair_lock(&w.admin, w.door.id)
                    .await
                    .expect("installer"),
                Some("lock-4071"),
            )
            .await
            .expect("pair");
        w.app
            .create_credential(
                w.admin
                    .credential_issuer(w.property.id, Some(w.unit.id))
                    .expect("staff may issue"),
                latchkey_app::credentials::CredentialInput {
                    person_id: w.resident.id,
                    kind: latchkey_core::model::CredentialKind::PhoneKey,
                    label: None,
                    unit_id: Some(w.unit.id),
                    doors: None,
                    schedule: latchkey_core::schedule::Schedule::Always,
                    max_uses: None,
                    duress: false,
                    pin: None,
                    card_uid: None,
                },
            )
            .await
            .expect("phone key");
        let signed = w
            .app
            .login(RESIDENT_EMAIL, RESIDENT_PASSWORD, "192.0.2.50")
            .await
            .expect("sign in");
        let rosa = w
            .app
            .authenticate(GrantKind::Session, &signed.token)
            .await
            .expect("session");
        assert_eq!(
            w.app.unlock_proof_kind(&rosa).await.expect("kind"),
            Some(false)
        );
        match w
            .app
            .remote_as(
                &rosa,
                w.door.id,
                latchkey_app::devices::RemoteAction::Unlock,
                None,
                std::time::Duration::from_millis(10),
            )
            .await
        {
            Err(AppError::Forbidden(why)) => assert!(why.contains("confirm it is you"), "{why}"),
            other => panic!("expected Forbidden, got {:?}", other.map(|c| c.id)),
        }
        assert!(matches!(
            w.app
                .give_unlock_proof(
                    w.app.may_use_session(&rosa).expect("a session"),
                    Proof::Password("not her password")
                )
                .await,
            Err(AppError::Unauthenticated(_))
        ));
        assert_eq!(
            w.app.unlock_proof_kind(&rosa).await.expect("kind"),
            Some(false)
        );
        w.app
            .give_unlock_proof(
                w.app.may_use_session(&rosa).expect("a session"),
                Proof::Password(RESIDENT_PASSWORD),
            )
            .await
            .expect("her password");
        assert_eq!(w.app.unlock_proof_kind(&rosa).await.expect("kind"), None);
        w.clock.advance(w.app.config().unlock_proof_window);
        assert_eq!(
            w.app.unlock_proof_kind(&rosa).await.expect("kind"),
            Some(false),
            "the proof lasts the window, no longer"
        );
        // API tokens are exempt (docs/ARCHITECTURE.md, "Fresh proof to unlock").
        let (token, _) = w
            .app
            .create_api_token(rosa.own_account(), "home automation")
            .await
            .expect("token");
        let bot = w
            .app
            .authenticate(GrantKind::ApiToken, &token)
            .await
            .expect("token");
        assert_eq!(w.app.unlock_proof_kind(&bot).await.expect("kind"), None);
        let text = w.all_events_text().await;
        assert!(text.contains("auth.proof_failed") && text.contains("auth.proof_given"));
        assert!(!text.contains("not her password"));
    })
    .await;
}

#[tokio::test]
async fn adding_a_passkey_needs_a_fresh_proof_or_the_password() {
    latchkey_testkit::each_backend("passkey_proof", |db| async move {
        let w = World::build(&db).await;
        // A session that only signed in (a stolen cookie, say) has given no proof.
        let signed = w
            .app
            .login(RESIDENT_EMAIL, RESIDENT_PASSWORD, "192.0.2.60")
            .await
            .expect("sign in");
        let rosa = w
            .app
            .authenticate(GrantKind::Session, &signed.token)
            .await
            .expect("session");
        assert!(!w.app.proof_is_fresh(&rosa).await.expect("fresh"));
        let events = w.all_events_text().await;
        for password in [None, Some(""), Some("not her password")] {
            match w
                .app
                .start_passkey_registration(
                    w.app.may_use_session(&rosa).expect("a session"),
                    password,
                )
                .await
            {
                Err(AppError::Unauthenticated(_)) => {}
                Err(e) => panic!("expected Unauthenticated for {password:?}, got {e}"),
                Ok(_) => panic!("a passkey ceremony started without a proof ({password:?})"),
            }
        }
        let after = w.all_events_text().await;
        assert!(
            after.len() > events.len() && after.contains("passkey_registration"),
            "the wrong password is audited"
        );
        assert!(!after.contains("not her password"));
        // Her password now starts the ceremony (the options a browser needs).
        let started = w
            .app
            .start_passkey_registration(
                w.app.may_use_session(&rosa).expect("a session"),
                Some(RESIDENT_PASSWORD),
            )
            .await
            .expect("her password is a fresh proof");
        assert!(
            started.options.pointer("/publicKey/challenge").is_some(),
            "{}",
            started.options
        );
        // A link just used is a fresh proof: the welcome page adds a passkey without asking.
        let nina = newcomer(&w).await;
        let inv = invite(&w, &w.admin, nina).await.expect("invite");
        let welcomed = w
            .app
            .accept_invitation(&inv.token, NEW_PASSWORD, "192.0.2.61")
            .await
            .expect("link");
        let nina = w
            .app
            .authenticate(GrantKind::Session, &welcomed.token)
            .await
            .expect("session");
        assert!(w.app.proof_is_fresh(&nina).await.expect("fresh"));
        w.app
            .start_passkey_registration(w.app.may_use_session(&nina).expect("a session"), None)
            .await
            .expect("no password asked right after the link");
    })
    .await;
}
