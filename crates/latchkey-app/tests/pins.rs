//! PINs no household can learn from another, on every backend: on a door that more than one
//! household can open latchkey generates the code, staff never choose a resident's code, a
//! code chosen for a home stays on that home's doors, and a one-time window that is already
//! over is refused.

mod common;

use common::{World, membership, person, pin_for};
use latchkey_app::AppError;
use latchkey_app::credentials::{CredentialInput, CredentialPatch};
use latchkey_app::directory::DoorInput;
use latchkey_app::secrets::Keys;
use latchkey_app::store::records::{Door, Person, Unit};
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Role};
use latchkey_core::pin::{Pin, PinContext};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, DoorId};

/// A code nobody in these tests holds (it passes the PIN rules).
const FRESH: &str = "58274613";
/// A code a resident chooses for their own door.
const CHOSEN: &str = "731946";

/// The world of `common` plus a lobby in unit 4071's door group, and a second unit, 4072,
/// with its own entry door, the same lobby, and its resident Nina.
struct Building {
    w: World,
    lobby: Door,
    neighbours: Unit,
    neighbours_door: Door,
    nina: Person,
}

async fn door(w: &World, name: &str, kind: DoorKind, unit: Option<&Unit>) -> Door {
    w.app
        .create_door(
            w.admin
                .staff(w.property.id)
                .expect("the caller may do this"),
            DoorInput {
                name: name.to_owned(),
                kind,
                unit_id: unit.map(|u| u.id),
                mode: DoorMode::Normal,
                pin_slots: 30,
            },
        )
        .await
        .expect("create door")
}

async fn give_group(w: &World, unit: &Unit, doors: &[DoorId]) {
    let g = w
        .app
        .create_door_group(
            w.admin
                .staff(w.property.id)
                .expect("the caller may do this"),
            &format!("{} doors", unit.label),
            doors,
        )
        .await
        .expect("door group");
    w.app
        .update_unit(
            w.app
                .may_update_unit(&w.admin, unit.id)
                .await
                .expect("the caller may do this"),
            None,
            None,
            Some(Some(g.id)),
        )
        .await
        .expect("unit gets its group");
}

async fn building(db: &latchkey_testkit::TestDb) -> Building {
    let w = World::build(db).await;
    let lobby = door(&w, "Lobby", DoorKind::BuildingEntrance, None).await;
    give_group(&w, &w.unit, &[w.door.id, lobby.id]).await;
    let neighbours = w
        .app
        .create_unit(
            w.admin
                .staff(w.property.id)
                .expect("the caller may do this"),
            "4072",
            4,
            None,
        )
        .await
        .expect("second unit");
    let neighbours_door = door(&w, "4072 entry", DoorKind::UnitEntry, Some(&neighbours)).await;
    give_group(&w, &neighbours, &[neighbours_door.id, lobby.id]).await;
    let (nina, _) = {
        let input = person(
            "Nina Neighbour",
            None,
            None,
            membership(Role::Resident, Some(neighbours.id)),
        );
        w.app.create_person(
            w.app
                .may_create_person(&w.admin, w.property.id, &input)
                .expect("the caller may do this"),
            input,
        )
    }
    .await
    .expect("neighbour");
    Building {
        w,
        lobby,
        neighbours,
        neighbours_door,
        nina,
    }
}

fn on_doors(mut input: CredentialInput, doors: &[DoorId]) -> CredentialInput {
    input.doors = Some(doors.to_vec());
    input
}

/// The digits of a PIN credential, read the way the lock programmer reads them.
async fn code_of(w: &World, id: CredentialId) -> String {
    let mut conn = w.store.read().await.expect("read");
    let sealed = latchkey_store::credentials::secret(&mut conn, id)
        .await
        .expect("read secret")
        .expect("a PIN has a sealed code");
    Keys::from_master(&[1; 32])
        .open_pin(w.property.id, &sealed)
        .expect("open")
}

async fn credential_count(w: &World) -> usize {
    w.app
        .list_credentials(&w.admin, w.property.id, None)
        .await
        .expect("list")
        .len()
}

/// What a person sees of an answer: the variant and its words (or the success).
fn seen(r: &Result<latchkey_app::credentials::Created, AppError>) -> String {
    match r {
        Ok(_) => "created".to_owned(),
        Err(AppError::Invalid { field, message }) => format!("invalid {field}: {message}"),
        Err(AppError::Conflict(m)) => format!("conflict: {m}"),
        Err(other) => format!("{other:?}"),
    }
}

#[tokio::test]
async fn a_neighbour_trying_a_residents_code_on_the_lobby_learns_nothing() {
    latchkey_testkit::each_backend("lobby_oracle", |db| async move {
        let b = building(&db).await;
        let w = &b.w;
        let rosa = w.principal(w.resident.id).await;
        let nina = w.principal(b.nina.id).await;
        // Rosa's PIN opens her door and the lobby.
        let mine = {
            let input = pin_for(w.resident.id, Some(w.unit.id), None);
            w.app.create_credential(
                rosa.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("Rosa's PIN");
        assert!(mine.credential.doors.contains(&b.lobby.id));
        let rosas_code = mine.pin.expect("the holder is handed her code");
        assert_ne!(rosas_code, FRESH);

        let before = (w.event_count().await, credential_count(w).await);
        for doors in [None, Some(vec![b.lobby.id])] {
            let attempt = |code: &str| {
                let mut input = pin_for(b.nina.id, Some(b.neighbours.id), Some(code));
                input.doors = doors.clone();
                input
            };
            let taken = async {
                let input = attempt(&rosas_code);
                w.app
                    .create_credential(nina.credential_issuer(w.property.id, input.unit_id)?, input)
                    .await
            }
            .await;
            let free = async {
                let input = attempt(FRESH);
                w.app
                    .create_credential(nina.credential_issuer(w.property.id, input.unit_id)?, input)
                    .await
            }
            .await;
            assert_eq!(
                seen(&taken),
                seen(&free),
                "the answer must not depend on whether the code is in use"
            );
            match taken {
                Err(AppError::Invalid { field, message }) => {
                    assert_eq!(field, "pin");
                    assert!(message.contains("generated"), "{message}");
                }
                other => panic!(
                    "a chosen code on the lobby must be refused: {}",
                    seen(&other)
                ),
            }
        }
        assert_eq!(
            (w.event_count().await, credential_count(w).await),
            before,
            "refused attempts write nothing"
        );
    })
    .await;
}

#[tokio::test]
async fn a_resident_chooses_a_code_for_their_own_door_and_a_clash_at_home_is_named() {
    latchkey_testkit::each_backend("chosen_at_home", |db| async move {
        let b = building(&db).await;
        let w = &b.w;
        let rosa = w.principal(w.resident.id).await;
        let created = {
            let input = on_doors(
                pin_for(w.resident.id, Some(w.unit.id), Some(CHOSEN)),
                &[w.door.id],
            );
            w.app.create_credential(
                rosa.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a resident chooses a code for her own door");
        assert_eq!(created.pin.as_deref(), Some(CHOSEN));
        let kid = w.unit_member("Kid", Role::Household).await;
        match async {
            let input = on_doors(pin_for(kid.id, Some(w.unit.id), Some(CHOSEN)), &[w.door.id]);
            w.app
                .create_credential(rosa.credential_issuer(w.property.id, input.unit_id)?, input)
                .await
        }
        .await
        {
            Err(AppError::Conflict(m)) => assert!(m.contains("already in use"), "{m}"),
            other => panic!("a clash inside the household is reported: {}", seen(&other)),
        }
        // Nina may choose the very same code for her own door: it is another door.
        let nina = w.principal(b.nina.id).await;
        {
            let input = on_doors(
                pin_for(b.nina.id, Some(b.neighbours.id), Some(CHOSEN)),
                &[b.neighbours_door.id],
            );
            w.app.create_credential(
                nina.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("the same code on another household's own door says nothing");
    })
    .await;
}

#[tokio::test]
async fn staff_cannot_set_a_residents_code() {
    latchkey_testkit::each_backend("staff_choose", |db| async move {
        let b = building(&db).await;
        let w = &b.w;
        let max = w.principal(w.manager.id).await;
        let before = (w.event_count().await, credential_count(w).await);
        for who in [&max, &w.admin] {
            for doors in [vec![w.door.id], vec![w.door.id, b.lobby.id]] {
                match async {
                    let input =
                        on_doors(pin_for(w.resident.id, Some(w.unit.id), Some(FRESH)), &doors);
                    w.app
                        .create_credential(
                            who.credential_issuer(w.property.id, input.unit_id)?,
                            input,
                        )
                        .await
                }
                .await
                {
                    Err(AppError::Invalid { field, message }) => {
                        assert_eq!(field, "pin");
                        assert!(message.contains("generated"), "{message}");
                    }
                    other => panic!("staff chose a resident's code: {}", seen(&other)),
                }
            }
        }
        // Nor their own: a property-wide code opens shared doors.
        let mut own = pin_for(w.manager.id, None, Some(FRESH));
        own.doors = Some(vec![b.lobby.id]);
        match async {
            w.app
                .create_credential(max.credential_issuer(w.property.id, own.unit_id)?, own)
                .await
        }
        .await
        {
            Err(AppError::Invalid { field, .. }) => assert_eq!(field, "pin"),
            other => panic!("a staff code on the lobby was chosen: {}", seen(&other)),
        }
        assert_eq!(
            (w.event_count().await, credential_count(w).await),
            before,
            "refused attempts write nothing"
        );
    })
    .await;
}

#[tokio::test]
async fn staff_issue_a_generated_code_that_only_its_holder_reveals() {
    latchkey_testkit::each_backend("staff_generated", |db| async move {
        let b = building(&db).await;
        let w = &b.w;
        let max = w.principal(w.manager.id).await;
        let rosa = w.principal(w.resident.id).await;
        let created = {
            let input = pin_for(w.resident.id, Some(w.unit.id), None);
            w.app.create_credential(
                max.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("staff issue a PIN without choosing it");
        assert_eq!(created.pin, None, "staff never see someone else's code");
        let id = created.credential.id;
        assert!(
            matches!(
                async {
                    w.app
                        .reveal_pin(w.app.may_reveal_pin(&max, id).await?)
                        .await
                }
                .await,
                Err(AppError::Forbidden(_))
            ),
            "staff may not reveal it"
        );
        let code = w
            .app
            .reveal_pin(
                w.app
                    .may_reveal_pin(&rosa, id)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("the holder reveals it");
        assert_eq!(code, code_of(w, id).await);
        assert!(
            Pin::parse(
                &code,
                &PinContext {
                    unit_label: Some("4071")
                }
            )
            .is_ok(),
            "a generated code passes the PIN rules"
        );
        // With the default wrong-code limit of 5, a code on these doors needs 8 digits.
        assert_eq!(code.len(), 8, "a generated code has the computed length");
        assert!(matches!(
            async {
                w.app
                    .reveal_pin(w.app.may_reveal_pin(&rosa, id).await?)
                    .await
            }
            .await,
            Err(AppError::Conflict(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn generated_codes_on_a_shared_door_are_unique_pass_the_rules_and_have_the_computed_length() {
    latchkey_testkit::each_backend("generated_unique", |db| async move {
        let b = building(&db).await;
        let w = &b.w;
        let mut codes = Vec::new();
        for i in 0..24 {
            let (unit, label) = if i % 2 == 0 {
                (&w.unit, "4071")
            } else {
                (&b.neighbours, "4072")
            };
            let (p, _) = {
                let input = person(
                    &format!("Member {i}"),
                    None,
                    None,
                    membership(Role::Household, Some(unit.id)),
                );
                w.app.create_person(
                    w.app
                        .may_create_person(&w.admin, w.property.id, &input)
                        .expect("the caller may do this"),
                    input,
                )
            }
            .await
            .expect("member");
            let c = {
                let input = pin_for(p.id, Some(unit.id), None);
                w.app.create_credential(
                    w.admin
                        .credential_issuer(w.property.id, input.unit_id)
                        .expect("the caller may do this"),
                    input,
                )
            }
            .await
            .expect("a generated PIN");
            assert!(c.credential.doors.contains(&b.lobby.id));
            let code = code_of(w, c.credential.id).await;
            assert!(
                Pin::parse(
                    &code,
                    &PinContext {
                        unit_label: Some(label)
                    }
                )
                .is_ok(),
                "{i}: a generated code passes the PIN rules"
            );
            assert_eq!(code.len(), 8, "{i}: the computed length");
            codes.push(code);
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            codes.len(),
            "every code on the lobby is different"
        );
    })
    .await;
}

#[tokio::test]
async fn once_another_household_can_open_a_door_its_residents_no_longer_choose_codes_there() {
    latchkey_testkit::each_backend("door_becomes_shared", |db| async move {
        let b = building(&db).await;
        let w = &b.w;
        // Staff let Nina's phone open 4071's door (a neighbour watering plants).
        {
            let input = CredentialInput {
                kind: CredentialKind::PhoneKey,
                doors: Some(vec![w.door.id]),
                ..pin_for(b.nina.id, Some(b.neighbours.id), None)
            };
            w.app.create_credential(
                w.admin
                    .credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a neighbour's phone key on 4071's door");
        let rosa = w.principal(w.resident.id).await;
        match async {
            let input = on_doors(
                pin_for(w.resident.id, Some(w.unit.id), Some(CHOSEN)),
                &[w.door.id],
            );
            w.app
                .create_credential(rosa.credential_issuer(w.property.id, input.unit_id)?, input)
                .await
        }
        .await
        {
            Err(AppError::Invalid { field, message }) => {
                assert_eq!(field, "pin");
                assert!(message.contains("generated"), "{message}");
            }
            other => panic!("a code was chosen on a shared door: {}", seen(&other)),
        }
    })
    .await;
}

#[tokio::test]
async fn a_door_holding_a_code_its_household_chose_is_not_opened_to_another_household() {
    latchkey_testkit::each_backend("no_widening", |db| async move {
        let b = building(&db).await;
        let w = &b.w;
        let rosa = w.principal(w.resident.id).await;
        {
            let input = on_doors(
                pin_for(w.resident.id, Some(w.unit.id), Some(CHOSEN)),
                &[w.door.id],
            );
            w.app.create_credential(
                rosa.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("Rosa's chosen code on her door");
        let before = (w.event_count().await, credential_count(w).await);
        for kind in [CredentialKind::Pin, CredentialKind::PhoneKey] {
            match async {
                let input = CredentialInput {
                    kind,
                    doors: Some(vec![w.door.id]),
                    ..pin_for(b.nina.id, Some(b.neighbours.id), None)
                };
                w.app
                    .create_credential(
                        w.admin.credential_issuer(w.property.id, input.unit_id)?,
                        input,
                    )
                    .await
            }
            .await
            {
                Err(AppError::Conflict(m)) => {
                    assert!(m.contains("chose"), "{m}");
                    assert!(!m.contains(CHOSEN), "{m}");
                }
                other => panic!("{kind}: a chosen code's door was widened: {}", seen(&other)),
            }
        }
        assert_eq!(
            (w.event_count().await, credential_count(w).await),
            before,
            "refused attempts write nothing"
        );
        // The household itself may still be given more credentials on its door.
        let kid = w.unit_member("Kid", Role::Household).await;
        {
            let input = on_doors(pin_for(kid.id, Some(w.unit.id), None), &[w.door.id]);
            w.app.create_credential(
                w.admin
                    .credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("the household's own door takes more of its own codes");
    })
    .await;
}

#[tokio::test]
async fn a_one_time_window_that_is_already_over_is_refused() {
    latchkey_testkit::each_backend("past_one_time", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        // The world's clock reads Monday 5 January 2026, 08:00 in Berlin.
        let past = Schedule::OneTime {
            from: jiff::civil::date(2026, 1, 4).at(10, 0, 0, 0),
            until: jiff::civil::date(2026, 1, 4).at(11, 0, 0, 0),
        };
        let before = (w.event_count().await, credential_count(&w).await);
        let input = CredentialInput {
            schedule: past.clone(),
            ..pin_for(w.resident.id, Some(w.unit.id), None)
        };
        match async {
            w.app
                .create_credential(rosa.credential_issuer(w.property.id, input.unit_id)?, input)
                .await
        }
        .await
        {
            Err(AppError::Invalid { field, message }) => {
                assert_eq!(field, "schedule");
                assert!(message.contains("past"), "{message}");
            }
            other => panic!(
                "a one-time window in the past was accepted: {}",
                seen(&other)
            ),
        }
        assert_eq!(
            (w.event_count().await, credential_count(&w).await),
            before,
            "nothing written"
        );
        // Changing a credential to such a window is refused the same way.
        let c = {
            let input = pin_for(w.resident.id, Some(w.unit.id), None);
            w.app.create_credential(
                rosa.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a PIN");
        let before = w.event_count().await;
        let patch = CredentialPatch {
            schedule: Some(past),
            ..CredentialPatch::default()
        };
        match async {
            w.app
                .update_credential(
                    w.app.may_update_credential(&rosa, c.credential.id).await?,
                    patch,
                )
                .await
        }
        .await
        {
            Err(AppError::Invalid { field, .. }) => assert_eq!(field, "schedule"),
            other => panic!("expected Invalid, got {:?}", other.map(|c| c.id)),
        }
        assert_eq!(w.event_count().await, before, "nothing written");
        let fresh = w
            .app
            .get_credential(&rosa, c.credential.id)
            .await
            .expect("read");
        assert_eq!(fresh.schedule, Schedule::Always);
        // A window that is still running is fine.
        let running = CredentialInput {
            schedule: Schedule::OneTime {
                from: jiff::civil::date(2026, 1, 5).at(7, 0, 0, 0),
                until: jiff::civil::date(2026, 1, 5).at(9, 0, 0, 0),
            },
            ..pin_for(w.resident.id, Some(w.unit.id), None)
        };
        w.app
            .create_credential(
                rosa.credential_issuer(w.property.id, running.unit_id)
                    .expect("the caller may do this"),
                running,
            )
            .await
            .expect("a one-time window still open is accepted");
    })
    .await;
}
