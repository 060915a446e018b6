//! `GET /readyz`: whether this replica should get traffic. 200 when every check passes, 503
//! naming the check that failed. The body says only `ok`, `failed` or `off` per check, and this
//! replica's part in the reconciler's lease: no address, error text or secret.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_app::monitoring::{Check, LeaseRole};
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize)]
struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// Each check: `ok`, `failed`, or `off` where it does not apply.
    database: &'static str,
    broker: &'static str,
    /// The reconciler's lease: `holder` (this replica), `standby` (another holds it), `unheld`
    /// (nobody: a failure), `off` (no reconciler runs here), `unknown` (the database did not
    /// answer).
    reconciler: &'static str,
}

fn check(c: Check) -> &'static str {
    match c {
        Check::Ok => "ok",
        Check::Failed => "failed",
        Check::Off => "off",
    }
}

/// The lease as a word: `off` where this replica runs no reconciler.
pub(crate) fn lease_role(reconciles: bool, role: LeaseRole) -> &'static str {
    match (reconciles, role) {
        (false, _) => "off",
        (_, LeaseRole::Holder) => "holder",
        (_, LeaseRole::Standby) => "standby",
        (_, LeaseRole::Unheld) => "unheld",
        (_, LeaseRole::Unknown) => "unknown",
    }
}

pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let replica = state.config.replica.as_deref();
    let probe = state.app.probe(replica).await;
    let reconciler = lease_role(replica.is_some(), probe.reconciler);
    let ready = probe.ready();
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        database: check(probe.database),
        broker: check(probe.broker),
        reconciler,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
