//! Credentials latchkey makes by itself, inside a caller's transaction: one-time PINs released
//! in a lockout case (spare key, locksmith) and the new PINs of a door rotated after a forced
//! entry. Each is an ordinary credential, so the reconciler puts it on the lock and takes it off
//! again like any other.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use latchkey_core::model::CredentialKind;
use latchkey_core::pin::{Pin, PinContext, generate};
use latchkey_core::schedule::Schedule;
use latchkey_core::{DoorId, PersonId, PropertyId, UnitId};
use latchkey_store::Conn;
use latchkey_store::credentials::{self as repo, NewCredential};
use latchkey_store::records::Credential;

use crate::{App, AppError, Result, secrets};

/// Draws a random PIN of `digits` digits that the PIN rules accept.
pub(crate) fn random_pin(ctx: &PinContext<'_>, digits: u32) -> Result<Pin> {
    let mut failed = None;
    let pin = generate::generate(digits as usize, ctx, || {
        match secrets::random_bytes::<8>() {
            Ok(b) => u64::from_le_bytes(b),
            Err(e) => {
                failed = Some(e);
                0
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    pin.ok_or_else(|| AppError::Internal("could not draw an acceptable PIN".into()))
}

/// The digits a long-lived generated code needs on `doors`: enough for the door among them
/// that holds the most codes, under the property's wrong-code limit
/// (`latchkey_core::pin::generate`).
pub(crate) async fn generated_digits(
    conn: &mut Conn,
    property: PropertyId,
    doors: &[DoorId],
) -> Result<u32> {
    let limit = latchkey_store::property::get_property(conn, property)
        .await?
        .map_or(
            latchkey_core::model::Policy::default().wrong_code_limit,
            |p| p.policy.wrong_code_limit,
        );
    let most = repo::door_holders(conn, doors)
        .await?
        .iter()
        .map(|d| d.pins())
        .max()
        .unwrap_or(0);
    let codes = u64::try_from(most).unwrap_or(0) + 1;
    Ok(u32::try_from(generate::generated_len(codes, limit)).unwrap_or(8))
}

/// What to mint.
pub(crate) struct NewPin {
    pub property: PropertyId,
    pub person: PersonId,
    /// The unit the code belongs to (its label is one of the PINs refused as too obvious).
    pub unit: Option<UnitId>,
    pub label: String,
    pub doors: Vec<DoorId>,
    pub schedule: Schedule,
    pub max_uses: Option<i64>,
    pub digits: u32,
    /// A presence challenge: reported by the lock, never opening.
    pub non_access: bool,
}

/// A one-time window from `from` to `until`, as the property's clock reads them.
pub(crate) fn one_time(tz: &TimeZone, from: Timestamp, until: Timestamp) -> Schedule {
    Schedule::OneTime {
        from: tz.to_datetime(from),
        until: tz.to_datetime(until),
    }
}

impl App {
    /// Creates a PIN credential in `conn`'s transaction, drawing again when the PIN is already
    /// on one of the doors. A code meant to last (not one-time, not a presence challenge) gets
    /// at least the digits its doors' population needs. The caller tells the reconciler after
    /// the commit.
    pub(crate) async fn mint_pin(&self, conn: &mut Conn, p: NewPin) -> Result<(Credential, Pin)> {
        let digits = if p.non_access || p.schedule.is_one_time() {
            p.digits
        } else {
            p.digits
                .max(generated_digits(conn, p.property, &p.doors).await?)
        };
        let unit = match p.unit {
            Some(u) => latchkey_store::property::get_unit(conn, u).await?,
            None => None,
        };
        let ctx = PinContext {
            unit_label: unit.as_ref().map(|u| u.label.as_str()),
        };
        for _ in 0..20 {
            let pin = random_pin(&ctx, digits)?;
            let digest = self.keys().pin_digest(p.property, &pin);
            if repo::pin_taken(conn, &p.doors, &digest).await? {
                continue;
            }
            let credential = repo::create_credential(
                conn,
                &NewCredential {
                    property_id: p.property,
                    person_id: p.person,
                    unit_id: p.unit,
                    kind: CredentialKind::Pin,
                    label: p.label.clone(),
                    schedule: p.schedule.clone(),
                    max_uses: p.max_uses,
                    duress: false,
                    non_access: p.non_access,
                    pin_chosen: false,
                    secret: Some(self.keys().seal_pin(p.property, &pin)?),
                    pin_digest: Some(digest),
                    card_uid: None,
                    doors: p.doors.clone(),
                },
                self.now(),
            )
            .await?;
            return Ok((credential, pin));
        }
        Err(AppError::Conflict(
            "could not find a free PIN for these doors; try again".into(),
        ))
    }
}
