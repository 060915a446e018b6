//! Passkeys (WebAuthn discoverable credentials, with webauthn-rs): registering, naming and
//! removing them, signing in with one, and the fresh proof an unlock from the web app asks for.
//!
//! - Every ceremony's state is kept in the database under the digest of a random id handed to
//!   the page (`lkw_…`), for `CEREMONY_TTL`, and taken out when it finishes: a ceremony works
//!   across replicas and can be finished once.
//! - Registration asks for a resident (discoverable) key and user verification, so the passkey
//!   alone signs its person in (webauthn-rs's passkey default is "discouraged"; we override it).
//! - The unlock proof (docs/ARCHITECTURE.md, "Fresh proof to unlock"): a session that has not
//!   given a proof within `unlock_proof_window` must give one before an unlock — a passkey
//!   assertion when the person has a passkey, else their password. API tokens and the terminal
//!   are exempt.

use jiff::{SignedDuration, Timestamp};
use latchkey_core::PersonId;
use latchkey_store::audit::NewEvent;
use latchkey_store::auth as grants;
use latchkey_store::passkeys::{self as repo, Ceremony};
use latchkey_store::people;
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid,
};

use crate::auth::SignedIn;
use crate::authz::{OwnAccount, OwnSession, PasskeyOwner, Principal, Via};
use crate::{App, AppError, Result, secrets};

/// How long a page has to finish a ceremony it started.
pub const CEREMONY_TTL: SignedDuration = SignedDuration::from_mins(5);

/// The relying party: the origin the pages are served from. Its host is the relying party id.
#[derive(Clone, Debug)]
pub struct RelyingParty {
    pub origin: Url,
    /// Accept any port of the origin's host (for `localhost` on a random port in tests and the
    /// demo; never for a public URL).
    pub any_port: bool,
}

impl Default for RelyingParty {
    /// `http://localhost` on any port: what a browser on the same machine calls a server that
    /// listens on a loopback address. (An IP address is not a valid WebAuthn site.)
    fn default() -> Self {
        RelyingParty {
            origin: Url::parse("http://localhost").unwrap_or_else(|_| unreachable!()),
            any_port: true,
        }
    }
}

impl RelyingParty {
    /// The relying party of a public URL (`https://doors.example.org`).
    ///
    /// # Errors
    /// `Invalid` when it is not an http(s) URL with a host name.
    pub fn for_public_url(url: &str) -> Result<RelyingParty> {
        let origin = Url::parse(url)
            .map_err(|e| AppError::invalid("public_url", format!("is not a URL: {e}")))?;
        if !matches!(origin.scheme(), "http" | "https") || origin.host_str().is_none() {
            return Err(AppError::invalid(
                "public_url",
                "must be an http(s) URL with a host name",
            ));
        }
        Ok(RelyingParty {
            origin,
            any_port: false,
        })
    }

    pub(crate) fn build(&self) -> std::result::Result<webauthn_rs::Webauthn, String> {
        let id = self
            .origin
            .host_str()
            .ok_or_else(|| "the public URL has no host".to_owned())?;
        webauthn_rs::WebauthnBuilder::new(id, &self.origin)
            .and_then(|b| b.rp_name("latchkey").allow_any_port(self.any_port).build())
            .map_err(|e| format!("{e} (relying party {id}, origin {})", self.origin))
    }
}

/// A ceremony for the page to run: its id (sent back when it finishes) and the options to
/// hand to `navigator.credentials`.
#[derive(Clone, Debug)]
pub struct Started {
    pub ceremony: String,
    pub options: Value,
}

/// A passkey as its owner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct PasskeyView {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// What an unlock from the web app needs first.
#[derive(Clone, Debug)]
pub enum ProofNeeded {
    /// A proof was given within the window: nothing.
    Fresh,
    /// A passkey assertion: run this ceremony.
    Passkey(Started),
    /// The person has no passkey: their password.
    Password,
}

/// A proof given for an unlock.
pub enum Proof<'a> {
    Passkey {
        ceremony: &'a str,
        credential: &'a str,
    },
    Password(&'a str),
}

const REGISTER: &str = "register";
const SIGN_IN: &str = "sign_in";
const UNLOCK: &str = "unlock";

fn state_json<T: serde::Serialize>(state: &T) -> Result<String> {
    serde_json::to_string(state).map_err(|e| AppError::Internal(format!("ceremony state: {e}")))
}

fn check_passkey_name(name: &str) -> Result<String> {
    crate::directory::check_text("name", name, 100)
}

/// What an API token or the terminal is told when it asks for a session's ceremony.
const SESSION_ONLY: &str = "passkeys are managed from a signed-in browser session";

fn bad_assertion() -> AppError {
    AppError::Unauthenticated("the passkey check failed: nothing was done".into())
}

impl App {
    async fn start_ceremony(
        &self,
        kind: &str,
        person: Option<PersonId>,
        session: Option<i64>,
        state: String,
        options: Value,
    ) -> Result<Started> {
        let now = self.now();
        let (id, digest) = secrets::new_token("lkw")?;
        let c = Ceremony {
            kind: kind.to_owned(),
            person_id: person,
            session_id: session,
            state,
            expires_at: now
                .checked_add(CEREMONY_TTL)
                .map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let mut tx = self.store().write().await?;
        repo::start_ceremony(tx.conn(), &digest, &c, now).await?;
        tx.commit().await?;
        Ok(Started {
            ceremony: id,
            options,
        })
    }

    /// Takes a ceremony of `kind` out of the database; an unknown, expired or other kind of
    /// ceremony is refused (and is gone either way).
    async fn take_ceremony(&self, kind: &str, id: &str) -> Result<Ceremony> {
        let mut tx = self.store().write().await?;
        let c = repo::take_ceremony(tx.conn(), &secrets::token_digest(id)).await?;
        tx.commit().await?;
        match c {
            Some(c) if c.kind == kind && c.expires_at > self.now() => Ok(c),
            _ => Err(AppError::Unauthenticated(
                "this passkey request has expired or was already used: try again".into(),
            )),
        }
    }

    /// The person's WebAuthn user handle, made on first use.
    async fn user_handle(&self, person: PersonId) -> Result<Uuid> {
        let mut tx = self.store().write().await?;
        let handle = match repo::user_handle(tx.conn(), person).await? {
            Some(h) => h,
            None => {
                let h = secrets::random_bytes::<16>()?.to_vec();
                repo::set_user_handle(tx.conn(), person, &h).await?;
                h
            }
        };
        tx.commit().await?;
        Uuid::from_slice(&handle).map_err(|e| AppError::Internal(format!("user handle: {e}")))
    }

    async fn passkeys_of(&self, person: PersonId) -> Result<Vec<(i64, Passkey)>> {
        let mut conn = self.store().read().await?;
        repo::list_passkeys(&mut conn, person)
            .await?
            .into_iter()
            .map(|p| {
                serde_json::from_str::<Passkey>(&p.passkey)
                    .map(|k| (p.id, k))
                    .map_err(|e| AppError::Internal(format!("passkey {}: {e}", p.id)))
            })
            .collect()
    }

    /// Starts registering a passkey for the signed-in person. A passkey is a way in, so adding
    /// one needs the same fresh proof as an unlock — given within `unlock_proof_window` (an
    /// invitation link just used counts) — or the person's `password` now; otherwise a stolen
    /// session could add its own key and keep it.
    ///
    /// # Errors
    /// `Conflict` outside a browser session; `Unauthenticated` without a fresh proof or with a
    /// wrong password (counted like a wrong unlock proof); `Unavailable` when passkeys are not
    /// configured.
    pub async fn start_passkey_registration(
        &self,
        own: OwnSession<'_>,
        password: Option<&str>,
    ) -> Result<Started> {
        let who = own.principal();
        let session = own.session();
        if !self.proven_recently(session).await? {
            let Some(pw) = password.filter(|p| !p.is_empty()) else {
                return Err(AppError::Unauthenticated(
                    "confirm it is you first: type your password to add a passkey".into(),
                ));
            };
            let cfg = self.config();
            let key = format!("proof:person:{}", who.id());
            self.limits()
                .hit(&key, cfg.login_attempts, cfg.login_window)
                .await?;
            if let Err(e) = self.verify_password_of(who, pw).await {
                let tx = self.store().write().await?;
                let ev = NewEvent::new("auth.proof_failed", format!("person:{}", who.id()))
                    .actor(Some(who.id()))
                    .data(json!({ "session": session, "for": "passkey_registration" }));
                self.commit_with(tx, vec![ev]).await?;
                return Err(e);
            }
            self.limits().forgive(&key).await?;
        }
        let person = who.person();
        let handle = self.user_handle(person.id).await?;
        let existing = self
            .passkeys_of(person.id)
            .await?
            .into_iter()
            .map(|(_, k)| k.cred_id().clone())
            .collect::<Vec<_>>();
        let user_name = person.email.clone().unwrap_or_else(|| person.name.clone());
        let (ccr, state): (_, PasskeyRegistration) = self
            .webauthn()?
            .start_passkey_registration(handle, &user_name, &person.name, Some(existing))
            .map_err(|e| AppError::Internal(format!("passkey registration: {e}")))?;
        let mut options = serde_json::to_value(&ccr)
            .map_err(|e| AppError::Internal(format!("passkey options: {e}")))?;
        // A passkey must be discoverable, so that it signs its person in without a name typed.
        if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection") {
            sel["residentKey"] = json!("required");
            sel["requireResidentKey"] = json!(true);
        }
        self.start_ceremony(
            REGISTER,
            Some(person.id),
            Some(session),
            state_json(&state)?,
            options,
        )
        .await
    }

    /// The caller's browser session, in which passkeys are registered and the unlock proof is
    /// given ([`Principal::own_session`]).
    ///
    /// # Errors
    /// `Conflict` for an API token or the terminal.
    pub fn may_use_session<'a>(&self, who: &'a Principal) -> Result<OwnSession<'a>> {
        who.own_session(SESSION_ONLY)
    }

    /// Finishes registering a passkey, named `name`, for the session's person.
    ///
    /// # Errors
    /// `Invalid` for a bad name; `Unauthenticated` for an expired ceremony or one of another
    /// session, or a credential that does not verify; `Conflict` when that authenticator's
    /// credential is already registered.
    pub async fn finish_passkey_registration(
        &self,
        own: OwnSession<'_>,
        ceremony: &str,
        credential: &str,
        name: &str,
    ) -> Result<PasskeyView> {
        let name = check_passkey_name(name)?;
        let who = own.principal();
        let session = own.session();
        let c = self.take_ceremony(REGISTER, ceremony).await?;
        if c.session_id != Some(session) || c.person_id != Some(who.id()) {
            return Err(bad_assertion());
        }
        let state: PasskeyRegistration = serde_json::from_str(&c.state)
            .map_err(|e| AppError::Internal(format!("ceremony state: {e}")))?;
        let reg: RegisterPublicKeyCredential =
            serde_json::from_str(credential).map_err(|_| bad_assertion())?;
        let passkey = self
            .webauthn()?
            .finish_passkey_registration(&reg, &state)
            .map_err(|e| {
                tracing::info!("passkey registration refused: {e}");
                bad_assertion()
            })?;
        let now = self.now();
        let mut tx = self.store().write().await?;
        let stored = repo::create_passkey(
            tx.conn(),
            who.id(),
            passkey.cred_id().as_ref(),
            &name,
            &state_json(&passkey)?,
            now,
        )
        .await
        .map_err(|e| AppError::conflict_or(e, "this passkey is already registered"))?;
        let ev = NewEvent::new("auth.passkey_added", format!("person:{}", who.id()))
            .actor(Some(who.id()))
            .data(json!({ "passkey": stored.id, "name": name }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(view(stored))
    }

    /// The caller's passkeys.
    ///
    /// # Errors
    /// `Store` on a failed read.
    pub async fn list_passkeys(&self, who: &Principal) -> Result<Vec<PasskeyView>> {
        let mut conn = self.store().read().await?;
        Ok(repo::list_passkeys(&mut conn, who.id())
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    /// Checks `name`, loads passkey `id` and checks that it is the caller's
    /// ([`Principal::passkey_owner`]).
    ///
    /// # Errors
    /// `Invalid` for a bad name; `NotFound` when the caller has no passkey with that id.
    pub async fn may_rename_passkey<'a>(
        &self,
        who: &'a Principal,
        id: i64,
        name: &str,
    ) -> Result<PasskeyOwner<'a>> {
        check_passkey_name(name)?;
        self.may_remove_passkey(who, id).await
    }

    /// Loads passkey `id` and checks that it is the caller's ([`Principal::passkey_owner`]).
    ///
    /// # Errors
    /// `NotFound` when the caller has no passkey with that id.
    pub async fn may_remove_passkey<'a>(
        &self,
        who: &'a Principal,
        id: i64,
    ) -> Result<PasskeyOwner<'a>> {
        let mut conn = self.store().read().await?;
        let passkey = repo::get_passkey(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("passkey"))?;
        who.passkey_owner(passkey)
    }

    /// Renames the caller's passkey the capability carries.
    ///
    /// # Errors
    /// `Invalid` for a bad name; `NotFound` when it was removed meanwhile.
    pub async fn rename_passkey(&self, owner: PasskeyOwner<'_>, name: &str) -> Result<()> {
        let name = check_passkey_name(name)?;
        let (person, id) = (owner.passkey().person_id, owner.passkey().id);
        let mut tx = self.store().write().await?;
        if !repo::rename_passkey(tx.conn(), person, id, &name).await? {
            return Err(AppError::not_found("passkey"));
        }
        let ev = NewEvent::new("auth.passkey_renamed", format!("person:{person}"))
            .actor(Some(owner.principal().id()))
            .data(json!({ "passkey": id, "name": name }));
        self.commit_with(tx, vec![ev]).await
    }

    /// Removes the caller's passkey the capability carries: it signs nobody in any more.
    ///
    /// # Errors
    /// `NotFound` when it was removed meanwhile.
    pub async fn remove_passkey(&self, owner: PasskeyOwner<'_>) -> Result<()> {
        let (person, id) = (owner.passkey().person_id, owner.passkey().id);
        let mut tx = self.store().write().await?;
        if !repo::delete_passkey(tx.conn(), person, id).await? {
            return Err(AppError::not_found("passkey"));
        }
        let ev = NewEvent::new("auth.passkey_removed", format!("person:{person}"))
            .actor(Some(owner.principal().id()))
            .data(json!({ "passkey": id }));
        self.commit_with(tx, vec![ev]).await
    }

    /// Starts a sign-in with a passkey the browser offers (by a button, or as autofill).
    ///
    /// # Errors
    /// `Unavailable` when passkeys are not configured.
    pub async fn start_passkey_sign_in(&self) -> Result<Started> {
        let (rcr, state): (_, DiscoverableAuthentication) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(|e| AppError::Internal(format!("passkey sign-in: {e}")))?;
        let options = serde_json::to_value(&rcr)
            .map_err(|e| AppError::Internal(format!("passkey options: {e}")))?;
        self.start_ceremony(SIGN_IN, None, None, state_json(&state)?, options)
            .await
    }

    /// Finishes a passkey sign-in: a session for the passkey's person. Failures are audited
    /// and counted per source address like wrong passwords.
    ///
    /// # Errors
    /// `RateLimited` for a source past its limit; `Unauthenticated` for anything that does not
    /// verify (one answer for all: an unknown passkey, a wrong signature, an expired ceremony).
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony: &str,
        credential: &str,
        source: &str,
    ) -> Result<SignedIn> {
        let cfg = self.config();
        let by_source = format!("login:source:{source}");
        self.limits()
            .hit(&by_source, cfg.login_attempts * 3, cfg.login_window)
            .await?;
        let outcome = self.verify_sign_in(ceremony, credential).await;
        let (person, passkey_id, updated) = match outcome {
            Ok(found) => found,
            Err(e) => {
                let ev = NewEvent::new("auth.login_failed", "passkey")
                    .data(json!({ "source": source, "via": "passkey" }));
                let tx = self.store().write().await?;
                self.commit_with(tx, vec![ev]).await?;
                return Err(e);
            }
        };
        self.limits().forgive(&by_source).await?;
        let now = self.now();
        let expires = now
            .checked_add(cfg.session_ttl)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let (token, digest) = secrets::new_token("lks")?;
        let mut tx = self.store().write().await?;
        repo::passkey_used(tx.conn(), passkey_id, &updated, now).await?;
        let session =
            grants::create_session(tx.conn(), &digest, person, now, expires, source).await?;
        let ev = NewEvent::new("auth.login", format!("person:{person}"))
            .actor(Some(person))
            .data(json!({ "session": session.id, "source": source, "via": "passkey", "passkey": passkey_id }));
        self.commit_with(tx, vec![ev]).await?;
        let person = people::get_person(&mut *self.store().read().await?, person)
            .await?
            .ok_or_else(|| AppError::Unauthenticated("this account no longer exists".into()))?;
        Ok(SignedIn {
            token,
            session,
            person,
        })
    }

    /// The person, passkey row and updated passkey record of a verified discoverable assertion.
    async fn verify_sign_in(
        &self,
        ceremony: &str,
        credential: &str,
    ) -> Result<(PersonId, i64, String)> {
        let c = self.take_ceremony(SIGN_IN, ceremony).await?;
        let state: DiscoverableAuthentication = serde_json::from_str(&c.state)
            .map_err(|e| AppError::Internal(format!("ceremony state: {e}")))?;
        let cred: PublicKeyCredential =
            serde_json::from_str(credential).map_err(|_| bad_assertion())?;
        let wa = self.webauthn()?;
        let (handle, cred_id) = wa
            .identify_discoverable_authentication(&cred)
            .map_err(|_| bad_assertion())?;
        let mut conn = self.store().read().await?;
        let stored = repo::find_passkey(&mut conn, cred_id)
            .await?
            .ok_or_else(bad_assertion)?;
        let owner = repo::person_of_handle(&mut conn, handle.as_bytes()).await?;
        drop(conn);
        if owner != Some(stored.person_id) {
            return Err(bad_assertion());
        }
        let mut passkey: Passkey = serde_json::from_str(&stored.passkey)
            .map_err(|e| AppError::Internal(format!("passkey {}: {e}", stored.id)))?;
        let result = wa
            .finish_discoverable_authentication_v2(&cred, state, &passkey)
            .map_err(|e| {
                tracing::info!("passkey sign-in refused: {e}");
                bad_assertion()
            })?;
        passkey.update_credential(&result);
        Ok((stored.person_id, stored.id, state_json(&passkey)?))
    }

    /// Whether the caller gave a proof within the window (always for API tokens and the
    /// terminal, which are exempt): the Security page asks for the password only when not.
    ///
    /// # Errors
    /// `Store` on a failed read.
    pub async fn proof_is_fresh(&self, who: &Principal) -> Result<bool> {
        match who.via() {
            Via::Session(session) => self.proven_recently(session).await,
            _ => Ok(true),
        }
    }

    /// Whether the caller's session gave a proof within the window.
    async fn proven_recently(&self, session: i64) -> Result<bool> {
        let mut conn = self.store().read().await?;
        let at = repo::session_proven_at(&mut conn, session).await?;
        Ok(at.is_some_and(|t| {
            t.checked_add(self.config().unlock_proof_window)
                .is_ok_and(|until| until > self.now())
        }))
    }

    /// What an unlock by the caller needs first: nothing (an API token, the terminal, or a
    /// proof within the window), a passkey assertion (with the ceremony to run), or the
    /// password of a person without a passkey.
    ///
    /// # Errors
    /// `Store` on a failed read.
    pub async fn unlock_proof(&self, own: OwnAccount<'_>) -> Result<ProofNeeded> {
        let who = own.principal();
        let Via::Session(session) = who.via() else {
            return Ok(ProofNeeded::Fresh);
        };
        if self.proven_recently(session).await? {
            return Ok(ProofNeeded::Fresh);
        }
        let keys: Vec<Passkey> = self
            .passkeys_of(who.id())
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        if keys.is_empty() {
            return Ok(ProofNeeded::Password);
        }
        let (rcr, state): (_, PasskeyAuthentication) = self
            .webauthn()?
            .start_passkey_authentication(&keys)
            .map_err(|e| AppError::Internal(format!("passkey proof: {e}")))?;
        let options = serde_json::to_value(&rcr)
            .map_err(|e| AppError::Internal(format!("passkey options: {e}")))?;
        Ok(ProofNeeded::Passkey(
            self.start_ceremony(
                UNLOCK,
                Some(who.id()),
                Some(session),
                state_json(&state)?,
                options,
            )
            .await?,
        ))
    }

    /// Whether the caller must still give a proof before an unlock (without starting a
    /// ceremony): `None` when not, else whether a passkey (true) or the password is asked.
    ///
    /// # Errors
    /// `Store` on a failed read.
    pub async fn unlock_proof_kind(&self, who: &Principal) -> Result<Option<bool>> {
        let Via::Session(session) = who.via() else {
            return Ok(None);
        };
        if self.proven_recently(session).await? {
            return Ok(None);
        }
        let mut conn = self.store().read().await?;
        Ok(Some(
            !repo::list_passkeys(&mut conn, who.id()).await?.is_empty(),
        ))
    }

    /// Records a proof for the caller's session: a passkey assertion for the ceremony that
    /// [`App::unlock_proof`] started, or the password of a person without a passkey. A wrong
    /// proof is audited and changes nothing.
    ///
    /// # Errors
    /// `Unauthenticated` for a proof that does not verify (or a password from a person who has
    /// a passkey: they prove with it); `Conflict` outside a browser session; `RateLimited`.
    pub async fn give_unlock_proof(&self, own: OwnSession<'_>, proof: Proof<'_>) -> Result<()> {
        let who = own.principal();
        let session = own.session();
        let cfg = self.config();
        let key = format!("proof:person:{}", who.id());
        self.limits()
            .hit(&key, cfg.login_attempts, cfg.login_window)
            .await?;
        let checked = match proof {
            Proof::Passkey {
                ceremony,
                credential,
            } => {
                self.verify_unlock_assertion(who, session, ceremony, credential)
                    .await
            }
            Proof::Password(pw) => self.verify_unlock_password(who, pw).await.map(|()| None),
        };
        let now = self.now();
        let mut tx = self.store().write().await?;
        match checked {
            Ok(used) => {
                if let Some((id, record)) = &used {
                    repo::passkey_used(tx.conn(), *id, record, now).await?;
                }
                repo::set_session_proven(tx.conn(), session, now).await?;
                let ev = NewEvent::new("auth.proof_given", format!("person:{}", who.id()))
                    .actor(Some(who.id()))
                    .data(json!({ "session": session, "via": if used.is_some() { "passkey" } else { "password" } }));
                self.commit_with(tx, vec![ev]).await?;
                self.limits().forgive(&key).await
            }
            Err(e) => {
                let ev = NewEvent::new("auth.proof_failed", format!("person:{}", who.id()))
                    .actor(Some(who.id()))
                    .data(json!({ "session": session }));
                self.commit_with(tx, vec![ev]).await?;
                Err(e)
            }
        }
    }

    async fn verify_unlock_assertion(
        &self,
        who: &Principal,
        session: i64,
        ceremony: &str,
        credential: &str,
    ) -> Result<Option<(i64, String)>> {
        let c = self.take_ceremony(UNLOCK, ceremony).await?;
        if c.session_id != Some(session) || c.person_id != Some(who.id()) {
            return Err(bad_assertion());
        }
        let state: PasskeyAuthentication = serde_json::from_str(&c.state)
            .map_err(|e| AppError::Internal(format!("ceremony state: {e}")))?;
        let cred: PublicKeyCredential =
            serde_json::from_str(credential).map_err(|_| bad_assertion())?;
        let result = self
            .webauthn()?
            .finish_passkey_authentication(&cred, &state)
            .map_err(|e| {
                tracing::info!("passkey proof refused: {e}");
                bad_assertion()
            })?;
        let mut keys = self.passkeys_of(who.id()).await?;
        let (id, key) = keys
            .iter_mut()
            .find(|(_, k)| k.cred_id() == result.cred_id())
            .ok_or_else(bad_assertion)?;
        key.update_credential(&result);
        Ok(Some((*id, state_json(key)?)))
    }

    async fn verify_unlock_password(&self, who: &Principal, password: &str) -> Result<()> {
        {
            let mut conn = self.store().read().await?;
            if !repo::list_passkeys(&mut conn, who.id()).await?.is_empty() {
                return Err(AppError::Unauthenticated(
                    "you have a passkey: confirm with it, not with your password".into(),
                ));
            }
        }
        self.verify_password_of(who, password).await
    }

    /// Whether `password` is the caller's.
    async fn verify_password_of(&self, who: &Principal, password: &str) -> Result<()> {
        let mut conn = self.store().read().await?;
        let hash = match who.person().email.as_deref() {
            Some(email) => people::find_by_email(&mut conn, email)
                .await?
                .filter(|(p, _)| p.id == who.id())
                .and_then(|(_, h)| h),
            None => None,
        };
        drop(conn);
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            hash.is_some_and(|h| secrets::verify_password(&pw, &h))
        })
        .await
        .map_err(|e| AppError::Internal(format!("password check: {e}")))?;
        if ok {
            Ok(())
        } else {
            Err(AppError::Unauthenticated(
                "the password is wrong: nothing was done".into(),
            ))
        }
    }
}

pub(crate) fn view(p: repo::StoredPasskey) -> PasskeyView {
    PasskeyView {
        id: p.id,
        name: p.name,
        created_at: p.created_at,
        last_used_at: p.last_used_at,
    }
}
