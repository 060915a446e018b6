-- latchkey schema 4 (SQLite): lockout cases, their timelines, and the notification outbox.

-- A lockout case. Anyone may open one without signing in; a case that matched nobody is kept
-- too (unit_id and person_id NULL), so that opening one reveals nothing and costs the same.
CREATE TABLE lockout_cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id BIGINT REFERENCES properties(id) ON DELETE CASCADE,
    unit_id BIGINT REFERENCES units(id) ON DELETE SET NULL,
    person_id BIGINT REFERENCES people(id) ON DELETE SET NULL,
    -- SHA-256 of the case token handed to whoever opened it (the token itself is never stored).
    token_digest BLOB NOT NULL UNIQUE,
    state TEXT NOT NULL DEFAULT 'open',
    opened_via TEXT NOT NULL,
    opened_by BIGINT REFERENCES people(id) ON DELETE SET NULL,
    -- What the caller typed, for staff to review.
    claimed_unit TEXT NOT NULL,
    claimed_identity TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX lockout_cases_property ON lockout_cases (property_id, id);
CREATE INDEX lockout_cases_unit ON lockout_cases (unit_id);

-- Every step of a case, who took it and when (also in the audit log).
CREATE TABLE lockout_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES lockout_cases(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    actor_id BIGINT REFERENCES people(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX lockout_steps_case ON lockout_steps (case_id, id);

-- Messages to people, written in the same transaction as what they tell of; delivery (e-mail,
-- webhooks, live stream) reads from here.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id BIGINT REFERENCES properties(id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    case_id BIGINT REFERENCES lockout_cases(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX notifications_person ON notifications (person_id, id);
CREATE INDEX notifications_unsent ON notifications (sent_at, id);
