//! The console's policy page, driven in-process on every backend: staff read the property's
//! policy in words; an installer changes it through the form; every bad field is refused with
//! the field named and changes nothing; a forged form, a manager (who may only read), residents,
//! guests and another property's manager change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;

use axum::http::StatusCode;
use latchkey_core::model::{Payer, Policy, Role};
use latchkey_testkit::each_backend;

use console::*;

/// A complete form of the default policy, with `changes` replacing (or, empty, removing) fields.
fn form(csrf: &str, property: i64, changes: &[(&str, &str)]) -> String {
    let mut fields: Vec<(&str, String)> = vec![
        ("csrf", csrf.into()),
        ("property", property.to_string()),
        ("lockout_fee_office_cents", "25.00".into()),
        ("lockout_fee_after_hours_cents", "75.00".into()),
        ("free_lockouts_per_year", "1".into()),
        ("locksmith_paid_by", "tenant".into()),
        ("recovery_proofs", "passkey".into()),
        ("recovery_proofs", "totp".into()),
        ("recovery_proofs", "recovery_code".into()),
        ("recovery_proofs", "id_check".into()),
        ("guardians_required", "2".into()),
        ("credential_change_delay_minutes", "60".into()),
        ("one_time_pin_minutes", "15".into()),
        ("entry_notice_hours", "24".into()),
        ("wrong_code_limit", "5".into()),
        ("keypad_disable_seconds", "60".into()),
        ("auto_relock_seconds", "30".into()),
        ("door_ajar_minutes", "10".into()),
        ("clear_unmanaged_codes", "1".into()),
        ("personal_event_retention_days", "90".into()),
    ];
    for (k, v) in changes {
        fields.retain(|(f, _)| f != k);
        if !v.is_empty() {
            for one in v.split('|') {
                fields.push((k, one.into()));
            }
        }
    }
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace(',', "%2C")))
        .collect::<Vec<_>>()
        .join("&")
}

async fn policy(w: &World) -> Policy {
    w.app
        .get_property(&w.root, w.property)
        .await
        .unwrap()
        .policy
}

async fn installer(w: &World) -> String {
    add_person(
        &w.app,
        &w.root,
        w.property,
        "Ines Installer",
        "ines@example.org",
        Role::Installer,
        None,
    )
    .await;
    w.signed_in("ines@example.org").await
}

#[tokio::test]
async fn an_installer_reads_the_policy_in_words_and_changes_one_fee() {
    each_backend("web_policy_change", |db| async move {
        let w = world(&db).await;
        let ines = installer(&w).await;
        let page = w.get("/policy", &ines).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Door House: policy"));
        for group in [
            "Lockout fees",
            "Proofs accepted",
            "Delays",
            "Entry notice",
            "Locks",
            "Privacy",
        ] {
            assert!(page.body.contains(group), "{group}");
        }
        assert!(
            page.body
                .contains("<dd id=\"now-lockout_fee_office_cents\">25.00</dd>")
        );
        assert!(
            page.body
                .contains("<dd id=\"now-entry_notice_hours\">24 hours</dd>")
        );
        assert!(page.body.contains("The tenant"));
        assert!(page.body.contains("Save the policy"), "an installer's form");
        assert!(page.body.contains("aria-current=\"page\">Policy</a>"));
        assert!(!page.body.contains(" style="), "no inline style");

        let csrf = form_token(&page.body);
        let res = w
            .post(
                "/policy",
                &ines,
                form(
                    &csrf,
                    w.property.0,
                    &[
                        ("lockout_fee_after_hours_cents", "82,50"),
                        ("locksmith_paid_by", "landlord"),
                        ("recovery_proofs", "passkey|guardians"),
                        ("clear_unmanaged_codes", ""),
                    ],
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let want = Policy {
            lockout_fee_after_hours_cents: 8_250,
            locksmith_paid_by: Payer::Landlord,
            recovery_proofs: vec![
                latchkey_core::model::ProofKind::Passkey,
                latchkey_core::model::ProofKind::Guardians,
            ],
            clear_unmanaged_codes: false,
            ..Policy::default()
        };
        assert_eq!(policy(&w).await, want);
        let at = res.headers.get("location").unwrap().to_str().unwrap();
        let page = w.get(at, &ines).await;
        assert!(page.body.contains("The policy is saved"), "{}", page.body);
        assert!(
            page.body
                .contains("<dd id=\"now-lockout_fee_after_hours_cents\">82.50</dd>")
        );
        assert!(page.body.contains("The landlord"));
    })
    .await;
}

#[tokio::test]
async fn every_bad_field_is_named_and_changes_nothing() {
    each_backend("web_policy_bad", |db| async move {
        let w = world(&db).await;
        let ines = installer(&w).await;
        let csrf = form_token(&w.get("/policy", &ines).await.body);
        let before = policy(&w).await;
        let cases: &[(&str, &str, &str)] = &[
            (
                "wrong_code_limit",
                "0",
                "Wrong codes in a row before the keypad stops",
            ),
            ("wrong_code_limit", "21", "must be between 1 and 20"),
            ("wrong_code_limit", "five", "must be a whole number"),
            ("wrong_code_limit", "", "is missing"),
            ("wrong_code_limit", "99999999999", "is too large"),
            (
                "keypad_disable_seconds",
                "-1",
                "The keypad then stays off for",
            ),
            (
                "auto_relock_seconds",
                "3601",
                "An unlocked door locks itself again after",
            ),
            (
                "door_ajar_minutes",
                "0",
                "Alert when a door stays open or unlocked for",
            ),
            ("guardians_required", "11", "Guardians who must confirm"),
            (
                "lockout_fee_office_cents",
                "12.345",
                "Fee when staff open the door in office hours",
            ),
            (
                "lockout_fee_office_cents",
                "-5",
                "give an amount like 25.00",
            ),
            (
                "lockout_fee_after_hours_cents",
                "10000.01",
                "Fee outside office hours",
            ),
            (
                "free_lockouts_per_year",
                "53",
                "Free lockouts per unit in 12 months",
            ),
            ("locksmith_paid_by", "nobody", "Who pays a locksmith"),
            ("recovery_proofs", "", "must name at least one proof"),
            (
                "recovery_proofs",
                "presence",
                "must be chosen from the list",
            ),
            (
                "one_time_pin_minutes",
                "241",
                "one-time PIN stays valid for",
            ),
            (
                "credential_change_delay_minutes",
                "10081",
                "Wait before a new credential",
            ),
            (
                "entry_notice_hours",
                "0",
                "Notice the household gets before staff enter",
            ),
            ("entry_notice_hours", "721", "must be between 1 and 720"),
            (
                "personal_event_retention_days",
                "3651",
                "Who opened a door is kept for",
            ),
            ("clear_unmanaged_codes", "yes", "is either ticked or not"),
            ("require_presence", "1|1", "is given twice"),
            ("owner", "me", "unknown field owner"),
        ];
        for (field, value, named) in cases {
            let res = w
                .post(
                    "/policy",
                    &ines,
                    form(&csrf, w.property.0, &[(field, value)]),
                )
                .await;
            assert_eq!(
                res.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{field}={value}: {}",
                res.body
            );
            // The form comes back, not an error page, with the reasons listed above it.
            assert!(
                res.body.contains("The policy was not saved"),
                "{}",
                res.body
            );
            assert!(res.body.contains("action=\"/policy\""), "the form again");
            let summary = between(&res.body, "id=\"form-errors\"", "</div>");
            assert!(
                summary.contains(named),
                "{field}={value} should say {named:?}: {summary}"
            );
            if *field != "owner" {
                // Beside the field: its reason, tied to the field for a screen reader.
                let reason = between(&res.body, &format!("id=\"e-{field}\">"), "</p>");
                assert!(!reason.is_empty(), "{field}={value}: no reason beside it");
                assert!(
                    summary.contains(reason),
                    "{field}={value}: {reason:?} not in {summary}"
                );
                assert!(
                    res.body.contains(&format!(
                        "aria-invalid=\"true\" aria-describedby=\"e-{field}\""
                    )),
                    "{field}={value}: not marked"
                );
                assert_eq!(
                    res.body.matches("aria-invalid=").count(),
                    if *field == "recovery_proofs" { 5 } else { 1 },
                    "{field}={value}: only that field is marked"
                );
            } else {
                assert!(!res.body.contains("aria-invalid"), "no field is at fault");
            }
            assert_eq!(
                policy(&w).await,
                before,
                "{field}={value} changed the policy"
            );
        }
        // The unchanged form itself is accepted (the cases above fail for their field alone).
        let res = w
            .post("/policy", &ines, form(&csrf, w.property.0, &[]))
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    })
    .await;
}

/// The text of `body` after `start` (and the end of that tag) up to `end`.
fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let Some(at) = body.find(start) else {
        return "";
    };
    let rest = &body[at + start.len()..];
    let rest = if start.ends_with('>') {
        rest
    } else {
        &rest[rest.find('>').map_or(0, |i| i + 1)..]
    };
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[tokio::test]
async fn several_wrong_fields_come_back_as_typed_each_named_and_nothing_is_saved() {
    each_backend("web_policy_several", |db| async move {
        let w = world(&db).await;
        let ines = installer(&w).await;
        let csrf = form_token(&w.get("/policy", &ines).await.body);
        let before = policy(&w).await;
        let res = w
            .post(
                "/policy",
                &ines,
                form(
                    &csrf,
                    w.property.0,
                    &[
                        ("wrong_code_limit", "21"),
                        ("entry_notice_hours", "soon"),
                        ("lockout_fee_after_hours_cents", "82,50"),
                        ("lockout_fee_office_cents", "12.345"),
                        ("recovery_proofs", "guardians"),
                        ("locksmith_paid_by", "landlord"),
                        ("clear_unmanaged_codes", ""),
                    ],
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        assert!(res.body.contains("3 fields are not right"), "{}", res.body);
        assert_eq!(res.body.matches("aria-invalid=\"true\"").count(), 3);
        for (field, reason) in [
            ("wrong_code_limit", "must be between 1 and 20"),
            ("entry_notice_hours", "must be a whole number"),
            ("lockout_fee_office_cents", "give an amount like 25.00"),
        ] {
            let beside = between(&res.body, &format!("id=\"e-{field}\">"), "</p>");
            assert!(beside.contains(reason), "{field}: {beside:?}");
        }
        // What was typed, right or wrong, is in the form again.
        for (field, typed) in [
            ("wrong_code_limit", "21"),
            ("entry_notice_hours", "soon"),
            ("lockout_fee_after_hours_cents", "82,50"),
            ("lockout_fee_office_cents", "12.345"),
        ] {
            assert!(
                res.body
                    .contains(&format!("name=\"{field}\" value=\"{typed}\"")),
                "{field} should hold {typed}"
            );
        }
        assert!(res.body.contains("value=\"guardians\" checked"));
        assert!(!res.body.contains("value=\"passkey\" checked"));
        assert!(res.body.contains("value=\"landlord\" selected"));
        assert!(
            !res.body
                .contains("name=\"clear_unmanaged_codes\" value=\"1\" checked")
        );
        // The facts above the form are still the saved policy.
        assert!(
            res.body
                .contains("<dd id=\"now-lockout_fee_after_hours_cents\">75.00</dd>")
        );
        assert_eq!(policy(&w).await, before);
        // The form as it came back, corrected, is saved.
        let res = w
            .post(
                "/policy",
                &ines,
                form(
                    &csrf,
                    w.property.0,
                    &[
                        ("wrong_code_limit", "20"),
                        ("lockout_fee_after_hours_cents", "82,50"),
                        ("recovery_proofs", "guardians"),
                        ("locksmith_paid_by", "landlord"),
                    ],
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(policy(&w).await.wrong_code_limit, 20);
    })
    .await;
}

#[tokio::test]
async fn a_forged_form_a_manager_and_outsiders_change_nothing() {
    each_backend("web_policy_refused", |db| async move {
        let w = world(&db).await;
        let ines = installer(&w).await;
        let before = policy(&w).await;
        let bigger = [("lockout_fee_office_cents", "999.00")];

        // The installer's session with a made-up token.
        let res = w
            .post("/policy", &ines, form("forged", w.property.0, &bigger))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        assert!(res.body.contains("Nothing was changed"));
        // Another session's token.
        let mona = w.signed_in("mona@example.org").await;
        let monas = form_token(&w.get("/policy", &mona).await.body);
        let res = w
            .post("/policy", &ines, form(&monas, w.property.0, &bigger))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        assert_eq!(policy(&w).await, before);

        // The manager reads it, without a form, and may not change it with her own token.
        let page = w
            .get(&format!("/policy?property={}", w.property.0), &mona)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body
                .contains("<dd id=\"now-lockout_fee_office_cents\">25.00</dd>")
        );
        assert!(page.body.contains("installers may change it"));
        assert!(
            !page.body.contains("action=\"/policy\""),
            "no form for a manager"
        );
        let res = w
            .post("/policy", &mona, form(&monas, w.property.0, &bigger))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        assert!(res.body.contains("installers"), "{}", res.body);
        assert_eq!(policy(&w).await, before);

        // Residents, guests and another property's manager: neither the page nor a change.
        for who in ["vera@example.org", "gil@example.org", "otto@example.org"] {
            let cookie = w.signed_in(who).await;
            let page = w
                .get(&format!("/policy?property={}", w.property.0), &cookie)
                .await;
            assert!(
                matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                page.status
            );
            assert!(!page.body.contains("Lockout fees"), "{who}");
            let csrf = form_token(&w.get("/", &cookie).await.body);
            let res = w
                .post("/policy", &cookie, form(&csrf, w.property.0, &bigger))
                .await;
            assert!(
                matches!(res.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                res.status
            );
            assert_eq!(policy(&w).await, before, "{who} changed the policy");
        }
    })
    .await;
}
