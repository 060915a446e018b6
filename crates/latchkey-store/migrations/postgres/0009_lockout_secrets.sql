-- latchkey schema 9 (PostgreSQL): no bearer secret of the lockout flow in clear.

-- A guardian's message now carries its link sealed with the master key (`link_sealed_hex`);
-- older messages carried it in clear. Links live 30 minutes, so the clear ones are dropped
-- rather than sealed: the message stays, its link is gone.
UPDATE notifications SET body = (body::jsonb - 'link')::text
    WHERE kind = 'lockout.guardian_request' AND body::jsonb -> 'link' IS NOT NULL;
