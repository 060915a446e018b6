//! `latchkey person add` and `latchkey credential add`.

use anyhow::Result;
use latchkey_app::App;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_core::model::{CredentialKind, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{PersonId, PropertyId, UnitId};

use crate::wiring::{acting_as, app_err};

/// What `person add` needs.
pub struct NewPersonArgs<'a> {
    pub property: i64,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub role: Role,
    pub unit: Option<i64>,
}

/// With an e-mail address, the person's invitation link is printed once.
///
/// # Errors
/// Bad input, a role that needs (or refuses) a unit, a taken e-mail, or storage failure.
pub async fn add_person(
    app: &App,
    acting: Option<&str>,
    a: NewPersonArgs<'_>,
    link_base: &str,
) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let (p, m) = {
        let input = PersonInput {
            name: a.name.to_owned(),
            email: a.email.map(str::to_owned),
            phone: None,
            password: None,
            membership: MembershipInput {
                role: a.role,
                unit_id: a.unit.map(UnitId),
                valid_from: None,
                valid_until: None,
            },
        };
        app.create_person(
            app.may_create_person(&who, PropertyId(a.property), &input)
                .map_err(app_err)?,
            input,
        )
    }
    .await
    .map_err(app_err)?;
    println!("added person {} \"{}\" as {}", p.id, p.name, m.role);
    if p.email.is_some() {
        let may = app.may_invite(&who, p.id).await.map_err(app_err)?;
        let inv = app.create_invitation(may).await.map_err(app_err)?;
        print_link(&inv, link_base);
    }
    Ok(())
}

fn print_link(inv: &latchkey_app::invitations::NewInvitation, link_base: &str) {
    println!(
        "invitation link for person {} (shown once; single use; valid until {}):\n{}",
        inv.person,
        inv.expires_at
            .round(jiff::Unit::Second)
            .unwrap_or(inv.expires_at),
        latchkey_app::invitations::link(link_base, &inv.token)
    );
}

/// `person invite`: a new link (the one before stops working).
///
/// # Errors
/// An unknown person, one who already has a password or no e-mail address, or storage failure.
pub async fn invite(app: &App, acting: Option<&str>, person: i64, link_base: &str) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let may = app
        .may_invite(&who, PersonId(person))
        .await
        .map_err(app_err)?;
    let inv = app.create_invitation(may).await.map_err(app_err)?;
    print_link(&inv, link_base);
    Ok(())
}

/// `person uninvite`.
///
/// # Errors
/// An unknown person, no unused link, or storage failure.
pub async fn uninvite(app: &App, acting: Option<&str>, person: i64) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let may = app
        .may_invite(&who, PersonId(person))
        .await
        .map_err(app_err)?;
    app.revoke_invitation(may).await.map_err(app_err)?;
    println!("the invitation link of person {person} no longer works");
    Ok(())
}

/// What `credential add` needs.
pub struct NewCredentialArgs<'a> {
    pub property: i64,
    pub person: i64,
    pub kind: CredentialKind,
    pub unit: Option<i64>,
    pub pin: Option<&'a str>,
    pub card_uid: Option<&'a str>,
}

/// Prints the PIN only when the app returns it (to its holder, never to staff acting for
/// someone else).
///
/// # Errors
/// Bad input, a PIN in use on a door, or storage failure.
pub async fn add_credential(
    app: &App,
    acting: Option<&str>,
    a: NewCredentialArgs<'_>,
) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let created = {
        let input = CredentialInput {
            person_id: PersonId(a.person),
            kind: a.kind,
            label: None,
            unit_id: a.unit.map(UnitId),
            doors: None,
            schedule: Schedule::Always,
            max_uses: None,
            duress: false,
            pin: a.pin.map(str::to_owned),
            card_uid: a.card_uid.map(str::to_owned),
        };
        app.create_credential(
            who.credential_issuer(PropertyId(a.property), input.unit_id)
                .map_err(app_err)?,
            input,
        )
    }
    .await
    .map_err(app_err)?;
    let c = &created.credential;
    let doors: Vec<String> = c.doors.iter().map(ToString::to_string).collect();
    println!(
        "created credential {} ({}) for person {} on doors {}",
        c.id,
        c.kind,
        c.person_id,
        doors.join(", ")
    );
    match created.pin {
        Some(pin) => println!("PIN: {pin} (shown once)"),
        None if c.kind == CredentialKind::Pin => {
            println!("the PIN is not shown to staff; its holder sees it once in the app")
        }
        None => {}
    }
    Ok(())
}
