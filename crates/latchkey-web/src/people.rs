//! The console's people pages: who lives and works at the property, adding a person (with an
//! invitation link shown once, as the API gives it), a person's memberships and credentials with
//! each lock's status, and the move-out with its receipt, which fills in as the locks confirm
//! each removal (a `slot` event of the live stream makes the page read the receipt again).
//!
//! Staff of the property only (`Staff`, as the API's property-wide reads); every change goes
//! through the API's use cases and their capabilities: `may_create_person`, `may_invite`,
//! `may_end_membership`; the receipt through `move_out_receipt`.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::store::records::Membership;
use latchkey_core::model::{CredentialKind, CredentialStatus, Role};
use latchkey_core::{DoorId, MembershipId, PersonId, PropertyId, UnitId};
use serde::Deserialize;

use crate::WebState;
use crate::error::PageError;
use crate::guard::{Signed, staff_property};
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

#[derive(Deserialize)]
pub(crate) struct PropertyQuery {
    property: Option<i64>,
}

/// A role in the words of the page.
pub fn role_words(r: Role) -> &'static str {
    match r {
        Role::Installer => "Installer",
        Role::Manager => "Manager",
        Role::Resident => "Resident",
        Role::Household => "Household member",
        Role::TrustedContact => "Trusted contact (spare key)",
        Role::Guest => "Guest",
        Role::Locksmith => "Locksmith",
    }
}

/// A credential as the receipt names it: its kind, and its label when that says more.
fn credential_words(label: &str, kind: CredentialKind) -> String {
    let k = kind_words(kind);
    if label.trim().is_empty() || label.eq_ignore_ascii_case(k) {
        k.to_owned()
    } else {
        format!("{k}: {label}")
    }
}

fn kind_words(k: CredentialKind) -> &'static str {
    match k {
        CredentialKind::Pin => "PIN",
        CredentialKind::PhoneKey => "Phone key",
        CredentialKind::PhysicalKey => "Physical key",
        CredentialKind::RfidCard => "Card",
    }
}

pub struct PersonRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// "Resident of 1A; Guest of 2B", or "Moved out" when no membership is in force.
    pub roles: String,
    pub current: bool,
}

pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "people.html")]
struct PeoplePage {
    layout: Layout,
    css: String,
    csrf: String,
    property: i64,
    name: String,
    rows: Vec<PersonRow>,
    moved_out: usize,
    units: Vec<Choice>,
    roles: Vec<Choice>,
}

/// How a membership reads: "Resident of 1A", "Manager", with its end when it has one.
fn membership_words(
    m: &Membership,
    units: &HashMap<UnitId, String>,
    local: &dyn Fn(jiff::Timestamp) -> String,
) -> String {
    let mut s = role_words(m.role).to_owned();
    if let Some(label) = m.unit_id.and_then(|u| units.get(&u)) {
        s.push_str(" of ");
        s.push_str(label);
    }
    if let Some(until) = m.valid_until {
        s.push_str(&format!(" until {}", local(until)));
    }
    s
}

/// The zone the property's times are shown in.
async fn zone(
    state: &WebState,
    who: &Signed,
    p: PropertyId,
) -> Result<(String, jiff::tz::TimeZone), PageError> {
    let property = state.app.get_property(&who.principal, p).await?;
    let tz = jiff::tz::TimeZone::get(&property.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    Ok((property.name, tz))
}

pub(crate) async fn list(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<PropertyQuery>,
) -> Result<Response, PageError> {
    let p = staff_property(&who, q.property, "The people page")?;
    who.principal.staff(p)?;
    let (name, tz) = zone(&state, &who, p).await?;
    let local = |t: jiff::Timestamp| tz.to_datetime(t).strftime("%d %b %Y, %H:%M").to_string();
    let units = state.app.list_units(&who.principal, p).await?;
    let labels: HashMap<UnitId, String> = units.iter().map(|u| (u.id, u.label.clone())).collect();
    let now = state.app.now();
    let mut held: BTreeMap<PersonId, Vec<Membership>> = BTreeMap::new();
    for m in state.app.list_memberships(&who.principal, p).await? {
        held.entry(m.person_id).or_default().push(m);
    }
    let mut rows: Vec<PersonRow> = state
        .app
        .list_people(&who.principal, p)
        .await?
        .into_iter()
        .map(|person| {
            let ms = held.remove(&person.id).unwrap_or_default();
            let live: Vec<String> = ms
                .iter()
                .filter(|m| m.valid_until.is_none_or(|u| u > now))
                .map(|m| membership_words(m, &labels, &local))
                .collect();
            PersonRow {
                id: person.id.0,
                name: person.name,
                email: person.email.unwrap_or_default(),
                current: !live.is_empty(),
                roles: if live.is_empty() {
                    "Moved out".to_owned()
                } else {
                    live.join("; ")
                },
            }
        })
        .collect();
    rows.sort_by(|a, b| b.current.cmp(&a.current).then_with(|| a.name.cmp(&b.name)));
    let moved_out = rows.iter().filter(|r| !r.current).count();
    let mut unit_choices = vec![Choice {
        value: String::new(),
        label: "The whole property (staff)".to_owned(),
    }];
    unit_choices.extend(units.iter().map(|u| Choice {
        value: u.id.0.to_string(),
        label: format!("Unit {} (floor {})", u.label, u.floor),
    }));
    let roles = [
        Role::Resident,
        Role::Household,
        Role::Guest,
        Role::TrustedContact,
        Role::Manager,
        Role::Installer,
        Role::Locksmith,
    ]
    .into_iter()
    .map(|r| Choice {
        value: r.as_str().to_owned(),
        label: role_words(r).to_owned(),
    })
    .collect();
    Ok(PeoplePage {
        layout: Layout::signed("People", Some(Tab::People), &who),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        property: p.0,
        name,
        rows,
        moved_out,
        units: unit_choices,
        roles,
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    property: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    role: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "person_added.html")]
struct AddedPage {
    layout: Layout,
    property: i64,
    person: i64,
    name: String,
    /// The invitation link, shown this once; `None` without an e-mail address.
    link: Option<String>,
    expires: String,
}

fn number(field: &'static str, raw: &str) -> Result<Option<i64>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| AppError::invalid(field, "must be chosen from the list"))
}

/// Where people open latchkey: the configured public origin, or the host the browser used.
fn base(state: &WebState, headers: &HeaderMap) -> String {
    match &state.config.public_origin {
        Some(o) => o.to_string(),
        None => format!(
            "http://{}",
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost")
        ),
    }
}

/// Adds a person with their first membership; with an e-mail address, makes their invitation
/// link (shown once) so they set a password.
pub(crate) async fn add(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<AddForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let p = PropertyId(
        number("property", &form.property)?
            .ok_or_else(|| AppError::invalid("property", "is missing"))?,
    );
    who.principal.staff(p)?;
    let role: Role = form
        .role
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("role", "must be chosen from the list"))?;
    let email = form.email.trim();
    let input = PersonInput {
        name: form.name.clone(),
        email: (!email.is_empty()).then(|| email.to_owned()),
        phone: None,
        password: None,
        membership: MembershipInput {
            role,
            unit_id: number("unit", &form.unit)?.map(UnitId),
            valid_from: None,
            valid_until: None,
        },
    };
    let granter = state.app.may_create_person(&who.principal, p, &input)?;
    let (person, _) = state.app.create_person(granter, input).await?;
    let (_, tz) = zone(&state, &who, p).await?;
    let (link, expires) = if person.email.is_some() {
        let inv = state
            .app
            .create_invitation(state.app.may_invite(&who.principal, person.id).await?)
            .await?;
        (
            Some(latchkey_app::invitations::link(
                &base(&state, &headers),
                &inv.token,
            )),
            tz.to_datetime(inv.expires_at)
                .strftime("%a %d %b %Y, %H:%M")
                .to_string(),
        )
    } else {
        (None, String::new())
    };
    Ok(AddedPage {
        layout: Layout::signed("Person added", Some(Tab::People), &who),
        property: p.0,
        person: person.id.0,
        name: person.name,
        link,
        expires,
    }
    .into_response())
}

pub struct MembershipRow {
    pub id: i64,
    pub words: String,
    /// In force: it can be ended (a move-out).
    pub current: bool,
    /// Ended: its receipt can be read.
    pub ended: bool,
}

pub struct LockRow {
    pub door: String,
    pub status: String,
    pub bad: bool,
}

pub struct CredentialRow {
    pub label: String,
    pub status: &'static str,
    pub locks: Vec<LockRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "person.html")]
struct PersonPage {
    layout: Layout,
    css: String,
    csrf: String,
    property: i64,
    name: String,
    email: String,
    memberships: Vec<MembershipRow>,
    credentials: Vec<CredentialRow>,
}

/// A lock's status for one credential, in words.
fn lock_words(status: &str, reason: Option<&str>) -> (String, bool) {
    let (w, bad) = match status {
        "set" => ("On the lock, confirmed", false),
        "assumed" => (
            "On the lock, assumed: the lock took it but cannot show which code a slot holds",
            false,
        ),
        "pending" => ("Waiting to be written", false),
        "probing" => ("Checking the slot is free", false),
        "removing" => ("Being removed", false),
        "removed" => ("Removed", false),
        "failed" => ("Failed", true),
        "unmanaged" => ("Unmanaged", true),
        "no_lock" => ("No lock paired", false),
        _ => ("Not kept on the lock", false),
    };
    match reason {
        Some(r) if !r.is_empty() => (format!("{w}: {r}"), bad),
        _ => (w.to_owned(), bad),
    }
}

fn status_words(s: CredentialStatus) -> &'static str {
    match s {
        CredentialStatus::Active => "Active",
        CredentialStatus::Frozen => "Frozen",
        CredentialStatus::Revoked => "Revoked",
    }
}

pub(crate) async fn person(
    State(state): State<WebState>,
    who: Signed,
    Path(id): Path<i64>,
    Query(q): Query<PropertyQuery>,
) -> Result<Response, PageError> {
    let p = staff_property(&who, q.property, "A person's page")?;
    who.principal.staff(p)?;
    let id = PersonId(id);
    let person = state.app.get_person(&who.principal, id).await?;
    let ms: Vec<Membership> = state
        .app
        .list_memberships(&who.principal, p)
        .await?
        .into_iter()
        .filter(|m| m.person_id == id)
        .collect();
    if ms.is_empty() {
        return Err(AppError::not_found("person").into());
    }
    let (_, tz) = zone(&state, &who, p).await?;
    let local = |t: jiff::Timestamp| tz.to_datetime(t).strftime("%d %b %Y, %H:%M").to_string();
    let labels: HashMap<UnitId, String> = state
        .app
        .list_units(&who.principal, p)
        .await?
        .into_iter()
        .map(|u| (u.id, u.label))
        .collect();
    let now = state.app.now();
    let memberships = ms
        .iter()
        .map(|m| MembershipRow {
            id: m.id.0,
            words: membership_words(m, &labels, &local),
            current: m.valid_until.is_none_or(|u| u > now),
            ended: m.valid_until.is_some(),
        })
        .collect();
    let creds = state
        .app
        .list_credentials(&who.principal, p, Some(id))
        .await?;
    let mut doors: Vec<DoorId> = creds.iter().flat_map(|c| c.doors.iter().copied()).collect();
    doors.sort_unstable();
    doors.dedup();
    let names = state.app.names_at(&who.principal, p, &[], &doors).await?;
    let door_names: HashMap<DoorId, String> = names.doors.into_iter().collect();
    let mut credentials = Vec::new();
    for c in creds {
        let locks = state
            .app
            .credential_locks(&who.principal, c.id)
            .await?
            .into_iter()
            .map(|l| {
                let (status, bad) = lock_words(&l.status, l.reason.as_deref());
                LockRow {
                    door: door_names
                        .get(&l.door_id)
                        .cloned()
                        .unwrap_or_else(|| format!("Door {}", l.door_id.0)),
                    status,
                    bad,
                }
            })
            .collect();
        credentials.push(CredentialRow {
            label: credential_words(&c.label, c.kind),
            status: status_words(c.status),
            locks,
        });
    }
    Ok(PersonPage {
        layout: Layout::signed(person.name.clone(), Some(Tab::People), &who),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        property: p.0,
        name: person.name,
        email: person.email.unwrap_or_default(),
        memberships,
        credentials,
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct EndForm {
    #[serde(default)]
    csrf: String,
    /// The person's name typed again, so a move-out is never a slip of the mouse.
    #[serde(default)]
    confirm: String,
}

/// The move-out: ends the membership now (every credential it covers is revoked in the same
/// transaction) and shows its receipt.
pub(crate) async fn end(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<EndForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let ender = state
        .app
        .may_end_membership(&who.principal, MembershipId(id))
        .await?;
    let person = state
        .app
        .get_person(&who.principal, ender.membership().person_id)
        .await?;
    if form.confirm.trim() != person.name {
        return Err(AppError::invalid(
            "confirm",
            "type the person's name exactly as shown to confirm the move-out",
        )
        .into());
    }
    if ender
        .membership()
        .valid_until
        .is_some_and(|u| u <= state.app.now())
    {
        return Err(AppError::Conflict("this membership has already ended".into()).into());
    }
    state.app.end_membership(ender, None).await?;
    Ok(Redirect::to(&format!("/people/memberships/{id}/receipt")).into_response())
}

pub struct RemovalRow {
    pub door: String,
    pub credential: String,
    pub slot: String,
    pub state: &'static str,
    pub words: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "receipt_rows.html")]
struct ReceiptRows {
    rows: Vec<RemovalRow>,
    confirmed: usize,
    total: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    layout: Layout,
    css: String,
    after: i64,
    id: i64,
    property: i64,
    person: i64,
    heading: String,
    rows: Vec<RemovalRow>,
    confirmed: usize,
    total: usize,
}

/// The receipt's rows: every door each revoked credential was on, and whether its lock
/// confirmed the removal.
async fn receipt_rows(
    state: &WebState,
    who: &Signed,
    m: &Membership,
) -> Result<ReceiptRows, PageError> {
    let removals = state.app.move_out_receipt(&who.principal, m.id).await?;
    let creds: HashMap<_, _> = state
        .app
        .list_credentials(&who.principal, m.property_id, Some(m.person_id))
        .await?
        .into_iter()
        .map(|c| (c.id, (c.label, c.kind)))
        .collect();
    let doors: Vec<DoorId> = removals.iter().map(|r| r.door_id).collect();
    let names = state
        .app
        .names_at(&who.principal, m.property_id, &[], &doors)
        .await?;
    let door_names: HashMap<DoorId, String> = names.doors.into_iter().collect();
    let (_, tz) = zone(state, who, m.property_id).await?;
    let mut rows: Vec<RemovalRow> = removals
        .iter()
        .map(|r| {
            let (label, kind) = creds
                .get(&r.credential_id)
                .map_or(("", CredentialKind::Pin), |(l, k)| (l.as_str(), *k));
            let (state, words) = match (r.status.as_str(), r.confirmed_at) {
                (_, Some(at)) => (
                    "confirmed",
                    format!(
                        "Removed: the lock confirmed it at {}",
                        tz.to_datetime(at).strftime("%H:%M:%S")
                    ),
                ),
                ("not_on_locks", None) => (
                    "confirmed",
                    "Nothing on this lock: the key stopped working at once".to_owned(),
                ),
                ("failed", None) => (
                    "failed",
                    "Failed: the lock did not confirm the removal; latchkey keeps trying and \
                     the door page shows why"
                        .to_owned(),
                ),
                _ => (
                    "waiting",
                    "Waiting for the lock to confirm the removal".to_owned(),
                ),
            };
            RemovalRow {
                door: door_names
                    .get(&r.door_id)
                    .cloned()
                    .unwrap_or_else(|| format!("Door {}", r.door_id.0)),
                credential: credential_words(label, kind),
                slot: r.slot.map_or_else(|| "—".to_owned(), |s| s.to_string()),
                state,
                words,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        a.door
            .cmp(&b.door)
            .then_with(|| a.credential.cmp(&b.credential))
    });
    let confirmed = rows.iter().filter(|r| r.state == "confirmed").count();
    Ok(ReceiptRows {
        total: rows.len(),
        confirmed,
        rows,
    })
}

async fn ended_membership(
    state: &WebState,
    who: &Signed,
    id: i64,
) -> Result<Membership, PageError> {
    let m = state
        .app
        .get_membership(&who.principal, MembershipId(id))
        .await?;
    who.principal.staff(m.property_id)?;
    Ok(m)
}

pub(crate) async fn receipt(
    State(state): State<WebState>,
    who: Signed,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    // The position first: a lock confirming while the rows are read is then sent again.
    let after = state.app.audit_head().await?.0;
    let m = ended_membership(&state, &who, id).await?;
    let person = state.app.get_person(&who.principal, m.person_id).await?;
    let r = receipt_rows(&state, &who, &m).await?;
    Ok(ReceiptPage {
        layout: Layout::signed_at("Move-out receipt", Some(Tab::People), &who, m.property_id),
        css: crate::assets::assets().url("console.css"),
        after,
        id,
        property: m.property_id.0,
        person: m.person_id.0,
        heading: format!("Move-out receipt: {}", person.name),
        rows: r.rows,
        confirmed: r.confirmed,
        total: r.total,
    }
    .into_response())
}

/// The receipt's rows alone, which the page reads again when a lock confirms a slot.
pub(crate) async fn receipt_fragment(
    State(state): State<WebState>,
    who: Signed,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let m = ended_membership(&state, &who, id).await?;
    Ok(receipt_rows(&state, &who, &m).await?.into_response())
}
