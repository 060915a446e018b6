-- latchkey schema 22 (SQLite): Web Push subscriptions and the server's keys.

-- One row per browser or installed web app that turned notifications on. The endpoint is the
-- push service's address for that browser (a capability URL: whoever knows it can send to the
-- device, so it is never shown to anyone but its person); `p256dh` (65 bytes, an uncompressed
-- P-256 point) and `auth` (16 bytes) are what messages to it are encrypted for (RFC 8291).
-- An endpoint belongs to one person at a time. A delivery through it names the row's id as its
-- `target`; a push service that answers 404 or 410 gets the row deleted.
CREATE TABLE push_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    endpoint TEXT NOT NULL UNIQUE,
    p256dh BLOB NOT NULL,
    auth BLOB NOT NULL,
    -- what the person sees it as ("Firefox on Linux", "My phone")
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_sent_at BIGINT
);
CREATE INDEX push_subscriptions_person ON push_subscriptions (person_id);

-- Key pairs the server makes once and every replica shares (the VAPID key of RFC 8292, named
-- `vapid`): the private key sealed with the master key, bound to its name; the public key in
-- clear, as browsers are given it.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,
    public_key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
