//! `latchkey drill`, `latchkey lockout …`, `latchkey spare-key …`, `latchkey on-call …` and
//! `latchkey locksmith …`.

use anyhow::{Context, Result, anyhow};
use latchkey_app::App;
use latchkey_app::readiness::Readiness;
use latchkey_app::recovery::LocksmithInput;
use latchkey_core::schedule::Schedule;
use latchkey_core::{LockoutCaseId, LocksmithId, PersonId, PropertyId, SpareKeyId, UnitId};

use crate::cli_recovery::{
    DrillArgs, LockoutCommand, LocksmithCommand, OnCallCommand, SpareKeyCommand,
};
use crate::wiring::{acting_as, app_err};

fn schedule(json: Option<&str>, flag: &str) -> Result<Schedule> {
    match json {
        None => Ok(Schedule::Always),
        Some(text) => serde_json::from_str(text).with_context(|| {
            format!("--{flag} is not a schedule (see `latchkey credential add --help`)")
        }),
    }
}

fn print_readiness(r: &Readiness) {
    println!(
        "property {}: {} residents, {} with hours that have fewer than two free ways back in \
         after a lockout (week starting {})",
        r.property_id, r.residents, r.residents_with_gaps, r.week_from
    );
    for f in &r.failures {
        println!(
            "  {}: {} residents short, {} resident-hours",
            f.failure.phrase(),
            f.residents_with_gaps,
            f.resident_hours_short
        );
    }
    match r.fallback.locksmith_from_cents {
        Some(cents) => println!(
            "  paid fallback, not counted: a verified locksmith {} hours of the week, from {}.{:02}",
            r.fallback.locksmith_hours,
            cents / 100,
            cents % 100
        ),
        None => println!("  paid fallback, not counted: no verified locksmith"),
    }
    for res in r.report.iter().filter(|res| res.has_gaps()) {
        println!(
            "\n{} (unit {}, person {}):",
            res.name, res.unit, res.person_id
        );
        for g in res.failures.iter().flat_map(|f| &f.gaps) {
            println!("  - {}", g.fix);
        }
    }
}

/// # Errors
/// The caller may not see the property, or storage failure.
pub async fn drill(app: &App, args: &DrillArgs) -> Result<()> {
    let who = acting_as(app, args.acting.as_email.as_deref()).await?;
    let properties: Vec<PropertyId> = match args.property {
        Some(p) => vec![PropertyId(p)],
        None => app
            .list_properties(&who)
            .await
            .map_err(app_err)?
            .into_iter()
            .map(|p| p.id)
            .collect(),
    };
    if properties.is_empty() {
        return Err(anyhow!("no property to drill: create one first"));
    }
    for p in properties {
        let r = app.readiness(&who, p).await.map_err(app_err)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            print_readiness(&r);
        }
    }
    Ok(())
}

/// # Errors
/// Not allowed, bad input, or storage failure.
pub async fn spare_key(app: &App, command: &SpareKeyCommand) -> Result<()> {
    match command {
        SpareKeyCommand::Grant {
            property,
            unit,
            holder,
            reachable,
            acting,
        } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let key = app
                .grant_spare_key(
                    who.unit_admin(PropertyId(*property), UnitId(*unit))
                        .map_err(app_err)?,
                    PersonId(*holder),
                    schedule(reachable.as_deref(), "reachable")?,
                )
                .await
                .map_err(app_err)?;
            println!(
                "spare key {} to unit {} granted to person {} (dormant until a lockout case is proven)",
                key.id, key.unit_id, key.holder_id
            );
        }
        SpareKeyCommand::List { property, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let keys = app
                .list_spare_keys(&who, PropertyId(*property))
                .await
                .map_err(app_err)?;
            println!(
                "{:>6} {:>6} {:>8} {:>10}  STATUS",
                "ID", "UNIT", "HOLDER", "GRANTED BY"
            );
            for k in keys {
                println!(
                    "{:>6} {:>6} {:>8} {:>10}  {}",
                    k.id, k.unit_id, k.holder_id, k.granted_by, k.status
                );
            }
        }
        SpareKeyCommand::Revoke { id, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            app.revoke_spare_key(
                app.may_revoke_spare_key(&who, SpareKeyId(*id))
                    .await
                    .map_err(app_err)?,
            )
            .await
            .map_err(app_err)?;
            println!("spare key {id} revoked");
        }
    }
    Ok(())
}

/// # Errors
/// Not allowed, bad input, or storage failure.
pub async fn on_call(app: &App, command: &OnCallCommand) -> Result<()> {
    match command {
        OnCallCommand::Set {
            property,
            person,
            schedule: text,
            acting,
        } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            app.set_on_call(
                who.staff(PropertyId(*property)).map_err(app_err)?,
                PersonId(*person),
                schedule(Some(text), "schedule")?,
            )
            .await
            .map_err(app_err)?;
            println!("person {person} is on call at property {property}");
        }
        OnCallCommand::List { property, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            for o in app
                .list_on_call(&who, PropertyId(*property))
                .await
                .map_err(app_err)?
            {
                println!(
                    "person {}: {}",
                    o.person_id,
                    serde_json::to_string(&o.schedule)?
                );
            }
        }
    }
    Ok(())
}

/// # Errors
/// Not allowed, bad input, or storage failure.
pub async fn locksmith(app: &App, command: &LocksmithCommand) -> Result<()> {
    match command {
        LocksmithCommand::Add {
            property,
            company,
            licence,
            phone,
            callout_cents,
            hours,
            acting,
        } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let l = app
                .add_locksmith(
                    who.staff(PropertyId(*property)).map_err(app_err)?,
                    LocksmithInput {
                        company: company.clone(),
                        licence: licence.clone(),
                        phone: phone.clone(),
                        hours: schedule(hours.as_deref(), "hours")?,
                        callout_cents: *callout_cents,
                    },
                )
                .await
                .map_err(app_err)?;
            println!(
                "locksmith {} ({}) registered, unverified: check the licence and identity, then \
                 `latchkey locksmith verify {}`",
                l.id, l.company, l.id
            );
        }
        LocksmithCommand::List { property, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            println!(
                "{:>5} {:<28} {:<14} {:<16} {:>9}  STATUS",
                "ID", "COMPANY", "LICENCE", "PHONE", "CALL-OUT"
            );
            for l in app
                .list_locksmiths(&who, PropertyId(*property))
                .await
                .map_err(app_err)?
            {
                println!(
                    "{:>5} {:<28} {:<14} {:<16} {:>9.2}  {}",
                    l.id,
                    l.company,
                    l.licence,
                    l.phone,
                    l.callout_cents as f64 / 100.0,
                    l.status
                );
            }
        }
        LocksmithCommand::Verify { id, status, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let l = app
                .set_locksmith_status(
                    app.may_set_locksmith_status(&who, LocksmithId(*id), status)
                        .await
                        .map_err(app_err)?,
                    status,
                )
                .await
                .map_err(app_err)?;
            println!("locksmith {} ({}) is now {}", l.id, l.company, l.status);
        }
    }
    Ok(())
}

/// # Errors
/// Not allowed, unknown case, or storage failure.
pub async fn lockout(app: &App, command: &LockoutCommand) -> Result<()> {
    match command {
        LockoutCommand::Start {
            property,
            unit,
            person,
            acting,
        } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            let (case, token) = app
                .start_lockout_for(
                    who.case_starter(PropertyId(*property), PersonId(*person))
                        .map_err(app_err)?,
                    UnitId(*unit),
                )
                .await
                .map_err(app_err)?;
            println!(
                "lockout case {} opened; the household has been told",
                case.id
            );
            println!("case token for the resident (to follow it without signing in): {token}");
            show_case(app, &who, case.id).await?;
        }
        LockoutCommand::List { property, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            println!(
                "{:>5} {:<10} {:<9} {:<8} {:<24} OPENED",
                "ID", "STATE", "VIA", "UNIT", "CLAIMED"
            );
            for c in app
                .lockout_cases(&who, PropertyId(*property))
                .await
                .map_err(app_err)?
            {
                println!(
                    "{:>5} {:<10} {:<9} {:<8} {:<24} {}",
                    c.id,
                    c.state,
                    c.opened_via,
                    c.claimed_unit,
                    format!(
                        "{}{}",
                        c.claimed_identity,
                        if c.person_id.is_some() {
                            ""
                        } else {
                            " (no match)"
                        }
                    ),
                    c.created_at
                );
            }
        }
        LockoutCommand::Show { id, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            show_case(app, &who, LockoutCaseId(*id)).await?;
        }
        LockoutCommand::Cancel { id, acting } => {
            let who = acting_as(app, acting.as_email.as_deref()).await?;
            app.cancel_lockout(
                app.may_cancel_lockout(&who, LockoutCaseId(*id))
                    .await
                    .map_err(app_err)?,
            )
            .await
            .map_err(app_err)?;
            println!("lockout case {id} cancelled; the household has been told");
        }
        other => super::resolution::lockout_step(app, other).await?,
    }
    Ok(())
}

pub(super) async fn show_case(
    app: &App,
    who: &latchkey_app::authz::Principal,
    id: LockoutCaseId,
) -> Result<()> {
    let view = app.lockout_case(who, id).await.map_err(app_err)?;
    println!("case {id}: {} (opened {})", view.state, view.created_at);
    for s in &view.timeline {
        println!("  {}  {}", s.at, s.kind);
    }
    println!("ways back in, best first:");
    for w in &view.ways {
        let state = match (w.available, &w.why_not) {
            (Some(true), _) => "now".to_owned(),
            (Some(false), Some(why)) => format!("not now: {why}"),
            _ => "not assessed".to_owned(),
        };
        println!(
            "  - {} [{}; ~{} min, {:.2}, damage {}]",
            w.title,
            state,
            w.minutes,
            w.cost_cents as f64 / 100.0,
            w.damage
        );
        if let Some(warning) = &w.warning {
            println!("    warning: {warning}");
        }
    }
    Ok(())
}
