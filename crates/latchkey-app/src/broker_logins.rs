//! Logins of the embedded MQTT broker's device listener: one per Zigbee2MQTT gateway (or a
//! read-only observer of device state). The password is a random 256-bit token shown once and
//! stored as its SHA-256 digest, like an API token; rotating replaces it, revoking deletes the
//! login. Wrong passwords count against the source address in the database-backed limits
//! (ARCHITECTURE.md, "Where limits live") and each one is an audit event.

use latchkey_store::StoreError;
use latchkey_store::broker_logins::{self as repo, BrokerLogin};
use serde_json::json;

use crate::authz::Admin;
use crate::secrets;
use crate::{App, AppError, Result};
use latchkey_store::audit::NewEvent;

/// What a broker login may do (the embedded broker's topic rules, DEVICES.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerRole {
    /// Zigbee2MQTT: publishes device state, never a command; reads everything under the base
    /// topic, commands included.
    Gateway,
    /// A dashboard: reads device state, never a command (nor the PINs in one); publishes
    /// nothing.
    Observer,
    /// Home Assistant: reads latchkey's discovery and state topics, publishes only lock and
    /// unlock commands there (each then authorised as the service account's) and its own
    /// birth message; never a Zigbee2MQTT topic.
    HomeAssistant,
}

impl BrokerRole {
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerRole::Gateway => "gateway",
            BrokerRole::Observer => "observer",
            BrokerRole::HomeAssistant => "home_assistant",
        }
    }

    /// # Errors
    /// `Invalid` for anything but `gateway` or `observer`.
    pub fn parse(text: &str) -> Result<BrokerRole> {
        match text {
            "gateway" => Ok(BrokerRole::Gateway),
            "observer" => Ok(BrokerRole::Observer),
            "home_assistant" => Ok(BrokerRole::HomeAssistant),
            _ => Err(AppError::invalid(
                "role",
                "must be gateway, observer or home_assistant",
            )),
        }
    }
}

/// A login with its password, returned once by create and rotate.
pub struct NewBrokerLogin {
    pub login: BrokerLogin,
    /// Shown once; only its digest is kept.
    pub password: String,
}

impl std::fmt::Debug for NewBrokerLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewBrokerLogin")
            .field("login", &self.login)
            .field("password", &"****")
            .finish()
    }
}

/// The name `serve` gives the login it creates when the broker listens beyond loopback and has
/// none.
pub const FIRST_GATEWAY: &str = "zigbee2mqtt";

/// A login name is an MQTT user name and the prefix of its clients' ids: keep it plain.
fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if plain {
        Ok(name)
    } else {
        Err(AppError::invalid(
            "name",
            "must be 1 to 64 letters, digits, '-', '_' or '.'",
        ))
    }
}

fn with_role(login: BrokerLogin) -> Result<(BrokerLogin, BrokerRole)> {
    let role = BrokerRole::parse(&login.role)
        .map_err(|_| AppError::Internal(format!("broker login role {}", login.role)))?;
    Ok((login, role))
}

impl App {
    /// Creates a broker login; its password is returned once.
    ///
    /// # Errors
    /// `Invalid` for a bad name; `Conflict` when a login has this name already.
    pub async fn create_broker_login(
        &self,
        admin: &Admin<'_>,
        name: &str,
        role: BrokerRole,
    ) -> Result<NewBrokerLogin> {
        let name = check_name(name)?;
        self.insert_broker_login(Some(admin.principal().id()), name, role)
            .await
    }

    async fn insert_broker_login(
        &self,
        actor: Option<latchkey_core::PersonId>,
        name: &str,
        role: BrokerRole,
    ) -> Result<NewBrokerLogin> {
        let (password, digest) = secrets::new_token("lkm")?;
        let mut tx = self.store().write().await?;
        let login = repo::create(tx.conn(), name, role.as_str(), &digest, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => AppError::Conflict(format!(
                    "a broker login named {name} exists; rotate its password with \
                     `latchkey broker-login rotate {name}`"
                )),
                other => AppError::from(other),
            })?;
        let ev = NewEvent::new("broker.login_created", format!("broker_login:{name}"))
            .actor(actor)
            .data(json!({ "role": role.as_str() }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(NewBrokerLogin { login, password })
    }

    /// Gives a broker login a new password (returned once); the old one stops working at once:
    /// new connections are refused and the embedded broker drops the connections made with it
    /// (in this process at once, in the process running the broker when it reads the change
    /// feed).
    ///
    /// # Errors
    /// `NotFound` when no login has this name.
    pub async fn rotate_broker_login(
        &self,
        admin: &Admin<'_>,
        name: &str,
    ) -> Result<NewBrokerLogin> {
        let (password, digest) = secrets::new_token("lkm")?;
        let mut tx = self.store().write().await?;
        let login = repo::rotate(tx.conn(), name.trim(), &digest, self.now())
            .await?
            .ok_or_else(|| AppError::not_found(format!("a broker login named {name}")))?;
        let ev = NewEvent::new(
            "broker.login_rotated",
            format!("broker_login:{}", login.name),
        )
        .actor(Some(admin.principal().id()));
        self.commit_with(tx, vec![ev]).await?;
        self.devices().broker_logins_changed();
        Ok(NewBrokerLogin { login, password })
    }

    /// Deletes a broker login: it cannot connect again, and the embedded broker drops its
    /// connections (as for a rotation).
    ///
    /// # Errors
    /// `NotFound` when no login has this name.
    pub async fn revoke_broker_login(&self, admin: &Admin<'_>, name: &str) -> Result<()> {
        let name = name.trim();
        let mut tx = self.store().write().await?;
        if !repo::delete(tx.conn(), name).await? {
            return Err(AppError::not_found(format!("a broker login named {name}")));
        }
        let ev = NewEvent::new("broker.login_revoked", format!("broker_login:{name}"))
            .actor(Some(admin.principal().id()));
        self.commit_with(tx, vec![ev]).await?;
        self.devices().broker_logins_changed();
        Ok(())
    }

    /// The name of the broker login with this id (the API names logins by id, the terminal
    /// by name).
    ///
    /// # Errors
    /// `NotFound` when no login has this id; `Store` on a failed read.
    pub async fn broker_login_name(&self, _admin: &Admin<'_>, id: i64) -> Result<String> {
        let mut conn = self.store().read().await?;
        repo::get(&mut conn, id)
            .await?
            .map(|l| l.name)
            .ok_or_else(|| AppError::not_found(format!("broker login {id}")))
    }

    /// Every broker login (never a password).
    ///
    /// # Errors
    /// `Store` on a failed read.
    pub async fn list_broker_logins(&self, _admin: &Admin<'_>) -> Result<Vec<BrokerLogin>> {
        let mut conn = self.store().read().await?;
        Ok(repo::list(&mut conn).await?)
    }

    /// For `serve` on a broker address beyond loopback: creates the first gateway login
    /// ([`FIRST_GATEWAY`]) when there is no broker login at all, and returns it with its
    /// password; `None` when logins exist. Done by the server itself: whoever starts it holds
    /// the data directory.
    ///
    /// # Errors
    /// `Store` on a failed read or write.
    pub async fn first_gateway_login(&self) -> Result<Option<NewBrokerLogin>> {
        let existing = {
            let mut conn = self.store().read().await?;
            repo::list(&mut conn).await?
        };
        if !existing.is_empty() {
            return Ok(None);
        }
        match self
            .insert_broker_login(None, FIRST_GATEWAY, BrokerRole::Gateway)
            .await
        {
            Ok(created) => Ok(Some(created)),
            // Another replica created it a moment ago.
            Err(AppError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether a connected client's login still holds (the name exists and the password is its
    /// current one), asked by the embedded broker after a rotation or revocation and now and
    /// then; `None` when it does not. Quiet: a `None` here is not a wrong guess, so it neither counts against a limit
    /// nor writes `broker.login_failed`.
    ///
    /// # Errors
    /// `Store` when the check cannot be made.
    pub async fn broker_login_holds(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<(BrokerLogin, BrokerRole)>> {
        let found = {
            let mut conn = self.store().read().await?;
            repo::find(&mut conn, name, &secrets::token_digest(password)).await?
        };
        found.map(with_role).transpose()
    }

    /// Checks a broker login from `source` (the client's address). Wrong passwords count
    /// against the source before the check (a burst cannot slip past) and are taken back when
    /// right; each wrong one is an audit event `broker.login_failed`.
    ///
    /// # Errors
    /// `RateLimited` when the source is past its limit; `Unauthenticated` for an unknown name,
    /// a wrong password or a revoked login; `Store` when the check cannot be made.
    pub async fn check_broker_login(
        &self,
        name: &str,
        password: &str,
        source: &str,
    ) -> Result<(BrokerLogin, BrokerRole)> {
        let cfg = self.config();
        let by_source = format!("broker:source:{source}");
        self.limits()
            .hit(&by_source, cfg.login_attempts, cfg.login_window)
            .await?;
        let found = {
            let mut conn = self.store().read().await?;
            repo::find(&mut conn, name, &secrets::token_digest(password)).await?
        };
        let Some(login) = found else {
            let tx = self.store().write().await?;
            let ev = NewEvent::new("broker.login_failed", format!("broker_login:{name}"))
                .data(json!({ "source": source }));
            self.commit_with(tx, vec![ev]).await?;
            return Err(AppError::Unauthenticated(
                "the broker user name or password is wrong".into(),
            ));
        };
        self.limits().forgive(&by_source).await?;
        with_role(login)
    }
}
