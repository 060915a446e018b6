//! `latchkey home-assistant account`: the service account Home Assistant's commands act as
//! (docs/OPERATIONS.md, "Home Assistant"). It is an ordinary person of latchkey — a guest of
//! one unit, with no e-mail address and no password, so it never signs in to a page — holding
//! a phone key for the doors Home Assistant may lock and unlock, and one API token that
//! `serve` reads (`home_assistant.token_file`). Its rights are changed like anyone's: revoke
//! or reissue the phone key, end the membership, revoke the token.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use latchkey_app::App;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_core::model::{CredentialKind, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{DoorId, PropertyId, UnitId};

use crate::wiring::{acting_as, app_err};

/// What `home-assistant account` needs.
pub struct AccountArgs<'a> {
    pub property: i64,
    pub unit: i64,
    /// The doors Home Assistant may lock and unlock; empty: the unit's doors.
    pub doors: &'a [i64],
    pub name: &'a str,
    /// Where to write the token (created, mode 0600); `None`: printed once.
    pub token_file: Option<&'a Path>,
}

/// # Errors
/// Not an admin, no such property or unit, a door of another unit, an existing token file, or
/// storage failure.
pub async fn account(app: &App, acting: Option<&str>, a: AccountArgs<'_>) -> Result<()> {
    if let Some(path) = a.token_file
        && path.exists()
    {
        bail!(
            "{} exists; choose a new file (the token in it may be in use)",
            path.display()
        );
    }
    let who = acting_as(app, acting).await?;
    let property = PropertyId(a.property);
    let input = PersonInput {
        name: a.name.to_owned(),
        email: None,
        phone: None,
        password: None,
        membership: MembershipInput {
            role: Role::Guest,
            unit_id: Some(UnitId(a.unit)),
            valid_from: None,
            valid_until: None,
        },
    };
    let (person, _) = app
        .create_person(
            app.may_create_person(&who, property, &input)
                .map_err(app_err)?,
            input,
        )
        .await
        .map_err(app_err)?;
    let key = CredentialInput {
        person_id: person.id,
        kind: CredentialKind::PhoneKey,
        label: Some("Home Assistant".to_owned()),
        unit_id: Some(UnitId(a.unit)),
        doors: (!a.doors.is_empty()).then(|| a.doors.iter().copied().map(DoorId).collect()),
        schedule: Schedule::Always,
        max_uses: None,
        duress: false,
        pin: None,
        card_uid: None,
    };
    let made = app
        .create_credential(
            who.credential_issuer(property, key.unit_id)
                .map_err(app_err)?,
            key,
        )
        .await
        .map_err(app_err)?;
    let account = app.terminal_principal(person.id).await.map_err(app_err)?;
    let (token, _) = app
        .create_api_token(account.own_account(), "Home Assistant")
        .await
        .map_err(app_err)?;
    let doors: Vec<String> = made
        .credential
        .doors
        .iter()
        .map(ToString::to_string)
        .collect();
    println!(
        "Home Assistant's service account is person {} \"{}\", a guest of unit {} with phone \
         key {} for doors {}.",
        person.id,
        person.name,
        a.unit,
        made.credential.id,
        doors.join(", ")
    );
    match a.token_file {
        Some(path) => {
            write_private(path, &token)?;
            println!(
                "Its API token is in {}; set home_assistant.token_file to it and \
                 home_assistant.enabled = true.",
                path.display()
            );
        }
        None => println!(
            "Its API token, shown only now (put it in a file and set home_assistant.token_file \
             to it):\n{token}"
        ),
    }
    Ok(())
}

/// Creates `path` readable by this user only and writes `text` to it.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{text}").with_context(|| format!("cannot write {}", path.display()))
}
