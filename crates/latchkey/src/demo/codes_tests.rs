//! Over the whole demo building, on every backend: no unit can learn another unit's codes by
//! trying them as its own.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;

use latchkey_app::credentials::{Created, CredentialInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, AppError, ManualClock, NoDevices};
use latchkey_core::model::{CredentialKind, Role};
use latchkey_core::pin::{Pin, PinContext};
use latchkey_core::schedule::Schedule;

const MASTER: [u8; 32] = [9; 32];

/// What a resident sees of an answer: success, or the kind of refusal and its words.
fn seen(r: &Result<Created, AppError>) -> String {
    match r {
        Ok(_) => "created".into(),
        Err(AppError::Invalid { field, message }) => format!("invalid {field}: {message}"),
        Err(AppError::Conflict(m)) => format!("conflict: {m}"),
        Err(other) => format!("{other:?}"),
    }
}

#[tokio::test]
async fn in_the_demo_building_no_unit_learns_another_units_codes() {
    latchkey_testkit::each_backend("demo_codes", |db| async move {
        let store = db.open().await;
        let app = App::new(
            store.clone(),
            Keys::from_master(&MASTER),
            Arc::new(ManualClock::new("2026-12-04T12:00:00Z".parse().unwrap())),
            Arc::new(NoDevices),
            AppConfig::default(),
        );
        super::ensure(&app).await.unwrap();
        let admin = super::demo_admin(&app).await.unwrap();
        let property = app
            .list_properties(&admin)
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.name == super::PROPERTY)
            .unwrap()
            .id;
        let doors = app.list_doors(&admin, property).await.unwrap();
        // Every unit's PIN codes, as the lock programmer reads them.
        let mut codes = Vec::new();
        for c in app.list_credentials(&admin, property, None).await.unwrap() {
            if c.kind != CredentialKind::Pin {
                continue;
            }
            let sealed = {
                let mut conn = store.read().await.unwrap();
                latchkey_store::credentials::secret(&mut conn, c.id)
                    .await
                    .unwrap()
                    .unwrap()
            };
            let code = Keys::from_master(&MASTER)
                .open_pin(property, &sealed)
                .unwrap();
            codes.push((c.unit_id.unwrap(), code));
        }
        assert!(codes.len() >= 10, "the demo hands out PINs");
        let in_use: HashSet<String> = codes.iter().map(|(_, c)| c.clone()).collect();
        // Codes nobody holds, a new one for each attempt.
        let mut candidates = (0..)
            .map(|k: u64| format!("{:08}", 13_579_246 + k * 7_919))
            .filter(|c| !in_use.contains(c) && Pin::parse(c, &PinContext::default()).is_ok());

        let residents: Vec<_> = app
            .list_memberships(&admin, property)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.role == Role::Resident)
            .collect();
        assert_eq!(residents.len(), 12);
        let mut tries = 0;
        for m in &residents {
            let unit = m.unit_id.unwrap();
            let who = app.terminal_principal(m.person_id).await.unwrap();
            let entry = doors.iter().find(|d| d.unit_id == Some(unit)).unwrap().id;
            for (_, code) in codes.iter().filter(|(u, _)| *u != unit) {
                for on in [None, Some(vec![entry])] {
                    let attempt = |pin: &str| CredentialInput {
                        person_id: m.person_id,
                        kind: CredentialKind::Pin,
                        label: None,
                        unit_id: Some(unit),
                        doors: on.clone(),
                        schedule: Schedule::Always,
                        max_uses: None,
                        duress: false,
                        pin: Some(pin.to_owned()),
                        card_uid: None,
                    };
                    let theirs = async {
                        let input = attempt(code);
                        app.create_credential(
                            who.credential_issuer(property, input.unit_id)?,
                            input,
                        )
                        .await
                    }
                    .await;
                    let fresh = candidates.next().unwrap();
                    let nobodys = async {
                        let input = attempt(&fresh);
                        app.create_credential(
                            who.credential_issuer(property, input.unit_id)?,
                            input,
                        )
                        .await
                    }
                    .await;
                    assert!(
                        !matches!(theirs, Err(AppError::Conflict(_))),
                        "unit {unit} learnt that a code is in use: {}",
                        seen(&theirs)
                    );
                    assert_eq!(
                        seen(&theirs),
                        seen(&nobodys),
                        "unit {unit}: the answer depends on whether the code is another unit's"
                    );
                    tries += 1;
                }
            }
        }
        assert!(tries > 200, "{tries} tries");
    })
    .await;
}
