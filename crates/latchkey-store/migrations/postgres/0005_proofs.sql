-- latchkey schema 5 (PostgreSQL): identity proofs for lockout recovery.

-- A person's authenticator-app secret, sealed with the master key; last_step refuses replays.
CREATE TABLE totp_secrets (
    person_id BIGINT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    sealed BYTEA NOT NULL,
    last_step BIGINT,
    created_at BIGINT NOT NULL
);

-- Proofs given in a case: what, whose, recorded by whom.
CREATE TABLE case_proofs (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES lockout_cases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    person_id BIGINT REFERENCES people(id) ON DELETE SET NULL,
    recorded_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    at BIGINT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX case_proofs_case ON case_proofs (case_id);
