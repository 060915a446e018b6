//! A person's own account: signing out, API tokens, the password, passkeys, the proof before
//! an unlock, an authenticator app. Every signed-in person may act on their own account and on
//! nobody else's (an admin also ends anyone's sessions and tokens and sets anyone's password);
//! a record of the account, loaded by id, must be the caller's (docs/ARCHITECTURE.md,
//! decision 26).

use latchkey_core::PersonId;
use latchkey_store::auth::{Grant, GrantKind};
use latchkey_store::passkeys::StoredPasskey;

use super::{Principal, Via};
use crate::{AppError, Result};

impl Principal {
    /// Proof that the caller acts on their own account (tokens, the unlock proof, an
    /// authenticator app): anyone signed in, however they signed in.
    pub fn own_account(&self) -> OwnAccount<'_> {
        OwnAccount { principal: self }
    }

    /// Proof that the caller signed in with a browser session, which they may end (sign-out)
    /// or use to manage passkeys and give the unlock proof. `refusal` says what an API token
    /// or the terminal should do instead.
    ///
    /// # Errors
    /// `Conflict` (with `refusal`) for an API token or the terminal: the request is well
    /// formed, there is just no session to act on.
    pub fn own_session(&self, refusal: &str) -> Result<OwnSession<'_>> {
        match self.via() {
            Via::Session(session) => Ok(OwnSession {
                principal: self,
                session,
            }),
            Via::ApiToken(_) | Via::Terminal => Err(AppError::Conflict(refusal.to_owned())),
        }
    }

    /// Proof that the caller may end loaded session or token `grant`: their own, or anyone's
    /// for an admin.
    ///
    /// # Errors
    /// `NotFound` when it is someone else's (they may not learn it exists).
    pub fn grant_revoker(&self, kind: GrantKind, grant: Grant) -> Result<GrantRevoker<'_>> {
        if grant.person_id != self.id() && !self.is_admin() {
            return Err(AppError::not_found("session or token"));
        }
        Ok(GrantRevoker {
            principal: self,
            kind,
            grant,
        })
    }

    /// Proof that the caller may set `person`'s password: the person themself, or an admin.
    ///
    /// # Errors
    /// `Forbidden` for anyone else.
    pub fn password_setter(&self, person: PersonId) -> Result<PasswordSetter<'_>> {
        if self.id() != person && !self.is_admin() {
            return Err(AppError::forbidden("you may only change your own password"));
        }
        Ok(PasswordSetter {
            principal: self,
            person,
        })
    }

    /// Proof that loaded passkey `passkey` is the caller's: only its person renames or
    /// removes it (not an admin either: a passkey is a way into one person's account).
    ///
    /// # Errors
    /// `NotFound` when it is someone else's.
    pub fn passkey_owner(&self, passkey: StoredPasskey) -> Result<PasskeyOwner<'_>> {
        if passkey.person_id != self.id() {
            return Err(AppError::not_found("passkey"));
        }
        Ok(PasskeyOwner {
            principal: self,
            passkey,
        })
    }
}

/// Proof that the caller acts on their own account; it carries the caller.
pub struct OwnAccount<'a> {
    principal: &'a Principal,
}

impl OwnAccount<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
}

/// Proof that the caller acts through their own browser session; it carries the session.
pub struct OwnSession<'a> {
    principal: &'a Principal,
    session: i64,
}

impl OwnSession<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The session the caller signed in with.
    pub fn session(&self) -> i64 {
        self.session
    }
}

/// Proof that the caller may end one session or token; it carries it.
pub struct GrantRevoker<'a> {
    principal: &'a Principal,
    kind: GrantKind,
    grant: Grant,
}

impl GrantRevoker<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn kind(&self) -> GrantKind {
        self.kind
    }
    /// The session or token as it was loaded for the check.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }
}

/// Proof that the caller may set one person's password; it carries the person.
pub struct PasswordSetter<'a> {
    principal: &'a Principal,
    person: PersonId,
}

impl PasswordSetter<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn person(&self) -> PersonId {
        self.person
    }
}

/// Proof that one passkey is the caller's; it carries the passkey.
pub struct PasskeyOwner<'a> {
    principal: &'a Principal,
    passkey: StoredPasskey,
}

impl PasskeyOwner<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The passkey as it was loaded for the check.
    pub fn passkey(&self) -> &StoredPasskey {
        &self.passkey
    }
}
