-- rat's versioned catalog. Commits and their changes are immutable; refs
-- hold heads; ref_tables is the materialised table state at each ref's head.

CREATE TABLE commits (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- global commit order; never reused
	id         TEXT    NOT NULL UNIQUE,           -- 32 lowercase hex characters
	parent     TEXT    REFERENCES commits (id),   -- first parent; NULL for the root
	author     TEXT    NOT NULL,
	message    TEXT    NOT NULL,
	created_us INTEGER NOT NULL                   -- Unix time, microseconds, UTC
);

-- Every parent of a commit, in order: ord 0 is the first parent (the
-- branch's previous head), ord 1 a merge's second parent.
CREATE TABLE commit_parents (
	commit_id TEXT    NOT NULL REFERENCES commits (id),
	ord       INTEGER NOT NULL,
	parent_id TEXT    NOT NULL REFERENCES commits (id),
	PRIMARY KEY (commit_id, ord)
) WITHOUT ROWID;

-- What a commit did to each table it touched, relative to its first parent.
-- A NULL metadata means the table was dropped.
CREATE TABLE commit_changes (
	commit_id TEXT NOT NULL REFERENCES commits (id),
	table_key TEXT NOT NULL, -- layer.name
	metadata  TEXT,
	PRIMARY KEY (commit_id, table_key)
) WITHOUT ROWID;

CREATE TABLE refs (
	name TEXT NOT NULL PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('branch', 'tag')),
	head TEXT NOT NULL REFERENCES commits (id)
) WITHOUT ROWID;

-- The tables at each ref's head, kept in step with the head by every write.
CREATE TABLE ref_tables (
	ref       TEXT NOT NULL REFERENCES refs (name) ON DELETE CASCADE,
	table_key TEXT NOT NULL,
	metadata  TEXT NOT NULL,
	commit_id TEXT NOT NULL REFERENCES commits (id), -- the commit that last changed the table
	PRIMARY KEY (ref, table_key)
) WITHOUT ROWID;

CREATE INDEX refs_head ON refs (head);
