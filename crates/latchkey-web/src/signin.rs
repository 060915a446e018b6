//! Signing in with a password and out again. The sign-in form's token is bound to a random
//! pre-session cookie, so a form posted from another site (login CSRF) is refused as well.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::store::auth::GrantKind;
use serde::Deserialize;

use crate::WebState;
use crate::error::{PageError, describe};
use crate::guard::{self, PRE_COOKIE, SESSION_COOKIE, Signed, Source};
#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};

#[derive(Template, WebTemplate)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    csrf: String,
    email: String,
    error: Option<String>,
    /// Where to go after signing in (a safe path of this site), kept in both forms.
    next: Option<String>,
}

/// The page to go to once signed in: `next` when it is a path of this site, else the home page.
pub(crate) fn after_sign_in(next: &str) -> Redirect {
    Redirect::to(guard::safe_next(next).unwrap_or("/"))
}

/// The pre-session binding of this browser, and the cookie to set when it has none yet.
pub(crate) fn pre_session(headers: &HeaderMap, secure: bool) -> (String, Option<String>) {
    match guard::cookie(headers, PRE_COOKIE) {
        Some(v) if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (format!("pre:{v}"), None)
        }
        _ => {
            let value = latchkey_app::secrets::random_bytes::<16>()
                .map(hex::encode)
                .unwrap_or_default();
            let set = guard::set_cookie(PRE_COOKIE, &value, "/", 86_400, secure);
            (format!("pre:{value}"), Some(set))
        }
    }
}

pub(crate) fn with_cookie(mut res: Response, cookie: Option<String>) -> Response {
    if let Some(c) = cookie
        && let Ok(v) = HeaderValue::from_str(&c)
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub(crate) fn form_page(
    state: &WebState,
    headers: &HeaderMap,
    status: StatusCode,
    email: String,
    error: Option<String>,
    next: &str,
) -> Response {
    let (binding, set) = pre_session(headers, state.config.secure_cookies);
    let page = SignInPage {
        layout: Layout::public("Sign in"),
        csrf: state.app.form_token(&binding),
        email,
        error,
        next: guard::safe_next(next)
            .filter(|n| *n != "/")
            .map(str::to_owned),
    };
    with_cookie((status, page).into_response(), set)
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    #[serde(default)]
    next: String,
}

pub(crate) async fn page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    if let Some(token) = guard::cookie(&headers, SESSION_COOKIE)
        && state
            .app
            .authenticate(GrantKind::Session, &token)
            .await
            .is_ok()
    {
        return after_sign_in(&q.next).into_response();
    }
    form_page(
        &state,
        &headers,
        StatusCode::OK,
        String::new(),
        None,
        &q.next,
    )
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    /// Where the visitor was going (checked by [`guard::safe_next`]).
    #[serde(default)]
    next: String,
}

pub(crate) async fn submit(
    State(state): State<WebState>,
    Source(source): Source,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let Some(pre) = guard::cookie(&headers, PRE_COOKIE) else {
        return PageError::StaleForm.into_response();
    };
    if let Err(e) = guard::check_form(&state, &headers, &format!("pre:{pre}"), &form.csrf) {
        return e.into_response();
    }
    match state.app.login(&form.email, &form.password, &source).await {
        Ok(signed) => {
            let secs = state.app.config().session_ttl.as_secs();
            let cookie = guard::set_cookie(
                SESSION_COOKIE,
                &signed.token,
                "/",
                secs,
                state.config.secure_cookies,
            );
            with_cookie(after_sign_in(&form.next).into_response(), Some(cookie))
        }
        Err(AppError::Unauthenticated(_)) => form_page(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            form.email,
            Some("The e-mail address or the password is wrong. Check both and try again.".into()),
            &form.next,
        ),
        Err(e @ (AppError::RateLimited { .. } | AppError::Invalid { .. })) => {
            let (status, _, message) = describe(&e);
            form_page(
                &state,
                &headers,
                status,
                form.email,
                Some(message),
                &form.next,
            )
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn sign_out(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    state
        .app
        .logout(state.app.may_logout(&who.principal)?)
        .await?;
    let clear = guard::set_cookie(SESSION_COOKIE, "", "/", 0, state.config.secure_cookies);
    Ok(with_cookie(
        Redirect::to("/sign-in").into_response(),
        Some(clear),
    ))
}
