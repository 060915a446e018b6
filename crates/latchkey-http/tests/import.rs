//! `POST /api/v1/properties/{id}/import`, on every backend: a refused file is a 422 naming each
//! line, writing nothing; a good one is checked, then imported with the links when asked; each
//! role gets what the import's capability allows; a file past 1 MiB is a 413.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Fixture, ROLES, fixture};

const GOOD: &str = "unit,floor,door,resident_name,resident_email,role\n\
    9A,9,Door 9A,Nina Nine,nina@example.org,\n\
    9A,,,Noah Nine,,household\n";

async fn post(f: &Fixture, role: &str, query: &str, body: impl Into<Body>) -> common::Reply {
    let mut req = Request::post(format!("/api/v1/properties/{}/import{query}", f.property))
        .header("content-type", "text/csv");
    if let Some((token, _)) = f.tokens.get(role) {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    f.raw(req.body(body.into()).unwrap()).await
}

#[tokio::test]
async fn a_refused_file_names_each_line_and_a_good_one_imports_once() {
    latchkey_testkit::each_backend("api_import", |db| async move {
        let f = fixture(&db).await;
        let events = f.event_count().await;
        let bad = "unit,floor,door,resident_name,resident_email,role\n\
            9A,9,Door 9A,Nina,nina@,\n9B,x,Door 9B,,,\n";
        let r = post(&f, "manager", "", bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(r.json["detail"], "2 lines are wrong; nothing was imported");
        assert_eq!(r.json["lines"][0]["line"], 2);
        assert_eq!(r.json["lines"][1]["line"], 3);
        assert!(
            r.json["lines"][1]["message"]
                .as_str()
                .unwrap()
                .contains("floor `x`")
        );
        assert_eq!(f.event_count().await, events, "nothing written");

        let checked = post(&f, "manager", "?check=true", GOOD).await;
        assert_eq!(checked.status, StatusCode::OK, "{}", checked.json);
        assert_eq!(checked.json["people"], 2);
        assert_eq!(checked.json["written"], false);
        assert_eq!(f.event_count().await, events, "a check writes nothing");

        let done = post(&f, "manager", "?invite=true", GOOD).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.json);
        assert_eq!(done.json["written"], true);
        let links = done.json["invitations"].as_array().unwrap();
        assert_eq!(links.len(), 1, "only Nina has an address");
        assert_eq!(links[0]["email"], "nina@example.org");
        assert!(
            links[0]["link"]
                .as_str()
                .unwrap()
                .contains("/welcome?t=lki_")
        );

        let again = post(&f, "manager", "", GOOD).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            again.json["lines"][0]["message"]
                .as_str()
                .unwrap()
                .contains("imported already")
        );
    })
    .await;
}

#[tokio::test]
async fn only_the_propertys_staff_and_admins_may_import_and_a_huge_file_is_413() {
    latchkey_testkit::each_backend("api_import_who", |db| async move {
        let f = fixture(&db).await;
        for role in ROLES {
            let r = post(&f, role, "?check=true", GOOD).await;
            let want = match role {
                "anon" => StatusCode::UNAUTHORIZED,
                "outsider" => StatusCode::NOT_FOUND,
                "guest" | "household" | "resident" => StatusCode::FORBIDDEN,
                _ => StatusCode::OK,
            };
            assert_eq!(r.status, want, "{role}: {}", r.json);
        }
        let events = f.event_count().await;
        for role in ["guest", "household", "resident", "outsider"] {
            let r = post(&f, role, "", GOOD).await;
            assert_ne!(r.status, StatusCode::OK, "{role}");
        }
        assert_eq!(
            f.event_count().await,
            events,
            "nobody else imported anything"
        );
        let huge = format!(
            "unit,floor,door,resident_name,resident_email,role\n{}",
            "8Z,8,Door 8Z,,,\n".repeat(80_000)
        );
        let r = post(&f, "admin", "", huge).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.json);
        assert!(r.json["detail"].as_str().unwrap().contains("1 MiB"));
        assert_eq!(f.event_count().await, events);
    })
    .await;
}
