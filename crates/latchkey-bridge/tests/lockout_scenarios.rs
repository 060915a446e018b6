//! The real lockout situations, end to end against virtual locks on the embedded broker: keys
//! forgotten but PIN known; phone dead at 02:00 with the roommate away; a window open on the
//! third floor; office closed with the on-call person reachable; a dead battery and a
//! locksmith; a forced entry and the rotation after it. The scenarios that turn on the door's
//! lock run once per protocol (`both!`): a Zigbee lock and a Z-Wave one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Protocol, Rig, eventually, rig_full_for};
use latchkey_app::authz::Principal;
use latchkey_app::directory::{PropertyPatch, SensorInput};
use latchkey_app::lockout::{BookLocksmith, CompleteJob, PublicStart};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::recovery::LocksmithInput;
use latchkey_app::secrets::Keys;
use latchkey_app::{Clock, ShiftedClock, SystemClock};
use latchkey_core::model::{CredentialStatus, Role, SensorKind};
use latchkey_core::schedule::{Day, Schedule, WeeklyWindow};
use latchkey_core::{CredentialId, LockoutCaseId};
use latchkey_sim::KeypadOutcome;
use latchkey_store::lockout as cases;

/// A scenario's building, its door's lock speaking `protocol`.
async fn scenario(test: &str, protocol: Protocol, clock: Arc<dyn Clock>, sensors: &[&str]) -> Rig {
    rig_full_for(
        test,
        protocol,
        Duration::ZERO,
        clock,
        sensors.iter().map(|s| (*s).to_owned()).collect(),
    )
    .await
}

async fn add_person(rig: &Rig, name: &str, email: Option<&str>, role: Role) -> Principal {
    let unit = (!role.is_property_wide()).then_some(rig.unit);
    let (p, _) = {
        let input = PersonInput {
            name: name.into(),
            email: email.map(str::to_owned),
            phone: None,
            password: None,
            membership: MembershipInput {
                role,
                unit_id: unit,
                valid_from: None,
                valid_until: None,
            },
        };
        rig.app.create_person(
            rig.app
                .may_create_person(&rig.admin, rig.property, &input)
                .unwrap(),
            input,
        )
    }
    .await
    .unwrap();
    rig.app.terminal_principal(p.id).await.unwrap()
}

async fn office_hours(rig: &Rig, hours: Schedule) {
    {
        let patch = PropertyPatch {
            office_hours: Some(hours),
            ..Default::default()
        };
        rig.app.update_property(
            rig.admin
                .property_changer(rig.property, patch.touches_settings())
                .unwrap(),
            patch,
        )
    }
    .await
    .unwrap();
}

/// Weekdays 09:00–17:00.
fn weekday_office() -> Schedule {
    Schedule::Weekly {
        windows: vec![WeeklyWindow {
            days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
            start: jiff::civil::time(9, 0, 0, 0),
            end: jiff::civil::time(17, 0, 0, 0),
        }],
    }
}

async fn public_case(rig: &Rig, identity: &str) -> (LockoutCaseId, String) {
    let started = rig
        .app
        .start_lockout_public(
            PublicStart {
                property_id: rig.property.0,
                unit: "1A".into(),
                identity: identity.into(),
            },
            "203.0.113.20",
        )
        .await
        .unwrap();
    let mut conn = rig.store.read().await.unwrap();
    let case = cases::case_by_token(
        &mut conn,
        &latchkey_app::secrets::token_digest(&started.token),
    )
    .await
    .unwrap()
    .unwrap();
    (case.id, started.token)
}

async fn told(rig: &Rig, case: LockoutCaseId) -> Vec<(i64, String)> {
    let mut conn = rig.store.read().await.unwrap();
    cases::notifications_of_case(&mut conn, case)
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.person_id.0, n.kind))
        .collect()
}

async fn lock_status(rig: &Rig, id: CredentialId) -> Vec<String> {
    rig.app
        .credential_locks(&rig.admin, id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.status)
        .collect()
}

async fn reaches(rig: &Rig, id: CredentialId, want: &str) {
    eventually(&format!("credential {id} {want} on the lock"), || async {
        lock_status(rig, id).await.iter().all(|s| s == want)
    })
    .await;
}

async fn keys_forgotten_but_pin_known_the_first_way_is_the_keypad_and_it_opens(p: Protocol) {
    let rig = scenario("scenario_keys", p, Arc::new(SystemClock), &[]).await;
    let pin = rig.pin("480261").await;
    rig.until_status(pin, "set").await;
    let (case, _) = rig
        .app
        .start_lockout_for(
            rig.resident
                .case_starter(rig.property, rig.resident.id())
                .unwrap(),
            rig.unit,
        )
        .await
        .unwrap();
    let view = rig.app.lockout_case(&rig.resident, case.id).await.unwrap();
    assert_eq!(view.ways[0].way, "pin", "{:?}", view.ways);
    assert_eq!(view.ways[0].available, Some(true));
    assert_eq!(view.ways[0].cost_cents, 0);
    assert!(rig.keypad("480261").is_some());
}
both!(keys_forgotten_but_pin_known_the_first_way_is_the_keypad_and_it_opens);

async fn phone_dead_at_two_in_the_morning_roommate_away_a_spare_key_holder_releases_a_one_time_pin(
    p: Protocol,
) {
    // Sunday 2 August 2026, 02:00 in Berlin; the clock runs on from there.
    let night = jiff::civil::date(2026, 8, 2)
        .at(2, 0, 0, 0)
        .in_tz("Europe/Berlin")
        .unwrap()
        .timestamp();
    let rig = scenario(
        "scenario_night",
        p,
        Arc::new(ShiftedClock::starting_at(night)),
        &[],
    )
    .await;
    office_hours(&rig, weekday_office()).await;
    let roommate = add_person(&rig, "Rob Roommate", None, Role::Household).await;
    let hana = add_person(&rig, "Hana Holder", None, Role::TrustedContact).await;
    rig.app
        .grant_spare_key(
            rig.resident.unit_admin(rig.property, rig.unit).unwrap(),
            hana.id(),
            Schedule::Always,
        )
        .await
        .unwrap();
    let enrolment = rig
        .app
        .enroll_totp(rig.resident.own_account())
        .await
        .unwrap();

    // From a friend's phone: the case, then the authenticator code on the resident's watch.
    let (case, token) = public_case(&rig, "rita@example.org").await;
    let view = rig.app.lockout_case(&rig.resident, case).await.unwrap();
    let way = |w: &str| view.ways.iter().find(|x| x.way == w).unwrap().clone();
    assert_eq!(way("pin").available, Some(false));
    assert_eq!(
        way("household").available,
        Some(false),
        "the roommate has no way to open it from away"
    );
    assert_eq!(way("staff").available, Some(false));
    assert_eq!(
        way("staff").why_not.as_deref(),
        Some("the office is closed and nobody is on call now")
    );
    assert_eq!(way("spare_key").available, Some(true));
    assert!(
        told(&rig, case)
            .await
            .contains(&(roommate.id().0, "lockout.opened".into()))
    );

    // Nothing is released before the proof.
    assert!(
        async {
            rig.app
                .release_spare_pin(rig.app.may_use_spare_key(&hana, case).await?)
                .await
        }
        .await
        .is_err()
    );
    let secret = latchkey_core::totp::Secret::from_base32(&enrolment.secret).unwrap();
    let unix = u64::try_from(rig.app.now().as_second()).unwrap();
    let code = latchkey_core::totp::code_at(&secret, unix);
    let proven = rig
        .app
        .prove_with_totp(&token, &code, "203.0.113.20")
        .await
        .unwrap();
    assert_eq!(proven.state, "proven");

    let released = rig
        .app
        .release_spare_pin(rig.app.may_use_spare_key(&hana, case).await.unwrap())
        .await
        .unwrap();
    let one_time = rig
        .app
        .list_credentials(&rig.admin, rig.property, Some(rig.resident.id()))
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.label.contains("spare key"))
        .unwrap();
    reaches(&rig, one_time.id, "set").await;
    assert!(rig.keypad(&released.pin).is_some());
    // Used once, it leaves the lock.
    reaches(&rig, one_time.id, "removed").await;
    assert!(rig.keypad(&released.pin).is_none());
    eventually("the household is told of the code's use", || async {
        told(&rig, case)
            .await
            .contains(&(roommate.id().0, "lockout.code_used".into()))
    })
    .await;
    // The code let the resident in: the case is resolved, and the household is told.
    eventually("the case is resolved by the code's use", || async {
        rig.app
            .lockout_case(&rig.admin, case)
            .await
            .is_ok_and(|c| c.state == "resolved")
    })
    .await;
    let news = told(&rig, case).await;
    for p in [rig.resident.id().0, roommate.id().0] {
        for kind in [
            "lockout.spare_key_released",
            "lockout.code_used",
            "lockout.resolved",
        ] {
            assert!(
                news.contains(&(p, kind.into())),
                "person {p} is told ({kind}): {news:?}"
            );
        }
    }
}
both!(phone_dead_at_two_in_the_morning_roommate_away_a_spare_key_holder_releases_a_one_time_pin);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_open_on_the_third_floor_is_offered_with_a_warning_not_to_climb() {
    let rig = scenario(
        "scenario_window",
        Protocol::Zigbee,
        Arc::new(SystemClock),
        &["window-1A"],
    )
    .await;
    let sensor = rig
        .app
        .create_sensor(
            rig.admin.staff(rig.property).unwrap(),
            SensorInput {
                name: "Kitchen window".into(),
                kind: SensorKind::Window,
                unit_id: Some(rig.unit),
                door_id: None,
                floor: 3,
            },
        )
        .await
        .unwrap();
    rig.app
        .pair_sensor(
            rig.app
                .may_pair_sensor(&rig.admin, sensor.id)
                .await
                .unwrap(),
            Some("window-1A"),
        )
        .await
        .unwrap();
    let (case, _) = rig
        .app
        .start_lockout_for(
            rig.admin
                .case_starter(rig.property, rig.resident.id())
                .unwrap(),
            rig.unit,
        )
        .await
        .unwrap();
    rig.fleet.open_door("window-1A").unwrap();
    eventually("the open window is offered", || async {
        let view = rig.app.lockout_case(&rig.resident, case.id).await.unwrap();
        view.ways
            .iter()
            .any(|w| w.way == "open_window" && w.available == Some(true))
    })
    .await;
    let view = rig.app.lockout_case(&rig.resident, case.id).await.unwrap();
    let window = view.ways.iter().find(|w| w.way == "open_window").unwrap();
    assert!(window.title.contains("Kitchen window"), "{}", window.title);
    assert!(
        window
            .warning
            .as_deref()
            .unwrap_or("")
            .contains("floor 3: do not climb"),
        "{window:?}"
    );
    rig.fleet.close_door("window-1A").unwrap();
    eventually("a closed window is no longer offered", || async {
        let view = rig.app.lockout_case(&rig.resident, case.id).await.unwrap();
        view.ways
            .iter()
            .any(|w| w.way == "open_window" && w.available == Some(false))
    })
    .await;
}

async fn office_closed_the_on_call_person_opens_after_an_id_check_and_the_fee_follows_the_lease(
    p: Protocol,
) {
    // Saturday 1 August 2026, 23:00 in Berlin: the office opens on Monday.
    let saturday_night = jiff::civil::date(2026, 8, 1)
        .at(23, 0, 0, 0)
        .in_tz("Europe/Berlin")
        .unwrap()
        .timestamp();
    let rig = scenario(
        "scenario_on_call",
        p,
        Arc::new(ShiftedClock::starting_at(saturday_night)),
        &[],
    )
    .await;
    office_hours(&rig, weekday_office()).await;
    let max = add_person(&rig, "Max Manager", Some("max@example.org"), Role::Manager).await;
    let (case, _) = public_case(&rig, "Rita").await;
    let view = rig.app.lockout_case(&rig.resident, case).await.unwrap();
    let staff = view.ways.iter().find(|w| w.way == "staff").unwrap();
    assert_eq!(staff.available, Some(false), "nobody on call yet");
    rig.app
        .set_on_call(
            rig.admin.staff(rig.property).unwrap(),
            max.id(),
            Schedule::Always,
        )
        .await
        .unwrap();
    let view = rig.app.lockout_case(&rig.resident, case).await.unwrap();
    let staff = view.ways.iter().find(|w| w.way == "staff").unwrap();
    assert_eq!(staff.available, Some(true));
    assert_eq!(staff.title, "The on-call person opens it");
    assert_eq!(
        staff.cost_cents, 0,
        "the year's free lockout is still there"
    );

    // Not before the proof.
    assert!(
        async {
            rig.app
                .staff_open(
                    rig.app.may_staff_open(&max, case).await?,
                    rig.door,
                    Duration::from_secs(5),
                )
                .await
        }
        .await
        .is_err()
    );
    rig.app
        .record_id_check(
            rig.app
                .may_record_id_check(&max, case, "identity card, photo matches")
                .await
                .unwrap(),
            "identity card, photo matches",
        )
        .await
        .unwrap();
    let opening = rig
        .app
        .staff_open(
            rig.app.may_staff_open(&max, case).await.unwrap(),
            rig.door,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(opening.command.status, "confirmed");
    assert!(!rig.bolt_locked());
    let first = opening.charge.unwrap();
    assert_eq!(first.amount_cents, 0);
    assert_eq!(first.reason, "free lockout 1 of 1 in 12 months");
    let news = told(&rig, case).await;
    assert!(
        news.contains(&(rig.resident.id().0, "lockout.staff_opened".into())),
        "a manager opening is always told to the residents: {news:?}"
    );
    let after = rig.app.lockout_case(&rig.resident, case).await.unwrap();
    assert_eq!(after.state, "resolved");

    // The second lockout in twelve months costs the after-hours fee.
    rig.manual(true);
    let (again, _) = public_case(&rig, "Rita").await;
    let view = rig.app.lockout_case(&rig.resident, again).await.unwrap();
    let staff = view.ways.iter().find(|w| w.way == "staff").unwrap();
    assert_eq!(
        staff.cost_cents, 7_500,
        "the fee is shown before it is charged"
    );
    rig.app
        .record_id_check(
            rig.app
                .may_record_id_check(&max, again, "identity card")
                .await
                .unwrap(),
            "identity card",
        )
        .await
        .unwrap();
    let second = rig
        .app
        .staff_open(
            rig.app.may_staff_open(&max, again).await.unwrap(),
            rig.door,
            Duration::from_secs(5),
        )
        .await
        .unwrap()
        .charge
        .unwrap();
    assert_eq!(second.amount_cents, 7_500);
    assert_eq!(second.reason, "lockout fee (after hours)");
    assert!(!second.waived);
    let ledger = rig
        .app
        .ledger(&rig.resident, rig.property, Some(rig.unit))
        .await
        .unwrap();
    assert_eq!(ledger.len(), 2);
    let csv = latchkey_app::lockout::ledger_csv(&ledger);
    assert_eq!(csv.lines().count(), 3, "{csv}");
}
both!(office_closed_the_on_call_person_opens_after_an_id_check_and_the_fee_follows_the_lease);

async fn a_dead_battery_calls_a_locksmith_the_landlord_pays_and_the_lock_is_marked_for_service(
    p: Protocol,
) {
    let rig = scenario("scenario_battery", p, Arc::new(SystemClock), &[]).await;
    let pin = rig.pin("480261").await;
    rig.until_status(pin, "set").await;
    let smith = rig
        .app
        .add_locksmith(
            rig.admin.staff(rig.property).unwrap(),
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
    rig.app
        .set_locksmith_status(
            rig.app
                .may_set_locksmith_status(&rig.admin, smith.id, "verified")
                .await
                .unwrap(),
            "verified",
        )
        .await
        .unwrap();
    // The battery runs low (reported), then dies: a flat lock says nothing more, and
    // Zigbee2MQTT marks it offline.
    rig.set_battery(8);
    eventually("the low battery is reported", || async {
        rig.events("lock.alarm")
            .await
            .iter()
            .any(|e| e["alarm"] == "low_battery")
    })
    .await;
    rig.dies();
    let (case, _) = rig
        .app
        .start_lockout_for(
            rig.resident
                .case_starter(rig.property, rig.resident.id())
                .unwrap(),
            rig.unit,
        )
        .await
        .unwrap();
    eventually("the PIN way says the battery is empty", || async {
        let view = rig.app.lockout_case(&rig.resident, case.id).await.unwrap();
        let pin = view.ways.iter().find(|w| w.way == "pin").unwrap();
        pin.available == Some(false)
            && pin
                .why_not
                .as_deref()
                .is_some_and(|w| w.contains("the battery is probably empty"))
    })
    .await;
    let view = rig.app.lockout_case(&rig.resident, case.id).await.unwrap();
    let locksmith = view.ways.iter().find(|w| w.way == "locksmith").unwrap();
    assert_eq!(locksmith.available, Some(true));
    assert_eq!(locksmith.cost_cents, 12_000);
    assert!(
        locksmith
            .warning
            .as_deref()
            .unwrap_or("")
            .contains("battery jump")
    );

    let book = BookLocksmith {
        locksmith_id: smith.id,
        door_id: None,
        window_minutes: None,
    };
    let booked = rig
        .app
        .book_locksmith(
            rig.app
                .may_book_locksmith(&rig.resident, case.id, &book)
                .await
                .unwrap(),
            book,
        )
        .await
        .unwrap();
    assert!(booked.job.lock_failed);
    assert!(
        rig.app
            .locksmith_code(&booked.job_token, "passport", "198.51.100.7")
            .await
            .is_err(),
        "no code for a lock that cannot take one"
    );
    let done = CompleteJob {
        cost_cents: 15_000,
        work: "battery_jump".into(),
    };
    let done = rig
        .app
        .complete_locksmith_job(
            rig.app
                .may_complete_locksmith_job(&rig.admin, booked.job.id, &done)
                .await
                .unwrap(),
            done,
        )
        .await
        .unwrap();
    assert_eq!(done.charge.payer, "landlord", "{:?}", done.charge);
    assert!(!done.charge.evidence.is_empty(), "the alarm is linked");
    let service = done.service.unwrap();
    assert_eq!(service.kind, "service");
    let alarms = rig.app.incidents(&rig.admin, rig.property).await.unwrap();
    assert!(
        alarms
            .iter()
            .any(|i| i.id == service.id && i.closed_at.is_none())
    );
}
both!(a_dead_battery_calls_a_locksmith_the_landlord_pays_and_the_lock_is_marked_for_service);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_door_is_marked_compromised_and_its_pins_are_replaced_on_the_lock() {
    let rig = scenario(
        "scenario_forced",
        Protocol::Zigbee,
        Arc::new(SystemClock),
        &[],
    )
    .await;
    let old = rig.pin("480261").await;
    rig.until_status(old, "set").await;
    rig.fleet.force_door("lock-0").unwrap();
    eventually("the incident is opened", || async {
        rig.app
            .incidents(&rig.admin, rig.property)
            .await
            .unwrap()
            .iter()
            .any(|i| i.kind == "compromised" && i.closed_at.is_none())
    })
    .await;
    let creds = rig
        .app
        .list_credentials(&rig.admin, rig.property, Some(rig.resident.id()))
        .await
        .unwrap();
    assert_eq!(
        creds.iter().find(|c| c.id == old).unwrap().status,
        CredentialStatus::Revoked
    );
    let new = creds
        .iter()
        .find(|c| c.id != old && c.status == CredentialStatus::Active)
        .unwrap()
        .id;
    reaches(&rig, old, "removed").await;
    reaches(&rig, new, "set").await;
    let mut conn = rig.store.read().await.unwrap();
    let message =
        cases::notifications_of_person_kind(&mut conn, rig.resident.id(), "credential.rotated")
            .await
            .unwrap()
            .pop()
            .unwrap();
    drop(conn);
    let sealed = hex::decode(message.body["pin_sealed_hex"].as_str().unwrap()).unwrap();
    let pin = String::from_utf8(
        Keys::from_master(&[9; 32])
            .open_bytes(
                &latchkey_app::incidents::rotated_pin_aad(rig.resident.id()),
                &sealed,
            )
            .unwrap(),
    )
    .unwrap();
    rig.fleet.close_door("lock-0").unwrap();
    rig.fleet.manual("lock-0", true).unwrap();
    assert!(matches!(
        rig.fleet.keypad("lock-0", "480261").unwrap(),
        KeypadOutcome::Refused { .. }
    ));
    assert!(matches!(
        rig.fleet.keypad("lock-0", &pin).unwrap(),
        KeypadOutcome::Opened { .. }
    ));
    let mut conn = rig.store.read().await.unwrap();
    let advised =
        cases::notifications_of_person_kind(&mut conn, rig.resident.id(), "door.compromised")
            .await
            .unwrap();
    assert!(
        advised[0].body["text"]
            .as_str()
            .unwrap()
            .contains("Do not sleep there")
    );
}

async fn presence_at_the_door_is_typed_on_the_keypad_never_opens_and_completes_the_proof(
    p: Protocol,
) {
    // On Z-Wave the presence code is a messaging code (User Code status 3): the lock reports
    // it (Access Control 0x20) and never opens for it.
    let rig = scenario("scenario_presence", p, Arc::new(SystemClock), &[]).await;
    let policy = latchkey_core::model::Policy {
        require_presence: true,
        ..Default::default()
    };
    {
        let patch = PropertyPatch {
            policy: Some(policy),
            ..Default::default()
        };
        rig.app.update_property(
            rig.admin
                .property_changer(rig.property, patch.touches_settings())
                .unwrap(),
            patch,
        )
    }
    .await
    .unwrap();
    let (case, token) = public_case(&rig, "Rita").await;
    let proven = rig
        .app
        .record_id_check(
            rig.app
                .may_record_id_check(&rig.admin, case, "passport, photo matches")
                .await
                .unwrap(),
            "passport, photo matches",
        )
        .await
        .unwrap();
    assert_eq!(
        proven.state, "open",
        "the ID check alone is not enough here"
    );

    let challenge = rig
        .app
        .presence_challenge(&token, "203.0.113.20")
        .await
        .unwrap();
    let credential = rig
        .app
        .list_credentials(&rig.admin, rig.property, Some(rig.resident.id()))
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.non_access)
        .unwrap();
    reaches(&rig, credential.id, "set").await;
    assert!(rig.bolt_locked());
    assert_eq!(
        rig.keypad(&challenge.code),
        None,
        "a presence code never opens"
    );
    assert!(rig.bolt_locked(), "a presence code never opens");
    eventually("the case is proven by presence", || async {
        rig.app.lockout_case(&rig.admin, case).await.unwrap().state == "proven"
    })
    .await;
    reaches(&rig, credential.id, "removed").await;
    assert!(!rig.holds(&challenge.code), "the used code left the lock");
    assert!(
        rig.app
            .presence_challenge(&token, "203.0.113.20")
            .await
            .is_err(),
        "a proven case asks for no more presence"
    );
}
both!(presence_at_the_door_is_typed_on_the_keypad_never_opens_and_completes_the_proof);
