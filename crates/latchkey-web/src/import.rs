//! Importing a building from the console (docs/OPERATIONS.md, "Importing a building"): the
//! manager uploads the CSV file; the first pass checks it and lists every wrong line with
//! nothing written; when it is good, a confirm imports it and shows a summary with a link to
//! the readiness heat map. Staff of the property and admins only (`Importer`, the capability
//! `latchkey import` takes). Works without a script: the confirm form carries the checked file
//! back as a field, and it is checked again before anything is written.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_app::AppError;
use latchkey_app::onboarding::{HEADER, ImportMode, MAX_BYTES};
use latchkey_core::PropertyId;
use serde::Deserialize;

use crate::WebState;
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

/// Largest upload: the file, or the checked file carried back in base64 by the confirm form,
/// and the form's other fields.
pub(crate) fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_BYTES / 3 * 4 + 64 * 1024)
}

#[derive(Deserialize)]
pub(crate) struct ImportQuery {
    property: Option<i64>,
}

/// One wrong line, as the page lists it.
pub struct Wrong {
    pub line: String,
    pub message: String,
}

/// What the page shows after a pass.
pub enum Outcome {
    /// Nothing uploaded yet.
    Empty,
    /// The file has wrong lines; nothing was written.
    Refused(Vec<Wrong>),
    /// The file is good; `csv` (base64) goes back with the confirm.
    Good { summary: String, csv: String },
    /// Imported.
    Imported { summary: String },
}

#[derive(Template, WebTemplate)]
#[template(path = "import.html")]
struct ImportPage {
    layout: Layout,
    css: String,
    property: i64,
    name: String,
    header: [&'static str; 6],
    outcome: Outcome,
    file_name: String,
    csrf: String,
}

async fn render(
    state: &WebState,
    who: &Signed,
    property: PropertyId,
    outcome: Outcome,
    file_name: String,
) -> Result<Response, PageError> {
    let p = state.app.get_property(&who.principal, property).await?;
    Ok(ImportPage {
        layout: Layout::signed(format!("Import a building: {}", p.name), None, who),
        css: crate::assets::assets().url("console.css"),
        property: property.0,
        name: p.name,
        header: HEADER,
        outcome,
        file_name,
        csrf: who.csrf.clone(),
    }
    .into_response())
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<ImportQuery>,
) -> Result<Response, PageError> {
    let property = crate::guard::staff_property(&who, q.property, "importing a building")?;
    who.principal.importer(property)?;
    render(&state, &who, property, Outcome::Empty, String::new()).await
}

/// The fields of the upload form.
#[derive(Default)]
struct Upload {
    csrf: String,
    property: Option<i64>,
    confirm: bool,
    file: Vec<u8>,
    file_name: String,
    /// The checked file, carried back by the confirm form (base64: a form field would change
    /// its line breaks).
    checked: Option<String>,
}

async fn read_upload(mut form: Multipart) -> Result<Upload, AppError> {
    let too_big = || {
        AppError::invalid(
            "file",
            format!("is larger than {MAX_BYTES} bytes (1 MiB): split it into several files"),
        )
    };
    let mut u = Upload::default();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_big());
            }
            Err(_) => {
                return Err(AppError::invalid(
                    "file",
                    "the upload was cut off; send it again",
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_big());
            }
            Err(_) => {
                return Err(AppError::invalid(
                    "file",
                    "the upload was cut off; send it again",
                ));
            }
        };
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "csrf" => u.csrf = text(),
            "property" => u.property = text().trim().parse().ok(),
            "confirm" => u.confirm = true,
            "file" => {
                u.file = bytes.to_vec();
                u.file_name = file_name.unwrap_or_default();
            }
            "checked" => u.checked = Some(text()),
            _ => {}
        }
    }
    Ok(u)
}

/// A pass over the upload: a check, or (from the confirm form) the import.
pub(crate) async fn submit(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Response, PageError> {
    let u = read_upload(form).await?;
    who.check(&state, &headers, &u.csrf)?;
    let property = crate::guard::staff_property(&who, u.property, "importing a building")?;
    let importer = who.principal.importer(property)?;
    let (bytes, mode) = match (&u.checked, u.confirm) {
        (Some(checked), true) => (
            data_encoding::BASE64
                .decode(checked.trim().as_bytes())
                .map_err(|_| {
                    AppError::invalid("file", "the checked file came back damaged; check it again")
                })?,
            ImportMode::Write { invite: false },
        ),
        _ => (u.file, ImportMode::Check),
    };
    if bytes.is_empty() {
        return Err(AppError::invalid("file", "choose the building's CSV file first").into());
    }
    let report = state.app.import_building(importer, &bytes, mode).await?;
    let refused = !report.errors.is_empty();
    let outcome = if refused {
        Outcome::Refused(
            report
                .errors
                .iter()
                .map(|e| Wrong {
                    line: e
                        .line
                        .map_or_else(|| "The file".to_owned(), |n| format!("Line {n}")),
                    message: crate::error::capitalise(&e.message),
                })
                .collect(),
        )
    } else {
        let summary = format!(
            "{} {}, {} {} and {} {}",
            report.units,
            if report.units == 1 { "unit" } else { "units" },
            report.doors,
            if report.doors == 1 {
                "entry door"
            } else {
                "entry doors"
            },
            report.people,
            if report.people == 1 {
                "person"
            } else {
                "people"
            },
        );
        if report.written {
            Outcome::Imported { summary }
        } else {
            Outcome::Good {
                summary,
                csv: data_encoding::BASE64.encode(&bytes),
            }
        }
    };
    let mut res = render(&state, &who, property, outcome, u.file_name).await?;
    if refused {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}
