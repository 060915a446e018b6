//! The console's policy page: the property's policy in words, grouped (lockout fees, proofs
//! accepted, delays, entry notice, locks, privacy), and for its installers a form that changes
//! it through `update_property` with a changer minted for settings (`property_changer`).
//!
//! Staff of the property read it (`Staff`); a manager sees it read-only, since policy is an
//! installer's setting. Every field of the form is checked and named when wrong, and then the
//! whole policy is checked again by `Policy::validate`: a bad value changes nothing.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::directory::PropertyPatch;
use latchkey_core::PropertyId;
use latchkey_core::model::{Payer, Policy, ProofKind};
use serde::Deserialize;

use crate::WebState;
use crate::console_cases::money;
use crate::error::PageError;
use crate::guard::{Signed, staff_property};
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

/// The proofs a policy may accept on their own (presence is an extra factor).
const PROOFS: [(ProofKind, &str); 5] = [
    (ProofKind::Passkey, "The resident's passkey"),
    (
        ProofKind::Totp,
        "A code from the resident's authenticator app",
    ),
    (
        ProofKind::RecoveryCode,
        "A code from the printed recovery card",
    ),
    (ProofKind::Guardians, "Confirmation by guardians"),
    (ProofKind::IdCheck, "An identity document checked in person"),
];

/// What a form field holds.
pub enum Kind {
    Number,
    Money,
    Check,
    Payer,
    Proofs,
}

/// One field of the policy: its words on the page and its value as the form shows it.
pub struct Field {
    /// The form's name, which is the policy's own field name (or its amount in cents).
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub kind: Kind,
    /// A number or amount as typed, or `1` for a ticked box.
    pub value: String,
    /// The value in words, for the read-only view.
    pub words: String,
}

pub struct Group {
    pub id: &'static str,
    pub title: &'static str,
    pub fields: Vec<Field>,
}

pub struct ProofChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

fn yes_no(b: bool) -> String {
    if b { "Yes" } else { "No" }.to_owned()
}

fn field(
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    kind: Kind,
    value: String,
    words: String,
) -> Field {
    Field {
        name,
        label,
        hint,
        kind,
        value,
        words,
    }
}

fn count(name: &'static str, label: &'static str, hint: &'static str, n: u32, unit: &str) -> Field {
    let words = if unit.is_empty() {
        n.to_string()
    } else {
        format!("{n} {unit}")
    };
    field(name, label, hint, Kind::Number, n.to_string(), words)
}

fn check(name: &'static str, label: &'static str, hint: &'static str, b: bool) -> Field {
    field(
        name,
        label,
        hint,
        Kind::Check,
        if b { "1" } else { "" }.into(),
        yes_no(b),
    )
}

/// The policy's fields, grouped as the page shows them.
pub fn groups(p: &Policy) -> Vec<Group> {
    let proofs: Vec<&str> = PROOFS
        .iter()
        .filter(|(k, _)| p.recovery_proofs.contains(k))
        .map(|(_, l)| *l)
        .collect();
    vec![
        Group {
            id: "fees",
            title: "Lockout fees",
            fields: vec![
                field(
                    "lockout_fee_office_cents",
                    "Fee when staff open the door in office hours",
                    "an amount like 25.00",
                    Kind::Money,
                    money(p.lockout_fee_office_cents.into()),
                    money(p.lockout_fee_office_cents.into()),
                ),
                field(
                    "lockout_fee_after_hours_cents",
                    "Fee outside office hours",
                    "the on-call person's opening, e.g. 75.00",
                    Kind::Money,
                    money(p.lockout_fee_after_hours_cents.into()),
                    money(p.lockout_fee_after_hours_cents.into()),
                ),
                count(
                    "free_lockouts_per_year",
                    "Free lockouts per unit in 12 months",
                    "0 to 52",
                    p.free_lockouts_per_year.into(),
                    "",
                ),
                field(
                    "locksmith_paid_by",
                    "Who pays a locksmith when the equipment was not at fault",
                    "as the lease says",
                    Kind::Payer,
                    p.locksmith_paid_by.as_str().to_owned(),
                    payer_words(p.locksmith_paid_by).to_owned(),
                ),
            ],
        },
        Group {
            id: "proofs",
            title: "Proofs accepted",
            fields: vec![
                field(
                    "recovery_proofs",
                    "Any one of these proves a locked-out person's identity",
                    "at least one",
                    Kind::Proofs,
                    String::new(),
                    proofs.join("; "),
                ),
                count(
                    "guardians_required",
                    "Guardians who must confirm",
                    "1 to 10",
                    p.guardians_required.into(),
                    "",
                ),
                check(
                    "require_presence",
                    "Also require a code typed on the unit's keypad",
                    "proves the person is at the door",
                    p.require_presence,
                ),
            ],
        },
        Group {
            id: "delays",
            title: "Delays",
            fields: vec![
                count(
                    "credential_change_delay_minutes",
                    "Wait before a new credential from a lockout case works",
                    "minutes, 0 to 10080; the household may cancel meanwhile",
                    p.credential_change_delay_minutes,
                    "minutes",
                ),
                count(
                    "one_time_pin_minutes",
                    "A spare key's one-time PIN stays valid for",
                    "minutes, 1 to 240",
                    p.one_time_pin_minutes.into(),
                    "minutes",
                ),
            ],
        },
        Group {
            id: "notice",
            title: "Entry notice",
            fields: vec![count(
                "entry_notice_hours",
                "Notice the household gets before staff enter",
                "hours, 1 to 720",
                p.entry_notice_hours,
                "hours",
            )],
        },
        Group {
            id: "locks",
            title: "Locks",
            fields: vec![
                count(
                    "wrong_code_limit",
                    "Wrong codes in a row before the keypad stops",
                    "1 to 20",
                    p.wrong_code_limit.into(),
                    "",
                ),
                count(
                    "keypad_disable_seconds",
                    "The keypad then stays off for",
                    "seconds, 1 to 86400",
                    p.keypad_disable_seconds,
                    "seconds",
                ),
                count(
                    "auto_relock_seconds",
                    "An unlocked door locks itself again after",
                    "seconds, 0 to 3600; 0 never",
                    p.auto_relock_seconds,
                    "seconds",
                ),
                count(
                    "door_ajar_minutes",
                    "Alert when a door stays open or unlocked for",
                    "minutes, 1 to 1440",
                    p.door_ajar_minutes,
                    "minutes",
                ),
                check(
                    "clear_unmanaged_codes",
                    "Clear codes set at a keypad by hand",
                    "codes latchkey did not program",
                    p.clear_unmanaged_codes,
                ),
            ],
        },
        Group {
            id: "privacy",
            title: "Privacy",
            fields: vec![count(
                "personal_event_retention_days",
                "Who opened a door is kept for",
                "days, 1 to 3650; then it is redacted",
                p.personal_event_retention_days,
                "days",
            )],
        },
    ]
}

fn payer_words(p: Payer) -> &'static str {
    match p {
        Payer::Tenant => "The tenant",
        Payer::Landlord => "The landlord",
    }
}

fn label_of(name: &str) -> &'static str {
    groups(&Policy::default())
        .into_iter()
        .flat_map(|g| g.fields)
        .find(|f| f.name == name)
        .map_or("policy", |f| f.label)
}

#[derive(Template, WebTemplate)]
#[template(path = "policy.html")]
struct PolicyPage {
    layout: Layout,
    css: String,
    csrf: String,
    property: i64,
    name: String,
    groups: Vec<Group>,
    proofs: Vec<ProofChoice>,
    payers: Vec<(&'static str, &'static str, bool)>,
    /// An installer's: the form is shown.
    editable: bool,
    saved: bool,
}

#[derive(Deserialize)]
pub(crate) struct PolicyQuery {
    property: Option<i64>,
    #[serde(default)]
    saved: Option<String>,
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<PolicyQuery>,
) -> Result<Response, PageError> {
    let p = staff_property(&who, q.property, "The policy page")?;
    who.principal.staff(p)?;
    let property = state.app.get_property(&who.principal, p).await?;
    let policy = &property.policy;
    Ok(PolicyPage {
        layout: Layout::signed("Policy", Some(Tab::Policy), &who),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        property: p.0,
        name: property.name.clone(),
        groups: groups(policy),
        proofs: PROOFS
            .iter()
            .map(|(k, l)| ProofChoice {
                value: k.as_str(),
                label: l,
                checked: policy.recovery_proofs.contains(k),
            })
            .collect(),
        payers: Payer::ALL
            .iter()
            .map(|x| (x.as_str(), payer_words(*x), *x == policy.locksmith_paid_by))
            .collect(),
        editable: who.principal.property_changer(p, true).is_ok(),
        saved: q.saved.is_some(),
    }
    .into_response())
}

/// A whole number typed into field `name`.
fn whole<T: std::str::FromStr>(
    form: &HashMap<&str, &str>,
    name: &'static str,
) -> Result<T, AppError> {
    let typed = form.get(name).map_or("", |v| v.trim());
    if typed.is_empty() {
        return Err(AppError::invalid(label_of(name), "is missing"));
    }
    if !typed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::invalid(label_of(name), "must be a whole number"));
    }
    typed
        .parse()
        .map_err(|_| AppError::invalid(label_of(name), "is too large"))
}

/// An amount typed as `25`, `25.5` or `25,50` into field `name`, in cents, at most 10000.00.
fn cents(form: &HashMap<&str, &str>, name: &'static str) -> Result<u32, AppError> {
    let bad = || {
        AppError::invalid(
            label_of(name),
            "give an amount like 25.00, at most 10000.00",
        )
    };
    let t = form.get(name).map_or("", |v| v.trim()).replace(',', ".");
    let (units, frac) = t.split_once('.').unwrap_or((&t, ""));
    if units.is_empty()
        || units.len() > 5
        || frac.len() > 2
        || !units.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let units: u32 = units.parse().map_err(|_| bad())?;
    let frac: u32 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let total = units * 100 + frac;
    if total > 1_000_000 {
        return Err(bad());
    }
    Ok(total)
}

fn ticked(form: &HashMap<&str, &str>, name: &'static str) -> Result<bool, AppError> {
    match form.get(name).copied() {
        None => Ok(false),
        Some("1") => Ok(true),
        Some(_) => Err(AppError::invalid(label_of(name), "is either ticked or not")),
    }
}

/// The policy a submitted form asks for, each field checked and named when wrong.
pub fn parse(pairs: &[(String, String)]) -> Result<Policy, AppError> {
    let mut form: HashMap<&str, &str> = HashMap::new();
    let mut proofs = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "csrf" | "property" => {}
            "recovery_proofs" => {
                let kind = PROOFS
                    .iter()
                    .find(|(p, _)| p.as_str() == v)
                    .ok_or_else(|| {
                        AppError::invalid(label_of(k), "must be chosen from the list")
                    })?;
                if !proofs.contains(&kind.0) {
                    proofs.push(kind.0);
                }
            }
            other if label_of(other) != "policy" => {
                if form.insert(other, v.as_str()).is_some() {
                    return Err(AppError::invalid(label_of(other), "is given twice"));
                }
            }
            other => {
                return Err(AppError::invalid(
                    "form",
                    format!("has an unknown field {other}"),
                ));
            }
        }
    }
    let payer = form.get("locksmith_paid_by").copied().unwrap_or("");
    let policy = Policy {
        wrong_code_limit: whole(&form, "wrong_code_limit")?,
        keypad_disable_seconds: whole(&form, "keypad_disable_seconds")?,
        auto_relock_seconds: whole(&form, "auto_relock_seconds")?,
        door_ajar_minutes: whole(&form, "door_ajar_minutes")?,
        clear_unmanaged_codes: ticked(&form, "clear_unmanaged_codes")?,
        recovery_proofs: proofs,
        guardians_required: whole(&form, "guardians_required")?,
        lockout_fee_office_cents: cents(&form, "lockout_fee_office_cents")?,
        lockout_fee_after_hours_cents: cents(&form, "lockout_fee_after_hours_cents")?,
        free_lockouts_per_year: whole(&form, "free_lockouts_per_year")?,
        locksmith_paid_by: payer.parse().map_err(|_| {
            AppError::invalid(
                label_of("locksmith_paid_by"),
                "must be chosen from the list",
            )
        })?,
        one_time_pin_minutes: whole(&form, "one_time_pin_minutes")?,
        require_presence: ticked(&form, "require_presence")?,
        credential_change_delay_minutes: whole(&form, "credential_change_delay_minutes")?,
        entry_notice_hours: whole(&form, "entry_notice_hours")?,
        personal_event_retention_days: whole(&form, "personal_event_retention_days")?,
    };
    // The ranges, named by the field at fault (the use case checks them again).
    policy.validate().map_err(|m| match m.split_once(' ') {
        Some((name, rest)) if label_of(name) != "policy" => AppError::invalid(label_of(name), rest),
        _ => AppError::invalid("policy", m),
    })?;
    Ok(policy)
}

/// Changes the policy: an installer's, with a form of this session.
pub(crate) async fn submit(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let token = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    who.check(&state, &headers, token)?;
    let p = pairs
        .iter()
        .find(|(k, _)| k == "property")
        .and_then(|(_, v)| v.trim().parse().ok())
        .map(PropertyId)
        .ok_or_else(|| AppError::invalid("property", "is missing"))?;
    let changer = who.principal.property_changer(p, true)?;
    let policy = parse(&pairs)?;
    state
        .app
        .update_property(
            changer,
            PropertyPatch {
                policy: Some(policy),
                ..PropertyPatch::default()
            },
        )
        .await?;
    Ok(Redirect::to(&format!("/policy?property={}&saved=1", p.0)).into_response())
}
