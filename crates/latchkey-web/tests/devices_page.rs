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
            message: latchkey_bridge::zigbee::message(message),
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
        installs_at(&w, other).await;
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
        w.each_refused("/devices/pair", &ian, bad.into()).await;
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

/// A door contact sensor on the unit's door, with no device yet.
async fn contact(w: &World, property: latchkey_core::PropertyId, name: &str) -> i64 {
    w.app
        .create_sensor(
            w.root.staff(property).unwrap(),
            latchkey_app::directory::SensorInput {
                name: name.into(),
                kind: latchkey_core::model::SensorKind::DoorContact,
                unit_id: None,
                door_id: None,
                floor: 0,
            },
        )
        .await
        .unwrap()
        .id
        .0
}

async fn device_of(w: &World, property: latchkey_core::PropertyId, sensor: i64) -> Option<String> {
    w.app
        .list_sensors(&w.root, property)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id.0 == sensor)
        .unwrap()
        .device_name
}

/// The installer at a second property too, so only the page's own check refuses its things.
async fn installs_at(w: &World, property: latchkey_core::PropertyId) {
    let ian = w
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
            w.app.may_create_membership(&w.root, property, &m).unwrap(),
            ian,
            m,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_installer_unpairs_a_lock_after_a_confirm_step_that_says_where_its_codes_go() {
    each_backend("web_devices_unpair", |db| async move {
        let w = world(&db).await;
        announce(&w).await;
        let ian = installer(&w).await;
        let page = w.get("/devices", &ian).await;
        let link = format!(
            "/devices/unpair?property={}&#38;door={}",
            w.property.0, w.lobby.0
        );
        assert!(page.body.contains(&link), "{}", page.body);
        assert_eq!(page.body.matches("Unpair…").count(), 1, "one paired device");

        let confirm = w.get(&link.replace("&#38;", "&"), &ian).await;
        assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
        let b = &confirm.body;
        assert!(b.contains("Unpair the lock lobby/lock from the door Lobby?"));
        assert!(b.contains("The codes stay on lobby/lock"));
        assert!(b.contains("latchkey cannot remove or change them"));
        assert!(b.contains("written again to the next lock you pair with it"));
        assert!(b.contains("Keep it paired"));
        assert_eq!(
            lock_of(&w, w.lobby).await.as_deref(),
            Some("lobby/lock"),
            "asking changes nothing"
        );

        let csrf = form_token(b);
        let res = w
            .post(
                "/devices/unpair",
                &ian,
                format!(
                    "csrf={csrf}&property={}&door={}&device=lobby%2Flock",
                    w.property.0, w.lobby.0
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(lock_of(&w, w.lobby).await, None);
        let at = res.headers.get("location").unwrap().to_str().unwrap();
        let page = w.get(at, &ian).await;
        assert!(
            page.body
                .contains("Unpaired. latchkey no longer manages that device.")
        );
        assert!(page.body.contains("2 unpaired locks"));
        assert!(!page.body.contains("Unpair…"));
        // The lobby is free again: both locks may be paired with it.
        assert_eq!(page.body.matches("action=\"/devices/pair\"").count(), 2);
        let kinds: Vec<String> = w
            .app
            .list_events(
                &w.root,
                Some(w.property),
                latchkey_app::store::audit::EventFilter {
                    kind_prefix: Some("door.lock_".into()),
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert!(kinds.iter().any(|k| k == "door.lock_unpaired"), "{kinds:?}");
    })
    .await;
}

#[tokio::test]
async fn stale_or_forged_unpair_forms_are_refused_and_change_nothing() {
    each_backend("web_devices_unpair_bad", |db| async move {
        let w = world(&db).await;
        announce(&w).await;
        let ian = installer(&w).await;
        let csrf = form_token(&w.get("/devices", &ian).await.body);
        let p = w.property.0;
        let other = building(&w.app, &w.root, "Third House").await;
        let far = door(&w.app, &w.root, other, "Far gate", DoorKind::Garage, None).await;
        installs_at(&w, other).await;
        w.app
            .pair_lock(
                w.app.may_pair_lock(&w.root, far).await.unwrap(),
                Some("far/lock"),
            )
            .await
            .unwrap();
        let (u, l) = (w.unit_door.0, w.lobby.0);
        let bad = [
            (
                format!("csrf={csrf}&property={p}&door={u}&device=lobby%2Flock"),
                "changed meanwhile",
            ),
            (
                format!("csrf={csrf}&property={p}&door={l}&device=new%2Flock"),
                "changed meanwhile",
            ),
            (
                format!("csrf={csrf}&property={p}&door={l}"),
                "changed meanwhile",
            ),
            (
                format!("csrf={csrf}&property={p}&door={}&device=far%2Flock", far.0),
                "not a door of this property",
            ),
            (
                format!("csrf={csrf}&property={p}&device=lobby%2Flock"),
                "name either a door or a sensor",
            ),
            (
                format!("csrf={csrf}&property={p}&door={l}&sensor=1&device=lobby%2Flock"),
                "name either a door or a sensor",
            ),
            (
                format!("csrf={csrf}&property={p}&door=abc&device=lobby%2Flock"),
                "Door: must be chosen from the list",
            ),
            (
                format!("csrf={csrf}&property={p}&door=999999&device=lobby%2Flock"),
                "Not found",
            ),
        ];
        w.each_refused("/devices/unpair", &ian, bad.into()).await;
        let forged = w
            .post(
                "/devices/unpair",
                &ian,
                format!("csrf=forged&property={p}&door={l}&device=lobby%2Flock"),
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        // The confirm step refuses what it cannot unpair, too.
        for (q, says) in [
            (format!("property={p}&door={u}"), "has no lock to unpair"),
            (
                format!("property={p}&door={}", far.0),
                "not a door of this property",
            ),
            (format!("property={p}"), "name either a door or a sensor"),
        ] {
            let page = w.get(&format!("/devices/unpair?{q}"), &ian).await;
            assert!(page.status.is_client_error(), "{q}: {}", page.status);
            assert!(page.body.contains(says), "{q}: {}", page.body);
            assert!(!page.body.contains("action=\"/devices/unpair\""), "{q}");
        }
        assert_eq!(lock_of(&w, w.lobby).await.as_deref(), Some("lobby/lock"));
        assert_eq!(lock_of(&w, far).await.as_deref(), Some("far/lock"));
        assert_eq!(lock_of(&w, w.unit_door).await, None);
    })
    .await;
}

#[tokio::test]
async fn the_installer_pairs_a_contact_sensor_with_a_device_and_unpairs_it() {
    each_backend("web_devices_sensor", |db| async move {
        let w = world(&db).await;
        announce(&w).await;
        let ian = installer(&w).await;
        let p = w.property.0;
        let sensor = contact(&w, w.property, "3B door contact").await;
        let page = w.get("/devices", &ian).await;
        let b = &page.body;
        // One sensor form, for the device that is not a lock; it offers the free sensor.
        assert_eq!(
            b.matches("action=\"/devices/pair-sensor\"").count(),
            1,
            "{b}"
        );
        let form = &b[b.find("action=\"/devices/pair-sensor\"").unwrap()..];
        let form = &form[..form.find("</form>").unwrap()];
        assert!(form.contains("value=\"hall/plug\""));
        assert!(form.contains(&format!(
            "value=\"{sensor}\">3B door contact (door contact)"
        )));
        let csrf = form_token(b);
        let res = w
            .post(
                "/devices/pair-sensor",
                &ian,
                format!("csrf={csrf}&property={p}&device=hall%2Fplug&sensor={sensor}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(
            device_of(&w, w.property, sensor).await.as_deref(),
            Some("hall/plug")
        );
        let page = w
            .get(
                "/devices?property={p}"
                    .replace("{p}", &p.to_string())
                    .as_str(),
                &ian,
            )
            .await;
        assert!(page.body.contains("Sensor: 3B door contact"));
        assert!(
            !page.body.contains("action=\"/devices/pair-sensor\""),
            "no free sensor left"
        );

        let link = format!("/devices/unpair?property={p}&sensor={sensor}");
        assert!(page.body.contains(&link.replace('&', "&#38;")));
        let confirm = w.get(&link, &ian).await;
        assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
        assert!(
            confirm
                .body
                .contains("Unpair the device hall/plug from the sensor 3B door contact?")
        );
        let res = w
            .post(
                "/devices/unpair",
                &ian,
                format!("csrf={csrf}&property={p}&sensor={sensor}&device=hall%2Fplug"),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(device_of(&w, w.property, sensor).await, None);
    })
    .await;
}

#[tokio::test]
async fn bad_sensor_pairing_forms_are_refused_and_change_nothing() {
    each_backend("web_devices_sensor_bad", |db| async move {
        let w = world(&db).await;
        announce(&w).await;
        let ian = installer(&w).await;
        let csrf = form_token(&w.get("/devices", &ian).await.body);
        let p = w.property.0;
        let free = contact(&w, w.property, "3B door contact").await;
        let taken = contact(&w, w.property, "Lobby window").await;
        w.app
            .pair_sensor(
                w.app
                    .may_pair_sensor(&w.root, latchkey_core::SensorId(taken))
                    .await
                    .unwrap(),
                Some("lobby/contact"),
            )
            .await
            .unwrap();
        let other = building(&w.app, &w.root, "Third House").await;
        let far = contact(&w, other, "Far contact").await;
        installs_at(&w, other).await;
        let bad = [
            (
                format!("csrf={csrf}&property={p}&device=new%2Flock&sensor={free}"),
                "is a lock or already paired",
            ),
            (
                format!("csrf={csrf}&property={p}&device=lobby%2Flock&sensor={free}"),
                "is a lock or already paired",
            ),
            (
                format!("csrf={csrf}&property={p}&device=ghost&sensor={free}"),
                "is not a device latchkey has seen",
            ),
            (
                format!("csrf={csrf}&property={p}&device=hall%2Fplug&sensor={taken}"),
                "already has a device",
            ),
            (
                format!("csrf={csrf}&property={p}&device=hall%2Fplug&sensor={far}"),
                "not a sensor of this property",
            ),
            (
                format!("csrf={csrf}&property={p}&device=hall%2Fplug&sensor="),
                "Sensor: must be chosen from the list",
            ),
        ];
        w.each_refused("/devices/pair-sensor", &ian, bad.into())
            .await;
        let forged = w
            .post(
                "/devices/pair-sensor",
                &ian,
                format!("csrf=forged&property={p}&device=hall%2Fplug&sensor={free}"),
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(device_of(&w, w.property, free).await, None);
        assert_eq!(
            device_of(&w, w.property, taken).await.as_deref(),
            Some("lobby/contact")
        );
        assert_eq!(device_of(&w, other, far).await, None);
    })
    .await;
}

#[tokio::test]
async fn managers_residents_and_another_propertys_staff_neither_unpair_nor_pair_sensors() {
    each_backend("web_devices_unpair_refused", |db| async move {
        let w = world(&db).await;
        announce(&w).await;
        let p = w.property.0;
        let sensor = contact(&w, w.property, "3B door contact").await;
        for who in [
            "mona@example.org",
            "vera@example.org",
            "gil@example.org",
            "otto@example.org",
        ] {
            let cookie = w.signed_in(who).await;
            let page = w
                .get(
                    &format!("/devices/unpair?property={p}&door={}", w.lobby.0),
                    &cookie,
                )
                .await;
            assert!(
                matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                page.status
            );
            assert!(!page.body.contains("lobby/lock"), "{who}");
            let csrf = form_token(&w.get("/", &cookie).await.body);
            for (path, body) in [
                (
                    "/devices/unpair",
                    format!(
                        "csrf={csrf}&property={p}&door={}&device=lobby%2Flock",
                        w.lobby.0
                    ),
                ),
                (
                    "/devices/pair-sensor",
                    format!("csrf={csrf}&property={p}&device=hall%2Fplug&sensor={sensor}"),
                ),
            ] {
                let res = w.post(path, &cookie, body).await;
                assert!(
                    matches!(res.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                    "{who} {path}: {}",
                    res.status
                );
            }
            assert_eq!(
                lock_of(&w, w.lobby).await.as_deref(),
                Some("lobby/lock"),
                "{who}"
            );
            assert_eq!(device_of(&w, w.property, sensor).await, None, "{who}");
        }
    })
    .await;
}
