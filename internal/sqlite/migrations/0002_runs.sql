-- Run records: what each pipeline run did. Not versioned: they describe
-- the history of the catalog, they are not part of it.
CREATE TABLE runs (
	id          TEXT    NOT NULL PRIMARY KEY,
	target      TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	trigger     TEXT    NOT NULL,
	started_us  INTEGER NOT NULL,
	finished_us INTEGER,
	detail      TEXT    NOT NULL -- JSON: nodes, tests, pipeline hashes
) WITHOUT ROWID;

CREATE INDEX runs_started ON runs (started_us);
