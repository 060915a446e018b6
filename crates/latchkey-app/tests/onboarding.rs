//! Importing a building file (docs/OPERATIONS.md, "Importing a building"), on every backend:
//! a good file is written exactly, a bad one names each line and writes nothing, a second import
//! of the same file is refused, and only the property's staff may import.

mod common;

use common::{World, membership, person, property_input};
use latchkey_app::AppError;
use latchkey_app::onboarding::{ImportMode, ImportReport};
use latchkey_core::model::{DoorKind, Role};

const GOOD: &str = "unit,floor,door,resident_name,resident_email,role\n\
    5A,5,Door 5A,Ana Silva,ana@example.org,resident\n\
    5A,,,Marta Silva,,household\n\
    5B,5,Door 5B,Bo Berg,bo@example.org,\n\
    6A,6,Door 6A,,,\n";

/// The number of units, doors and people of the world's property.
async fn sizes(w: &World) -> (usize, usize, usize) {
    let p = w.property.id;
    (
        w.app.list_units(&w.admin, p).await.expect("units").len(),
        w.app.list_doors(&w.admin, p).await.expect("doors").len(),
        w.app.list_people(&w.admin, p).await.expect("people").len(),
    )
}

async fn import(w: &World, file: &str, mode: ImportMode) -> ImportReport {
    w.app
        .import_building(
            w.admin
                .importer(w.property.id)
                .expect("an admin may import"),
            file.as_bytes(),
            mode,
        )
        .await
        .expect("the import runs")
}

#[tokio::test]
async fn a_good_file_adds_exactly_its_units_doors_and_people_with_one_import_event() {
    latchkey_testkit::each_backend("import_good", |db| async move {
        let w = World::build(&db).await;
        let before = sizes(&w).await;
        let events = w.event_count().await;
        let checked = import(&w, GOOD, ImportMode::Check).await;
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        assert_eq!((checked.units, checked.doors, checked.people), (3, 3, 3));
        assert!(!checked.written);
        assert_eq!(sizes(&w).await, before, "a check writes nothing");
        assert_eq!(w.event_count().await, events);

        let done = import(&w, GOOD, ImportMode::Write { invite: true }).await;
        assert!(done.written && done.errors.is_empty(), "{:?}", done.errors);
        assert_eq!(sizes(&w).await, (before.0 + 3, before.1 + 3, before.2 + 3));
        // Two people have an address: two links, each for its person.
        let mut invited: Vec<_> = done
            .invitations
            .iter()
            .map(|i| (i.email.as_str(), i.unit.as_str()))
            .collect();
        invited.sort_unstable();
        assert_eq!(
            invited,
            [("ana@example.org", "5A"), ("bo@example.org", "5B")]
        );
        for i in &done.invitations {
            assert!(i.invitation.token.starts_with("lki_"), "a real link");
        }

        let units = w
            .app
            .list_units(&w.admin, w.property.id)
            .await
            .expect("units");
        let a = units.iter().find(|u| u.label == "5A").expect("5A");
        assert_eq!(a.floor, 5);
        let doors = w
            .app
            .list_doors(&w.admin, w.property.id)
            .await
            .expect("doors");
        let d = doors
            .iter()
            .find(|d| d.name == "Door 5A")
            .expect("its door");
        assert_eq!((d.unit_id, d.kind), (Some(a.id), DoorKind::UnitEntry));
        let people = w
            .app
            .list_people(&w.admin, w.property.id)
            .await
            .expect("people");
        let marta = people
            .iter()
            .find(|p| p.name == "Marta Silva")
            .expect("Marta");
        assert_eq!(marta.email, None);
        let theirs = w
            .app
            .list_memberships(&w.admin, w.property.id)
            .await
            .expect("memberships")
            .into_iter()
            .filter(|m| m.person_id == marta.id)
            .collect::<Vec<_>>();
        assert_eq!(theirs.len(), 1);
        assert_eq!(
            (theirs[0].role, theirs[0].unit_id),
            (Role::Household, Some(a.id))
        );

        let log = w.all_events_text().await;
        assert_eq!(log.matches(" property.imported ").count(), 1, "{log}");
        assert!(
            log.contains(r#""people":3"#) && log.contains(r#""units":3"#),
            "{log}"
        );
        assert_eq!(log.matches(" unit.created ").count(), 1 + 3);
        assert_eq!(log.matches(" person.invitation_created ").count(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_file_with_bad_lines_names_each_and_writes_nothing() {
    latchkey_testkit::each_backend("import_bad", |db| async move {
        let w = World::build(&db).await;
        let before = sizes(&w).await;
        let events = w.event_count().await;
        let file = "unit,floor,door,resident_name,resident_email,role\n\
            5A,5,Door 5A,Ana Silva,ana@example,resident\n\
            5B,5,Door 5B,Bo Berg,bo@example.org,owner\n\
            5C,5,Door 5C,Cy,,\n\
            5A,5,Door 5X,,,\n\
            4071,4,Door 4071b,,,\n\
            5D,5,4071 entry,,,\n\
            5E,5,Door 5E,Eve\n";
        let r = import(&w, file, ImportMode::Write { invite: false }).await;
        assert!(!r.written);
        let lines: Vec<Option<u64>> = r.errors.iter().map(|e| e.line).collect();
        // The property's own unit and door are named with the file's own mistakes.
        assert_eq!(
            lines,
            [Some(2), Some(3), Some(5), Some(6), Some(7), Some(8)],
            "{:?}",
            r.errors
        );
        assert!(r.errors[0].message.contains("not an e-mail address"));
        assert!(r.errors[1].message.contains("role `owner`"));
        assert!(r.errors[2].message.contains("unit 5A is already on line 2"));
        assert!(r.errors[3].message.contains("unit 4071 already exists"));
        assert!(
            r.errors[4]
                .message
                .contains("door \"4071 entry\" already exists")
        );
        assert!(r.errors[5].message.contains("has 4 columns"));
        assert_eq!(sizes(&w).await, before, "nothing is written");
        assert_eq!(w.event_count().await, events, "nothing is recorded");

        // A file whose only mistakes are clashes with the property.
        let file = "unit,floor,door,resident_name,resident_email,role\n\
            5C,5,Door 5C,Cy,,\n\
            4071,4,Door 4071b,,,\n\
            5D,5,4071 entry,,,\n";
        let r = import(&w, file, ImportMode::Write { invite: false }).await;
        let lines: Vec<Option<u64>> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(3), Some(4)], "{:?}", r.errors);
        assert!(r.errors[0].message.contains("unit 4071 already exists"));
        assert!(
            r.errors[1]
                .message
                .contains("door \"4071 entry\" already exists")
        );
        assert_eq!(sizes(&w).await, before, "nothing is written");
        assert_eq!(w.event_count().await, events);
    })
    .await;
}

#[tokio::test]
async fn importing_the_same_file_twice_is_refused_line_by_line_and_adds_nothing() {
    latchkey_testkit::each_backend("import_twice", |db| async move {
        let w = World::build(&db).await;
        assert!(
            import(&w, GOOD, ImportMode::Write { invite: false })
                .await
                .written
        );
        let after = sizes(&w).await;
        let events = w.event_count().await;
        let again = import(&w, GOOD, ImportMode::Write { invite: false }).await;
        assert!(!again.written);
        let lines: Vec<Option<u64>> = again.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(2), Some(4), Some(5)], "each unit's first line");
        assert!(
            again
                .errors
                .iter()
                .all(|e| e.message.contains("imported already"))
        );
        assert_eq!(sizes(&w).await, after);
        assert_eq!(w.event_count().await, events);
    })
    .await;
}

#[tokio::test]
async fn a_huge_file_is_refused_whole_and_writes_nothing() {
    latchkey_testkit::each_backend("import_huge", |db| async move {
        let w = World::build(&db).await;
        let before = sizes(&w).await;
        let mut file = String::from("unit,floor,door,resident_name,resident_email,role\n");
        for i in 0..60_000 {
            file.push_str(&format!("U{i},1,Door U{i},Person {i},p{i}@example.org,\n"));
        }
        let r = import(&w, &file, ImportMode::Write { invite: false }).await;
        assert!(!r.written);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, None, "the whole file");
        assert!(r.errors[0].message.contains("split it"), "{}", r.errors[0]);
        assert_eq!(sizes(&w).await, before);
    })
    .await;
}

#[tokio::test]
async fn an_address_already_in_use_is_imported_unconfirmed_and_its_owner_told() {
    latchkey_testkit::each_backend("import_taken_email", |db| async move {
        let w = World::build(&db).await;
        let file = "unit,floor,door,resident_name,resident_email,role\n\
            5A,5,Door 5A,Someone Else,ROSA@example.org,\n";
        let r = import(&w, file, ImportMode::Write { invite: false }).await;
        assert!(
            r.written,
            "the same answer as for a new address: {:?}",
            r.errors
        );
        let log = w.all_events_text().await;
        assert!(log.contains("Someone Else"));
        let mut conn = w.store.read().await.expect("read");
        let (owner, _) = latchkey_store::people::find_by_email(&mut conn, "rosa@example.org")
            .await
            .expect("read")
            .expect("Rosa keeps her address");
        assert_eq!(
            owner.id, w.resident.id,
            "the sign-in address is still Rosa's"
        );
    })
    .await;
}

#[tokio::test]
async fn only_the_propertys_staff_and_admins_may_import() {
    latchkey_testkit::each_backend("import_who", |db| async move {
        let w = World::build(&db).await;
        let p = w.property.id;
        let manager = w.principal(w.manager.id).await;
        assert!(manager.importer(p).is_ok(), "the property's manager may");
        assert!(w.admin.importer(p).is_ok(), "an admin may");
        let resident = w.principal(w.resident.id).await;
        assert!(matches!(resident.importer(p), Err(AppError::Forbidden(_))));
        let household = w.unit_member("Hal Household", Role::Household).await;
        let household = w.principal(household.id).await;
        assert!(matches!(household.importer(p), Err(AppError::Forbidden(_))));

        // A manager of another property is told this one is not found.
        let other = w
            .app
            .create_property(
                w.admin.admin().expect("admin"),
                property_input("Elm Court", "Europe/Berlin"),
            )
            .await
            .expect("another property");
        let (elsewhere, _) = {
            let input = person("Olga Other", None, None, membership(Role::Manager, None));
            w.app
                .create_person(
                    w.app
                        .may_create_person(&w.admin, other.id, &input)
                        .expect("may"),
                    input,
                )
                .await
                .expect("their manager")
        };
        let elsewhere = w.principal(elsewhere.id).await;
        assert!(matches!(elsewhere.importer(p), Err(AppError::NotFound(_))));
        assert!(elsewhere.importer(other.id).is_ok());
        // An installer of the property may (they set up its units and doors one by one too).
        let (installer, _) = {
            let input = person(
                "Ivo Installer",
                None,
                None,
                membership(Role::Installer, None),
            );
            w.app
                .create_person(
                    w.app.may_create_person(&w.admin, p, &input).expect("may"),
                    input,
                )
                .await
                .expect("an installer")
        };
        assert!(w.principal(installer.id).await.importer(p).is_ok());

        // The manager's import is recorded as theirs.
        let r = w
            .app
            .import_building(
                manager.importer(p).expect("may"),
                GOOD.as_bytes(),
                ImportMode::Write { invite: false },
            )
            .await
            .expect("imports");
        assert!(r.written);
        let mut conn = w.store.read().await.expect("read");
        let log = latchkey_store::audit::stored_after(&mut conn, i64::MIN, 1_000_000)
            .await
            .expect("events");
        let imported = log
            .iter()
            .find(|e| e.kind == "property.imported")
            .expect("recorded");
        assert_eq!(imported.actor, Some(w.manager.id.0));
    })
    .await;
}
