-- Attempt counters shared by every replica (sign-in, lockout). One row per limited key, keyed by
-- a SHA-256 digest of the key (so no address or e-mail is stored in clear): a hit is one upsert
-- of one row found through the primary key, whatever the number of keys. A row whose window has
-- ended counts as empty and is pruned in small batches by later hits.
CREATE TABLE rate_limits (
    key_digest BLOB PRIMARY KEY,
    hits BIGINT NOT NULL,
    resets_at BIGINT NOT NULL
);
CREATE INDEX rate_limits_resets ON rate_limits (resets_at);

-- An e-mail address typed for a new person that already belongs to someone else. It is shown
-- as the person's address but is not a sign-in address (see ARCHITECTURE.md, decisions).
ALTER TABLE people ADD COLUMN unconfirmed_email TEXT;
