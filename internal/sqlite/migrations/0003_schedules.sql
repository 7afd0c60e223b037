-- The last tick each schedule trigger fired for, so catch-up policies know
-- what was missed while no scheduler ran.
CREATE TABLE schedule_state (
	trigger_key TEXT    NOT NULL PRIMARY KEY, -- layer.name#index
	last_us     INTEGER NOT NULL
) WITHOUT ROWID;
