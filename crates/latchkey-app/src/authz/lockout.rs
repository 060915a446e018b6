//! Who may see a lockout case and act on it: the people of its unit, staff, a spare-key
//! holder of its unit, a guardian a link was sent to.

use latchkey_core::model::Role;
use latchkey_core::{PersonId, PropertyId};
use latchkey_store::lockout::{GuardianLink, LockoutCase};
use latchkey_store::recovery::SpareKey;
use latchkey_store::resolution::{Change, Job};

use super::Principal;
use crate::{AppError, Result};

/// Why nothing opens yet.
pub(crate) const NOT_PROVEN: &str =
    "the case is not proven: nothing opens and no code is released until identity is proven";

impl Principal {
    /// Whether the caller may see case `case`: staff of its property, and the people who live
    /// in its unit (not its guests or trusted contacts).
    pub fn sees_case(&self, case: &LockoutCase) -> bool {
        let Some(property) = case.property_id else {
            return false;
        };
        match self.member(property) {
            Ok(m) if m.is_staff() => true,
            Ok(_) => case.unit_id.is_some_and(|u| {
                self.active().any(|m| {
                    m.property_id == property
                        && m.unit_id == Some(u)
                        && matches!(m.role, Role::Resident | Role::Household)
                })
            }),
            Err(_) => false,
        }
    }

    /// Proof that the caller holds an active spare key to loaded case `case`'s unit (`keys`:
    /// the unit's spare keys, read by the app) and that the case is proven: a holder may then
    /// release a one-time PIN or open the unit's door, once each per key and case.
    ///
    /// # Errors
    /// `NotFound` unless the caller holds an active key to the case's unit; `Forbidden` before
    /// the case is proven.
    pub fn spare_key_holder(
        &self,
        case: LockoutCase,
        keys: Vec<SpareKey>,
    ) -> Result<SpareKeyHolder<'_>> {
        let key = keys
            .into_iter()
            .find(|k| self.holds(k, &case))
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        if case.state != "proven" {
            return Err(AppError::forbidden(NOT_PROVEN));
        }
        Ok(SpareKeyHolder {
            principal: self,
            case,
            key,
        })
    }

    /// Whether `key` is an active spare key the caller holds to loaded case `case`'s unit (a
    /// case that matched nobody has no unit, so no holder).
    pub fn holds(&self, key: &SpareKey, case: &LockoutCase) -> bool {
        case.unit_id.is_some()
            && Some(key.property_id) == case.property_id
            && Some(key.unit_id) == case.unit_id
            && key.holder_id == self.id()
            && key.status == "active"
    }

    /// Whether the caller may follow loaded case `case` live and be asked to help: they see it
    /// ([`Principal::sees_case`]) or hold an active spare key to its unit (`keys`: the
    /// property's spare keys) and it was proven (a holder learns of a case only when they can
    /// act on it).
    pub fn follows_case(&self, case: &LockoutCase, keys: &[SpareKey], proven: bool) -> bool {
        self.sees_case(case) || (proven && keys.iter().any(|k| self.holds(k, case)))
    }

    /// Proof that the caller is staff of loaded case `case`'s property and the case is proven:
    /// staff may then open a door for it.
    ///
    /// # Errors
    /// `NotFound` for whoever may not see the case; `Forbidden` for non-staff and before the
    /// case is proven.
    pub fn case_opener(&self, case: LockoutCase) -> Result<CaseOpener<'_>> {
        if !self.sees_case(&case) {
            return Err(AppError::not_found("lockout case"));
        }
        let property = case
            .property_id
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        self.staff(property)?;
        if case.state != "proven" {
            return Err(AppError::forbidden(NOT_PROVEN));
        }
        Ok(CaseOpener {
            principal: self,
            property,
            case,
        })
    }

    /// Proof that the caller may see loaded case `case` (staff, or its household): they may
    /// cancel it (one who sees a case they did not expect).
    ///
    /// # Errors
    /// `NotFound` for anyone else.
    pub fn case_party(&self, case: LockoutCase) -> Result<CaseParty<'_>> {
        if !self.sees_case(&case) {
            return Err(AppError::not_found("lockout case"));
        }
        Ok(CaseParty {
            principal: self,
            case,
        })
    }

    /// Proof that the caller is staff of loaded case `case`'s property (records an identity
    /// check).
    ///
    /// # Errors
    /// `NotFound` for whoever may not see the case; `Forbidden` for its household.
    pub fn case_staff(&self, case: LockoutCase) -> Result<CaseStaff<'_>> {
        if !self.sees_case(&case) {
            return Err(AppError::not_found("lockout case"));
        }
        let property = case
            .property_id
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        self.staff(property)?;
        Ok(CaseStaff {
            principal: self,
            property,
            case,
        })
    }

    /// Proof that the caller may open a lockout case at `property` for `person`: staff for
    /// anyone (taking a call), anyone else only for themselves.
    ///
    /// # Errors
    /// `NotFound` without standing at the property; `Forbidden` for someone else's case.
    pub fn case_starter(&self, property: PropertyId, person: PersonId) -> Result<CaseStarter<'_>> {
        let member = self.member(property)?;
        let via = if member.is_staff() {
            "staff"
        } else if self.id() == person {
            "resident"
        } else {
            return Err(AppError::forbidden(
                "only staff open a lockout case for someone else",
            ));
        };
        Ok(CaseStarter {
            principal: self,
            property,
            person,
            via,
        })
    }

    /// Proof that the caller may cancel loaded credential change `change` of loaded case
    /// `case`: whoever sees the case (its household, staff).
    ///
    /// # Errors
    /// `NotFound` for anyone else (or a case that is not the change's).
    pub fn change_canceller(
        &self,
        change: Change,
        case: LockoutCase,
    ) -> Result<ChangeCanceller<'_>> {
        if change.case_id != case.id || !self.sees_case(&case) {
            return Err(AppError::not_found("credential change"));
        }
        Ok(ChangeCanceller {
            principal: self,
            change,
            case,
        })
    }

    /// Proof that the caller may record loaded locksmith job `job` of loaded case `case` as
    /// done: staff of the case's property.
    ///
    /// # Errors
    /// `NotFound` for whoever may not see the case; `Forbidden` for its household.
    pub fn job_completer(&self, job: Job, case: LockoutCase) -> Result<JobCompleter<'_>> {
        if job.case_id != case.id || !self.sees_case(&case) {
            return Err(AppError::not_found("locksmith job"));
        }
        let property = case
            .property_id
            .ok_or_else(|| AppError::not_found("locksmith job"))?;
        self.staff(property)?;
        Ok(JobCompleter {
            principal: self,
            property,
            job,
            case,
        })
    }

    /// Proof that loaded guardian link `link` was sent to the caller: only they may answer it.
    ///
    /// # Errors
    /// `Forbidden` for a link sent to someone else.
    pub fn guardian(&self, link: GuardianLink) -> Result<Guardian<'_>> {
        if link.guardian_id != self.id() {
            return Err(AppError::forbidden("this link was sent to someone else"));
        }
        Ok(Guardian {
            principal: self,
            link,
        })
    }
}

/// Proof that the caller holds a spare key to a proven case's unit; it carries both.
pub struct SpareKeyHolder<'a> {
    principal: &'a Principal,
    case: LockoutCase,
    key: SpareKey,
}

impl SpareKeyHolder<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn case(&self) -> &LockoutCase {
        &self.case
    }
    pub fn key(&self) -> &SpareKey {
        &self.key
    }
}

/// Proof that the caller is staff of a proven case's property; it carries the case.
pub struct CaseOpener<'a> {
    principal: &'a Principal,
    property: PropertyId,
    case: LockoutCase,
}

impl CaseOpener<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    pub fn case(&self) -> &LockoutCase {
        &self.case
    }
}

/// Proof that one guardian link was sent to the caller; it carries the link.
pub struct Guardian<'a> {
    principal: &'a Principal,
    link: GuardianLink,
}

impl Guardian<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The link as it was loaded for the check.
    pub fn link(&self) -> &GuardianLink {
        &self.link
    }
}

/// Proof that the caller sees one case (staff or its household); it carries the case.
pub struct CaseParty<'a> {
    principal: &'a Principal,
    case: LockoutCase,
}

impl CaseParty<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn case(&self) -> &LockoutCase {
        &self.case
    }
}

/// Proof that the caller is staff of one case's property; it carries the case.
pub struct CaseStaff<'a> {
    principal: &'a Principal,
    property: PropertyId,
    case: LockoutCase,
}

impl CaseStaff<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    pub fn case(&self) -> &LockoutCase {
        &self.case
    }
}

/// Proof that the caller may open a case for one person at one property; it carries them and
/// how the case was opened (`staff` or `resident`).
pub struct CaseStarter<'a> {
    principal: &'a Principal,
    property: PropertyId,
    person: PersonId,
    via: &'static str,
}

impl CaseStarter<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    pub fn person(&self) -> PersonId {
        self.person
    }
    /// `staff` or `resident`.
    pub fn via(&self) -> &'static str {
        self.via
    }
}

/// Proof that the caller sees the case of one credential change; it carries both.
pub struct ChangeCanceller<'a> {
    principal: &'a Principal,
    change: Change,
    case: LockoutCase,
}

impl ChangeCanceller<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The change as it was loaded for the check.
    pub fn change(&self) -> &Change {
        &self.change
    }
    pub fn case(&self) -> &LockoutCase {
        &self.case
    }
}

/// Proof that the caller is staff of the property of one locksmith job's case; it carries
/// both.
pub struct JobCompleter<'a> {
    principal: &'a Principal,
    property: PropertyId,
    job: Job,
    case: LockoutCase,
}

impl JobCompleter<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    /// The job as it was loaded for the check.
    pub fn job(&self) -> &Job {
        &self.job
    }
    pub fn case(&self) -> &LockoutCase {
        &self.case
    }
}
