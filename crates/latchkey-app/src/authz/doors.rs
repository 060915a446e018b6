//! Who may change a door, and how; who may lock or unlock it remotely now, and on what
//! basis; who may ask whether a credential would open it.

use latchkey_core::CredentialId;
use latchkey_core::decide::Decision;
use latchkey_core::model::{CredentialKind, CredentialStatus, DoorMode};
use latchkey_store::entry::EntryNotice;
use latchkey_store::records::{Credential, Door};

use super::Principal;
use crate::access::{AccessQuery, is_unit_door};
use crate::devices::{CommandFacts, RemoteAction};
use crate::entry::NoticeBasis;
use crate::{AppError, Result};

/// Why a remote command may go to a door.
pub enum CommandBasis {
    /// The caller's own phone key opens (or may lock) it.
    Credential(CredentialId),
    /// Staff on a shared door, or staff locking any door.
    Staff,
    /// Staff inside an entry notice's window.
    Notice(EntryNotice),
    /// Staff with a reason, which the household is told.
    Emergency(String),
}

/// Why staff may not open a door in privacy or no-remote mode by notice.
const MODE_REFUSES_NOTICE: &str = "this door is in a mode that refuses staff (privacy, vacation or no remote); an entry notice does not override it, only an emergency with a reason does";

impl Principal {
    /// Proof that the caller may change loaded door `door`: staff may change anything; a
    /// unit's residents may only switch their own unit's door between normal, privacy and
    /// vacation (`settings` is whether anything but the mode changes).
    ///
    /// # Errors
    /// `NotFound` for outsiders; `Forbidden` for anything else a resident asks.
    pub fn door_changer(
        &self,
        door: Door,
        settings: bool,
        mode: Option<DoorMode>,
    ) -> Result<DoorChanger<'_>> {
        self.member(door.property_id)?;
        if self.staff(door.property_id).is_ok() {
            return Ok(DoorChanger {
                principal: self,
                door,
                settings: true,
                mode: None,
            });
        }
        let own = door
            .unit_id
            .is_some_and(|u| self.resident_units(door.property_id).contains(&u));
        let resident_mode = matches!(
            mode,
            Some(DoorMode::Normal | DoorMode::Privacy | DoorMode::Vacation)
        );
        if own && !settings && resident_mode {
            Ok(DoorChanger {
                principal: self,
                door,
                settings: false,
                mode,
            })
        } else {
            Err(AppError::forbidden(
                "residents may only switch their own unit's door between normal, privacy and vacation",
            ))
        }
    }
}

impl Principal {
    /// Proof that the caller may send `action` to loaded door `door` now, and on what basis
    /// (docs/ARCHITECTURE.md, "Authorization"; `emergency`: the reason given for one):
    ///
    /// 1. An emergency: staff only, with a reason of at least 5 characters.
    /// 2. Staff on a shared door (not a unit's): anything, except an unlock while the door's
    ///    mode refuses remote commands (privacy, no remote).
    /// 3. The caller's own phone key: a lock with any live key for the door, an unlock when
    ///    `decide()` grants a remote opening (door modes and schedules apply).
    /// 4. Staff lock any door.
    /// 5. Staff unlock a unit's door only inside an entry notice's window, and not while its
    ///    mode refuses remote commands.
    /// 6. Otherwise refused with the first reason `decide()` gave.
    ///
    /// An unlock from a browser session then needs a fresh proof, asked only once the caller
    /// may open the door at all, so that a refusal says the real reason.
    ///
    /// # Errors
    /// `Forbidden` with the reason when the caller may not; `Invalid` for an emergency
    /// without a reason.
    pub(crate) fn door_command(
        &self,
        door: Door,
        action: RemoteAction,
        emergency: Option<&str>,
        facts: CommandFacts,
    ) -> Result<DoorCommand<'_>> {
        let staff = self.staff(door.property_id).is_ok();
        let basis = match emergency {
            Some(reason) => {
                if !staff {
                    return Err(AppError::forbidden(
                        "only the building's managers and installers may send an emergency command",
                    ));
                }
                if reason.trim().chars().count() < 5 {
                    return Err(AppError::invalid(
                        "reason",
                        "say why this is an emergency (at least 5 characters); the residents are told",
                    ));
                }
                CommandBasis::Emergency(reason.to_owned())
            }
            None => remote_basis(staff, &door, action, facts.keys, facts.notice)
                .map_err(AppError::forbidden)?,
        };
        if action == RemoteAction::Unlock && !facts.proof_fresh {
            return Err(AppError::forbidden(
                "confirm it is you first: an unlock from a browser needs a fresh passkey check \
                 (or your password when you have no passkey)",
            ));
        }
        Ok(DoorCommand {
            principal: self,
            door,
            action,
            basis,
        })
    }

    /// Proof that the caller may ask whether `candidates` open loaded door `door`: someone
    /// with standing at its property who sees every candidate (the app loaded them through
    /// the caller's own reads). The answer is audited.
    ///
    /// # Errors
    /// `NotFound` for a door or credential the caller may not see; `Invalid` for a credential
    /// of another property.
    pub fn access_checker(
        &self,
        query: AccessQuery,
        door: Door,
        candidates: Vec<Credential>,
    ) -> Result<AccessChecker<'_>> {
        if door.id != query.door_id {
            return Err(AppError::not_found("door"));
        }
        self.member(door.property_id)
            .map_err(|_| AppError::not_found("door"))?;
        for c in &candidates {
            if !self.sees_credential(c) {
                return Err(AppError::not_found("credential"));
            }
            if c.property_id != door.property_id {
                return Err(AppError::invalid(
                    "credential_id",
                    "belongs to another property than the door",
                ));
            }
        }
        Ok(AccessChecker {
            principal: self,
            query,
            door,
            candidates,
        })
    }
}

/// The basis of a command without an emergency (steps 2 to 6 of [`Principal::door_command`]),
/// or why there is none.
fn remote_basis(
    staff: bool,
    door: &Door,
    action: RemoteAction,
    keys: Vec<(Credential, Decision)>,
    notice: Option<NoticeBasis>,
) -> std::result::Result<CommandBasis, String> {
    let refuses_remote = matches!(door.mode, DoorMode::Privacy | DoorMode::NoRemote);
    if staff && !is_unit_door(door) {
        // Staff run the building's shared doors; only the door's mode can refuse them.
        return if action == RemoteAction::Unlock && refuses_remote {
            Err("this door does not take remote commands in its current mode; use an emergency command with a reason".into())
        } else {
            Ok(CommandBasis::Staff)
        };
    }
    let mut first_denial = None;
    for (c, decision) in keys
        .iter()
        .filter(|(c, _)| c.kind == CredentialKind::PhoneKey)
    {
        if action == RemoteAction::Lock
            && c.status != CredentialStatus::Revoked
            && c.doors.contains(&door.id)
        {
            return Ok(CommandBasis::Credential(c.id));
        }
        match decision {
            Decision::Granted { .. } => return Ok(CommandBasis::Credential(c.id)),
            Decision::Denied { reason } => {
                first_denial.get_or_insert(*reason);
            }
        }
    }
    if staff && action == RemoteAction::Lock {
        return Ok(CommandBasis::Staff);
    }
    if staff {
        return match notice {
            Some(NoticeBasis::Refused(why)) => Err(why),
            // Someone inside asked for privacy, the household is away, or the door takes no
            // remote commands: only an emergency opens it.
            Some(NoticeBasis::Open(_))
                if refuses_remote || door.mode == DoorMode::Vacation =>
            {
                Err(MODE_REFUSES_NOTICE.into())
            }
            Some(NoticeBasis::Open(n)) => Ok(CommandBasis::Notice(n)),
            None => Err("staff open a unit's door only inside the window of an entry notice, or as an audited emergency with a reason".into()),
        };
    }
    Err(match first_denial {
        Some(r) => r.message().to_owned(),
        None => "you hold no phone key for this door".to_owned(),
    })
}

/// Proof that the caller may send one command to one door now; it carries the door, the
/// action and the basis.
pub struct DoorCommand<'a> {
    principal: &'a Principal,
    door: Door,
    action: RemoteAction,
    basis: CommandBasis,
}

impl DoorCommand<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The door as it was loaded for the check.
    pub fn door(&self) -> &Door {
        &self.door
    }
    pub fn action(&self) -> RemoteAction {
        self.action
    }
    pub fn basis(&self) -> &CommandBasis {
        &self.basis
    }
}

/// Proof that the caller may ask whether some credentials open one door; it carries the
/// question, the door and the credentials.
pub struct AccessChecker<'a> {
    principal: &'a Principal,
    query: AccessQuery,
    door: Door,
    candidates: Vec<Credential>,
}

impl AccessChecker<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn query(&self) -> &AccessQuery {
        &self.query
    }
    /// The door as it was loaded for the check.
    pub fn door(&self) -> &Door {
        &self.door
    }
    /// The credentials to try, as they were loaded for the check.
    pub fn candidates(&self) -> &[Credential] {
        &self.candidates
    }
}

/// Proof that the caller may change one door: everything (staff) or its mode only, to one
/// mode (residents).
pub struct DoorChanger<'a> {
    principal: &'a Principal,
    door: Door,
    settings: bool,
    mode: Option<DoorMode>,
}

impl DoorChanger<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The door as it was loaded for the check.
    pub fn door(&self) -> &Door {
        &self.door
    }
    /// Whether the change is staff's (anything) rather than a resident's (the mode).
    pub fn is_staff(&self) -> bool {
        self.settings
    }
    /// Whether the check allows this change: staff anything; a resident only the mode it
    /// was minted for, and no setting.
    ///
    /// # Errors
    /// `Forbidden` as [`Principal::door_changer`] for a change it was not minted for.
    pub fn covers(&self, settings: bool, mode: Option<DoorMode>) -> Result<()> {
        if self.settings || (!settings && mode == self.mode) {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "residents may only switch their own unit's door between normal, privacy and vacation",
            ))
        }
    }
}
