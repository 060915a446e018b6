//! Lockout charges (docs/LOCKOUT.md, fees): the policy holds the lease's terms; each charge is a
//! line of the unit's ledger with its case. When the lock's own events show the equipment was
//! at fault (a jam, an empty battery, a code that never reached the lock), the tenant is not
//! charged and the events that show it are linked to the line.

use jiff::{SignedDuration, Timestamp};
use latchkey_core::model::Payer;
use latchkey_core::{DoorId, PersonId, PropertyId, UnitId};
use latchkey_store::audit::{self, EventFilter};
use latchkey_store::lockout::LockoutCase;
use latchkey_store::resolution::{self as res, Charge};
use latchkey_store::{Conn, credentials};

use crate::authz::Principal;
use crate::directory::load_property;
use crate::{App, AppError, Result};

/// How far back the lock's events are searched for a fault of the equipment.
const FAULT_LOOKBACK: SignedDuration = SignedDuration::from_hours(24);
/// What counts as "the last 12 months" for free lockouts.
const YEAR: SignedDuration = SignedDuration::from_hours(24 * 365);

/// What is being charged.
pub(crate) enum ChargeFor {
    /// Staff opened the door; `office` says whether it was during office hours.
    StaffOpening { office: bool },
    /// A locksmith's bill.
    Locksmith { cost_cents: i64 },
}

/// Sequence numbers of the audit events, in the last 24 hours, that show a door of `doors`
/// failed by itself: a jam, a low or empty battery, or a PIN of `person` that the lock never
/// confirmed.
pub(crate) async fn equipment_fault(
    conn: &mut Conn,
    property: PropertyId,
    doors: &[DoorId],
    person: Option<PersonId>,
    now: Timestamp,
) -> Result<Vec<i64>> {
    let theirs: Vec<i64> = match person {
        Some(p) => credentials::list_credentials(conn, property, Some(p))
            .await?
            .iter()
            .map(|c| c.id.0)
            .collect(),
        None => Vec::new(),
    };
    let mut seqs = Vec::new();
    for d in doors {
        let events = audit::query(
            conn,
            &EventFilter {
                properties: Some(vec![property]),
                kind_prefix: Some("lock.".into()),
                subject: Some(format!("door:{d}")),
                since: now.checked_sub(FAULT_LOOKBACK).ok(),
                limit: 500,
                ..EventFilter::default()
            },
        )
        .await?;
        for e in events {
            let alarm = e.data.get("alarm").and_then(|a| a.as_str());
            let failed_slot = e.kind == "lock.slot_failed"
                && e.data
                    .get("credential_id")
                    .and_then(serde_json::Value::as_i64)
                    .is_some_and(|c| theirs.contains(&c));
            if (e.kind == "lock.alarm" && alarm == Some("low_battery"))
                || e.kind == "lock.jammed"
                || failed_slot
            {
                seqs.push(e.seq);
            }
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Staff openings of a unit in the last 12 months that were not waived (free ones included:
/// they are what the allowance counts).
pub(crate) async fn staff_openings_in_year(
    conn: &mut Conn,
    property: PropertyId,
    unit: UnitId,
    now: Timestamp,
) -> Result<i64> {
    let since = now.checked_sub(YEAR).unwrap_or(now);
    let count = res::ledger(conn, property, Some(unit))
        .await?
        .iter()
        .filter(|c| c.kind == "staff_opening" && !c.waived && c.created_at >= since)
        .count();
    Ok(i64::try_from(count).unwrap_or(i64::MAX))
}

/// What a staff opening costs the tenant, by the lease's terms (docs/LOCKOUT.md, "Fees and the
/// ledger"), in the order they are applied:
///
/// 1. the equipment was at fault (`fault`): the fee is waived;
/// 2. the unit has a free lockout left in the last 12 months: nothing;
/// 3. otherwise the office-hours or after-hours fee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StaffFee {
    /// The fee of the hour; charged unless `waived` (and 0 for a free lockout).
    pub amount_cents: i64,
    pub waived: bool,
    pub reason: String,
}

impl StaffFee {
    /// What the tenant pays.
    pub fn due_cents(&self) -> i64 {
        if self.waived { 0 } else { self.amount_cents }
    }
}

/// An amount in words: `75.00`, or `nothing`.
pub(crate) fn cents_words(cents: i64) -> String {
    if cents == 0 {
        "nothing".to_owned()
    } else {
        format!("{}.{:02}", cents / 100, (cents % 100).abs())
    }
}

/// The fee a staff opening of `case` carries at `now` (`office`: during office hours).
pub(crate) async fn staff_fee(
    conn: &mut Conn,
    case: &LockoutCase,
    policy: &latchkey_core::model::Policy,
    office: bool,
    fault: bool,
    now: Timestamp,
) -> Result<StaffFee> {
    let fee = i64::from(if office {
        policy.lockout_fee_office_cents
    } else {
        policy.lockout_fee_after_hours_cents
    });
    let when = if office {
        "office hours"
    } else {
        "after hours"
    };
    if fault {
        return Ok(StaffFee {
            amount_cents: fee,
            waived: true,
            reason: format!(
                "lockout fee ({when}) waived: the lock's own events show the equipment was at fault"
            ),
        });
    }
    let used = match (case.property_id, case.unit_id) {
        (Some(p), Some(u)) => staff_openings_in_year(conn, p, u, now).await?,
        _ => 0,
    };
    let free = i64::from(policy.free_lockouts_per_year);
    Ok(if used < free {
        StaffFee {
            amount_cents: 0,
            waived: false,
            reason: format!("free lockout {} of {free} in 12 months", used + 1),
        }
    } else {
        StaffFee {
            amount_cents: fee,
            waived: false,
            reason: format!("lockout fee ({when})"),
        }
    })
}

impl App {
    /// Writes the ledger line for `what` in the case's transaction.
    pub(crate) async fn charge(
        &self,
        conn: &mut Conn,
        case: &LockoutCase,
        what: ChargeFor,
        doors: &[DoorId],
        by: PersonId,
        now: Timestamp,
    ) -> Result<Charge> {
        let property = case
            .property_id
            .ok_or_else(|| AppError::Conflict("this case matched no property".into()))?;
        let policy = load_property(conn, property).await?.policy;
        let evidence = equipment_fault(conn, property, doors, case.person_id, now).await?;
        let fault = !evidence.is_empty();
        let (kind, payer, amount, waived, reason) = match what {
            ChargeFor::StaffOpening { office } => {
                let fee = staff_fee(conn, case, &policy, office, fault, now).await?;
                (
                    "staff_opening",
                    Payer::Tenant,
                    fee.amount_cents,
                    fee.waived,
                    fee.reason,
                )
            }
            ChargeFor::Locksmith { cost_cents } => {
                if fault {
                    (
                        "locksmith",
                        Payer::Landlord,
                        cost_cents,
                        false,
                        "locksmith's bill, paid by the landlord: the lock's own events show the equipment was at fault".to_owned(),
                    )
                } else {
                    (
                        "locksmith",
                        policy.locksmith_paid_by,
                        cost_cents,
                        false,
                        format!(
                            "locksmith's bill, paid by the {} as the lease says",
                            policy.locksmith_paid_by.as_str()
                        ),
                    )
                }
            }
        };
        Ok(res::add_charge(
            conn,
            &Charge {
                id: 0,
                property_id: property,
                unit_id: case.unit_id,
                case_id: Some(case.id),
                kind: kind.to_owned(),
                payer: payer.as_str().to_owned(),
                amount_cents: amount,
                waived,
                reason,
                evidence,
                created_by: Some(by),
                created_at: now,
            },
        )
        .await?)
    }

    /// The lockout ledger of a property (staff) or of one unit (staff, and the people who live
    /// there).
    ///
    /// # Errors
    /// `NotFound`/`Forbidden` for anyone else; a resident must name their unit.
    pub async fn ledger(
        &self,
        who: &Principal,
        property: PropertyId,
        unit: Option<UnitId>,
    ) -> Result<Vec<Charge>> {
        let member = who.member(property)?;
        if !member.is_staff() {
            let Some(u) = unit else {
                return Err(AppError::forbidden(
                    "only staff see the whole ledger; name your unit",
                ));
            };
            who.unit_admin(property, u)?;
        }
        let mut conn = self.store().read().await?;
        Ok(res::ledger(&mut conn, property, unit).await?)
    }
}

/// The ledger as CSV (RFC 4180: quoted where needed, CRLF line ends), amounts in cents.
pub fn ledger_csv(charges: &[Charge]) -> String {
    // Only I/O can fail in the csv crate, and a Vec takes every write.
    write_ledger_csv(charges).unwrap_or_else(|e| unreachable!("CSV into memory failed: {e}"))
}

fn write_ledger_csv(charges: &[Charge]) -> std::result::Result<String, Box<dyn std::error::Error>> {
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    csv.write_record([
        "id",
        "created_at",
        "unit_id",
        "case_id",
        "kind",
        "payer",
        "amount_cents",
        "waived",
        "reason",
        "evidence_events",
    ])?;
    for c in charges {
        let evidence: Vec<String> = c.evidence.iter().map(i64::to_string).collect();
        csv.write_record([
            c.id.to_string(),
            c.created_at.to_string(),
            c.unit_id.map(|u| u.0.to_string()).unwrap_or_default(),
            c.case_id.map(|k| k.0.to_string()).unwrap_or_default(),
            c.kind.clone(),
            c.payer.clone(),
            c.amount_cents.to_string(),
            c.waived.to_string(),
            c.reason.clone(),
            evidence.join(" "),
        ])?;
    }
    Ok(String::from_utf8(csv.into_inner()?)?)
}
