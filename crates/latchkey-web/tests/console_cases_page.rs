//! The console's lockout cases, ledger and incidents, driven in-process on every backend: the
//! opening's fee is shown before anything is charged and a fee that changed charges nothing;
//! bad input is refused with nothing changed; the ledger filters and its CSV is the API's; a
//! resident, a guest, the manager of another property and the signed-out get no page, no data,
//! and change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;

use axum::http::{StatusCode, header};
use latchkey_app::lockout::{BookLocksmith, CompleteJob};
use latchkey_app::recovery::LocksmithInput;
use latchkey_core::schedule::Schedule;
use latchkey_core::{LockoutCaseId, LocksmithId};
use latchkey_testkit::each_backend;

use console::{Pages, World, form_token, world};

impl World {
    /// A lock on the unit's door, and a case for Vera opened by staff taking her call.
    async fn case(&self) -> LockoutCaseId {
        self.app
            .pair_lock(
                self.app
                    .may_pair_lock(&self.root, self.unit_door)
                    .await
                    .unwrap(),
                Some("lock-3b"),
            )
            .await
            .unwrap();
        let (case, _) = self
            .app
            .start_lockout_for(
                self.root.case_starter(self.property, self.vera).unwrap(),
                self.unit,
            )
            .await
            .unwrap();
        case.id
    }

    async fn events(&self) -> i64 {
        self.app.audit_head().await.unwrap().0
    }

    async fn ledger(&self) -> Vec<latchkey_app::store::resolution::Charge> {
        self.app
            .ledger(&self.root, self.property, None)
            .await
            .unwrap()
    }

    /// A verified locksmith working around the clock, booked for `case`: the job's id.
    async fn locksmith_job(&self, case: LockoutCaseId) -> i64 {
        let smith = self
            .app
            .add_locksmith(
                self.root.staff(self.property).unwrap(),
                LocksmithInput {
                    company: "Night Keys".into(),
                    licence: "LS-77".into(),
                    phone: "555 0177".into(),
                    hours: Schedule::Always,
                    callout_cents: 12_000,
                },
            )
            .await
            .unwrap();
        self.app
            .set_locksmith_status(
                self.app
                    .may_set_locksmith_status(&self.root, smith.id, "verified")
                    .await
                    .unwrap(),
                "verified",
            )
            .await
            .unwrap();
        let input = BookLocksmith {
            locksmith_id: LocksmithId(smith.id.0),
            door_id: None,
            window_minutes: None,
        };
        let party = self
            .app
            .may_book_locksmith(&self.root, case, &input)
            .await
            .unwrap();
        self.app.book_locksmith(party, input).await.unwrap().job.id
    }
}

#[tokio::test]
async fn the_fee_is_shown_before_anything_is_charged_and_a_fee_that_changed_charges_nothing() {
    each_backend("web_case_fee", |db| async move {
        let w = world(&db).await;
        let case = w.case().await;
        let mona = w.signed_in("mona@example.org").await;
        let path = format!("/console/cases/{}", case.0);
        let page = w.get(&path, &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Vera Resident, unit 3B"));
        assert!(page.body.contains("Open: not proven yet"));
        assert!(page.body.contains("data-live-case"), "follows the stream");
        let csrf = form_token(&page.body);
        // Not proven: no fee page, no opening.
        let early = w
            .get(&format!("{path}/open?door={}", w.unit_door.0), &mona)
            .await;
        assert_eq!(early.status, StatusCode::FORBIDDEN, "{}", early.body);
        // An empty document is refused and changes nothing.
        let before = w.events().await;
        let bad = w
            .post(
                &format!("{path}/id-check"),
                &mona,
                format!("csrf={csrf}&document=+"),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("Document"), "{}", bad.body);
        assert_eq!(w.events().await, before);
        let ok = w
            .post(
                &format!("{path}/id-check"),
                &mona,
                format!("csrf={csrf}&document=passport%2C+photo+matches"),
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let page = w.get(&format!("{path}?done=id_check"), &mona).await;
        assert!(page.body.contains("Proven: identity checked"));
        assert!(page.body.contains("ID checked in person by Mona Manager"));
        assert!(page.body.contains("the fee is shown first"));

        // The office is open all day here and the lease's first lockout a year is free: the
        // page says so before anything is charged, and reading it charges nothing.
        let before = w.events().await;
        let fee = w
            .get(&format!("{path}/open?door={}", w.unit_door.0), &mona)
            .await;
        assert_eq!(fee.status, StatusCode::OK, "{}", fee.body);
        assert!(fee.body.contains("office hours"), "{}", fee.body);
        assert!(fee.body.contains("<strong>25.00</strong>"), "{}", fee.body);
        assert!(fee.body.contains("data-due-cents=\"0\""), "{}", fee.body);
        assert!(fee.body.contains("Free lockout 1 of 1 in 12 months"));
        assert_eq!(w.events().await, before, "showing the fee writes nothing");
        assert!(w.ledger().await.is_empty());
        let other_door = w
            .get(&format!("{path}/open?door={}", w.lobby.0), &mona)
            .await;
        assert_eq!(other_door.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Confirmed at another fee than the one due now: refused, nothing charged or sent.
        let stale = w
            .post(
                &format!("{path}/open"),
                &mona,
                format!("csrf={csrf}&door={}&fee_cents=7500", w.unit_door.0),
            )
            .await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
        assert!(
            stale.body.contains("fee changed since it was shown"),
            "{}",
            stale.body
        );
        assert!(stale.body.contains("it is now nothing (was 75.00)"));
        // The fee as shown, but no lock bridge runs here: refused before anything is written.
        let sent = w
            .post(
                &format!("{path}/open"),
                &mona,
                format!("csrf={csrf}&door={}&fee_cents=0", w.unit_door.0),
            )
            .await;
        assert_eq!(
            sent.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            sent.body
        );
        let missing = w
            .post(
                &format!("{path}/open"),
                &mona,
                format!("csrf={csrf}&door={}", w.unit_door.0),
            )
            .await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(w.events().await, before, "nothing recorded");
        assert!(w.ledger().await.is_empty(), "nothing charged");
    })
    .await;
}

#[tokio::test]
async fn a_locksmiths_work_goes_to_the_ledger_whose_csv_is_the_apis_and_the_incident_closes() {
    each_backend("web_case_ledger", |db| async move {
        let w = world(&db).await;
        let case = w.case().await;
        let job = w.locksmith_job(case).await;
        let mona = w.signed_in("mona@example.org").await;
        let path = format!("/console/cases/{}", case.0);
        let page = w.get(&path, &mona).await;
        assert!(page.body.contains("Night Keys"), "{}", page.body);
        let csrf = form_token(&page.body);
        let done = format!("{path}/jobs/{job}/complete");
        let before = w.events().await;
        for body in [
            format!("csrf={csrf}&work=drilling&cost=a+lot"),
            format!("csrf={csrf}&work=drilling&cost=1.234"),
            format!("csrf={csrf}&work=hammer&cost=150"),
        ] {
            let bad = w.post(&done, &mona, body).await;
            assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        }
        assert_eq!(w.events().await, before, "bad input changes nothing");
        // A job of this case under another case's address is not found.
        let elsewhere = w
            .post(
                &format!("/console/cases/{}/jobs/{job}/complete", case.0 + 1),
                &mona,
                format!("csrf={csrf}&work=drilling&cost=150"),
            )
            .await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
        let ok = w
            .post(
                &done,
                &mona,
                format!("csrf={csrf}&work=drilling&cost=150%2C50"),
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let lines = w.ledger().await;
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].amount_cents, 15_050);

        let ledger = w.get("/console/ledger", &mona).await;
        assert_eq!(ledger.status, StatusCode::OK, "{}", ledger.body);
        assert!(
            ledger
                .body
                .contains(&format!("id=\"line-{}\"", lines[0].id))
        );
        assert!(ledger.body.contains("150.50"));
        let none = w.get("/console/ledger?kind=staff_opening", &mona).await;
        assert!(none.body.contains("No charges match"));
        let later = w.get("/console/ledger?from=2027-01-01", &mona).await;
        assert!(later.body.contains("No charges match"));
        let unit = w
            .get(
                &format!(
                    "/console/ledger?unit={}&from=2026-12-03&to=2026-12-03",
                    w.unit.0
                ),
                &mona,
            )
            .await;
        assert!(unit.body.contains(&format!("id=\"line-{}\"", lines[0].id)));
        for bad in [
            "from=yesterday",
            "kind=fine",
            "from=2026-12-04&to=2026-12-03",
            "unit=x",
        ] {
            let page = w.get(&format!("/console/ledger?{bad}"), &mona).await;
            assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
        let csv = w.get("/console/ledger.csv", &mona).await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(
            csv.headers[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .contains("attachment")
        );
        let api = w
            .get(
                &format!("/api/v1/properties/{}/ledger.csv", w.property.0),
                &mona,
            )
            .await;
        assert_eq!(csv.body, api.body, "the same CSV as the API");
        assert!(
            csv.body.contains(",locksmith,tenant,15050,false,"),
            "{}",
            csv.body
        );

        // Drilled: the lock is marked for service; closing needs a note.
        let incidents = w.get("/console/incidents", &mona).await;
        assert!(
            incidents.body.contains("Marked for service: 3B entry"),
            "{}",
            incidents.body
        );
        let id = w.app.incidents(&w.root, w.property).await.unwrap()[0].id;
        let page = w.get(&format!("/console/incidents/{id}"), &mona).await;
        assert_eq!(page.status, StatusCode::OK);
        let close = format!("/console/incidents/{id}/close");
        let before = w.events().await;
        let bad = w.post(&close, &mona, format!("csrf={csrf}&note=")).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(w.events().await, before);
        let ok = w
            .post(&close, &mona, format!("csrf={csrf}&note=cylinder+replaced"))
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let page = w
            .get(&format!("/console/incidents/{id}?closed=1"), &mona)
            .await;
        assert!(page.body.contains("data-incident-state=\"closed\""));
        let again = w
            .post(&close, &mona, format!("csrf={csrf}&note=twice"))
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
    })
    .await;
}

#[tokio::test]
async fn residents_guests_another_propertys_manager_and_the_signed_out_get_nothing_and_change_nothing()
 {
    each_backend("web_case_denied", |db| async move {
        let w = world(&db).await;
        let case = w.case().await;
        let job = w.locksmith_job(case).await;
        w.app
            .complete_locksmith_job(
                w.app
                    .may_complete_locksmith_job(
                        &w.root,
                        job,
                        &CompleteJob {
                            cost_cents: 9_900,
                            work: "picking".into(),
                        },
                    )
                    .await
                    .unwrap(),
                CompleteJob {
                    cost_cents: 9_900,
                    work: "picking".into(),
                },
            )
            .await
            .unwrap();
        let incident = w.app.incidents(&w.root, w.property).await.unwrap()[0].id;
        let c = case.0;
        let pages = [
            format!("/console/cases?property={}", w.property.0),
            format!("/console/cases/rows?property={}", w.property.0),
            format!("/console/cases/{c}"),
            format!("/console/cases/{c}/live"),
            format!("/console/cases/{c}/open?door={}", w.unit_door.0),
            format!("/console/ledger?property={}", w.property.0),
            format!("/console/ledger.csv?property={}", w.property.0),
            format!("/console/incidents?property={}", w.property.0),
            format!("/console/incidents/{incident}"),
        ];
        let posts = [
            (
                format!("/console/cases/{c}/id-check"),
                "document=passport".to_owned(),
            ),
            (
                format!("/console/cases/{c}/open"),
                format!("door={}&fee_cents=0", w.unit_door.0),
            ),
            (
                format!("/console/cases/{c}/locksmith"),
                "locksmith=1".to_owned(),
            ),
            (
                format!("/console/cases/{c}/jobs/{job}/complete"),
                "work=code&cost=1".to_owned(),
            ),
            (
                format!("/console/cases/{c}/forced-entry"),
                format!("door={}&how=kicked+in", w.unit_door.0),
            ),
            (
                format!("/console/incidents/{incident}/close"),
                "note=fixed".to_owned(),
            ),
        ];
        let mut people = Vec::new();
        for email in [
            "vera@example.org",
            "gil@example.org",
            "otto@example.org",
            "",
        ] {
            let cookie = if email.is_empty() {
                String::new()
            } else {
                w.signed_in(email).await
            };
            people.push((email, cookie));
        }
        // Signing in is recorded; from here on, nothing may be.
        let before = w.events().await;
        for (email, cookie) in people {
            for path in &pages {
                let page = w.get(path, &cookie).await;
                let refused = if email.is_empty() {
                    page.status == StatusCode::SEE_OTHER
                } else {
                    page.status == StatusCode::FORBIDDEN || page.status == StatusCode::NOT_FOUND
                };
                assert!(refused, "{email} {path}: {}", page.status);
                for secret in [
                    "Vera Resident",
                    "Night Keys",
                    "picking",
                    "9900",
                    "99.00",
                    "3B entry",
                ] {
                    assert!(!page.body.contains(secret), "{email} {path}: {secret}");
                }
            }
            // With their own valid form token, every action is refused.
            let csrf = if email.is_empty() {
                String::new()
            } else {
                form_token(&w.get("/security", &cookie).await.body)
            };
            for (path, body) in &posts {
                let sent = w.post(path, &cookie, format!("csrf={csrf}&{body}")).await;
                assert!(
                    matches!(
                        sent.status,
                        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::SEE_OTHER
                    ),
                    "{email} {path}: {}",
                    sent.status
                );
                if email.is_empty() {
                    assert!(
                        sent.headers[header::LOCATION]
                            .to_str()
                            .unwrap()
                            .starts_with("/sign-in"),
                        "{path}"
                    );
                }
            }
            // Their own console list is only of a building they staff.
            if email.starts_with("otto") {
                let own = w.get("/console/cases", &cookie).await;
                assert_eq!(own.status, StatusCode::OK);
                assert!(own.body.contains("Nobody is locked out now"));
            }
        }
        assert_eq!(w.events().await, before, "nothing changed");
        assert_eq!(w.ledger().await.len(), 1);
    })
    .await;
}
