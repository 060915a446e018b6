//! What a browser can be made to do, and what it may do with our answers.
//!
//! **Requests from other sites.** A browser attaches the session cookie to any request to us,
//! whoever's page starts it. A request that can change something (any method but GET, HEAD,
//! OPTIONS) is let through only when it cannot have been started by another site:
//!
//! 1. it carries an `Authorization: Bearer` token — no browser adds one by itself;
//! 2. else a `Sec-Fetch-Site` header, when sent, must be `same-origin`;
//! 3. else an `Origin` header, when sent, must be our own origin: scheme, host and port;
//! 4. else, with neither header, it must not carry the session cookie (a client that is not a
//!    browser and signs in with no cookie, e.g. a script calling the sign-in endpoint).
//!
//! Our own origin is the configured public URL when there is one (behind a TLS proxy it is the
//! only way to know the scheme and name the browser sees), else `http://` and the request's
//! `Host`. This also covers the endpoints that set state without a session (sign-in, the public
//! lockout case start): a browser always sends one of the two headers there, so another site
//! cannot sign a browser in to someone else's account or open cases in its name.
//!
//! **Headers on every answer.** `nosniff`, no referrer, no framing (`X-Frame-Options` and the
//! CSP's `frame-ancestors`), nothing loadable (`default-src 'none'`: the API serves no pages),
//! and `Cache-Control: no-store`, since answers carry tokens, PINs and codes and none is worth
//! caching.

use std::fmt;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::extract::{SESSION_COOKIE, cookie_value};
use crate::problem::Problem;
use crate::state::AppState;

/// An origin as browsers compare them: scheme (`http` or `https`), lower-case host, and port
/// (the scheme's default when not written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicOrigin {
    https: bool,
    host: String,
    port: u16,
}

impl PublicOrigin {
    /// Parses the public URL latchkey is reached at, e.g. `https://door.example.org` or
    /// `http://10.0.0.5:8080`; a trailing `/` is allowed, a path, query or user is not.
    ///
    /// # Errors
    /// A sentence saying what is wrong with `url`.
    pub fn parse(url: &str) -> Result<PublicOrigin, String> {
        let url = url.trim();
        let wrong = |why: &str| {
            format!("`{url}` is not a public URL like https://door.example.org ({why})")
        };
        let uri: Uri = url.parse().map_err(|_| wrong("it does not parse"))?;
        if let Some(pq) = uri.path_and_query()
            && pq.as_str() != "/"
        {
            return Err(wrong("it may not have a path or query"));
        }
        PublicOrigin::from_uri(&uri).ok_or_else(|| wrong("it needs http:// or https:// and a host"))
    }

    fn from_uri(uri: &Uri) -> Option<PublicOrigin> {
        let https = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        PublicOrigin::from_authority(https, authority)
    }

    fn from_authority(https: bool, authority: &Authority) -> Option<PublicOrigin> {
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        Some(PublicOrigin {
            https,
            host,
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
        })
    }

    /// An `Origin` header: exactly `scheme://host[:port]`.
    fn from_header(value: &str) -> Option<PublicOrigin> {
        let uri: Uri = value.parse().ok()?;
        if value.ends_with('/') || uri.path_and_query().is_some_and(|pq| pq.as_str() != "/") {
            return None;
        }
        PublicOrigin::from_uri(&uri)
    }

    /// Whether browsers reach latchkey over HTTPS.
    pub fn is_https(&self) -> bool {
        self.https
    }
}

impl fmt::Display for PublicOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, default) = if self.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        write!(f, "{scheme}://{}", self.host)?;
        if self.port != default {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

fn header_str<'a>(parts: &'a Parts, name: &HeaderName) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn has_session_cookie(parts: &Parts) -> bool {
    cookie_value(parts, SESSION_COOKIE).is_some()
}

/// Why a request must be refused as coming from another site, or `None` to let it through
/// (the rule is in this module's header).
fn cross_site(parts: &Parts, public: Option<&PublicOrigin>) -> Option<String> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    if header_str(parts, &header::AUTHORIZATION).is_some_and(|v| v.starts_with("Bearer ")) {
        return None;
    }
    let fetch_site = header_str(parts, &HeaderName::from_static("sec-fetch-site"));
    if let Some(site) = fetch_site
        && site != "same-origin"
    {
        return Some(format!(
            "your browser says this request was started by another site (Sec-Fetch-Site: \
             {site}); changes must come from latchkey's own pages"
        ));
    }
    match parts.headers.get(header::ORIGIN) {
        Some(origin) => {
            let sent = origin.to_str().unwrap_or("(unreadable)");
            let own = public.cloned().or_else(|| {
                let host = header_str(parts, &header::HOST)
                    .and_then(|h| h.parse::<Authority>().ok())
                    .or_else(|| parts.uri.authority().cloned())?;
                PublicOrigin::from_authority(false, &host)
            });
            match own {
                Some(own) if PublicOrigin::from_header(sent).as_ref() == Some(&own) => None,
                Some(own) => Some(format!(
                    "this request comes from {sent}, not from latchkey's own origin {own} \
                     (scheme, host and port must match); changes must come from latchkey's own \
                     pages"
                )),
                None => Some(format!(
                    "this request comes from {sent} and names no host to compare it with"
                )),
            }
        }
        None if fetch_site.is_some() => None,
        None if has_session_cookie(parts) => Some(
            "a signed-in browser request that changes something must say where it comes from \
             (Origin or Sec-Fetch-Site); scripts should use an API token \
             (`Authorization: Bearer …`) instead of the session cookie"
                .to_owned(),
        ),
        None => None,
    }
}

/// Refuses requests started by another site (see the module's header) before any handler runs.
pub(crate) async fn refuse_cross_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(why) = cross_site(&parts, state.config.public_origin.as_ref()) {
        return Problem::new(StatusCode::FORBIDDEN, "cross-site", why).into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Adds the security headers to every answer, errors and unknown paths included.
pub(crate) async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}
