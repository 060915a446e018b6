-- A broker login may be Home Assistant's: it publishes only lock and unlock commands under
-- latchkey's Home Assistant prefix (and its own birth message) and reads discovery and state
-- (docs/OPERATIONS.md, "Home Assistant"). SQLite cannot change a CHECK in place: the table is
-- copied into one with the wider rule.
CREATE TABLE broker_logins_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('gateway', 'observer', 'home_assistant')),
    secret_hash BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT
);
INSERT INTO broker_logins_new (id, name, role, secret_hash, created_at, rotated_at)
    SELECT id, name, role, secret_hash, created_at, rotated_at FROM broker_logins;
DROP TABLE broker_logins;
ALTER TABLE broker_logins_new RENAME TO broker_logins;
