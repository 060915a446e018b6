//! `latchkey bench decisions`: in-process access decisions per second over an `AccessIndex`,
//! at 1,000 and at 100,000 credentials (BENCHMARKS.md: ≥ 1,000,000/s, independent of size).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use anyhow::Result;
use jiff::civil::{date, time};
use jiff::{SignedDuration, Timestamp};
use latchkey_app::access::AccessIndex;
use latchkey_core::decide::Decision;
use latchkey_core::model::{
    CredentialKind, CredentialStatus, DoorKind, DoorMode, Method, Policy, Role,
};
use latchkey_core::schedule::{Day, Schedule, WeeklyWindow};
use latchkey_core::{CredentialId, DoorId, PropertyId, UnitId};
use latchkey_store::Store;
use latchkey_store::bench::{BulkCredential, BulkPerson, insert_credentials, insert_people};
use latchkey_store::property::{self, NewDoor, NewProperty};

use super::{Rng, TempDir, store_err};
use crate::wiring::app_err;

/// A property populated for the bench: its doors per unit, and its credentials.
struct Site {
    id: PropertyId,
    doors: Vec<DoorId>,
    creds: Vec<(CredentialId, CredentialKind, Vec<DoorId>)>,
}

fn random_schedule(rng: &mut Rng, now: Timestamp) -> Schedule {
    match rng.below(10) {
        0..=4 => Schedule::Always,
        5..=7 => {
            let days: Vec<Day> = Day::ALL
                .iter()
                .copied()
                .filter(|_| rng.chance(60))
                .collect();
            let days = if days.is_empty() {
                vec![Day::Mon]
            } else {
                days
            };
            let start = rng.below(20) as i8;
            let len = 1 + rng.below(10) as i8;
            let end = (start + len) % 24;
            Schedule::Weekly {
                windows: vec![WeeklyWindow {
                    days,
                    start: time(start, 0, 0, 0),
                    end: time(end, 30, 0, 0),
                }],
            }
        }
        _ => {
            let today = jiff::tz::TimeZone::UTC.to_datetime(now).date();
            let from = today
                .checked_add(jiff::Span::new().days(rng.below(40) as i64 - 30))
                .unwrap_or(date(2026, 1, 1));
            let until = from
                .checked_add(jiff::Span::new().days(1 + rng.below(30) as i64))
                .unwrap_or(date(2027, 1, 1));
            Schedule::DateRange {
                from: from.at(0, 0, 0, 0),
                until: until.at(0, 0, 0, 0),
            }
        }
    }
}

async fn build_site(
    store: &Store,
    name: &str,
    n: usize,
    rng: &mut Rng,
    now: Timestamp,
) -> Result<Site> {
    let units_n = (n / 200).clamp(10, 500);
    let mut tx = store.write().await.map_err(store_err)?;
    let p = property::create_property(
        tx.conn(),
        &NewProperty {
            name: name.to_owned(),
            address: String::new(),
            timezone: "Europe/Berlin".to_owned(),
            policy: Policy::default(),
            office_hours: Schedule::Always,
        },
        now,
    )
    .await
    .map_err(store_err)?;
    let mut shared = Vec::new();
    for (i, kind) in [
        DoorKind::BuildingEntrance,
        DoorKind::Amenity,
        DoorKind::Garage,
    ]
    .into_iter()
    .enumerate()
    {
        let d = property::create_door(
            tx.conn(),
            &NewDoor {
                property_id: p.id,
                unit_id: None,
                name: format!("shared {i}"),
                kind,
                mode: if i == 2 {
                    DoorMode::Vacation
                } else {
                    DoorMode::Normal
                },
                pin_slots: 250,
            },
        )
        .await
        .map_err(store_err)?;
        shared.push(d.id);
    }
    let mut units: Vec<(UnitId, DoorId)> = Vec::new();
    for u in 0..units_n {
        let unit =
            property::create_unit(tx.conn(), p.id, &format!("U{u}"), 1 + (u as i64 % 20), None)
                .await
                .map_err(store_err)?;
        let d = property::create_door(
            tx.conn(),
            &NewDoor {
                property_id: p.id,
                unit_id: Some(unit.id),
                name: format!("U{u} entry"),
                kind: DoorKind::UnitEntry,
                mode: if u % 17 == 0 {
                    DoorMode::Privacy
                } else {
                    DoorMode::Normal
                },
                pin_slots: 250,
            },
        )
        .await
        .map_err(store_err)?;
        units.push((unit.id, d.id));
    }
    tx.commit().await.map_err(store_err)?;

    // About two credentials a person; roles mixed so that door modes matter.
    let people_n = n.div_ceil(2);
    let bulk_people: Vec<BulkPerson> = (0..people_n)
        .map(|i| BulkPerson {
            name: format!("person {i}"),
            unit_id: Some(units[i % units.len()].0),
            role: match rng.below(10) {
                0..=5 => Role::Resident,
                6..=7 => Role::Household,
                _ => Role::Guest,
            },
        })
        .collect();
    let person_ids = insert_people(store, p.id, &bulk_people, now)
        .await
        .map_err(store_err)?;
    let kinds = [
        CredentialKind::Pin,
        CredentialKind::PhoneKey,
        CredentialKind::RfidCard,
    ];
    let bulk: Vec<BulkCredential> = (0..n)
        .map(|i| {
            let owner = i % people_n;
            let (unit, entry) = units[owner % units.len()];
            let mut doors = vec![entry, shared[0], shared[1]];
            if rng.chance(30) {
                doors.push(shared[2]);
            }
            let max_uses = rng.chance(5).then_some(3);
            BulkCredential {
                person_id: person_ids[owner],
                unit_id: Some(unit),
                kind: if rng.chance(1) {
                    CredentialKind::PhysicalKey
                } else {
                    kinds[rng.below(3) as usize]
                },
                status: match rng.below(100) {
                    0..=3 => CredentialStatus::Revoked,
                    4..=6 => CredentialStatus::Frozen,
                    _ => CredentialStatus::Active,
                },
                schedule: random_schedule(rng, now),
                max_uses,
                uses: if max_uses.is_some() {
                    rng.below(5) as i64
                } else {
                    0
                },
                doors,
            }
        })
        .collect();
    let ids = insert_credentials(store, p.id, &bulk, now)
        .await
        .map_err(store_err)?;
    let mut doors: Vec<DoorId> = shared.clone();
    doors.extend(units.iter().map(|(_, d)| *d));
    Ok(Site {
        id: p.id,
        doors,
        creds: ids
            .into_iter()
            .zip(bulk)
            .map(|(id, b)| (id, b.kind, b.doors))
            .collect(),
    })
}

struct Attempt {
    credential: CredentialId,
    door: DoorId,
    method: Method,
    at: Timestamp,
}

fn attempts(site: &Site, n: usize, rng: &mut Rng, now: Timestamp) -> Vec<Attempt> {
    let unknown_base = site.creds.iter().map(|c| c.0.0).max().unwrap_or(0) + 1_000_000;
    (0..n)
        .map(|_| {
            let (id, kind, doors) = &site.creds[rng.below(site.creds.len() as u64) as usize];
            let credential = if rng.chance(3) {
                CredentialId(unknown_base + rng.below(1000) as i64)
            } else {
                *id
            };
            let door = if rng.chance(80) {
                doors[rng.below(doors.len() as u64) as usize]
            } else {
                site.doors[rng.below(site.doors.len() as u64) as usize]
            };
            let method = if rng.chance(97) {
                kind.method()
            } else {
                Method::Remote
            };
            let offset = rng.below(60 * 86_400) as i64 - 30 * 86_400;
            let at = now
                .checked_add(SignedDuration::from_secs(offset))
                .unwrap_or(now);
            Attempt {
                credential,
                door,
                method,
                at,
            }
        })
        .collect()
}

/// Times the decisions; returns (ns per decision, granted count, reasons seen).
fn time_decisions(index: &AccessIndex, attempts: &[Attempt]) -> (f64, u64, usize) {
    let started = Instant::now();
    let mut granted = 0u64;
    for a in attempts {
        let d = index.decide(
            black_box(a.credential),
            black_box(a.door),
            black_box(a.method),
            black_box(a.at),
        );
        granted += u64::from(black_box(d).is_granted());
    }
    let ns = started.elapsed().as_nanos() as f64 / attempts.len() as f64;
    let mut reasons: HashMap<String, u64> = HashMap::new();
    for a in attempts.iter().take(100_000) {
        let key = match index.decide(a.credential, a.door, a.method, a.at) {
            Decision::Granted { .. } => "granted".to_owned(),
            Decision::Denied { reason } => format!("{reason:?}"),
        };
        *reasons.entry(key).or_default() += 1;
    }
    (ns, granted, reasons.len())
}

/// # Errors
/// The temporary database cannot be built or read.
pub async fn run(decisions: usize) -> Result<()> {
    let dir = TempDir::new("decisions")?;
    let store = dir.store().await?;
    let now = Timestamp::now();
    let mut rng = Rng::new(0x1a7c_4e11);
    let mut results = Vec::new();
    for (name, n) in [("Bench 1k", 1_000usize), ("Bench 100k", 100_000)] {
        let t = Instant::now();
        let site = build_site(&store, name, n, &mut rng, now).await?;
        let built = t.elapsed();
        let t = Instant::now();
        let index = AccessIndex::load(&store, site.id, now)
            .await
            .map_err(app_err)?;
        let loaded = t.elapsed();
        let tries = attempts(&site, decisions.max(1), &mut rng, now);
        let (ns, granted, reasons) = time_decisions(&index, &tries);
        println!(
            "{n:>7} credentials: built in {:.2} s, index loaded in {:.2} s; {} decisions at {ns:.1} ns each \
             ({:.0}/s), {:.1} % granted, {reasons} distinct outcomes",
            built.as_secs_f64(),
            loaded.as_secs_f64(),
            tries.len(),
            1e9 / ns,
            100.0 * granted as f64 / tries.len() as f64,
        );
        results.push(ns);
    }
    store.close().await;
    let (ns_1k, ns_100k) = (results[0], results[1]);
    let per_sec = 1e9 / ns_100k;
    println!(
        "target ≥ 1,000,000/s at 100k credentials: {}",
        if per_sec >= 1e6 { "met" } else { "NOT met" }
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "decisions",
            "per_sec": per_sec.round(),
            "ns_at_1k": (ns_1k * 10.0).round() / 10.0,
            "ns_at_100k": (ns_100k * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
