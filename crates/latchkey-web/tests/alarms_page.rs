//! The console's Alarms page, driven in-process on every backend: the manager sees the alarm with
//! its severity in words and acknowledges it with a note from a plain form; a signed-out
//! request, a resident, the manager of another property, an unknown alarm, a long note, a form
//! without its token and a second acknowledgement are refused, and the alarm stays as it was.
//! The API's `GET /api/v1/properties/{id}/alarms` and `POST /api/v1/alarms/{id}/acknowledge`,
//! reached through the same router, list and acknowledge the same alarms under the same rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use latchkey_app::alarms::console::AlarmFilter;
use latchkey_app::directory::DoorInput;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, ManualClock, NoDevices};
use latchkey_core::model::{DoorKind, DoorMode, Role};
use latchkey_core::{PropertyId, UnitId};
use latchkey_store::alarm_records::{NewAlarm, insert};
use latchkey_testkit::{TestDb, each_backend};

use console::{HOST, ORIGIN, PASSWORD, Pages, building, form_token};

struct World {
    app: App,
    router: axum::Router,
    property: PropertyId,
    root: latchkey_app::authz::Principal,
    /// The forced lobby's alarm group.
    alarm: i64,
}

impl Pages for World {
    fn router(&self) -> &axum::Router {
        &self.router
    }
}

async fn add_person(
    w: (&App, &latchkey_app::authz::Principal),
    p: PropertyId,
    email: &str,
    role: Role,
    unit: Option<UnitId>,
) {
    let (app, root) = w;
    let input = PersonInput {
        name: email.split('@').next().unwrap().to_owned(),
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
    app.create_person(app.may_create_person(root, p, &input).unwrap(), input)
        .await
        .unwrap();
}

async fn world(db: &TestDb) -> World {
    let now: jiff::Timestamp = "2026-12-03T02:10:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let store = db.open().await;
    let app = App::new(
        store.clone(),
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
    let lobby = app
        .create_door(
            root.staff(p).unwrap(),
            DoorInput {
                name: "Lobby".into(),
                kind: DoorKind::BuildingEntrance,
                unit_id: None,
                mode: DoorMode::Normal,
                pin_slots: 30,
            },
        )
        .await
        .unwrap()
        .id;
    let other = building(&app, &root, "Other House").await;
    add_person(
        (&app, &root),
        p,
        "vera@example.org",
        Role::Resident,
        Some(unit),
    )
    .await;
    add_person((&app, &root), p, "mona@example.org", Role::Manager, None).await;
    add_person(
        (&app, &root),
        other,
        "otto@example.org",
        Role::Manager,
        None,
    )
    .await;
    // The lock's report is ingested elsewhere (crates/latchkey-app/tests/alarm_console.rs);
    // here the alarm it records is written as ingestion writes it.
    let mut tx = store.write().await.unwrap();
    let alarm = insert(
        tx.conn(),
        &NewAlarm {
            property_id: p,
            door_id: Some(lobby),
            kind: "forced_entry".into(),
            severity: "critical".into(),
            at: now,
            due_at: now,
        },
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let api = latchkey_http::router(app.clone(), latchkey_http::HttpConfig::default());
    let router = latchkey_web::router(app.clone(), latchkey_web::WebConfig::default(), api);
    World {
        app,
        router,
        property: p,
        root,
        alarm,
    }
}

impl World {
    /// Signs `email` in; the session cookie header and a form token of the session.
    async fn signed_in(&self, email: &str) -> (String, String) {
        let cookie = Pages::signed_in(self, email).await;
        let home = self.get("/security", &cookie).await;
        (cookie, form_token(&home.body))
    }

    /// The alarm's state, as its property's staff would list it.
    async fn state(&self) -> (String, Option<String>) {
        let v = self
            .app
            .alarms(self.root.staff(self.property).unwrap(), AlarmFilter::All)
            .await
            .unwrap();
        let a = &v.groups[0].alarms[0];
        (a.state.clone(), a.note.clone())
    }
}

#[tokio::test]
async fn the_manager_sees_the_alarm_in_words_and_acknowledges_it_with_a_note_without_script() {
    each_backend("web_alarms", |db| async move {
        let w = world(&db).await;
        let (mona, _) = w.signed_in("mona@example.org").await;
        let page = w.get("/alarms", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for text in [
            "Door House: alarms",
            ">Critical<",
            "Door forced: Lobby",
            "At 03:10",
            "data-stream=",
            "href=\"/alarms?property=",
            "Acknowledge</button>",
        ] {
            assert!(page.body.contains(text), "{text} in {}", page.body);
        }
        assert!(!page.body.contains(" style="), "no inline style");
        let feed = w.get("/alarms/feed?show=open", &mona).await;
        assert!(feed.body.contains("Door forced: Lobby"));
        assert!(!feed.body.contains("<html"), "the feed alone");

        let csrf = form_token(&page.body);
        let done = w
            .post(
                &format!("/alarms/{}/acknowledge", w.alarm),
                &mona,
                format!("csrf={csrf}&note=Police+called"),
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(
            w.state().await,
            ("acknowledged".into(), Some("Police called".into()))
        );
        let all = w.get("/alarms?show=all", &mona).await;
        assert!(
            all.body.contains("Acknowledged by mona at 03:10"),
            "{}",
            all.body
        );
        assert!(all.body.contains("Note: Police called"));
        assert!(!all.body.contains("Acknowledge</button>"));
        let open = w.get("/alarms", &mona).await;
        assert!(open.body.contains("No open alarm"));

        let twice = w
            .post(
                &format!("/alarms/{}/acknowledge", w.alarm),
                &mona,
                format!("csrf={csrf}&note=again"),
            )
            .await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        assert_eq!(
            w.state().await,
            ("acknowledged".into(), Some("Police called".into()))
        );
    })
    .await;
}

#[tokio::test]
async fn signed_out_residents_other_managers_and_bad_forms_change_nothing() {
    each_backend("web_alarms_refused", |db| async move {
        let w = world(&db).await;
        let ack = format!("/alarms/{}/acknowledge", w.alarm);
        let open = ("open".to_owned(), None);

        // Signed out: the page sends to sign-in; the form is refused.
        let page = w.get("/alarms", "").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert!(!page.body.contains("Lobby"));
        let post = w.post(&ack, "", "csrf=x&note=hi".into()).await;
        assert!(post.status.is_redirection() || post.status.is_client_error());
        assert_eq!(w.state().await, open);

        // A resident of the building: not allowed, and no data.
        let (vera, vera_csrf) = w.signed_in("vera@example.org").await;
        let page = w.get("/alarms", &vera).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        let page = w
            .get(&format!("/alarms?property={}", w.property.0), &vera)
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(!page.body.contains("Lobby"));
        assert!(!w.get("/", &vera).await.body.contains("href=\"/alarms"));
        let post = w
            .post(&ack, &vera, format!("csrf={vera_csrf}&note=hi"))
            .await;
        assert_eq!(post.status, StatusCode::FORBIDDEN, "{}", post.body);
        assert_eq!(w.state().await, open);

        // The manager of another building: not found.
        let (otto, otto_csrf) = w.signed_in("otto@example.org").await;
        let page = w
            .get(&format!("/alarms?property={}", w.property.0), &otto)
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert!(!page.body.contains("Lobby"));
        let post = w
            .post(&ack, &otto, format!("csrf={otto_csrf}&note=hi"))
            .await;
        assert_eq!(post.status, StatusCode::NOT_FOUND, "{}", post.body);
        assert_eq!(w.state().await, open);

        // The manager, with bad input.
        let (mona, csrf) = w.signed_in("mona@example.org").await;
        let post = w.post(&ack, &mona, "note=hi".into()).await;
        assert_eq!(post.status, StatusCode::FORBIDDEN, "no form token");
        let post = w
            .post(
                &format!("/alarms/{}/acknowledge", w.alarm + 999),
                &mona,
                format!("csrf={csrf}&note=hi"),
            )
            .await;
        assert_eq!(post.status, StatusCode::NOT_FOUND);
        let long = "x".repeat(501);
        let post = w
            .post(&ack, &mona, format!("csrf={csrf}&note={long}"))
            .await;
        assert_eq!(post.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(post.body.contains("500 characters"), "{}", post.body);
        let page = w.get("/alarms?show=everything", &mona).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(w.state().await, open);
    })
    .await;
}

#[tokio::test]
async fn the_api_lists_and_acknowledges_the_same_alarms() {
    each_backend("web_alarms_api", |db| async move {
        let w = world(&db).await;
        let (mona, _) = w.signed_in("mona@example.org").await;
        let (vera, _) = w.signed_in("vera@example.org").await;
        let list = format!("/api/v1/properties/{}/alarms", w.property.0);
        let got = w.get(&list, &mona).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        let groups: serde_json::Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(groups[0]["id"], w.alarm);
        assert_eq!(groups[0]["kind"], "forced_entry");
        assert_eq!(groups[0]["severity"], "critical");
        assert_eq!(groups[0]["alarms"][0]["door"], "Lobby");
        assert_eq!(w.get(&list, &vera).await.status, StatusCode::FORBIDDEN);
        let bad = w.get(&format!("{list}?show=closed"), &mona).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

        let ack = format!("/api/v1/alarms/{}/acknowledge", w.alarm);
        let json = |cookie: &str, body: String| {
            Request::post(ack.as_str())
                .header(header::HOST, HOST)
                .header(header::ORIGIN, ORIGIN)
                .header("sec-fetch-site", "same-origin")
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap()
        };
        let long = format!(r#"{{"note":"{}"}}"#, "x".repeat(501));
        assert_eq!(
            w.send(json(&mona, long)).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let r = w.send(json(&vera, r#"{"note":"hi"}"#.into())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(w.state().await, ("open".to_owned(), None));
        let r = w
            .send(json(&mona, r#"{"note":"police called"}"#.into()))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body, r#"{"acknowledged":1}"#);
        let r = w.send(json(&mona, r#"{}"#.into())).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(
            w.state().await,
            ("acknowledged".into(), Some("police called".into()))
        );
        let open = w.get(&list, &mona).await;
        assert_eq!(open.body, "[]");
    })
    .await;
}
