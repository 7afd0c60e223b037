-- Web UI sessions, so that every serve replica accepts a sign-in and a
-- sign-out ends it everywhere. The browser's cookie holds a random id; this
-- table keeps only its SHA-256 (id_hash), so a copy of the database signs
-- nobody in. token_name is the API token the session signed in with and
-- token_mac an HMAC of that token's digest keyed by the id: a session ends
-- when its token is removed or its secret changes. Expired rows are deleted
-- as new sessions start.
CREATE TABLE ui_sessions (
	id_hash    TEXT   NOT NULL PRIMARY KEY,
	token_name TEXT   NOT NULL,
	token_mac  TEXT   NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL
);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_us);
