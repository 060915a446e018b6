//! Locksmith jobs (docs/LOCKOUT.md). Staff or the household book a verified locksmith who
//! works at this hour; the job gets a check word shown to the resident and the locksmith, and a
//! job token for the locksmith. While the lock works, the locksmith checks the resident's ID in
//! person and then fetches, with the job token, a one-time code valid only in the job's window:
//! no drilling. When the lock itself has failed (jammed, battery empty, offline: a code could
//! not reach it) there is no code; the job records the physical work. Completing the job enters
//! the cost in the ledger and marks a failed lock for service.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::{DoorId, LockoutCaseId, LocksmithId};
use latchkey_store::audit::NewEvent;
use latchkey_store::lockout::{self as repo, LockoutCase};
use latchkey_store::recovery;
use latchkey_store::resolution::{self as res, Charge, Incident, Job, NewJob, Opening};
use latchkey_store::{Conn, devices};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::fees::ChargeFor;
use super::openings::unit_lock_doors;
use super::ways::{inside, lock_trouble};
use crate::authz::{CaseParty, JobCompleter, Principal};
use crate::directory::{load_property, time_zone};
use crate::mint::{NewPin, one_time};
use crate::secrets::{new_token, random_bytes, token_digest};
use crate::{App, AppError, Result};

/// Code fetches allowed per source address per hour.
const CODE_TRIES_PER_SOURCE: u32 = 20;
/// Code fetches allowed per job per hour.
const CODE_TRIES_PER_JOB: u32 = 5;

/// Words for check words: short, distinct when said aloud on a doorstep.
const WORDS: [&str; 32] = [
    "amber", "birch", "cedar", "delta", "ember", "falcon", "granite", "harbor", "indigo",
    "juniper", "kestrel", "lantern", "maple", "nectar", "orchid", "pepper", "quartz", "raven",
    "saffron", "timber", "umber", "velvet", "willow", "yarrow", "zephyr", "basalt", "copper",
    "dune", "fjord", "glacier", "heron", "iris",
];

fn check_word() -> Result<String> {
    let b = random_bytes::<2>()?;
    Ok(format!(
        "{}-{:02}",
        WORDS[usize::from(b[0]) % WORDS.len()],
        b[1] % 100
    ))
}

/// What to book.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookLocksmith {
    pub locksmith_id: LocksmithId,
    /// The door to open; the unit's first door with a lock when left out.
    pub door_id: Option<DoorId>,
    /// How long the job's window lasts from now (15 to 480 minutes, 120 when left out).
    pub window_minutes: Option<u32>,
}

/// A booked job, with the locksmith's job token (shown once).
#[derive(Clone, Debug, Serialize)]
pub struct Booked {
    pub job: Job,
    pub company: String,
    /// Give this to the locksmith: with it, inside the window, they fetch the one-time code.
    pub job_token: String,
}

/// The locksmith's one-time code.
#[derive(Clone, Debug, Serialize)]
pub struct LocksmithCode {
    pub pin: String,
    pub door_id: DoorId,
    pub valid_until: Timestamp,
    pub check_word: String,
}

/// What the locksmith did.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteJob {
    pub cost_cents: i64,
    /// `code`, `battery_jump`, `picking`, `drilling` or `other`.
    pub work: String,
}

/// What a completed job produced.
#[derive(Clone, Debug, Serialize)]
pub struct Completed {
    pub job: Job,
    pub charge: Charge,
    /// The lock marked for service, when it failed or was picked or drilled.
    pub service: Option<Incident>,
}

const WORK: [&str; 5] = ["code", "battery_jump", "picking", "drilling", "other"];

/// Why the lock on `door` cannot take a code now, if it cannot.
pub(crate) async fn lock_failure(conn: &mut Conn, lock: Option<&str>) -> Result<Option<String>> {
    let Some(name) = lock else {
        return Ok(Some("the door has no paired lock".into()));
    };
    let Some(dev) = devices::get_device(conn, name).await? else {
        return Ok(Some("the lock has never reported".into()));
    };
    Ok(lock_trouble(&dev).or_else(|| {
        (dev.availability == "offline")
            .then(|| "the lock is offline, so no code can reach it".to_owned())
    }))
}

/// Refuses a cost or work out of range.
fn check_completion(input: &CompleteJob) -> Result<()> {
    if !(0..=1_000_000).contains(&input.cost_cents) {
        return Err(AppError::invalid(
            "cost_cents",
            "must be between 0 and 1000000",
        ));
    }
    if !WORK.contains(&input.work.as_str()) {
        return Err(AppError::invalid(
            "work",
            format!("must be one of {}", WORK.join(", ")),
        ));
    }
    Ok(())
}

/// The booking's window in minutes (120 unless given).
fn booking_window(input: &BookLocksmith) -> Result<u32> {
    let minutes = input.window_minutes.unwrap_or(120);
    if !(15..=480).contains(&minutes) {
        return Err(AppError::invalid(
            "window_minutes",
            "must be between 15 and 480",
        ));
    }
    Ok(minutes)
}

impl App {
    /// Checks the window, loads case `id` and checks that the caller sees it
    /// ([`Principal::case_party`]): staff, or the people who live in the unit.
    ///
    /// # Errors
    /// `Invalid` for a window out of range; `NotFound` for anyone who may not see the case.
    pub async fn may_book_locksmith<'a>(
        &self,
        who: &'a Principal,
        id: LockoutCaseId,
        input: &BookLocksmith,
    ) -> Result<CaseParty<'a>> {
        booking_window(input)?;
        self.load_case_party(who, id).await
    }

    /// Books a verified locksmith who works at this hour for the case the capability carries.
    /// The household is told the company and the check word.
    ///
    /// # Errors
    /// `Invalid` for an unverified locksmith, one outside their hours, a door of another unit,
    /// or a window out of range; `Conflict` for a closed case.
    pub async fn book_locksmith(
        &self,
        party: CaseParty<'_>,
        input: BookLocksmith,
    ) -> Result<Booked> {
        let who = party.principal();
        let id = party.case().id;
        let minutes = booking_window(&input)?;
        let now = self.now();
        let mut tx = self.store().write().await?;
        // Read again under the write lock: its state decides whether a booking is possible.
        let case = repo::get_case(tx.conn(), id)
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        let property = case
            .property_id
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        if matches!(case.state.as_str(), "resolved" | "cancelled") || case.person_id.is_none() {
            return Err(AppError::Conflict(format!(
                "a locksmith can only be booked for an open case about a resident (this one is {})",
                case.state
            )));
        }
        let smith = recovery::get_locksmith(tx.conn(), input.locksmith_id)
            .await?
            .filter(|l| l.property_id == property)
            .ok_or_else(|| {
                AppError::invalid("locksmith_id", "is not a locksmith of this property")
            })?;
        if smith.status != "verified" {
            return Err(AppError::invalid(
                "locksmith_id",
                "this locksmith is not verified by the property; only verified locksmiths are sent",
            ));
        }
        let prop = load_property(tx.conn(), property).await?;
        let tz = time_zone(&prop.timezone)?;
        if !inside(&smith.hours, &tz, now) {
            return Err(AppError::invalid(
                "locksmith_id",
                "this locksmith does not work at this hour",
            ));
        }
        let doors = unit_lock_doors(tx.conn(), &case).await?;
        let door = match input.door_id {
            Some(d) => doors.into_iter().find(|x| x.id == d).ok_or_else(|| {
                AppError::invalid("door_id", "is not a door of the case's unit with a lock")
            })?,
            None => doors.into_iter().next().ok_or_else(|| {
                AppError::invalid("door_id", "the case's unit has no door with a lock")
            })?,
        };
        let failure = lock_failure(tx.conn(), door.lock_name.as_deref()).await?;
        let until = now
            .checked_add(SignedDuration::from_mins(i64::from(minutes)))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let (token, digest) = new_token("lkj")?;
        let job = res::create_job(
            tx.conn(),
            &NewJob {
                case_id: id,
                locksmith_id: smith.id,
                door_id: door.id,
                check_word: check_word()?,
                window_from: now,
                window_until: until,
                lock_failed: failure.is_some(),
                quoted_cents: smith.callout_cents,
                booked_by: Some(who.id()),
            },
            &digest,
            now,
        )
        .await?;
        let detail = json!({
            "job": job.id, "company": smith.company, "check_word": job.check_word,
            "window_until": until, "quoted_cents": smith.callout_cents,
            "lock_failed": failure,
        });
        let ev = self
            .announce(
                &mut tx,
                &case,
                Some(who.id()),
                "locksmith_booked",
                detail,
                now,
            )
            .await?;
        self.commit_at(tx, vec![ev], now).await?;
        Ok(Booked {
            job,
            company: smith.company,
            job_token: token,
        })
    }

    /// The locksmith, at the door, having checked the resident's ID, fetches the one-time code
    /// with the job token. Only inside the job's window, only once, only while the lock works.
    ///
    /// # Errors
    /// `NotFound` for an unknown token; `Forbidden` outside the window; `Conflict` for a second
    /// fetch, a finished job or a failed lock; `Invalid` without a document; `RateLimited`.
    pub async fn locksmith_code(
        &self,
        token: &str,
        document: &str,
        source: &str,
    ) -> Result<LocksmithCode> {
        let hour = Duration::from_secs(3600);
        self.limits()
            .hit(
                &format!("locksmith:source:{source}"),
                CODE_TRIES_PER_SOURCE,
                hour,
            )
            .await?;
        let document = document.trim();
        if document.is_empty() || document.chars().count() > 100 {
            return Err(AppError::invalid(
                "document",
                "say which ID document you checked (1 to 100 characters)",
            ));
        }
        let now = self.now();
        let mut tx = self.store().write().await?;
        let mut job = res::job_by_token(tx.conn(), &token_digest(token))
            .await?
            .ok_or_else(|| AppError::not_found("locksmith job"))?;
        self.limits()
            .hit_in(
                &mut tx,
                &format!("locksmith:job:{}", job.id),
                CODE_TRIES_PER_JOB,
                hour,
            )
            .await?;
        let case = repo::get_case(tx.conn(), job.case_id)
            .await?
            .ok_or_else(|| AppError::not_found("locksmith job"))?;
        if job.status != "booked" {
            return Err(AppError::Conflict(format!(
                "this job's code cannot be fetched: the job is {}",
                job.status.replace('_', " ")
            )));
        }
        if matches!(case.state.as_str(), "resolved" | "cancelled") {
            return Err(AppError::Conflict(format!("the case is {}", case.state)));
        }
        if now < job.window_from || now >= job.window_until {
            return Err(AppError::forbidden("outside the job's window"));
        }
        if job.lock_failed {
            return Err(AppError::Conflict(
                "the lock had failed when the job was booked: record the physical work instead"
                    .into(),
            ));
        }
        let (Some(property), Some(person)) = (case.property_id, case.person_id) else {
            return Err(AppError::not_found("locksmith job"));
        };
        let prop = load_property(tx.conn(), property).await?;
        let tz = time_zone(&prop.timezone)?;
        let (credential, pin) = self
            .mint_pin(
                tx.conn(),
                NewPin {
                    property,
                    person,
                    unit: case.unit_id,
                    label: format!("locksmith job {} (case {})", job.id, case.id),
                    doors: vec![job.door_id],
                    schedule: one_time(&tz, now, job.window_until),
                    max_uses: Some(1),
                    digits: 8,
                    non_access: false,
                },
            )
            .await?;
        job.status = "code_released".into();
        job.credential_id = Some(credential.id);
        if !res::advance_job(tx.conn(), &job, "booked").await? {
            return Err(AppError::Conflict(
                "this job's code was already fetched".into(),
            ));
        }
        res::add_opening(
            tx.conn(),
            case.id,
            &Opening {
                kind: "locksmith_code".into(),
                by_person: None,
                spare_key_id: None,
                door_id: Some(job.door_id),
                credential_id: Some(credential.id),
                command_id: None,
                at: now,
            },
        )
        .await?;
        let detail =
            json!({ "job": job.id, "id_document": document, "valid_until": job.window_until });
        let ev = self
            .announce(&mut tx, &case, None, "locksmith_code_released", detail, now)
            .await?;
        self.commit_at(tx, vec![ev], now).await?;
        self.devices()
            .credential_changed(credential.id, &[job.door_id]);
        Ok(LocksmithCode {
            pin: pin.expose().to_owned(),
            door_id: job.door_id,
            valid_until: job.window_until,
            check_word: job.check_word,
        })
    }

    /// Checks `input`, loads locksmith job `job_id` and its case, and checks that the caller
    /// is staff of the case's property ([`Principal::job_completer`]).
    ///
    /// # Errors
    /// `Invalid` for a cost or work out of range; `NotFound`/`Forbidden` for non-staff.
    pub async fn may_complete_locksmith_job<'a>(
        &self,
        who: &'a Principal,
        job_id: i64,
        input: &CompleteJob,
    ) -> Result<JobCompleter<'a>> {
        check_completion(input)?;
        let mut conn = self.store().read().await?;
        let job = res::get_job(&mut conn, job_id)
            .await?
            .ok_or_else(|| AppError::not_found("locksmith job"))?;
        let case = repo::get_case(&mut conn, job.case_id)
            .await?
            .ok_or_else(|| AppError::not_found("locksmith job"))?;
        who.job_completer(job, case)
    }

    /// Staff record what the locksmith did on the job the capability carries and what it
    /// cost: a ledger line (the lease's payer, or the landlord when the lock was at fault), the
    /// lock marked for service when it failed or was picked or drilled, and the case resolved.
    ///
    /// # Errors
    /// `Invalid` for a cost or work out of range; `Conflict` for a job already done.
    pub async fn complete_locksmith_job(
        &self,
        completer: JobCompleter<'_>,
        input: CompleteJob,
    ) -> Result<Completed> {
        check_completion(&input)?;
        let who = completer.principal();
        let (property, case) = (completer.property(), completer.case());
        let now = self.now();
        let mut tx = self.store().write().await?;
        // Read again under the write lock: its status decides whether it can still be done.
        let mut job = res::get_job(tx.conn(), completer.job().id)
            .await?
            .ok_or_else(|| AppError::not_found("locksmith job"))?;
        let from = job.status.clone();
        if !matches!(from.as_str(), "booked" | "code_released") {
            return Err(AppError::Conflict(format!("the job is already {from}")));
        }
        job.status = "done".into();
        job.cost_cents = Some(input.cost_cents);
        job.work = Some(input.work.clone());
        job.completed_at = Some(now);
        if !res::advance_job(tx.conn(), &job, &from).await? {
            return Err(AppError::Conflict(
                "the job changed meanwhile; look again".into(),
            ));
        }
        let charge = self
            .charge(
                tx.conn(),
                case,
                ChargeFor::Locksmith {
                    cost_cents: input.cost_cents,
                },
                &[job.door_id],
                who.id(),
                now,
            )
            .await?;
        let service = if job.lock_failed || matches!(input.work.as_str(), "picking" | "drilling") {
            res::open_incident(
                tx.conn(),
                &Incident {
                    id: 0,
                    property_id: property,
                    door_id: job.door_id,
                    case_id: Some(case.id),
                    kind: "service".into(),
                    detail: json!({ "job": job.id, "work": input.work, "lock_failed": job.lock_failed }),
                    opened_by: Some(who.id()),
                    opened_at: now,
                    closed_by: None,
                    closed_at: None,
                },
            )
            .await?
        } else {
            None
        };
        let detail = json!({
            "job": job.id, "work": input.work, "cost_cents": input.cost_cents,
            "payer": charge.payer, "marked_for_service": service.is_some(),
        });
        let ev = self
            .announce(&mut tx, case, Some(who.id()), "locksmith_done", detail, now)
            .await?;
        let mut events = vec![ev];
        if let Some(i) = &service {
            events.push(
                NewEvent::new("door.marked_for_service", format!("door:{}", job.door_id))
                    .property(property)
                    .actor(Some(who.id()))
                    .data(json!({ "incident": i.id, "job": job.id })),
            );
        }
        self.commit_at(tx, events, now).await?;
        self.resolve_case(case, who.id(), json!({ "locksmith_job": job.id }))
            .await?;
        Ok(Completed {
            job,
            charge,
            service,
        })
    }

    /// The locksmith jobs of a case, for whoever may see it.
    pub(crate) async fn jobs_of(&self, case: &LockoutCase) -> Result<Vec<Job>> {
        let mut conn = self.store().read().await?;
        Ok(res::jobs_of_case(&mut conn, case.id).await?)
    }
}

/// A locksmith job as its token holder (the locksmith) sees it before fetching the code.
#[derive(Clone, Debug, Serialize)]
pub struct JobView {
    pub company: String,
    /// The door's name, and the unit's label as the resident gave it.
    pub door: String,
    pub unit: String,
    /// What the resident will say at the door (and sees on their case page).
    pub check_word: String,
    pub window_from: Timestamp,
    pub window_until: Timestamp,
    /// `booked`, `code_released`, `done` or `cancelled`.
    pub status: String,
    /// The lock itself had failed: no code, physical work.
    pub lock_failed: bool,
}

impl App {
    /// The job behind a locksmith's job token, for the locksmith's page. Rate-limited per
    /// source address as the code fetch is.
    ///
    /// # Errors
    /// `NotFound` for an unknown token; `RateLimited`.
    pub async fn locksmith_job_by_token(&self, token: &str, source: &str) -> Result<JobView> {
        self.limits()
            .hit(
                &format!("locksmith:view:{source}"),
                CODE_TRIES_PER_SOURCE * 10,
                Duration::from_secs(3600),
            )
            .await?;
        let mut conn = self.store().read().await?;
        let job = res::job_by_token(&mut conn, &token_digest(token))
            .await?
            .ok_or_else(|| AppError::not_found("locksmith job"))?;
        let company = recovery::get_locksmith(&mut conn, job.locksmith_id)
            .await?
            .map(|l| l.company)
            .unwrap_or_default();
        let door = latchkey_store::property::get_door(&mut conn, job.door_id)
            .await?
            .map(|d| d.name)
            .unwrap_or_default();
        let unit = repo::get_case(&mut conn, job.case_id)
            .await?
            .map(|c| c.claimed_unit)
            .unwrap_or_default();
        Ok(JobView {
            company,
            door,
            unit,
            check_word: job.check_word,
            window_from: job.window_from,
            window_until: job.window_until,
            status: job.status,
            lock_failed: job.lock_failed,
        })
    }
}
