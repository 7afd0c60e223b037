-- Branches rat made for its own work (run/<id>, ingest/<id>) are marked, so
-- that 'rat run --cleanup' deletes those and never a user's branch that
-- happens to carry such a name. Before this mark, a run branch is rat's
-- when the run records hold its run: those are marked now; any other
-- run/ or ingest/ branch stays a user's.
ALTER TABLE refs ADD COLUMN internal INTEGER NOT NULL DEFAULT 0;

UPDATE refs SET internal = 1
WHERE kind = 'branch' AND name LIKE 'run/%'
  AND EXISTS (SELECT 1 FROM runs WHERE 'run/' || runs.id = refs.name);
