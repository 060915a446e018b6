-- Recovery cards: a few single-use codes a person prints and keeps on paper, accepted as a
-- lockout proof when the phone is what was lost (docs/LOCKOUT.md). Only a SHA-256 digest of each
-- code is stored; a new card replaces the unused codes of the one before.
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_codes_person ON recovery_codes (person_id);
