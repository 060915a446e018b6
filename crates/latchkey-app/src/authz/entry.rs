//! Who may announce and cancel a visit to a unit (entry notices).

use latchkey_store::entry::EntryNotice;

use super::{Principal, StaffOn};
use crate::{AppError, Result};

impl Principal {
    /// Proof that the caller may cancel loaded notice `notice`: staff only. Its household sees
    /// it but may not cancel it ("not allowed"); anyone else is told it is not found.
    ///
    /// # Errors
    /// `NotFound` for whoever may not see it; `Forbidden` for its household.
    pub fn entry_notice_canceller(&self, notice: EntryNotice) -> Result<StaffOn<'_, EntryNotice>> {
        let m = self
            .member(notice.property_id)
            .map_err(|_| AppError::not_found("entry notice"))?;
        if !m.is_staff() {
            return Err(
                if self
                    .home_units(notice.property_id)
                    .contains(&notice.unit_id)
                {
                    AppError::forbidden("only staff cancel an entry notice")
                } else {
                    AppError::not_found("entry notice")
                },
            );
        }
        self.staff_on(notice)
    }
}
