-- latchkey schema 1 (PostgreSQL). Instants are epoch microseconds (BIGINT); JSON is TEXT; flags
-- are BIGINT 0/1 in both dialects so that one query text serves both.
CREATE TABLE properties (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL,
    policy TEXT NOT NULL DEFAULT '{}',
    office_hours TEXT NOT NULL DEFAULT '{"type":"always"}',
    created_at BIGINT NOT NULL
);

CREATE TABLE door_groups (
    id BIGSERIAL PRIMARY KEY,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    UNIQUE (property_id, name)
);

CREATE TABLE units (
    id BIGSERIAL PRIMARY KEY,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    floor BIGINT NOT NULL DEFAULT 0,
    door_group_id BIGINT REFERENCES door_groups(id) ON DELETE SET NULL,
    UNIQUE (property_id, label)
);

CREATE TABLE doors (
    id BIGSERIAL PRIMARY KEY,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    unit_id BIGINT REFERENCES units(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'normal',
    lock_name TEXT UNIQUE,
    pin_slots BIGINT NOT NULL DEFAULT 30,
    keypad_disabled_until BIGINT,
    UNIQUE (property_id, name)
);

CREATE TABLE door_group_doors (
    door_group_id BIGINT NOT NULL REFERENCES door_groups(id) ON DELETE CASCADE,
    door_id BIGINT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    PRIMARY KEY (door_group_id, door_id)
);

CREATE TABLE sensors (
    id BIGSERIAL PRIMARY KEY,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    unit_id BIGINT REFERENCES units(id) ON DELETE CASCADE,
    door_id BIGINT REFERENCES doors(id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    floor BIGINT NOT NULL DEFAULT 0,
    device_name TEXT UNIQUE,
    UNIQUE (property_id, name)
);

CREATE TABLE people (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    phone TEXT,
    password_hash TEXT,
    is_admin BIGINT NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    id BIGSERIAL PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    unit_id BIGINT REFERENCES units(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    valid_from BIGINT,
    valid_until BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX memberships_person ON memberships (person_id);
CREATE INDEX memberships_unit ON memberships (unit_id);

CREATE TABLE credentials (
    id BIGSERIAL PRIMARY KEY,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    unit_id BIGINT REFERENCES units(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    schedule TEXT NOT NULL DEFAULT '{"type":"always"}',
    max_uses BIGINT,
    uses BIGINT NOT NULL DEFAULT 0,
    duress BIGINT NOT NULL DEFAULT 0 CHECK (duress IN (0, 1)),
    secret BYTEA,
    -- Whether the PIN was shown to its owner; it is shown once.
    pin_revealed BIGINT NOT NULL DEFAULT 0 CHECK (pin_revealed IN (0, 1)),
    card_uid TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX credentials_person ON credentials (person_id);
CREATE INDEX credentials_property ON credentials (property_id);

-- The doors a credential opens. pin_digest is a keyed digest of an active PIN, so that two
-- credentials on one door can never share a PIN (the index below), without decrypting PINs.
CREATE TABLE credential_doors (
    credential_id BIGINT NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    door_id BIGINT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    pin_digest BYTEA,
    PRIMARY KEY (credential_id, door_id)
);
CREATE UNIQUE INDEX credential_doors_pin_unique ON credential_doors (door_id, pin_digest)
    WHERE pin_digest IS NOT NULL;
CREATE INDEX credential_doors_door ON credential_doors (door_id);

CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    source TEXT NOT NULL DEFAULT ''
);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- The audit log: append-only, hash-chained. audit_head holds the latest link so that a
-- truncated tail is detectable and appends serialise on one row.
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    property_id BIGINT,
    actor_id BIGINT,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE INDEX events_property ON events (property_id, seq);
CREATE INDEX events_kind ON events (kind, seq);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
