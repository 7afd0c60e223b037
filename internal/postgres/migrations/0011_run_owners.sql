-- The owner of a run that a process executes in itself (rat run), with its
-- heartbeat and lease: a run whose owner has written no heartbeat for its
-- lease is ended as failed (owner lost). Queued runs have no owner here:
-- the queue's nodes have theirs.
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN heartbeat_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;

-- Finding the runs whose owner is gone reads only the owned running runs.
CREATE INDEX runs_owned_running ON runs (heartbeat_us) WHERE status = 'running' AND owner <> '';
