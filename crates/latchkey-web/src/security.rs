//! Passkeys on the web: the Security page (add, name, rename, remove), sign-in with a passkey
//! (a button, or the browser's autofill), and the options of the proof an unlock asks for.
//!
//! The WebAuthn calls themselves are in `assets/app.js`: it asks one of the `…/options`
//! routes below for a ceremony (JSON, with the form token), hands the options to
//! `navigator.credentials`, and posts the result in an ordinary form.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use latchkey_app::AppError;
use latchkey_app::passkeys::{PasskeyView, ProofNeeded, Started};
use latchkey_app::store::auth::GrantKind;
use serde::Deserialize;
use serde_json::json;

use crate::WebState;
use crate::error::{PageError, describe};
use crate::guard::{self, PRE_COOKIE, SESSION_COOKIE, Signed, Source};
#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};
use crate::signin::with_cookie;

pub struct PasskeyRow {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "security.html")]
struct SecurityPage {
    layout: Layout,
    csrf: String,
    passkeys: Vec<PasskeyRow>,
    /// A proof was given within the window: adding a passkey needs no password.
    fresh: bool,
    welcome: bool,
    notice: Option<String>,
    error: Option<String>,
    /// The authenticator app's secret, right after it was set up.
    totp: Option<TotpShown>,
    sessions: Vec<SessionRow>,
    /// Unused codes left on the person's recovery card.
    card_left: i64,
}

/// One signed-in browser or phone of the person.
pub struct SessionRow {
    pub id: i64,
    /// Where it signed in from (its network address).
    pub from: String,
    pub since: String,
    pub until: String,
    /// The session this page is shown in.
    pub this: bool,
}

fn session_rows(
    grants: Vec<latchkey_app::store::auth::Grant>,
    now: jiff::Timestamp,
    current: Option<i64>,
) -> Vec<SessionRow> {
    let minute = |t: jiff::Timestamp| t.strftime("%Y-%m-%d %H:%M UTC").to_string();
    let mut rows: Vec<SessionRow> = grants
        .into_iter()
        .filter(|g| g.revoked_at.is_none() && g.expires_at.is_none_or(|e| e > now))
        .map(|g| SessionRow {
            id: g.id,
            from: g.name.clone(),
            since: minute(g.created_at),
            until: g.expires_at.map_or_else(|| "no end".to_owned(), minute),
            this: Some(g.id) == current,
        })
        .collect();
    rows.sort_by_key(|r| (!r.this, std::cmp::Reverse(r.id)));
    rows
}

fn day(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

fn row(p: PasskeyView) -> PasskeyRow {
    PasskeyRow {
        id: p.id,
        name: p.name,
        created: day(p.created_at),
        last_used: p.last_used_at.map_or_else(|| "never".to_owned(), day),
    }
}

async fn render(
    state: &WebState,
    who: &Signed,
    status: StatusCode,
    welcome: bool,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let page = security_page(state, who, welcome, notice, error).await?;
    Ok((status, page).into_response())
}

async fn security_page(
    state: &WebState,
    who: &Signed,
    welcome: bool,
    notice: Option<String>,
    error: Option<String>,
) -> Result<SecurityPage, PageError> {
    let passkeys = state
        .app
        .list_passkeys(&who.principal)
        .await?
        .into_iter()
        .map(row)
        .collect();
    Ok(SecurityPage {
        layout: Layout::signed("Security", Some(Tab::Security), who),
        csrf: who.csrf.clone(),
        passkeys,
        fresh: state.app.proof_is_fresh(&who.principal).await?,
        welcome,
        notice,
        error,
        totp: None,
        card_left: state.app.recovery_codes_left(&who.principal).await?,
        sessions: session_rows(
            state
                .app
                .list_grants(&who.principal, GrantKind::Session)
                .await?,
            state.app.now(),
            current_session(who),
        ),
    })
}

fn current_session(who: &Signed) -> Option<i64> {
    match who.principal.via() {
        latchkey_app::authz::Via::Session(id) => Some(id),
        _ => None,
    }
}

/// Signs out one of the person's sessions (another phone, a borrowed computer). Revoking the
/// one in use signs this browser out.
pub(crate) async fn revoke_session(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let revoker = state
        .app
        .may_revoke_grant(&who.principal, GrantKind::Session, id)
        .await?;
    state.app.revoke_grant(revoker).await?;
    if current_session(&who) == Some(id) {
        return Ok(Redirect::to("/sign-in").into_response());
    }
    render(
        &state,
        &who,
        StatusCode::OK,
        false,
        Some("That session is signed out: it can no longer open anything.".to_owned()),
        None,
    )
    .await
}

/// An authenticator app's secret, shown once after enrolment.
pub struct TotpShown {
    pub secret: String,
    pub uri: String,
    /// The link as a QR code (inline `<svg>`), or `None` if it could not be drawn: the key
    /// is still shown as text, and enrolment has already happened.
    pub qr: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct TotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// A new way back in asks for the password unless a proof was given in the last few minutes,
/// as adding a passkey does: the page that refuses, or `None` to go on.
async fn confirm_it_is_you(
    state: &WebState,
    who: &Signed,
    password: &str,
    nothing_done: &str,
) -> Result<Option<Response>, PageError> {
    if state.app.proof_is_fresh(&who.principal).await? {
        return Ok(None);
    }
    let given = if password.is_empty() {
        Err(AppError::Unauthenticated("your password is needed".into()))
    } else {
        match state.app.may_use_session(&who.principal) {
            Ok(own) => {
                state
                    .app
                    .give_unlock_proof(own, latchkey_app::passkeys::Proof::Password(password))
                    .await
            }
            Err(e) => Err(e),
        }
    };
    match given {
        Ok(()) => Ok(None),
        Err(AppError::Unauthenticated(_) | AppError::Forbidden(_)) => {
            let msg = format!("The password is wrong or missing. {nothing_done}");
            Ok(Some(
                render(
                    state,
                    who,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    false,
                    None,
                    Some(msg),
                )
                .await?,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "recovery_card.html")]
struct CardPage {
    layout: Layout,
    name: String,
    codes: Vec<String>,
}

/// Prints a new recovery card: its codes, shown once, on a page made to be printed.
pub(crate) async fn print_card(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<TotpForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    if let Some(refused) =
        confirm_it_is_you(&state, &who, &form.password, "No card was printed.").await?
    {
        return Ok(refused);
    }
    let card = state
        .app
        .print_recovery_card(who.principal.card_holder()?)
        .await?;
    Ok(CardPage {
        layout: Layout::signed("Your recovery card", Some(Tab::Security), &who),
        name: who.principal.person().name.clone(),
        codes: card.codes,
    }
    .into_response())
}

/// Sets up (or replaces) the authenticator app that proves who the person is when locked out.
/// It is a way back in, so it asks for the password unless a proof was given in the last few
/// minutes, as adding a passkey does.
pub(crate) async fn enroll_totp(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<TotpForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    if let Some(refused) =
        confirm_it_is_you(&state, &who, &form.password, "No authenticator was set up.").await?
    {
        return Ok(refused);
    }
    let enrolled = state.app.enroll_totp(who.principal.own_account()).await?;
    let mut page = security_page(&state, &who, false, None, None).await?;
    let qr = crate::qr::svg(&enrolled.uri)
        .inspect_err(|e| tracing::warn!(error = %e, "the authenticator link could not be drawn as a QR code"))
        .ok();
    page.totp = Some(TotpShown {
        secret: enrolled.secret,
        uri: enrolled.uri,
        qr,
    });
    Ok(page.into_response())
}

#[derive(Deserialize)]
pub(crate) struct SecurityQuery {
    welcome: Option<String>,
    added: Option<String>,
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<SecurityQuery>,
) -> Result<Response, PageError> {
    let notice = q
        .added
        .map(|_| "Passkey added: next time, sign in with it.".to_owned());
    render(
        &state,
        &who,
        StatusCode::OK,
        q.welcome.is_some(),
        notice,
        None,
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

/// The options request of "Add a passkey": the password when no fresh proof was given.
#[derive(Deserialize)]
pub(crate) struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

fn started(s: &Started) -> Response {
    Json(json!({ "ceremony": s.ceremony, "options": s.options })).into_response()
}

/// Options to register a passkey (JSON for the script).
pub(crate) async fn register_options(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    Ok(started(
        &state
            .app
            .start_passkey_registration(
                state.app.may_use_session(&who.principal)?,
                Some(&form.password),
            )
            .await?,
    ))
}

#[derive(Deserialize)]
pub(crate) struct CeremonyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
    /// Signing in: where the visitor was going (checked by [`guard::safe_next`]).
    #[serde(default)]
    next: String,
}

pub(crate) async fn register(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<CeremonyForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    if form.credential.is_empty() {
        let msg = "Adding a passkey needs your browser's passkey support (and script turned on). Nothing was added.";
        return render(
            &state,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
            None,
            Some(msg.into()),
        )
        .await;
    }
    let finished = match state.app.may_use_session(&who.principal) {
        Ok(own) => {
            state
                .app
                .finish_passkey_registration(own, &form.ceremony, &form.credential, &form.name)
                .await
        }
        Err(e) => Err(e),
    };
    match finished {
        Ok(_) => Ok(Redirect::to("/security?added=1").into_response()),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict(_))) => {
            let (status, _, message) = describe(&e);
            render(&state, &who, status, false, None, Some(message)).await
        }
        Err(AppError::Unauthenticated(why)) => {
            let msg = format!("{}. Nothing was added.", crate::error::capitalise(&why));
            render(
                &state,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                false,
                None,
                Some(msg),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(crate) struct RenameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

pub(crate) async fn rename(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<RenameForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let renamed = match state
        .app
        .may_rename_passkey(&who.principal, id, &form.name)
        .await
    {
        Ok(owner) => state.app.rename_passkey(owner, &form.name).await,
        Err(e) => Err(e),
    };
    match renamed {
        Ok(()) => Ok(Redirect::to("/security").into_response()),
        Err(e @ AppError::Invalid { .. }) => {
            let (status, _, message) = describe(&e);
            render(&state, &who, status, false, None, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn remove(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let owner = state.app.may_remove_passkey(&who.principal, id).await?;
    state.app.remove_passkey(owner).await?;
    Ok(Redirect::to("/security").into_response())
}

/// Options to sign in with a passkey (JSON), for the sign-in page's button and autofill.
pub(crate) async fn sign_in_options(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let Some(pre) = guard::cookie(&headers, PRE_COOKIE) else {
        return Err(PageError::StaleForm);
    };
    guard::check_form(&state, &headers, &format!("pre:{pre}"), &form.csrf)?;
    Ok(started(&state.app.start_passkey_sign_in().await?))
}

pub(crate) async fn sign_in(
    State(state): State<WebState>,
    Source(source): Source,
    headers: HeaderMap,
    Form(form): Form<CeremonyForm>,
) -> Response {
    let Some(pre) = guard::cookie(&headers, PRE_COOKIE) else {
        return PageError::StaleForm.into_response();
    };
    if let Err(e) = guard::check_form(&state, &headers, &format!("pre:{pre}"), &form.csrf) {
        return e.into_response();
    }
    match state
        .app
        .finish_passkey_sign_in(&form.ceremony, &form.credential, &source)
        .await
    {
        Ok(signed) => {
            let secs = state.app.config().session_ttl.as_secs();
            let cookie = guard::set_cookie(
                SESSION_COOKIE,
                &signed.token,
                "/",
                secs,
                state.config.secure_cookies,
            );
            with_cookie(
                crate::signin::after_sign_in(&form.next).into_response(),
                Some(cookie),
            )
        }
        Err(AppError::Unauthenticated(_)) => crate::signin::form_page(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            String::new(),
            Some("That passkey did not sign you in. Try again, or use your e-mail address and password.".into()),
            &form.next,
        ),
        Err(e @ AppError::RateLimited { .. }) => {
            let (status, _, message) = describe(&e);
            crate::signin::form_page(
                &state,
                &headers,
                status,
                String::new(),
                Some(message),
                &form.next,
            )
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// What an unlock needs first (JSON): `{"fresh":true}`, `{"password":true}`, or a passkey
/// ceremony to run.
pub(crate) async fn unlock_options(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    Ok(
        match state.app.unlock_proof(who.principal.own_account()).await? {
            ProofNeeded::Fresh => Json(json!({ "fresh": true })).into_response(),
            ProofNeeded::Password => Json(json!({ "password": true })).into_response(),
            ProofNeeded::Passkey(s) => started(&s),
        },
    )
}
