//! The console's people pages, driven in-process on every backend: the manager lists the
//! property's people, adds one (and gets the invitation link once), reads a person's
//! memberships and credentials, and moves a resident out, which revokes their credentials and
//! leads to the receipt. Every bad form is refused with the field at fault and changes nothing;
//! residents, guests and another property's manager get none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;

use axum::http::StatusCode;
use latchkey_app::credentials::CredentialInput;
use latchkey_core::model::{CredentialKind, CredentialStatus};
use latchkey_core::schedule::Schedule;
use latchkey_testkit::each_backend;

use console::*;

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn people_count(w: &World) -> usize {
    w.app.list_people(&w.root, w.property).await.unwrap().len()
}

#[tokio::test]
async fn the_manager_lists_the_propertys_people_and_nobody_elses() {
    each_backend("web_people_list", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let page = w.get("/people", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Door House: people"));
        assert!(page.body.contains("Vera Resident"));
        assert!(page.body.contains("Resident of 3B"));
        assert!(page.body.contains("Gil Guest"));
        assert!(page.body.contains("Guest of 3B"));
        assert!(page.body.contains("Mona Manager"));
        assert!(!page.body.contains("Otto"), "another building's manager");
        assert!(!page.body.contains(" style="), "no inline style");
        // Naming the other building does not widen what she reads.
        let other = w
            .app
            .list_properties(&w.root)
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.name == "Other House")
            .unwrap();
        let page = w
            .get(&format!("/people?property={}", other.id.0), &mona)
            .await;
        assert!(
            matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{}",
            page.status
        );
        assert!(!page.body.contains("Otto"));
    })
    .await;
}

#[tokio::test]
async fn residents_guests_and_another_propertys_manager_get_no_people_page() {
    each_backend("web_people_refused", |db| async move {
        let w = world(&db).await;
        for who in ["vera@example.org", "gil@example.org", "otto@example.org"] {
            let cookie = w.signed_in(who).await;
            let page = w
                .get(&format!("/people?property={}", w.property.0), &cookie)
                .await;
            assert!(
                matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                page.status
            );
            assert!(!page.body.contains("Gil Guest"), "{who}");
            let person = w
                .get(
                    &format!("/people/{}?property={}", w.vera.0, w.property.0),
                    &cookie,
                )
                .await;
            assert!(
                matches!(person.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                person.status
            );
            // Adding someone with a (valid) form of their own session is refused too.
            let home = w.get("/", &cookie).await;
            let csrf = form_token(&home.body);
            let before = people_count(&w).await;
            let res = w
                .post(
                    "/people",
                    &cookie,
                    format!(
                        "csrf={csrf}&property={}&name=Intruder&email=&role=resident&unit={}",
                        w.property.0, w.unit.0
                    ),
                )
                .await;
            assert!(
                matches!(res.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                res.status
            );
            assert_eq!(people_count(&w).await, before, "{who} added someone");
        }
    })
    .await;
}

#[tokio::test]
async fn adding_a_person_shows_their_invitation_link_once_and_bad_forms_change_nothing() {
    each_backend("web_people_add", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let page = w.get("/people", &mona).await;
        let csrf = form_token(&page.body);
        let (p, u) = (w.property.0, w.unit.0);
        let before = people_count(&w).await;
        let bad = [
            (
                format!("csrf={csrf}&property={p}&name=&email=&role=resident&unit={u}"),
                "Name",
            ),
            (
                format!(
                    "csrf={csrf}&property={p}&name=Rita&email=not-an-address&role=resident&unit={u}"
                ),
                "mail",
            ),
            (
                format!("csrf={csrf}&property={p}&name=Rita&email=&role=wizard&unit={u}"),
                "Role",
            ),
            (
                format!("csrf={csrf}&property={p}&name=Rita&email=&role=resident&unit="),
                "unit",
            ),
            (
                format!("csrf={csrf}&property={p}&name=Rita&email=&role=manager&unit={u}"),
                "unit",
            ),
            (
                format!("csrf={csrf}&property={p}&name=Rita&email=&role=resident&unit=999999"),
                "unit",
            ),
            (
                format!("csrf={csrf}&property={p}&name=Rita&email=&role=resident&unit=3B"),
                "Unit",
            ),
            (
                format!(
                    "csrf={csrf}&property={p}&name={}&email=&role=resident&unit={u}",
                    "R".repeat(201)
                ),
                "Name",
            ),
        ];
        for (body, field) in bad {
            let res = w.post("/people", &mona, body.clone()).await;
            assert_eq!(
                res.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}: {}",
                res.body
            );
            assert!(
                res.body.contains(field),
                "{body}: names {field}: {}",
                res.body
            );
            assert_eq!(people_count(&w).await, before, "{body} added someone");
        }
        // A form without its token, or from another site, does nothing.
        let res = w
            .post(
                "/people",
                &mona,
                format!("csrf=forged&property={p}&name=Rita&email=&role=resident&unit={u}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        assert_eq!(people_count(&w).await, before);

        let res = w
            .post(
                "/people",
                &mona,
                format!(
                    "csrf={csrf}&property={p}&name={}&email={}&role=resident&unit={u}",
                    enc("Rita Newcomer"),
                    enc("rita@example.org")
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(res.body.contains("Rita Newcomer was added"));
        let at = res
            .body
            .find("/welcome?t=lki_")
            .expect("an invitation link");
        assert!(
            res.body[..at].contains("http://localhost:8080"),
            "the link is absolute"
        );
        assert_eq!(people_count(&w).await, before + 1);
        let list = w.get("/people", &mona).await;
        assert!(list.body.contains("Rita Newcomer"));
        assert!(
            !list.body.contains("lki_"),
            "the link is shown once, at creation"
        );
        // Without an e-mail address there is no link to give.
        let res = w
            .post(
                "/people",
                &mona,
                format!("csrf={csrf}&property={p}&name=Kid&email=&role=household&unit={u}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(!res.body.contains("lki_"));
        assert!(res.body.contains("no e-mail address"));
    })
    .await;
}

#[tokio::test]
async fn moving_a_resident_out_needs_their_name_revokes_their_codes_and_shows_the_receipt() {
    each_backend("web_people_move_out", |db| async move {
        let w = world(&db).await;
        let vera = w.app.terminal_principal(w.vera).await.unwrap();
        let input = CredentialInput {
            person_id: w.vera,
            kind: CredentialKind::Pin,
            label: Some("Vera's PIN".into()),
            unit_id: Some(w.unit),
            doors: None,
            schedule: Schedule::Always,
            max_uses: None,
            duress: false,
            pin: None,
            card_uid: None,
        };
        let pin = w
            .app
            .create_credential(
                vera.credential_issuer(w.property, Some(w.unit)).unwrap(),
                input,
            )
            .await
            .unwrap();
        let mona = w.signed_in("mona@example.org").await;
        let page = w.get(&format!("/people/{}", w.vera.0), &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains("Vera&#39;s PIN") || page.body.contains("Vera's PIN"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("3B entry"),
            "the PIN's door and its lock status"
        );
        assert!(page.body.contains("No lock paired"));
        let membership = w
            .app
            .list_memberships(&w.root, w.property)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.person_id == w.vera)
            .unwrap();
        let end = format!("/people/memberships/{}/end", membership.id.0);
        let csrf = form_token(&page.body);
        // A slip of the mouse, a wrong name or a forged form ends nothing.
        for body in [
            format!("csrf={csrf}&confirm="),
            format!("csrf={csrf}&confirm=Vera"),
            format!("csrf=forged&confirm={}", enc("Vera Resident")),
        ] {
            let res = w.post(&end, &mona, body.clone()).await;
            assert!(
                matches!(
                    res.status,
                    StatusCode::UNPROCESSABLE_ENTITY | StatusCode::FORBIDDEN
                ),
                "{body}: {}",
                res.status
            );
            let still = w
                .app
                .get_credential(&w.root, pin.credential.id)
                .await
                .unwrap();
            assert_eq!(still.status, CredentialStatus::Active, "{body}");
        }
        // Vera cannot end her own membership from the console, nor read its receipt.
        let own = w.signed_in("vera@example.org").await;
        let home = w.get("/", &own).await;
        let res = w
            .post(
                &end,
                &own,
                format!(
                    "csrf={}&confirm={}",
                    form_token(&home.body),
                    enc("Vera Resident")
                ),
            )
            .await;
        assert!(
            matches!(res.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{}",
            res.status
        );
        assert_eq!(
            w.app
                .get_credential(&w.root, pin.credential.id)
                .await
                .unwrap()
                .status,
            CredentialStatus::Active
        );

        let res = w
            .post(
                &end,
                &mona,
                format!("csrf={csrf}&confirm={}", enc("Vera Resident")),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let receipt = format!("/people/memberships/{}/receipt", membership.id.0);
        assert_eq!(
            res.headers.get("location").unwrap().to_str().unwrap(),
            receipt
        );
        assert_eq!(
            w.app
                .get_credential(&w.root, pin.credential.id)
                .await
                .unwrap()
                .status,
            CredentialStatus::Revoked
        );
        let page = w.get(&receipt, &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Move-out receipt: Vera Resident"));
        assert!(page.body.contains("3B entry"));
        assert!(
            page.body.contains("data-stream="),
            "the receipt follows the locks"
        );
        let rows = w.get(&format!("{receipt}/rows"), &mona).await;
        assert_eq!(rows.status, StatusCode::OK);
        assert!(rows.body.contains("3B entry"));
        // Twice is refused and changes nothing.
        let again = w
            .post(
                &end,
                &mona,
                format!("csrf={csrf}&confirm={}", enc("Vera Resident")),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
        let refused = w.get(&receipt, &own).await;
        assert!(
            matches!(
                refused.status,
                StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
            ),
            "{}",
            refused.status
        );
        assert!(!refused.body.contains("3B entry"));
        // Her row now says she moved out.
        let list = w.get("/people", &mona).await;
        let row = &list.body[list.body.find("Vera Resident").unwrap()..];
        assert!(row[..row.find("</tr>").unwrap()].contains("Moved out"));
    })
    .await;
}

#[tokio::test]
async fn a_code_a_lock_cannot_show_reads_assumed_with_why_never_confirmed() {
    each_backend("web_people_assumed", |db| async move {
        let w = world(&db).await;
        w.app
            .pair_lock(
                w.app.may_pair_lock(&w.root, w.unit_door).await.unwrap(),
                Some("door-house/3b"),
            )
            .await
            .unwrap();
        let vera = w.app.terminal_principal(w.vera).await.unwrap();
        let pin = w
            .app
            .create_credential(
                vera.credential_issuer(w.property, Some(w.unit)).unwrap(),
                CredentialInput {
                    person_id: w.vera,
                    kind: CredentialKind::Pin,
                    label: Some("Vera's PIN".into()),
                    unit_id: Some(w.unit),
                    doors: None,
                    schedule: Schedule::Always,
                    max_uses: None,
                    duress: false,
                    pin: None,
                    card_uid: None,
                },
            )
            .await
            .unwrap();
        // The lock took the code but cannot show it: the slot as ingestion leaves it then.
        let store = db.open().await;
        let mut tx = store.write().await.unwrap();
        latchkey_store::devices::save_slots(
            tx.conn(),
            &[latchkey_store::devices::Slot {
                door_id: w.unit_door,
                slot: 0,
                credential_id: Some(pin.credential.id),
                desired: latchkey_store::devices::Desired::Enabled,
                status: latchkey_store::devices::SlotStatus::Assumed,
                reason: None,
                attempts: 0,
                next_attempt_at: None,
                updated_at: w.app.now(),
            }],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        store.close().await;

        let mona = w.signed_in("mona@example.org").await;
        let page = w.get(&format!("/people/{}", w.vera.0), &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body
                .contains("On the lock, assumed: the lock took it but cannot show which code"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("On the lock, confirmed"));
        let building = w.get("/building", &mona).await;
        assert_eq!(building.status, StatusCode::OK, "{}", building.body);
        assert!(
            building
                .body
                .contains("In sync (1 code, 1 assumed: this lock cannot show its codes)"),
            "{}",
            building.body
        );
    })
    .await;
}
