-- latchkey schema 16: the settings each lock last reported (auto-relock time, wrong-code limit,
-- keypad disable time), beside the desired ones that follow from its door's mode and its
-- property's policy (docs/DEVICES.md, "Lock settings"). NULL until the lock reports the value.
ALTER TABLE devices ADD COLUMN reported_auto_relock BIGINT;
ALTER TABLE devices ADD COLUMN reported_wrong_code_limit BIGINT;
ALTER TABLE devices ADD COLUMN reported_keypad_disable BIGINT;
