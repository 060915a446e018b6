//! Every way a request can be wrong gets a clear problem document and changes nothing — on every
//! backend.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::fixture;
use latchkey_testkit::each_backend;

async fn refused(
    f: &common::Fixture,
    method: &str,
    path: &str,
    body: &str,
    status: u16,
    needle: &str,
) {
    refused_as(f, "admin", method, path, body, status, needle).await;
}

async fn refused_as(
    f: &common::Fixture,
    role: &str,
    method: &str,
    path: &str,
    body: &str,
    status: u16,
    needle: &str,
) {
    let before = f.event_count().await;
    let r = f.call(role, method, path, Some(body.to_owned())).await;
    assert_eq!(
        r.status.as_u16(),
        status,
        "{method} {path} {body}: {}",
        r.json
    );
    assert!(
        r.content_type.starts_with("application/problem+json"),
        "{path}: {}",
        r.content_type
    );
    let detail = r.json["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(needle),
        "detail `{detail}` should mention `{needle}`"
    );
    assert_eq!(
        f.event_count().await,
        before,
        "{path}: a refused request wrote events"
    );
}

#[tokio::test]
async fn malformed_unknown_and_ill_typed_bodies_are_refused_with_a_reason() {
    each_backend("bad_bodies", |db| async move {
        let f = fixture(&db).await;
        let units = format!("/api/v1/properties/{}/units", f.property);
        refused(&f, "POST", &units, "{\"label\": ", 400, "not valid JSON").await;
        refused(
            &f,
            "POST",
            &units,
            r#"{"label":"9Z","flor":3}"#,
            422,
            "flor",
        )
        .await;
        refused(&f, "POST", &units, r#"{"label":9}"#, 422, "label").await;
        refused(&f, "POST", &units, r#"{"label":"   "}"#, 422, "label").await;
        refused(
            &f,
            "POST",
            &units,
            r#"{"label":"1A"}"#,
            409,
            "already exists",
        )
        .await;
        refused(
            &f,
            "POST",
            "/api/v1/properties",
            r#"{"name":"Gamma","timezone":"Mars/Olympus"}"#,
            422,
            "time zone",
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn oversized_and_non_json_bodies_are_refused() {
    each_backend("oversized_bodies", |db| async move {
        let f = fixture(&db).await;
        let units = format!("/api/v1/properties/{}/units", f.property);
        let huge = format!(r#"{{"label":"{}"}}"#, "x".repeat(100_000));
        refused(&f, "POST", &units, &huge, 413, "larger").await;
        let (token, _) = f.tokens.get("admin").unwrap();
        let req = Request::builder()
            .method("POST")
            .uri(&units)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "text/plain")
            .body(Body::from(r#"{"label":"7Q"}"#))
            .unwrap();
        let r = f.raw(req).await;
        assert_eq!(r.status.as_u16(), 415);
    })
    .await;
}

#[tokio::test]
async fn schedules_that_end_before_they_start_are_refused() {
    each_backend("backwards_schedule", |db| async move {
        let f = fixture(&db).await;
    let body = format!(
        r#"{{"person_id":{},"kind":"phone_key","unit_id":{},"schedule":{{"type":"date_range","from":"2026-12-01T00:00","until":"2026-11-01T00:00"}}}}"#,
        f.household, f.unit
    );
    refused(
        &f,
        "POST",
        &format!("/api/v1/properties/{}/credentials", f.property),
        &body,
        422,
        "schedule",
    )
    .await;
    })
    .await;
}

#[tokio::test]
async fn ids_of_another_property_are_refused() {
    each_backend("foreign_ids", |db| async move {
        let f = fixture(&db).await;
        let creds = format!("/api/v1/properties/{}/credentials", f.property);
        let body = format!(
            r#"{{"person_id":{},"kind":"phone_key","unit_id":{},"doors":[{}]}}"#,
            f.household, f.unit, f.other_door
        );
        refused(&f, "POST", &creds, &body, 422, "not in this property").await;
        let groups = format!("/api/v1/properties/{}/door-groups", f.property);
        refused(
            &f,
            "POST",
            &groups,
            &format!(r#"{{"name":"x","doors":[{}]}}"#, f.other_door),
            422,
            "not in this property",
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn weak_and_shared_pins_are_refused_with_the_reason() {
    each_backend("weak_pins", |db| async move {
        let f = fixture(&db).await;
        let creds = format!("/api/v1/properties/{}/credentials", f.property);
        // The resident chooses her own code for her unit's door (the lobby takes only
        // generated codes).
        let pin = |p: &str| {
            format!(
                r#"{{"person_id":{},"kind":"pin","unit_id":{},"doors":[{}],"pin":"{p}"}}"#,
                f.resident, f.unit, f.door
            )
        };
        let weak = [
            ("1234", "consecutive"),
            ("0000", "repeated"),
            ("12a4", "digits"),
            ("123456789", "at most 8"),
        ];
        for (code, why) in weak {
            refused_as(&f, "resident", "POST", &creds, &pin(code), 422, why).await;
        }
        let r = f
            .call("resident", "POST", &creds, Some(pin("480261")))
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.json);
        refused_as(
            &f,
            "resident",
            "POST",
            &creds,
            &pin("480261"),
            409,
            "already in use",
        )
        .await;
        // Staff never choose a resident's code, weak or not.
        refused(&f, "POST", &creds, &pin("1234"), 422, "generated").await;
        refused(&f, "POST", &creds, &pin("731946"), 422, "generated").await;
    })
    .await;
}

#[tokio::test]
async fn bad_paths_queries_and_unknown_routes_are_problems() {
    each_backend("bad_paths", |db| async move {
        let f = fixture(&db).await;
        let r = f.call("admin", "GET", "/api/v1/doors/abc", None).await;
        assert_eq!(r.status.as_u16(), 400);
        assert!(r.content_type.starts_with("application/problem+json"));
        let r = f.call("admin", "GET", "/api/v1/events?limit=0", None).await;
        assert_eq!(r.status.as_u16(), 422);
        let r = f
            .call("admin", "GET", "/api/v1/events?colour=red", None)
            .await;
        assert_eq!(r.status.as_u16(), 400);
        let r = f.call("admin", "GET", "/api/v1/nothing-here", None).await;
        assert_eq!(r.status.as_u16(), 404);
        assert!(r.content_type.starts_with("application/problem+json"));
        let r = f.call("admin", "DELETE", "/api/v1/properties", None).await;
        assert_eq!(r.status.as_u16(), 405);
    })
    .await;
}

#[tokio::test]
async fn a_pin_is_never_in_an_answer_or_an_event_except_once_to_its_holder() {
    each_backend("pin_shown_once", |db| async move {
        let f = fixture(&db).await;
        let r = f
            .call(
                "household",
                "POST",
                &format!("/api/v1/credentials/{}/reveal", f.credential),
                None,
            )
            .await;
        let code = r.json["pin"].as_str().unwrap().to_owned();
        assert_eq!(code.len(), 8, "a generated code");
        let r = f
            .call(
                "manager",
                "GET",
                &format!("/api/v1/credentials/{}", f.credential),
                None,
            )
            .await;
        assert!(!r.json.to_string().contains(&code));
        let r = f
            .call("admin", "GET", "/api/v1/events?limit=500", None)
            .await;
        assert!(
            !r.json.to_string().contains(&code),
            "a PIN leaked into the event log"
        );
        // The holder's own export holds the credential and its events, never the code or a
        // token or password.
        let r = f.call("household", "GET", "/api/v1/me/export", None).await;
        assert_eq!(r.status.as_u16(), 200);
        let export = r.json.to_string();
        assert!(
            export.contains(&format!("\"id\":{}", f.credential)),
            "{export}"
        );
        assert!(!export.contains(&code), "a PIN leaked into an export");
        let (token, _) = &f.tokens["household"];
        assert!(
            !export.contains(token.as_str()),
            "a token leaked into an export"
        );
        assert!(
            !export.contains("argon2"),
            "a password hash leaked into an export"
        );
        let r = f
            .call(
                "household",
                "POST",
                &format!("/api/v1/credentials/{}/reveal", f.credential),
                None,
            )
            .await;
        assert_eq!(r.status.as_u16(), 409, "a PIN is shown once");
    })
    .await;
}

#[tokio::test]
async fn login_sets_a_strict_cookie_that_works_and_can_be_revoked() {
    each_backend("login_cookie", |db| async move {
        let f = fixture(&db).await;
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"email":"rita@example.org","password":"rita-password-1"}"#,
            ))
            .unwrap();
        let res = tower::ServiceExt::oneshot(f.router.clone(), req)
            .await
            .unwrap();
        let cookie = res
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let pair = cookie.split(';').next().unwrap().to_owned();
        let me = |c: String| {
            Request::builder()
                .uri("/api/v1/auth/me")
                .header("cookie", c)
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(f.raw(me(pair.clone())).await.status.as_u16(), 200);
        let cross = Request::builder()
            .method("POST")
            .uri("/api/v1/auth/logout")
            .header("cookie", pair.clone())
            .header("host", "127.0.0.1:8080")
            .header("origin", "https://evil.example")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            f.raw(cross).await.status.as_u16(),
            403,
            "a cross-site request is refused"
        );
        let out = Request::builder()
            .method("POST")
            .uri("/api/v1/auth/logout")
            .header("cookie", pair.clone())
            .header("host", "127.0.0.1:8080")
            .header("origin", "http://127.0.0.1:8080")
            .body(Body::empty())
            .unwrap();
        assert_eq!(f.raw(out).await.status.as_u16(), 204);
        assert_eq!(
            f.raw(me(pair)).await.status.as_u16(),
            401,
            "a revoked session no longer works"
        );
    })
    .await;
}

#[tokio::test]
async fn guessing_passwords_is_rate_limited_per_account() {
    each_backend("password_guessing", |db| async move {
        let f = fixture(&db).await;
        let mut last = 0;
        for _ in 0..12 {
            let r = f
                .call(
                    "anon",
                    "POST",
                    "/api/v1/auth/login",
                    Some(r#"{"email":"rita@example.org","password":"wrong-password"}"#.into()),
                )
                .await;
            last = r.status.as_u16();
            assert!(last == 401 || last == 429, "{last}");
        }
        assert_eq!(last, 429, "the attempts past the limit are refused");
    })
    .await;
}

#[tokio::test]
async fn the_openapi_document_is_served_and_lists_the_api() {
    each_backend("openapi_served", |db| async move {
        let f = fixture(&db).await;
        let r = f.call("anon", "GET", "/api/openapi.json", None).await;
        assert_eq!(r.status.as_u16(), 200);
        assert!(r.json["paths"]["/api/v1/access-checks"]["post"].is_object());
    })
    .await;
}

#[tokio::test]
async fn spare_keys_on_call_and_locksmiths_refuse_bad_input() {
    each_backend("recovery_bad_input", |db| async move {
        let f = fixture(&db).await;
        let keys = format!("/api/v1/properties/{}/spare-keys", f.property);
        let key = |unit: i64, holder: i64| format!(r#"{{"unit_id":{unit},"holder_id":{holder}}}"#);
        refused(&f, "POST", &keys, &key(999_999, f.manager), 404, "unit").await;
        refused(&f, "POST", &keys, &key(f.unit, 999_999), 422, "holder").await;
        refused(&f, "POST", &keys, &key(f.unit, f.household), 409, "already holds").await;
        let backwards = format!(
            r#"{{"unit_id":{},"holder_id":{},"reachable":{{"type":"date_range","from":"2026-12-01T00:00","until":"2026-11-01T00:00"}}}}"#,
            f.unit, f.manager
        );
        refused(&f, "POST", &keys, &backwards, 422, "reachable").await;
        refused(&f, "POST", &keys, r#"{"unit_id":1,"holder_id":1,"colour":"red"}"#, 422, "colour").await;

        let smiths = format!("/api/v1/properties/{}/locksmiths", f.property);
        refused(&f, "POST", &smiths, r#"{"company":"  ","licence":"L","phone":"5"}"#, 422, "company").await;
        refused(&f, "POST", &smiths, r#"{"company":"A","licence":"L","phone":"5","callout_cents":-1}"#, 422, "callout_cents").await;
        refused(&f, "POST", &smiths, r#"{"company":"Keys & Sons","licence":"L","phone":"5"}"#, 409, "already registered").await;
        let status = format!("/api/v1/locksmiths/{}/status", f.locksmith);
        refused(&f, "PUT", &status, r#"{"status":"trusted"}"#, 422, "status").await;
        refused(&f, "PUT", "/api/v1/locksmiths/999999/status", r#"{"status":"verified"}"#, 404, "locksmith").await;

        let resident_on_call = format!("/api/v1/properties/{}/on-call/{}", f.property, f.resident);
        refused(&f, "PUT", &resident_on_call, r#"{"schedule":{"type":"always"}}"#, 422, "person_id").await;
        let manager_on_call = format!("/api/v1/properties/{}/on-call/{}", f.property, f.manager);
        refused(
            &f,
            "PUT",
            &manager_on_call,
            r#"{"schedule":{"type":"weekly","windows":[{"days":[],"start":"18:00","end":"08:00"}]}}"#,
            422,
            "schedule",
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn lockout_requests_and_proof_policies_refuse_bad_input() {
    each_backend("lockout_bad_input", |db| async move {
        let f = fixture(&db).await;
        let prop = format!("/api/v1/properties/{}", f.property);
        refused(
            &f,
            "PATCH",
            &prop,
            r#"{"policy":{"recovery_proofs":[]}}"#,
            422,
            "recovery_proofs",
        )
        .await;
        refused(
            &f,
            "PATCH",
            &prop,
            r#"{"policy":{"recovery_proofs":["retina"]}}"#,
            422,
            "retina",
        )
        .await;
        let start = format!(
            r#"{{"property_id":{},"unit":"","identity":"Rita"}}"#,
            f.property
        );
        refused(&f, "POST", "/api/v1/lockouts", &start, 422, "unit").await;
        let long = format!(
            r#"{{"property_id":{},"unit":"1A","identity":"{}"}}"#,
            f.property,
            "x".repeat(201)
        );
        refused(&f, "POST", "/api/v1/lockouts", &long, 422, "identity").await;
        refused(
            &f,
            "POST",
            "/api/v1/lockouts",
            r#"{"property_id":1,"unit":"1A"}"#,
            422,
            "identity",
        )
        .await;
        let check = format!("/api/v1/lockouts/{}/proofs/id-check", f.lockout);
        refused(&f, "POST", &check, r#"{"document":""}"#, 422, "document").await;
    })
    .await;
}

#[tokio::test]
async fn openings_locksmith_jobs_fees_and_incidents_refuse_bad_input() {
    each_backend("resolution_bad_input", |db| async move {
        let f = fixture(&db).await;
        let prop = format!("/api/v1/properties/{}", f.property);
        for (policy, needle) in [
            (
                r#"{"lockout_fee_office_cents":-1}"#,
                "lockout_fee_office_cents",
            ),
            (
                r#"{"lockout_fee_after_hours_cents":2000000}"#,
                "lockout fees",
            ),
            (r#"{"free_lockouts_per_year":99}"#, "free_lockouts_per_year"),
            (r#"{"locksmith_paid_by":"the cat"}"#, "the cat"),
            (r#"{"one_time_pin_minutes":0}"#, "one_time_pin_minutes"),
            (
                r#"{"credential_change_delay_minutes":99999}"#,
                "credential_change_delay_minutes",
            ),
            (r#"{"recovery_proofs":["presence"]}"#, "require_presence"),
        ] {
            refused(
                &f,
                "PATCH",
                &prop,
                &format!(r#"{{"policy":{policy}}}"#),
                422,
                needle,
            )
            .await;
        }
        let case = format!("/api/v1/lockouts/{}", f.lockout);
        refused(
            &f,
            "POST",
            &format!("{case}/staff-open"),
            r#"{"door_id":"five"}"#,
            422,
            "door_id",
        )
        .await;
        refused(
            &f,
            "POST",
            &format!("{case}/staff-open"),
            &format!(r#"{{"door_id":{},"wait_seconds":99}}"#, f.door),
            422,
            "wait_seconds",
        )
        .await;
        refused(
            &f,
            "POST",
            &format!("{case}/locksmith-jobs"),
            &format!(r#"{{"locksmith_id":{},"window_minutes":5}}"#, f.locksmith),
            422,
            "window_minutes",
        )
        .await;
        refused(
            &f,
            "POST",
            &format!("{case}/locksmith-jobs"),
            r#"{"locksmith_id":999999}"#,
            422,
            "locksmith_id",
        )
        .await;
        refused(
            &f,
            "POST",
            &format!("{case}/forced-entry"),
            &format!(r#"{{"door_id":{},"how":""}}"#, f.door),
            422,
            "how",
        )
        .await;
        refused(
            &f,
            "POST",
            &format!("{case}/forced-entry"),
            &format!(r#"{{"door_id":{},"how":"kicked"}}"#, f.other_door),
            422,
            "door_id",
        )
        .await;
        refused(
            &f,
            "POST",
            "/api/v1/locksmith-jobs/code",
            r#"{"token":"lkj_x","document":"passport","pin":"1234"}"#,
            422,
            "pin",
        )
        .await;
        refused(
            &f,
            "POST",
            "/api/v1/locksmith-jobs/1/complete",
            r#"{"cost_cents":"a lot","work":"code"}"#,
            422,
            "cost_cents",
        )
        .await;
        refused(
            &f,
            "GET",
            &format!("/api/v1/properties/{}/ledger?unit_id=x", f.property),
            "",
            400,
            "unit_id",
        )
        .await;
        refused(
            &f,
            "POST",
            "/api/v1/incidents/1/close",
            r#"{"note":"done","by":"me"}"#,
            422,
            "by",
        )
        .await;
        let open = format!("/api/v1/doors/{}/incidents", f.door);
        for (body, needle) in [
            (r#"{"kind":"service","note":"   "}"#, "note"),
            (r#"{"kind":"fire","note":"smoke"}"#, "kind"),
            (r#"{"note":"loose"}"#, "kind"),
            (r#"{"kind":"service","note":"loose","door":2}"#, "door"),
        ] {
            refused(&f, "POST", &open, body, 422, needle).await;
        }
        let long = format!(r#"{{"kind":"service","note":"{}"}}"#, "x".repeat(201));
        refused(&f, "POST", &open, &long, 422, "note").await;
        refused(
            &f,
            "POST",
            "/api/v1/doors/999999/incidents",
            r#"{"kind":"service","note":"loose"}"#,
            404,
            "door",
        )
        .await;
    })
    .await;
}

/// A request with nothing wrong in it is never answered "unprocessable": signing out ends a
/// session, and someone signed in with an API token has none, so that is a conflict with the
/// state, which names the way to revoke a token instead; the token keeps working.
#[tokio::test]
async fn signing_out_with_an_api_token_is_a_conflict_that_names_the_way_to_revoke_it() {
    each_backend("logout_with_token", |db| async move {
        let f = fixture(&db).await;
        let before = f.event_count().await;
        let r = f
            .call("resident", "POST", "/api/v1/auth/logout", None)
            .await;
        assert_eq!(r.status.as_u16(), 409, "{}", r.json);
        assert!(r.content_type.starts_with("application/problem+json"));
        let detail = r.json["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("DELETE /api/v1/tokens/"),
            "detail `{detail}` should say how to revoke a token"
        );
        assert_eq!(f.event_count().await, before, "nothing was recorded");
        let me = f.call("resident", "GET", "/api/v1/auth/me", None).await;
        assert_eq!(me.status.as_u16(), 200, "the token still works");
    })
    .await;
}

/// JSON has one kind of number, and the document says "integer": `3.0` is the integer 3 (as JSON
/// Schema counts it), so it is accepted as 3; `3.5` is still refused, naming the field.
#[tokio::test]
async fn a_whole_number_written_with_a_decimal_point_is_that_integer() {
    each_backend("integral_floats", |db| async move {
        let f = fixture(&db).await;
        let units = format!("/api/v1/properties/{}/units", f.property);
        let r = f
            .call(
                "admin",
                "POST",
                &units,
                Some(r#"{"label":"9Q","floor":3.0}"#.into()),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.json);
        assert_eq!(r.json["floor"], 3);
        refused(
            &f,
            "POST",
            &units,
            r#"{"label":"9R","floor":3.5}"#,
            422,
            "floor",
        )
        .await;
        refused(
            &f,
            "POST",
            &units,
            r#"{"label":"9S","floor":1e300}"#,
            422,
            "floor",
        )
        .await;
    })
    .await;
}

/// A well-formed request the current state cannot serve yet is a conflict (409), not an
/// unprocessable request: a move-out receipt exists only once the membership has ended.
#[tokio::test]
async fn a_move_out_receipt_before_the_move_out_is_a_conflict() {
    each_backend("receipt_conflict", |db| async move {
        let f = fixture(&db).await;
        let before = f.event_count().await;
        let r = f
            .call(
                "admin",
                "GET",
                &format!("/api/v1/memberships/{}/receipt", f.household_membership),
                None,
            )
            .await;
        assert_eq!(r.status.as_u16(), 409, "{}", r.json);
        assert!(r.content_type.starts_with("application/problem+json"));
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("has not ended")
        );
        assert_eq!(f.event_count().await, before);
    })
    .await;
}

/// An admin stands at every property, even one that does not exist; a membership there is
/// "not found", never an internal error, and nothing is written.
#[tokio::test]
async fn a_membership_at_a_property_that_does_not_exist_is_not_found() {
    each_backend("membership_nowhere", |db| async move {
        let f = fixture(&db).await;
        let body = format!(r#"{{"person_id":{},"role":"manager"}}"#, f.manager);
        refused(
            &f,
            "POST",
            "/api/v1/properties/9223372036854775807/memberships",
            &body,
            404,
            "not found",
        )
        .await;
    })
    .await;
}

/// The same for a new person with a property-wide role.
#[tokio::test]
async fn a_person_at_a_property_that_does_not_exist_is_not_found() {
    each_backend("person_nowhere", |db| async move {
        let f = fixture(&db).await;
        refused(
            &f,
            "POST",
            "/api/v1/properties/9223372036854775807/people",
            r#"{"name":"Nobody Anywhere","membership":{"role":"manager"}}"#,
            404,
            "not found",
        )
        .await;
    })
    .await;
}

/// Every body is a JSON object; an array in its place (which serde would read field by field)
/// is refused and changes nothing.
#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused() {
    each_backend("array_bodies", |db| async move {
        let f = fixture(&db).await;
        let unit = format!("/api/v1/units/{}", f.unit);
        refused(&f, "PATCH", &unit, "[null, null]", 422, "JSON object").await;
        refused(&f, "PATCH", &unit, r#"["9Z"]"#, 422, "JSON object").await;
        let r = f.call("admin", "GET", &unit, None).await;
        assert_eq!(r.json["label"], "1A", "the unit is unchanged");
    })
    .await;
}

/// Revealing something that is not an active PIN (here the holder's own phone key) conflicts
/// with what the credential is: 409, with the reason, and nothing is revealed or recorded.
#[tokio::test]
async fn revealing_a_credential_that_is_not_an_active_pin_is_a_conflict() {
    each_backend("reveal_phone_key", |db| async move {
        let f = fixture(&db).await;
        let body = format!(
            r#"{{"person_id":{},"kind":"phone_key","unit_id":{}}}"#,
            f.resident, f.unit
        );
        let r = f
            .call(
                "resident",
                "POST",
                &format!("/api/v1/properties/{}/credentials", f.property),
                Some(body),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.json);
        let key = r.json["credential"]["id"].as_i64().unwrap();
        let before = f.event_count().await;
        let r = f
            .call(
                "resident",
                "POST",
                &format!("/api/v1/credentials/{key}/reveal"),
                None,
            )
            .await;
        assert_eq!(r.status.as_u16(), 409, "{}", r.json);
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("not an active PIN")
        );
        assert!(r.json.get("pin").is_none());
        assert_eq!(f.event_count().await, before);
    })
    .await;
}

#[tokio::test]
async fn an_erasure_request_with_a_bad_note_is_refused_and_records_nothing() {
    each_backend("bad_erasure_request", |db| async move {
        let f = fixture(&db).await;
        let path = "/api/v1/me/erasure-request";
        refused_as(
            &f,
            "resident",
            "POST",
            path,
            r#"{"note":"   "}"#,
            422,
            "note",
        )
        .await;
        let long = format!(r#"{{"note":"{}"}}"#, "x".repeat(501));
        refused_as(&f, "resident", "POST", path, &long, 422, "note").await;
        refused_as(&f, "resident", "POST", path, r#"{"note":7}"#, 422, "note").await;
        // There is no person to name: the request is always the caller's.
        refused_as(
            &f,
            "resident",
            "POST",
            path,
            r#"{"person_id":1}"#,
            422,
            "person_id",
        )
        .await;
        refused_as(&f, "resident", "POST", path, "{", 400, "JSON").await;
        refused_as(&f, "admin", "POST", path, "{}", 409, "admin").await;
        let r = f
            .call(
                "manager",
                "GET",
                &format!("/api/v1/properties/{}/erasure-requests", f.property),
                None,
            )
            .await;
        assert_eq!(r.status.as_u16(), 200);
        assert_eq!(r.json, serde_json::json!([]), "nothing was recorded");
        let r = f
            .call(
                "resident",
                "POST",
                path,
                Some(r#"{"note":"moving 31 March"}"#.into()),
            )
            .await;
        assert_eq!(r.status.as_u16(), 202, "{}", r.json);
        assert_eq!(r.json["already_requested"], false);
        let r = f
            .call(
                "manager",
                "GET",
                &format!("/api/v1/properties/{}/erasure-requests", f.property),
                None,
            )
            .await;
        assert_eq!(r.json.as_array().map(Vec::len), Some(1), "{}", r.json);
        assert_eq!(r.json[0]["note"], "moving 31 March");
    })
    .await;
}

#[tokio::test]
async fn broker_logins_refuse_bad_input_and_show_a_password_once() {
    each_backend("broker_logins_api", |db| async move {
        let f = fixture(&db).await;
        let logins = "/api/v1/broker-logins";
        refused(
            &f,
            "POST",
            logins,
            r#"{"name":"stick","role":"admin"}"#,
            422,
            "role",
        )
        .await;
        refused(
            &f,
            "POST",
            logins,
            r#"{"name":"hall stick/#","role":"gateway"}"#,
            422,
            "name",
        )
        .await;
        refused(
            &f,
            "POST",
            logins,
            r#"{"name":"","role":"observer"}"#,
            422,
            "name",
        )
        .await;
        refused(
            &f,
            "POST",
            logins,
            r#"{"name":"stick","role":"gateway","acl":"all"}"#,
            422,
            "acl",
        )
        .await;
        refused(
            &f,
            "POST",
            logins,
            r#"{"name":"hall-stick","role":"gateway"}"#,
            409,
            "hall-stick",
        )
        .await;
        refused(
            &f,
            "POST",
            "/api/v1/broker-logins/999999/rotate",
            "{}",
            404,
            "broker login",
        )
        .await;
        refused(
            &f,
            "DELETE",
            "/api/v1/broker-logins/999999",
            "{}",
            404,
            "broker login",
        )
        .await;

        // Created: the password and Zigbee2MQTT's settings once, audited like the terminal's.
        let before = f.event_count().await;
        let made = f
            .call(
                "admin",
                "POST",
                logins,
                Some(r#"{"name":"attic","role":"observer"}"#.into()),
            )
            .await;
        assert_eq!(made.status.as_u16(), 201, "{}", made.json);
        let password = made.json["password"].as_str().unwrap().to_owned();
        assert!(password.starts_with("lkm_"), "{}", made.json);
        let z2m = &made.json["zigbee2mqtt"];
        assert_eq!(z2m["user"], "attic");
        assert_eq!(z2m["password"].as_str(), Some(password.as_str()));
        assert_eq!(z2m["server"], "mqtt://THIS-HOST:1883");
        assert!(
            z2m["yaml"]
                .as_str()
                .unwrap()
                .contains("base_topic: zigbee2mqtt")
        );
        assert_eq!(f.event_count().await, before + 1);
        let id = made.json["login"]["id"].as_i64().unwrap();

        let listed = f.call("admin", "GET", logins, None).await;
        assert_eq!(listed.status.as_u16(), 200);
        let text = listed.json.to_string();
        assert!(
            text.contains("attic") && text.contains("hall-stick"),
            "{text}"
        );
        assert!(!text.contains(&password), "a list never shows a password");

        let rotated = f
            .call("admin", "POST", &format!("{logins}/{id}/rotate"), None)
            .await;
        assert_eq!(rotated.status.as_u16(), 200, "{}", rotated.json);
        assert_ne!(rotated.json["password"].as_str(), Some(password.as_str()));
        let revoked = f
            .call("admin", "DELETE", &format!("{logins}/{id}"), None)
            .await;
        assert_eq!(revoked.status.as_u16(), 204);
        refused(
            &f,
            "DELETE",
            &format!("{logins}/{id}"),
            "{}",
            404,
            "broker login",
        )
        .await;
        let mut conn = f.store.read().await.unwrap();
        let events = latchkey_store::audit::query(
            &mut conn,
            &latchkey_store::audit::EventFilter {
                subject: Some("broker_login:attic".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let mut kinds: Vec<String> = events.into_iter().map(|e| e.kind).collect();
        kinds.sort();
        assert_eq!(
            kinds,
            [
                "broker.login_created",
                "broker.login_revoked",
                "broker.login_rotated"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_property_states_what_staff_see_and_the_statement_is_not_a_setting() {
    each_backend("staff_see", |db| async move {
        let f = fixture(&db).await;
        let path = format!("/api/v1/properties/{}", f.property);
        let got = f.call("resident", "GET", &path, None).await;
        assert_eq!(got.status.as_u16(), 200, "{}", got.json);
        let see = &got.json["staff_see"];
        assert_eq!(
            see["without_reason"],
            serde_json::json!(["security", "shared_doors", "property_records"])
        );
        let with_reason: Vec<&str> = see["with_reason"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k.as_str())
            .collect();
        assert!(with_reason.contains(&"access.granted") && with_reason.contains(&"lock.unlocked"));
        assert!(
            !with_reason.contains(&"lock.alarm"),
            "alarms stay visible to staff"
        );
        // Nobody turns the rule off: neither in the policy nor beside it.
        refused(
            &f,
            "PATCH",
            &path,
            r#"{"policy":{"staff_see":["unit_doors"]}}"#,
            422,
            "staff_see",
        )
        .await;
        refused(
            &f,
            "PATCH",
            &path,
            r#"{"staff_see":{"without_reason":[]}}"#,
            422,
            "staff_see",
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn bad_push_subscriptions_are_refused_with_the_field_and_change_nothing() {
    each_backend("bad_push", |db| async move {
        let f = fixture(&db).await;
        let keys = common::PUSH_KEYS;
        let path = "/api/v1/me/push-subscriptions";
        let auth = "BTBZMqHH6r4Tts7J_aSIgg";
        let p256dh = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
        let cases: Vec<(String, u16, &str)> = vec![
            (format!(r#"{{"endpoint":"not a url","keys":{keys}}}"#), 422, "endpoint"),
            (format!(r#"{{"endpoint":"http://push.example.net/x","keys":{keys}}}"#), 422, "https://"),
            (format!(r#"{{"endpoint":"http://127.0.0.1:9/x","keys":{keys}}}"#), 422, "https://"),
            (format!(r#"{{"endpoint":"ftp://push.example.net/x","keys":{keys}}}"#), 422, "https://"),
            (format!(r#"{{"endpoint":"https://u:p@push.example.net/x","keys":{keys}}}"#), 422, "user name"),
            (format!(r#"{{"endpoint":"https://push.example.net/{}","keys":{keys}}}"#, "x".repeat(2100)), 422, "2048"),
            (format!(r#"{{"endpoint":"https://push.example.net/x","keys":{{"p256dh":"AAAA","auth":"{auth}"}}}}"#), 422, "keys.p256dh"),
            (format!(r#"{{"endpoint":"https://push.example.net/x","keys":{{"p256dh":"{p256dh}AAAA","auth":"{auth}"}}}}"#), 422, "keys.p256dh"),
            (format!(r#"{{"endpoint":"https://push.example.net/x","keys":{{"p256dh":"BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ","auth":"{auth}"}}}}"#), 422, "P-256"),
            (format!(r#"{{"endpoint":"https://push.example.net/x","keys":{{"p256dh":"{p256dh}","auth":"AAAAAAAAAAAAAAAAAAAA"}}}}"#), 422, "keys.auth"),
            (format!(r#"{{"endpoint":"https://push.example.net/x","keys":{{"p256dh":"{p256dh}","auth":"not base64!"}}}}"#), 422, "keys.auth"),
            (r#"{"endpoint":"https://push.example.net/x"}"#.to_owned(), 422, "keys"),
            (format!(r#"{{"endpoint":"https://push.example.net/x","keys":{keys},"name":"   "}}"#), 422, "name"),
            (format!(r#"{{"endpoint":"https://push.example.net/x","keys":{keys},"colour":"red"}}"#), 422, "colour"),
            ("{".to_owned(), 400, "not valid JSON"),
        ];
        for (body, status, needle) in cases {
            refused_as(&f, "resident", "POST", path, &body, status, needle).await;
        }
        let mine = f.call("resident", "GET", path, None).await;
        assert_eq!(
            mine.json.as_array().map(Vec::len),
            Some(1),
            "still only the subscription from before: {}",
            mine.json
        );
        refused_as(&f, "resident", "DELETE", &format!("{path}/999999"), "", 404, "push subscription").await;
        refused_as(&f, "resident", "DELETE", &format!("{path}/abc"), "", 400, "").await;
    })
    .await;
}

#[tokio::test]
async fn webhook_endpoints_refuse_bad_input_and_show_a_secret_once() {
    each_backend("webhooks_api", |db| async move {
        let f = fixture(&db).await;
        let hooks = format!("/api/v1/properties/{}/webhooks", f.property);
        for (body, status, needle) in [
            (r#"{"url":"ftp://example.org/x","kinds":["lock.jammed"]}"#, 422, "http"),
            (r#"{"url":"no url","kinds":["lock.jammed"]}"#, 422, "url"),
            (r#"{"url":"https://u:p@example.org/","kinds":["lock.jammed"]}"#, 422, "password"),
            (r#"{"url":"https://example.org/","kinds":[]}"#, 422, "kinds"),
            (r#"{"url":"https://example.org/","kinds":["no.such_kind"]}"#, 422, "no.such_kind"),
            (r#"{"url":"https://example.org/","kinds":["door.opened"]}"#, 422, "comings and goings"),
            (r#"{"url":"https://example.org/","kinds":["access.granted"]}"#, 422, "access.granted"),
            (r#"{"url":"https://example.org/","kinds":["lock.jammed"],"secret":"x"}"#, 422, "secret"),
            (r#"{"url":"https://example.org/","kinds":"lock.jammed"}"#, 422, "kinds"),
            (r#"{"kinds":["lock.jammed"]}"#, 422, "url"),
        ] {
            refused(&f, "POST", &hooks, body, status, needle).await;
        }
        let one = format!("/api/v1/webhooks/{}", f.webhook);
        refused(&f, "PATCH", &one, r#"{"kinds":["lock.unlocked"]}"#, 422, "lock.unlocked").await;
        refused(&f, "PATCH", &one, r#"{"enabled":"yes"}"#, 422, "enabled").await;
        refused(&f, "PATCH", &one, r#"{"kinds":null}"#, 422, "kinds").await;
        refused(&f, "PATCH", "/api/v1/webhooks/999999", r#"{"enabled":false}"#, 404, "webhook").await;
        refused(&f, "POST", "/api/v1/webhooks/999999/rotate-secret", "{}", 404, "webhook").await;
        refused(&f, "DELETE", "/api/v1/webhooks/999999", "{}", 404, "webhook").await;
        // An admin naming a property that does not exist: not found, not a storage error.
        let nowhere = "/api/v1/properties/9223372036854775807/webhooks";
        refused(&f, "POST", nowhere, r#"{"url":"https://example.org/","kinds":["lock.alarm"]}"#, 404, "property").await;

        // Created: the secret once, never in the listing or the audit log.
        let made = f
            .call(
                "manager",
                "POST",
                &hooks,
                Some(r#"{"url":"https://example.org/in","kinds":["lock.jammed","door.compromised"]}"#.into()),
            )
            .await;
        assert_eq!(made.status.as_u16(), 201, "{}", made.json);
        let secret = made.json["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        let list = f.call("manager", "GET", &hooks, None).await;
        assert!(!list.json.to_string().contains(&secret[6..]));
        let mut conn = f.store.read().await.unwrap();
        let events = latchkey_store::audit::after(&mut conn, 0, 100_000).await.unwrap();
        assert!(!format!("{events:?}").contains(&secret[6..]));
    })
    .await;
}
