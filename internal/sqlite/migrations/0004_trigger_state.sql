-- Triggers switched off through the API: a row means disabled, since when.
CREATE TABLE trigger_state (
	trigger_key TEXT    NOT NULL PRIMARY KEY, -- layer.name#index
	disabled_us INTEGER NOT NULL
) WITHOUT ROWID;
