-- latchkey schema 20 (PostgreSQL): the delivery outbox and notification preferences.

-- A notification is routed once: the worker that routes it writes one delivery per channel
-- and stamps `routed_at` in the same transaction. Messages queued before this schema are not
-- sent now (they are old, and a guardian link in them has long expired).
ALTER TABLE notifications ADD COLUMN routed_at BIGINT;
UPDATE notifications SET routed_at = created_at;
CREATE INDEX notifications_unrouted ON notifications (routed_at, id);

-- One row per notification and channel. `channel` is `email` today; `webhook` and `push`
-- slot in with `target` naming the endpoint or subscription ('' when the channel reaches the
-- person at the address the people table holds at send time). The row's id is the stable id
-- a receiver drops duplicates by.
CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    notification_id BIGINT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    -- pending, sent or dead
    state TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    -- the retry horizon counts from here (a redelivery restarts it)
    retry_from BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    -- the worker holding the row, until its lease ends (a killed worker's claim expires)
    claimed_by TEXT,
    claimed_until BIGINT,
    last_error TEXT,
    sent_at BIGINT,
    dead_at BIGINT,
    UNIQUE (notification_id, channel, target)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);

-- What a person wants to hear and how (JSON: channels per kind, quiet hours); none means the
-- defaults.
CREATE TABLE notification_preferences (
    person_id BIGINT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
