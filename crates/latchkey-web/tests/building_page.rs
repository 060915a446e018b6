//! The manager's console pages, driven in-process on every backend: the building page lists
//! every door with its state and sync, filtered by floor and kind; the door page shows settings,
//! events within the privacy rule (a unit's comings and goings only for a named reason, which
//! the household sees), entry notices and the emergency open, which needs a reason. A resident,
//! a guest and the manager of another property get no console page and none of the data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use latchkey_app::access::AccessQuery;
use latchkey_app::directory::{DoorInput, PropertyInput};
use latchkey_app::entry::EntryNoticeInput;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::store::audit::EventFilter;
use latchkey_app::{App, AppConfig, ManualClock, NoDevices};
use latchkey_core::model::{DoorKind, DoorMode, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{DoorId, PropertyId, UnitId};
use latchkey_testkit::{TestDb, each_backend};
use tower::ServiceExt;

const HOST: &str = "localhost:8080";
const ORIGIN: &str = "http://localhost:8080";
const PASSWORD: &str = "console-password-2026";

struct World {
    app: App,
    router: axum::Router,
    property: PropertyId,
    unit: UnitId,
    unit_door: DoorId,
    lobby: DoorId,
    root: latchkey_app::authz::Principal,
    vera: latchkey_core::PersonId,
}

async fn add_person(
    app: &App,
    root: &latchkey_app::authz::Principal,
    property: PropertyId,
    name: &str,
    email: &str,
    role: Role,
    unit: Option<UnitId>,
) -> latchkey_core::PersonId {
    let input = PersonInput {
        name: name.into(),
        email: Some(email.into()),
        phone: None,
        password: Some(PASSWORD.into()),
        membership: MembershipInput {
            role,
            unit_id: unit,
            valid_from: None,
            valid_until: None,
        },
    };
    app.create_person(
        app.may_create_person(root, property, &input).unwrap(),
        input,
    )
    .await
    .unwrap()
    .0
    .id
}

async fn door(
    app: &App,
    root: &latchkey_app::authz::Principal,
    property: PropertyId,
    name: &str,
    kind: DoorKind,
    unit: Option<UnitId>,
) -> DoorId {
    app.create_door(
        root.staff(property).unwrap(),
        DoorInput {
            name: name.into(),
            kind,
            unit_id: unit,
            mode: DoorMode::Normal,
            pin_slots: 30,
        },
    )
    .await
    .unwrap()
    .id
}

async fn building(app: &App, root: &latchkey_app::authz::Principal, name: &str) -> PropertyId {
    app.create_property(
        root.admin().unwrap(),
        PropertyInput {
            name: name.into(),
            address: String::new(),
            timezone: "Europe/Berlin".into(),
            policy: Default::default(),
            office_hours: Schedule::Always,
        },
    )
    .await
    .unwrap()
    .id
}

async fn world(db: &TestDb) -> World {
    let clock = Arc::new(ManualClock::new("2026-12-03T12:00:00Z".parse().unwrap()));
    let store = db.open().await;
    let app = App::new(
        store,
        Keys::from_master(&[9; 32]),
        clock,
        Arc::new(NoDevices),
        AppConfig::default(),
    );
    let admin = app
        .create_admin("Ada Admin", "admin@example.org", "admin-password-1")
        .await
        .unwrap();
    let root = app.terminal_principal(admin.id).await.unwrap();
    let p = building(&app, &root, "Door House").await;
    let unit = app
        .create_unit(root.staff(p).unwrap(), "3B", 3, None)
        .await
        .unwrap()
        .id;
    let unit_door = door(&app, &root, p, "3B entry", DoorKind::UnitEntry, Some(unit)).await;
    let lobby = door(&app, &root, p, "Lobby", DoorKind::BuildingEntrance, None).await;
    let other = building(&app, &root, "Other House").await;
    door(&app, &root, other, "Otto's gate", DoorKind::Garage, None).await;
    let vera = add_person(
        &app,
        &root,
        p,
        "Vera Resident",
        "vera@example.org",
        Role::Resident,
        Some(unit),
    )
    .await;
    add_person(
        &app,
        &root,
        p,
        "Gil Guest",
        "gil@example.org",
        Role::Guest,
        Some(unit),
    )
    .await;
    add_person(
        &app,
        &root,
        p,
        "Mona Manager",
        "mona@example.org",
        Role::Manager,
        None,
    )
    .await;
    add_person(
        &app,
        &root,
        other,
        "Otto Other",
        "otto@example.org",
        Role::Manager,
        None,
    )
    .await;
    let api = latchkey_http::router(app.clone(), latchkey_http::HttpConfig::default());
    let router = latchkey_web::router(app.clone(), latchkey_web::WebConfig::default(), api);
    World {
        app,
        router,
        property: p,
        unit,
        unit_door,
        lobby,
        root,
        vera,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl World {
    async fn post(&self, path: &str, cookie: &str, body: String) -> Answer {
        self.send(
            Request::post(path)
                .header(header::HOST, HOST)
                .header(header::ORIGIN, ORIGIN)
                .header("sec-fetch-site", "same-origin")
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: &str) -> Answer {
        self.send(
            Request::get(path)
                .header(header::HOST, HOST)
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// Signs `email` in through the sign-in page; the session cookie header.
    async fn signed_in(&self, email: &str) -> String {
        let page = self.get("/sign-in", "").await;
        let cookie_of = |a: &Answer, name: &str| {
            a.headers
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|c| {
                    c.split(';')
                        .next()
                        .and_then(|kv| kv.split_once('='))
                        .filter(|(k, _)| *k == name)
                        .map(|(_, v)| v.to_owned())
                })
        };
        let pre = cookie_of(&page, "latchkey_pre").expect("a pre-session cookie");
        let at = page
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form token");
        let rest = &page.body[at + 19..];
        let csrf = &rest[..rest.find('"').unwrap()];
        let res = self
            .send(
                Request::post("/sign-in")
                    .header(header::HOST, HOST)
                    .header(header::ORIGIN, ORIGIN)
                    .header("sec-fetch-site", "same-origin")
                    .header(header::COOKIE, format!("latchkey_pre={pre}"))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(format!(
                        "csrf={csrf}&email={}&password={PASSWORD}",
                        email.replace('@', "%40")
                    )))
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        format!(
            "latchkey_session={}",
            cookie_of(&res, "latchkey_session").expect("a session")
        )
    }
}

fn form_token(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn the_manager_sees_every_door_with_its_state_and_filters_by_floor_and_kind() {
    each_backend("web_building", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let page = w.get("/building", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Door House: doors"));
        assert!(
            page.body
                .contains(&format!("id=\"door-{}\"", w.unit_door.0))
        );
        assert!(page.body.contains(&format!("id=\"door-{}\"", w.lobby.0)));
        assert!(page.body.contains("Unit 3B, floor 3"));
        assert!(page.body.contains("No report from the lock yet"));
        assert!(page.body.contains("No lock paired"));
        assert!(
            page.body.contains("data-stream="),
            "the page follows the live stream"
        );
        assert!(!page.body.contains("Otto"), "another building's door");
        assert!(!page.body.contains(" style="), "no inline style");
        let floor = w.get("/building?floor=3", &mona).await;
        assert!(floor.body.contains("3B entry"));
        assert!(!floor.body.contains(">Lobby<"));
        let shared = w.get("/building?floor=shared", &mona).await;
        assert!(shared.body.contains(">Lobby<"));
        assert!(!shared.body.contains("3B entry"));
        let kind = w.get("/building?kind=building_entrance", &mona).await;
        assert!(kind.body.contains(">Lobby<"));
        assert!(!kind.body.contains("3B entry"));
        let bad = w.get("/building?kind=window", &mona).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let bad = w.get("/building?floor=top", &mona).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}

#[tokio::test]
async fn a_units_comings_and_goings_show_on_the_door_page_only_for_a_named_reason() {
    each_backend("web_door_privacy", |db| async move {
        let w = world(&db).await;
        // Vera asks whether her own credentials open her door: a personal event of her door.
        let vera = w.app.terminal_principal(w.vera).await.unwrap();
        let q = AccessQuery {
            credential_id: None,
            person_id: Some(w.vera),
            door_id: w.unit_door,
            at: None,
            method: None,
            emergency_override: false,
        };
        w.app
            .check_access(w.app.may_check_access(&vera, q).await.unwrap())
            .await
            .unwrap();
        let mona = w.signed_in("mona@example.org").await;
        let path = format!("/building/doors/{}", w.unit_door.0);
        let page = w.get(&path, &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("3B entry"));
        assert!(page.body.contains("Emergency open"));
        assert!(page.body.contains("Relocks after"));
        assert!(
            !page.body.contains("Vera Resident"),
            "no reason, no comings and goings"
        );
        // A visit announced for tomorrow is a reason; the page lists it, and reads with it.
        let now = w.app.now();
        let notice = w
            .app
            .create_entry_notice(
                w.root.staff(w.property).unwrap(),
                EntryNoticeInput {
                    unit_id: w.unit,
                    doors: None,
                    purpose: "Smoke detector check".into(),
                    window_from: now + jiff::SignedDuration::from_hours(25),
                    window_until: now + jiff::SignedDuration::from_hours(26),
                },
            )
            .await
            .unwrap();
        let page = w.get(&path, &mona).await;
        assert!(page.body.contains("Smoke detector check"));
        assert!(page.body.contains("(coming)"));
        let with = w
            .get(&format!("{path}?reason=entry_notice:{}", notice.id), &mona)
            .await;
        assert_eq!(with.status, StatusCode::OK, "{}", with.body);
        assert!(with.body.contains("Vera Resident"), "read with a reason");
        // The household sees that staff read it.
        let seen = w
            .app
            .list_events(
                &vera,
                Some(w.property),
                EventFilter {
                    kind_prefix: Some("privacy.activity_viewed".into()),
                    limit: 10,
                    ..EventFilter::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(seen.len(), 1);
        let bad = w.get(&format!("{path}?reason=case:999"), &mona).await;
        assert_eq!(bad.status, StatusCode::NOT_FOUND, "no such reason");
        assert!(!bad.body.contains("Vera Resident"));
    })
    .await;
}

#[tokio::test]
async fn the_emergency_open_needs_a_reason_and_the_form_token() {
    each_backend("web_door_emergency", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let path = format!("/building/doors/{}", w.lobby.0);
        let page = w.get(&path, &mona).await;
        let csrf = form_token(&page.body);
        let commands = || async {
            w.app
                .list_events(
                    &w.root,
                    Some(w.property),
                    EventFilter {
                        kind_prefix: Some("lock.".into()),
                        limit: 10,
                        ..EventFilter::default()
                    },
                )
                .await
                .unwrap()
                .len()
        };
        let target = format!("{path}/emergency");
        let open = |body: String| w.post(&target, &mona, body);
        let none = open(format!("csrf={csrf}&reason=&password={PASSWORD}")).await;
        assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(none.body.contains("Reason"), "{}", none.body);
        let short = open(format!("csrf={csrf}&reason=fire&password={PASSWORD}")).await;
        assert_eq!(
            short.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            short.body
        );
        let forged = open(format!(
            "csrf=nope&reason=Fire+alarm+on+floor+2&password={PASSWORD}"
        ))
        .await;
        assert_ne!(forged.status, StatusCode::SEE_OTHER);
        // With a reason the use case runs: this door has no lock to send it to.
        let real = open(format!(
            "csrf={csrf}&reason=Fire+alarm+on+floor+2&password={PASSWORD}"
        ))
        .await;
        assert_eq!(
            real.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            real.body
        );
        assert!(real.body.contains("no paired lock"), "{}", real.body);
        assert_eq!(commands().await, 0, "nothing was sent");
    })
    .await;
}

#[tokio::test]
async fn residents_guests_and_another_propertys_staff_get_no_console_page() {
    each_backend("web_console_denied", |db| async move {
        let w = world(&db).await;
        for email in ["vera@example.org", "gil@example.org", "otto@example.org"] {
            let cookie = w.signed_in(email).await;
            for path in [
                format!("/building?property={}", w.property.0),
                format!("/building/doors/{}", w.unit_door.0),
                format!("/building/doors/{}", w.lobby.0),
                format!("/building/doors/{}?reason=case:1", w.unit_door.0),
            ] {
                let page = w.get(&path, &cookie).await;
                assert!(
                    page.status == StatusCode::FORBIDDEN || page.status == StatusCode::NOT_FOUND,
                    "{email} {path}: {}",
                    page.status
                );
                assert!(!page.body.contains("Emergency open"), "{email} {path}");
                assert!(!page.body.contains("Codes on the lock"), "{email} {path}");
                assert!(!page.body.contains("Unit 3B, floor 3"), "{email} {path}");
            }
            // Nor may they send the emergency open.
            let home = w.get("/security", &cookie).await;
            let csrf = form_token(&home.body);
            let sent = w
                .post(
                    &format!("/building/doors/{}/emergency", w.lobby.0),
                    &cookie,
                    format!("csrf={csrf}&reason=Fire+alarm+on+floor+2&password={PASSWORD}"),
                )
                .await;
            assert!(
                sent.status == StatusCode::FORBIDDEN || sent.status == StatusCode::NOT_FOUND,
                "{email}: {}",
                sent.status
            );
            // Without `property`, the building page is only of a building they staff.
            let own = w.get("/building", &cookie).await;
            if email.starts_with("otto") {
                assert_eq!(own.status, StatusCode::OK);
                assert!(
                    own.body.contains("Otto&#x27;s gate") || own.body.contains("Otto&#39;s gate")
                );
                assert!(!own.body.contains("Lobby"));
            } else {
                assert_eq!(own.status, StatusCode::FORBIDDEN, "{email}");
            }
        }
    })
    .await;
}
