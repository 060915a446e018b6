-- latchkey schema 10 (SQLite): the change feed. Whichever process changes what a lock should
-- hold (a credential, a door, a pairing) records it here, so that the server that drives the
-- locks hears it within moments instead of at its next sweep. Rows are kept for an hour.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    -- the process that made the change (it has already acted on it)
    origin TEXT NOT NULL,
    -- door, credential or pairing
    kind TEXT NOT NULL,
    -- none for a sensor's pairing (every process forgets its cached pairings)
    door_id BIGINT,
    credential_id BIGINT
);
CREATE INDEX changes_at ON changes (at);
