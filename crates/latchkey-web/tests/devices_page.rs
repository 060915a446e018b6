//! The console's devices page, driven in-process on every backend: an installer sees every
//! device the bridge announced, unpaired locks first, and pairs one with a door of the property
//! that has no lock; a stale or forged form (an unknown device, a door that has a lock, a door of
//! another property, a bad form token) is refused and changes nothing; managers, residents and
//! another property's staff get none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;

use axum::http::StatusCode;
use latchkey_app::devices::IngestItem;
use latchkey_core::DoorId;
use latchkey_core::model::{DoorKind, Role};
use latchkey_testkit::each_backend;
use latchkey_z2m::{Limits, Topics, parse_inbound};

use console::*;

/// The bridge announces a lock `new/lock` (unpaired), a lock `lobby/lock` and a plug.
async fn announce(w: &World) {
    let lock = r#"{"exposes":[{"type":"lock","features":[{"name":"state","property":"state"}]},{"name":"pin_code","property":"pin_code","type":"composite"}]}"#;
    let payload = format!(
        r#"[{{"ieee_address":"0x00124b0000000001","friendly_name":"new/lock","type":"EndDevice","definition":{{"model":"YRD226","vendor":"Yale",{inner}}}}},
            {{"ieee_address":"0x00124b0000000002","friendly_name":"lobby/lock","type":"EndDevice","definition":{{"model":"YRD226","vendor":"Yale",{inner}}}}},
            {{"ieee_address":"0x00124b0000000003","friendly_name":"hall/plug","type":"Router","definition":{{"model":"PLUG1","vendor":"Acme","exposes":[]}}}}]"#,
        inner = &lock[1..lock.len() - 1]
    );
    let message = parse_inbound(
        &Topics::default(),
        "zigbee2mqtt/bridge/devices",
        payload.as_bytes(),
        &Limits::default(),
    )
    .unwrap()
    .unwrap();
    w.app
        .ingest(vec![IngestItem {
            identity: None,
            message,
        }])
        .await
        .unwrap();
    w.app
        .pair_lock(
            w.app.may_pair_lock(&w.root, w.lobby).await.unwrap(),
            Some("lobby/lock"),
        )
        .await
        .unwrap();
}

async fn installer(w: &World) -> String {
    add_person(
        &w.app,
        &w.root,
        w.property,
        "Ian Installer",
        "ian@example.org",
        Role::Installer,
        None,
    )
    .await;
    w.signed_in("ian@example.org").await
}

async fn lock_of(w: &World, door: DoorId) -> Option<String> {
    w.app.get_door(&w.root, door).await.unwrap().lock_name
}

#[tokio::test]
async fn the_installer_sees_unpaired_locks_first_and_pairs_one_with_a_free_door() {
    each_backend("web_devices_pair", |db| async move {
        let w = world(&db).await;
        announce(&w).await;
        let ian = installer(&w).await;
        let page = w.get("/devices", &ian).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let b = &page.body;
        assert!(b.contains("Door House: devices"));
        assert!(b.contains("aria-current=\"page\">Devices</a>"));
        assert!(b.contains("Yale YRD226"));
        assert!(b.contains("Acme PLUG1"));
        assert!(b.contains("Door: Lobby"));
        assert!(b.contains("1 unpaired lock"));
        assert!(!b.contains(" style="), "no inline style");
        let (new, lobby, plug) = (
            b.find(">new/lock").unwrap(),
            b.find(">lobby/lock").unwrap(),
            b.find(">hall/plug").unwrap(),
        );
        assert!(
            new < plug && plug < lobby,
            "unpaired lock first, then by name"
        );
        // One form, for the unpaired lock; its doors are those without a lock.
        assert_eq!(b.matches("action=\"/devices/pair\"").count(), 1);
        let form = &b[b.find("action=\"/devices/pair\"").unwrap()..];
        let form = &form[..form.find("</form>").unwrap()];
        assert!(form.contains("value=\"new/lock\""));
        assert!(form.contains(&format!("value=\"{}\">3B entry", w.unit_door.0)));
        assert!(!form.contains("Lobby"), "the lobby has a lock");
        let csrf = form_token(b);
        let res = w
            .post(
                "/devices/pair",
                &ian,
                format!(
                    "csrf={csrf}&property={}&device=new%2Flock&door={}",
                    w.property.0, w.unit_door.0
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(lock_of(&w, w.unit_door).await.as_deref(), Some("new/lock"));
        let page = w.get("/devices", &ian).await;
        assert!(page.body.contains("Door: 3B entry"));
        assert!(page.body.contains("0 unpaired locks"));
        assert!(!page.body.contains("action=\"/devices/pair\""));
        let audit = w
            .app
            .list_devices(&w.root)
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.device.friendly_name == "new/lock")
            .unwrap();
        assert_eq!(audit.door_id, Some(w.unit_door));
    })
    .await;
}

#[tokio::test]
async fn stale_or_forged_pairing_forms_are_refused_and_change_nothing() {
    each_backend("web_devices_bad", |db| async move {
        let w = world(&db).await;
        announce(&w).await;
        let ian = installer(&w).await;
        let csrf = form_token(&w.get("/devices", &ian).await.body);
        let p = w.property.0;
        let other = building(&w.app, &w.root, "Third House").await;
        let far = door(&w.app, &w.root, other, "Far gate", DoorKind::Garage, None).await;
        // Ian installs at the third house too, so only the page's own check refuses its door.
        let ian_id = w
            .app
            .list_people(&w.root, w.property)
            .await
            .unwrap()
            .into_iter()
            .find(|x| x.name == "Ian Installer")
            .unwrap()
            .id;
        let m = latchkey_app::people::MembershipInput {
            role: Role::Installer,
            unit_id: None,
            valid_from: None,
            valid_until: None,
        };
        w.app
            .create_membership(
                w.app.may_create_membership(&w.root, other, &m).unwrap(),
                ian_id,
                m,
            )
            .await
            .unwrap();
        let (u, l) = (w.unit_door.0, w.lobby.0);
        let bad = [
            (
                format!("csrf={csrf}&property={p}&device=ghost%2Flock&door={u}"),
                "Device: is not",
            ),
            (
                format!("csrf={csrf}&property={p}&device=hall%2Fplug&door={u}"),
                "Device: is not",
            ),
            (
                format!("csrf={csrf}&property={p}&device=lobby%2Flock&door={u}"),
                "Device: is not",
            ),
            (
                format!("csrf={csrf}&property={p}&device=new%2Flock&door={l}"),
                "already has a lock",
            ),
            (
                format!("csrf={csrf}&property={p}&device=new%2Flock&door={}", far.0),
                "not a door of this property",
            ),
            (
                format!("csrf={csrf}&property={p}&device=new%2Flock&door=abc"),
                "Door: must be chosen from the list",
            ),
        ];
        for (body, says) in bad {
            let res = w.post("/devices/pair", &ian, body.clone()).await;
            assert!(
                res.status.is_client_error(),
                "{body}: {} {}",
                res.status,
                res.body
            );
            assert!(res.body.contains(says), "{body}: {}", res.body);
        }
        let forged = w
            .post(
                "/devices/pair",
                &ian,
                format!("csrf=forged&property={p}&device=new%2Flock&door={u}"),
            )
            .await;
        assert!(forged.status.is_client_error(), "{}", forged.status);
        assert_eq!(lock_of(&w, w.unit_door).await, None);
        assert_eq!(lock_of(&w, w.lobby).await.as_deref(), Some("lobby/lock"));
        assert_eq!(lock_of(&w, far).await, None);
    })
    .await;
}

#[tokio::test]
async fn managers_residents_and_another_propertys_staff_get_no_devices_page() {
    each_backend("web_devices_refused", |db| async move {
        let w = world(&db).await;
        announce(&w).await;
        for who in [
            "mona@example.org",
            "vera@example.org",
            "gil@example.org",
            "otto@example.org",
        ] {
            let cookie = w.signed_in(who).await;
            let page = w
                .get(&format!("/devices?property={}", w.property.0), &cookie)
                .await;
            assert!(
                matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                page.status
            );
            assert!(!page.body.contains("new/lock"), "{who}");
            let csrf = form_token(&w.get("/", &cookie).await.body);
            let res = w
                .post(
                    "/devices/pair",
                    &cookie,
                    format!(
                        "csrf={csrf}&property={}&device=new%2Flock&door={}",
                        w.property.0, w.unit_door.0
                    ),
                )
                .await;
            assert!(
                matches!(res.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                res.status
            );
            assert_eq!(lock_of(&w, w.unit_door).await, None, "{who} paired a lock");
        }
    })
    .await;
}
