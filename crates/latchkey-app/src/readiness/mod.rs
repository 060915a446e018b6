//! The readiness drill of a property (docs/LOCKOUT.md): for every resident and household member,
//! each hour of the coming week and each way a lockout starts (phone dead or lost, PIN
//! forgotten, phone and keys both gone), the free ways back into their unit that are left, and
//! the gaps with what would close them. The locksmith is reported as the paid fallback, never
//! counted. Read from the database in a fixed number of queries whatever the size of the
//! building; the per-hour counting is `latchkey_core::drill`.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use latchkey_core::drill::{Assessment, Failure, Gap, Proofs, Situation, Way, assess};
use latchkey_core::model::{CredentialKind, CredentialStatus, ProofKind, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::week::{HOURS, WeekHours, hours_of, sample_instants};
use latchkey_core::{CredentialId, DoorId, PersonId, PropertyId, UnitId};
use latchkey_store::records::{Credential, Membership};
use latchkey_store::{credentials, people, property, recovery};
use serde::Serialize;

use crate::authz::Principal;
use crate::directory::{load_property, time_zone};
use crate::{App, AppError, Result};

mod cache;
mod map;

pub(crate) use cache::MapCache;
pub use cache::{NEVER_CHANGES_READINESS, changes_readiness};
pub use map::{HeatMap, HeatMapResident, HeatMapUnit};

/// One resident's week after one failure.
#[derive(Clone, Debug, Serialize)]
pub struct FailureReadiness {
    pub failure: Failure,
    /// Hours with fewer than two ways back in left.
    pub short_hours: usize,
    pub hours_without_any_way: usize,
    /// Each gap with what would close it.
    pub gaps: Vec<Gap>,
    /// The resident's PIN counts here but is only assumed on the door's lock, which cannot
    /// show which code it holds ([`latchkey_core::drill::PIN_ASSUMED`] says it in words).
    pub pin_assumed: bool,
    /// Ways left in each hour of the week (for the heat map; not in the report).
    #[serde(skip)]
    pub counts: [u8; HOURS],
}

/// One resident's week.
#[derive(Clone, Debug, Serialize)]
pub struct ResidentReadiness {
    pub person_id: PersonId,
    pub name: String,
    pub unit_id: UnitId,
    pub unit: String,
    /// Hours of the week each way works while PIN and phone are at hand (0–168); spare keys
    /// and staff count where a case could be proven with the phone.
    pub hours_by_way: HashMap<Way, usize>,
    /// The week after each failure, in [`Failure::ALL`] order.
    pub failures: Vec<FailureReadiness>,
}

impl ResidentReadiness {
    /// The week after `failure`.
    pub fn after(&self, failure: Failure) -> Option<&FailureReadiness> {
        self.failures.iter().find(|f| f.failure == failure)
    }

    /// Whether some failure leaves some hour with fewer than two ways.
    pub fn has_gaps(&self) -> bool {
        self.failures.iter().any(|f| f.short_hours > 0)
    }
}

/// The building's totals for one failure.
#[derive(Clone, Debug, Serialize)]
pub struct FailureSummary {
    pub failure: Failure,
    pub residents_with_gaps: usize,
    pub resident_hours_short: usize,
}

/// The paid last resort: a verified locksmith. Shown, never counted as readiness.
#[derive(Clone, Debug, Serialize)]
pub struct Fallback {
    /// Hours of the week some verified locksmith works.
    pub locksmith_hours: usize,
    /// The lowest call-out fee among them, in the smallest unit of the currency.
    pub locksmith_from_cents: Option<i64>,
}

/// The drill of a property, or of the caller's own units for residents.
#[derive(Clone, Debug, Serialize)]
pub struct Readiness {
    pub property_id: PropertyId,
    /// The local date the week starts on (the hours are its next 168).
    pub week_from: String,
    pub residents: usize,
    /// Residents with at least one hour with fewer than two ways after some failure.
    pub residents_with_gaps: usize,
    /// Per failure, in [`Failure::ALL`] order.
    pub failures: Vec<FailureSummary>,
    pub fallback: Fallback,
    pub report: Vec<ResidentReadiness>,
    /// Time spent reading the building and assessing it, in milliseconds.
    pub read_ms: f64,
    pub assess_ms: f64,
    /// Until when time alone leaves this answer as it is: the next local midnight (the week
    /// moves on) or the next start or end of a membership at the property, whichever is first.
    #[serde(skip)]
    pub unchanged_until: Timestamp,
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
    locksmith_from_cents: Option<i64>,
    /// The proofs the policy accepts; the people's own are below.
    accepted: Vec<ProofKind>,
    guardians_required: u8,
    /// People holding unused recovery-card codes.
    cards: HashSet<PersonId>,
    passkeys: HashSet<PersonId>,
    totp: HashSet<PersonId>,
    /// Credentials only assumed on some lock (the lock cannot show its codes).
    assumed: HashSet<CredentialId>,
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
    let verified: Vec<_> = recovery::list_locksmiths(&mut conn, id)
        .await?
        .into_iter()
        .filter(|l| l.status == "verified")
        .collect();
    let locksmith_from_cents = verified.iter().map(|l| l.callout_cents).min();
    let locksmith_hours = verified.into_iter().map(|l| l.hours).collect();
    let accepted = prop.policy.recovery_proofs.clone();
    let people_with = |list: Vec<PersonId>| list.into_iter().collect::<HashSet<_>>();
    let cards = people_with(latchkey_store::lockout::people_with_recovery_codes(&mut conn).await?);
    let passkeys = people_with(latchkey_store::lockout::people_with_passkeys(&mut conn).await?);
    let totp = people_with(latchkey_store::lockout::people_with_totp(&mut conn).await?);
    let assumed = latchkey_store::devices::assumed_credentials(&mut conn, id)
        .await?
        .into_iter()
        .collect();
    Ok(Building {
        tz,
        assumed,
        cards,
        passkeys,
        totp,
        accepted,
        guardians_required: prop.policy.guardians_required,
        locksmith_from_cents,
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

/// The hours a person's credentials of `kinds` open one of `doors`.
fn credential_hours(
    cache: &mut HoursCache<'_>,
    creds: Option<&Vec<Credential>>,
    kinds: &[CredentialKind],
    doors: &[DoorId],
) -> WeekHours {
    let mut set = WeekHours::NONE;
    for c in creds.into_iter().flatten() {
        let usable = kinds.contains(&c.kind)
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
        self.drill_after(property, only_units, &Failure::ALL).await
    }

    /// The drill for the failures asked for only (each resident's `failures` holds those); the
    /// building's totals still list every failure, with zeros for those not assessed.
    ///
    /// # Errors
    /// As [`App::drill`].
    pub(crate) async fn drill_after(
        &self,
        property: PropertyId,
        only_units: Option<&[UnitId]>,
        assessed: &[Failure],
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
                &[CredentialKind::PhoneKey],
                doors,
            );
            household
                .entry(unit)
                .or_default()
                .push((m.person_id, phone));
        }
        let accepts = |p: ProofKind| b.accepted.contains(&p);
        let mut report = Vec::new();
        for m in b.memberships.iter().filter(|m| lives_there(m, now)) {
            let Some(unit) = m.unit_id else { continue };
            if only_units.is_some_and(|u| !u.contains(&unit)) {
                continue;
            }
            let doors = b.unit_doors.get(&unit).unwrap_or(&no_doors);
            let own = b.credentials.get(&m.person_id);
            let situation = Situation {
                pin: credential_hours(&mut cache, own, &[CredentialKind::Pin], doors),
                pin_assumed: own.into_iter().flatten().any(|c| {
                    c.kind == CredentialKind::Pin
                        && c.status == CredentialStatus::Active
                        && b.assumed.contains(&c.id)
                }),
                phone_key: credential_hours(&mut cache, own, &[CredentialKind::PhoneKey], doors),
                keys: credential_hours(
                    &mut cache,
                    own,
                    &[CredentialKind::RfidCard, CredentialKind::PhysicalKey],
                    doors,
                ),
                household: household
                    .get(&unit)
                    .into_iter()
                    .flatten()
                    .filter(|(p, h)| *p != m.person_id && !h.is_empty())
                    .map(|(_, h)| *h)
                    .collect(),
                spare_keys: b
                    .spare_keys
                    .get(&unit)
                    .into_iter()
                    .flatten()
                    .map(|s| cache.of(s))
                    .collect(),
                staff,
                proofs: Proofs {
                    passkey: accepts(ProofKind::Passkey) && b.passkeys.contains(&m.person_id),
                    totp: accepts(ProofKind::Totp) && b.totp.contains(&m.person_id),
                    recovery_code_accepted: accepts(ProofKind::RecoveryCode),
                    recovery_card: b.cards.contains(&m.person_id),
                    id_check: accepts(ProofKind::IdCheck),
                    guardians_required: accepts(ProofKind::Guardians)
                        .then_some(b.guardians_required),
                },
            };
            let before = situation.ways(Failure::PinForgotten);
            let mut hours_by_way: HashMap<Way, usize> = HashMap::new();
            hours_by_way.insert(Way::Pin, situation.pin.len());
            for w in Way::ALL.into_iter().filter(|w| *w != Way::Pin) {
                hours_by_way.insert(w, before.of(w).len());
            }
            let failures = assessed
                .iter()
                .map(|&f| {
                    let Assessment {
                        short_hours,
                        hours_without_any_way,
                        gaps,
                        pin_assumed,
                        counts,
                        ..
                    } = assess(&situation, f);
                    FailureReadiness {
                        failure: f,
                        short_hours,
                        hours_without_any_way,
                        gaps,
                        pin_assumed,
                        counts,
                    }
                })
                .collect();
            report.push(ResidentReadiness {
                person_id: m.person_id,
                name: b.names.get(&m.person_id).cloned().unwrap_or_default(),
                unit_id: unit,
                unit: b.units.get(&unit).cloned().unwrap_or_default(),
                hours_by_way,
                failures,
            });
        }
        report.sort_by(|a, b| a.unit.cmp(&b.unit).then(a.name.cmp(&b.name)));
        let midnight = today
            .tomorrow()
            .ok()
            .and_then(|d| d.to_zoned_datetime(b.tz.clone()).ok())
            .map_or(now, |z| z.timestamp());
        let unchanged_until = b
            .memberships
            .iter()
            .flat_map(|m| [m.valid_from, m.valid_until])
            .flatten()
            .filter(|t| *t > now)
            .fold(midnight, Timestamp::min);
        Ok(Readiness {
            property_id: property,
            week_from: today.to_string(),
            residents: report.len(),
            residents_with_gaps: report.iter().filter(|r| r.has_gaps()).count(),
            failures: Failure::ALL
                .into_iter()
                .map(|f| {
                    let of = |r: &ResidentReadiness| r.after(f).map_or(0, |a| a.short_hours);
                    FailureSummary {
                        failure: f,
                        residents_with_gaps: report.iter().filter(|r| of(r) > 0).count(),
                        resident_hours_short: report.iter().map(of).sum(),
                    }
                })
                .collect(),
            fallback: Fallback {
                locksmith_hours: locksmith.len(),
                locksmith_from_cents: b.locksmith_from_cents,
            },
            report,
            read_ms: read.as_secs_f64() * 1e3,
            assess_ms: (started.elapsed() - read).as_secs_f64() * 1e3,
            unchanged_until,
        })
    }
}
