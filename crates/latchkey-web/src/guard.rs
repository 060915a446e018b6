//! Who is asking, and whether a form may change anything.
//!
//! - The session is the API's (`latchkey_session`, `HttpOnly`, `SameSite=Strict`); a page that
//!   needs one sends a visitor without it to the sign-in page.
//! - A form that changes something must carry the form token of its binding (the session; a
//!   pre-session cookie before sign-in; the lockout case), a keyed digest computed with a key
//!   derived from the master key, so nothing is stored and nobody else can make one.
//! - And it must come from our own origin: `Sec-Fetch-Site` other than `same-origin`/`none`, or
//!   an `Origin` that is not this host, is refused before anything runs.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::authz::{Principal, Via};
use latchkey_app::store::auth::GrantKind;

use crate::WebState;
use crate::error::PageError;

/// The session cookie, shared with the API.
pub const SESSION_COOKIE: &str = "latchkey_session";
/// A random value set before sign-in, to bind the sign-in and lockout forms' tokens to.
pub const PRE_COOKIE: &str = "latchkey_pre";
/// The lockout case's token, sent only to the case page.
pub const CASE_COOKIE: &str = "latchkey_case";
/// The path the case cookie is scoped to.
pub const CASE_PATH: &str = "/locked-out/case";

/// The value of the request's cookie `name` (the first one, as browsers send the most specific
/// path first), or `None` when it is absent or empty. Parsed by the `cookie` crate.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: always `HttpOnly` and `SameSite=Strict`; `Secure` when the server's
/// rule says so (docs/ARCHITECTURE.md); `Max-Age=0` clears it.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    cookie::Cookie::build((name, value))
        .path(path)
        .max_age(cookie::time::Duration::seconds(max_age))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(secure)
        .build()
        .to_string()
}

/// Whether a state-changing request came from one of our own pages.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match (get("origin"), get("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Refuses a form from another origin or without the token of `binding`.
///
/// # Errors
/// A page saying the form has expired or came from elsewhere.
pub fn check_form(
    state: &WebState,
    headers: &HeaderMap,
    binding: &str,
    token: &str,
) -> Result<(), PageError> {
    if !same_origin(headers) {
        return Err(PageError::CrossSite);
    }
    let expected = state.app.form_token(binding);
    if constant_time_eq(expected.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(PageError::StaleForm)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Longest `next` destination kept across sign-in.
const MAX_NEXT: usize = 200;

/// Where sign-in may send the browser back to: a path of this site only, or `None`.
///
/// Only `/` followed by letters, digits, `-`, `.`, `_`, `~` and `/` is taken, and never `//`
/// at the start: no scheme (`https://…`), no other host (`//evil`, `/\evil`, which browsers
/// read as `//evil`), no query or fragment, no percent sign (so nothing decodes into one of
/// those later), no control characters or spaces (browsers drop tabs and newlines from a URL,
/// which would turn `/\t/evil` into `//evil`). `raw` is the value as decoded from the form or
/// query.
pub fn safe_next(raw: &str) -> Option<&str> {
    let rest = raw.strip_prefix('/')?;
    let allowed =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/');
    (raw.len() <= MAX_NEXT && !rest.starts_with('/') && raw.bytes().all(allowed)).then_some(raw)
}

/// The sign-in page, asked to come back to `next` when it is a safe destination.
pub fn sign_in_then(next: Option<&str>) -> String {
    match next.and_then(safe_next) {
        // Every character of a safe `next` may stand in a query as it is.
        Some(n) if n != "/" => format!("/sign-in?next={n}"),
        _ => "/sign-in".to_owned(),
    }
}

/// The caller's network address, for rate limits.
pub fn source(parts_ext: &axum::http::Extensions) -> String {
    parts_ext
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// The caller's network address as an extractor.
pub struct Source(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Source(source(&parts.extensions)))
    }
}

/// A signed-in person on a page; without a valid session, the sign-in page.
pub struct Signed {
    pub principal: Principal,
    /// What this session's form tokens are bound to.
    pub binding: String,
    pub csrf: String,
    /// The console's property for this page: the `?property=` asked for when the person is
    /// staff there, else the first property they staff.
    pub console: Option<i64>,
    /// Every property the person is staff of, with its name, when there are several (the
    /// console's property switcher); empty otherwise.
    pub staffed: Vec<(i64, String)>,
    /// The page's path, for the switcher to come back to.
    pub path: String,
}

/// The `property` of a page's query, if it is a number.
fn asked_property(uri: &axum::http::Uri) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Asked {
        property: Option<String>,
    }
    axum::extract::Query::<Asked>::try_from_uri(uri)
        .ok()?
        .0
        .property?
        .trim()
        .parse()
        .ok()
}

/// The properties `who` is staff of, first (smallest id) first.
fn staff_of(who: &Principal) -> Vec<latchkey_core::PropertyId> {
    let mut ps: Vec<_> = who
        .active()
        .filter(|m| m.role.is_staff())
        .map(|m| m.property_id)
        .collect();
    ps.sort();
    ps.dedup();
    ps
}

impl FromRequestParts<WebState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        // A page asked for without a session comes back after sign-in; a form post does not
        // (its token was of the old session anyway).
        let back = (parts.method == Method::GET).then(|| parts.uri.path().to_owned());
        let sign_in = || Redirect::to(&sign_in_then(back.as_deref())).into_response();
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(sign_in());
        };
        match state.app.authenticate(GrantKind::Session, &token).await {
            Ok(principal) => {
                let binding = match principal.via() {
                    Via::Session(id) => format!("session:{id}"),
                    other => format!("{other:?}"),
                };
                let csrf = state.app.form_token(&binding);
                let staff = staff_of(&principal);
                let console = asked_property(&parts.uri)
                    .filter(|p| staff.iter().any(|s| s.0 == *p))
                    .or_else(|| staff.first().map(|p| p.0));
                let mut staffed = Vec::new();
                if staff.len() > 1 {
                    // One read for the switcher's names, whatever the number of buildings.
                    let visible = match state.app.list_properties(&principal).await {
                        Ok(all) => all,
                        Err(e) => return Err(PageError::from(e).into_response()),
                    };
                    staffed = staff
                        .iter()
                        .filter_map(|p| {
                            visible
                                .iter()
                                .find(|v| v.id == *p)
                                .map(|v| (p.0, v.name.clone()))
                        })
                        .collect();
                }
                Ok(Signed {
                    principal,
                    binding,
                    csrf,
                    console,
                    staffed,
                    path: parts.uri.path().to_owned(),
                })
            }
            Err(latchkey_app::AppError::Unauthenticated(_)) => Err(sign_in()),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

impl Signed {
    /// Refuses a form of this session from another origin or without its token.
    ///
    /// # Errors
    /// As [`check_form`].
    pub fn check(
        &self,
        state: &WebState,
        headers: &HeaderMap,
        token: &str,
    ) -> Result<(), PageError> {
        check_form(state, headers, &self.binding, token)
    }
}

/// The property a staff page is about: the one asked for (its use case checks the caller's
/// standing there), or the first the caller is staff of; `page` names the page in the refusal.
pub fn staff_property(
    who: &Signed,
    asked: Option<i64>,
    page: &str,
) -> Result<latchkey_core::PropertyId, latchkey_app::AppError> {
    if let Some(p) = asked {
        return Ok(latchkey_core::PropertyId(p));
    }
    staff_of(&who.principal).first().copied().ok_or_else(|| {
        latchkey_app::AppError::forbidden(format!("{page} is for the building's staff"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_goes_back_only_to_a_path_of_this_site() {
        for ok in ["/", "/guardian", "/doors/12/card", "/a-b_c.d~e/"] {
            assert_eq!(safe_next(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "guardian",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            " /guardian",
            "https://evil.example/guardian",
            "http:/evil.example",
            "javascript:alert(1)",
            "/%2F%2Fevil.example",
            "/%252F%252Fevil.example",
            "/%5Cevil.example",
            "/guardian?next=//evil.example",
            "/guardian#x",
            "/gu\u{0}ardian",
            "/caf\u{e9}",
            "/\u{ff0f}evil.example",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
        assert_eq!(safe_next(&format!("/{}", "a".repeat(MAX_NEXT))), None);
        assert_eq!(sign_in_then(Some("/guardian")), "/sign-in?next=/guardian");
        assert_eq!(sign_in_then(Some("//evil.example")), "/sign-in");
        assert_eq!(sign_in_then(Some("/")), "/sign-in");
        assert_eq!(sign_in_then(None), "/sign-in");
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap_or_else(|_| unreachable!()));
        }
        h
    }

    #[test]
    fn a_form_from_another_site_is_not_same_origin() {
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!same_origin(&headers(&[
            ("origin", "http://evil.example"),
            ("host", "localhost:8080")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "null"),
            ("host", "localhost:8080")
        ])));
        assert!(same_origin(&headers(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://localhost:8080"),
            ("host", "localhost:8080")
        ])));
    }
}
