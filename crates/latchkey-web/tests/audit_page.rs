//! The console's audit log page, driven in-process on every backend: the manager searches the
//! property's events by door, person, kind and day; sees the chain's head and a signed anchor;
//! verifies the chain, which says "intact" until an event is edited in the database and then
//! names the broken event. Bad filters are refused with the field at fault; a resident, a guest
//! and another property's manager get none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;

use axum::http::StatusCode;
use latchkey_testkit::each_backend;

use console::*;

#[tokio::test]
async fn the_manager_searches_the_log_and_sees_the_head() {
    each_backend("web_audit_search", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let page = w.get("/audit", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Door House: audit log"));
        assert!(page.body.contains("door.created"), "{}", page.body);
        assert!(page.body.contains("membership.created") || page.body.contains("person.created"));
        let (head, hash) = w.app.audit_head().await.unwrap();
        assert!(page.body.contains(&format!("event {head}, hash")));
        assert!(page.body.contains(&hex::encode(hash)));
        assert!(page.body.contains("seq="), "a signed anchor of the head");
        assert!(!page.body.contains("Otto"), "another building's events");
        assert!(!page.body.contains(" style="), "no inline style");

        // By door: only the lobby's events.
        let lobby = w.get(&format!("/audit?door={}", w.lobby.0), &mona).await;
        assert_eq!(lobby.status, StatusCode::OK, "{}", lobby.body);
        assert!(lobby.body.contains("door.created"));
        let rows = lobby.body.matches("<tr id=\"event-").count();
        assert!(rows >= 1 && rows < page.body.matches("<tr id=\"event-").count());
        // By kind family, and by a day with nothing in it.
        let doors = w.get("/audit?kind=door.", &mona).await;
        assert!(doors.body.contains("door.created"));
        assert!(!doors.body.contains("<code>membership."));
        let empty = w
            .get("/audit?since=2020-01-01&until=2020-01-02", &mona)
            .await;
        assert_eq!(empty.status, StatusCode::OK);
        assert!(empty.body.contains("No event matches"));
        let today = w
            .get("/audit?since=2026-12-03&until=2026-12-03", &mona)
            .await;
        assert!(
            today.body.contains("door.created"),
            "the world was built that day"
        );

        // Every bad filter names its field and shows nothing.
        for (q, field) in [
            ("door=abc", "Door"),
            ("door=999999", "Door"),
            ("person=-4", "Person"),
            ("kind=evil", "Kind"),
            ("kind=door.created%27%20OR%201=1", "Kind"),
            ("since=2026-13-01", "Since"),
            ("until=yesterday", "Until"),
            ("since=2026-12-05&until=2026-12-01", "Until"),
            ("before=0", "Before"),
        ] {
            let bad = w.get(&format!("/audit?{q}"), &mona).await;
            assert_eq!(
                bad.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{q}: {}",
                bad.body
            );
            assert!(bad.body.contains(field), "{q} names {field}: {}", bad.body);
            assert!(!bad.body.contains("<tr id=\"event-"), "{q}");
        }
    })
    .await;
}

#[tokio::test]
async fn residents_guests_and_another_propertys_manager_get_no_audit_page() {
    each_backend("web_audit_refused", |db| async move {
        let w = world(&db).await;
        for who in ["vera@example.org", "gil@example.org", "otto@example.org"] {
            let cookie = w.signed_in(who).await;
            let page = w
                .get(&format!("/audit?property={}", w.property.0), &cookie)
                .await;
            assert!(
                matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                page.status
            );
            assert!(!page.body.contains("door.created"), "{who}");
            let home = w.get("/", &cookie).await;
            let res = w
                .post(
                    "/audit/verify",
                    &cookie,
                    format!("csrf={}&property={}", form_token(&home.body), w.property.0),
                )
                .await;
            assert!(
                matches!(res.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                res.status
            );
            assert!(!res.body.contains("Intact"), "{who}");
        }
    })
    .await;
}

#[tokio::test]
async fn verifying_from_the_page_finds_an_edited_event() {
    each_backend("web_audit_verify", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let page = w.get("/audit", &mona).await;
        let csrf = form_token(&page.body);
        let p = w.property.0;
        // A forged form verifies nothing.
        let forged = w
            .post("/audit/verify", &mona, format!("csrf=forged&property={p}"))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(!forged.body.contains("Intact"));
        let res = w
            .post("/audit/verify", &mona, format!("csrf={csrf}&property={p}"))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(res.body.contains("Intact: all"), "{}", res.body);
        assert!(res.body.contains("verdict-intact"));

        // Someone with the database edits an event: the page names it.
        let store = db.open().await;
        let mut conn = store.read().await.unwrap();
        sqlx::query("UPDATE events SET data = '{\"name\":\"Someone else\"}' WHERE seq = 3")
            .execute(&mut *conn)
            .await
            .unwrap();
        drop(conn);
        let res = w
            .post("/audit/verify", &mona, format!("csrf={csrf}&property={p}"))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(
            res.body.contains("Broken: event 3 was changed"),
            "{}",
            res.body
        );
        assert!(res.body.contains("verdict-broken"));
    })
    .await;
}
