-- latchkey schema 7 (SQLite): how lockout cases end: openings, locksmith jobs, charges, and
-- incidents on doors (marked for service, or compromised after a forced entry).

-- Every door opened or code released for a case. A spare key opens at most once per case of
-- each kind (one one-time PIN, one remote unlock).
CREATE TABLE case_openings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES lockout_cases(id) ON DELETE CASCADE,
    -- spare_pin, spare_unlock, staff_opening, locksmith_code
    kind TEXT NOT NULL,
    by_person BIGINT REFERENCES people(id) ON DELETE SET NULL,
    spare_key_id BIGINT REFERENCES spare_keys(id) ON DELETE SET NULL,
    door_id BIGINT REFERENCES doors(id) ON DELETE SET NULL,
    credential_id BIGINT REFERENCES credentials(id) ON DELETE SET NULL,
    command_id BIGINT,
    at BIGINT NOT NULL
);
CREATE INDEX case_openings_case ON case_openings (case_id);
CREATE UNIQUE INDEX case_openings_spare_once ON case_openings (case_id, spare_key_id, kind)
    WHERE spare_key_id IS NOT NULL;

-- A locksmith sent to a case. The check word is shown to the resident and the locksmith; the
-- job token (only its SHA-256 is kept) is the locksmith's way to fetch the one-time code.
CREATE TABLE locksmith_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES lockout_cases(id) ON DELETE CASCADE,
    locksmith_id BIGINT NOT NULL REFERENCES locksmiths(id) ON DELETE CASCADE,
    door_id BIGINT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    check_word TEXT NOT NULL,
    token_digest BLOB NOT NULL UNIQUE,
    window_from BIGINT NOT NULL,
    window_until BIGINT NOT NULL,
    lock_failed BIGINT NOT NULL DEFAULT 0,
    quoted_cents BIGINT NOT NULL,
    credential_id BIGINT REFERENCES credentials(id) ON DELETE SET NULL,
    -- booked, code_released, done, cancelled
    status TEXT NOT NULL DEFAULT 'booked',
    cost_cents BIGINT,
    work TEXT,
    booked_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX locksmith_jobs_case ON locksmith_jobs (case_id);

-- What a unit is charged for lockouts, each with its case; waived charges stay, with the
-- audit events that show the equipment was at fault.
CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    unit_id BIGINT REFERENCES units(id) ON DELETE SET NULL,
    case_id BIGINT REFERENCES lockout_cases(id) ON DELETE SET NULL,
    -- staff_opening or locksmith
    kind TEXT NOT NULL,
    payer TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    waived BIGINT NOT NULL DEFAULT 0,
    reason TEXT NOT NULL,
    -- JSON array of audit event sequence numbers.
    evidence TEXT NOT NULL DEFAULT '[]',
    created_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_entries_unit ON ledger_entries (property_id, unit_id, id);

-- Something wrong with a door until staff close it: `service` (the lock failed) or
-- `compromised` (forced entry: the door cannot be trusted until repaired).
CREATE TABLE door_incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    door_id BIGINT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    case_id BIGINT REFERENCES lockout_cases(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    opened_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    opened_at BIGINT NOT NULL,
    closed_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    closed_at BIGINT
);
CREATE INDEX door_incidents_door ON door_incidents (door_id, closed_at);
CREATE UNIQUE INDEX door_incidents_one_open ON door_incidents (door_id, kind) WHERE closed_at IS NULL;

-- Presence at the door: a one-time challenge code put on the unit's lock as a non_access user
-- (the lock recognises it, reports its use, never opens for it).
ALTER TABLE credentials ADD COLUMN non_access BIGINT NOT NULL DEFAULT 0;
CREATE TABLE presence_challenges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES lockout_cases(id) ON DELETE CASCADE,
    credential_id BIGINT NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    door_id BIGINT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    seen_at BIGINT
);
CREATE INDEX presence_challenges_credential ON presence_challenges (credential_id);

-- Recovery that changes credentials (a new PIN for the locked-out person) waits the policy's
-- delay, during which anyone in the household can cancel it.
CREATE TABLE credential_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES lockout_cases(id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    -- pending, cancelled, applied
    status TEXT NOT NULL DEFAULT 'pending',
    effective_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    cancelled_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    applied_at BIGINT,
    credential_id BIGINT REFERENCES credentials(id) ON DELETE SET NULL
);
CREATE INDEX credential_changes_case ON credential_changes (case_id);
