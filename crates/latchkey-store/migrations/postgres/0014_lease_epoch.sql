-- The reconciler lease's generation: raised each time the lease passes to a holder (or back to
-- one whose lease had lapsed), kept while the same holder renews it. A replica checks the
-- generation it took the lease with before each batch of lock commands, so one that lost the
-- lease without noticing sends nothing (docs/ARCHITECTURE.md, "Failover and fencing").
ALTER TABLE leases ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
