-- latchkey schema 24 (SQLite): alarms told to the property's staff, held and coalesced
-- into one digest per person and window (docs/ARCHITECTURE.md, decisions 61 and 62).

-- One row per alarm and staff member, written in the transaction of the event that raised the
-- alarm. A row is due at `due_at` (the alarm's instant; for a lock gone offline, the end of
-- its grace, and a lock back within the grace deletes its row). The worker that composes a
-- person's digest deletes the rows it summarises in the same transaction.
CREATE TABLE alarm_notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    door_id BIGINT REFERENCES doors(id) ON DELETE CASCADE,
    alarm TEXT NOT NULL,
    -- 1 for forced entry, tamper, duress and unexpected openings: no hold, always told
    security BIGINT NOT NULL DEFAULT 0,
    at BIGINT NOT NULL,
    due_at BIGINT NOT NULL
);
CREATE INDEX alarm_notices_due ON alarm_notices (due_at, person_id);
CREATE INDEX alarm_notices_person ON alarm_notices (person_id, due_at);
CREATE INDEX alarm_notices_door ON alarm_notices (door_id, alarm);

-- When each person's last digest was composed: the next one waits a window after it. Taking
-- the row (a conditional upsert) is the claim that lets one replica compose a person's digest.
CREATE TABLE alarm_windows (
    person_id BIGINT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    last_digest_at BIGINT NOT NULL
);

-- Pruning finds sent deliveries by when they were sent.
CREATE INDEX deliveries_sent ON deliveries (state, sent_at);
