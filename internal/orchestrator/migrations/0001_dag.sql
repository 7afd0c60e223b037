-- The DAG of queued runs (dag.go): a row per run and per node, and the
-- edges between nodes. IF NOT EXISTS: queues created before the queue's
-- tables were versioned have them already.
CREATE TABLE IF NOT EXISTS rat_dag_runs (
	run_id TEXT PRIMARY KEY,
	result TEXT NOT NULL,
	state TEXT NOT NULL,
	cancelled INTEGER NOT NULL DEFAULT 0,
	attempt INTEGER NOT NULL DEFAULT 0,
	owner TEXT NOT NULL DEFAULT '',
	heartbeat_us BIGINT NOT NULL DEFAULT 0,
	version BIGINT NOT NULL DEFAULT 0,
	finished_us BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS rat_dag_nodes (
	run_id TEXT NOT NULL,
	ord INTEGER NOT NULL,
	pipeline TEXT NOT NULL,
	retries INTEGER NOT NULL,
	retry_delay_ms BIGINT NOT NULL,
	state TEXT NOT NULL,
	attempt INTEGER NOT NULL DEFAULT 1,
	owner TEXT NOT NULL DEFAULT '',
	heartbeat_us BIGINT NOT NULL DEFAULT 0,
	result TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, pipeline)
);

CREATE INDEX IF NOT EXISTS rat_dag_nodes_state ON rat_dag_nodes (state, heartbeat_us);
CREATE INDEX IF NOT EXISTS rat_dag_nodes_run_state ON rat_dag_nodes (run_id, state);

-- An edge: pipeline reads dep (both nodes of the run).
CREATE TABLE IF NOT EXISTS rat_dag_edges (
	run_id TEXT NOT NULL,
	dep TEXT NOT NULL,
	pipeline TEXT NOT NULL,
	PRIMARY KEY (run_id, dep, pipeline)
);

CREATE INDEX IF NOT EXISTS rat_dag_edges_pipeline ON rat_dag_edges (run_id, pipeline);
