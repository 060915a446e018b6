-- Invitation links: a person added by staff or from the terminal sets their own password with a
-- link. Only a SHA-256 digest of the link's token is stored; a link is used once, expires, and a
-- new link for the same person revokes the one before (ARCHITECTURE.md, "Invitations").
CREATE TABLE invitations (
    id BIGSERIAL PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX invitations_person ON invitations (person_id);

-- Passkeys (WebAuthn discoverable credentials). `passkey` is webauthn-rs's own record of the
-- credential (public key, counter), as JSON; `credential_id` is its id, unique across people.
CREATE TABLE passkeys (
    id BIGSERIAL PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE,
    name TEXT NOT NULL,
    passkey TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_person ON passkeys (person_id);

-- The WebAuthn user handle of each person with a passkey: random, so it says nothing of the
-- person's id.
CREATE TABLE passkey_handles (
    person_id BIGINT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    user_handle BYTEA NOT NULL UNIQUE
);

-- A WebAuthn ceremony in progress (registration, sign-in, or the proof before an unlock),
-- found by the digest of the random id handed to the page. Kept here rather than in memory so a
-- ceremony begun on one replica finishes on another; taken (deleted) when it finishes; expired
-- rows are pruned as new ones start.
CREATE TABLE webauthn_ceremonies (
    id_hash BYTEA PRIMARY KEY,
    kind TEXT NOT NULL,
    person_id BIGINT REFERENCES people(id) ON DELETE CASCADE,
    session_id BIGINT REFERENCES sessions(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);

-- When this session last gave a fresh proof (a passkey assertion, or the password for a person
-- without a passkey) for an unlock from the web app.
ALTER TABLE sessions ADD COLUMN proven_at BIGINT;
