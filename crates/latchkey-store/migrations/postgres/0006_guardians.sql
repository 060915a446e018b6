-- latchkey schema 6 (PostgreSQL): guardians confirming who is locked out.

-- One single-use, expiring link per guardian asked in a case. Only its SHA-256 is stored.
CREATE TABLE guardian_links (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES lockout_cases(id) ON DELETE CASCADE,
    guardian_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    token_digest BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    -- confirmed or denied, once used.
    outcome TEXT
);
CREATE INDEX guardian_links_case ON guardian_links (case_id);
