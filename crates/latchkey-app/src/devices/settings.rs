//! The settings each lock should hold — auto-relock time, wrong-code limit, keypad disable time —
//! follow from its property's policy and its door's mode: passage holds the door unlocked, so its
//! lock's auto-relock is off until the door leaves passage. They are sent at pairing, on a
//! change of the policy or the door, when the lock comes back online, and by the sweep to every
//! lock whose reported settings differ from the desired ones (or were never reported). The
//! sweep sends the same values to a lock that still reports the same other ones at most once
//! per [`SEND_AGAIN_AFTER`], so a lock that ignores a setting is not flooded, while a lock whose
//! setting someone changed at the lock is corrected at once. Each send ends with a read of the lockout attributes, so the lock reports what it
//! holds and the two can be shown side by side (docs/DEVICES.md, "Lock settings").

use std::collections::HashMap;
use std::time::{Duration, Instant};

use latchkey_core::lock::{self, LockCommand, MAX_AUTO_RELOCK_SECONDS};
use latchkey_core::model::{DoorMode, Policy};
use latchkey_core::{DoorId, PersonId};
use latchkey_store::devices::{self as repo, LockSettings};
use latchkey_store::property;
use serde::Serialize;

use crate::{App, Result};

/// How long the sweep waits before sending the same settings again to a lock that has not
/// reported them.
pub(crate) const SEND_AGAIN_AFTER: Duration = Duration::from_secs(600);

/// Settings sent to a lock: the values, what the lock reported when the sweep sent them, and
/// when.
pub(crate) type Sent = (LockSettings, Option<LockSettings>, Instant);

/// How long the command that goes with entering or leaving passage waits for the lock.
const PASSAGE_WAIT: Duration = Duration::from_secs(15);

/// What a lock should hold and what it last reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SettingsView {
    pub desired: LockSettings,
    pub reported: LockSettings,
}

impl SettingsView {
    /// Whether the lock reported every desired value.
    pub fn in_step(&self) -> bool {
        self.desired == self.reported
    }
}

/// The settings a door's lock should hold under `policy` while the door is in `mode`, as they
/// go on the wire: ZCL holds the lockout values in one byte each (1–255; longer disable times
/// are capped at 255 s on the lock, while latchkey's own keypad check uses the full time).
pub fn desired_settings(policy: &Policy, mode: DoorMode) -> LockSettings {
    let relock = if mode == DoorMode::Passage {
        0
    } else {
        policy.auto_relock_seconds.min(MAX_AUTO_RELOCK_SECONDS)
    };
    LockSettings {
        auto_relock_seconds: Some(i64::from(relock)),
        wrong_code_limit: Some(i64::from(policy.wrong_code_limit.max(1))),
        keypad_disable_seconds: Some(i64::from(policy.keypad_disable_seconds.clamp(1, 255))),
    }
}

/// The command that writes `s` to a lock (and asks it to report what it holds).
fn command(s: LockSettings) -> LockCommand {
    let byte = |v: Option<i64>| v.and_then(|v| u8::try_from(v).ok()).unwrap_or(u8::MAX);
    LockCommand::Configure(lock::LockSettings {
        auto_relock_seconds: s
            .auto_relock_seconds
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
        wrong_code_limit: byte(s.wrong_code_limit),
        keypad_disable_seconds: byte(s.keypad_disable_seconds),
    })
}

/// A lock's desired settings as of now; `None` for a door without a lock.
async fn desired_for_door(app: &App, door_id: DoorId) -> Result<Option<(String, LockSettings)>> {
    let mut conn = app.store().read().await?;
    let Some(door) = property::get_door(&mut conn, door_id).await? else {
        return Ok(None);
    };
    let Some(lock) = door.lock_name else {
        return Ok(None);
    };
    let policy = crate::directory::load_property(&mut conn, door.property_id)
        .await?
        .policy;
    Ok(Some((lock, desired_settings(&policy, door.mode))))
}

impl App {
    /// Sends a door's lock its desired settings. Idempotent, so it is simply sent again
    /// whenever the door, its pairing or the policy changes; a lock that cannot be reached
    /// gets them from the sweep.
    ///
    /// # Errors
    /// `Store` when the door or its property cannot be read.
    pub(crate) async fn send_lock_settings(&self, door_id: DoorId) -> Result<()> {
        if !self.port().drives_devices() {
            return Ok(());
        }
        let Some((lock, desired)) = desired_for_door(self, door_id).await? else {
            return Ok(());
        };
        if let Err(why) = self.port().send(&lock, &command(desired)) {
            tracing::debug!(lock, %why, "lock settings not sent; the sweep sends them again");
            return Ok(());
        }
        self.bridge()
            .settings_sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(door_id, (desired, None, Instant::now()));
        Ok(())
    }

    /// Sends their settings to the paired locks whose reported settings differ from the
    /// desired ones, unless the same values went to that lock less than [`SEND_AGAIN_AFTER`]
    /// ago. Returns how many locks were sent settings.
    ///
    /// # Errors
    /// `Store` when the doors, devices or properties cannot be read.
    pub(crate) async fn correct_lock_settings(&self) -> Result<usize> {
        if !self.port().connected() {
            return Ok(0);
        }
        let mut conn = self.store().read().await?;
        let reported: HashMap<String, LockSettings> = repo::list_devices(&mut conn)
            .await?
            .into_iter()
            .map(|d| (d.friendly_name, d.reported))
            .collect();
        let mut due = Vec::new();
        for (door, lock, desired) in desired_of_paired_locks(&mut conn).await? {
            let now_reported = reported.get(&lock).copied().unwrap_or_default();
            if now_reported != desired {
                due.push((door, lock, desired, now_reported));
            }
        }
        drop(conn);
        let mut sent = 0;
        for (door, lock, desired, now_reported) in due {
            let recent = self
                .bridge()
                .settings_sent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&door)
                .is_some_and(|(s, then, at)| {
                    *s == desired && *then == Some(now_reported) && at.elapsed() < SEND_AGAIN_AFTER
                });
            if recent {
                continue;
            }
            if self.port().send(&lock, &command(desired)).is_ok() {
                sent += 1;
                self.bridge()
                    .settings_sent
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(door, (desired, Some(now_reported), Instant::now()));
            }
        }
        Ok(sent)
    }

    /// A door entered or left passage mode: its lock gets the mode's settings first (auto-relock
    /// off in passage, the policy's again after) and then the command that goes with it —
    /// unlock on entering, lock on leaving — recorded as a command of `by`, who changed the
    /// mode (`None`: latchkey, for a lock that came back, see [`App::passage_returned`]). Runs
    /// in the background, so the change of mode does not wait for the lock; the command's
    /// answer is recorded as any other's. Without a bridge nothing is sent.
    pub(crate) fn passage_changed(
        &self,
        door: &latchkey_store::records::Door,
        by: Option<PersonId>,
    ) {
        let Some(lock) = door.lock_name.clone() else {
            return;
        };
        if !self.port().drives_devices() {
            return;
        }
        let app = self.clone();
        let (door_id, property, mode) = (door.id, door.property_id, door.mode);
        tokio::spawn(async move {
            let action = if mode == DoorMode::Passage {
                super::RemoteAction::Unlock
            } else {
                super::RemoteAction::Lock
            };
            let result = async {
                app.send_lock_settings(door_id).await?;
                app.send_to_lock(
                    super::ToLock {
                        door: door_id,
                        property,
                        lock: &lock,
                        by,
                        kind: "lock.command",
                        data: serde_json::json!({ "action": action, "mode": mode, "why": "door_mode" }),
                    },
                    action,
                    PASSAGE_WAIT,
                )
                .await
            }
            .await;
            match result {
                Ok(cmd) => {
                    tracing::info!(lock, status = %cmd.status, ?action, "passage mode command")
                }
                Err(e) => {
                    tracing::warn!(lock, error = %e, ?action, "passage mode command not sent")
                }
            }
        });
    }

    /// A lock that comes back (after a restart, a battery change, a power cut) comes back
    /// locked, whatever its door's mode: a door in passage gets its settings and the unlock
    /// again, sent by latchkey itself, so passage holds across the lock's absence.
    pub(crate) async fn passage_returned(&self, door_id: DoorId) {
        let door = async {
            let mut conn = self.store().read().await?;
            Ok::<_, crate::AppError>(latchkey_store::property::get_door(&mut conn, door_id).await?)
        }
        .await;
        match door {
            Ok(Some(door)) if door.mode == DoorMode::Passage => self.passage_changed(&door, None),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(%door_id, error = %e, "could not read a returning lock's door")
            }
        }
    }

    /// The settings view of every paired lock, by lock name.
    pub(crate) async fn settings_views(
        &self,
        conn: &mut latchkey_store::Conn,
        devices: &[repo::Device],
    ) -> Result<HashMap<String, SettingsView>> {
        let reported: HashMap<&str, LockSettings> = devices
            .iter()
            .map(|d| (d.friendly_name.as_str(), d.reported))
            .collect();
        Ok(desired_of_paired_locks(conn)
            .await?
            .into_iter()
            .filter_map(|(_, lock, desired)| {
                let reported = *reported.get(lock.as_str())?;
                Some((lock, SettingsView { desired, reported }))
            })
            .collect())
    }
}

/// Every paired door, its lock and the settings that lock should hold, reading each
/// property's policy once.
async fn desired_of_paired_locks(
    conn: &mut latchkey_store::Conn,
) -> Result<Vec<(DoorId, String, LockSettings)>> {
    let mut policies: HashMap<latchkey_core::PropertyId, Policy> = HashMap::new();
    let mut out = Vec::new();
    for d in property::paired_doors(conn).await? {
        let Some(lock) = d.lock_name else { continue };
        let policy = match policies.entry(d.property_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(
                crate::directory::load_property(conn, d.property_id)
                    .await?
                    .policy,
            ),
        };
        out.push((d.id, lock, desired_settings(policy, d.mode)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passage_turns_auto_relock_off_and_every_other_mode_follows_the_policy() {
        let policy = Policy {
            auto_relock_seconds: 30,
            wrong_code_limit: 4,
            keypad_disable_seconds: 600,
            ..Policy::default()
        };
        for mode in DoorMode::ALL {
            let s = desired_settings(&policy, *mode);
            let relock = if *mode == DoorMode::Passage { 0 } else { 30 };
            assert_eq!(s.auto_relock_seconds, Some(relock), "{mode:?}");
            assert_eq!(s.wrong_code_limit, Some(4));
            assert_eq!(s.keypad_disable_seconds, Some(255), "capped at one byte");
        }
    }
}
