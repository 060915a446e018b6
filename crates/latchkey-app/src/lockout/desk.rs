//! What the staff console's case page reads that the API answers in several calls: the case
//! with what it is about, the doors staff can act on, the locksmiths that can be sent now, and
//! — before anything is charged — the fee a staff opening would carry at this hour
//! (docs/LOCKOUT.md, "In the staff console"). Staff of the case's property only.

use jiff::Timestamp;
use latchkey_core::{DoorId, LockoutCaseId};
use latchkey_store::lockout::{self as repo, LockoutCase};
use latchkey_store::recovery::{self, Locksmith};
use latchkey_store::resolution as res;
use serde::Serialize;

use super::CaseView;
use super::fees::{equipment_fault, staff_fee};
use super::openings::unit_lock_doors;
use super::ways::inside;
use crate::authz::{CaseOpener, Principal};
use crate::directory::{load_property, time_zone};
use crate::{App, AppError, Result};

/// What a staff opening of a case would cost the tenant if confirmed now.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FeeQuote {
    /// Whether it is office hours now (else the after-hours fee applies).
    pub office_hours: bool,
    /// The lease's fee for this hour.
    pub fee_cents: i64,
    /// What the tenant would pay: the fee, nothing for a free lockout or a fault of the
    /// equipment, nothing when the case was charged for an opening before.
    pub due_cents: i64,
    pub waived: bool,
    /// The case was charged for an opening before: a second one costs nothing more.
    pub already_charged: bool,
    /// In words, as the ledger line would say it.
    pub reason: String,
    /// Audit events that show the equipment was at fault (when `waived`).
    pub evidence: Vec<i64>,
}

/// A case as the staff console shows it.
#[derive(Clone, Debug, Serialize)]
pub struct StaffCase {
    pub case: LockoutCase,
    pub view: CaseView,
    /// The unit's doors with a lock: where staff open, a locksmith works, a door is forced.
    pub doors: Vec<(DoorId, String)>,
    /// Verified locksmiths of the property who work at this hour, cheapest first.
    pub locksmiths: Vec<Locksmith>,
    /// The property's time zone, for showing times.
    pub timezone: String,
}

impl App {
    /// Case `id` for the staff console: what the API's case view holds, plus the unit's doors
    /// with a lock and the locksmiths who can be booked now.
    ///
    /// # Errors
    /// `NotFound` for whoever may not see the case; `Forbidden` for its household (this is the
    /// staff's view).
    pub async fn staff_case(&self, who: &Principal, id: LockoutCaseId) -> Result<StaffCase> {
        let mut conn = self.store().read().await?;
        let case = repo::get_case(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        let staff = who.case_staff(case)?;
        let case = staff.case().clone();
        let prop = load_property(&mut conn, staff.property()).await?;
        let tz = time_zone(&prop.timezone)?;
        let now = self.now();
        let doors = unit_lock_doors(&mut conn, &case)
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        let mut locksmiths: Vec<Locksmith> = recovery::list_locksmiths(&mut conn, staff.property())
            .await?
            .into_iter()
            .filter(|l| l.status == "verified" && inside(&l.hours, &tz, now))
            .collect();
        locksmiths.sort_by_key(|l| l.callout_cents);
        drop(conn);
        let view = self.lockout_case(who, id).await?;
        Ok(StaffCase {
            case,
            view,
            doors,
            locksmiths,
            timezone: prop.timezone,
        })
    }

    /// The fee a staff opening of the case on `door` would carry if confirmed now: the same
    /// rule the opening charges by ([`App::staff_open_at_fee`] refuses when it changed). Reads
    /// only; nothing is charged.
    ///
    /// # Errors
    /// `Invalid` for a door of another property or without a lock.
    pub async fn staff_opening_quote(
        &self,
        opener: &CaseOpener<'_>,
        door: DoorId,
    ) -> Result<FeeQuote> {
        let case = opener.case();
        let property = opener.property();
        let now: Timestamp = self.now();
        let mut conn = self.store().read().await?;
        latchkey_store::property::get_door(&mut conn, door)
            .await?
            .filter(|d| d.property_id == property && d.lock_name.is_some())
            .ok_or_else(|| {
                AppError::invalid("door_id", "is not a door of this property with a lock")
            })?;
        let prop = load_property(&mut conn, property).await?;
        let tz = time_zone(&prop.timezone)?;
        let office = inside(&prop.office_hours, &tz, now);
        let fee_cents = i64::from(if office {
            prop.policy.lockout_fee_office_cents
        } else {
            prop.policy.lockout_fee_after_hours_cents
        });
        let already_charged = res::charges_of_case(&mut conn, case.id)
            .await?
            .iter()
            .any(|c| c.kind == "staff_opening");
        if already_charged {
            return Ok(FeeQuote {
                office_hours: office,
                fee_cents,
                due_cents: 0,
                waived: false,
                already_charged,
                reason: "this case was charged for an opening already".into(),
                evidence: Vec::new(),
            });
        }
        let evidence = equipment_fault(&mut conn, property, &[door], case.person_id, now).await?;
        let fee = staff_fee(
            &mut conn,
            case,
            &prop.policy,
            office,
            !evidence.is_empty(),
            now,
        )
        .await?;
        Ok(FeeQuote {
            office_hours: office,
            fee_cents,
            due_cents: fee.due_cents(),
            waived: fee.waived,
            already_charged,
            reason: fee.reason,
            evidence,
        })
    }
}
