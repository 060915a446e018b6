//! Builds the application from the effective configuration, and finds who a terminal command
//! acts as.

use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use latchkey_app::authz::Principal;
use latchkey_app::passkeys::RelyingParty;
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, AppError, DevicePort, SystemClock};
use latchkey_store::Store;

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

/// Opens the database (creating the private data directory), loads the keys and keys the
/// audit chain of a log written before the chain was keyed (once; logged). `devices`
/// is told when a door's desired lock state changes: the reconciler's notifier for `serve`,
/// `NoDevices` for terminal commands (the running server hears their changes through the
/// change feed, docs/ARCHITECTURE.md).
///
/// # Errors
/// The data directory cannot be created, the database cannot be opened, or the key is bad.
pub async fn open_app(config: &Config, devices: Arc<dyn DevicePort>) -> Result<App> {
    private_data_dir(&config.data_dir)?;
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
    // Passkeys belong to the origin browsers reach latchkey at: the public URL when set, else
    // `http://localhost` on any port (a browser on this machine; an IP is not a WebAuthn site).
    let relying_party = match &config.public_url {
        Some(url) => RelyingParty::for_public_url(&url.to_string()).map_err(app_err)?,
        None => RelyingParty::default(),
    };
    let app = App::new(
        store,
        keys,
        Arc::new(SystemClock),
        devices,
        AppConfig {
            relying_party,
            push: latchkey_app::push::PushPolicy {
                enabled: config.push_subject.is_some(),
                ..latchkey_app::push::PushPolicy::default()
            },
            alarms: config.alarms.clone(),
            ..AppConfig::default()
        },
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

/// Creates the data directory readable by this user only (0700), or tightens an existing one
/// and the master key in it, with a warning naming the old mode: the directory holds the
/// database and the key that opens every PIN in it. (The database files themselves are made
/// 0600 by the store.)
///
/// # Errors
/// The directory cannot be created or its mode, or the key's, cannot be changed.
fn private_data_dir(dir: &std::path::Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        }
        for (path, private) in [(dir.to_path_buf(), 0o700), (dir.join("master.key"), 0o600)] {
            let mode = match std::fs::metadata(&path) {
                Ok(m) => m.permissions().mode() & 0o777,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            };
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(private))
                    .with_context(|| {
                        format!(
                            "{} is readable by others (mode {mode:04o}) and cannot be made \
                             {private:04o}",
                            path.display()
                        )
                    })?;
                tracing::warn!(
                    "{} was readable by others (mode {mode:04o}); it is now {private:04o}",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    Ok(())
}

/// The admin a terminal command acts as: `--as EMAIL`, or the first admin.
///
/// # Errors
/// No such admin, or no admin at all (with how to create one).
pub async fn acting_as(app: &App, email: Option<&str>) -> Result<Principal> {
    match (app.terminal_admin(email).await, email) {
        (Ok(admin), _) => Ok(admin),
        (Err(AppError::NotFound(_)), None) => Err(anyhow!(
            "there is no admin yet; create one with `latchkey admin create --name NAME --email EMAIL`"
        )),
        (Err(AppError::NotFound(_)), Some(email)) => {
            Err(anyhow!("nobody has the e-mail address {email}"))
        }
        (Err(e), _) => Err(app_err(e)),
    }
}
