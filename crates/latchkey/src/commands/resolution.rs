//! `latchkey lockout id-check|locksmith|locksmith-done|forced-entry`, `latchkey ledger`
//! and `latchkey incident …`. Opening a door remotely needs the running server's connection to
//! the locks, so staff openings are in the API, not here; spare-key releases are the holder's
//! own (signed in, through the API), never an installer's.

use anyhow::Result;
use latchkey_app::App;
use latchkey_app::lockout::{BookLocksmith, CompleteJob, ledger_csv};
use latchkey_core::{DoorId, LockoutCaseId, LocksmithId, PropertyId, UnitId};

use crate::cli_recovery::{IncidentCommand, LedgerArgs, LockoutCommand};
use crate::wiring::{acting_as, app_err};

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

/// The lockout subcommands that end a case.
///
/// # Errors
/// Not allowed, bad input, or storage failure.
pub async fn lockout_step(app: &App, command: &LockoutCommand) -> Result<()> {
    match command {
        LockoutCommand::IdCheck {
            id,
            document,
            acting,
        } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let view = app
                .record_id_check(
                    app.may_record_id_check(&who, LockoutCaseId(*id), document)
                        .await
                        .map_err(app_err)?,
                    document,
                )
                .await
                .map_err(app_err)?;
            println!("ID check recorded; the case is {}", view.state);
        }
        LockoutCommand::Locksmith {
            id,
            locksmith,
            door,
            window_minutes,
            acting,
        } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let input = BookLocksmith {
                locksmith_id: LocksmithId(*locksmith),
                door_id: door.map(DoorId),
                window_minutes: Some(*window_minutes),
            };
            let party = app
                .may_book_locksmith(&who, LockoutCaseId(*id), &input)
                .await
                .map_err(app_err)?;
            let b = app.book_locksmith(party, input).await.map_err(app_err)?;
            println!(
                "job {} booked with {} until {} (quoted {})",
                b.job.id,
                b.company,
                b.job.window_until,
                money(b.job.quoted_cents)
            );
            println!(
                "check word (the locksmith says it at the door): {}",
                b.job.check_word
            );
            if b.job.lock_failed {
                println!("the lock has failed: no code, the locksmith works on the lock");
            } else {
                println!(
                    "job token for the locksmith (fetches the one-time code): {}",
                    b.job_token
                );
            }
        }
        LockoutCommand::LocksmithDone {
            job,
            cost_cents,
            work,
            acting,
        } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let input = CompleteJob {
                cost_cents: *cost_cents,
                work: work.clone(),
            };
            let completer = app
                .may_complete_locksmith_job(&who, *job, &input)
                .await
                .map_err(app_err)?;
            let d = app
                .complete_locksmith_job(completer, input)
                .await
                .map_err(app_err)?;
            println!(
                "job {job} done: {} charged to the {} ({})",
                money(d.charge.amount_cents),
                d.charge.payer,
                d.charge.reason
            );
            if let Some(i) = d.service {
                println!("door {} marked for service (incident {})", i.door_id, i.id);
            }
        }
        LockoutCommand::ForcedEntry {
            id,
            door,
            how,
            acting,
        } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let c = app
                .may_record_forced_entry(&who, LockoutCaseId(*id), how)
                .await
                .map_err(app_err)?;
            let c = app
                .record_forced_entry(c, DoorId(*door), how)
                .await
                .map_err(app_err)?;
            println!(
                "door {door} marked compromised (incident {}); {} PINs replaced, their owners told; \
                 the managers are asked to repair it",
                c.incident.id,
                c.rotated.len()
            );
        }
        // `recovery::lockout` handles these before it hands over.
        LockoutCommand::Start { .. }
        | LockoutCommand::List { .. }
        | LockoutCommand::Show { .. }
        | LockoutCommand::Cancel { .. } => {
            anyhow::bail!("internal error: {command:?} is not a step that ends a case")
        }
    }
    Ok(())
}

/// # Errors
/// Not allowed, or storage failure.
pub async fn ledger(app: &App, args: &LedgerArgs) -> Result<()> {
    let who = acting_as(app, args.acting.as_email.as_deref()).await?;
    let charges = app
        .ledger(&who, PropertyId(args.property), args.unit.map(UnitId))
        .await
        .map_err(app_err)?;
    if args.csv {
        print!("{}", ledger_csv(&charges));
        return Ok(());
    }
    println!(
        "{:>5} {:<20} {:>6} {:>6} {:<14} {:<9} {:>10}  REASON",
        "ID", "DATE", "UNIT", "CASE", "KIND", "PAYER", "AMOUNT"
    );
    for c in &charges {
        println!(
            "{:>5} {:<20} {:>6} {:>6} {:<14} {:<9} {:>10}  {}{}",
            c.id,
            c.created_at.strftime("%Y-%m-%d %H:%M"),
            c.unit_id.map(|u| u.0.to_string()).unwrap_or_default(),
            c.case_id.map(|k| k.0.to_string()).unwrap_or_default(),
            c.kind,
            c.payer,
            money(c.amount_cents),
            if c.waived { "WAIVED: " } else { "" },
            c.reason
        );
    }
    Ok(())
}

/// # Errors
/// Not allowed, bad input, or storage failure.
pub async fn incident(app: &App, command: &IncidentCommand) -> Result<()> {
    match command {
        IncidentCommand::List { property, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            println!(
                "{:>5} {:>6} {:<12} {:<8} OPENED",
                "ID", "DOOR", "KIND", "STATE"
            );
            for i in app
                .incidents(&who, PropertyId(*property))
                .await
                .map_err(app_err)?
            {
                println!(
                    "{:>5} {:>6} {:<12} {:<8} {}",
                    i.id,
                    i.door_id,
                    i.kind,
                    if i.closed_at.is_some() {
                        "closed"
                    } else {
                        "open"
                    },
                    i.opened_at
                );
            }
        }
        IncidentCommand::Close { id, note, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            app.close_incident(
                app.may_close_incident(&who, *id, note)
                    .await
                    .map_err(app_err)?,
                note,
            )
            .await
            .map_err(app_err)?;
            println!("incident {id} closed");
        }
    }
    Ok(())
}
