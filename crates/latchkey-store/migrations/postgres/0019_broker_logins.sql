-- Logins of the embedded MQTT broker's device listener: one per Zigbee2MQTT gateway (or
-- read-only observer). Only a SHA-256 digest of each random password is stored, as for API
-- tokens; a rotation replaces it, a revocation deletes the row (DEVICES.md, "Broker logins").
CREATE TABLE broker_logins (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('gateway', 'observer')),
    secret_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT
);
