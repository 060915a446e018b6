//! The readiness heat map page, driven in-process on every backend: the property's staff see
//! every unit's gaps with their fixes; a resident, a guest and the manager of another property
//! get no page and none of the data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jiff::civil::time;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::directory::{DoorInput, PropertyInput};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, ManualClock, NoDevices};
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Role};
use latchkey_core::schedule::{Day, Schedule, WeeklyWindow};
use latchkey_core::{PropertyId, UnitId};
use latchkey_testkit::{TestDb, each_backend};
use tower::ServiceExt;

const HOST: &str = "localhost:8080";
const ORIGIN: &str = "http://localhost:8080";
const PASSWORD: &str = "heat-map-password-2026";

struct World {
    router: axum::Router,
    property: PropertyId,
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

async fn property(
    app: &App,
    root: &latchkey_app::authz::Principal,
    name: &str,
    label: &str,
) -> (PropertyId, UnitId) {
    let property = app
        .create_property(
            root.admin().unwrap(),
            PropertyInput {
                name: name.into(),
                address: String::new(),
                timezone: "Europe/Berlin".into(),
                policy: Default::default(),
                office_hours: Schedule::Weekly {
                    windows: vec![WeeklyWindow {
                        days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
                        start: time(9, 0, 0, 0),
                        end: time(17, 0, 0, 0),
                    }],
                },
            },
        )
        .await
        .unwrap()
        .id;
    let unit = app
        .create_unit(root.staff(property).unwrap(), label, 7, None)
        .await
        .unwrap();
    app.create_door(
        root.staff(property).unwrap(),
        DoorInput {
            name: format!("{label} entry"),
            kind: DoorKind::UnitEntry,
            unit_id: Some(unit.id),
            mode: DoorMode::Normal,
            pin_slots: 30,
        },
    )
    .await
    .unwrap();
    (property, unit.id)
}

async fn world(db: &TestDb) -> World {
    let clock = Arc::new(ManualClock::new("2026-12-03T12:00:00Z".parse().unwrap()));
    let store = db.open().await;
    let app = App::new(
        store,
        Keys::from_master(&[7; 32]),
        clock,
        Arc::new(NoDevices),
        AppConfig::default(),
    );
    let admin = app
        .create_admin("Ada Admin", "admin@example.org", "admin-password-1")
        .await
        .unwrap();
    let root = app.terminal_principal(admin.id).await.unwrap();
    let (p, unit) = property(&app, &root, "Heat House", "7Q").await;
    let (other, _) = property(&app, &root, "Other House", "9Z").await;
    let vera = add_person(
        &app,
        &root,
        p,
        "Vera Alone",
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
    let vera_p = app.terminal_principal(vera).await.unwrap();
    let input = CredentialInput {
        person_id: vera,
        kind: CredentialKind::PhoneKey,
        label: None,
        unit_id: Some(unit),
        doors: None,
        schedule: Schedule::Always,
        max_uses: None,
        duress: false,
        pin: None,
        card_uid: None,
    };
    app.create_credential(vera_p.credential_issuer(p, Some(unit)).unwrap(), input)
        .await
        .unwrap();
    let api = latchkey_http::router(app.clone(), latchkey_http::HttpConfig::default());
    let router = latchkey_web::router(app.clone(), latchkey_web::WebConfig::default(), api);
    World {
        router,
        property: p,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl World {
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

#[tokio::test]
async fn the_manager_sees_the_gap_with_its_fix_and_each_cell_explains_itself() {
    each_backend("web_heat_map", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let page = w.get("/readiness", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("7Q"));
        // Vera lives alone with only a phone key: once it is gone, nothing is left at night,
        // and staff with an ID check in office hours only.
        assert!(page.body.contains("class=\"w0\""), "a red cell");
        assert!(page.body.contains("class=\"w1\""), "office hours");
        assert!(!page.body.contains("class=\"w2\""), "no hour is ready");
        assert!(page.body.contains("Vera Alone"));
        assert!(page.body.contains("there is no free way back in"));
        assert!(!page.body.contains(" style="), "no inline style");
        assert!(!page.body.contains("<script>"), "no inline script");
        // The first red cell's link explains it: who has which gap then, and the fix.
        let at = page
            .body
            .find("class=\"w0\"><a href=\"")
            .expect("a red cell link")
            + 20;
        let href = page.body[at..at + page.body[at..].find('"').unwrap()]
            .replace("&#x2f;", "/")
            .replace("&#47;", "/")
            .replace("&#x3d;", "=")
            .replace("&#61;", "=")
            .replace("&amp;", "&")
            .replace("&#38;", "&")
            .replace("#explained", "");
        let cell = w.get(&href, &mona).await;
        assert_eq!(cell.status, StatusCode::OK);
        assert!(cell.body.contains("id=\"explained\""), "{href}");
        assert!(cell.body.contains("0 ways back in"));
        assert!(cell.body.contains("Vera Alone: "), "who has the gap");
        // A forgotten PIN leaves her phone: one way at night, two in office hours.
        let pin = w.get("/readiness?failure=pin_forgotten", &mona).await;
        assert!(pin.body.contains("class=\"w1\""));
        assert!(pin.body.contains("class=\"w2\""));
        assert!(pin.body.contains("your only way in is your phone"));
        let bad = w.get("/readiness?failure=phone", &mona).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}

#[tokio::test]
async fn residents_guests_and_another_propertys_staff_get_no_heat_map() {
    each_backend("web_heat_map_denied", |db| async move {
        let w = world(&db).await;
        for email in ["vera@example.org", "gil@example.org", "otto@example.org"] {
            let cookie = w.signed_in(email).await;
            for path in [
                "/readiness".to_owned(),
                format!("/readiness?property={}", w.property.0),
                format!("/api/v1/properties/{}/readiness/map", w.property.0),
            ] {
                let page = w.get(&path, &cookie).await;
                // Otto's own building's map is his; Heat House's is not.
                let own = email.starts_with("otto") && path == "/readiness";
                assert!(
                    own || page.status == StatusCode::FORBIDDEN
                        || page.status == StatusCode::NOT_FOUND,
                    "{email} {path}: {}",
                    page.status
                );
                assert!(!page.body.contains("7Q"), "{email} {path} leaks a unit");
                assert!(!page.body.contains("Vera"), "{email} {path} leaks a name");
            }
        }
    })
    .await;
}
