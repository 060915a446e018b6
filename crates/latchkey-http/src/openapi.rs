//! The finishing pass over the OpenAPI document: how to sign in, and the problem answers every
//! operation can give because of how it is reached rather than what it does.
//!
//! The route annotations name the answers of the use case (403, 404, 409, 422, 429, 503…). The
//! answers of the extractors are the same for every handler that uses them, so they are added
//! here from the operation's shape, and a new route gets them without anyone remembering to:
//!
//! | the operation has | it may answer | because |
//! |---|---|---|
//! | anything | 500 | a storage or internal error |
//! | a path parameter | 400, 404 | `ApiPath` cannot read it (`invalid-path`); nothing has that id, or the caller may not know of it |
//! | a query parameter | 400 | `ApiQuery` cannot read it, or it is unknown (`invalid-query`) |
//! | a JSON body | 400, 413, 415, 422 | `ApiJson`: not JSON, over 64 KiB, not `application/json`, or not the documented shape |
//! | sign-in (no `security: [{}]`) | 401 | `Auth`: no session or token, or an unknown, expired or revoked one |
//! | sign-in and a method that changes something | 403 | `Auth`: a browser request from another site (`cross-site`) |
//!
//! Every 4xx and 5xx answer is a [`Problem`](crate::problem::Problem) sent as
//! `application/problem+json`, and a 429 carries `Retry-After`.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, Ref, RefOr};

use crate::extract::SESSION_COOKIE;

/// The media type of every problem answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Names of the two ways to sign in, as security schemes of the document.
const TOKEN: &str = "token";
const SESSION: &str = "session";

/// Adds the sign-in schemes and the standard problem answers, and sends every problem answer as
/// `application/problem+json`.
pub fn finish(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        TOKEN.to_owned(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("lkt_…")
                .description(Some(
                    "An API token (`POST /api/v1/tokens`) sent as `Authorization: Bearer lkt_…`.",
                ))
                .build(),
        )),
    );
    components.security_schemes.insert(
        SESSION.to_owned(),
        RefOr::T(SecurityScheme::ApiKey(ApiKey::Cookie(
            ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session cookie set by `POST /api/v1/auth/login`.",
            ),
        ))),
    );
    doc.security = Some(vec![
        SecurityRequirement::new(TOKEN, Vec::<String>::new()),
        SecurityRequirement::new(SESSION, Vec::<String>::new()),
    ]);

    for item in doc.paths.paths.values_mut() {
        let ops = [
            ("get", item.get.as_mut()),
            ("put", item.put.as_mut()),
            ("post", item.post.as_mut()),
            ("delete", item.delete.as_mut()),
            ("patch", item.patch.as_mut()),
        ];
        for (method, op) in ops {
            if let Some(op) = op {
                standard_problems(method, op);
            }
        }
    }
}

fn has_parameter_in(op: &Operation, place: ParameterIn) -> bool {
    op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.parameter_in == place,
        RefOr::Ref(_) => false,
    })
}

fn standard_problems(method: &str, op: &mut Operation) {
    let public = op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
    let mut codes = vec!["500"];
    if has_parameter_in(op, ParameterIn::Path) {
        codes.extend(["400", "404"]);
    }
    if has_parameter_in(op, ParameterIn::Query) {
        codes.push("400");
    }
    if op.request_body.is_some() {
        codes.extend(["400", "413", "415", "422"]);
    }
    if !public {
        codes.push("401");
        if method != "get" {
            codes.push("403");
        }
    }
    for code in codes {
        op.responses
            .responses
            .entry(code.to_owned())
            .or_insert_with(|| RefOr::T(Response::new("")));
    }
    for (code, response) in &mut op.responses.responses {
        if let RefOr::T(response) = response
            && (code.starts_with('4') || code.starts_with('5'))
        {
            as_problem(code, response);
        }
    }
}

/// What a problem answer with this status means wherever it is given.
fn meaning(code: &str) -> &'static str {
    match code {
        "400" => {
            "The path, query or body could not be read (`invalid-path`, `invalid-query`, `malformed-json`)."
        }
        "401" => "Not signed in, or the session or token is unknown, expired or revoked.",
        "403" => {
            "The caller may not do this, or a signed-in browser request came from another site (`cross-site`)."
        }
        "404" => "There is no such resource, or the caller may not know of it.",
        "409" => "The request conflicts with the current state; `detail` says with what.",
        "413" => "The body is larger than 64 KiB.",
        "415" => "The body was not sent as `application/json`.",
        "422" => {
            "The body does not fit its schema (`invalid-body`), or a value is refused (`invalid`; `field` names it)."
        }
        "429" => "Too many attempts; wait `Retry-After` seconds.",
        "503" => "The locks cannot be reached now.",
        _ => "Internal error; the detail is in the server's log.",
    }
}

fn as_problem(code: &str, response: &mut Response) {
    if response.description.is_empty() {
        response.description = meaning(code).to_owned();
    }
    response.content.shift_remove("application/json");
    response.content.insert(
        crate::openapi::PROBLEM_JSON.to_owned(),
        RefOr::T(
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        ),
    );
    if code == "429" {
        let seconds = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0));
        let header = HeaderBuilder::new()
            .schema(Some(seconds))
            .description(Some("Seconds to wait before trying again."))
            .build();
        *response = ResponseBuilder::from(response.clone())
            .header("Retry-After", header)
            .build();
    }
}
