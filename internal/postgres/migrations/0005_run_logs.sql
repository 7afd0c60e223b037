-- Log lines of runs, in order; deleted with their run.
CREATE TABLE run_logs (
	run_id   TEXT   NOT NULL,
	seq      BIGINT NOT NULL,
	at_us    BIGINT NOT NULL,
	level    TEXT   NOT NULL,
	pipeline TEXT   NOT NULL,
	message  TEXT   NOT NULL,
	PRIMARY KEY (run_id, seq)
);
