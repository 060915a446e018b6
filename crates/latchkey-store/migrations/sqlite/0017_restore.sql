-- latchkey schema 17: what latchkey knows of each lock slot beyond its own slot rows, and the
-- restored state (docs/ARCHITECTURE.md, decisions 31–33; docs/OPERATIONS.md, "After a restore").
--
-- `slot_notes` outlives the slot rows it is about: `written_at` says latchkey once sent a PIN of
-- its own to that slot (a code found there later may be ours from a history the database lost,
-- so the unmanaged-code policy never clears it); `seen_free_at` is when the lock last reported
-- the slot empty; `decided_at` is when an admin adopted or removed the code found there.
CREATE TABLE slot_notes (
    door_id BIGINT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    slot BIGINT NOT NULL,
    written_at BIGINT,
    seen_free_at BIGINT,
    decided_at BIGINT,
    PRIMARY KEY (door_id, slot)
);
INSERT INTO slot_notes (door_id, slot, written_at)
    SELECT door_id, slot, updated_at FROM lock_slots WHERE credential_id IS NOT NULL;

-- One row while latchkey runs on a database older than the history it had recorded outside
-- it: it clears no code and overwrites no slot until an admin ends the state.
CREATE TABLE restored_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    since BIGINT NOT NULL,
    head_seq BIGINT NOT NULL,
    marker_seq BIGINT NOT NULL
);
