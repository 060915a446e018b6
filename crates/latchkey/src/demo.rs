//! `serve --demo`: the demo building "Linden Court", created once through the app's use cases
//! by a terminal principal of a demo admin, and the sign-ins printed for a newcomer.
//!
//! Every door gets a lock (`linden/lobby`, `linden/1a-entry`, …) and every sensor a device,
//! paired when the building is created; `serve` runs those devices as virtual locks in-process.
//!
//! Creating people hashes passwords with Argon2id (tens of milliseconds each), so only the
//! accounts someone may sign in with get a password, and they are created concurrently.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use jiff::civil::time;
use latchkey_app::authz::Principal;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::directory::{DoorInput, PropertyInput, SensorInput};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::{App, AppError};
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Policy, Role, SensorKind};
use latchkey_core::schedule::{Day, Schedule, WeeklyWindow};
use latchkey_core::{DoorId, PersonId, PropertyId, UnitId};
use tokio::task::JoinSet;

use crate::wiring::app_err;

pub const PROPERTY: &str = "Linden Court";
const ADMIN_EMAIL: &str = "admin@linden-court.example";
const PASSWORD: &str = "linden-demo-2026";

/// A demo account to print.
pub struct SignIn {
    pub who: &'static str,
    pub email: String,
}

fn signins() -> Vec<SignIn> {
    [
        ("admin", ADMIN_EMAIL),
        ("manager", "manager@linden-court.example"),
        ("resident", "ana.1a@linden-court.example"),
        ("guest (dog walker)", "walker@linden-court.example"),
    ]
    .into_iter()
    .map(|(who, email)| SignIn {
        who,
        email: email.to_owned(),
    })
    .collect()
}

/// Prints where to go and how to sign in.
///
/// # Errors
/// Writing to the terminal failed.
pub fn print_signins(
    out: &mut impl Write,
    addr: SocketAddr,
    list: &[SignIn],
) -> std::io::Result<()> {
    writeln!(
        out,
        "demo building \"{PROPERTY}\" is ready: open http://{addr} and sign in"
    )?;
    for s in list {
        writeln!(out, "  {:<20} {:<36} password {PASSWORD}", s.who, s.email)?;
    }
    Ok(())
}

fn weekdays(start: (i8, i8), end: (i8, i8)) -> Schedule {
    Schedule::Weekly {
        windows: vec![WeeklyWindow {
            days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
            start: time(start.0, start.1, 0, 0),
            end: time(end.0, end.1, 0, 0),
        }],
    }
}

/// The demo building's sign-ins and devices.
pub struct DemoBuilding {
    pub signins: Vec<SignIn>,
    /// Friendly names of the locks paired with its doors.
    pub locks: Vec<String>,
    /// Friendly names of the devices paired with its sensors.
    pub sensors: Vec<String>,
}

/// The friendly name of a demo door's lock or a sensor's device: `linden/` and the name in
/// lower case, words joined by `-` ("Unit 1A entry" → `linden/1a-entry`).
fn device_name(name: &str) -> String {
    let name = name.strip_prefix("Unit ").unwrap_or(name).to_lowercase();
    format!(
        "linden/{}",
        name.split_whitespace().collect::<Vec<_>>().join("-")
    )
}

/// Creates the demo building unless a property named "Linden Court" exists; returns the
/// sign-ins and the paired devices either way.
///
/// # Errors
/// Any use case failing (the error names it).
pub async fn ensure(app: &App) -> Result<DemoBuilding> {
    let started = std::time::Instant::now();
    let admin = demo_admin(app).await?;
    let existing = app
        .list_properties(&admin)
        .await
        .map_err(app_err)?
        .into_iter()
        .find(|p| p.name == PROPERTY);
    let property = match existing {
        Some(p) => {
            tracing::info!("demo building already exists; leaving it as it is");
            p.id
        }
        None => {
            let id = build(app, &admin)
                .await
                .context("creating the demo building failed")?;
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                "demo building created"
            );
            id
        }
    };
    // Read back rather than recomputed: an installer may have re-paired a demo door.
    let locks = app
        .list_doors(&admin, property)
        .await
        .map_err(app_err)?
        .into_iter()
        .filter_map(|d| d.lock_name)
        .collect();
    let sensors = app
        .list_sensors(&admin, property)
        .await
        .map_err(app_err)?
        .into_iter()
        .filter_map(|s| s.device_name)
        .collect();
    Ok(DemoBuilding {
        signins: signins(),
        locks,
        sensors,
    })
}

async fn demo_admin(app: &App) -> Result<Principal> {
    match app.terminal_admin(Some(ADMIN_EMAIL)).await {
        Ok(admin) => Ok(admin),
        Err(AppError::NotFound(_)) => {
            let id = app
                .create_admin("Demo Admin", ADMIN_EMAIL, PASSWORD)
                .await
                .map_err(app_err)?
                .id;
            app.terminal_principal(id).await.map_err(app_err)
        }
        Err(e) => Err(app_err(e)),
    }
}

struct Building {
    property: PropertyId,
    units: Vec<(String, UnitId)>,
}

async fn build(app: &App, admin: &Principal) -> Result<PropertyId> {
    let p = app
        .create_property(
            admin.admin()?,
            PropertyInput {
                name: PROPERTY.to_owned(),
                address: "Lindenstraße 12, 10969 Berlin".to_owned(),
                timezone: "Europe/Berlin".to_owned(),
                policy: Policy::default(),
                office_hours: weekdays((9, 0), (17, 0)),
            },
        )
        .await
        .map_err(app_err)?;
    let door = |name: &str, kind, unit_id| DoorInput {
        name: name.to_owned(),
        kind,
        unit_id,
        mode: DoorMode::Normal,
        pin_slots: 30,
    };
    let mut shared = Vec::new();
    for (name, kind) in [
        ("Lobby", DoorKind::BuildingEntrance),
        ("Mail room", DoorKind::Amenity),
        ("Garage", DoorKind::Garage),
        ("Back door", DoorKind::BackDoor),
    ] {
        let d = app
            .create_door(admin.staff(p.id)?, door(name, kind, None))
            .await
            .map_err(app_err)?;
        app.pair_lock(
            app.may_pair_lock(admin, d.id).await?,
            Some(&device_name(name)),
        )
        .await
        .map_err(app_err)?;
        shared.push(d.id);
    }
    let (lobby, mail, garage) = (shared[0], shared[1], shared[2]);
    let mut b = Building {
        property: p.id,
        units: Vec::new(),
    };
    for floor in 1..=4i64 {
        for letter in ['A', 'B', 'C'] {
            let label = format!("{floor}{letter}");
            let u = app
                .create_unit(admin.staff(p.id)?, &label, floor, None)
                .await
                .map_err(app_err)?;
            let entry_name = format!("Unit {label} entry");
            let entry = app
                .create_door(
                    admin.staff(p.id)?,
                    door(&entry_name, DoorKind::UnitEntry, Some(u.id)),
                )
                .await
                .map_err(app_err)?;
            app.pair_lock(
                app.may_pair_lock(admin, entry.id).await?,
                Some(&device_name(&entry_name)),
            )
            .await
            .map_err(app_err)?;
            let mut doors: Vec<DoorId> = vec![entry.id, lobby, mail];
            if letter == 'A' {
                doors.push(garage);
            }
            let g = app
                .create_door_group(admin.staff(p.id)?, &format!("Unit {label}"), &doors)
                .await
                .map_err(app_err)?;
            app.update_unit(
                app.may_update_unit(admin, u.id).await?,
                None,
                None,
                Some(Some(g.id)),
            )
            .await
            .map_err(app_err)?;
            if ["1A", "2B", "3C"].contains(&label.as_str()) {
                for (name, kind, door_id) in [
                    (
                        format!("Unit {label} door contact"),
                        SensorKind::DoorContact,
                        Some(entry.id),
                    ),
                    (
                        format!("Unit {label} living room window"),
                        SensorKind::Window,
                        None,
                    ),
                ] {
                    let device = device_name(&name.replace(" living room", ""));
                    let sensor = app
                        .create_sensor(
                            admin.staff(p.id)?,
                            SensorInput {
                                name,
                                kind,
                                unit_id: Some(u.id),
                                door_id,
                                floor,
                            },
                        )
                        .await
                        .map_err(app_err)?;
                    app.pair_sensor(app.may_pair_sensor(admin, sensor.id).await?, Some(&device))
                        .await
                        .map_err(app_err)?;
                }
            }
            b.units.push((label, u.id));
        }
    }
    people_and_credentials(app, admin, &b).await?;
    Ok(p.id)
}

/// A demo person: name, e-mail, whether they get a password, role, unit label.
struct Demo {
    name: &'static str,
    email: Option<String>,
    password: bool,
    role: Role,
    unit: Option<String>,
    creds: Vec<(CredentialKind, Schedule)>,
}

fn cast(units: &[(String, UnitId)]) -> Vec<Demo> {
    const RESIDENTS: [&str; 12] = [
        "Ana", "Ben", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas",
        "Kaja", "Lars",
    ];
    let always = || Schedule::Always;
    let mut v = Vec::new();
    for (i, (label, _)) in units.iter().enumerate() {
        let first = RESIDENTS[i % RESIDENTS.len()];
        v.push(Demo {
            name: first,
            email: Some(format!(
                "{}.{}@linden-court.example",
                first.to_lowercase(),
                label.to_lowercase()
            )),
            password: true,
            role: Role::Resident,
            unit: Some(label.clone()),
            // The last resident has only a phone key: the drill finds no way left at night once
            // the phone dies. Most others live alone with a PIN and a phone key and no spare
            // key: one way left at night after any failure (docs/LOCKOUT.md).
            creds: if i + 1 == RESIDENTS.len() {
                vec![(CredentialKind::PhoneKey, always())]
            } else {
                vec![
                    (CredentialKind::Pin, always()),
                    (CredentialKind::PhoneKey, always()),
                ]
            },
        });
    }
    let unit = |l: &str| Some(l.to_owned());
    v.extend([
        Demo {
            name: "Marta (Ana's partner)",
            email: Some("marta.1a@linden-court.example".into()),
            password: true,
            role: Role::Household,
            unit: unit("1A"),
            creds: vec![
                (CredentialKind::PhoneKey, always()),
                (CredentialKind::Pin, always()),
            ],
        },
        Demo {
            name: "Noah (Chiara's son)",
            email: None,
            password: false,
            role: Role::Household,
            unit: unit("1C"),
            creds: vec![(CredentialKind::Pin, always())],
        },
        Demo {
            name: "Walter the dog walker",
            email: Some("walker@linden-court.example".into()),
            password: true,
            role: Role::Guest,
            unit: unit("1A"),
            creds: vec![(CredentialKind::Pin, weekdays((12, 0), (13, 0)))],
        },
        Demo {
            name: "Olga (neighbour, spare key for 1A)",
            email: Some("olga@linden-court.example".into()),
            password: false,
            role: Role::TrustedContact,
            unit: unit("1A"),
            creds: vec![(CredentialKind::PhysicalKey, always())],
        },
        Demo {
            name: "Peter (Ben's brother, spare key for 1B)",
            email: Some("peter@linden-court.example".into()),
            password: false,
            role: Role::TrustedContact,
            unit: unit("1B"),
            creds: vec![],
        },
        Demo {
            name: "Maria Manager",
            email: Some("manager@linden-court.example".into()),
            password: true,
            role: Role::Manager,
            unit: None,
            creds: vec![(CredentialKind::PhoneKey, always())],
        },
        Demo {
            name: "Ivo Installer",
            email: Some("installer@linden-court.example".into()),
            password: true,
            role: Role::Installer,
            unit: None,
            creds: vec![],
        },
        Demo {
            name: "Schlüsseldienst Kreuzberg",
            email: Some("locksmith@linden-court.example".into()),
            password: false,
            role: Role::Locksmith,
            unit: None,
            creds: vec![],
        },
    ]);
    v
}

/// A person added, their unit, the credentials still to issue them, and their name.
type Added = (
    PersonId,
    Option<UnitId>,
    Vec<(CredentialKind, Schedule)>,
    &'static str,
);

async fn people_and_credentials(app: &App, admin: &Principal, b: &Building) -> Result<()> {
    let unit_id = |label: &Option<String>| {
        label
            .as_ref()
            .and_then(|l| b.units.iter().find(|(x, _)| x == l).map(|(_, id)| *id))
    };
    let mut tasks: JoinSet<Result<Added>> = JoinSet::new();
    for d in cast(&b.units) {
        let (app, admin, property) = (app.clone(), admin.clone(), b.property);
        let unit = unit_id(&d.unit);
        tasks.spawn(async move {
            let (person, _) = {
                let input = PersonInput {
                    name: d.name.to_owned(),
                    email: d.email,
                    phone: None,
                    password: d.password.then(|| PASSWORD.to_owned()),
                    membership: MembershipInput {
                        role: d.role,
                        unit_id: unit,
                        valid_from: None,
                        valid_until: None,
                    },
                };
                app.create_person(app.may_create_person(&admin, property, &input)?, input)
            }
            .await
            .map_err(app_err)
            .with_context(|| format!("adding {}", d.name))?;
            Ok((person.id, unit, d.creds, d.name))
        });
    }
    let mut made = Vec::new();
    while let Some(r) = tasks.join_next().await {
        made.push(r.context("a demo task panicked")??);
    }
    made.sort_by_key(|(id, _, _, _)| *id);
    for (person, unit, creds, _) in &made {
        let (person, unit) = (*person, *unit);
        for (kind, schedule) in creds.clone() {
            {
                let input = CredentialInput {
                    person_id: person,
                    kind,
                    label: None,
                    unit_id: unit,
                    doors: None,
                    schedule,
                    max_uses: None,
                    duress: false,
                    pin: None,
                    card_uid: None,
                };
                app.create_credential(admin.credential_issuer(b.property, input.unit_id)?, input)
            }
            .await
            .map_err(app_err)
            .with_context(|| format!("issuing a {kind} to person {person}"))?;
        }
    }
    recovery_registries(app, admin, b, &made).await
}

/// Spare keys for the two trusted contacts, the manager on call on weekend evenings, and the
/// locksmith company registered and verified.
async fn recovery_registries(
    app: &App,
    admin: &Principal,
    b: &Building,
    made: &[Added],
) -> Result<()> {
    let id_of = |prefix: &str| {
        made.iter()
            .find(|m| m.3.starts_with(prefix))
            .map(|m| (m.0, m.1))
    };
    for holder in ["Olga", "Peter"] {
        if let Some((person, Some(unit))) = id_of(holder) {
            app.grant_spare_key(
                admin.unit_admin(b.property, unit)?,
                person,
                weekdays((7, 0), (23, 0)),
            )
            .await
            .map_err(app_err)
            .with_context(|| format!("granting {holder} a spare key"))?;
        }
    }
    if let Some((maria, _)) = id_of("Maria") {
        let weekend_evenings = Schedule::Weekly {
            windows: vec![WeeklyWindow {
                days: vec![Day::Fri, Day::Sat, Day::Sun],
                start: time(17, 0, 0, 0),
                end: time(23, 0, 0, 0),
            }],
        };
        app.set_on_call(admin.staff(b.property)?, maria, weekend_evenings)
            .await
            .map_err(app_err)?;
        announce_smoke_alarm_test(app, b, maria).await?;
    }
    let smith = app
        .add_locksmith(
            admin.staff(b.property)?,
            latchkey_app::recovery::LocksmithInput {
                company: "Schlüsseldienst Kreuzberg".into(),
                licence: "HWK-B-20417".into(),
                phone: "+49 30 5550 1200".into(),
                hours: weekdays((8, 0), (20, 0)),
                callout_cents: 8_900,
            },
        )
        .await
        .map_err(app_err)?;
    app.set_locksmith_status(
        app.may_set_locksmith_status(admin, smith.id, "verified")
            .await?,
        "verified",
    )
    .await
    .map_err(app_err)?;
    // Night and weekend emergencies cost more; one verified service answers around the clock.
    let night = app
        .add_locksmith(
            admin.staff(b.property)?,
            latchkey_app::recovery::LocksmithInput {
                company: "Aufsperrdienst Berlin 24h".into(),
                licence: "HWK-B-31188".into(),
                phone: "+49 30 5550 2400".into(),
                hours: latchkey_core::schedule::Schedule::Always,
                callout_cents: 14_900,
            },
        )
        .await
        .map_err(app_err)?;
    app.set_locksmith_status(
        app.may_set_locksmith_status(admin, night.id, "verified")
            .await?,
        "verified",
    )
    .await
    .map_err(app_err)?;
    Ok(())
}

/// The manager's key opens the shared doors only; she enters a unit under an entry notice. The
/// demo has one: the yearly smoke-alarm test in 2B, two days ahead, told to 2B's household.
async fn announce_smoke_alarm_test(app: &App, b: &Building, maria: PersonId) -> Result<()> {
    let Some((_, unit)) = b.units.iter().find(|(label, _)| label == "2B") else {
        return Ok(());
    };
    let manager = app.terminal_principal(maria).await.map_err(app_err)?;
    let day = app
        .now()
        .in_tz("Europe/Berlin")?
        .date()
        .checked_add(jiff::Span::new().days(2))?;
    let at = |hour| -> Result<jiff::Timestamp> {
        Ok(day.at(hour, 0, 0, 0).in_tz("Europe/Berlin")?.timestamp())
    };
    app.create_entry_notice(
        manager.staff(b.property)?,
        latchkey_app::entry::EntryNoticeInput {
            unit_id: *unit,
            doors: None,
            purpose: "yearly smoke alarm test".into(),
            window_from: at(10)?,
            window_until: at(12)?,
        },
    )
    .await
    .map_err(app_err)
    .context("announcing the smoke alarm test")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn demo_devices_are_named_after_their_doors_and_sensors() {
        assert_eq!(device_name("Unit 1A entry"), "linden/1a-entry");
        assert_eq!(device_name("Lobby"), "linden/lobby");
        assert_eq!(device_name("Mail room"), "linden/mail-room");
        assert_eq!(
            device_name("Unit 2B door contact"),
            "linden/2b-door-contact"
        );
        assert_eq!(device_name("Unit 2B window"), "linden/2b-window");
        for n in ["Unit 1A entry", "Back door", "Unit 3C door contact"] {
            assert!(
                latchkey_z2m::validate_friendly_name(&device_name(n)).is_ok(),
                "{n}"
            );
        }
    }

    #[tokio::test]
    async fn the_demo_manager_cannot_open_a_unit_door_at_will() {
        latchkey_testkit::each_backend("demo_manager", |db| async move {
            use latchkey_app::devices::RemoteAction;
            use latchkey_app::{App, AppConfig, AppError, NoDevices, SystemClock, secrets::Keys};
            let app = App::new(
                db.open().await,
                Keys::from_master(&[5; 32]),
                std::sync::Arc::new(SystemClock),
                std::sync::Arc::new(NoDevices),
                AppConfig::default(),
            );
            super::ensure(&app).await.expect("the demo building");
            let principal = |email: &'static str| {
                let app = app.clone();
                async move {
                    let signed_in = app
                        .login(email, super::PASSWORD, "demo-test")
                        .await
                        .expect("a demo account signs in");
                    app.authenticate(
                        latchkey_app::store::auth::GrantKind::Session,
                        &signed_in.token,
                    )
                    .await
                    .expect("principal")
                }
            };
            let maria = principal("manager@linden-court.example").await;
            let ana = principal("ana.1a@linden-court.example").await;
            let doors = app
                .list_doors(&maria, maria_property(&app, &maria).await)
                .await
                .expect("doors");
            let unit_doors: Vec<_> = doors.iter().filter(|d| d.unit_id.is_some()).collect();
            let entry_1a = unit_doors
                .iter()
                .find(|d| d.name == "Unit 1A entry")
                .expect("1A's door");
            let keys = app
                .list_credentials(&maria, entry_1a.property_id, Some(maria.id()))
                .await
                .expect("her credentials");
            assert!(!keys.is_empty(), "the manager holds a phone key");
            for k in &keys {
                assert!(
                    unit_doors.iter().all(|d| !k.doors.contains(&d.id)),
                    "the manager's key covers the shared doors only: {:?}",
                    k.doors
                );
            }
            let wait = std::time::Duration::from_millis(50);
            match app
                .may_remote_command(&maria, entry_1a.id, RemoteAction::Unlock, None)
                .await
            {
                Err(AppError::Forbidden(why)) => assert!(why.contains("entry notice"), "{why}"),
                other => panic!("expected Forbidden, got {:?}", other.map(|c| c.action())),
            }
            // Ana's own key is let through once she confirms it is her (no lock bridge runs
            // here, hence "unavailable").
            app.give_unlock_proof(
                app.may_use_session(&ana).expect("a session"),
                latchkey_app::passkeys::Proof::Password(super::PASSWORD),
            )
            .await
            .expect("her password");
            assert!(matches!(
                app.remote_command(
                    app.may_remote_command(&ana, entry_1a.id, RemoteAction::Unlock, None)
                        .await
                        .expect("her own key opens"),
                    wait
                )
                .await,
                Err(AppError::Unavailable(_))
            ));
            let notices = app
                .list_entry_notices(&maria, entry_1a.property_id)
                .await
                .expect("notices");
            assert_eq!(notices.len(), 1, "the smoke alarm test in 2B is announced");
        })
        .await;
    }

    async fn maria_property(
        app: &latchkey_app::App,
        who: &latchkey_app::authz::Principal,
    ) -> latchkey_core::PropertyId {
        app.list_properties(who)
            .await
            .expect("properties")
            .into_iter()
            .find(|p| p.name == super::PROPERTY)
            .expect("the demo building")
            .id
    }
}

#[cfg(test)]
mod codes_tests;
