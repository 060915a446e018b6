//! Builds the application from the effective configuration, and finds who a terminal command
//! acts as.

use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use latchkey_app::authz::Principal;
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, AppError, DevicePort, SystemClock};
use latchkey_core::PersonId;
use latchkey_store::{Store, people};

use crate::config::Config;

/// Turns an app error into one sentence for the terminal. Storage and internal errors carry
/// their detail here: the person at the terminal is the operator, not a remote caller.
pub fn app_err(e: AppError) -> anyhow::Error {
    match e {
        AppError::Store(s) => anyhow!("storage failed: {s}"),
        AppError::Internal(s) => anyhow!("internal error: {s}"),
        other => anyhow!("{other}"),
    }
}

/// Opens the database (creating the data directory for SQLite), loads the keys and keys the
/// audit chain of a log written before the chain was keyed (once; logged). `devices`
/// is told when a door's desired lock state changes: the reconciler's notifier for `serve`,
/// `NoDevices` for terminal commands (the running server's periodic sweep picks their changes
/// up).
///
/// # Errors
/// The data directory cannot be created, the database cannot be opened, or the key is bad.
pub async fn open_app(config: &Config, devices: Arc<dyn DevicePort>) -> Result<App> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let store = Store::open(&config.database_url).await.with_context(|| {
        format!(
            "cannot open the database {}",
            latchkey_store::redact_url(&config.database_url)
        )
    })?;
    let keys = match &config.master_key.0 {
        Some(hex) => Keys::from_hex(hex).map_err(app_err)?,
        None => Keys::load_or_create(&config.data_dir).map_err(app_err)?,
    };
    let app = App::new(
        store,
        keys,
        Arc::new(SystemClock),
        devices,
        AppConfig::default(),
    );
    // A log whose head is damaged cannot be keyed; that must not keep `audit verify` (which
    // names the damage) or the server from starting.
    match app.key_audit_chain().await {
        Ok(Some(seq)) if seq > 1 => tracing::warn!(
            marker = seq,
            "the audit chain is keyed from event {seq} on; events 1 to {} were written without \
             the key by an older latchkey and stay verified as they were",
            seq - 1
        ),
        Ok(Some(_)) => tracing::info!("the audit chain is keyed from its first event"),
        Ok(None) => {}
        Err(e) => {
            tracing::error!("the audit chain could not be keyed: {e}; run `latchkey audit verify`")
        }
    }
    Ok(app)
}

/// Scans ids upward for the first admin; bounded because the store has no such query yet.
async fn first_admin(store: &Store) -> Result<Option<PersonId>> {
    let mut conn = store
        .read()
        .await
        .map_err(|e| anyhow!("storage failed: {e}"))?;
    let admin = people::first_admin(&mut conn)
        .await
        .map_err(|e| anyhow!("storage failed: {e}"))?;
    Ok(admin.map(|p| p.id))
}

/// The admin a terminal command acts as: `--as EMAIL`, or the first admin.
///
/// # Errors
/// No such admin, or no admin at all (with how to create one).
pub async fn acting_as(app: &App, email: Option<&str>) -> Result<Principal> {
    let id = match email {
        Some(email) => {
            let mut conn = app
                .store()
                .read()
                .await
                .map_err(|e| anyhow!("storage failed: {e}"))?;
            let found = people::find_by_email(&mut conn, &email.trim().to_lowercase())
                .await
                .map_err(|e| anyhow!("storage failed: {e}"))?;
            match found {
                Some((p, _)) if p.is_admin => p.id,
                Some(_) => bail!("{email} is not an admin; terminal commands act as an admin"),
                None => bail!("nobody has the e-mail address {email}"),
            }
        }
        None => first_admin(app.store()).await?.ok_or_else(|| {
            anyhow!(
                "there is no admin yet; create one with `latchkey admin create --name NAME --email EMAIL`"
            )
        })?,
    };
    app.terminal_principal(id).await.map_err(app_err)
}
