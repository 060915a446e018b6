//! Remote lock and unlock: authorised by the caller's phone key (through `decide`, so door
//! modes and schedules apply); for staff on the building's shared doors by their role; on a
//! unit's own door only inside an entry notice's window or as an emergency with a reason, both
//! told to the household in the command's transaction (see `entry.rs`). The rule is
//! `Principal::door_command` in `authz/doors.rs`; this module reads what it decides on.
//! Answered when the lock reports the new position (`confirmed`) or a failure such as a jam
//! (`failed`, with the lock's reason), or at the deadline with "not yet known"
//! (`unconfirmed`). Which report answers which command is decided in `ingest/lock.rs`
//! (`answer_commands`).

use std::time::Duration;

use latchkey_core::DoorId;
use latchkey_core::decide::{AccessRequest, Decision, decide};
use latchkey_core::model::{CredentialKind, Method};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo, LockCommand};
use latchkey_store::people;
use latchkey_store::records::{Credential, Door};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;

use super::Waiter;
use crate::access::{door_context, holder_membership, is_unit_door, rule_for};
use crate::authz::{CommandBasis, DoorCommand, Principal};
use crate::directory::{load_property, time_zone};
use crate::entry::{NoticeBasis, tell_household};
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
    /// Who asked; `None` when latchkey sends it on its own.
    pub by: Option<latchkey_core::PersonId>,
    /// The audit event's kind, e.g. `lock.command`.
    pub kind: &'static str,
    pub data: serde_json::Value,
}

/// A command and how far it got.
pub type RemoteOutcome = LockCommand;

/// What the app read for a remote command, for [`Principal::door_command`] to decide on.
pub(crate) struct CommandFacts {
    /// The caller's credentials at the door's property, each with `decide()`'s answer for a
    /// remote opening of this door now (empty when they were not needed).
    pub keys: Vec<(Credential, Decision)>,
    /// For staff at a unit's door: whether an entry notice lets them open it now.
    pub notice: Option<NoticeBasis>,
    /// Whether the caller gave the fresh proof an unlock from a browser needs (always true
    /// for API tokens and the terminal, and for a lock).
    pub proof_fresh: bool,
}

impl App {
    /// Loads door `door_id` (which the caller must see) and what decides whether the caller
    /// may send `action` to it now, and on what basis ([`Principal::door_command`]);
    /// `emergency` is the reason given for an emergency command. Counts the try against the
    /// caller's limit first.
    ///
    /// # Errors
    /// `NotFound` for a door the caller may not see; `Invalid` for a door without a lock or an
    /// emergency without a reason; `RateLimited` past the configured number a minute;
    /// `Forbidden` with the reason when the caller may not.
    pub async fn may_remote_command<'a>(
        &self,
        who: &'a Principal,
        door_id: DoorId,
        action: RemoteAction,
        emergency: Option<&str>,
    ) -> Result<DoorCommand<'a>> {
        let door = self.get_door(who, door_id).await?;
        if door.lock_name.is_none() {
            return Err(AppError::invalid("door", "this door has no paired lock"));
        }
        self.limiter().hit(
            &format!("remote:{}", who.id()),
            self.config().remote_per_minute,
            Duration::from_secs(60),
        )?;
        let now = self.now();
        let staff = who.staff(door.property_id).is_ok();
        let mut facts = CommandFacts {
            keys: Vec::new(),
            notice: None,
            proof_fresh: true,
        };
        // Emergencies, and staff on a shared door, are decided without the caller's keys.
        let shared_by_staff = staff && !is_unit_door(&door);
        if emergency.is_none() && !shared_by_staff {
            facts.keys = self.remote_keys(who, &door, now).await?;
            if staff && action == RemoteAction::Unlock {
                facts.notice = Some(self.notice_basis(&door, now).await?);
            }
        }
        if action == RemoteAction::Unlock {
            facts.proof_fresh = self.proof_is_fresh(who).await?;
        }
        who.door_command(door, action, emergency, facts)
    }

    /// Sends the remote lock or unlock the capability carries and waits up to `wait` for the
    /// lock to report the new position. The command is recorded (with who asked, and why for
    /// an emergency) before it is sent; a report that arrives after the wait still completes
    /// it.
    ///
    /// # Errors
    /// `Invalid` for a door without a lock; `Unavailable` when no bridge is connected.
    pub async fn remote_command(
        &self,
        command: DoorCommand<'_>,
        wait: Duration,
    ) -> Result<RemoteOutcome> {
        let who = command.principal();
        let door = command.door();
        let action = command.action();
        let Some(lock) = door.lock_name.clone() else {
            return Err(AppError::invalid("door", "this door has no paired lock"));
        };
        let now = self.now();
        let (credential, notice, emergency) = match command.basis() {
            CommandBasis::Credential(c) => (Some(*c), None, None),
            CommandBasis::Staff => (None, None, None),
            CommandBasis::Notice(n) => (None, Some(n), None),
            CommandBasis::Emergency(reason) => (None, None, Some(reason.as_str())),
        };
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
                by: Some(who.id()),
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
        // The round trip is timed on this process's monotonic clock, from before the command
        // is recorded to the lock's committed answer (docs/OPERATIONS.md, "Monitoring").
        let started = std::time::Instant::now();
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
            RemoteAction::Lock => latchkey_core::lock::LockCommand::Lock,
            RemoteAction::Unlock => latchkey_core::lock::LockCommand::Unlock,
        };
        let sent = self.port().send(lock, &command);
        if let Err(why) = sent {
            self.counters()
                .command_answered(action, "unsent", started.elapsed());
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
                self.counters()
                    .command_answered(action, answer.status, started.elapsed());
                cmd.status = answer.status.into();
                cmd.completed_at = Some(answer.at);
                cmd.detail = answer.detail;
                Ok(cmd)
            }
            _ => {
                self.counters()
                    .command_answered(action, "unconfirmed", started.elapsed());
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

    /// The caller's credentials at `door`'s property, each with `decide()`'s answer for a
    /// remote opening of `door` at `now`.
    async fn remote_keys(
        &self,
        who: &Principal,
        door: &Door,
        now: jiff::Timestamp,
    ) -> Result<Vec<(Credential, Decision)>> {
        let mut conn = self.store().read().await?;
        let prop = load_property(&mut conn, door.property_id).await?;
        let tz = time_zone(&prop.timezone)?;
        let memberships = people::memberships_of(&mut conn, who.id()).await?;
        drop(conn);
        let mine = self
            .list_credentials(who, door.property_id, Some(who.id()))
            .await?;
        let ctx = door_context(door);
        Ok(mine
            .into_iter()
            .filter(|c| c.kind == CredentialKind::PhoneKey)
            .map(|c| {
                let rule = rule_for(&c, holder_membership(&memberships, &c, now), &tz);
                let decision = decide(&AccessRequest {
                    credential: Some(&rule),
                    method: Method::Remote,
                    door: &ctx,
                    at: now,
                    tz: &tz,
                    emergency_override: false,
                });
                (c, decision)
            })
            .collect())
    }
}
