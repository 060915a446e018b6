//! The import page, driven in-process on every backend: a check lists every wrong line and
//! writes nothing; a good file is confirmed and imported with a link to the heat map; a file
//! past the limit is refused in words; a resident and another property's manager get no page
//! and import nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, ManualClock, NoDevices};
use latchkey_core::PropertyId;
use latchkey_core::model::Role;
use latchkey_testkit::{TestDb, each_backend};

use console::{Answer, HOST, ORIGIN, Pages, add_person, building, form_token};

const BOUNDARY: &str = "----latchkeyboundary7MA4YWxkTrZu0gW";

struct World {
    app: App,
    router: axum::Router,
    property: PropertyId,
    root: latchkey_app::authz::Principal,
}

impl Pages for World {
    fn router(&self) -> &axum::Router {
        &self.router
    }
}

async fn world(db: &TestDb) -> World {
    let clock = Arc::new(ManualClock::new("2026-12-03T12:00:00Z".parse().unwrap()));
    let app = App::new(
        db.open().await,
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
    let p = building(&app, &root, "Birch House").await;
    let unit = app
        .create_unit(root.staff(p).unwrap(), "1A", 1, None)
        .await
        .unwrap()
        .id;
    add_person(
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
        "Mona Manager",
        "mona@example.org",
        Role::Manager,
        None,
    )
    .await;
    let other = building(&app, &root, "Other House").await;
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
        root,
    }
}

impl World {
    /// Posts the import form as a browser does: multipart, each field a part.
    async fn upload(&self, cookie: &str, fields: &[(&str, &[u8])]) -> Answer {
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            if *name == "file" {
                body.extend_from_slice(
                    b"Content-Disposition: form-data; name=\"file\"; filename=\"birch.csv\"\r\nContent-Type: text/csv\r\n\r\n",
                );
            } else {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
            }
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.send(
            Request::post("/building/import")
                .header(header::HOST, HOST)
                .header(header::ORIGIN, ORIGIN)
                .header("sec-fetch-site", "same-origin")
                .header(header::COOKIE, cookie)
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    async fn units(&self) -> usize {
        self.app
            .list_units(&self.root, self.property)
            .await
            .unwrap()
            .len()
    }
}

/// The value of the hidden field `checked` (the checked file, in base64).
fn checked_file(body: &str) -> String {
    let at = body
        .find("name=\"checked\" value=\"")
        .expect("the confirm form")
        + 22;
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}

const BAD: &str = "unit,floor,door,resident_name,resident_email,role\n\
    2A,2,Door 2A,Ana,ana@example.org,\n\
    2B,2,Door 2B,Bo,bo@@example,\n\
    1A,1,Door 1A-2,,,\n";
const GOOD: &str = "unit,floor,door,resident_name,resident_email,role\n\
    2A,2,Door 2A,Ana,ana@example.org,\n\
    2A,,,\"Silva, Marta\",,household\n\
    2B,2,Door 2B,Bo <b>,bo@example.org,\n";

#[tokio::test]
async fn a_check_lists_every_wrong_line_then_a_confirm_imports_the_good_file() {
    each_backend("web_import", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let building = w.get("/building", &mona).await;
        assert!(building.body.contains(&format!(
            "href=\"/building/import?property={}\"",
            w.property.0
        )));
        let page = w.get("/building/import", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("enctype=\"multipart/form-data\""));
        let csrf = form_token(&page.body);

        let p = w.property.0.to_string();
        let refused = w
            .upload(
                &mona,
                &[
                    ("csrf", csrf.as_bytes()),
                    ("property", p.as_bytes()),
                    ("file", BAD.as_bytes()),
                ],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("2 lines are wrong; nothing was imported"),
            "{}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("<strong>Line 3</strong>: Resident_email `bo@@example`"),
            "{}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("<strong>Line 4</strong>: Unit 1A already exists"),
            "{}",
            refused.body
        );
        assert_eq!(w.units().await, 1, "nothing written");

        let good = w
            .upload(
                &mona,
                &[
                    ("csrf", csrf.as_bytes()),
                    ("property", p.as_bytes()),
                    ("file", GOOD.as_bytes()),
                ],
            )
            .await;
        assert_eq!(good.status, StatusCode::OK, "{}", good.body);
        assert!(
            good.body
                .contains("birch.csv adds 2 units, 2 entry doors and 3 people"),
            "{}",
            good.body
        );
        assert!(!good.body.contains("Bo <b>"), "names are escaped");
        assert_eq!(w.units().await, 1, "a check writes nothing");
        let carried = checked_file(&good.body);
        assert_eq!(
            data_encoding::BASE64.decode(carried.as_bytes()).unwrap(),
            GOOD.as_bytes(),
            "the confirm carries the checked file back byte for byte"
        );

        let done = w
            .upload(
                &mona,
                &[
                    ("csrf", csrf.as_bytes()),
                    ("property", p.as_bytes()),
                    ("checked", carried.as_bytes()),
                    ("confirm", b"1"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert!(
            done.body
                .contains("Added 2 units, 2 entry doors and 3 people"),
            "{}",
            done.body
        );
        assert!(
            done.body
                .contains(&format!("href=\"/readiness?property={p}\""))
        );
        assert_eq!(w.units().await, 3);

        // The form's token is needed, and the confirm is checked again: the same file now clashes.
        let encoded = carried;
        let stale = w
            .upload(
                &mona,
                &[
                    ("csrf", b"nope"),
                    ("property", p.as_bytes()),
                    ("checked", encoded.as_bytes()),
                    ("confirm", b"1"),
                ],
            )
            .await;
        assert_eq!(stale.status, StatusCode::FORBIDDEN);
        let again = w
            .upload(
                &mona,
                &[
                    ("csrf", csrf.as_bytes()),
                    ("property", p.as_bytes()),
                    ("checked", encoded.as_bytes()),
                    ("confirm", b"1"),
                ],
            )
            .await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(again.body.contains("imported already"), "{}", again.body);
        assert_eq!(w.units().await, 3);
    })
    .await;
}

#[tokio::test]
async fn a_file_past_the_limit_is_refused_in_words() {
    each_backend("web_import_huge", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let csrf = form_token(&w.get("/building/import", &mona).await.body);
        let p = w.property.0.to_string();
        let big = format!(
            "unit,floor,door,resident_name,resident_email,role\n{}",
            "9Z,9,Door 9Z,,,\n".repeat(200_000)
        );
        let refused = w
            .upload(
                &mona,
                &[
                    ("csrf", csrf.as_bytes()),
                    ("property", p.as_bytes()),
                    ("file", big.as_bytes()),
                ],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("larger than 1048576 bytes"),
            "{}",
            refused.body
        );
        assert_eq!(w.units().await, 1);
    })
    .await;
}

#[tokio::test]
async fn a_resident_and_another_propertys_manager_get_no_import_page_and_import_nothing() {
    each_backend("web_import_who", |db| async move {
        let w = world(&db).await;
        let p = w.property.0.to_string();
        let encoded = data_encoding::BASE64.encode(GOOD.as_bytes());
        for (who, status) in [
            ("vera@example.org", StatusCode::FORBIDDEN),
            ("otto@example.org", StatusCode::NOT_FOUND),
        ] {
            let cookie = w.signed_in(who).await;
            let page = w
                .get(&format!("/building/import?property={p}"), &cookie)
                .await;
            assert_eq!(page.status, status, "{who}: {}", page.body);
            assert!(!page.body.contains("Import a building"), "{who}");
            let csrf = form_token(&w.get("/security", &cookie).await.body);
            let tried = w
                .upload(
                    &cookie,
                    &[
                        ("csrf", csrf.as_bytes()),
                        ("property", p.as_bytes()),
                        ("checked", encoded.as_bytes()),
                        ("confirm", b"1"),
                    ],
                )
                .await;
            assert_eq!(tried.status, status, "{who}: {}", tried.body);
        }
        assert_eq!(w.units().await, 1, "nothing imported");
    })
    .await;
}
