-- latchkey schema 3 (SQLite): what lockout recovery and the readiness drill rely on.

-- A digital spare key: a resident lets a trusted person help them back into their unit. It is
-- dormant: it opens nothing by itself, only within a proven lockout case.
CREATE TABLE spare_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    unit_id BIGINT NOT NULL REFERENCES units(id) ON DELETE CASCADE,
    granted_by BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    holder_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    -- When the holder can usually be reached (a schedule, as for credentials).
    reachable TEXT NOT NULL DEFAULT '{"type":"always"}',
    status TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX spare_keys_unit ON spare_keys (unit_id);
CREATE INDEX spare_keys_holder ON spare_keys (holder_id);
CREATE UNIQUE INDEX spare_keys_one_active ON spare_keys (unit_id, holder_id) WHERE status = 'active';

-- Who answers for the building outside office hours, and when.
CREATE TABLE on_call (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    schedule TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (property_id, person_id)
);

-- Locksmith companies a property works with; only verified ones are offered to residents.
CREATE TABLE locksmiths (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    company TEXT NOT NULL,
    licence TEXT NOT NULL,
    phone TEXT NOT NULL,
    hours TEXT NOT NULL DEFAULT '{"type":"always"}',
    callout_cents BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'unverified',
    verified_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    verified_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (property_id, company)
);
