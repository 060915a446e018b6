//! Sign-in with password (Argon2id) giving a session, API tokens for automation, and revocation
//! of both. Every sign-in, failed or not, is an audit event.

use latchkey_core::PersonId;
use latchkey_store::audit::NewEvent;
use latchkey_store::auth::{self as grants, Grant, GrantKind};
use latchkey_store::people::{self, NewPerson};
use latchkey_store::records::Person;
use serde_json::json;

use crate::authz::{GrantRevoker, OwnAccount, OwnSession, PasswordSetter, Principal, Via};
use crate::secrets;
use crate::{App, AppError, Result};

/// What a successful sign-in hands back: the session token goes into a cookie.
pub struct SignedIn {
    pub token: String,
    pub session: Grant,
    pub person: Person,
}

/// A hash verified when the account does not exist, so that an unknown address takes as long to
/// refuse as a wrong password. Made once per process from a random password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = secrets::random_bytes::<16>()
            .map(hex::encode)
            .unwrap_or_default();
        secrets::hash_password(&random).unwrap_or_default()
    })
}

pub(crate) fn normalize_email(email: &str) -> Result<String> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !e.chars().any(char::is_whitespace);
    if valid {
        Ok(e)
    } else {
        Err(AppError::invalid(
            "email",
            "is not an e-mail address like name@example.org",
        ))
    }
}

impl App {
    /// Signs in with e-mail and password. A wrong password and an unknown account get the same
    /// answer in the same time.
    ///
    /// Only failures count, in the database so that every replica shares them: per source
    /// address (any account), and per account from that source. Both are counted before the
    /// password is checked (a burst of parallel guesses cannot slip past) and taken back when it
    /// was right. Failures against an account from everywhere are counted too, but they never
    /// refuse the right password from a source that is not over its own limits: when they reach
    /// the limit the person is told, once per window (ARCHITECTURE.md, "Where limits live").
    ///
    /// # Errors
    /// `RateLimited` when this source is past its limits; `Unauthenticated` for wrong
    /// credentials.
    pub async fn login(&self, email: &str, password: &str, source: &str) -> Result<SignedIn> {
        let cfg = self.config();
        let email = email.trim().to_lowercase();
        let by_source = format!("login:source:{source}");
        let by_pair = format!("login:account:{email}:source:{source}");
        self.limits()
            .hit(&by_source, cfg.login_attempts * 3, cfg.login_window)
            .await?;
        self.limits()
            .hit(&by_pair, cfg.login_attempts, cfg.login_window)
            .await?;
        let found = {
            let mut conn = self.store().read().await?;
            people::find_by_email(&mut conn, &email).await?
        };
        let hash = found.as_ref().and_then(|(_, h)| h.clone());
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            let real = hash.is_some();
            let matches = match &hash {
                Some(h) => secrets::verify_password(&pw, h),
                None => secrets::verify_password(&pw, dummy_hash()),
            };
            real && matches
        })
        .await
        .map_err(|e| AppError::Internal(format!("password check: {e}")))?;
        let person = match (found, ok) {
            (Some((person, Some(_))), true) => person,
            (found, _) => {
                let target = found.map(|(p, _)| p.id);
                let mut tx = self.store().write().await?;
                self.limits()
                    .failures_against(
                        &mut tx,
                        target,
                        &format!("login:account:{email}"),
                        cfg.login_attempts,
                        cfg.login_window,
                        "sign_in",
                    )
                    .await?;
                let ev = NewEvent::new("auth.login_failed", format!("email:{email}"))
                    .actor(target)
                    .data(json!({ "source": source }));
                self.commit_with(tx, vec![ev]).await?;
                return Err(AppError::Unauthenticated(
                    "the e-mail address or the password is wrong".into(),
                ));
            }
        };
        self.limits().forgive(&by_source).await?;
        self.limits().forgive(&by_pair).await?;
        let (token, digest) = secrets::new_token("lks")?;
        let now = self.now();
        let expires = now
            .checked_add(cfg.session_ttl)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.store().write().await?;
        let session =
            grants::create_session(tx.conn(), &digest, person.id, now, expires, source).await?;
        let ev = NewEvent::new("auth.login", format!("person:{}", person.id))
            .actor(Some(person.id))
            .data(json!({ "session": session.id, "source": source }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(SignedIn {
            token,
            session,
            person,
        })
    }

    /// Resolves a session token or an API token to a principal.
    ///
    /// # Errors
    /// `Unauthenticated` when the token is unknown, expired or revoked.
    pub async fn authenticate(&self, kind: GrantKind, token: &str) -> Result<Principal> {
        let now = self.now();
        let mut conn = self.store().read().await?;
        // One statement: the grant, its person and their memberships, read fresh for every
        // request, so a revoked session or token is refused at once by every process
        // (docs/ARCHITECTURE.md, decision 46).
        let (grant, person, memberships) =
            grants::find_signed_in(&mut conn, kind, &secrets::token_digest(token))
                .await?
                .ok_or_else(|| AppError::Unauthenticated("unknown session or token".into()))?;
        drop(conn);
        still_valid(&grant, now)?;
        let via = match kind {
            GrantKind::Session => Via::Session(grant.id),
            GrantKind::ApiToken => Via::ApiToken(grant.id),
        };
        let person = person
            .ok_or_else(|| AppError::Unauthenticated("this account no longer exists".into()))?;
        Ok(Principal::new(person, memberships, via, self.now()))
    }

    /// The caller as of now, read again from their session or token: what a long-lived
    /// request (a live stream) calls to learn that it was revoked or expired, or that the
    /// person's memberships changed.
    ///
    /// # Errors
    /// `Unauthenticated` when the session or token is gone, revoked or expired.
    pub async fn recheck(&self, who: &Principal) -> Result<Principal> {
        let (kind, id) = match who.via() {
            Via::Session(id) => (GrantKind::Session, id),
            Via::ApiToken(id) => (GrantKind::ApiToken, id),
            Via::Terminal => return self.terminal_principal(who.id()).await,
        };
        let mut conn = self.store().read().await?;
        let grant = grants::get(&mut conn, kind, id)
            .await?
            .ok_or_else(|| AppError::Unauthenticated("unknown session or token".into()))?;
        still_valid(&grant, self.now())?;
        self.principal_with(&mut conn, grant.person_id, who.via())
            .await
    }

    pub(crate) async fn principal_with(
        &self,
        conn: &mut latchkey_store::Conn,
        person: PersonId,
        via: Via,
    ) -> Result<Principal> {
        let p = people::get_person(conn, person)
            .await?
            .ok_or_else(|| AppError::Unauthenticated("this account no longer exists".into()))?;
        let memberships = people::memberships_of(conn, person).await?;
        Ok(Principal::new(p, memberships, via, self.now()))
    }

    /// The principal of a person acting at the installer's terminal.
    ///
    /// # Errors
    /// `NotFound` when the person does not exist.
    pub async fn terminal_principal(&self, person: PersonId) -> Result<Principal> {
        let mut conn = self.store().read().await?;
        self.principal_with(&mut conn, person, Via::Terminal)
            .await
            .map_err(|_| AppError::not_found(format!("person {person}")))
    }

    /// The admin a terminal command acts as: the admin with `email`, or the first admin.
    ///
    /// # Errors
    /// `NotFound` when nobody has that e-mail address or there is no admin yet; `Forbidden`
    /// when the person is not an admin.
    pub async fn terminal_admin(&self, email: Option<&str>) -> Result<Principal> {
        let mut conn = self.store().read().await?;
        let id = match email {
            Some(email) => {
                match people::find_by_email(&mut conn, &email.trim().to_lowercase()).await? {
                    Some((p, _)) if p.is_admin => p.id,
                    Some(_) => {
                        return Err(AppError::forbidden(format!(
                            "{email} is not an admin; terminal commands act as an admin"
                        )));
                    }
                    None => return Err(AppError::not_found(format!("a person with {email}"))),
                }
            }
            None => match people::first_admin(&mut conn).await? {
                Some(p) => p.id,
                None => return Err(AppError::not_found("an admin")),
            },
        };
        self.principal_with(&mut conn, id, Via::Terminal)
            .await
            .map_err(|_| AppError::not_found(format!("person {id}")))
    }

    /// The caller's own session, which sign-out ends ([`Principal::own_session`]).
    ///
    /// # Errors
    /// `Conflict` when the caller is signed in with an API token: there is no session to end
    /// (the request itself is well formed, so it is not `Invalid`).
    pub fn may_logout<'a>(&self, who: &'a Principal) -> Result<OwnSession<'a>> {
        who.own_session(
            "you are signed in with an API token, not a session; revoke a token with \
             DELETE /api/v1/tokens/{id}",
        )
    }

    /// Ends the session the capability carries (sign-out).
    ///
    /// # Errors
    /// `Store` on a failed write.
    pub async fn logout(&self, own: OwnSession<'_>) -> Result<()> {
        let who = own.principal();
        self.end_grant(who, GrantKind::Session, own.session(), who.id())
            .await
    }

    /// Lists the caller's sessions or tokens.
    ///
    /// # Errors
    /// `Store` on a failed read.
    pub async fn list_grants(&self, who: &Principal, kind: GrantKind) -> Result<Vec<Grant>> {
        let mut conn = self.store().read().await?;
        Ok(grants::list(&mut conn, kind, who.id()).await?)
    }

    /// Creates an API token for the caller; the token is returned once and never stored.
    ///
    /// # Errors
    /// `Invalid` for a bad name.
    pub async fn create_api_token(
        &self,
        own: OwnAccount<'_>,
        name: &str,
    ) -> Result<(String, Grant)> {
        let who = own.principal();
        let name = name.trim();
        if !latchkey_core::text::has_visible_char(name) {
            return Err(AppError::invalid("name", crate::directory::INVISIBLE_ONLY));
        }
        if name.chars().count() > 100 {
            return Err(AppError::invalid("name", "must be at most 100 characters"));
        }
        let (token, digest) = secrets::new_token("lkt")?;
        let mut tx = self.store().write().await?;
        let grant =
            grants::create_api_token(tx.conn(), &digest, who.id(), name, self.now()).await?;
        let ev = NewEvent::new("auth.token_created", format!("token:{}", grant.id))
            .actor(Some(who.id()))
            .data(json!({ "name": name }));
        self.commit_with(tx, vec![ev]).await?;
        Ok((token, grant))
    }

    /// Loads session or token `id` and checks that the caller may end it
    /// ([`Principal::grant_revoker`]).
    ///
    /// # Errors
    /// `NotFound` when it does not exist or belongs to someone else.
    pub async fn may_revoke_grant<'a>(
        &self,
        who: &'a Principal,
        kind: GrantKind,
        id: i64,
    ) -> Result<GrantRevoker<'a>> {
        let mut conn = self.store().read().await?;
        let grant = grants::get(&mut conn, kind, id)
            .await?
            .ok_or_else(|| AppError::not_found("session or token"))?;
        who.grant_revoker(kind, grant)
    }

    /// Revokes the session or token the capability carries (the caller's; an admin's: anyone's).
    ///
    /// # Errors
    /// `Store` on a failed write.
    pub async fn revoke_grant(&self, revoker: GrantRevoker<'_>) -> Result<()> {
        let grant = revoker.grant();
        self.end_grant(
            revoker.principal(),
            revoker.kind(),
            grant.id,
            grant.person_id,
        )
        .await
    }

    /// Revokes session or token `id` of `holder`, recorded as done by `who`.
    async fn end_grant(
        &self,
        who: &Principal,
        kind: GrantKind,
        id: i64,
        holder: PersonId,
    ) -> Result<()> {
        let mut tx = self.store().write().await?;
        grants::revoke(tx.conn(), kind, id, self.now()).await?;
        let what = match kind {
            GrantKind::Session => "session",
            GrantKind::ApiToken => "token",
        };
        let ev = NewEvent::new(format!("auth.{what}_revoked"), format!("{what}:{id}"))
            .actor(Some(who.id()))
            .data(json!({ "person": holder }));
        self.commit_with(tx, vec![ev]).await
    }

    /// Creates an admin (an installer with rights over every property). Done at the terminal:
    /// whoever holds the data directory is trusted to do this.
    ///
    /// # Errors
    /// `Invalid` for a bad e-mail or weak password; `Conflict` when the address is taken.
    pub async fn create_admin(&self, name: &str, email: &str, password: &str) -> Result<Person> {
        let email = normalize_email(email)?;
        let name = crate::people::check_name(name)?;
        secrets::check_password_strength(password)?;
        let pw = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || secrets::hash_password(&pw))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        let mut tx = self.store().write().await?;
        let person = people::create_person(
            tx.conn(),
            &NewPerson {
                name,
                email: Some(email),
                phone: None,
                password_hash: Some(hash),
                is_admin: true,
            },
            self.now(),
        )
        .await
        .map_err(|e| {
            AppError::conflict_or(e, "a person with this e-mail address already exists")
        })?;
        let ev = NewEvent::new("person.admin_created", format!("person:{}", person.id))
            .data(json!({ "name": person.name }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(person)
    }

    /// Sets the password of the person the capability carries
    /// ([`Principal::password_setter`]: the person themself, or an admin).
    ///
    /// # Errors
    /// `Invalid` for a weak password.
    pub async fn set_password(&self, setter: PasswordSetter<'_>, password: &str) -> Result<()> {
        let who = setter.principal();
        let person = setter.person();
        secrets::check_password_strength(password)?;
        let pw = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || secrets::hash_password(&pw))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        let mut tx = self.store().write().await?;
        people::set_password_hash(tx.conn(), person, &hash).await?;
        let ev =
            NewEvent::new("person.password_set", format!("person:{person}")).actor(Some(who.id()));
        self.commit_with(tx, vec![ev]).await
    }
}

/// Refuses a revoked or expired grant.
fn still_valid(grant: &Grant, now: jiff::Timestamp) -> Result<()> {
    if grant.revoked_at.is_some() {
        return Err(AppError::Unauthenticated(
            "this session or token was revoked".into(),
        ));
    }
    if grant.expires_at.is_some_and(|e| e <= now) {
        return Err(AppError::Unauthenticated("this session has expired".into()));
    }
    Ok(())
}
