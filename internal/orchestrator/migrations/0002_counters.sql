-- Counters that spare the hot path of a run its run-row lock: a node's
-- upstream nodes not built yet (it is queued when the count reaches 0) and
-- a run's nodes not settled (its finish is queued when that reaches 0).
-- DAGs under way when this is applied get their counts from their rows.
ALTER TABLE rat_dag_nodes ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rat_dag_runs ADD COLUMN active INTEGER NOT NULL DEFAULT 0;
UPDATE rat_dag_nodes SET pending = (
	SELECT count(*) FROM rat_dag_edges e JOIN rat_dag_nodes d ON d.run_id = e.run_id AND d.pipeline = e.dep
	WHERE e.run_id = rat_dag_nodes.run_id AND e.pipeline = rat_dag_nodes.pipeline AND d.state <> 'success');
UPDATE rat_dag_runs SET active = (
	SELECT count(*) FROM rat_dag_nodes n WHERE n.run_id = rat_dag_runs.run_id AND n.state IN ('waiting', 'queued', 'running'));
