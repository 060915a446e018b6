//! "Your data" on the Security page: the download of everything latchkey holds about the
//! person (the API's `GET /api/v1/me/export`, read with the page's session), and the request to
//! be erased, in two steps: a page that says what will be erased, what is kept and why, and
//! when; then the request itself, through the same use case as `POST /api/v1/me/erasure-request`.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_app::AppError;
use latchkey_app::mydata::{self, ErasureRequest};
use serde::Deserialize;

use crate::WebState;
use crate::error::{PageError, describe};
use crate::guard::Signed;
#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};

/// What the request did, once made.
pub struct Requested {
    /// The day of the (first) request.
    pub on: String,
    /// A request was pending already: nothing new was recorded or sent.
    pub again: bool,
    /// The day the last membership ends, when one is set.
    pub moves_out: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "erasure.html")]
struct ErasurePage {
    layout: Layout,
    csrf: String,
    removed: Vec<&'static str>,
    kept: Vec<(&'static str, &'static str)>,
    when: &'static str,
    note: String,
    error: Option<String>,
    done: Option<Requested>,
}

fn day(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

fn confirm_page(who: &Signed, note: String, error: Option<String>) -> ErasurePage {
    ErasurePage {
        layout: Layout::signed("Ask to be erased", Some(Tab::Security), who),
        csrf: who.csrf.clone(),
        removed: mydata::REMOVED.to_vec(),
        kept: mydata::KEPT.to_vec(),
        when: mydata::WHEN,
        note,
        error,
        done: None,
    }
}

/// The confirmation step: what an erasure removes and keeps, and when it happens. Nothing is
/// recorded by looking.
pub(crate) async fn page(who: Signed) -> Response {
    confirm_page(&who, String::new(), None).into_response()
}

#[derive(Deserialize)]
pub(crate) struct ErasureForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

fn answered(who: &Signed, r: ErasureRequest) -> ErasurePage {
    ErasurePage {
        layout: Layout::signed("Erasure asked for", Some(Tab::Security), who),
        csrf: who.csrf.clone(),
        removed: r.removed,
        kept: r.kept,
        when: r.when,
        note: String::new(),
        error: None,
        done: Some(Requested {
            on: day(r.requested_at),
            again: r.already_requested,
            moves_out: r.moves_out_at.map(day),
        }),
    }
}

/// The request: recorded and told to the staff of the person's properties; the answer says
/// what will go, what stays and why. A bad note or an account that cannot be erased (an admin,
/// someone of no property) is refused on the same page, and nothing is recorded.
pub(crate) async fn submit(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<ErasureForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let note = Some(form.note.as_str()).filter(|n| !n.is_empty());
    match state
        .app
        .request_my_erasure(who.principal.own_account(), note)
        .await
    {
        Ok(r) => Ok((StatusCode::ACCEPTED, answered(&who, r)).into_response()),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict(_))) => {
            let (status, _, message) = describe(&e);
            Ok((status, confirm_page(&who, form.note, Some(message))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
