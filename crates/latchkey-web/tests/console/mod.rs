//! What the console's page tests share: a router's pages seen as a browser would ([`Pages`]),
//! the builders of properties, doors and people, and a building ("Door House": unit 3B with its entry door,
//! a lobby; Vera the resident, Gil a guest, Mona the manager) and another ("Other House", Otto
//! its manager), the router of the pages and the API, and a signed-in browser's requests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use latchkey_app::directory::{DoorInput, PropertyInput};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, ManualClock, NoDevices};
use latchkey_core::model::{DoorKind, DoorMode, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{DoorId, PropertyId, UnitId};
use latchkey_testkit::TestDb;
use tower::ServiceExt;

pub const HOST: &str = "localhost:8080";
pub const ORIGIN: &str = "http://localhost:8080";
pub const PASSWORD: &str = "console-password-2026";

pub struct World {
    pub app: App,
    pub router: axum::Router,
    pub property: PropertyId,
    pub unit: UnitId,
    pub unit_door: DoorId,
    pub lobby: DoorId,
    pub root: latchkey_app::authz::Principal,
    pub vera: latchkey_core::PersonId,
}

pub async fn add_person(
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

pub async fn door(
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

pub async fn building(app: &App, root: &latchkey_app::authz::Principal, name: &str) -> PropertyId {
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

pub async fn world(db: &TestDb) -> World {
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

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

/// What a test's world answers through: its router of pages and API. Every method comes with
/// it: a GET, a form POST from our own origin, and a sign-in through the sign-in page.
#[allow(async_fn_in_trait)]
pub trait Pages {
    fn router(&self) -> &axum::Router;

    async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.router().clone().oneshot(req).await.unwrap();
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

    /// Posts each body of `bad` to `path` and checks that it is refused (4xx) with its message.
    async fn each_refused(&self, path: &str, cookie: &str, bad: Vec<(String, &str)>) {
        for (body, says) in bad {
            let res = self.post(path, cookie, body.clone()).await;
            assert!(
                res.status.is_client_error(),
                "{body}: {} {}",
                res.status,
                res.body
            );
            assert!(res.body.contains(says), "{body}: {}", res.body);
        }
    }

    /// Signs `email` in through the sign-in page (password [`PASSWORD`]); the session cookie
    /// header.
    async fn signed_in(&self, email: &str) -> String {
        let page = self.get("/sign-in", "").await;
        let pre = cookie_of(&page, "latchkey_pre").expect("a pre-session cookie");
        let csrf = form_token(&page.body);
        let res = self
            .post(
                "/sign-in",
                &format!("latchkey_pre={pre}"),
                format!(
                    "csrf={csrf}&email={}&password={PASSWORD}",
                    email.replace('@', "%40")
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        format!(
            "latchkey_session={}",
            cookie_of(&res, "latchkey_session").expect("a session")
        )
    }
}

impl Pages for World {
    fn router(&self) -> &axum::Router {
        &self.router
    }
}

/// The value of the cookie `name` that an answer sets.
pub fn cookie_of(a: &Answer, name: &str) -> Option<String> {
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
}

pub fn form_token(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}
