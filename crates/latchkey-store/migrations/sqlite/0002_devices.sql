-- latchkey schema 2 (SQLite): devices seen on the MQTT bridge, the PIN slots latchkey wants on
-- each lock and what the lock confirmed, remote lock/unlock commands, the identities of ingested
-- device messages (so a redelivered message is applied once) and leases (one reconciler at a time).

CREATE TABLE devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    friendly_name TEXT NOT NULL UNIQUE,
    ieee_address TEXT,
    model TEXT,
    vendor TEXT,
    is_lock BIGINT NOT NULL DEFAULT 0 CHECK (is_lock IN (0, 1)),
    has_pin BIGINT NOT NULL DEFAULT 0 CHECK (has_pin IN (0, 1)),
    availability TEXT NOT NULL DEFAULT 'unknown',
    lock_state TEXT NOT NULL DEFAULT 'unknown',
    door_state TEXT NOT NULL DEFAULT 'unknown',
    battery BIGINT,
    linkquality BIGINT,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT,
    left_network BIGINT NOT NULL DEFAULT 0 CHECK (left_network IN (0, 1))
);

-- One row per slot latchkey manages on a door's lock. `desired` is what the slot should hold
-- (the credential's PIN enabled or disabled, or nothing); `status` is how far the lock is.
CREATE TABLE lock_slots (
    door_id BIGINT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    slot BIGINT NOT NULL,
    credential_id BIGINT REFERENCES credentials(id) ON DELETE SET NULL,
    desired TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (door_id, slot)
);
CREATE INDEX lock_slots_credential ON lock_slots (credential_id);

CREATE TABLE lock_commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    door_id BIGINT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    requested_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    requested_at BIGINT NOT NULL,
    deadline_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    completed_at BIGINT,
    detail TEXT
);
CREATE INDEX lock_commands_open ON lock_commands (door_id, status);

CREATE TABLE ingested (
    identity BLOB PRIMARY KEY,
    at BIGINT NOT NULL
);
CREATE INDEX ingested_at ON ingested (at);

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
