//! The pages' security, driven in-process on every backend: forms from another site or without
//! their token change nothing, the lockout case token never appears in a URL, every page carries
//! the strict Content-Security-Policy, and errors are pages in plain words.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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
use latchkey_core::{DoorId, PropertyId};
use latchkey_testkit::{TestDb, each_backend};
use tower::ServiceExt;

const HOST: &str = "localhost:8080";
const ORIGIN: &str = "http://localhost:8080";
const EMAIL: &str = "rita@example.org";
const PASSWORD: &str = "rita-password-2026";

struct World {
    store: latchkey_store::Store,
    app: App,
    router: axum::Router,
    property: PropertyId,
    door: DoorId,
}

async fn world(db: &TestDb) -> World {
    let clock = Arc::new(ManualClock::new("2026-11-26T12:00:00Z".parse().unwrap()));
    let store = db.open().await;
    let app = App::new(
        store.clone(),
        Keys::from_master(&[5; 32]),
        clock,
        Arc::new(NoDevices),
        AppConfig::default(),
    );
    let admin = app
        .create_admin("Ada Admin", "admin@example.org", "admin-password-1")
        .await
        .unwrap();
    let root = app.terminal_principal(admin.id).await.unwrap();
    let property = app
        .create_property(
            root.admin().unwrap(),
            PropertyInput {
                name: "Alpha House".into(),
                address: String::new(),
                timezone: "Europe/Berlin".into(),
                policy: Default::default(),
                office_hours: Schedule::Always,
            },
        )
        .await
        .unwrap()
        .id;
    let unit = app
        .create_unit(root.staff(property).unwrap(), "1A", 1, None)
        .await
        .unwrap();
    let door = app
        .create_door(
            root.staff(property).unwrap(),
            DoorInput {
                name: "1A entry".into(),
                kind: DoorKind::UnitEntry,
                unit_id: Some(unit.id),
                mode: DoorMode::Normal,
                pin_slots: 30,
            },
        )
        .await
        .unwrap()
        .id;
    {
        let input = PersonInput {
            name: "Rita Resident".into(),
            email: Some(EMAIL.into()),
            phone: None,
            password: Some(PASSWORD.into()),
            membership: MembershipInput {
                role: Role::Resident,
                unit_id: Some(unit.id),
                valid_from: None,
                valid_until: None,
            },
        };
        app.create_person(
            app.may_create_person(&root, property, &input).unwrap(),
            input,
        )
    }
    .await
    .unwrap();
    let api = latchkey_http::router(app.clone(), latchkey_http::HttpConfig::default());
    let router = latchkey_web::router(app.clone(), latchkey_web::WebConfig::default(), api);
    World {
        store,
        app,
        router,
        property,
        door,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of `name` set by this answer.
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().iter().find_map(|c| {
            c.split(';')
                .next()
                .and_then(|kv| kv.split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }

    /// The form token of the page.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form token");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
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

    /// A form post as a browser on `origin` sends it.
    async fn post(&self, path: &str, cookie: &str, origin: &str, form: &str) -> Answer {
        let site = if origin == ORIGIN {
            "same-origin"
        } else {
            "cross-site"
        };
        self.send(
            Request::post(path)
                .header(header::HOST, HOST)
                .header(header::ORIGIN, origin)
                .header("sec-fetch-site", site)
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_owned()))
                .unwrap(),
        )
        .await
    }

    /// The pre-session cookie and the sign-in form's token, as a browser gets them.
    async fn sign_in_form(&self) -> (String, String) {
        let page = self.get("/sign-in", "").await;
        let pre = page.cookie("latchkey_pre").expect("a pre-session cookie");
        (format!("latchkey_pre={pre}"), page.csrf())
    }

    /// Signs Rita in through the page: her cookie header and her session's form token.
    async fn signed_in(&self) -> (String, String) {
        let (cookie, csrf) = self.sign_in_form().await;
        let res = self
            .post(
                "/sign-in",
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}&email=rita%40example.org&password={PASSWORD}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let session = res.cookie("latchkey_session").expect("a session cookie");
        let cookie = format!("latchkey_session={session}");
        let home = self.get("/", &cookie).await;
        (cookie, home.csrf())
    }

    async fn mode(&self) -> DoorMode {
        let admin = self.app.terminal_admin(None).await.unwrap();
        self.app.get_door(&admin, self.door).await.unwrap().mode
    }

    async fn events(&self) -> i64 {
        self.app.audit_len().await.unwrap()
    }
}

/// Whether an element carries an inline event handler (` onclick=` and the like).
fn has_event_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    })
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused_and_signs_nobody_in() {
    each_backend("web_cross_site_sign_in", |db| async move {
        let w = world(&db).await;
        let (cookie, csrf) = w.sign_in_form().await;
        let before = w.events().await;
        let res = w
            .post(
                "/sign-in",
                &cookie,
                "http://evil.example",
                &format!("csrf={csrf}&email=rita%40example.org&password={PASSWORD}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(
            res.body.contains("This form came from another site"),
            "{}",
            res.body
        );
        assert!(res.cookie("latchkey_session").is_none());
        assert_eq!(
            w.events().await,
            before,
            "nothing is recorded: nobody signed in"
        );
    })
    .await;
}

#[tokio::test]
async fn a_sign_in_without_the_form_token_is_refused() {
    each_backend("web_sign_in_without_token", |db| async move {
        let w = world(&db).await;
        let (cookie, _) = w.sign_in_form().await;
        let res = w
            .post(
                "/sign-in",
                &cookie,
                ORIGIN,
                &format!("email=rita%40example.org&password={PASSWORD}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(res.body.contains("This form has expired"), "{}", res.body);
        assert!(res.cookie("latchkey_session").is_none());
    })
    .await;
}

#[tokio::test]
async fn a_resident_sets_vacation_mode_from_the_page() {
    each_backend("web_sets_vacation", |db| async move {
        let w = world(&db).await;
        let (cookie, csrf) = w.signed_in().await;
        let res = w
            .post(
                &format!("/doors/{}/mode", w.door.0),
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}&mode=vacation"),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(w.mode().await, DoorMode::Vacation);
    })
    .await;
}

#[tokio::test]
async fn a_door_form_from_another_site_changes_nothing() {
    each_backend("web_cross_site_door", |db| async move {
        let w = world(&db).await;
        let (cookie, csrf) = w.signed_in().await;
        let before = w.events().await;
        let res = w
            .post(
                &format!("/doors/{}/mode", w.door.0),
                &cookie,
                "http://evil.example",
                &format!("csrf={csrf}&mode=privacy"),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(res.body.contains("Nothing was changed"), "{}", res.body);
        assert_eq!(w.mode().await, DoorMode::Normal);
        assert_eq!(w.events().await, before);
    })
    .await;
}

#[tokio::test]
async fn a_door_form_with_another_sessions_token_changes_nothing() {
    each_backend("web_foreign_token", |db| async move {
        let w = world(&db).await;
        let (_, theirs) = w.signed_in().await;
        let (cookie, _) = w.signed_in().await;
        let before = w.events().await;
        for form in [
            format!("csrf={theirs}&mode=privacy"),
            "mode=privacy".to_owned(),
            "csrf=&mode=privacy".to_owned(),
        ] {
            let res = w
                .post(&format!("/doors/{}/mode", w.door.0), &cookie, ORIGIN, &form)
                .await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{form}");
            assert!(res.body.contains("This form has expired"), "{}", res.body);
        }
        assert_eq!(w.mode().await, DoorMode::Normal);
        assert_eq!(w.events().await, before);
    })
    .await;
}

#[tokio::test]
async fn a_wrong_password_is_told_in_plain_words_on_the_sign_in_page() {
    each_backend("web_wrong_password", |db| async move {
        let w = world(&db).await;
        let (cookie, csrf) = w.sign_in_form().await;
        let res = w
            .post(
                "/sign-in",
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}&email=rita%40example.org&password=not-her-password"),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(res.header(header::CONTENT_TYPE).starts_with("text/html"));
        assert!(
            res.body
                .contains("The e-mail address or the password is wrong"),
            "{}",
            res.body
        );
        assert!(res.cookie("latchkey_session").is_none());
    })
    .await;
}

#[tokio::test]
async fn the_lockout_case_token_lives_in_a_cookie_for_the_case_page_never_in_a_url() {
    each_backend("web_case_token_cookie", |db| async move {
        let w = world(&db).await;
        let page = w.get("/locked-out", "").await;
        let pre = page.cookie("latchkey_pre").unwrap();
        let cookie = format!("latchkey_pre={pre}");
        let res = w
            .post(
                "/locked-out",
                &cookie,
                ORIGIN,
                &format!(
                    "csrf={}&property={}&unit=1A&identity=Rita+Resident",
                    page.csrf(),
                    w.property.0
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(res.header(header::LOCATION), "/locked-out/case");
        assert!(!res.body.contains("lkc_"));
        let set = res
            .cookies()
            .into_iter()
            .find(|c| c.starts_with("latchkey_case="))
            .expect("the case cookie");
        assert!(set.starts_with("latchkey_case=lkc_"), "{set}");
        for part in ["Path=/locked-out/case", "HttpOnly", "SameSite=Strict"] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        let token = res.cookie("latchkey_case").unwrap();
        let case = w
            .get("/locked-out/case", &format!("latchkey_case={token}"))
            .await;
        assert_eq!(case.status, StatusCode::OK);
        assert!(case.body.contains("Your lockout case"));
        assert!(
            !case.body.contains(&token),
            "the page never shows the token"
        );
    })
    .await;
}

#[tokio::test]
async fn every_page_has_the_strict_content_security_policy_and_no_inline_script_or_style() {
    each_backend("web_csp", |db| async move {
        let w = world(&db).await;
        let (cookie, _) = w.signed_in().await;
        for path in [
            "/sign-in",
            "/locked-out",
            "/",
            "/codes",
            "/household",
            "/activity",
            "/notifications",
            "/nope",
        ] {
            let page = w.get(path, &cookie).await;
            let csp = page.header(header::CONTENT_SECURITY_POLICY);
            for directive in [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self'",
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "form-action 'self'",
            ] {
                assert!(csp.contains(directive), "{path}: `{csp}` lacks {directive}");
            }
            assert_eq!(page.header(header::CACHE_CONTROL), "no-store", "{path}");
            assert!(
                !page.body.contains("<style"),
                "{path} has an inline style sheet"
            );
            assert!(!page.body.contains(" style="), "{path} has an inline style");
            assert!(
                !page.body.contains("<script>"),
                "{path} has an inline script"
            );
            assert!(
                !has_event_handler(&page.body),
                "{path} has an inline event handler"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn an_unknown_page_is_a_page_and_an_unknown_api_path_is_still_a_problem_document() {
    each_backend("web_not_found", |db| async move {
        let w = world(&db).await;
        let page = w.get("/no-such-page", "").await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert!(page.header(header::CONTENT_TYPE).starts_with("text/html"));
        assert!(page.body.contains("Page not found"));
        let api = w.get("/api/v1/no-such-thing", "").await;
        assert_eq!(api.status, StatusCode::NOT_FOUND);
        assert!(
            api.header(header::CONTENT_TYPE)
                .starts_with("application/problem+json")
        );
    })
    .await;
}

#[tokio::test]
async fn a_page_without_a_session_sends_the_visitor_to_sign_in() {
    each_backend("web_needs_session", |db| async move {
        let w = world(&db).await;
        let res = w.get("/", "latchkey_session=lks_forged").await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(res.header(header::LOCATION), "/sign-in");
        // Any other page comes back after sign-in.
        for path in ["/codes", "/household", "/activity", "/security/erasure"] {
            for cookie in ["latchkey_session=lks_forged", ""] {
                let res = w.get(path, cookie).await;
                assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
                assert_eq!(
                    res.header(header::LOCATION),
                    format!("/sign-in?next={path}"),
                    "{path}"
                );
            }
        }
    })
    .await;
}

/// Hana, who lives with Rita, signed in through the page: her id and cookie header.
async fn hana_signed_in(w: &World) -> (i64, String) {
    let root = w.app.terminal_admin(None).await.unwrap();
    let unit = w.app.list_units(&root, w.property).await.unwrap()[0].id;
    let input = PersonInput {
        name: "Hana Household".into(),
        email: Some("hana@example.org".into()),
        phone: None,
        password: Some("hana-password-2026".into()),
        membership: MembershipInput {
            role: Role::Household,
            unit_id: Some(unit),
            valid_from: None,
            valid_until: None,
        },
    };
    let (hana, _) = w
        .app
        .create_person(
            w.app.may_create_person(&root, w.property, &input).unwrap(),
            input,
        )
        .await
        .unwrap();
    let (cookie, csrf) = w.sign_in_form().await;
    let res = w
        .post(
            "/sign-in",
            &cookie,
            ORIGIN,
            &format!("csrf={csrf}&email=hana%40example.org&password=hana-password-2026"),
        )
        .await;
    (
        hana.id.0,
        format!(
            "latchkey_session={}",
            res.cookie("latchkey_session").unwrap()
        ),
    )
}

/// A stranger says they are Rita and asks her household to confirm; each guardian's link as
/// their delivery opens it: (guardian id, link).
async fn guardian_links(w: &World) -> Vec<(i64, String)> {
    let started = w
        .app
        .start_lockout_public(
            latchkey_app::lockout::PublicStart {
                property_id: w.property.0,
                unit: "1A".into(),
                identity: "Rita Resident".into(),
            },
            "203.0.113.9",
        )
        .await
        .unwrap();
    w.app.ask_guardians(&started.token).await.unwrap();
    let mut conn = w.store.read().await.unwrap();
    let case = latchkey_store::lockout::case_by_token(
        &mut conn,
        &latchkey_app::secrets::token_digest(&started.token),
    )
    .await
    .unwrap()
    .unwrap();
    latchkey_store::lockout::notifications_of_case(&mut conn, case.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == "lockout.guardian_request")
        .map(|n| {
            let sealed = hex::decode(n.body["link_sealed_hex"].as_str().unwrap()).unwrap();
            let link = Keys::from_master(&[5; 32])
                .open_bytes(
                    &latchkey_app::lockout::guardian_link_aad(n.person_id),
                    &sealed,
                )
                .unwrap();
            (n.person_id.0, String::from_utf8(link).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn a_guardian_answers_their_link_on_a_page_and_nobody_else_can() {
    each_backend("web_guardian_page", |db| async move {
        let w = world(&db).await;
        let (hana_id, hana) = hana_signed_in(&w).await;
        let links = guardian_links(&w).await;
        let (_, link) = links
            .iter()
            .find(|(p, _)| *p == hana_id)
            .expect("Hana is asked");

        // The link's token goes into a cookie for the guardian page and leaves the address.
        let opened = w.get(&format!("/guardian?t={link}"), &hana).await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER);
        assert_eq!(opened.header(header::LOCATION), "/guardian");
        let kept = opened.cookie("latchkey_guardian").unwrap();
        assert!(
            opened.cookies()[0].contains("Path=/guardian"),
            "{:?}",
            opened.cookies()
        );
        let cookie = format!("{hana}; latchkey_guardian={kept}");
        let page = w.get("/guardian", &cookie).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains("Is it really Rita Resident?"),
            "{}",
            page.body
        );
        assert!(page.body.contains("Yes, it is them"));

        // Rita herself, signed in, holding Hana's link: refused in words, nothing answered.
        let (rita, rita_csrf) = w.signed_in().await;
        let cookie_rita = format!("{rita}; latchkey_guardian={kept}");
        let refused = w.get("/guardian", &cookie_rita).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            refused.body.contains("This link was sent to someone else."),
            "{}",
            refused.body
        );
        let before = w.events().await;
        let tried = w
            .post(
                "/guardian",
                &cookie_rita,
                ORIGIN,
                &format!("csrf={rita_csrf}&answer=confirm"),
            )
            .await;
        assert_eq!(tried.status, StatusCode::FORBIDDEN);
        assert_eq!(w.events().await, before, "nothing was recorded");

        // From another site, Hana's own answer changes nothing either.
        let csrf = page.csrf();
        let forged = w
            .post(
                "/guardian",
                &cookie,
                "http://evil.example",
                &format!("csrf={csrf}&answer=confirm"),
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(w.events().await, before);

        // Hana says it is not Rita: thanked, and the link is answered once.
        let answered = w
            .post(
                "/guardian",
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}&answer=deny"),
            )
            .await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
        assert!(
            answered.body.contains("you said it is not them"),
            "{}",
            answered.body
        );
        assert!(!answered.body.contains("Yes, it is them"));
        let again = w
            .post(
                "/guardian",
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}&answer=confirm"),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    })
    .await;
}

#[tokio::test]
async fn a_guardian_link_without_a_session_asks_to_sign_in_first() {
    each_backend("web_guardian_sign_in", |db| async move {
        let w = world(&db).await;
        let opened = w.get("/guardian?t=lkg_made_up", "").await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER);
        let kept = opened.cookie("latchkey_guardian").unwrap();
        let page = w
            .get("/guardian", &format!("latchkey_guardian={kept}"))
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.header(header::LOCATION), "/sign-in?next=/guardian");
        // The sign-in page keeps where the guardian was going, and signing in goes back there.
        let form = w.get("/sign-in?next=/guardian", "").await;
        assert!(
            form.body
                .contains(r#"<input type="hidden" name="next" value="/guardian">"#),
            "{}",
            form.body
        );
        let pre = format!("latchkey_pre={}", form.cookie("latchkey_pre").unwrap());
        let res = w
            .post(
                "/sign-in",
                &pre,
                ORIGIN,
                &format!(
                    "csrf={}&email=rita%40example.org&password={PASSWORD}&next=%2Fguardian",
                    form.csrf()
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(res.header(header::LOCATION), "/guardian");
        assert!(res.cookie("latchkey_session").is_some());
    })
    .await;
}

/// `next` values that would leave the site, as a form or a link would carry them (URL-encoded).
const OFF_SITE: &[&str] = &[
    "%2F%2Fevil.example",
    "%2F%2F%2Fevil.example%2Fguardian",
    "https%3A%2F%2Fevil.example%2Fguardian",
    "http%3Aevil.example",
    "%2F%5Cevil.example",
    "%5C%5Cevil.example",
    "%2F%09%2Fevil.example",
    "%2F%0A%2Fevil.example",
    "%2F%252F%252Fevil.example",
    "%2F%2525%32F%2525%32Fevil.example",
    "javascript%3Aalert(1)",
    "%20%2F%2Fevil.example",
    "%2Fguardian%3Fx%3D%2F%2Fevil.example",
    "%EF%BC%8F%EF%BC%8Fevil.example",
];

#[tokio::test]
async fn sign_in_never_sends_the_browser_to_another_site() {
    each_backend("web_sign_in_next", |db| async move {
        let w = world(&db).await;
        for next in OFF_SITE {
            // The sign-in page does not keep it…
            let form = w.get(&format!("/sign-in?next={next}"), "").await;
            assert_eq!(form.status, StatusCode::OK, "{next}");
            assert!(
                !form.body.contains("name=\"next\""),
                "{next}: {}",
                form.body
            );
            assert!(!form.body.contains("evil.example"), "{next}");
            // …and a forged form that carries it signs in and goes home.
            let pre = format!("latchkey_pre={}", form.cookie("latchkey_pre").unwrap());
            let res = w
                .post(
                    "/sign-in",
                    &pre,
                    ORIGIN,
                    &format!(
                        "csrf={}&email=rita%40example.org&password={PASSWORD}&next={next}",
                        form.csrf()
                    ),
                )
                .await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "{next}: {}", res.body);
            assert_eq!(res.header(header::LOCATION), "/", "{next}");
            // Signed in already: the sign-in page sends the browser home, not there.
            let session = format!(
                "latchkey_session={}",
                res.cookie("latchkey_session").unwrap()
            );
            let again = w.get(&format!("/sign-in?next={next}"), &session).await;
            assert_eq!(again.status, StatusCode::SEE_OTHER, "{next}");
            assert_eq!(again.header(header::LOCATION), "/", "{next}");
        }
        // A wrong password keeps a safe `next` on the page, and only a safe one.
        let form = w.get("/sign-in?next=/household", "").await;
        let pre = format!("latchkey_pre={}", form.cookie("latchkey_pre").unwrap());
        for (next, kept) in [("%2Fhousehold", true), ("%2F%2Fevil.example", false)] {
            let res = w
                .post(
                    "/sign-in",
                    &pre,
                    ORIGIN,
                    &format!(
                        "csrf={}&email=rita%40example.org&password=wrong&next={next}",
                        form.csrf()
                    ),
                )
                .await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
            assert_eq!(
                res.body
                    .contains(r#"<input type="hidden" name="next" value="/household">"#),
                kept,
                "{next}"
            );
            assert!(!res.body.contains("evil.example"));
        }
        // A passkey sign-in that fails keeps it the same way.
        let res = w
            .post(
                "/sign-in/passkey",
                &pre,
                ORIGIN,
                &format!(
                    "csrf={}&ceremony=x&credential=%7B%7D&next=%2Fhousehold",
                    form.csrf()
                ),
            )
            .await;
        assert!(
            res.body
                .contains(r#"<input type="hidden" name="next" value="/household">"#),
            "{}: {}",
            res.status,
            res.body
        );
    })
    .await;
}

#[tokio::test]
async fn setting_up_an_authenticator_shows_its_link_as_an_inline_svg_qr_code_under_the_strict_policy()
 {
    each_backend("web_totp_qr", |db| async move {
        let w = world(&db).await;
        let (cookie, _) = w.signed_in().await;
        let csrf = w.get("/security", &cookie).await.csrf();
        let page = w
            .post(
                "/security/totp",
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}&password={PASSWORD}"),
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.header(header::CONTENT_SECURITY_POLICY)
                .contains("style-src 'self'")
        );

        let at = page.body.find("<svg").expect("an inline svg QR code");
        let end = page.body[at..].find("</svg>").expect("a closed svg") + at + 6;
        let svg = &page.body[at..end];
        assert!(svg.contains("role=\"img\""), "{svg}");
        assert!(
            svg.contains("aria-label=\"QR code of your authenticator key"),
            "{svg}"
        );
        assert!(!svg.contains("style="), "{svg}");
        assert!(
            !page.body.contains(" style="),
            "the page has an inline style"
        );
        assert!(
            !page.body.contains("<?xml"),
            "an XML declaration inside the page"
        );

        // It is the code of the page's own `otpauth:` link, drawn the same way here.
        let link = page.body.find("href=\"otpauth://").expect("the link") + 6;
        let uri = &page.body[link..link + page.body[link..].find('"').unwrap()];
        let uri = uri.replace("&amp;", "&").replace("&#38;", "&");
        let expected = qrcode::QrCode::new(uri.as_bytes())
            .unwrap()
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(240, 240)
            .build();
        let path = |s: &str| {
            let d = s.find(" d=\"").expect("a path") + 4;
            s[d..d + s[d..].find('"').unwrap()].to_owned()
        };
        assert_eq!(
            path(svg),
            path(&expected),
            "the code is not of the page's link"
        );
        assert!(uri.contains("secret="), "{uri}");

        // The key is still there as text, for people who cannot scan.
        assert!(page.body.contains("data-totp-secret>"), "{}", page.body);
    })
    .await;
}

/// `text` as the templates write it into a page.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// How many erasure requests the log holds.
async fn erasure_requests(w: &World) -> usize {
    let admin = w.app.terminal_admin(None).await.unwrap();
    w.app
        .list_events(
            &admin,
            None,
            latchkey_app::store::audit::EventFilter {
                kind_prefix: Some(latchkey_app::mydata::REQUESTED_KIND.into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_resident_downloads_their_data_and_asks_to_be_erased_after_seeing_what_goes_and_stays() {
    each_backend("web_my_data", |db| async move {
        let w = world(&db).await;
        let (cookie, csrf) = w.signed_in().await;
        let security = w.get("/security", &cookie).await;
        assert!(security.body.contains(r#"href="/api/v1/me/export""#));
        assert!(security.body.contains(r#"href="/security/erasure""#));

        // The download is the API's export, read with the page's session, never cached.
        let export = w.get("/api/v1/me/export", &cookie).await;
        assert_eq!(export.status, StatusCode::OK, "{}", export.body);
        assert_eq!(export.header(header::CACHE_CONTROL), "no-store");
        let data: serde_json::Value = serde_json::from_str(&export.body).unwrap();
        assert_eq!(data["person"]["email"], EMAIL);
        assert!(!export.body.contains("argon2"), "no password hash");

        // Looking at the confirmation step records nothing; it says what goes and what stays.
        let before = w.events().await;
        let confirm = w.get("/security/erasure", &cookie).await;
        assert_eq!(confirm.status, StatusCode::OK);
        for removed in latchkey_app::mydata::REMOVED {
            assert!(
                confirm.body.contains(&html(removed)),
                "{removed}: {}",
                confirm.body
            );
        }
        for (what, why) in latchkey_app::mydata::KEPT {
            assert!(confirm.body.contains(&html(what)), "{what}");
            assert!(confirm.body.contains(&html(why)), "{why}");
        }
        assert_eq!(w.events().await, before);

        // From another site, or without the form's token: refused, nothing recorded.
        let forged = w
            .post(
                "/security/erasure",
                &cookie,
                "http://evil.example",
                &format!("csrf={csrf}"),
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let tokenless = w.post("/security/erasure", &cookie, ORIGIN, "note=x").await;
        assert_eq!(
            tokenless.status,
            StatusCode::FORBIDDEN,
            "{}",
            tokenless.body
        );
        // A note of spaces is refused in words on the same page, nothing recorded.
        let blank = w
            .post(
                "/security/erasure",
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}&note=+++"),
            )
            .await;
        assert_eq!(
            blank.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            blank.body
        );
        assert!(
            blank.body.contains("id=\"erasure-error\""),
            "{}",
            blank.body
        );
        assert_eq!(w.events().await, before);
        assert_eq!(erasure_requests(&w).await, 0);

        // Confirmed: recorded once, and the answer says what goes and what stays.
        let asked = w
            .post(
                "/security/erasure",
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}&note=moving+out+on+the+31st"),
            )
            .await;
        assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
        assert!(asked.body.contains("is recorded"), "{}", asked.body);
        assert!(asked.body.contains("What is kept, and why"));
        assert!(!asked.body.contains("Yes, ask to erase me"));
        assert_eq!(erasure_requests(&w).await, 1);
        let again = w
            .post(
                "/security/erasure",
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}"),
            )
            .await;
        assert_eq!(again.status, StatusCode::ACCEPTED);
        assert!(again.body.contains("already"), "{}", again.body);
        assert_eq!(erasure_requests(&w).await, 1);
    })
    .await;
}

#[tokio::test]
async fn an_admin_cannot_ask_to_be_erased_from_the_page_and_nothing_is_recorded() {
    each_backend("web_my_data_admin", |db| async move {
        let w = world(&db).await;
        let (pre, csrf) = w.sign_in_form().await;
        let res = w
            .post(
                "/sign-in",
                &pre,
                ORIGIN,
                &format!("csrf={csrf}&email=admin%40example.org&password=admin-password-1"),
            )
            .await;
        let cookie = format!(
            "latchkey_session={}",
            res.cookie("latchkey_session").unwrap()
        );
        let csrf = w.get("/security/erasure", &cookie).await.csrf();
        let before = w.events().await;
        let refused = w
            .post(
                "/security/erasure",
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}"),
            )
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        assert!(
            refused.body.contains("admin cannot be erased"),
            "{}",
            refused.body
        );
        assert_eq!(w.events().await, before);
    })
    .await;
}

const PUSH_KEYS: &str = r#"{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"}"#;

#[tokio::test]
async fn a_resident_turns_notifications_off_for_her_device_on_the_page_and_for_nobody_elses() {
    each_backend("web_push_devices", |db| async move {
        let w = world(&db).await;
        let (cookie, csrf) = w.signed_in().await;
        let page = w.get("/notifications", &cookie).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Turn on notifications on this device"));
        assert!(page.body.contains("data-vapid-key=\"B"), "the key browsers subscribe with");
        assert!(page.body.contains("No device of yours has notifications on."));
        // What the page's script sends: the browser's subscription, as Rita.
        let added = w
            .send(
                Request::post("/api/v1/me/push-subscriptions")
                    .header(header::HOST, HOST)
                    .header(header::ORIGIN, ORIGIN)
                    .header("sec-fetch-site", "same-origin")
                    .header(header::COOKIE, &cookie)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(format!(
                        r#"{{"endpoint":"https://push.example.net/send/rita","expirationTime":null,"keys":{PUSH_KEYS},"name":"Firefox on Linux"}}"#
                    )))
                    .unwrap(),
            )
            .await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        let mine: serde_json::Value = serde_json::from_str(&added.body).unwrap();
        let mine = mine["id"].as_i64().unwrap();
        assert!(!added.body.contains("/send/rita"), "the endpoint is not echoed");
        let admin = w.app.terminal_admin(None).await.unwrap();
        let theirs = w
            .app
            .add_push_subscription(
                admin.own_account(),
                latchkey_app::push::SubscriptionInput {
                    endpoint: "https://push.example.net/send/ada".into(),
                    p256dh: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4".into(),
                    auth: "BTBZMqHH6r4Tts7J_aSIgg".into(),
                    name: "Ada's laptop".into(),
                },
            )
            .await
            .unwrap()
            .0
            .id;
        let page = w.get("/notifications", &cookie).await;
        assert!(page.body.contains("Firefox on Linux"));
        assert!(!page.body.contains("Ada's laptop"), "only her own devices");
        let before = w.events().await;
        let res = w
            .post(
                &format!("/notifications/devices/{theirs}/remove"),
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
        assert_eq!(w.events().await, before);
        assert_eq!(w.app.my_push_subscriptions(admin.own_account()).await.unwrap().len(), 1);
        let res = w
            .post(
                &format!("/notifications/devices/{mine}/remove"),
                &cookie,
                "http://evil.example",
                &format!("csrf={csrf}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "another site cannot turn them off");
        let res = w
            .post(
                &format!("/notifications/devices/{mine}/remove"),
                &cookie,
                ORIGIN,
                &format!("csrf={csrf}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(res.body.contains("Notifications are off for Firefox on Linux."));
        assert!(res.body.contains("No device of yours has notifications on."));
    })
    .await;
}

#[tokio::test]
async fn the_service_worker_is_served_from_the_root_with_its_push_and_click_handlers() {
    each_backend("web_service_worker", |db| async move {
        let w = world(&db).await;
        let sw = w.get("/sw.js", "").await;
        assert_eq!(sw.status, StatusCode::OK);
        assert!(
            sw.header(header::CONTENT_TYPE)
                .starts_with("text/javascript")
        );
        assert_eq!(sw.header(header::CACHE_CONTROL), "no-cache");
        for needle in [
            "\"push\"",
            "showNotification",
            "\"notificationclick\"",
            "openWindow",
            "/assets/icon.",
        ] {
            assert!(sw.body.contains(needle), "sw.js lacks {needle}");
        }
        assert!(!sw.body.contains("__ICON__"));
    })
    .await;
}
