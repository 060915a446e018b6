//! Where a PIN's code comes from: on which doors a chosen one may sit, and the generated code
//! otherwise (docs/ARCHITECTURE.md, "PINs no household can learn from another").

use latchkey_core::pin::{Pin, PinContext};
use latchkey_core::schedule::{Schedule, ScheduleCheck};
use latchkey_core::{DoorId, PropertyId, UnitId};
use latchkey_store::Conn;
use latchkey_store::credentials::{self as repo, DoorHolders};

use super::random_pin;
use crate::{App, AppError, Result};

/// A credential of household `unit` (`None`: property-wide) may not open a door that only
/// another household can open today while a code chosen there by that household is on it: a
/// door shared by more than one household holds only generated codes.
pub(super) fn check_widening(unit: Option<UnitId>, holders: &[DoorHolders]) -> Result<()> {
    for d in holders {
        if let Some(home) = d.private_to()
            && Some(home) != unit
            && d.chosen_pins() > 0
        {
            return Err(AppError::Conflict(format!(
                "door {} holds PINs its household chose, and a door more than one household can \
                 open takes only generated PINs: its household must replace them with generated \
                 ones first",
                d.door_id
            )));
        }
    }
    Ok(())
}

/// Refuses a one-time window that has already ended at `now` in the property's time zone: such
/// a code could never be used.
pub(super) fn check_not_over(
    schedule: &Schedule,
    timezone: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    if let Schedule::OneTime { until, .. } = schedule {
        let tz = crate::directory::time_zone(timezone)?;
        if schedule.compile(&tz).check(now, &tz) == ScheduleCheck::Expired {
            return Err(AppError::invalid(
                "schedule",
                format!(
                    "this one-time window ended in the past ({until}, the property's time); \
                     give a window that ends in the future"
                ),
            ));
        }
    }
    Ok(())
}

impl App {
    /// A generated code of `digits` digits that is on none of `doors`, drawn in `conn`'s
    /// transaction. A draw that is taken is drawn again; the caller never learns of it.
    pub(super) async fn free_code(
        &self,
        conn: &mut Conn,
        property: PropertyId,
        doors: &[DoorId],
        ctx: &PinContext<'_>,
        digits: usize,
    ) -> Result<Pin> {
        let digits = u32::try_from(digits).unwrap_or(8);
        for _ in 0..20 {
            let pin = random_pin(ctx, digits)?;
            let digest = self.keys().pin_digest(property, &pin);
            if !repo::pin_taken(conn, doors, &digest).await? {
                return Ok(pin);
            }
        }
        Err(AppError::Internal(
            "twenty generated PINs in a row were taken on these doors".into(),
        ))
    }
}
