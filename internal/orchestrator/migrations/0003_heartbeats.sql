-- Heartbeats: each rat serve and rat worker process writes its row every
-- few seconds (role, host, version, resources), so any replica answers for
-- the whole cluster (rat status). A row whose process has not written it
-- for its lease (lease_us, three heartbeat intervals) is dead and deleted.
CREATE TABLE rat_heartbeats (
	process_id TEXT PRIMARY KEY,
	role TEXT NOT NULL,
	host TEXT NOT NULL,
	pid BIGINT NOT NULL,
	version TEXT NOT NULL,
	started_us BIGINT NOT NULL,
	seen_us BIGINT NOT NULL,
	lease_us BIGINT NOT NULL,
	snapshot TEXT NOT NULL
);
CREATE INDEX rat_heartbeats_seen ON rat_heartbeats (seen_us);
