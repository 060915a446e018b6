//! Every record type goes in and comes back out field for field, and the database's unique
//! rules come back as `StoreError::Conflict`.

use jiff::Timestamp;
use jiff::civil::{date, time};
use latchkey_core::model::{
    CredentialKind, CredentialStatus, DoorKind, DoorMode, Policy, Role, SensorKind,
};
use latchkey_core::schedule::{Day, Schedule, WeeklyWindow};
use latchkey_core::{DoorId, PersonId, PropertyId, UnitId};
use latchkey_store::credentials::{self, NewCredential};
use latchkey_store::people::{self, NewMembership, NewPerson};
use latchkey_store::property::{self, NewDoor, NewProperty, NewSensor};
use latchkey_store::records::{Door, Property};
use latchkey_store::{Conn, StoreError};

/// An instant with microsecond precision (what the database stores).
fn at(us: i64) -> Timestamp {
    Timestamp::from_microsecond(1_767_225_600_000_000 + us).expect("valid instant")
}

fn weekday_mornings() -> Schedule {
    Schedule::Weekly {
        windows: vec![WeeklyWindow {
            days: vec![Day::Mon, Day::Wed, Day::Fri],
            start: time(8, 30, 0, 0),
            end: time(12, 0, 0, 0),
        }],
    }
}

fn new_property(name: &str) -> NewProperty {
    NewProperty {
        name: name.to_owned(),
        address: "1 Lock Lane".to_owned(),
        timezone: "Europe/Berlin".to_owned(),
        policy: Policy {
            wrong_code_limit: 3,
            keypad_disable_seconds: 120,
            auto_relock_seconds: 15,
            door_ajar_minutes: 7,
            clear_unmanaged_codes: false,
            recovery_proofs: vec![latchkey_core::model::ProofKind::Guardians],
            guardians_required: 3,
            lockout_fee_office_cents: 4_000,
            lockout_fee_after_hours_cents: 9_000,
            free_lockouts_per_year: 2,
            locksmith_paid_by: latchkey_core::model::Payer::Landlord,
            one_time_pin_minutes: 30,
            require_presence: true,
            entry_notice_hours: 48,
            personal_event_retention_days: 30,
            credential_change_delay_minutes: 30,
        },
        office_hours: weekday_mornings(),
    }
}

async fn a_property(conn: &mut Conn, name: &str) -> Property {
    property::create_property(conn, &new_property(name), at(1))
        .await
        .expect("create property")
}

async fn a_door(conn: &mut Conn, p: PropertyId, unit: Option<UnitId>, name: &str) -> Door {
    property::create_door(
        conn,
        &NewDoor {
            property_id: p,
            unit_id: unit,
            name: name.to_owned(),
            kind: DoorKind::UnitEntry,
            mode: DoorMode::Normal,
            pin_slots: 30,
        },
    )
    .await
    .expect("create door")
}

async fn a_person(conn: &mut Conn, name: &str, email: Option<&str>) -> PersonId {
    people::create_person(
        conn,
        &NewPerson {
            name: name.to_owned(),
            email: email.map(str::to_owned),
            phone: None,
            password_hash: None,
            is_admin: false,
        },
        at(2),
    )
    .await
    .expect("create person")
    .id
}

fn pin_credential(
    p: PropertyId,
    person: PersonId,
    doors: Vec<DoorId>,
    digest: &[u8],
) -> NewCredential {
    NewCredential {
        property_id: p,
        person_id: person,
        unit_id: None,
        kind: CredentialKind::Pin,
        label: "keypad code".to_owned(),
        schedule: Schedule::Always,
        max_uses: None,
        duress: false,
        non_access: false,
        pin_chosen: false,
        secret: Some(vec![9, 9, 9]),
        pin_digest: Some(digest.to_vec()),
        card_uid: None,
        doors,
    }
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn a_property_round_trips_every_field_through_create_get_list_and_update() {
    latchkey_testkit::each_backend("property_round_trip", |db| async move {
        let store = db.open().await;
        let mut conn = store.read().await.expect("conn");
        let created = a_property(&mut conn, "Maple Court").await;
        let input = new_property("Maple Court");
        assert_eq!(created.name, input.name);
        assert_eq!(created.address, input.address);
        assert_eq!(created.timezone, input.timezone);
        assert_eq!(created.policy, input.policy);
        assert_eq!(created.office_hours, input.office_hours);
        assert_eq!(created.created_at, at(1));

        let got = property::get_property(&mut conn, created.id)
            .await
            .expect("get");
        assert_eq!(got.as_ref(), Some(&created));
        assert_eq!(
            property::list_properties(&mut conn).await.expect("list"),
            vec![created.clone()]
        );

        let mut changed = created.clone();
        changed.name = "Maple Court East".to_owned();
        changed.address = "2 Lock Lane".to_owned();
        changed.timezone = "America/New_York".to_owned();
        changed.policy = Policy::default();
        changed.office_hours = Schedule::Always;
        property::update_property(&mut conn, &changed)
            .await
            .expect("update");
        assert_eq!(
            property::get_property(&mut conn, created.id)
                .await
                .expect("get"),
            Some(changed)
        );
        assert_eq!(
            property::get_property(&mut conn, PropertyId(9_999))
                .await
                .expect("get"),
            None,
            "an unknown id is an absence, not an error"
        );
    })
    .await;
}

#[tokio::test]
async fn units_door_groups_doors_and_sensors_round_trip_every_field() {
    latchkey_testkit::each_backend("building_round_trip", |db| async move {
        let store = db.open().await;
        let mut conn = store.read().await.expect("conn");
        let p = a_property(&mut conn, "Oak House").await.id;

        let lobby = property::create_door(
            &mut conn,
            &NewDoor {
                property_id: p,
                unit_id: None,
                name: "Lobby".to_owned(),
                kind: DoorKind::BuildingEntrance,
                mode: DoorMode::NoRemote,
                pin_slots: 200,
            },
        )
        .await
        .expect("create lobby");
        assert_eq!(lobby.property_id, p);
        assert_eq!(lobby.unit_id, None);
        assert_eq!(lobby.name, "Lobby");
        assert_eq!(lobby.kind, DoorKind::BuildingEntrance);
        assert_eq!(lobby.mode, DoorMode::NoRemote);
        assert_eq!(lobby.lock_name, None);
        assert_eq!(lobby.pin_slots, 200);
        assert_eq!(lobby.keypad_disabled_until, None);

        let group = property::create_door_group(&mut conn, p, "Common", &[lobby.id, lobby.id])
            .await
            .expect("create group");
        assert_eq!(group.doors, vec![lobby.id], "duplicates collapse");
        assert_eq!(
            property::get_door_group(&mut conn, group.id)
                .await
                .expect("get"),
            Some(group.clone())
        );

        let unit = property::create_unit(&mut conn, p, "4B", 4, Some(group.id))
            .await
            .expect("create unit");
        assert_eq!(
            (unit.property_id, unit.label.as_str(), unit.floor),
            (p, "4B", 4)
        );
        assert_eq!(unit.door_group_id, Some(group.id));
        assert_eq!(
            property::get_unit(&mut conn, unit.id).await.expect("get"),
            Some(unit.clone())
        );

        let mut entry = a_door(&mut conn, p, Some(unit.id), "4B entry").await;
        assert_eq!(entry.unit_id, Some(unit.id));
        entry.mode = DoorMode::Privacy;
        entry.kind = DoorKind::BackDoor;
        entry.name = "4B back".to_owned();
        entry.lock_name = Some("lock_4b".to_owned());
        entry.pin_slots = 12;
        entry.keypad_disabled_until = Some(at(777));
        property::update_door(&mut conn, &entry)
            .await
            .expect("update door");
        assert_eq!(
            property::get_door(&mut conn, entry.id).await.expect("get"),
            Some(entry.clone())
        );
        assert_eq!(
            property::list_doors(&mut conn, p).await.expect("list"),
            vec![lobby.clone(), entry.clone()]
        );

        property::set_group_doors(&mut conn, group.id, &[entry.id, lobby.id])
            .await
            .expect("set group doors");
        let mut sorted = vec![lobby.id, entry.id];
        sorted.sort_unstable();
        let regrouped = property::get_door_group(&mut conn, group.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(regrouped.doors, sorted);
        assert_eq!(
            property::list_door_groups(&mut conn, p)
                .await
                .expect("list"),
            vec![regrouped]
        );
        match property::set_group_doors(&mut conn, group.id, &[DoorId(9_999)]).await {
            Err(StoreError::MissingReference(_)) => {}
            other => panic!("a missing door is a missing reference, got {other:?}"),
        }

        let mut u2 = unit.clone();
        u2.label = "4C".to_owned();
        u2.floor = -2;
        u2.door_group_id = None;
        property::update_unit(&mut conn, &u2)
            .await
            .expect("update unit");
        assert_eq!(
            property::get_unit(&mut conn, unit.id).await.expect("get"),
            Some(u2.clone())
        );
        assert_eq!(
            property::list_units(&mut conn, p).await.expect("list"),
            vec![u2]
        );

        let sensor = property::create_sensor(
            &mut conn,
            &NewSensor {
                property_id: p,
                unit_id: Some(unit.id),
                door_id: Some(entry.id),
                name: "4B contact".to_owned(),
                kind: SensorKind::DoorContact,
                floor: 4,
            },
        )
        .await
        .expect("create sensor");
        assert_eq!(sensor.property_id, p);
        assert_eq!(sensor.unit_id, Some(unit.id));
        assert_eq!(sensor.door_id, Some(entry.id));
        assert_eq!(sensor.name, "4B contact");
        assert_eq!(sensor.kind, SensorKind::DoorContact);
        assert_eq!(sensor.floor, 4);
        assert_eq!(sensor.device_name, None);
        assert_eq!(
            property::get_sensor(&mut conn, sensor.id)
                .await
                .expect("get"),
            Some(sensor.clone())
        );
        assert_eq!(
            property::list_sensors(&mut conn, p).await.expect("list"),
            vec![sensor]
        );
    })
    .await;
}

#[tokio::test]
async fn people_and_memberships_round_trip_every_field() {
    latchkey_testkit::each_backend("people_round_trip", |db| async move {
        let store = db.open().await;
        let mut conn = store.read().await.expect("conn");
        let p = a_property(&mut conn, "Birch Flats").await.id;
        let unit = property::create_unit(&mut conn, p, "12", 1, None)
            .await
            .expect("unit");

        let ada = people::create_person(
            &mut conn,
            &NewPerson {
                name: "Ada".to_owned(),
                email: Some("ada@example.org".to_owned()),
                phone: Some("+49 30 1234".to_owned()),
                password_hash: Some("$argon2id$fake".to_owned()),
                is_admin: true,
            },
            at(5),
        )
        .await
        .expect("create person");
        assert_eq!(ada.name, "Ada");
        assert_eq!(ada.email.as_deref(), Some("ada@example.org"));
        assert_eq!(ada.phone.as_deref(), Some("+49 30 1234"));
        assert!(ada.is_admin);
        assert!(ada.has_password);
        assert_eq!(ada.created_at, at(5));
        assert_eq!(
            people::get_person(&mut conn, ada.id).await.expect("get"),
            Some(ada.clone())
        );
        let (found, hash) = people::find_by_email(&mut conn, "ada@example.org")
            .await
            .expect("find")
            .expect("found");
        assert_eq!(found, ada);
        assert_eq!(hash.as_deref(), Some("$argon2id$fake"));
        assert!(people::any_admin(&mut conn).await.expect("any admin"));

        let bo = a_person(&mut conn, "Bo", None).await;
        let bo_person = people::get_person(&mut conn, bo)
            .await
            .expect("get")
            .expect("bo");
        assert!(!bo_person.has_password && !bo_person.is_admin);
        assert_eq!(bo_person.email, None);

        let mut renamed = bo_person.clone();
        renamed.name = "Bo Li".to_owned();
        renamed.email = Some("bo@example.org".to_owned());
        renamed.phone = Some("5550101".to_owned());
        people::update_person(&mut conn, &renamed)
            .await
            .expect("update person");
        people::set_password_hash(&mut conn, bo, "$argon2id$other")
            .await
            .expect("set hash");
        renamed.has_password = true;
        assert_eq!(
            people::get_person(&mut conn, bo).await.expect("get"),
            Some(renamed.clone())
        );

        let m = people::create_membership(
            &mut conn,
            &NewMembership {
                person_id: bo,
                property_id: p,
                unit_id: Some(unit.id),
                role: Role::Guest,
                valid_from: Some(at(10)),
                valid_until: Some(at(20)),
            },
            at(6),
        )
        .await
        .expect("create membership");
        assert_eq!(m.person_id, bo);
        assert_eq!(m.property_id, p);
        assert_eq!(m.unit_id, Some(unit.id));
        assert_eq!(m.role, Role::Guest);
        assert_eq!(m.valid_from, Some(at(10)));
        assert_eq!(m.valid_until, Some(at(20)));
        assert_eq!(m.created_at, at(6));
        assert_eq!(
            people::get_membership(&mut conn, m.id).await.expect("get"),
            Some(m.clone())
        );
        assert_eq!(
            people::memberships_of(&mut conn, bo).await.expect("of"),
            vec![m.clone()]
        );
        assert_eq!(
            people::list_memberships(&mut conn, p).await.expect("list"),
            vec![m.clone()]
        );
        assert_eq!(
            people::list_people(&mut conn, p).await.expect("people"),
            vec![renamed]
        );

        people::end_membership(&mut conn, m.id, at(15))
            .await
            .expect("end");
        let ended = people::get_membership(&mut conn, m.id)
            .await
            .expect("get")
            .expect("m");
        assert_eq!(ended.valid_until, Some(at(15)));
        assert!(ended.is_active_at(at(14)) && !ended.is_active_at(at(15)));

        match people::create_membership(
            &mut conn,
            &NewMembership {
                person_id: PersonId(9_999),
                property_id: p,
                unit_id: None,
                role: Role::Manager,
                valid_from: None,
                valid_until: None,
            },
            at(6),
        )
        .await
        {
            Err(StoreError::MissingReference(_)) => {}
            other => panic!("a membership of nobody is a missing reference, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn a_credential_round_trips_every_field_and_its_status_schedule_and_uses_change() {
    latchkey_testkit::each_backend("credential_round_trip", |db| async move {
        let store = db.open().await;
        let mut conn = store.read().await.expect("conn");
        let p = a_property(&mut conn, "Cedar Row").await.id;
        let unit = property::create_unit(&mut conn, p, "3", 0, None)
            .await
            .expect("unit");
        let d1 = a_door(&mut conn, p, Some(unit.id), "3 front").await.id;
        let d2 = a_door(&mut conn, p, None, "Garage").await.id;
        let who = a_person(&mut conn, "Cy", Some("cy@example.org")).await;
        let other = a_person(&mut conn, "Di", None).await;

        let input = NewCredential {
            property_id: p,
            person_id: who,
            unit_id: Some(unit.id),
            kind: CredentialKind::RfidCard,
            label: "blue fob".to_owned(),
            schedule: weekday_mornings(),
            max_uses: Some(40),
            duress: false,
            non_access: false,
            pin_chosen: false,
            secret: None,
            pin_digest: None,
            card_uid: Some("04A1B2C3".to_owned()),
            doors: vec![d2, d1, d2],
        };
        let c = credentials::create_credential(&mut conn, &input, at(30))
            .await
            .expect("create credential");
        assert_eq!(c.property_id, p);
        assert_eq!(c.person_id, who);
        assert_eq!(c.unit_id, Some(unit.id));
        assert_eq!(c.kind, CredentialKind::RfidCard);
        assert_eq!(c.label, "blue fob");
        assert_eq!(c.status, CredentialStatus::Active);
        assert_eq!(c.schedule, weekday_mornings());
        assert_eq!(c.max_uses, Some(40));
        assert_eq!(c.uses, 0);
        assert!(!c.duress);
        assert_eq!(c.card_uid.as_deref(), Some("04A1B2C3"));
        let mut doors = vec![d1, d2];
        doors.sort_unstable();
        assert_eq!(c.doors, doors, "doors are sorted and deduplicated");
        assert_eq!(c.created_at, at(30));
        assert_eq!(c.revoked_at, None);
        assert_eq!(
            credentials::get_credential(&mut conn, c.id)
                .await
                .expect("get"),
            Some(c.clone())
        );

        let duress = credentials::create_credential(
            &mut conn,
            &NewCredential {
                duress: true,
                non_access: false,
                pin_chosen: false,
                ..pin_credential(p, other, vec![d2], b"digest-duress")
            },
            at(31),
        )
        .await
        .expect("create duress pin");
        assert!(duress.duress);
        assert_eq!(duress.unit_id, None);
        assert_eq!(
            credentials::secret(&mut conn, duress.id)
                .await
                .expect("secret"),
            Some(vec![9, 9, 9])
        );
        assert_eq!(
            credentials::secret(&mut conn, c.id).await.expect("secret"),
            None
        );

        assert_eq!(
            credentials::list_credentials(&mut conn, p, None)
                .await
                .expect("list"),
            vec![c.clone(), duress.clone()]
        );
        assert_eq!(
            credentials::list_credentials(&mut conn, p, Some(other))
                .await
                .expect("list"),
            vec![duress.clone()],
            "the person filter keeps only that person's credentials"
        );

        credentials::set_schedule(&mut conn, c.id, &Schedule::Always, None)
            .await
            .expect("sched");
        credentials::add_use(&mut conn, c.id).await.expect("use");
        credentials::add_use(&mut conn, c.id).await.expect("use");
        credentials::set_status(&mut conn, c.id, CredentialStatus::Frozen, at(40))
            .await
            .expect("freeze");
        let frozen = credentials::get_credential(&mut conn, c.id)
            .await
            .expect("get")
            .expect("c");
        assert_eq!(frozen.schedule, Schedule::Always);
        assert_eq!(frozen.max_uses, None);
        assert_eq!(frozen.uses, 2);
        assert_eq!(frozen.status, CredentialStatus::Frozen);
        assert_eq!(frozen.revoked_at, None, "freezing is not revoking");

        credentials::set_status(&mut conn, c.id, CredentialStatus::Revoked, at(50))
            .await
            .expect("revoke");
        credentials::set_status(&mut conn, c.id, CredentialStatus::Revoked, at(60))
            .await
            .expect("revoke again");
        let revoked = credentials::get_credential(&mut conn, c.id)
            .await
            .expect("get")
            .expect("c");
        assert_eq!(revoked.status, CredentialStatus::Revoked);
        assert_eq!(
            revoked.revoked_at,
            Some(at(50)),
            "a second revoke keeps the first instant"
        );

        assert!(
            credentials::mark_revealed(&mut conn, duress.id)
                .await
                .expect("reveal")
        );
        assert!(
            !credentials::mark_revealed(&mut conn, duress.id)
                .await
                .expect("reveal"),
            "a PIN is revealed once"
        );
    })
    .await;
}

#[tokio::test]
async fn names_that_must_be_unique_give_a_conflict() {
    latchkey_testkit::each_backend("unique_names", |db| async move {
        let store = db.open().await;
        let mut conn = store.read().await.expect("conn");
        let p = a_property(&mut conn, "Elm Yard").await;
        assert_conflict(
            property::create_property(&mut conn, &new_property("Elm Yard"), at(1)).await,
            "a second property of the same name",
        );
        let q = a_property(&mut conn, "Fir Yard").await;
        let mut renamed = q.clone();
        renamed.name = "Elm Yard".to_owned();
        assert_conflict(
            property::update_property(&mut conn, &renamed).await,
            "renaming a property to a taken name",
        );

        property::create_unit(&mut conn, p.id, "1A", 1, None)
            .await
            .expect("unit");
        assert_conflict(
            property::create_unit(&mut conn, p.id, "1A", 2, None).await,
            "a second unit with the same label",
        );
        property::create_unit(&mut conn, q.id, "1A", 1, None)
            .await
            .expect("the same label at another property is fine");

        property::create_door_group(&mut conn, p.id, "All", &[])
            .await
            .expect("group");
        assert_conflict(
            property::create_door_group(&mut conn, p.id, "All", &[]).await,
            "a second door group with the same name",
        );

        let mut d = a_door(&mut conn, p.id, None, "Front").await;
        assert_conflict(
            property::create_door(
                &mut conn,
                &NewDoor {
                    property_id: p.id,
                    unit_id: None,
                    name: "Front".to_owned(),
                    kind: DoorKind::Garage,
                    mode: DoorMode::Normal,
                    pin_slots: 1,
                },
            )
            .await,
            "a second door with the same name",
        );
        d.lock_name = Some("lock_front".to_owned());
        property::update_door(&mut conn, &d)
            .await
            .expect("pair lock");
        let mut e = a_door(&mut conn, q.id, None, "Front").await;
        e.lock_name = Some("lock_front".to_owned());
        assert_conflict(
            property::update_door(&mut conn, &e).await,
            "one lock paired to two doors",
        );

        let sensor = NewSensor {
            property_id: p.id,
            unit_id: None,
            door_id: None,
            name: "Hall window".to_owned(),
            kind: SensorKind::Window,
            floor: 0,
        };
        property::create_sensor(&mut conn, &sensor)
            .await
            .expect("sensor");
        assert_conflict(
            property::create_sensor(&mut conn, &sensor).await,
            "a second sensor with the same name",
        );

        a_person(&mut conn, "Gil", Some("gil@example.org")).await;
        assert_conflict(
            people::create_person(
                &mut conn,
                &NewPerson {
                    name: "Other Gil".to_owned(),
                    email: Some("gil@example.org".to_owned()),
                    phone: None,
                    password_hash: None,
                    is_admin: false,
                },
                at(1),
            )
            .await,
            "a second person with the same e-mail address",
        );
    })
    .await;
}

#[tokio::test]
async fn a_pin_cannot_be_shared_by_two_credentials_on_one_door_until_the_first_is_revoked() {
    latchkey_testkit::each_backend("pin_per_door", |db| async move {
        let store = db.open().await;
        let mut conn = store.read().await.expect("conn");
        let p = a_property(&mut conn, "Pine Close").await.id;
        let front = a_door(&mut conn, p, None, "Front").await.id;
        let back = a_door(&mut conn, p, None, "Back").await.id;
        let ann = a_person(&mut conn, "Ann", None).await;
        let ben = a_person(&mut conn, "Ben", None).await;

        let first = credentials::create_credential(
            &mut conn,
            &pin_credential(p, ann, vec![front], b"same-digest"),
            at(1),
        )
        .await
        .expect("first PIN");
        match credentials::create_credential(
            &mut conn,
            &pin_credential(p, ben, vec![back, front], b"same-digest"),
            at(2),
        )
        .await
        {
            // PostgreSQL names the index; SQLite names its columns.
            Err(StoreError::Conflict(name)) => assert!(
                name.contains("credential_doors_pin_unique") || name.contains("pin_digest"),
                "the conflict names the PIN rule, got `{name}`"
            ),
            other => panic!("expected Conflict, got {other:?}"),
        }
        credentials::create_credential(
            &mut conn,
            &pin_credential(p, ben, vec![back], b"same-digest"),
            at(3),
        )
        .await
        .expect("the same PIN on another door is fine");
        credentials::create_credential(
            &mut conn,
            &pin_credential(p, ben, vec![front], b"other-digest"),
            at(4),
        )
        .await
        .expect("another PIN on the same door is fine");

        credentials::set_status(&mut conn, first.id, CredentialStatus::Revoked, at(5))
            .await
            .expect("revoke the first");
        credentials::create_credential(
            &mut conn,
            &pin_credential(p, ben, vec![front], b"same-digest"),
            at(6),
        )
        .await
        .expect("revoking the first PIN frees it on its door");
    })
    .await;
}

#[tokio::test]
async fn instants_keep_their_microseconds_across_dates() {
    latchkey_testkit::each_backend("instants", |db| async move {
        let store = db.open().await;
        let mut conn = store.read().await.expect("conn");
        let p = a_property(&mut conn, "Yew Court").await.id;
        let who = a_person(&mut conn, "Hal", None).await;
        let from = date(2026, 3, 29)
            .at(1, 59, 59, 123_456_000)
            .in_tz("Europe/Berlin");
        let from = from.expect("valid zoned time").timestamp();
        let m = people::create_membership(
            &mut conn,
            &NewMembership {
                person_id: who,
                property_id: p,
                unit_id: None,
                role: Role::Locksmith,
                valid_from: Some(from),
                valid_until: None,
            },
            at(0),
        )
        .await
        .expect("membership");
        let back = people::get_membership(&mut conn, m.id)
            .await
            .expect("get")
            .expect("m");
        assert_eq!(back.valid_from, Some(from));
        assert_eq!(back.valid_until, None);
    })
    .await;
}
