//! `latchkey bench pages`: how long the server takes to render the web app's pages of a
//! building of N units (default 500), through the same router `serve` runs, in this process (no
//! network): a resident's pages, and a manager's, whose home page lists every door; and, in a
//! second building of N units with two doors each (1,000 doors at 500 units), every lock paired
//! and reporting and ten slots on each, the manager's building page (as it opens, on the doors
//! needing attention; one floor; every door) and a door page. Beside them,
//! the floor measured in the same run: the cheapest answer of the same router and middleware
//! (the web app manifest, a constant). Each page is asked for `requests` times after a warm-up;
//! p50 and p95 are of those.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::{App, AppConfig, SystemClock};
use latchkey_core::model::{CredentialKind, CredentialStatus, DoorKind, DoorMode, Policy, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{DoorId, PropertyId, UnitId};
use latchkey_store::Store;
use latchkey_store::bench::{BulkCredential, BulkPerson, insert_credentials, insert_people};
use latchkey_store::devices::{self as device_repo, Desired, DeviceState, Slot, SlotStatus};
use latchkey_store::property::{self, NewDoor, NewProperty};
use serde_json::json;
use tower::ServiceExt;

use super::{TempDir, store_err};
use crate::wiring::app_err;

const PASSWORD: &str = "bench-pages-password";

/// Milliseconds, sorted.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

async fn time_page(router: &axum::Router, path: &str, cookie: &str, n: usize) -> Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 10 {
        let req = Request::get(path)
            .header(header::HOST, "localhost:8080")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .context("a request")?;
        let t = Instant::now();
        let res = router
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| anyhow!("{e:?}"))?;
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .map_err(|e| anyhow!("reading {path}: {e}"))?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if status != StatusCode::OK {
            return Err(anyhow!(
                "{path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        // The first ten warm caches (SQLite's pages, the allocator).
        if i >= 10 {
            samples.push(ms);
        }
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples)
}

/// The console's building: `units` units of two doors each (an entry and a storage room) and
/// four shared doors, each with a paired lock that has reported, and ten slots on each lock
/// (set, pending, now and then failed or unmanaged). Returns it and one of its doors.
async fn console_building(store: &Store, units: usize) -> Result<(PropertyId, DoorId)> {
    let now = jiff::Timestamp::now();
    let mut tx = store.write().await.map_err(store_err)?;
    let p = property::create_property(
        tx.conn(),
        &NewProperty {
            name: "Console Towers".into(),
            address: String::new(),
            timezone: "Europe/Berlin".into(),
            policy: Policy::default(),
            office_hours: Schedule::Always,
        },
        now,
    )
    .await
    .map_err(store_err)?;
    let mut doors = Vec::new();
    for u in 0..units {
        let unit = property::create_unit(
            tx.conn(),
            p.id,
            &format!("C{}-{}", 1 + u / 20, u % 20),
            1 + (u as i64 / 20),
            None,
        )
        .await
        .map_err(store_err)?;
        for (name, kind) in [
            ("entry", DoorKind::UnitEntry),
            ("storage", DoorKind::Amenity),
        ] {
            doors.push(NewDoor {
                property_id: p.id,
                unit_id: Some(unit.id),
                name: format!("Unit {} {name}", unit.label),
                kind,
                mode: DoorMode::Normal,
                pin_slots: 30,
            });
        }
    }
    for name in ["Lobby", "Garage", "Mail room", "Back door"] {
        doors.push(NewDoor {
            property_id: p.id,
            unit_id: None,
            name: format!("Console {name}"),
            kind: DoorKind::BuildingEntrance,
            mode: DoorMode::Normal,
            pin_slots: 30,
        });
    }
    let mut first = None;
    for (i, nd) in doors.iter().enumerate() {
        let mut door = property::create_door(tx.conn(), nd)
            .await
            .map_err(store_err)?;
        let lock = format!("console/lock-{i}");
        door.lock_name = Some(lock.clone());
        property::update_door(tx.conn(), &door)
            .await
            .map_err(store_err)?;
        let state = DeviceState {
            availability: Some(if i % 97 == 0 { "offline" } else { "online" }.into()),
            lock_state: Some(if i % 3 == 0 { "unlocked" } else { "locked" }.into()),
            door_state: Some("closed".into()),
            battery: Some(if i % 50 == 0 { 8 } else { 80 }),
            linkquality: Some(120),
            ..DeviceState::default()
        };
        device_repo::update_state(tx.conn(), &lock, &state, now)
            .await
            .map_err(store_err)?;
        let slots: Vec<Slot> = (1..=10)
            .map(|n| Slot {
                door_id: door.id,
                slot: n,
                credential_id: None,
                desired: Desired::Empty,
                status: match n {
                    10 if i % 10 == 0 => SlotStatus::Failed,
                    9 if i % 25 == 0 => SlotStatus::Unmanaged,
                    8 => SlotStatus::Pending,
                    _ => SlotStatus::Set,
                },
                reason: None,
                attempts: 0,
                next_attempt_at: None,
                updated_at: now,
            })
            .collect();
        device_repo::save_slots(tx.conn(), &slots)
            .await
            .map_err(store_err)?;
        first.get_or_insert(door.id);
    }
    tx.commit().await.map_err(store_err)?;
    Ok((p.id, first.ok_or_else(|| anyhow!("no door"))?))
}

/// # Errors
/// The temporary database cannot be built, or a page does not answer 200.
pub async fn run(units: usize, requests: usize) -> Result<()> {
    println!("building a property with {units} units…");
    let dir = TempDir::new("pages")?;
    let store = dir.store().await?;
    let now = jiff::Timestamp::now();
    let mut tx = store.write().await.map_err(store_err)?;
    let p = property::create_property(
        tx.conn(),
        &NewProperty {
            name: "Page Towers".into(),
            address: String::new(),
            timezone: "Europe/Berlin".into(),
            policy: Policy::default(),
            office_hours: Schedule::Always,
        },
        now,
    )
    .await
    .map_err(store_err)?;
    let mut unit_doors: Vec<(UnitId, DoorId)> = Vec::with_capacity(units);
    for u in 0..units {
        let unit = property::create_unit(
            tx.conn(),
            p.id,
            &format!("{}-{}", 1 + u / 20, u % 20),
            1 + (u as i64 / 20),
            None,
        )
        .await
        .map_err(store_err)?;
        let door = property::create_door(
            tx.conn(),
            &NewDoor {
                property_id: p.id,
                unit_id: Some(unit.id),
                name: format!("Unit {} entry", unit.label),
                kind: DoorKind::UnitEntry,
                mode: DoorMode::Normal,
                pin_slots: 30,
            },
        )
        .await
        .map_err(store_err)?;
        unit_doors.push((unit.id, door.id));
    }
    for name in ["Lobby", "Garage", "Mail room", "Back door"] {
        property::create_door(
            tx.conn(),
            &NewDoor {
                property_id: p.id,
                unit_id: None,
                name: name.into(),
                kind: DoorKind::BuildingEntrance,
                mode: DoorMode::Normal,
                pin_slots: 30,
            },
        )
        .await
        .map_err(store_err)?;
    }
    tx.commit().await.map_err(store_err)?;
    let mut people = Vec::new();
    for (i, (unit, _)) in unit_doors.iter().enumerate() {
        people.push(BulkPerson {
            name: format!("resident {i}"),
            unit_id: Some(*unit),
            role: Role::Resident,
        });
        if i % 3 == 0 {
            people.push(BulkPerson {
                name: format!("household {i}"),
                unit_id: Some(*unit),
                role: Role::Household,
            });
        }
    }
    let ids = insert_people(&store, p.id, &people, now)
        .await
        .map_err(store_err)?;
    let creds: Vec<BulkCredential> = ids
        .iter()
        .zip(&people)
        .flat_map(|(person, bp)| {
            let door = unit_doors
                .iter()
                .find(|(u, _)| Some(*u) == bp.unit_id)
                .map(|(_, d)| *d);
            [CredentialKind::Pin, CredentialKind::PhoneKey].map(|kind| BulkCredential {
                person_id: *person,
                unit_id: bp.unit_id,
                kind,
                status: CredentialStatus::Active,
                schedule: Schedule::Always,
                max_uses: None,
                uses: 0,
                doors: door.into_iter().collect(),
            })
        })
        .collect();
    insert_credentials(&store, p.id, &creds, now)
        .await
        .map_err(store_err)?;
    println!(
        "{} people, {} credentials, {} doors",
        people.len(),
        creds.len(),
        units + 4
    );

    let (notifier, _ignored) = latchkey_app::devices::reconcile::channel();
    let app = App::new(
        store.clone(),
        latchkey_app::secrets::Keys::from_master(&[0x3c; 32]),
        Arc::new(SystemClock),
        Arc::new(notifier),
        AppConfig::default(),
    );
    let admin = app
        .create_admin("Bench Admin", "admin@bench.example", PASSWORD)
        .await
        .map_err(app_err)?;
    let admin = app.terminal_principal(admin.id).await.map_err(app_err)?;
    let mut cookies = Vec::new();
    for (email, role, unit) in [
        (
            "resident@bench.example",
            Role::Resident,
            unit_doors.first().map(|u| u.0),
        ),
        ("manager@bench.example", Role::Manager, None),
    ] {
        let input = PersonInput {
            name: email.into(),
            email: Some(email.into()),
            phone: None,
            password: Some(PASSWORD.into()),
            membership: MembershipInput {
                role,
                unit_id: unit,
                valid_from: None,
                valid_until: None,
            },
        };
        app.create_person(app.may_create_person(&admin, p.id, &input)?, input)
            .await
            .map_err(app_err)?;
        let signed = app
            .login(email, PASSWORD, "127.0.0.1")
            .await
            .map_err(app_err)?;
        cookies.push(format!("latchkey_session={}", signed.token));
    }
    let (console, console_door) = console_building(&store, units).await?;
    {
        let email = "console@bench.example";
        let input = PersonInput {
            name: email.into(),
            email: Some(email.into()),
            phone: None,
            password: Some(PASSWORD.into()),
            membership: MembershipInput {
                role: Role::Manager,
                unit_id: None,
                valid_from: None,
                valid_until: None,
            },
        };
        app.create_person(app.may_create_person(&admin, console, &input)?, input)
            .await
            .map_err(app_err)?;
        let signed = app
            .login(email, PASSWORD, "127.0.0.1")
            .await
            .map_err(app_err)?;
        cookies.push(format!("latchkey_session={}", signed.token));
    }
    println!(
        "console building: {units} units, {} doors with paired locks, 10 slots each",
        2 * units + 4
    );
    let (resident, manager, console_manager) = (&cookies[0], &cookies[1], &cookies[2]);
    // The page a manager opens (the doors needing attention, decision 79), one floor, and
    // every door at once.
    let building_page = format!("/building?property={}", console.0);
    let building_floor = format!("/building?property={}&floor=3", console.0);
    let building_all = format!("/building?property={}&floor=all", console.0);
    let door_page = format!("/building/doors/{}", console_door.0);
    let api = latchkey_http::router(app.clone(), latchkey_http::HttpConfig::default());
    let router = latchkey_web::router(app.clone(), latchkey_web::WebConfig::default(), api);

    let floor = time_page(&router, "/manifest.webmanifest", "", requests).await?;
    // The heat map's first load computes the drill for its failure; later loads are served
    // from the cache until something it read changes. Timed once, cold.
    let cold = Instant::now();
    let res = router
        .clone()
        .oneshot(
            Request::get("/readiness?failure=phone_and_keys_gone")
                .header(header::HOST, "localhost:8080")
                .header(header::COOKIE, manager.as_str())
                .body(Body::empty())
                .context("a request")?,
        )
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .map_err(|e| anyhow!("reading the heat map: {e}"))?;
    let cold_ms = cold.elapsed().as_secs_f64() * 1000.0;
    println!("  manager   heat map, first load (computed): {cold_ms:.2} ms");
    let mut results = Vec::new();
    for (who, cookie, path) in [
        ("resident", resident.as_str(), "/"),
        ("resident", resident, "/codes"),
        ("resident", resident, "/household"),
        ("resident", resident, "/activity"),
        ("resident", resident, "/security"),
        ("visitor", "", "/sign-in"),
        ("visitor", "", "/locked-out"),
        ("manager", manager.as_str(), "/"),
        ("manager", manager, "/activity"),
        ("manager", manager, "/readiness"),
        ("manager", console_manager.as_str(), building_page.as_str()),
        ("manager", console_manager, building_floor.as_str()),
        ("manager", console_manager, building_all.as_str()),
        ("manager", console_manager, door_page.as_str()),
    ] {
        let s = time_page(&router, path, cookie, requests).await?;
        let (p50, p95) = (percentile(&s, 0.50), percentile(&s, 0.95));
        println!("  {who:<9} {path:<24} p50 {p50:>7.2} ms   p95 {p95:>7.2} ms");
        results.push(json!({ "who": who, "page": path, "p50_ms": p50, "p95_ms": p95 }));
    }
    let (f50, f95) = (percentile(&floor, 0.50), percentile(&floor, 0.95));
    println!(
        "  floor     {:<24} p50 {f50:>7.2} ms   p95 {f95:>7.2} ms",
        "(manifest)"
    );
    let worst = results
        .iter()
        .filter_map(|r| r["p95_ms"].as_f64())
        .fold(0.0, f64::max);
    println!("worst page p95: {worst:.2} ms (budget 10 ms)");
    println!(
        "{}",
        json!({
            "bench": "pages", "units": units, "requests": requests,
            "floor_p50_ms": f50, "floor_p95_ms": f95, "worst_p95_ms": worst,
            "heat_map_cold_ms": cold_ms,
            "pages": results,
        })
    );
    Ok(())
}
