//! `latchkey restore status|adopt|remove|end`: after a restored backup, the codes found on
//! locks that latchkey does not know, and the end of the restored state (docs/OPERATIONS.md,
//! "After a restore").

use anyhow::{Result, bail};
use latchkey_app::App;
use latchkey_app::devices::Adoption;
use latchkey_core::{DoorId, PersonId};

use crate::cli::RestoreCommand;
use crate::wiring::{acting_as, app_err};

/// # Errors
/// Not an admin, a slot without an unknown code, a bad PIN or person, or storage failure.
pub async fn run(app: &App, command: &RestoreCommand) -> Result<()> {
    match command {
        RestoreCommand::Status { acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let review = app.restore_review(&who).await.map_err(app_err)?;
            match review.restored {
                Some(r) => println!(
                    "RESTORED since {}: the database ended at event {} while latchkey had recorded \
                     {}; no code is cleared and no slot overwritten until `latchkey restore end`",
                    r.since, r.head_seq, r.marker_seq
                ),
                None => println!("not in the restored state"),
            }
            if review.unknown_codes.is_empty() {
                println!("no unknown codes found on the locks");
                return Ok(());
            }
            println!(
                "{:<6} {:<24} {:<24} {:>5}  {:<20} WRITTEN BEFORE",
                "DOOR", "NAME", "LOCK", "SLOT", "FOUND"
            );
            for c in review.unknown_codes {
                println!(
                    "{:<6} {:<24} {:<24} {:>5}  {:<20} {}",
                    c.door_id.0,
                    c.door,
                    c.lock.as_deref().unwrap_or("-"),
                    c.slot,
                    c.found_at.strftime("%Y-%m-%d %H:%M:%S"),
                    if c.written_before { "yes" } else { "no" },
                );
            }
        }
        RestoreCommand::Adopt {
            door,
            slot,
            person,
            pin,
            pin_file,
            label,
            acting,
        } => {
            let pin = match pin {
                Some(p) => p.clone(),
                None => super::admin::read_secret_line(
                    pin_file.as_deref(),
                    None,
                    "code the holder types",
                )?,
            };
            if pin.is_empty() {
                bail!("the PIN is empty; give it with --pin, --pin-file or standard input");
            }
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let admin = app.may_review_restore(&who).map_err(app_err)?;
            let id = app
                .adopt_code(
                    admin,
                    Adoption {
                        door: DoorId(*door),
                        slot: *slot,
                        person: PersonId(*person),
                        pin,
                        label: label.clone(),
                    },
                )
                .await
                .map_err(app_err)?;
            println!(
                "slot {slot} of door {door} is now credential {id} of person {person}; the lock was not written"
            );
        }
        RestoreCommand::Remove { door, slot, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let admin = app.may_review_restore(&who).map_err(app_err)?;
            app.remove_unknown_code(admin, DoorId(*door), *slot)
                .await
                .map_err(app_err)?;
            println!(
                "the code in slot {slot} of door {door} is being cleared from the lock (see `latchkey restore status`)"
            );
        }
        RestoreCommand::End { acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let admin = app.may_review_restore(&who).map_err(app_err)?;
            app.end_restored_state(admin).await.map_err(app_err)?;
            println!(
                "the restored state has ended; latchkey writes and clears slots as usual again"
            );
        }
    }
    Ok(())
}
