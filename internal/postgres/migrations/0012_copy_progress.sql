-- rat migrate's record of a catalog copied into this database
-- (sqlstore.Copy): one row per table copied, and a row with table_name ''
-- for the copy as a whole. source is the copied catalog's identity (its
-- root commit id); last_key is the key of the last row copied, in the
-- source's order (a JSON array), so a copy that was stopped resumes after
-- it; copied and checksum cover the rows copied so far; done is 1 once the
-- table (or, on the '' row, the whole copy) is complete. Not copied itself.
CREATE TABLE copy_progress (
	source     TEXT    NOT NULL,
	table_name TEXT    NOT NULL,
	last_key   TEXT    NOT NULL DEFAULT '',
	copied     BIGINT  NOT NULL DEFAULT 0,
	checksum   TEXT    NOT NULL DEFAULT '',
	done       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (source, table_name)
);
