-- latchkey schema 13: a lock latchkey asked for its state after an outage (its own start, or a
-- reconnect to the broker). The first report of the lock after the ask is the answer: a position
-- that differs from the stored one changed while latchkey was away, between the lock's
-- `last_seen` and the answer (docs/DEVICES.md, "After an outage"). Stored, not kept in memory,
-- so that the answer is recognised whichever replica receives it and a lock is asked once
-- however many replicas start together.
ALTER TABLE devices ADD COLUMN asked_at BIGINT;
ALTER TABLE devices ADD COLUMN asked_why TEXT;
CREATE INDEX devices_asked ON devices (friendly_name) WHERE asked_at IS NOT NULL;
