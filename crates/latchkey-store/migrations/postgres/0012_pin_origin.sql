-- latchkey schema 12: where a PIN's code came from. A person chooses a code only for doors no
-- other household can open; everywhere else latchkey generates it (docs/ARCHITECTURE.md,
-- "PINs no household can learn from another"). PINs from before this version cannot be told
-- apart, so every live one counts as chosen: it keeps working, and it is listed as chosen
-- until it is replaced.
ALTER TABLE credentials ADD COLUMN pin_chosen BIGINT NOT NULL DEFAULT 0 CHECK (pin_chosen IN (0, 1));
UPDATE credentials SET pin_chosen = 1
    WHERE kind = 'pin' AND status <> 'revoked' AND non_access = 0;

-- Whether a code is on any of a credential's doors is asked by digest first (one indexed
-- lookup, however many doors).
CREATE INDEX credential_doors_pin_digest ON credential_doors (pin_digest)
    WHERE pin_digest IS NOT NULL;
