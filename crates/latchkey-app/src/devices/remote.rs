//! Remote lock and unlock: authorised by the caller's phone key (through `decide`, so door
//! modes and schedules apply); for staff on the building's shared doors by their role; on a
//! unit's own door only inside an entry notice's window or as an emergency with a reason, both
//! told to the household in the command's transaction (see `entry.rs`). Answered when the lock
//! reports the new position (`confirmed`) or a failure such as a jam (`failed`, with the lock's
//! reason), or at the deadline with "not yet known" (`unconfirmed`). Which report answers which
//! command is decided in `ingest/lock.rs` (`answer_commands`).

use std::time::Duration;

use latchkey_core::decide::{AccessRequest, Decision, DenyReason, decide};
use latchkey_core::model::{CredentialKind, CredentialStatus, Method};
use latchkey_core::{CredentialId, DoorId};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo, LockCommand};
use latchkey_store::people;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;

use super::Waiter;
use crate::access::{door_context, holder_membership, is_unit_door, rule_for};
use crate::authz::Principal;
use crate::directory::{load_property, time_zone};
use crate::entry::{EntryNotice, NoticeBasis, tell_household};
use crate::{App, AppError, Result};

/// What to do to a door.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteAction {
    Lock,
    Unlock,
}

impl RemoteAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteAction::Lock => "lock",
            RemoteAction::Unlock => "unlock",
        }
    }
}

/// A command to send, already authorised.
pub(crate) struct ToLock<'a> {
    pub door: DoorId,
    pub property: latchkey_core::PropertyId,
    pub lock: &'a str,
    pub by: latchkey_core::PersonId,
    /// The audit event's kind, e.g. `lock.command`.
    pub kind: &'static str,
    pub data: serde_json::Value,
}

/// A command and how far it got.
pub type RemoteOutcome = LockCommand;

impl App {
    /// Sends a remote lock or unlock and waits up to `wait` for the lock to report the new
    /// position. The command is recorded (with who asked, and why for an emergency) before it
    /// is sent; a report that arrives after the wait still completes it.
    ///
    /// # Errors
    /// `Forbidden` with the reason when the caller may not; `Invalid` for a door without a
    /// lock; `Unavailable` when no bridge is connected; `RateLimited` past the configured number a minute.
    pub async fn remote_command(
        &self,
        who: &Principal,
        door_id: DoorId,
        action: RemoteAction,
        emergency: Option<&str>,
        wait: Duration,
    ) -> Result<RemoteOutcome> {
        let door = self.get_door(who, door_id).await?;
        let Some(lock) = door.lock_name.clone() else {
            return Err(AppError::invalid("door", "this door has no paired lock"));
        };
        self.limiter().hit(
            &format!("remote:{}", who.id()),
            self.config().remote_per_minute,
            Duration::from_secs(60),
        )?;
        let now = self.now();
        let staff = who.staff(door.property_id).is_ok();
        let (credential, notice) = match emergency {
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
                (None, None)
            }
            None => {
                let basis = self.remote_basis(who, &door, action, now).await?;
                match basis {
                    Basis::Credential(c) => (Some(c), None),
                    Basis::Staff => (None, None),
                    Basis::Notice(n) => (None, Some(n)),
                    Basis::Denied(reason) => return Err(AppError::forbidden(reason)),
                }
            }
        };
        if matches!(action, RemoteAction::Unlock) {
            // From a browser session, an unlock needs a fresh proof (ARCHITECTURE.md, "Fresh
            // proof to unlock"); asked only once the caller may open the door at all, so a
            // refusal says the real reason. API tokens and the terminal are exempt.
            self.require_unlock_proof(who).await?;
        }
        let (kind, tell_kind, text) = match (emergency, &notice) {
            (Some(_), _) => (
                "lock.emergency_command",
                Some("lock.emergency_command"),
                "Building staff sent an emergency command to your door, for the reason given.",
            ),
            (None, Some(_)) => (
                "entry_notice.opened",
                Some("entry_notice.opened"),
                "Building staff opened your door under the entry notice you were given.",
            ),
            (None, None) => ("lock.command", None, ""),
        };
        let tell = match (tell_kind, door.unit_id) {
            (Some(tell_kind), Some(unit)) => {
                let body = json!({
                    "action": action, "door_id": door.id, "door": door.name, "by": who.id(),
                    "reason": emergency,
                    "entry_notice_id": notice.as_ref().map(|n| n.id),
                    "purpose": notice.as_ref().map(|n| n.purpose.clone()),
                    "text": text,
                });
                let mut conn = self.store().read().await?;
                tell_household(&mut conn, door.property_id, unit, tell_kind, &body, now).await?
            }
            _ => Vec::new(),
        };
        let data = json!({
            "action": action, "credential_id": credential, "reason": emergency,
            "entry_notice_id": notice.as_ref().map(|n| n.id),
            "residents_told": !tell.is_empty(),
            "told": tell.iter().map(|n| n.person_id).collect::<Vec<_>>(),
        });
        self.send_to_lock_telling(
            ToLock {
                door: door.id,
                property: door.property_id,
                lock: &lock,
                by: who.id(),
                kind,
                data,
            },
            tell,
            action,
            wait,
        )
        .await
    }

    /// Records a command, sends it and waits up to `wait` for the lock to report the position.
    /// The caller has decided the command is allowed.
    pub(crate) async fn send_to_lock(
        &self,
        to: ToLock<'_>,
        action: RemoteAction,
        wait: Duration,
    ) -> Result<RemoteOutcome> {
        self.send_to_lock_telling(to, Vec::new(), action, wait)
            .await
    }

    /// [`App::send_to_lock`], queueing `tell` in the transaction that records the command.
    async fn send_to_lock_telling(
        &self,
        to: ToLock<'_>,
        tell: Vec<latchkey_store::lockout::Notification>,
        action: RemoteAction,
        wait: Duration,
    ) -> Result<RemoteOutcome> {
        let now = self.now();
        let deadline = now
            .checked_add(
                jiff::SignedDuration::try_from(wait).unwrap_or(jiff::SignedDuration::from_secs(15)),
            )
            .unwrap_or(now);
        let (placeholder, _) = oneshot::channel();
        let mut cmd = self
            .record_command(super::batch::NewCommand {
                door: to.door,
                property: to.property,
                action: action.as_str(),
                by: to.by,
                at: now,
                deadline,
                kind: to.kind,
                data: to.data,
                tell,
                reply: placeholder,
            })
            .await?;
        let door_id = to.door;
        let lock = to.lock;
        let (tx_done, rx_done) = oneshot::channel();
        self.bridge()
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(door_id)
            .or_default()
            .push(Waiter {
                command: cmd.id,
                tx: tx_done,
            });
        let command = match action {
            RemoteAction::Lock => latchkey_z2m::Command::Lock,
            RemoteAction::Unlock => latchkey_z2m::Command::Unlock,
        };
        let sent = match self.bridge().link() {
            Some(link) => link.send(lock, &command),
            None => Err("no lock bridge is running".to_owned()),
        };
        if let Err(why) = sent {
            self.drop_waiter(door_id, cmd.id);
            self.finish_command(&cmd, "failed", Some(&why)).await?;
            return Err(AppError::Unavailable(format!(
                "the command could not be sent: {why}"
            )));
        }
        match tokio::time::timeout(wait, rx_done).await {
            // Ingestion recorded the answer (confirmed, or failed with the lock's reason) in the
            // same transaction as the report.
            Ok(Ok(answer)) => {
                cmd.status = answer.status.into();
                cmd.completed_at = Some(answer.at);
                cmd.detail = answer.detail;
                Ok(cmd)
            }
            _ => {
                self.drop_waiter(door_id, cmd.id);
                self.finish_command(
                    &cmd,
                    "unconfirmed",
                    Some("the lock has not reported yet; it may still act"),
                )
                .await?;
                let mut conn = self.store().read().await?;
                repo::get_command(&mut conn, cmd.id)
                    .await?
                    .ok_or_else(|| AppError::Internal(format!("command {} vanished", cmd.id)))
            }
        }
    }

    fn drop_waiter(&self, door: DoorId, command: i64) {
        let mut map = self
            .bridge()
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(list) = map.get_mut(&door) {
            list.retain(|w| w.command != command);
        }
    }

    async fn finish_command(
        &self,
        cmd: &LockCommand,
        status: &str,
        detail: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        let current = repo::get_command(tx.conn(), cmd.id).await?;
        // The lock's answer may have been committed since the wait ended: it stands.
        if current
            .as_ref()
            .is_some_and(|c| matches!(c.status.as_str(), "confirmed" | "failed"))
        {
            return Ok(());
        }
        let at = (status != "unconfirmed").then_some(now);
        repo::set_command_status(tx.conn(), cmd.id, status, at, detail).await?;
        // The property, like every other lock event's, so that the household reads it.
        let property = latchkey_store::property::get_door(tx.conn(), cmd.door_id)
            .await?
            .map(|d| d.property_id);
        let ev = NewEvent::new(
            format!("lock.command_{status}"),
            format!("door:{}", cmd.door_id),
        )
        .actor(cmd.requested_by)
        .data(json!({ "command": cmd.id, "action": cmd.action, "detail": detail }));
        let ev = match property {
            Some(p) => ev.property(p),
            None => ev,
        };
        self.commit_at(tx, vec![ev], now).await
    }

    /// A command, for whoever may see its door.
    ///
    /// # Errors
    /// `NotFound` when it does not exist or its door is not visible to the caller.
    pub async fn get_lock_command(&self, who: &Principal, id: i64) -> Result<LockCommand> {
        let mut conn = self.store().read().await?;
        let cmd = repo::get_command(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("command"))?;
        drop(conn);
        self.get_door(who, cmd.door_id)
            .await
            .map_err(|_| AppError::not_found("command"))?;
        Ok(cmd)
    }

    /// Why the caller may (or may not) send this command without an emergency.
    async fn remote_basis(
        &self,
        who: &Principal,
        door: &latchkey_store::records::Door,
        action: RemoteAction,
        now: jiff::Timestamp,
    ) -> Result<Basis> {
        let staff = who.staff(door.property_id).is_ok();
        if staff && !is_unit_door(door) {
            // Staff run the building's shared doors; only the door's mode can refuse them.
            return Ok(match (action, door.mode) {
                (
                    RemoteAction::Unlock,
                    latchkey_core::model::DoorMode::Privacy | latchkey_core::model::DoorMode::NoRemote,
                ) => Basis::Denied(
                    "this door does not take remote commands in its current mode; use an emergency command with a reason".into(),
                ),
                _ => Basis::Staff,
            });
        }
        let mut conn = self.store().read().await?;
        let prop = load_property(&mut conn, door.property_id).await?;
        let tz = time_zone(&prop.timezone)?;
        let memberships = people::memberships_of(&mut conn, who.id()).await?;
        drop(conn);
        let mine = self
            .list_credentials(who, door.property_id, Some(who.id()))
            .await?;
        let ctx = door_context(door);
        let mut first_denial: Option<DenyReason> = None;
        for c in mine.iter().filter(|c| c.kind == CredentialKind::PhoneKey) {
            if action == RemoteAction::Lock
                && c.status != CredentialStatus::Revoked
                && c.doors.contains(&door.id)
            {
                return Ok(Basis::Credential(c.id));
            }
            let rule = rule_for(c, holder_membership(&memberships, c, now), &tz);
            match decide(&AccessRequest {
                credential: Some(&rule),
                method: Method::Remote,
                door: &ctx,
                at: now,
                tz: &tz,
                emergency_override: false,
            }) {
                Decision::Granted { .. } => return Ok(Basis::Credential(c.id)),
                Decision::Denied { reason } => {
                    first_denial.get_or_insert(reason);
                }
            }
        }
        if staff && action == RemoteAction::Lock {
            return Ok(Basis::Staff);
        }
        if staff {
            return Ok(match self.notice_basis(door, now).await? {
                NoticeBasis::Refused(why) => Basis::Denied(why),
                // Someone inside asked for privacy, or the door takes no remote commands: only
                // an emergency opens it.
                NoticeBasis::Open(_)
                    if matches!(
                        door.mode,
                        latchkey_core::model::DoorMode::Privacy
                            | latchkey_core::model::DoorMode::NoRemote
                            | latchkey_core::model::DoorMode::Vacation
                    ) =>
                {
                    Basis::Denied(
                        "this door is in a mode that refuses staff (privacy, vacation or no remote); an entry notice does not override it, only an emergency with a reason does".into(),
                    )
                }
                NoticeBasis::Open(n) => Basis::Notice(n),
            });
        }
        Ok(Basis::Denied(match first_denial {
            Some(r) => r.message().to_owned(),
            None => "you hold no phone key for this door".to_owned(),
        }))
    }
}

enum Basis {
    Credential(CredentialId),
    Staff,
    /// Staff inside an entry notice's window.
    Notice(EntryNotice),
    Denied(String),
}
