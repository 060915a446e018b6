-- latchkey schema 26: the slots in trouble (failed, or holding a code latchkey does not know),
-- indexed apart. The building page glances at every door of a property for them on every load
-- (docs/ARCHITECTURE.md, decision 79); with this index it reads the few slots in trouble rather
-- than every slot of the building.
CREATE INDEX lock_slots_trouble ON lock_slots (door_id) WHERE status IN ('failed', 'unmanaged');
