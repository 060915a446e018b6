//! The per-unit ledger of lockout charges.

use jiff::Timestamp;
use latchkey_core::{LockoutCaseId, PersonId, PropertyId, UnitId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, to_micros};
use crate::{Conn, Result, StoreError};

/// One line of a unit's lockout ledger.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Charge {
    pub id: i64,
    pub property_id: PropertyId,
    pub unit_id: Option<UnitId>,
    pub case_id: Option<LockoutCaseId>,
    /// `staff_opening` or `locksmith`.
    pub kind: String,
    /// `tenant` or `landlord`.
    pub payer: String,
    pub amount_cents: i64,
    /// Charged to nobody: the equipment was at fault (see `evidence`).
    pub waived: bool,
    pub reason: String,
    /// Sequence numbers of the audit events that show the fault.
    pub evidence: Vec<i64>,
    pub created_by: Option<PersonId>,
    pub created_at: Timestamp,
}

const CHARGE_COLUMNS: &str = "id, property_id, unit_id, case_id, kind, payer, amount_cents, \
     waived, reason, evidence, created_by, created_at";

fn charge_row(r: &AnyRow) -> Result<Charge> {
    let evidence: String = r.try_get("evidence")?;
    Ok(Charge {
        id: r.try_get("id")?,
        property_id: PropertyId(r.try_get("property_id")?),
        unit_id: r.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
        case_id: r.try_get::<Option<i64>, _>("case_id")?.map(LockoutCaseId),
        kind: r.try_get("kind")?,
        payer: r.try_get("payer")?,
        amount_cents: r.try_get("amount_cents")?,
        waived: r.try_get::<i64, _>("waived")? != 0,
        reason: r.try_get("reason")?,
        evidence: serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Corrupt(format!("ledger evidence: {e}")))?,
        created_by: r.try_get::<Option<i64>, _>("created_by")?.map(PersonId),
        created_at: from_micros(r.try_get("created_at")?)?,
    })
}

/// # Errors
/// `Database` on a failed write.
pub async fn add_charge(conn: &mut Conn, c: &Charge) -> Result<Charge> {
    let evidence =
        serde_json::to_string(&c.evidence).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_entries (property_id, unit_id, case_id, kind, payer, amount_cents, \
         waived, reason, evidence, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(c.property_id.0)
    .bind(c.unit_id.map(|u| u.0))
    .bind(c.case_id.map(|k| k.0))
    .bind(c.kind.clone())
    .bind(c.payer.clone())
    .bind(c.amount_cents)
    .bind(i64::from(c.waived))
    .bind(c.reason.clone())
    .bind(evidence)
    .bind(c.created_by.map(|p| p.0))
    .bind(to_micros(c.created_at))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(Charge { id, ..c.clone() })
}

/// The ledger of a property, or of one unit, oldest first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn ledger(
    conn: &mut Conn,
    property: PropertyId,
    unit: Option<UnitId>,
) -> Result<Vec<Charge>> {
    let sql = format!(
        "SELECT {CHARGE_COLUMNS} FROM ledger_entries WHERE property_id = $1 \
         AND ($2 IS NULL OR unit_id = $2) ORDER BY id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(property.0)
        .bind(unit.map(|u| u.0))
        .fetch_all(conn)
        .await?;
    rows.iter().map(charge_row).collect()
}

/// The charges of a case.
///
/// # Errors
/// `Database` on a failed read.
pub async fn charges_of_case(conn: &mut Conn, case: LockoutCaseId) -> Result<Vec<Charge>> {
    let sql = format!("SELECT {CHARGE_COLUMNS} FROM ledger_entries WHERE case_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(case.0)
        .fetch_all(conn)
        .await?;
    rows.iter().map(charge_row).collect()
}
