//! The write of a good building file, inside the import's transaction: the same records and
//! events as the one-by-one use cases (`create_unit`, `create_door`, `create_person`,
//! `create_invitation`), and the import's own event.

use latchkey_core::model::{DoorKind, DoorMode};
use latchkey_store::WriteTx;
use latchkey_store::audit::NewEvent;
use latchkey_store::lockout::Notification;
use latchkey_store::passkeys as invitations;
use latchkey_store::people::{self, NewMembership, NewPerson};
use latchkey_store::property::{self as repo, NewDoor};
use serde_json::json;

use super::{ImportedInvitation, UnitLine};
use crate::authz::Importer;
use crate::invitations::NewInvitation;
use crate::people::membership_event;
use crate::{App, AppError, Result, secrets};

/// PIN slots of an imported door, as a door created one by one gets by default.
const PIN_SLOTS: i64 = 30;

/// Writes every unit with its entry door and people; returns the events to append and the
/// invitation links made.
pub(super) async fn write(
    app: &App,
    tx: &mut WriteTx,
    importer: &Importer<'_>,
    units: &[UnitLine],
    invite: bool,
) -> Result<(Vec<NewEvent>, Vec<ImportedInvitation>)> {
    let who = importer.principal();
    let property = importer.property();
    let now = app.now();
    let expires = now
        .checked_add(app.config().invitation_ttl)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut events = Vec::new();
    let mut links = Vec::new();
    let mut people_added = 0usize;
    let conflict = |e, what| AppError::conflict_or(e, what);
    for u in units {
        let unit = repo::create_unit(tx.conn(), property, &u.label, u.floor, None)
            .await
            .map_err(|e| conflict(e, "a unit with this label already exists here"))?;
        events.push(
            NewEvent::new("unit.created", format!("unit:{}", unit.id))
                .property(property)
                .actor(Some(who.id()))
                .data(json!({ "label": unit.label, "floor": unit.floor })),
        );
        let door = repo::create_door(
            tx.conn(),
            &NewDoor {
                property_id: property,
                unit_id: Some(unit.id),
                name: u.door.clone(),
                kind: DoorKind::UnitEntry,
                mode: DoorMode::Normal,
                pin_slots: PIN_SLOTS,
            },
        )
        .await
        .map_err(|e| conflict(e, "a door with this name already exists here"))?;
        events.push(
            NewEvent::new("door.created", format!("door:{}", door.id))
                .property(property)
                .actor(Some(who.id()))
                .data(json!({ "name": door.name, "kind": door.kind, "unit_id": door.unit_id, "mode": door.mode })),
        );
        for r in &u.residents {
            let owner = match &r.email {
                Some(e) => people::find_by_email(tx.conn(), e)
                    .await?
                    .map(|(p, _)| p.id),
                None => None,
            };
            let mut person = people::create_person(
                tx.conn(),
                &NewPerson {
                    name: r.name.clone(),
                    email: if owner.is_some() {
                        None
                    } else {
                        r.email.clone()
                    },
                    phone: None,
                    password_hash: None,
                    is_admin: false,
                },
                now,
            )
            .await
            .map_err(|e| conflict(e, "a person with this e-mail address already exists"))?;
            if let (Some(owner), Some(address)) = (owner, &r.email) {
                // As `create_person`: the address stays unconfirmed and its owner is told.
                people::set_unconfirmed_email(tx.conn(), person.id, address).await?;
                latchkey_store::lockout::queue(
                    tx.conn(),
                    &[typed_address(property, owner, address, now)],
                )
                .await?;
                person.email = Some(address.clone());
            }
            let membership = people::create_membership(
                tx.conn(),
                &NewMembership {
                    person_id: person.id,
                    property_id: property,
                    unit_id: Some(unit.id),
                    role: r.role,
                    valid_from: None,
                    valid_until: None,
                },
                now,
            )
            .await?;
            people_added += 1;
            events.push(
                NewEvent::new("person.created", format!("person:{}", person.id))
                    .property(property)
                    .actor(Some(who.id()))
                    .data(json!({ "name": person.name })),
            );
            events.push(membership_event("membership.created", &membership, who));
            if let (true, Some(email)) = (invite, &person.email) {
                let (token, digest) = secrets::new_token("lki")?;
                let inv = invitations::create_invitation(
                    tx.conn(),
                    &digest,
                    person.id,
                    who.id(),
                    now,
                    expires,
                )
                .await?;
                events.push(
                    NewEvent::new("person.invitation_created", format!("person:{}", person.id))
                        .actor(Some(who.id()))
                        .data(
                            json!({ "invitation": inv.id, "expires_at": expires, "replaced": 0 }),
                        ),
                );
                links.push(ImportedInvitation {
                    name: person.name.clone(),
                    email: email.clone(),
                    unit: unit.label.clone(),
                    invitation: NewInvitation {
                        id: inv.id,
                        person: person.id,
                        token,
                        expires_at: expires,
                    },
                });
            }
        }
    }
    events.push(
        NewEvent::new("property.imported", format!("property:{property}"))
            .property(property)
            .actor(Some(who.id()))
            .data(json!({
                "units": units.len(), "doors": units.len(), "people": people_added,
                "invitations": links.len(),
            })),
    );
    Ok((events, links))
}

/// The note to the owner of an address typed for a new person (as `create_person` queues it).
fn typed_address(
    property: latchkey_core::PropertyId,
    owner: latchkey_core::PersonId,
    address: &str,
    now: jiff::Timestamp,
) -> Notification {
    Notification {
        property_id: Some(property),
        person_id: owner,
        kind: "email_typed_for_new_person".into(),
        case_id: None,
        body: json!({
            "to": address,
            "message": "Someone added a new person with your e-mail address. Your account \
                        is unchanged and that person cannot sign in with it; if it was \
                        meant to be you, ask the building's staff to add your account.",
        }),
        created_at: now,
        sent_at: None,
    }
}
