package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/textout"
	"github.com/ratdata/rat/internal/workspace"
)

// pipelineWorkspace is the workspace of `rat bench pipeline`: landing files
// ingested into bronze, cleaned and merged into a partitioned silver table,
// aggregated into gold.
var pipelineWorkspace = map[string]string{
	"workspace.yaml": "name: bench\n",
	"pipelines/bronze/events.sql": `-- @materialized: incremental
SELECT * FROM {{ landing('events') }}
`,
	"pipelines/silver/events.sql": `-- @materialized: incremental
-- @unique_key: id
-- @watermark_column: updated_at
-- @partition_by: day(ts)
SELECT id, ts, customer, region, amount, qty, updated_at
FROM {{ ref('bronze.events') }}
WHERE amount >= 0
{% if is_incremental() %}AND updated_at > '{{ watermark("updated_at") }}'{% endif %}
`,
	"pipelines/gold/daily.sql": `SELECT CAST(ts AS DATE) AS day, region, count(*) AS events, sum(amount) AS amount
FROM {{ ref('silver.events') }}
GROUP BY ALL
`,
}

const benchSilverSQL = `SELECT id, ts, customer, region, amount, qty, updated_at FROM %s WHERE amount >= 0`

// PipelineOptions are the flags of rat bench pipeline.
type PipelineOptions struct {
	Dir  string // workspace directory ("": a temporary one, removed afterwards)
	Rows int    // events in the landing file
	Days int    // days the events span (silver has one partition per day)
}

// Pipeline builds a workspace with a landing zone of events and compares
// rat's ingest and full refresh with plain DuckDB doing the same work, and
// an incremental run with the full refresh.
func Pipeline(ctx context.Context, env Env, o PipelineOptions) error {
	dir, cleanup, err := tempDir(o.Dir, "rat-bench-pipeline-")
	if err != nil {
		return err
	}
	defer cleanup()
	if err := workspace.WriteTree(dir, pipelineWorkspace); err != nil {
		return err
	}
	a, err := env.Open(ctx, dir, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	return benchPipeline(ctx, env.Out, a, dir, o.Rows, max(o.Days, 1))
}

func benchPipeline(ctx context.Context, out io.Writer, a *app.App, dir string, rows, days int) error {
	db := a.DB.SQL()
	exec := func(q string) (time.Duration, error) {
		t := time.Now()
		_, err := db.ExecContext(ctx, q)
		return time.Since(t), err
	}
	landing := filepath.Join(dir, "landing", "events")
	if err := os.MkdirAll(landing, 0o755); err != nil {
		return err
	}
	gen := func(file string, from, n int, updated string) error {
		_, err := exec(fmt.Sprintf(`COPY (SELECT i AS id,
			TIMESTAMP '2024-01-01' + to_seconds(CAST(i * %d.0 * 86400 / %d AS BIGINT)) AS ts,
			'c' || (hash(i) %% 50000) AS customer,
			['north','south','east','west'][1 + CAST(hash(i * 3) %% 4 AS INTEGER)] AS region,
			CAST((hash(i * 13) %% 100000) / 100.0 AS DOUBLE) - 5 AS amount,
			CAST(hash(i * 17) %% 10 AS INTEGER) AS qty,
			TIMESTAMP '%s' AS updated_at
			FROM range(%d, %d) t(i)) TO %s (FORMAT csv, HEADER)`, days, rows, updated, from, from+n, duckdb.Quote(file)))
		return err
	}
	base := filepath.Join(landing, "events_0.csv")
	start := time.Now()
	if err := gen(base, 0, rows, "2024-06-01 00:00:00"); err != nil {
		return err
	}
	st, _ := os.Stat(base)
	fmt.Fprintf(out, "generated %d events (%s of CSV) in %s; DuckDB memory limit %d MB, %d threads\n",
		rows, textout.Bytes(st.Size()), rat.Duration(time.Since(start)), a.Config.DuckDBMemoryMB, a.Config.DuckDBThreads)

	// Every ref resolves: the bench's sources are its own pipelines.
	ws, err := workspace.Load(a.Config.WorkspaceDir, workspace.LoadOptions{Env: os.LookupEnv, Known: func(rat.TableID) bool { return true }})
	if err != nil {
		return err
	}
	runner, err := a.Runner(ctx, ws)
	if err != nil {
		return err
	}
	run := func(sel string, full bool) (time.Duration, *pipeline.Result, error) {
		t := time.Now()
		res, err := runner.Run(ctx, pipeline.Options{Target: a.Config.Branch, Selectors: []string{sel}, FullRefresh: full})
		if err == nil && res.Status != pipeline.StatusSuccess {
			err = res.Failure()
		}
		return time.Since(t), res, err
	}
	plainDir := filepath.Join(dir, "plain")
	csvRead := fmt.Sprintf("read_csv(%s, header = true, delim = ',', quote = '\"', escape = '\"', strict_mode = true, null_padding = false)", duckdb.Quote(base))
	opts := fmt.Sprintf("FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE %d", a.Config.ChunkSizeRows)

	// Ingest.
	ratIngest, _, err := run("bronze.events", false)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(plainDir, 0o755); err != nil {
		return err
	}
	plainIngest, err := exec(fmt.Sprintf("COPY (SELECT *, 'events/events_0.csv' AS _source_file, now() AS _ingested_at FROM %s) TO %s (%s)",
		csvRead, duckdb.Quote(filepath.Join(plainDir, "bronze.parquet")), opts))
	if err != nil {
		return err
	}
	// Full refresh of silver: rat twice (the first build, then a forced
	// rebuild), plain DuckDB once, same SQL from the same bronze files.
	if _, _, err := run("silver.events", true); err != nil {
		return err
	}
	ratFull, res, err := run("silver.events", true)
	if err != nil {
		return err
	}
	silverRows := res.Nodes[0].Rows
	bronze, err := a.Lake.Resolve(ctx, a.Config.Branch, rat.TableID{Layer: "bronze", Name: "events"}, lake.At{})
	if err != nil {
		return err
	}
	paths, err := a.Lake.LocalPaths(ctx, bronze.Files)
	if err != nil {
		return err
	}
	read, err := duckdb.ReadParquetByName(paths, bronze.Schema)
	if err != nil {
		return err
	}
	plainFull, err := exec(fmt.Sprintf("COPY (SELECT *, CAST(ts AS DATE) AS p FROM (%s)) TO %s (%s, PARTITION_BY (p), OVERWRITE_OR_IGNORE)",
		fmt.Sprintf(benchSilverSQL, read), duckdb.Quote(filepath.Join(plainDir, "silver")), opts))
	if err != nil {
		return err
	}
	// A 1 % batch: changed keys and new keys, in the last days (ts grows
	// with id, as in most event data).
	batch := rows / 100
	if err := gen(filepath.Join(landing, "events_1.csv"), rows-batch/2, batch, "2024-07-01 00:00:00"); err != nil {
		return err
	}
	if _, _, err := run("bronze.events", false); err != nil {
		return err
	}
	ratInc, res, err := run("silver.events", false)
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	textout.Table(out, []string{"STEP", "RAT", "PLAIN DUCKDB", "RATIO"}, [][]string{
		{"ingest (CSV → bronze)", ms(ratIngest), ms(plainIngest), fmt.Sprintf("%.2f", float64(ratIngest)/float64(plainIngest))},
		{fmt.Sprintf("full refresh (silver, %d rows, %d partitions)", silverRows, days), ms(ratFull), ms(plainFull), fmt.Sprintf("%.2f", float64(ratFull)/float64(plainFull))},
	})
	fmt.Fprintf(out, "\nincremental run (1%% batch: %d rows merged): %s = %.1f%% of the full refresh (%s)\n",
		res.Nodes[0].Rows, ms(ratInc), 100*float64(ratInc)/float64(ratFull), ms(ratFull))
	var n int64
	if err := a.Lake.Query(ctx, a.Config.Branch, lake.At{}, "SELECT count(*) FROM silver.events", func(r *sql.Rows) error {
		if r.Next() {
			return r.Scan(&n)
		}
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "silver.events holds %d rows after the incremental run\n", n)
	return nil
}
