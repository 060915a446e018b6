//! What a browser can be made to send: requests from other sites are refused before they change
//! anything, every answer carries the headers that keep it out of frames, caches and other
//! sites' referrers, and the session cookie has the flags it should — on every backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use common::{Fixture, fixture};
use http_body_util::BodyExt;
use latchkey_http::{HttpConfig, PublicOrigin, router};
use latchkey_testkit::each_backend;
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:8080";
const OWN: &str = "http://127.0.0.1:8080";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: serde_json::Value,
}

async fn send(app: &axum::Router, req: Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}

/// A session cookie for Rita, the unit's resident, as her browser holds it.
async fn rita_cookie(f: &Fixture) -> String {
    let signed = f
        .app
        .login("rita@example.org", "rita-password-1", "test")
        .await
        .unwrap();
    format!("latchkey_session={}", signed.token)
}

/// A body-less POST that freezes the household member's PIN, signed in by cookie, with the
/// given extra headers.
fn freeze(f: &Fixture, cookie: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::builder()
        .method("POST")
        .uri(format!("/api/v1/credentials/{}/freeze", f.credential))
        .header("host", HOST)
        .header("cookie", cookie);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::empty()).unwrap()
}

async fn credential_status(f: &Fixture) -> String {
    let r = f
        .call(
            "admin",
            "GET",
            &format!("/api/v1/credentials/{}", f.credential),
            None,
        )
        .await;
    r.json["status"].as_str().unwrap().to_owned()
}

async fn assert_refused_and_nothing_written(
    f: &Fixture,
    app: &axum::Router,
    req: Request<Body>,
    what: &str,
) {
    let before = f.event_count().await;
    let r = send(app, req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.json);
    assert_eq!(
        r.json["type"], "urn:latchkey:problem:cross-site",
        "{what}: {}",
        r.json
    );
    assert!(
        r.json["detail"].as_str().unwrap_or_default().len() > 20,
        "{what}: the refusal says why: {}",
        r.json
    );
    assert_eq!(
        f.event_count().await,
        before,
        "{what}: a refusal wrote events"
    );
    assert_eq!(
        credential_status(f).await,
        "active",
        "{what}: the PIN was frozen"
    );
}

#[tokio::test]
async fn a_signed_in_browser_request_from_another_site_changes_nothing() {
    each_backend("cross_site_variants", |db| async move {
        let f = fixture(&db).await;
        let cookie = rita_cookie(&f).await;
        for (what, headers) in [
            ("no Origin and no Sec-Fetch-Site", vec![]),
            (
                "another site's Origin",
                vec![("origin", "https://evil.example")],
            ),
            ("an opaque Origin", vec![("origin", "null")]),
            (
                "our host over https",
                vec![("origin", "https://127.0.0.1:8080")],
            ),
            (
                "our host on another port",
                vec![("origin", "http://127.0.0.1:8081")],
            ),
            (
                "our host without its port",
                vec![("origin", "http://127.0.0.1")],
            ),
            (
                "Sec-Fetch-Site cross-site",
                vec![("sec-fetch-site", "cross-site")],
            ),
            (
                "Sec-Fetch-Site same-site",
                vec![("sec-fetch-site", "same-site")],
            ),
            ("Sec-Fetch-Site none", vec![("sec-fetch-site", "none")]),
            (
                "our Origin but a cross-site fetch",
                vec![("origin", OWN), ("sec-fetch-site", "cross-site")],
            ),
        ] {
            assert_refused_and_nothing_written(&f, &f.router, freeze(&f, &cookie, &headers), what)
                .await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_signed_in_browser_request_from_our_own_pages_is_accepted() {
    each_backend("same_origin_accepted", |db| async move {
        let f = fixture(&db).await;
        let cookie = rita_cookie(&f).await;
        let r = send(&f.router, freeze(&f, &cookie, &[("origin", OWN)])).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        assert_eq!(credential_status(&f).await, "frozen");
        let unfreeze = Request::builder()
            .method("POST")
            .uri(format!("/api/v1/credentials/{}/unfreeze", f.credential))
            .header("host", HOST)
            .header("cookie", &cookie)
            .header("sec-fetch-site", "same-origin")
            .body(Body::empty())
            .unwrap();
        let r = send(&f.router, unfreeze).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "Sec-Fetch-Site: same-origin is enough without an Origin: {}",
            r.json
        );
        assert_eq!(credential_status(&f).await, "active");
        let read = Request::builder()
            .uri("/api/v1/auth/me")
            .header("host", HOST)
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&f.router, read).await.status,
            StatusCode::OK,
            "reading needs no Origin"
        );
    })
    .await;
}

#[tokio::test]
async fn an_api_token_needs_no_origin_because_no_browser_sends_it_by_itself() {
    each_backend("bearer_exempt", |db| async move {
        let f = fixture(&db).await;
        let r = f
            .call(
                "resident",
                "POST",
                &format!("/api/v1/credentials/{}/freeze", f.credential),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        assert_eq!(credential_status(&f).await, "frozen");
    })
    .await;
}

#[tokio::test]
async fn behind_a_proxy_only_the_configured_public_url_is_our_origin() {
    each_backend("public_url_origin", |db| async move {
        let f = fixture(&db).await;
        let app = router(
            f.app.clone(),
            HttpConfig {
                secure_cookies: true,
                public_origin: Some(PublicOrigin::parse("https://door.example.org").unwrap()),
                ..HttpConfig::default()
            },
        );
        let cookie = rita_cookie(&f).await;
        for (what, origin) in [
            ("the public host over plain http", "http://door.example.org"),
            ("the address the proxy talks to", OWN),
            ("another site", "https://evil.example"),
        ] {
            assert_refused_and_nothing_written(
                &f,
                &app,
                freeze(&f, &cookie, &[("origin", origin)]),
                what,
            )
            .await;
        }
        let r = send(
            &app,
            freeze(&f, &cookie, &[("origin", "https://door.example.org")]),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        let r = send(
            &app,
            freeze(&f, &cookie, &[("origin", "https://DOOR.example.org:443")]),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "the default port and the host's case do not matter: {}",
            r.json
        );
    })
    .await;
}

#[test]
fn a_public_url_must_be_an_origin() {
    for bad in [
        "door.example.org",
        "ftp://door.example.org",
        "https://door.example.org/latchkey",
        "https://user@door.example.org",
        "https://door.example.org?x=1",
        "",
    ] {
        assert!(PublicOrigin::parse(bad).is_err(), "{bad} was accepted");
    }
    let o = PublicOrigin::parse("https://door.example.org/").unwrap();
    assert_eq!(o.to_string(), "https://door.example.org");
    assert!(o.is_https());
    let o = PublicOrigin::parse("http://[::1]:8080").unwrap();
    assert_eq!(o.to_string(), "http://[::1]:8080");
}

fn login(headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/v1/auth/login")
        .header("host", HOST)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::from(
        r#"{"email":"rita@example.org","password":"rita-password-1"}"#,
    ))
    .unwrap()
}

#[tokio::test]
async fn another_site_cannot_sign_a_browser_in_or_open_a_lockout_case() {
    each_backend("login_csrf", |db| async move {
        let f = fixture(&db).await;
        for (what, headers) in [
            (
                "another site's Origin",
                vec![("origin", "https://evil.example")],
            ),
            (
                "Sec-Fetch-Site cross-site",
                vec![("sec-fetch-site", "cross-site")],
            ),
            (
                "our host over https",
                vec![("origin", "https://127.0.0.1:8080")],
            ),
        ] {
            let before = f.event_count().await;
            let r = send(&f.router, login(&headers)).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.json);
            assert!(
                r.headers.get("set-cookie").is_none(),
                "{what}: no session cookie is set"
            );
            assert_eq!(f.event_count().await, before, "{what}: nobody signed in");
            let start = Request::builder()
                .method("POST")
                .uri("/api/v1/lockouts")
                .header("host", HOST)
                .header("content-type", "application/json")
                .header(headers[0].0, headers[0].1)
                .body(Body::from(format!(
                    r#"{{"property_id":{},"unit":"1A","identity":"Rita Resident"}}"#,
                    f.property
                )))
                .unwrap();
            let r = send(&f.router, start).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.json);
            assert_eq!(f.event_count().await, before, "{what}: a case was opened");
        }
        let r = send(&f.router, login(&[("origin", OWN)])).await;
        assert_eq!(r.status, StatusCode::OK, "our own sign-in page: {}", r.json);
        let r = send(&f.router, login(&[])).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "a client that is not a browser signs in without an Origin: {}",
            r.json
        );
    })
    .await;
}

fn assert_security_headers(a: &Answer, what: &str) {
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(
            a.headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{what}: {name}"
        );
    }
    let csp = a
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: content-security-policy `{csp}`"
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    each_backend("security_headers", |db| async move {
        let f = fixture(&db).await;
        let (token, _) = f.tokens.get("resident").unwrap().clone();
        let get = |path: &str, auth: bool| {
            let mut req = Request::builder().uri(path).header("host", HOST);
            if auth {
                req = req.header("authorization", format!("Bearer {token}"));
            }
            req.body(Body::empty()).unwrap()
        };
        let cases = [
            ("200 health", get("/healthz", false), 200),
            ("200 document", get("/api/openapi.json", false), 200),
            ("200 answer", get("/api/v1/auth/me", true), 200),
            ("401", get("/api/v1/auth/me", false), 401),
            ("404 unknown path", get("/api/v1/nowhere", true), 404),
            (
                "404 unknown resource",
                get("/api/v1/credentials/999999", true),
                404,
            ),
            (
                "405",
                Request::builder()
                    .method("DELETE")
                    .uri("/healthz")
                    .body(Body::empty())
                    .unwrap(),
                405,
            ),
            (
                "422",
                Request::builder()
                    .method("POST")
                    .uri("/api/v1/tokens")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Body::from(r#"{"name":" "}"#))
                    .unwrap(),
                422,
            ),
            (
                "403 cross-site",
                login(&[("origin", "https://evil.example")]),
                403,
            ),
        ];
        for (what, req, status) in cases {
            let a = send(&f.router, req).await;
            assert_eq!(a.status.as_u16(), status, "{what}: {}", a.json);
            assert_security_headers(&a, what);
        }
        let created = send(
            &f.router,
            Request::builder()
                .method("POST")
                .uri("/api/v1/tokens")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(r#"{"name":"cron"}"#))
                .unwrap(),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert!(created.json["token"].is_string());
        assert_security_headers(&created, "an answer carrying a token");
    })
    .await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_asked_and_always_http_only_and_strict() {
    each_backend("cookie_flags", |db| async move {
        let f = fixture(&db).await;
        for secure in [true, false] {
            let app = router(
                f.app.clone(),
                HttpConfig {
                    secure_cookies: secure,
                    ..HttpConfig::default()
                },
            );
            let r = send(&app, login(&[("origin", OWN)])).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
            let set = r.headers["set-cookie"].to_str().unwrap().to_owned();
            let flags: Vec<&str> = set.split(';').map(str::trim).collect();
            for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
                assert!(flags.contains(&flag), "{flag} in {set}");
            }
            assert_eq!(flags.contains(&"Secure"), secure, "{set}");
            let pair = flags[0];
            let out = Request::builder()
                .method("POST")
                .uri("/api/v1/auth/logout")
                .header("host", HOST)
                .header("origin", OWN)
                .header("cookie", pair)
                .body(Body::empty())
                .unwrap();
            let r = send(&app, out).await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
            let cleared = r.headers["set-cookie"].to_str().unwrap();
            assert!(cleared.contains("Max-Age=0"), "{cleared}");
            assert_eq!(
                cleared.split(';').any(|f| f.trim() == "Secure"),
                secure,
                "the clearing cookie matches: {cleared}"
            );
        }
    })
    .await;
}
