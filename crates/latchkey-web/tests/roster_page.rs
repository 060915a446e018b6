//! The console's on-call roster and locksmith registry, driven in-process on every backend:
//! the manager puts herself on call for a night window, registers a locksmith, and verifies
//! it; bad forms name their field and change nothing; a resident, a guest and another
//! property's manager can do none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;

use axum::http::StatusCode;
use latchkey_testkit::each_backend;

use console::*;

#[tokio::test]
async fn the_manager_sets_the_roster_and_verifies_a_locksmith() {
    each_backend("web_roster", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let page = w.get("/on-call", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Nobody is on call right now"));
        assert!(page.body.contains("Mona Manager"), "staff may be put on call");
        assert!(!page.body.contains(">Vera Resident</option>"), "a resident is not offered");
        let csrf = form_token(&page.body);
        let p = w.property.0;
        let mona_id = w
            .app
            .list_people(&w.root, w.property)
            .await
            .unwrap()
            .into_iter()
            .find(|x| x.name == "Mona Manager")
            .unwrap()
            .id
            .0;
        let roster = |w: &World| {
            let app = w.app.clone();
            let (root, p) = (w.root.clone(), w.property);
            async move { app.list_on_call(&root, p).await.unwrap().len() }
        };
        // Bad forms: no day, a time that is not one, a resident, a person from nowhere.
        for (body, field) in [
            (format!("csrf={csrf}&property={p}&person={mona_id}&from=18:00&until=08:00"), "Days"),
            (format!("csrf={csrf}&property={p}&person={mona_id}&mon=1&from=late&until=08:00"), "From"),
            (format!("csrf={csrf}&property={p}&person={}&always=1", w.vera.0), "Person"),
            (format!("csrf={csrf}&property={p}&person=abc&always=1"), "Person"),
        ] {
            let res = w.post("/on-call", &mona, body.clone()).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", res.body);
            assert!(res.body.contains(field), "{body} names {field}: {}", res.body);
            assert_eq!(roster(&w).await, 0, "{body}");
        }
        // The test clock is noon on a Thursday: a night window is not now, every hour is.
        let res = w
            .post(
                "/on-call",
                &mona,
                format!("csrf={csrf}&property={p}&person={mona_id}&mon=1&tue=1&wed=1&thu=1&fri=1&from=18:00&until=08:00"),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let page = w.get("/on-call", &mona).await;
        assert!(page.body.contains("Mon, Tue, Wed, Thu, Fri 18:00–08:00"), "{}", page.body);
        assert!(page.body.contains("Nobody is on call right now"));
        let res = w
            .post("/on-call", &mona, format!("csrf={csrf}&property={p}&person={mona_id}&always=1"))
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        let page = w.get("/on-call", &mona).await;
        assert!(page.body.contains("1 on call right now"), "{}", page.body);
        assert_eq!(roster(&w).await, 1, "her hours were replaced, not added");

        // A locksmith: bad forms first.
        let locksmiths = |w: &World| {
            let app = w.app.clone();
            let (root, p) = (w.root.clone(), w.property);
            async move { app.list_locksmiths(&root, p).await.unwrap() }
        };
        for (body, field) in [
            (format!("csrf={csrf}&property={p}&company=&licence=L-1&phone=555&callout=95&always=1"), "Company"),
            (format!("csrf={csrf}&property={p}&company=Quick&licence=L-1&phone=555&callout=-5&always=1"), "Callout"),
            (format!("csrf={csrf}&property={p}&company=Quick&licence=L-1&phone=555&callout=95.999&always=1"), "Callout"),
            (format!("csrf={csrf}&property={p}&company=Quick&licence=L-1&phone=555&callout=95&sat=1&from=x&until=20:00"), "From"),
        ] {
            let res = w.post("/locksmiths", &mona, body.clone()).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", res.body);
            assert!(res.body.contains(field), "{body} names {field}: {}", res.body);
            assert!(locksmiths(&w).await.is_empty(), "{body}");
        }
        let res = w
            .post(
                "/locksmiths",
                &mona,
                format!("csrf={csrf}&property={p}&company=Quick+Keys&licence=L-77&phone=%2B49+30+1234&callout=95.5&always=1"),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let ls = locksmiths(&w).await;
        assert_eq!(ls.len(), 1);
        assert_eq!(ls[0].callout_cents, 9_550);
        assert_eq!(ls[0].status, "unverified");
        let page = w.get("/on-call", &mona).await;
        assert!(page.body.contains("Not verified yet"));
        assert!(page.body.contains("95.50"));
        let status = format!("/locksmiths/{}/status", ls[0].id.0);
        let bad = w.post(&status, &mona, format!("csrf={csrf}&status=trusted")).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(locksmiths(&w).await[0].status, "unverified");
        let res = w.post(&status, &mona, format!("csrf={csrf}&status=verified")).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(locksmiths(&w).await[0].status, "verified");
        let page = w.get("/on-call", &mona).await;
        assert!(page.body.contains("Verified: offered to lockout cases"));
        assert!(page.body.contains("Suspend Quick Keys"));
    })
    .await;
}

#[tokio::test]
async fn residents_guests_and_another_propertys_manager_change_no_roster() {
    each_backend("web_roster_refused", |db| async move {
        let w = world(&db).await;
        let p = w.property.0;
        for who in ["vera@example.org", "gil@example.org", "otto@example.org"] {
            let cookie = w.signed_in(who).await;
            let page = w.get(&format!("/on-call?property={p}"), &cookie).await;
            assert!(
                matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                page.status
            );
            let csrf = form_token(&w.get("/", &cookie).await.body);
            let res = w
                .post("/on-call", &cookie, format!("csrf={csrf}&property={p}&person={}&always=1", w.vera.0))
                .await;
            assert!(matches!(res.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN), "{who}: {}", res.status);
            let res = w
                .post("/locksmiths", &cookie, format!("csrf={csrf}&property={p}&company=Mine&licence=X&phone=1234&callout=1&always=1"))
                .await;
            assert!(matches!(res.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN), "{who}: {}", res.status);
        }
        assert!(w.app.list_on_call(&w.root, w.property).await.unwrap().is_empty());
        assert!(w.app.list_locksmiths(&w.root, w.property).await.unwrap().is_empty());
    })
    .await;
}
