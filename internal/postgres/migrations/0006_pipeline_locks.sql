-- Pipelines a running run is building, per target branch: one run at a
-- time per pipeline and branch (the overlap policy).
CREATE TABLE pipeline_locks (
	target   TEXT   NOT NULL,
	pipeline TEXT   NOT NULL,
	run_id   TEXT   NOT NULL,
	since_us BIGINT NOT NULL,
	PRIMARY KEY (target, pipeline)
);
