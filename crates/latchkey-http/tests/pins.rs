//! PIN codes over HTTP, on every backend: a resident probing a neighbour's code on the lobby
//! gets the same status and the same body whether the code exists or not, and staff issue
//! only generated codes that the holder reveals.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::fixture;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::store::auth::GrantKind;
use latchkey_core::model::Role;
use latchkey_core::{CredentialId, PropertyId};
use latchkey_testkit::each_backend;

/// A code nobody in the fixture holds (it passes the PIN rules).
const FRESH: &str = "58274613";

#[tokio::test]
async fn a_neighbour_probing_a_code_on_the_lobby_gets_the_same_answer_whether_it_exists_or_not() {
    each_backend("http_lobby_oracle", |db| async move {
        let f = fixture(&db).await;
        let property = PropertyId(f.property);
        let root = f
            .app
            .authenticate(GrantKind::ApiToken, &f.tokens["admin"].0)
            .await
            .unwrap();
        // Unit 2A shares the lobby with 1A; Nora lives in 2A.
        let hugo = f
            .app
            .get_credential(&root, CredentialId(f.credential))
            .await
            .unwrap();
        let lobby = *hugo.doors.iter().find(|d| d.0 != f.door).unwrap();
        let unit_2a = f
            .app
            .list_units(&root, property)
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.label == "2A")
            .unwrap();
        let group = f
            .app
            .create_door_group(root.staff(property).unwrap(), "2A doors", &[lobby])
            .await
            .unwrap();
        f.app
            .update_unit(
                f.app.may_update_unit(&root, unit_2a.id).await.unwrap(),
                None,
                None,
                Some(Some(group.id)),
            )
            .await
            .unwrap();
        let (nora, _) = {
            let input = PersonInput {
                name: "Nora Neighbour".into(),
                email: None,
                phone: None,
                password: None,
                membership: MembershipInput {
                    role: Role::Resident,
                    unit_id: Some(unit_2a.id),
                    valid_from: None,
                    valid_until: None,
                },
            };
            f.app.create_person(
                f.app.may_create_person(&root, property, &input).unwrap(),
                input,
            )
        }
        .await
        .unwrap();
        let nora_p = f.app.terminal_principal(nora.id).await.unwrap();
        let (token, _) = f
            .app
            .create_api_token(nora_p.own_account(), "nora")
            .await
            .unwrap();
        // Hugo's code, as the lock programmer reads it.
        let sealed = {
            let mut conn = f.store.read().await.unwrap();
            latchkey_store::credentials::secret(&mut conn, hugo.id)
                .await
                .unwrap()
                .unwrap()
        };
        let hugos_code = Keys::from_master(&[3; 32])
            .open_pin(property, &sealed)
            .unwrap();
        assert_ne!(hugos_code, FRESH);

        let post = |body: String| {
            let req = Request::builder()
                .method("POST")
                .uri(format!("/api/v1/properties/{}/credentials", f.property))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            f.raw(req)
        };
        let body = |code: &str, doors: &str| {
            format!(
                r#"{{"person_id":{},"kind":"pin","unit_id":{}{doors},"pin":"{code}"}}"#,
                nora.id, unit_2a.id
            )
        };
        let before = f.event_count().await;
        for doors in [String::new(), format!(r#","doors":[{lobby}]"#)] {
            let taken = post(body(&hugos_code, &doors)).await;
            let free = post(body(FRESH, &doors)).await;
            assert_eq!(taken.status.as_u16(), 422, "{}", taken.json);
            assert_eq!(taken.status, free.status);
            assert_eq!(
                taken.json, free.json,
                "the body must not depend on whether the code is in use"
            );
            assert_eq!(taken.json["field"], "pin");
            let detail = taken.json["detail"].as_str().unwrap();
            assert!(detail.contains("generated"), "{detail}");
        }
        assert_eq!(f.event_count().await, before, "nothing written");
        // Without a code, Nora gets a generated one, handed to her as its holder.
        let made = post(format!(
            r#"{{"person_id":{},"kind":"pin","unit_id":{}}}"#,
            nora.id, unit_2a.id
        ))
        .await;
        assert_eq!(made.status.as_u16(), 201, "{}", made.json);
        let mine = made.json["pin"].as_str().unwrap();
        assert_eq!(mine.len(), 8);
        assert_ne!(mine, hugos_code);
        assert_eq!(made.json["credential"]["pin_chosen"], false);
    })
    .await;
}

#[tokio::test]
async fn staff_set_no_residents_code_and_a_generated_one_is_revealed_only_by_its_holder() {
    each_backend("http_staff_generated", |db| async move {
        let f = fixture(&db).await;
        let creds = format!("/api/v1/properties/{}/credentials", f.property);
        let before = f.event_count().await;
        for role in ["manager", "installer", "admin"] {
            let r = f
                .call(
                    role,
                    "POST",
                    &creds,
                    Some(format!(
                        r#"{{"person_id":{},"kind":"pin","unit_id":{},"doors":[{}],"pin":"{FRESH}"}}"#,
                        f.resident, f.unit, f.door
                    )),
                )
                .await;
            assert_eq!(r.status.as_u16(), 422, "{role}: {}", r.json);
            assert_eq!(r.json["field"], "pin");
        }
        assert_eq!(f.event_count().await, before, "nothing written");
        let r = f
            .call(
                "manager",
                "POST",
                &creds,
                Some(format!(
                    r#"{{"person_id":{},"kind":"pin","unit_id":{}}}"#,
                    f.resident, f.unit
                )),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.json);
        assert!(r.json["pin"].is_null(), "staff never see the code");
        assert_eq!(r.json["credential"]["pin_chosen"], false);
        let reveal = format!(
            "/api/v1/credentials/{}/reveal",
            r.json["credential"]["id"].as_i64().unwrap()
        );
        let r = f.call("manager", "POST", &reveal, None).await;
        assert_eq!(r.status.as_u16(), 403, "{}", r.json);
        let r = f.call("resident", "POST", &reveal, None).await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.json);
        assert_eq!(r.json["pin"].as_str().unwrap().len(), 8);
    })
    .await;
}
