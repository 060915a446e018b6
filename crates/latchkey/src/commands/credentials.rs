//! `latchkey credential list` and `latchkey credential revoke`.

use anyhow::Result;
use latchkey_app::App;
use latchkey_core::model::CredentialStatus;
use latchkey_core::{CredentialId, PersonId, PropertyId, UnitId};

use crate::wiring::{acting_as, app_err};

/// What `credential list` filters on.
pub struct ListFilter {
    pub property: i64,
    pub person: Option<i64>,
    pub unit: Option<i64>,
}

/// Prints the property's credentials, one a line (the label, free text, last). Codes are never part of a credential record,
/// so no PIN can be printed here; a card's UID is shown, as it is printed on the card.
///
/// # Errors
/// A property the admin cannot see, or storage failure.
pub async fn list(app: &App, acting: Option<&str>, f: ListFilter) -> Result<()> {
    let who = acting_as(app, acting).await?;
    // An admin may list any property's credentials; one that does not exist is an error, not
    // an empty list.
    app.get_property(&who, PropertyId(f.property))
        .await
        .map_err(app_err)?;
    let creds = app
        .list_credentials(&who, PropertyId(f.property), f.person.map(PersonId))
        .await
        .map_err(app_err)?;
    let creds: Vec<_> = creds
        .into_iter()
        .filter(|c| f.unit.is_none_or(|u| c.unit_id == Some(UnitId(u))))
        .collect();
    if creds.is_empty() {
        println!("no credentials match");
        return Ok(());
    }
    println!(
        "{:>6} {:<12} {:<8} {:>6} {:>6} {:<12} LABEL",
        "ID", "KIND", "STATUS", "PERSON", "UNIT", "DOORS"
    );
    for c in creds {
        let doors: Vec<String> = c.doors.iter().map(ToString::to_string).collect();
        let label = match (&c.card_uid, c.label.is_empty()) {
            (Some(uid), true) => format!("card {uid}"),
            (Some(uid), false) => format!("{} (card {uid})", c.label),
            (None, true) => "-".to_owned(),
            (None, false) => c.label.clone(),
        };
        println!(
            "{:>6} {:<12} {:<8} {:>6} {:>6} {:<12} {}",
            c.id.to_string(),
            c.kind.to_string(),
            c.status.to_string(),
            c.person_id.to_string(),
            c.unit_id.map_or_else(|| "-".to_owned(), |u| u.to_string()),
            doors.join(","),
            label,
        );
    }
    Ok(())
}

/// Revokes a credential, audited as the admin's terminal action. The running server hears of
/// it through the change feed and clears the code from every lock.
///
/// # Errors
/// No such credential, one already revoked, or storage failure.
pub async fn revoke(app: &App, acting: Option<&str>, id: i64) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let change = app
        .may_set_credential_status(&who, CredentialId(id), CredentialStatus::Revoked)
        .await
        .map_err(app_err)?;
    let c = app.set_credential_status(change).await.map_err(app_err)?;
    let doors: Vec<String> = c.doors.iter().map(ToString::to_string).collect();
    println!(
        "revoked credential {} ({}) of person {}; it is cleared from the locks of doors {}",
        c.id,
        c.kind,
        c.person_id,
        if doors.is_empty() {
            "-".to_owned()
        } else {
            doors.join(", ")
        }
    );
    println!(
        "follow it with `latchkey credential status --credential {}`",
        c.id
    );
    Ok(())
}
