-- A broker login may be Home Assistant's: it publishes only lock and unlock commands under
-- latchkey's Home Assistant prefix (and its own birth message) and reads discovery and state
-- (docs/OPERATIONS.md, "Home Assistant").
ALTER TABLE broker_logins DROP CONSTRAINT broker_logins_role_check;
ALTER TABLE broker_logins ADD CONSTRAINT broker_logins_role_check
    CHECK (role IN ('gateway', 'observer', 'home_assistant'));
