//! The readiness drill of a property (docs/LOCKOUT.md): for every resident and household member,
//! the independent ways back into their unit in each hour of the coming week, and the gaps with
//! their fixes. Read from the database in a fixed number of queries whatever the size of the
//! building; the per-hour counting is `latchkey_core::drill`.

use std::collections::HashMap;
use std::time::Instant;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use latchkey_core::drill::{Assessment, Way, Ways, assess};
use latchkey_core::model::{CredentialKind, CredentialStatus, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::week::{WeekHours, hours_of, sample_instants};
use latchkey_core::{DoorId, PersonId, PropertyId, UnitId};
use latchkey_store::records::{Credential, Membership};
use latchkey_store::{credentials, people, property, recovery};
use serde::Serialize;

use crate::authz::Principal;
use crate::directory::{load_property, time_zone};
use crate::{App, AppError, Result};

/// One resident's week.
#[derive(Clone, Debug, Serialize)]
pub struct ResidentReadiness {
    pub person_id: PersonId,
    pub name: String,
    pub unit_id: UnitId,
    pub unit: String,
    /// Hours of the week each way works (0–168).
    pub hours_by_way: HashMap<Way, usize>,
    /// Hours with fewer than two ways back in.
    pub short_hours: usize,
    pub hours_without_any_way: usize,
    /// Each gap with the sentence that names its fix.
    pub gaps: Vec<latchkey_core::drill::Gap>,
}

/// The drill of a property, or of the caller's own units for residents.
#[derive(Clone, Debug, Serialize)]
pub struct Readiness {
    pub property_id: PropertyId,
    /// The local date the week starts on (the hours are its next 168).
    pub week_from: String,
    pub residents: usize,
    /// Residents with at least one hour with fewer than two ways back in.
    pub residents_with_gaps: usize,
    pub resident_hours_short: usize,
    pub report: Vec<ResidentReadiness>,
    /// Time spent reading the building and assessing it, in milliseconds.
    pub read_ms: f64,
    pub assess_ms: f64,
}

/// What the drill reads of a property.
struct Building {
    tz: TimeZone,
    office_hours: Schedule,
    units: HashMap<UnitId, String>,
    unit_doors: HashMap<UnitId, Vec<DoorId>>,
    names: HashMap<PersonId, String>,
    memberships: Vec<Membership>,
    credentials: HashMap<PersonId, Vec<Credential>>,
    spare_keys: HashMap<UnitId, Vec<Schedule>>,
    on_call: Vec<Schedule>,
    locksmith_hours: Vec<Schedule>,
    /// People holding unused recovery-card codes, when the policy accepts them as a proof.
    cards: std::collections::HashSet<PersonId>,
}

async fn read_building(app: &App, id: PropertyId) -> Result<Building> {
    let mut conn = app.store().read().await?;
    let prop = load_property(&mut conn, id).await?;
    let tz = time_zone(&prop.timezone)?;
    let units = property::list_units(&mut conn, id)
        .await?
        .into_iter()
        .map(|u| (u.id, u.label))
        .collect();
    let mut unit_doors: HashMap<UnitId, Vec<DoorId>> = HashMap::new();
    for d in property::list_doors(&mut conn, id).await? {
        if let Some(u) = d.unit_id {
            unit_doors.entry(u).or_default().push(d.id);
        }
    }
    let names = people::list_people(&mut conn, id)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let memberships = people::list_memberships(&mut conn, id).await?;
    let mut creds: HashMap<PersonId, Vec<Credential>> = HashMap::new();
    for c in credentials::list_credentials(&mut conn, id, None).await? {
        creds.entry(c.person_id).or_default().push(c);
    }
    let mut spare_keys: HashMap<UnitId, Vec<Schedule>> = HashMap::new();
    for k in recovery::list_spare_keys(&mut conn, id, None).await? {
        if k.status == "active" {
            spare_keys.entry(k.unit_id).or_default().push(k.reachable);
        }
    }
    let on_call = recovery::list_on_call(&mut conn, id)
        .await?
        .into_iter()
        .map(|o| o.schedule)
        .collect();
    let locksmith_hours = recovery::list_locksmiths(&mut conn, id)
        .await?
        .into_iter()
        .filter(|l| l.status == "verified")
        .map(|l| l.hours)
        .collect();
    let cards = if prop
        .policy
        .recovery_proofs
        .contains(&latchkey_core::model::ProofKind::RecoveryCode)
    {
        latchkey_store::lockout::people_with_recovery_codes(&mut conn)
            .await?
            .into_iter()
            .collect()
    } else {
        std::collections::HashSet::new()
    };
    Ok(Building {
        tz,
        cards,
        office_hours: prop.office_hours,
        units,
        unit_doors,
        names,
        memberships,
        credentials: creds,
        spare_keys,
        on_call,
        locksmith_hours,
    })
}

/// Hours of the week schedules admit, computing each distinct schedule once.
struct HoursCache<'a> {
    tz: &'a TimeZone,
    instants: Vec<(usize, Timestamp)>,
    seen: HashMap<String, WeekHours>,
}

impl HoursCache<'_> {
    fn of(&mut self, s: &Schedule) -> WeekHours {
        if matches!(s, Schedule::Always) {
            return WeekHours::ALL;
        }
        let key = serde_json::to_string(s).unwrap_or_default();
        if let Some(h) = self.seen.get(&key) {
            return *h;
        }
        let h = hours_of(s, self.tz, &self.instants);
        self.seen.insert(key, h);
        h
    }

    fn union(&mut self, list: &[Schedule]) -> WeekHours {
        list.iter()
            .fold(WeekHours::NONE, |acc, s| acc.union(self.of(s)))
    }
}

fn lives_there(m: &Membership, now: Timestamp) -> bool {
    matches!(m.role, Role::Resident | Role::Household) && m.is_active_at(now) && m.unit_id.is_some()
}

/// The hours a person's credentials of `kind` open one of `doors`.
fn credential_hours(
    cache: &mut HoursCache<'_>,
    creds: Option<&Vec<Credential>>,
    kind: CredentialKind,
    doors: &[DoorId],
) -> WeekHours {
    let mut set = WeekHours::NONE;
    for c in creds.into_iter().flatten() {
        let usable = c.kind == kind
            && c.status == CredentialStatus::Active
            && c.max_uses.is_none_or(|m| c.uses < m)
            && c.doors.iter().any(|d| doors.contains(d));
        if usable {
            set = set.union(cache.of(&c.schedule));
        }
    }
    set
}

impl App {
    /// The readiness drill of `property`: staff see every resident; a resident or household
    /// member sees the people of their own units.
    ///
    /// # Errors
    /// `NotFound` for outsiders; `Forbidden` for members who live in no unit there.
    pub async fn readiness(&self, who: &Principal, property: PropertyId) -> Result<Readiness> {
        let member = who.member(property)?;
        let only_units: Option<Vec<UnitId>> = if member.is_staff() {
            None
        } else {
            let units: Vec<UnitId> = who
                .active()
                .filter(|m| {
                    m.property_id == property && matches!(m.role, Role::Resident | Role::Household)
                })
                .filter_map(|m| m.unit_id)
                .collect();
            if units.is_empty() {
                return Err(AppError::forbidden(
                    "only the building's staff and the people who live in a unit see its drill",
                ));
            }
            Some(units)
        };
        self.drill(property, only_units.as_deref()).await
    }

    /// The drill itself, for the CLI and the bench (no caller to check).
    ///
    /// # Errors
    /// `NotFound` when the property does not exist; `Store` when it cannot be read.
    pub async fn drill(
        &self,
        property: PropertyId,
        only_units: Option<&[UnitId]>,
    ) -> Result<Readiness> {
        let started = Instant::now();
        let b = read_building(self, property).await?;
        let read = started.elapsed();
        let now = self.now();
        let today = b.tz.to_datetime(now).date();
        let mut cache = HoursCache {
            tz: &b.tz,
            instants: sample_instants(today, &b.tz),
            seen: HashMap::new(),
        };
        let staff = cache.of(&b.office_hours).union(cache.union(&b.on_call));
        let locksmith = cache.union(&b.locksmith_hours);
        let no_doors: Vec<DoorId> = Vec::new();
        // Who lives in each unit, and the hours each of them can open its door remotely.
        let mut household: HashMap<UnitId, Vec<(PersonId, WeekHours)>> = HashMap::new();
        for m in b.memberships.iter().filter(|m| lives_there(m, now)) {
            let Some(unit) = m.unit_id else { continue };
            let doors = b.unit_doors.get(&unit).unwrap_or(&no_doors);
            let phone = credential_hours(
                &mut cache,
                b.credentials.get(&m.person_id),
                CredentialKind::PhoneKey,
                doors,
            );
            household
                .entry(unit)
                .or_default()
                .push((m.person_id, phone));
        }
        let mut report = Vec::new();
        for m in b.memberships.iter().filter(|m| lives_there(m, now)) {
            let Some(unit) = m.unit_id else { continue };
            if only_units.is_some_and(|u| !u.contains(&unit)) {
                continue;
            }
            let doors = b.unit_doors.get(&unit).unwrap_or(&no_doors);
            let own = b.credentials.get(&m.person_id);
            let others = household
                .get(&unit)
                .into_iter()
                .flatten()
                .filter(|(p, _)| *p != m.person_id)
                .fold(WeekHours::NONE, |acc, (_, h)| acc.union(*h));
            let ways = Ways {
                pin: credential_hours(&mut cache, own, CredentialKind::Pin, doors),
                phone_key: credential_hours(&mut cache, own, CredentialKind::PhoneKey, doors),
                household: others,
                spare_key: cache.union(b.spare_keys.get(&unit).map_or(&[][..], Vec::as_slice)),
                staff,
                locksmith,
                recovery_card: if b.cards.contains(&m.person_id) {
                    WeekHours::ALL
                } else {
                    WeekHours::NONE
                },
            };
            let Assessment {
                short_hours,
                hours_without_any_way,
                gaps,
            } = assess(&ways);
            report.push(ResidentReadiness {
                person_id: m.person_id,
                name: b.names.get(&m.person_id).cloned().unwrap_or_default(),
                unit_id: unit,
                unit: b.units.get(&unit).cloned().unwrap_or_default(),
                hours_by_way: Way::ALL
                    .into_iter()
                    .map(|w| (w, ways.of(w).len()))
                    .collect(),
                short_hours,
                hours_without_any_way,
                gaps,
            });
        }
        report.sort_by(|a, b| a.unit.cmp(&b.unit).then(a.name.cmp(&b.name)));
        Ok(Readiness {
            property_id: property,
            week_from: today.to_string(),
            residents: report.len(),
            residents_with_gaps: report.iter().filter(|r| r.short_hours > 0).count(),
            resident_hours_short: report.iter().map(|r| r.short_hours).sum(),
            report,
            read_ms: read.as_secs_f64() * 1e3,
            assess_ms: (started.elapsed() - read).as_secs_f64() * 1e3,
        })
    }
}
