-- latchkey schema 21 (PostgreSQL): webhook endpoints of a property (docs/ARCHITECTURE.md,
-- decisions 53–54).

-- An endpoint receives the property's events of the kinds it names (a JSON array), signed with
-- its secret. The secret is sealed with the master key (bound to the endpoint's id); after a
-- rotation the previous secret stays valid until `previous_until`, and each request carries
-- both signatures meanwhile. `failing_since` is the start of the current run of failed
-- attempts (NULL after a success): 24 hours of it disables the endpoint.
CREATE TABLE webhook_endpoints (
    id BIGSERIAL PRIMARY KEY,
    property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    created_by BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kinds TEXT NOT NULL,
    -- 1 enabled, 0 disabled
    enabled BIGINT NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    secret BYTEA NOT NULL,
    previous_secret BYTEA,
    previous_until BIGINT,
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_property ON webhook_endpoints (property_id, id);

-- How far the audit log has been routed to endpoints: one row; the router reads the events
-- after `seq` and writes their deliveries and the new `seq` in one transaction.
CREATE TABLE webhook_cursor (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO webhook_cursor (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM events;

-- Webhook deliveries are sent in order per endpoint: the claim looks for the oldest pending
-- delivery of each target.
CREATE INDEX deliveries_target ON deliveries (channel, target, state, id);
