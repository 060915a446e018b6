//! Every endpoint of the OpenAPI document × every role × own/other resource. The table below
//! must have a row for each operation the router serves, so a new endpoint cannot be added
//! without deciding who may call it.
//!
//! Unlike the other storage and API tests (which run on every backend) this one runs on SQLite
//! only: it builds a fresh building for every cell, some 350 of them, and who may call what is
//! decided by the authorization module above the store, not by the backend. `bad_input.rs` and the store and
//! app suites run on every backend.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, ROLES, fixture};
use latchkey_testkit::TestDb;

/// Statuses in the order of `ROLES`: anon, outsider, guest, household, resident, manager,
/// installer, admin.
struct Row {
    op: &'static str,
    path: fn(&Fixture, &str) -> String,
    body: fn(&Fixture, &str) -> Option<String>,
    expect: &'static str,
}

fn none(_: &Fixture, _: &str) -> Option<String> {
    None
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            op: "post /api/v1/auth/login",
            path: |_, _| "/api/v1/auth/login".into(),
            body: |_, _| {
                Some(r#"{"email":"rita@example.org","password":"rita-password-1"}"#.into())
            },
            expect: "200 200 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/auth/logout",
            path: |_, _| "/api/v1/auth/logout".into(),
            body: none,
            expect: "401 409 409 409 409 409 409 409",
        },
        Row {
            op: "get /api/v1/auth/me",
            path: |_, _| "/api/v1/auth/me".into(),
            body: none,
            expect: "401 200 200 200 200 200 200 200",
        },
        Row {
            op: "get /api/v1/sessions",
            path: |_, _| "/api/v1/sessions".into(),
            body: none,
            expect: "401 200 200 200 200 200 200 200",
        },
        Row {
            op: "delete /api/v1/sessions/{id}",
            path: |f, _| format!("/api/v1/sessions/{}", f.resident_session),
            body: none,
            expect: "401 404 404 404 204 404 404 204",
        },
        Row {
            op: "get /api/v1/tokens",
            path: |_, _| "/api/v1/tokens".into(),
            body: none,
            expect: "401 200 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/tokens",
            path: |_, _| "/api/v1/tokens".into(),
            body: |_, _| Some(r#"{"name":"cron"}"#.into()),
            expect: "401 201 201 201 201 201 201 201",
        },
        Row {
            op: "delete /api/v1/tokens/{id}",
            path: |f, r| format!("/api/v1/tokens/{}", f.tokens.get(r).map_or(1, |t| t.1)),
            body: none,
            expect: "401 204 204 204 204 204 204 204",
        },
        Row {
            op: "get /api/v1/properties",
            path: |_, _| "/api/v1/properties".into(),
            body: none,
            expect: "401 200 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/properties",
            path: |_, _| "/api/v1/properties".into(),
            body: |_, r| Some(format!(r#"{{"name":"New {r}","timezone":"Europe/Paris"}}"#)),
            expect: "401 403 403 403 403 403 403 201",
        },
        Row {
            op: "get /api/v1/properties/{id}",
            path: |f, _| format!("/api/v1/properties/{}", f.property),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "patch /api/v1/properties/{id}",
            path: |f, _| format!("/api/v1/properties/{}", f.property),
            body: |_, _| Some(r#"{"address":"1 Main St"}"#.into()),
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "get /api/v1/properties/{id}/units",
            path: |f, _| format!("/api/v1/properties/{}/units", f.property),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/units",
            path: |f, _| format!("/api/v1/properties/{}/units", f.property),
            body: |_, r| Some(format!(r#"{{"label":"9{r}","floor":9}}"#)),
            expect: "401 404 403 403 403 201 201 201",
        },
        Row {
            op: "post /api/v1/properties/{id}/import",
            path: |f, _| format!("/api/v1/properties/{}/import", f.property),
            body: |_, r| {
                Some(format!(
                    "unit,floor,door,resident_name,resident_email,role\nI{r},9,Door I{r},,,\n"
                ))
            },
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "get /api/v1/units/{id}",
            path: |f, _| format!("/api/v1/units/{}", f.unit),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "patch /api/v1/units/{id}",
            path: |f, _| format!("/api/v1/units/{}", f.unit),
            body: |_, _| Some(r#"{"floor":3}"#.into()),
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "get /api/v1/properties/{id}/door-groups",
            path: |f, _| format!("/api/v1/properties/{}/door-groups", f.property),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/door-groups",
            path: |f, _| format!("/api/v1/properties/{}/door-groups", f.property),
            body: |f, r| Some(format!(r#"{{"name":"g {r}","doors":[{}]}}"#, f.door)),
            expect: "401 404 403 403 403 201 201 201",
        },
        Row {
            op: "get /api/v1/door-groups/{id}",
            path: |f, _| format!("/api/v1/door-groups/{}", f.group),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "put /api/v1/door-groups/{id}",
            path: |f, _| format!("/api/v1/door-groups/{}", f.group),
            body: |f, _| Some(format!(r#"{{"doors":[{}]}}"#, f.door)),
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "get /api/v1/properties/{id}/doors",
            path: |f, _| format!("/api/v1/properties/{}/doors", f.property),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/doors",
            path: |f, _| format!("/api/v1/properties/{}/doors", f.property),
            body: |_, r| Some(format!(r#"{{"name":"Door {r}","kind":"amenity"}}"#)),
            expect: "401 404 403 403 403 201 201 201",
        },
        Row {
            op: "get /api/v1/doors/{id}",
            path: |f, _| format!("/api/v1/doors/{}", f.door),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "patch /api/v1/doors/{id}",
            path: |f, _| format!("/api/v1/doors/{}", f.door),
            // Staff changing a home's mode say why (docs/DEVICES.md, "Door modes").
            body: |_, _| Some(r#"{"mode":"privacy","reason":"checking who may do this"}"#.into()),
            expect: "401 404 403 403 200 200 200 200",
        },
        Row {
            op: "get /api/v1/properties/{id}/sensors",
            path: |f, _| format!("/api/v1/properties/{}/sensors", f.property),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/sensors",
            path: |f, _| format!("/api/v1/properties/{}/sensors", f.property),
            body: |_, r| Some(format!(r#"{{"name":"s {r}","kind":"door_contact"}}"#)),
            expect: "401 404 403 403 403 201 201 201",
        },
        Row {
            op: "get /api/v1/sensors/{id}",
            path: |f, _| format!("/api/v1/sensors/{}", f.sensor),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "get /api/v1/properties/{id}/people",
            path: |f, _| format!("/api/v1/properties/{}/people", f.property),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/people",
            path: |f, _| format!("/api/v1/properties/{}/people", f.property),
            body: |f, r| {
                Some(format!(
                    r#"{{"name":"Kid {r}","email":"kid.{r}@example.org","membership":{{"role":"household","unit_id":{}}}}}"#,
                    f.unit
                ))
            },
            expect: "401 404 403 403 201 201 201 201",
        },
        Row {
            op: "get /api/v1/people/{id}",
            path: |f, _| format!("/api/v1/people/{}", f.household),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "patch /api/v1/people/{id}",
            path: |f, _| format!("/api/v1/people/{}", f.household),
            body: |_, _| Some(r#"{"phone":"+49 30 1234"}"#.into()),
            expect: "401 404 403 200 200 200 200 200",
        },
        Row {
            // A sign-in e-mail: the person themself and staff only, never their unit's residents.
            op: "patch /api/v1/people/{id}",
            path: |f, _| format!("/api/v1/people/{}", f.household),
            body: |_, r| Some(format!(r#"{{"email":"changed.by.{r}@example.org"}}"#)),
            expect: "401 404 403 200 403 200 200 200",
        },
        Row {
            // Staff invite; everyone else is told the person is not found, as for nobody.
            op: "post /api/v1/people/{id}/invitation",
            path: |f, _| format!("/api/v1/people/{}/invitation", f.household),
            body: none,
            expect: "401 404 404 404 404 201 201 201",
        },
        Row {
            // A fresh building has no link to withdraw: 404 for all, staff included.
            op: "delete /api/v1/people/{id}/invitation",
            path: |f, _| format!("/api/v1/people/{}/invitation", f.household),
            body: none,
            expect: "401 404 404 404 404 404 404 404",
        },
        Row {
            op: "get /api/v1/properties/{id}/memberships",
            path: |f, _| format!("/api/v1/properties/{}/memberships", f.property),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/memberships",
            path: |f, _| format!("/api/v1/properties/{}/memberships", f.property),
            body: |f, _| {
                Some(format!(
                    r#"{{"person_id":{},"role":"trusted_contact","unit_id":{}}}"#,
                    f.resident, f.unit
                ))
            },
            expect: "401 404 403 403 403 201 201 201",
        },
        Row {
            op: "get /api/v1/memberships/{id}",
            path: |f, _| format!("/api/v1/memberships/{}", f.household_membership),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/memberships/{id}/end",
            path: |f, _| format!("/api/v1/memberships/{}/end", f.household_membership),
            body: |_, _| Some("{}".into()),
            expect: "401 404 403 403 200 200 200 200",
        },
        Row {
            op: "get /api/v1/properties/{id}/credentials",
            path: |f, _| format!("/api/v1/properties/{}/credentials", f.property),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/credentials",
            path: |f, _| format!("/api/v1/properties/{}/credentials", f.property),
            body: |f, _| {
                Some(format!(
                    r#"{{"person_id":{},"kind":"phone_key","unit_id":{}}}"#,
                    f.household, f.unit
                ))
            },
            expect: "401 404 403 403 201 201 201 201",
        },
        // A PIN without a code: latchkey generates it, for residents and staff alike.
        Row {
            op: "post /api/v1/properties/{id}/credentials",
            path: |f, _| format!("/api/v1/properties/{}/credentials", f.property),
            body: |f, _| {
                Some(format!(
                    r#"{{"person_id":{},"kind":"pin","unit_id":{}}}"#,
                    f.household, f.unit
                ))
            },
            expect: "401 404 403 403 201 201 201 201",
        },
        // A chosen code on the unit's doors, which include the shared lobby: nobody may.
        Row {
            op: "post /api/v1/properties/{id}/credentials",
            path: |f, _| format!("/api/v1/properties/{}/credentials", f.property),
            body: |f, _| {
                Some(format!(
                    r#"{{"person_id":{},"kind":"pin","unit_id":{},"pin":"731946"}}"#,
                    f.household, f.unit
                ))
            },
            expect: "401 404 403 403 422 422 422 422",
        },
        Row {
            op: "get /api/v1/credentials/{id}",
            path: |f, _| format!("/api/v1/credentials/{}", f.credential),
            body: none,
            expect: "401 404 404 200 200 200 200 200",
        },
        Row {
            op: "patch /api/v1/credentials/{id}",
            path: |f, _| format!("/api/v1/credentials/{}", f.credential),
            body: |_, _| Some(r#"{"label":"front"}"#.into()),
            expect: "401 404 404 403 200 200 200 200",
        },
        Row {
            op: "post /api/v1/credentials/{id}/revoke",
            path: |f, _| format!("/api/v1/credentials/{}/revoke", f.credential),
            body: none,
            expect: "401 404 404 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/credentials/{id}/freeze",
            path: |f, _| format!("/api/v1/credentials/{}/freeze", f.credential),
            body: none,
            expect: "401 404 404 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/credentials/{id}/unfreeze",
            path: |f, _| format!("/api/v1/credentials/{}/unfreeze", f.credential),
            body: none,
            expect: "401 404 404 403 200 200 200 200",
        },
        Row {
            op: "post /api/v1/credentials/{id}/reveal",
            path: |f, _| format!("/api/v1/credentials/{}/reveal", f.credential),
            body: none,
            expect: "401 404 404 200 403 403 403 403",
        },
        Row {
            op: "post /api/v1/access-checks",
            path: |_, _| "/api/v1/access-checks".into(),
            body: |f, _| {
                Some(format!(
                    r#"{{"credential_id":{},"door_id":{}}}"#,
                    f.credential, f.door
                ))
            },
            expect: "401 404 404 200 200 200 200 200",
        },
        Row {
            op: "get /api/v1/events",
            path: |_, _| "/api/v1/events".into(),
            body: none,
            expect: "401 200 200 200 200 200 200 200",
        },
        Row {
            // A unit's door activity for an open lockout case: staff only, and the household
            // then sees that they looked (crates/latchkey-app/tests/privacy.rs).
            op: "get /api/v1/events",
            path: |f, _| format!("/api/v1/events?reason=case:{}", f.lockout),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "get /api/v1/me/export",
            path: |_, _| "/api/v1/me/export".into(),
            body: none,
            expect: "401 200 200 200 200 200 200 200",
        },
        Row {
            // The household member has not moved out: staff are told so; the household may
            // not erase anyone; an outsider does not learn the person exists.
            op: "post /api/v1/people/{id}/erasure",
            path: |f, _| format!("/api/v1/people/{}/erasure", f.household),
            body: none,
            expect: "401 404 403 403 403 409 409 409",
        },
        Row {
            // Always the caller's own request (the outsider lives in another building, whose
            // staff are told); an admin cannot be erased (409).
            op: "post /api/v1/me/erasure-request",
            path: |_, _| "/api/v1/me/erasure-request".into(),
            body: |_, _| Some("{}".into()),
            expect: "401 202 202 202 202 202 202 409",
        },
        Row {
            op: "get /api/v1/properties/{id}/erasure-requests",
            path: |f, _| format!("/api/v1/properties/{}/erasure-requests", f.property),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "get /api/v1/devices",
            path: |_, _| "/api/v1/devices".into(),
            body: none,
            expect: "401 403 403 403 403 403 200 200",
        },
        Row {
            op: "put /api/v1/doors/{id}/lock",
            path: |f, _| format!("/api/v1/doors/{}/lock", f.door),
            body: |_, r| Some(format!(r#"{{"device":"lock-{r}"}}"#)),
            expect: "401 404 403 403 403 403 204 204",
        },
        Row {
            op: "put /api/v1/sensors/{id}/device",
            path: |f, _| format!("/api/v1/sensors/{}/device", f.sensor),
            body: |_, r| Some(format!(r#"{{"device":"window-{r}"}}"#)),
            expect: "401 404 403 403 403 403 204 204",
        },
        // Allowed callers get 503: the command is recorded, but no bridge runs in these tests.
        // Notification deliveries: staff of the property see and redeliver its dead letters;
        // admins see every property's.
        Row {
            op: "get /api/v1/properties/{id}/deliveries",
            path: |f, _| format!("/api/v1/properties/{}/deliveries?state=dead", f.property),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "get /api/v1/deliveries",
            path: |_, _| "/api/v1/deliveries?state=failing".into(),
            body: none,
            expect: "401 403 403 403 403 403 403 200",
        },
        Row {
            op: "post /api/v1/deliveries/{id}/redeliver",
            path: |f, _| format!("/api/v1/deliveries/{}/redeliver", f.dead_letter),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        // Webhook endpoints: the property's managers and installers, and admins.
        Row {
            op: "get /api/v1/properties/{id}/webhooks",
            path: |f, _| format!("/api/v1/properties/{}/webhooks", f.property),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/webhooks",
            path: |f, _| format!("/api/v1/properties/{}/webhooks", f.property),
            body: |_, r| {
                Some(format!(
                    r#"{{"url":"https://hooks.example.org/{r}","kinds":["lock.jammed"]}}"#
                ))
            },
            expect: "401 404 403 403 403 201 201 201",
        },
        Row {
            op: "patch /api/v1/webhooks/{id}",
            path: |f, _| format!("/api/v1/webhooks/{}", f.webhook),
            body: |_, _| Some(r#"{"enabled":false}"#.into()),
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "post /api/v1/webhooks/{id}/rotate-secret",
            path: |f, _| format!("/api/v1/webhooks/{}/rotate-secret", f.webhook),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "delete /api/v1/webhooks/{id}",
            path: |f, _| format!("/api/v1/webhooks/{}", f.webhook),
            body: none,
            expect: "401 404 403 403 403 204 204 204",
        },
        Row {
            op: "get /api/v1/me/notification-preferences",
            path: |_, _| "/api/v1/me/notification-preferences".into(),
            body: none,
            expect: "401 200 200 200 200 200 200 200",
        },
        Row {
            op: "put /api/v1/me/notification-preferences",
            path: |_, _| "/api/v1/me/notification-preferences".into(),
            body: |_, _| {
                Some(r#"{"default_channels":["email"],"kinds":{"door.mode_changed":[]},"quiet_hours":{"from":"22:00","until":"07:00","timezone":"Europe/Berlin"}}"#.into())
            },
            expect: "401 200 200 200 200 200 200 200",
        },
        Row {
            op: "get /api/v1/push/public-key",
            path: |_, _| "/api/v1/push/public-key".into(),
            body: none,
            expect: "401 200 200 200 200 200 200 200",
        },
        Row {
            op: "get /api/v1/me/push-subscriptions",
            path: |_, _| "/api/v1/me/push-subscriptions".into(),
            body: none,
            expect: "401 200 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/me/push-subscriptions",
            path: |_, _| "/api/v1/me/push-subscriptions".into(),
            body: |_, role| {
                Some(format!(
                    r#"{{"endpoint":"https://push.example.net/send/{role}","expirationTime":null,"keys":{}}}"#,
                    common::PUSH_KEYS
                ))
            },
            expect: "401 201 201 201 201 201 201 201",
        },
        // The resident's own endpoint: only the resident may send it (refreshing it); for
        // anyone else it is someone else's subscription.
        Row {
            op: "post /api/v1/me/push-subscriptions",
            path: |_, _| "/api/v1/me/push-subscriptions".into(),
            body: |_, _| {
                Some(format!(
                    r#"{{"endpoint":"{}","keys":{}}}"#,
                    common::RESIDENT_PUSH_ENDPOINT,
                    common::PUSH_KEYS
                ))
            },
            expect: "401 409 409 409 200 409 409 409",
        },
        Row {
            op: "delete /api/v1/me/push-subscriptions/{id}",
            path: |f, _| format!("/api/v1/me/push-subscriptions/{}", f.resident_push),
            body: none,
            expect: "401 404 404 404 204 404 404 404",
        },
        Row {
            op: "post /api/v1/doors/{id}/unlock",
            path: |f, _| format!("/api/v1/doors/{}/unlock", f.door),
            body: |_, _| Some("{}".into()),
            expect: "401 404 403 403 503 403 403 403",
        },
        Row {
            op: "post /api/v1/doors/{id}/lock",
            path: |f, _| format!("/api/v1/doors/{}/lock", f.door),
            body: |_, _| Some("{}".into()),
            expect: "401 404 403 403 503 503 503 503",
        },
        Row {
            op: "get /api/v1/commands/{id}",
            path: |f, _| format!("/api/v1/commands/{}", f.command),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "get /api/v1/doors/{id}/slots",
            path: |f, _| format!("/api/v1/doors/{}/slots", f.door),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "get /api/v1/credentials/{id}/locks",
            path: |f, _| format!("/api/v1/credentials/{}/locks", f.credential),
            body: none,
            expect: "401 404 404 200 200 200 200 200",
        },
        Row {
            op: "get /api/v1/memberships/{id}/receipt",
            path: |f, _| format!("/api/v1/memberships/{}/receipt", f.household_membership),
            body: none,
            expect: "401 404 403 403 403 409 409 409",
        },
        // Anyone may open a case, signed in or not; the answer never says whether it matched.
        Row {
            op: "post /api/v1/lockouts",
            path: |_, _| "/api/v1/lockouts".into(),
            body: |f, _| {
                Some(format!(
                    r#"{{"property_id":{},"unit":"1A","identity":"Rita Resident"}}"#,
                    f.property
                ))
            },
            expect: "202 202 202 202 202 202 202 202",
        },
        Row {
            op: "post /api/v1/lockouts/lookup",
            path: |_, _| "/api/v1/lockouts/lookup".into(),
            body: |_, _| Some(r#"{"token":"lkc_0000"}"#.into()),
            expect: "404 404 404 404 404 404 404 404",
        },
        Row {
            op: "post /api/v1/lockouts/proofs/totp",
            path: |_, _| "/api/v1/lockouts/proofs/totp".into(),
            body: |_, _| Some(r#"{"token":"lkc_0000","code":"123456"}"#.into()),
            expect: "404 404 404 404 404 404 404 404",
        },
        Row {
            op: "post /api/v1/lockouts/{id}/proofs/id-check",
            path: |f, _| format!("/api/v1/lockouts/{}/proofs/id-check", f.lockout),
            body: |_, _| Some(r#"{"document":"passport, photo matches"}"#.into()),
            expect: "401 404 404 403 403 200 200 200",
        },
        Row {
            op: "post /api/v1/lockouts/guardians",
            path: |_, _| "/api/v1/lockouts/guardians".into(),
            body: |_, _| Some(r#"{"token":"lkc_0000"}"#.into()),
            expect: "404 404 404 404 404 404 404 404",
        },
        Row {
            op: "post /api/v1/guardian-links/answer",
            path: |_, _| "/api/v1/guardian-links/answer".into(),
            body: |_, _| Some(r#"{"token":"lkg_0000","confirm":true}"#.into()),
            expect: "401 404 404 404 404 404 404 404",
        },
        Row {
            op: "post /api/v1/me/totp",
            path: |_, _| "/api/v1/me/totp".into(),
            body: none,
            expect: "401 201 201 201 201 201 201 201",
        },
        Row {
            op: "post /api/v1/me/recovery-card",
            path: |_, _| "/api/v1/me/recovery-card".into(),
            body: none,
            // An admin without a membership has no unit to be locked out of.
            expect: "401 201 201 201 201 201 201 403",
        },
        Row {
            op: "post /api/v1/lockouts/proofs/recovery-code",
            path: |_, _| "/api/v1/lockouts/proofs/recovery-code".into(),
            body: |_, _| Some(r#"{"token":"lkc_0000","code":"AAAA-BBBB-CCCC"}"#.into()),
            expect: "404 404 404 404 404 404 404 404",
        },
        Row {
            op: "get /api/v1/lockouts/{id}",
            path: |f, _| format!("/api/v1/lockouts/{}", f.lockout),
            body: none,
            expect: "401 404 404 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/lockouts/{id}/cancel",
            path: |f, _| format!("/api/v1/lockouts/{}/cancel", f.lockout),
            body: none,
            expect: "401 404 404 204 204 204 204 204",
        },
        Row {
            op: "get /api/v1/properties/{id}/lockouts",
            path: |f, _| format!("/api/v1/properties/{}/lockouts", f.property),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/lockouts",
            path: |f, _| format!("/api/v1/properties/{}/lockouts", f.property),
            body: |f, _| {
                Some(format!(
                    r#"{{"unit_id":{},"person_id":{}}}"#,
                    f.unit, f.resident
                ))
            },
            expect: "401 404 403 403 201 201 201 201",
        },
        Row {
            op: "get /api/v1/properties/{id}/readiness",
            path: |f, _| format!("/api/v1/properties/{}/readiness", f.property),
            body: none,
            expect: "401 404 403 200 200 200 200 200",
        },
        // The heat map is the staff's: residents see their own drill above, nothing more.
        Row {
            op: "get /api/v1/properties/{id}/readiness/map",
            path: |f, _| {
                format!(
                    "/api/v1/properties/{}/readiness/map?failure=pin_forgotten",
                    f.property
                )
            },
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/spare-keys",
            path: |f, _| format!("/api/v1/properties/{}/spare-keys", f.property),
            body: |f, _| {
                Some(format!(
                    r#"{{"unit_id":{},"holder_id":{}}}"#,
                    f.unit, f.manager
                ))
            },
            expect: "401 404 403 403 201 201 201 201",
        },
        Row {
            op: "get /api/v1/properties/{id}/spare-keys",
            path: |f, _| format!("/api/v1/properties/{}/spare-keys", f.property),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        // The holder (the household member here) may give a key back; to a guest it does not exist.
        Row {
            op: "delete /api/v1/spare-keys/{id}",
            path: |f, _| format!("/api/v1/spare-keys/{}", f.spare_key),
            body: none,
            expect: "401 404 404 204 204 204 204 204",
        },
        Row {
            op: "get /api/v1/properties/{id}/on-call",
            path: |f, _| format!("/api/v1/properties/{}/on-call", f.property),
            body: none,
            expect: "401 404 403 200 200 200 200 200",
        },
        Row {
            op: "put /api/v1/properties/{id}/on-call/{person_id}",
            path: |f, _| format!("/api/v1/properties/{}/on-call/{}", f.property, f.manager),
            body: |_, _| Some(r#"{"schedule":{"type":"always"}}"#.into()),
            expect: "401 404 403 403 403 204 204 204",
        },
        Row {
            op: "get /api/v1/properties/{id}/locksmiths",
            path: |f, _| format!("/api/v1/properties/{}/locksmiths", f.property),
            body: none,
            expect: "401 404 200 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/properties/{id}/locksmiths",
            path: |f, _| format!("/api/v1/properties/{}/locksmiths", f.property),
            body: |_, r| {
                Some(format!(
                    r#"{{"company":"Lock {r}","licence":"L-{r}","phone":"555"}}"#
                ))
            },
            expect: "401 404 403 403 403 201 201 201",
        },
        Row {
            op: "put /api/v1/locksmiths/{id}/status",
            path: |f, _| format!("/api/v1/locksmiths/{}/status", f.locksmith),
            body: |_, _| Some(r#"{"status":"verified"}"#.into()),
            expect: "401 404 403 403 403 200 200 200",
        },
        // Only a spare-key holder (the household member) gets past "no such case", and not
        // before the case is proven.
        Row {
            op: "post /api/v1/lockouts/{id}/spare-pin",
            path: |f, _| format!("/api/v1/lockouts/{}/spare-pin", f.lockout),
            body: none,
            expect: "401 404 404 403 404 404 404 404",
        },
        Row {
            op: "post /api/v1/lockouts/{id}/spare-unlock",
            path: |f, _| format!("/api/v1/lockouts/{}/spare-unlock", f.lockout),
            body: |f, _| Some(format!(r#"{{"door_id":{}}}"#, f.door)),
            expect: "401 404 404 403 404 404 404 404",
        },
        // Staff only, and only for a proven case: the fixture's case is still open.
        Row {
            op: "post /api/v1/lockouts/{id}/staff-open",
            path: |f, _| format!("/api/v1/lockouts/{}/staff-open", f.lockout),
            body: |f, _| Some(format!(r#"{{"door_id":{}}}"#, f.door)),
            expect: "401 404 404 403 403 403 403 403",
        },
        Row {
            op: "post /api/v1/lockouts/{id}/locksmith-jobs",
            path: |f, _| format!("/api/v1/lockouts/{}/locksmith-jobs", f.lockout),
            body: |f, _| Some(format!(r#"{{"locksmith_id":{}}}"#, f.locksmith)),
            expect: "401 404 404 422 422 422 422 422",
        },
        Row {
            op: "post /api/v1/lockouts/presence",
            path: |_, _| "/api/v1/lockouts/presence".into(),
            body: |_, _| Some(r#"{"token":"lkc_0000"}"#.into()),
            expect: "404 404 404 404 404 404 404 404",
        },
        Row {
            op: "post /api/v1/lockouts/new-pin",
            path: |_, _| "/api/v1/lockouts/new-pin".into(),
            body: |_, _| Some(r#"{"token":"lkc_0000"}"#.into()),
            expect: "404 404 404 404 404 404 404 404",
        },
        Row {
            op: "post /api/v1/lockouts/new-pin/collect",
            path: |_, _| "/api/v1/lockouts/new-pin/collect".into(),
            body: |_, _| Some(r#"{"token":"lkc_0000"}"#.into()),
            expect: "404 404 404 404 404 404 404 404",
        },
        Row {
            op: "post /api/v1/credential-changes/{id}/cancel",
            path: |_, _| "/api/v1/credential-changes/1/cancel".into(),
            body: none,
            expect: "401 404 404 404 404 404 404 404",
        },
        Row {
            op: "post /api/v1/locksmith-jobs/code",
            path: |_, _| "/api/v1/locksmith-jobs/code".into(),
            body: |_, _| Some(r#"{"token":"lkj_0000","document":"passport"}"#.into()),
            expect: "404 404 404 404 404 404 404 404",
        },
        Row {
            op: "post /api/v1/locksmith-jobs/{id}/complete",
            path: |_, _| "/api/v1/locksmith-jobs/1/complete".into(),
            body: |_, _| Some(r#"{"cost_cents":9000,"work":"code"}"#.into()),
            expect: "401 404 404 404 404 404 404 404",
        },
        Row {
            op: "post /api/v1/lockouts/{id}/forced-entry",
            path: |f, _| format!("/api/v1/lockouts/{}/forced-entry", f.lockout),
            body: |f, _| {
                Some(format!(
                    r#"{{"door_id":{},"how":"door kicked in"}}"#,
                    f.door
                ))
            },
            expect: "401 404 404 201 201 201 201 201",
        },
        Row {
            op: "get /api/v1/properties/{id}/ledger",
            path: |f, _| {
                format!(
                    "/api/v1/properties/{}/ledger?unit_id={}",
                    f.property, f.unit
                )
            },
            body: none,
            expect: "401 404 403 403 200 200 200 200",
        },
        Row {
            op: "get /api/v1/properties/{id}/ledger.csv",
            path: |f, _| format!("/api/v1/properties/{}/ledger.csv", f.property),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "get /api/v1/properties/{id}/incidents",
            path: |f, _| format!("/api/v1/properties/{}/incidents", f.property),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "post /api/v1/doors/{id}/incidents",
            path: |f, _| format!("/api/v1/doors/{}/incidents", f.door),
            body: |_, _| Some(r#"{"kind":"service","note":"closer arm loose"}"#.into()),
            expect: "401 404 403 403 403 201 201 201",
        },
        Row {
            op: "post /api/v1/incidents/{id}/close",
            path: |_, _| "/api/v1/incidents/1/close".into(),
            body: |_, _| Some(r#"{"note":"lock replaced"}"#.into()),
            expect: "401 404 404 404 404 404 404 404",
        },
        Row {
            op: "get /api/v1/properties/{id}/alarms",
            path: |f, _| format!("/api/v1/properties/{}/alarms?show=all", f.property),
            body: none,
            expect: "401 404 403 403 403 200 200 200",
        },
        Row {
            op: "post /api/v1/alarms/{id}/acknowledge",
            path: |_, _| "/api/v1/alarms/1/acknowledge".into(),
            body: |_, _| Some(r#"{"note":"police called"}"#.into()),
            expect: "401 404 404 404 404 404 404 404",
        },
        // Staff reach a unit's door only under an entry notice or as an emergency.
        Row {
            op: "post /api/v1/properties/{id}/entry-notices",
            path: |f, _| format!("/api/v1/properties/{}/entry-notices", f.property),
            body: |f, _| {
                Some(format!(
                    r#"{{"unit_id":{},"purpose":"radiator check","window_from":"2026-11-28T12:00:00Z","window_until":"2026-11-28T14:00:00Z"}}"#,
                    f.unit
                ))
            },
            expect: "401 404 403 403 403 201 201 201",
        },
        Row {
            op: "get /api/v1/properties/{id}/entry-notices",
            path: |f, _| format!("/api/v1/properties/{}/entry-notices", f.property),
            body: none,
            expect: "401 404 403 200 200 200 200 200",
        },
        Row {
            op: "post /api/v1/entry-notices/{id}/cancel",
            path: |f, _| format!("/api/v1/entry-notices/{}/cancel", f.entry_notice),
            body: none,
            expect: "401 404 404 403 403 200 200 200",
        },
        Row {
            op: "post /api/v1/doors/{id}/unlock",
            path: |f, _| format!("/api/v1/doors/{}/unlock", f.door),
            body: |_, _| Some(r#"{"emergency_reason":"smoke coming from under the door"}"#.into()),
            expect: "401 404 403 403 403 503 503 503",
        },
        Row {
            op: "post /api/v1/doors/{id}/unlock",
            path: |f, _| format!("/api/v1/doors/{}/unlock", f.door),
            body: |_, _| Some(r#"{"emergency_reason":" "}"#.into()),
            expect: "401 404 403 403 403 422 422 422",
        },
        // The embedded broker's logins: admins only.
        Row {
            op: "get /api/v1/broker-logins",
            path: |_, _| "/api/v1/broker-logins".into(),
            body: none,
            expect: "401 403 403 403 403 403 403 200",
        },
        Row {
            op: "post /api/v1/broker-logins",
            path: |_, _| "/api/v1/broker-logins".into(),
            body: |_, r| Some(format!(r#"{{"name":"stick-{r}","role":"gateway"}}"#)),
            expect: "401 403 403 403 403 403 403 201",
        },
        Row {
            op: "post /api/v1/broker-logins/{id}/rotate",
            path: |f, _| format!("/api/v1/broker-logins/{}/rotate", f.broker_login),
            body: none,
            expect: "401 403 403 403 403 403 403 200",
        },
        Row {
            op: "delete /api/v1/broker-logins/{id}",
            path: |f, _| format!("/api/v1/broker-logins/{}", f.broker_login),
            body: none,
            expect: "401 403 403 403 403 403 403 204",
        },
        // After a restore: admins only. The building is not restored and its lock holds no
        // unknown code, so an admin is told there is nothing to adopt, remove or end.
        Row {
            op: "get /api/v1/restore",
            path: |_, _| "/api/v1/restore".into(),
            body: none,
            expect: "401 403 403 403 403 403 403 200",
        },
        Row {
            op: "post /api/v1/restore/adopt",
            path: |_, _| "/api/v1/restore/adopt".into(),
            body: |_, _| Some(r#"{"door_id":1,"slot":1,"person_id":1,"pin":"583920"}"#.into()),
            expect: "401 403 403 403 403 403 403 404",
        },
        Row {
            op: "post /api/v1/restore/remove",
            path: |_, _| "/api/v1/restore/remove".into(),
            body: |_, _| Some(r#"{"door_id":1,"slot":1}"#.into()),
            expect: "401 403 403 403 403 403 403 404",
        },
        Row {
            op: "post /api/v1/restore/end",
            path: |_, _| "/api/v1/restore/end".into(),
            body: none,
            expect: "401 403 403 403 403 403 403 409",
        },
    ]
}

#[test]
fn every_documented_operation_has_a_row_and_every_row_is_documented() {
    let doc = latchkey_http::openapi();
    let mut documented = Vec::new();
    for (path, item) in &doc.paths.paths {
        let value = serde_json::to_value(item).unwrap();
        for method in ["get", "post", "put", "patch", "delete"] {
            let op = format!("{method} {path}");
            // The live stream never ends, so a row could not read its answer; who receives
            // which event is tested over HTTP in crates/latchkey/tests/stream.rs.
            if value.get(method).is_some() && op != "get /api/v1/stream" {
                documented.push(op);
            }
        }
    }
    documented.sort();
    let mut table: Vec<String> = rows().iter().map(|r| r.op.to_owned()).collect();
    table.sort();
    let missing: Vec<_> = documented.iter().filter(|d| !table.contains(d)).collect();
    let stale: Vec<_> = table.iter().filter(|t| !documented.contains(t)).collect();
    assert!(
        missing.is_empty(),
        "operations without an authorization row: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for operations that do not exist: {stale:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_exactly_the_documented_answer_on_every_endpoint() {
    let mut failures = Vec::new();
    for row in rows() {
        let expect: Vec<u16> = row
            .expect
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(
            expect.len(),
            ROLES.len(),
            "row {} has a wrong number of columns",
            row.op
        );
        let (method, _) = row.op.split_once(' ').unwrap();
        for (role, want) in ROLES.iter().zip(expect) {
            // A fresh building for each call, so that one role's change cannot decide another's answer.
            let db = TestDb::sqlite("authz_matrix");
            let f = fixture(&db).await;
            let before = f.event_count().await;
            let reply = f
                .call(
                    role,
                    &method.to_uppercase(),
                    &(row.path)(&f, role),
                    (row.body)(&f, role),
                )
                .await;
            let got = reply.status.as_u16();
            if got != want {
                failures.push(format!(
                    "{} as {role}: expected {want}, got {got}: {}",
                    row.op, reply.json
                ));
            }
            if (400..500).contains(&got) {
                if !reply.content_type.starts_with("application/problem+json") {
                    failures.push(format!(
                        "{} as {role}: {got} without a problem document",
                        row.op
                    ));
                }
                // A refusal changes nothing (failed sign-ins excepted: those are recorded).
                let after = f.event_count().await;
                if after != before && !row.op.contains("login") {
                    failures.push(format!(
                        "{} as {role}: refused with {got} but wrote {} events",
                        row.op,
                        after - before
                    ));
                }
            }
            drop(f);
            db.remove().await;
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
