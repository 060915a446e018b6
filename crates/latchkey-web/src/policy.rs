//! The console's policy page: the property's policy in words, grouped (lockout fees, proofs
//! accepted, delays, entry notice, locks, privacy), and for its installers a form that changes
//! it through `update_property` with a changer minted for settings (`property_changer`).
//!
//! Staff of the property read it (`Staff`); a manager sees it read-only, since policy is an
//! installer's setting. Every field of the form is checked, its range by `Policy::validate`;
//! when any is wrong nothing is saved and the form comes back as typed, every wrong field
//! marked (`aria-invalid`) and its reason beside it (`aria-describedby`), listed above the form.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
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
    /// What is wrong with the value typed, when the form came back refused.
    pub error: Option<String>,
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
        error: None,
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
    /// A refused form's reasons, each with the field it is about (`form` for none).
    errors: Vec<Problem>,
}

/// One reason a form was refused.
pub struct Problem {
    /// The form field's name, or `form`.
    pub name: &'static str,
    pub label: &'static str,
    pub message: String,
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
    let mut page = policy_page(&who, p, &property, None);
    page.saved = q.saved.is_some();
    Ok(page.into_response())
}

/// The page of `property`'s policy; with a refused form, the form shows what was typed and why
/// it was refused.
fn policy_page(
    who: &Signed,
    p: PropertyId,
    property: &latchkey_app::store::records::Property,
    refused: Option<(&Typed, Vec<Problem>)>,
) -> PolicyPage {
    let policy = &property.policy;
    let mut groups = groups(policy);
    let mut proofs: Vec<ProofChoice> = PROOFS
        .iter()
        .map(|(k, l)| ProofChoice {
            value: k.as_str(),
            label: l,
            checked: policy.recovery_proofs.contains(k),
        })
        .collect();
    let mut payer = policy.locksmith_paid_by.as_str().to_owned();
    let mut errors = Vec::new();
    if let Some((typed, problems)) = refused {
        for f in groups.iter_mut().flat_map(|g| g.fields.iter_mut()) {
            f.value = typed.fields.get(f.name).cloned().unwrap_or_default();
            if matches!(f.kind, Kind::Check) {
                f.value = if f.value.is_empty() { "" } else { "1" }.to_owned();
            }
            f.error = problems
                .iter()
                .find(|x| x.name == f.name)
                .map(|x| x.message.clone());
        }
        for c in &mut proofs {
            c.checked = typed.proofs.iter().any(|v| v == c.value);
        }
        payer = typed
            .fields
            .get("locksmith_paid_by")
            .cloned()
            .unwrap_or_default();
        errors = problems;
    }
    PolicyPage {
        layout: Layout::signed_at("Policy", Some(Tab::Policy), who, p),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        property: p.0,
        name: property.name.clone(),
        groups,
        proofs,
        payers: Payer::ALL
            .iter()
            .map(|x| (x.as_str(), payer_words(*x), x.as_str() == payer))
            .collect(),
        editable: who.principal.property_changer(p, true).is_ok(),
        saved: false,
        errors,
    }
}

/// A whole number typed into field `name`.
fn whole<T: std::str::FromStr>(form: &HashMap<&str, &str>, name: &str) -> Result<T, String> {
    let typed = form.get(name).map_or("", |v| v.trim());
    if typed.is_empty() {
        return Err("is missing".into());
    }
    if !typed.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be a whole number".into());
    }
    typed.parse().map_err(|_| "is too large".into())
}

/// An amount typed as `25`, `25.5` or `25,50` into field `name`, in cents, at most 10000.00.
fn cents(form: &HashMap<&str, &str>, name: &str) -> Result<u32, String> {
    let bad = || "give an amount like 25.00, at most 10000.00".to_owned();
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

fn ticked(form: &HashMap<&str, &str>, name: &str) -> Result<bool, String> {
    match form.get(name).copied() {
        None => Ok(false),
        Some("1") => Ok(true),
        Some(_) => Err("is either ticked or not".into()),
    }
}

/// What a submitted form holds, as typed: each field's value, and the proofs ticked.
#[derive(Default)]
pub struct Typed {
    pub fields: HashMap<String, String>,
    pub proofs: Vec<String>,
}

impl Typed {
    pub fn of(pairs: &[(String, String)]) -> Typed {
        let mut t = Typed::default();
        for (k, v) in pairs {
            if k == "recovery_proofs" {
                t.proofs.push(v.clone());
            } else {
                t.fields.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        t
    }
}

fn problem(name: &str, message: impl Into<String>) -> Problem {
    let label = label_of(name);
    Problem {
        name: if label == "policy" {
            "form"
        } else {
            field_name(name)
        },
        label: if label == "policy" { "The form" } else { label },
        message: message.into(),
    }
}

/// The form's own spelling of a policy field's name.
fn field_name(name: &str) -> &'static str {
    groups(&Policy::default())
        .into_iter()
        .flat_map(|g| g.fields)
        .find(|f| f.name == name)
        .map_or("form", |f| f.name)
}

/// The policy a submitted form asks for; or every wrong field, each named with its reason.
///
/// # Errors
/// The reasons, in the form's order, when any field is wrong.
pub fn parse(pairs: &[(String, String)]) -> Result<Policy, Vec<Problem>> {
    let mut form: HashMap<&str, &str> = HashMap::new();
    let mut proofs = Vec::new();
    let mut wrong = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "csrf" | "property" => {}
            "recovery_proofs" => match PROOFS.iter().find(|(p, _)| p.as_str() == v) {
                Some(kind) if !proofs.contains(&kind.0) => proofs.push(kind.0),
                Some(_) => {}
                None => wrong.push(problem(k, "must be chosen from the list")),
            },
            other if label_of(other) != "policy" => {
                if form.insert(other, v.as_str()).is_some() {
                    wrong.push(problem(other, "is given twice"));
                }
            }
            other => wrong.push(problem("form", format!("has an unknown field {other}"))),
        }
    }
    let mut policy = Policy::default();
    // Each field alone in an otherwise valid policy: what `validate` says is about that field.
    let range = |name: &str, one: &Policy| {
        one.validate().err().map(|m| {
            let rest = m.strip_prefix(name).map_or(m.as_str(), str::trim_start);
            problem(name, rest)
        })
    };
    macro_rules! take {
        ($field:ident, $parsed:expr) => {
            match $parsed {
                Ok(v) => {
                    policy.$field = v;
                    let one = Policy {
                        $field: policy.$field.clone(),
                        ..Policy::default()
                    };
                    wrong.extend(range(stringify!($field), &one));
                }
                Err(m) => wrong.push(problem(stringify!($field), m)),
            }
        };
    }
    take!(
        lockout_fee_office_cents,
        cents(&form, "lockout_fee_office_cents")
    );
    take!(
        lockout_fee_after_hours_cents,
        cents(&form, "lockout_fee_after_hours_cents")
    );
    take!(
        free_lockouts_per_year,
        whole(&form, "free_lockouts_per_year")
    );
    take!(
        locksmith_paid_by,
        form.get("locksmith_paid_by")
            .copied()
            .unwrap_or("")
            .parse::<Payer>()
            .map_err(|_| "must be chosen from the list".to_owned())
    );
    if !wrong.iter().any(|p| p.name == "recovery_proofs") {
        take!(recovery_proofs, Ok::<_, String>(proofs));
    }
    take!(guardians_required, whole(&form, "guardians_required"));
    take!(require_presence, ticked(&form, "require_presence"));
    take!(
        credential_change_delay_minutes,
        whole(&form, "credential_change_delay_minutes")
    );
    take!(one_time_pin_minutes, whole(&form, "one_time_pin_minutes"));
    take!(entry_notice_hours, whole(&form, "entry_notice_hours"));
    take!(wrong_code_limit, whole(&form, "wrong_code_limit"));
    take!(
        keypad_disable_seconds,
        whole(&form, "keypad_disable_seconds")
    );
    take!(auto_relock_seconds, whole(&form, "auto_relock_seconds"));
    take!(door_ajar_minutes, whole(&form, "door_ajar_minutes"));
    take!(
        clear_unmanaged_codes,
        ticked(&form, "clear_unmanaged_codes")
    );
    take!(
        personal_event_retention_days,
        whole(&form, "personal_event_retention_days")
    );
    if !wrong.is_empty() {
        return Err(wrong);
    }
    // The whole policy once more (the use case checks it again).
    policy.validate().map_err(|m| vec![problem("form", m)])?;
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
    let policy = match parse(&pairs) {
        Ok(policy) => policy,
        Err(problems) => {
            let property = state.app.get_property(&who.principal, p).await?;
            let typed = Typed::of(&pairs);
            let mut page = policy_page(&who, p, &property, Some((&typed, problems)));
            page.layout.title = "Policy not saved".to_owned();
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
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
