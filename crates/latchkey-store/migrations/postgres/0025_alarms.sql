-- latchkey schema 25 (PostgreSQL): the alarms staff see on the console's Alarms page, each with its
-- state and who acknowledged it (docs/ARCHITECTURE.md, decisions 65 and 66).

-- One row per alarm, written in the transaction of the event that raised it (a `lock.alarm`
-- or a `lock.jammed`). An alarm is shown from `due_at`: at once, except that an `offline`
-- one is due at the end of its grace, and a lock heard again within the grace deletes it. An
-- alarm belongs to the group (`group_id`, the id of the group's first alarm) of the newest
-- open alarm of its kind at its property raised less than the storm window before it, or
-- starts its own: a storm is one group. `state` is `open`, `acknowledged` or `cleared`
-- (an offline lock heard again).
CREATE TABLE alarms (
    id BIGSERIAL PRIMARY KEY,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    door_id BIGINT REFERENCES doors(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    group_id BIGINT,
    at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open',
    acknowledged_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    acknowledged_at BIGINT,
    note TEXT,
    cleared_at BIGINT
);
CREATE INDEX alarms_property ON alarms (property_id, at);
CREATE INDEX alarms_group ON alarms (group_id);
CREATE INDEX alarms_door ON alarms (door_id, kind, state);
CREATE INDEX alarms_storm ON alarms (property_id, kind, state, at);
