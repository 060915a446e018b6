-- latchkey schema 8 (SQLite): entry notices. Staff reach a unit's door only inside the window of
-- a notice the household was told of in advance (or as an audited emergency).

CREATE TABLE entry_notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    unit_id BIGINT NOT NULL REFERENCES units(id) ON DELETE CASCADE,
    -- JSON array of the unit's door ids the notice covers.
    doors TEXT NOT NULL,
    purpose TEXT NOT NULL,
    window_from BIGINT NOT NULL,
    window_until BIGINT NOT NULL,
    created_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    cancelled_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    cancelled_at BIGINT
);
CREATE INDEX entry_notices_property ON entry_notices (property_id, window_from);
CREATE INDEX entry_notices_unit ON entry_notices (unit_id, window_from);
