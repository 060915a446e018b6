//! Invitation links: how a person added by staff or from the terminal sets their first password
//! (and then may register a passkey).
//!
//! The rules, in order (docs/ARCHITECTURE.md, "Invitations"):
//! 1. Only an admin, or staff where the person holds a membership, may create or revoke one;
//!    anyone else is told the person is not found.
//! 2. Only a person who has no password yet can be invited: a link is never a way for staff to
//!    take over an account that is in use.
//! 3. The token (`lki_` + 256 random bits) is returned once; only its SHA-256 digest is stored.
//! 4. A new link revokes the person's earlier ones; a link expires after `invitation_ttl`.
//! 5. Using it sets the password and signs the person in, in one transaction that marks it
//!    used; a second use, a revoked or expired link, or an unknown one changes nothing, and
//!    failed tries count against the source address.

use jiff::Timestamp;
use latchkey_core::PersonId;
use latchkey_store::audit::NewEvent;
use latchkey_store::auth as grants;
use latchkey_store::passkeys as repo;
use latchkey_store::people;
use serde_json::json;

use crate::auth::SignedIn;
use crate::authz::{Inviter, Principal};
use crate::{App, AppError, Result, secrets};

/// A link just made: the token is shown once.
pub struct NewInvitation {
    pub id: i64,
    pub person: PersonId,
    pub token: String,
    pub expires_at: Timestamp,
}

/// What a link is, as its holder may learn before using it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Usable: it signs in this person (their name, for the page).
    Valid {
        name: String,
        email: Option<String>,
    },
    Used,
    /// Revoked by staff, or replaced by a newer link.
    Revoked,
    Expired,
    /// No such link: mistyped, or never made.
    Unknown,
}

impl LinkState {
    /// Why a link cannot be used, in words for the page and the API.
    pub fn refusal(&self) -> Option<&'static str> {
        match self {
            LinkState::Valid { .. } => None,
            LinkState::Used => Some(
                "this invitation link has already been used. Sign in with your e-mail address \
                 and password, or ask the building's staff for a new link",
            ),
            LinkState::Revoked => Some(
                "this invitation link was withdrawn or replaced by a newer one. Use the newest \
                 link you were given, or ask the building's staff for a new one",
            ),
            LinkState::Expired => {
                Some("this invitation link has expired. Ask the building's staff for a new one")
            }
            LinkState::Unknown => Some(
                "this is not a valid invitation link. Check that you copied all of it, or ask \
                 the building's staff for a new one",
            ),
        }
    }
}

/// The link a person opens: `base` is where browsers reach latchkey (its public URL).
pub fn link(base: &str, token: &str) -> String {
    format!("{}/welcome?t={token}", base.trim_end_matches('/'))
}

/// Failed tries with invitation links allowed per source address in the login window.
fn attempts(app: &App) -> u32 {
    app.config().login_attempts
}

impl App {
    /// Loads `person` and their memberships and checks that the caller may invite them
    /// ([`Principal::inviter`]); the capability names the person.
    ///
    /// # Errors
    /// `NotFound` when the person does not exist or the caller may not invite them.
    pub async fn may_invite<'a>(
        &self,
        who: &'a Principal,
        person: PersonId,
    ) -> Result<Inviter<'a>> {
        let mut conn = self.store().read().await?;
        people::get_person(&mut conn, person)
            .await?
            .ok_or_else(|| AppError::not_found("person"))?;
        let theirs = people::memberships_of(&mut conn, person).await?;
        who.inviter(person, &theirs)
    }

    /// Makes a new invitation link for the person the capability names, revoking any earlier
    /// one.
    ///
    /// # Errors
    /// `NotFound` when the person no longer exists; `Conflict` when they already have a
    /// password (they sign in, or reset it with an admin) or no e-mail address to sign in with.
    pub async fn create_invitation(&self, may: Inviter<'_>) -> Result<NewInvitation> {
        let person = may.person();
        let who = may.principal();
        let now = self.now();
        let expires = now
            .checked_add(self.config().invitation_ttl)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let (token, digest) = secrets::new_token("lki")?;
        let mut tx = self.store().write().await?;
        let p = people::get_person(tx.conn(), person)
            .await?
            .ok_or_else(|| AppError::not_found("person"))?;
        if p.has_password {
            return Err(AppError::Conflict(
                "this person already has a password: they sign in with it (an invitation link \
                 only sets a first password)"
                    .into(),
            ));
        }
        // The request is well formed; the person's record cannot serve it yet.
        if p.email.is_none() {
            return Err(AppError::Conflict(
                "the person needs an e-mail address to sign in with; add one first".into(),
            ));
        }
        let replaced = repo::revoke_invitations(tx.conn(), person, now).await?;
        let inv = repo::create_invitation(
            tx.conn(),
            &digest,
            person,
            may.principal().id(),
            now,
            expires,
        )
        .await?;
        let ev = NewEvent::new("person.invitation_created", format!("person:{person}"))
            .actor(Some(who.id()))
            .data(json!({ "invitation": inv.id, "expires_at": expires, "replaced": replaced }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(NewInvitation {
            id: inv.id,
            person,
            token,
            expires_at: expires,
        })
    }

    /// Revokes `person`'s live invitation link.
    ///
    /// # Errors
    /// `NotFound` when the person does not exist, the caller may not invite them, or they have
    /// no live link.
    pub async fn revoke_invitation(&self, may: Inviter<'_>) -> Result<()> {
        let (who, person) = (may.principal(), may.person());
        let now = self.now();
        let mut tx = self.store().write().await?;
        if repo::revoke_invitations(tx.conn(), person, now).await? == 0 {
            return Err(AppError::not_found(
                "invitation link (the person has no unused one)",
            ));
        }
        let ev = NewEvent::new("person.invitation_revoked", format!("person:{person}"))
            .actor(Some(who.id()));
        self.commit_with(tx, vec![ev]).await
    }

    /// What a link is, without using it (the page shows the name, or why it cannot be used).
    /// Changes nothing but the source's count of failed tries.
    ///
    /// # Errors
    /// `RateLimited` when this source has tried too many bad links.
    pub async fn invitation_state(&self, token: &str, source: &str) -> Result<LinkState> {
        let state = self.link_state(token).await?;
        if state.refusal().is_some() {
            self.limits()
                .hit(
                    &format!("invite:source:{source}"),
                    attempts(self),
                    self.config().login_window,
                )
                .await?;
        }
        Ok(state)
    }

    async fn link_state(&self, token: &str) -> Result<LinkState> {
        let mut conn = self.store().read().await?;
        let Some(inv) = repo::find_invitation(&mut conn, &secrets::token_digest(token)).await?
        else {
            return Ok(LinkState::Unknown);
        };
        Ok(if inv.used_at.is_some() {
            LinkState::Used
        } else if inv.revoked_at.is_some() {
            LinkState::Revoked
        } else if inv.expires_at <= self.now() {
            LinkState::Expired
        } else {
            let p = people::get_person(&mut conn, inv.person_id)
                .await?
                .ok_or_else(|| AppError::not_found("person"))?;
            LinkState::Valid {
                name: p.name,
                email: p.email,
            }
        })
    }

    /// Uses an invitation link: sets the person's password and signs them in.
    ///
    /// # Errors
    /// `RateLimited` for a source past its limit of bad links; `Gone`-like `Conflict` with the
    /// reason for a used, revoked or expired link; `NotFound` for an unknown one; `Invalid` for
    /// a weak password. Nothing changes on any error.
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        source: &str,
    ) -> Result<SignedIn> {
        let by_source = format!("invite:source:{source}");
        let cfg = self.config();
        // Refused before the password is hashed: a flood of bad links costs no Argon2 time.
        if self.limits().count(&by_source).await? >= attempts(self) {
            self.limits()
                .hit(&by_source, attempts(self), cfg.login_window)
                .await?;
        }
        let state = self.link_state(token).await?;
        if let Some(why) = state.refusal() {
            self.limits()
                .hit(&by_source, attempts(self), cfg.login_window)
                .await?;
            if state != LinkState::Unknown {
                let mut tx = self.store().write().await?;
                if let Some(inv) =
                    repo::find_invitation(tx.conn(), &secrets::token_digest(token)).await?
                {
                    let ev = NewEvent::new(
                        "person.invitation_refused",
                        format!("person:{}", inv.person_id),
                    )
                    .data(json!({ "invitation": inv.id, "why": format!("{state:?}").to_lowercase(), "source": source }));
                    self.commit_with(tx, vec![ev]).await?;
                }
                return Err(AppError::Conflict(why.to_owned()));
            }
            return Err(AppError::not_found("invitation link"));
        }
        secrets::check_password_strength(password)?;
        let pw = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || secrets::hash_password(&pw))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        let now = self.now();
        let expires = now
            .checked_add(cfg.session_ttl)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.store().write().await?;
        let inv = repo::find_invitation(tx.conn(), &secrets::token_digest(token))
            .await?
            .ok_or_else(|| AppError::not_found("invitation link"))?;
        // Checked again under the write lock: two requests with one link cannot both pass.
        if inv.expires_at <= now || !repo::use_invitation(tx.conn(), inv.id, now).await? {
            return Err(AppError::Conflict(
                LinkState::Used.refusal().unwrap_or_default().to_owned(),
            ));
        }
        let person = people::get_person(tx.conn(), inv.person_id)
            .await?
            .ok_or_else(|| AppError::not_found("person"))?;
        if person.has_password {
            return Err(AppError::Conflict(
                LinkState::Used.refusal().unwrap_or_default().to_owned(),
            ));
        }
        people::set_password_hash(tx.conn(), person.id, &hash).await?;
        let (session_token, digest) = secrets::new_token("lks")?;
        let session =
            grants::create_session(tx.conn(), &digest, person.id, now, expires, source).await?;
        // The single-use link and the password just chosen are a fresh proof: the welcome
        // page may add a passkey at once.
        repo::set_session_proven(tx.conn(), session.id, now).await?;
        let events = vec![
            NewEvent::new("person.invitation_used", format!("person:{}", person.id))
                .actor(Some(person.id))
                .data(json!({ "invitation": inv.id, "source": source })),
            NewEvent::new("person.password_set", format!("person:{}", person.id))
                .actor(Some(person.id)),
            NewEvent::new("auth.login", format!("person:{}", person.id))
                .actor(Some(person.id))
                .data(json!({ "session": session.id, "source": source, "via": "invitation" })),
        ];
        self.commit_with(tx, events).await?;
        let person = people::get_person(&mut *self.store().read().await?, person.id)
            .await?
            .ok_or_else(|| AppError::not_found("person"))?;
        Ok(SignedIn {
            token: session_token,
            session,
            person,
        })
    }
}
