package cli

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

// benchQueries are the fixed analytical queries of `rat bench query`; the
// table is called bench.events.
var benchQueries = []struct{ name, sql string }{
	{"count", `SELECT count(*) FROM bench.events`},
	{"sum by region", `SELECT region, sum(amount) AS total FROM bench.events GROUP BY region ORDER BY region`},
	{"top customers", `SELECT customer, sum(amount) AS total FROM bench.events GROUP BY customer ORDER BY total DESC LIMIT 10`},
	{"daily", `SELECT date_trunc('day', ts) AS day, count(*) AS n, avg(amount) AS avg FROM bench.events GROUP BY 1 ORDER BY 1`},
	{"time range", `SELECT count(*), sum(qty) FROM bench.events WHERE ts >= TIMESTAMP '2024-03-01' AND ts < TIMESTAMP '2024-03-08'`},
	{"distinct", `SELECT count(DISTINCT customer) FROM bench.events`},
	{"quantiles", `SELECT region, quantile_cont(amount, 0.5) AS p50, quantile_cont(amount, 0.95) AS p95 FROM bench.events GROUP BY region ORDER BY region`},
	{"window", `SELECT customer, max(running) FROM (SELECT customer, sum(qty) OVER (PARTITION BY customer ORDER BY ts ROWS UNBOUNDED PRECEDING) AS running FROM bench.events WHERE customer < 'c01000') GROUP BY customer ORDER BY 2 DESC LIMIT 5`},
	{"self join", `SELECT e.region, count(*) FROM bench.events e JOIN (SELECT customer, avg(amount) AS a FROM bench.events GROUP BY customer) c USING (customer) WHERE e.amount > c.a GROUP BY e.region ORDER BY 1`},
	{"string filter", `SELECT count(*) FROM bench.events WHERE customer LIKE '%77%' AND qty > 5`},
}

func newBenchQueryCmd(g *globals) *cobra.Command {
	var rows, reps, files, tables, processReps int
	var warehouse, dir, only string
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Compare query speed through rat with plain DuckDB read_parquet over the same files",
		Long: `Build a synthetic table (id, ts, customer, region, amount, qty), then run 10
analytical queries twice per repetition: through rat (catalog lookup, Iceberg
metadata, field-id mapping, read cache) and through plain DuckDB read_parquet
over the very same files, in one process, warm. Prints per-query medians,
each ratio rat/plain and their geometric mean, and rat's planning overhead
with --tables tables in the catalog.

Then what a user waits for: 'rat query' as a new process against DuckDB
alone as a new process (a hidden subcommand of this binary, so both pay the
same process start, reported on its own as 'rat --help'), for SELECT 1, a
count and a group-by (or the --query ones), --process-reps runs each.

The state lives in a temporary directory (or --dir); --warehouse s3://bucket/prefix/
puts the table on S3 (credentials from S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY).`,
		Example: `  rat bench query
  rat bench query --rows 1000000 --reps 3 --query group`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if dir == "" {
				d, err := os.MkdirTemp("", "rat-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			}
			flags := map[string]string{"catalog_url": filepath.Join(dir, "catalog.db")}
			if warehouse != "" {
				if strings.HasPrefix(warehouse, "s3://") {
					warehouse = strings.TrimSuffix(warehouse, "/") + fmt.Sprintf("/bench-%d/", time.Now().UnixNano())
				}
				flags["warehouse"] = warehouse
			}
			a, err := g.openIn(ctx, dir, flags)
			if err != nil {
				return err
			}
			defer a.Close()
			return benchQuery(ctx, cmd.OutOrStdout(), a, rows, files, reps, tables, only, func(plainFrom string) error {
				if processReps <= 0 {
					return nil
				}
				return benchProcesses(ctx, cmd.OutOrStdout(), a, g, dir, flags, plainFrom, only, processReps)
			})
		},
	}
	cmd.Flags().IntVar(&rows, "rows", 10_000_000, "rows in the synthetic table")
	cmd.Flags().IntVar(&files, "files", 10, "number of appends (data files) the table is built from")
	cmd.Flags().IntVar(&reps, "reps", 5, "timed repetitions per query and engine")
	cmd.Flags().IntVar(&tables, "tables", 100, "tables in the catalog when measuring planning overhead")
	cmd.Flags().IntVar(&processReps, "process-reps", 10, "runs per query of the whole-process comparison (0 skips it)")
	cmd.Flags().StringVar(&warehouse, "warehouse", "", "warehouse for the bench table (default: a local temporary directory)")
	cmd.Flags().StringVar(&only, "query", "", "run only the queries whose name contains this text")
	cmd.Flags().StringVar(&dir, "dir", "", "state directory to use (default: a new temporary directory, removed afterwards)")
	return cmd
}

func benchQuery(ctx context.Context, out io.Writer, a *app, rows, files, reps, tables int, only string, processes func(plainFrom string) error) error {
	files = max(files, 1)
	id := rat.TableID{Layer: "bench", Name: "events"}
	start := time.Now()
	per := rows / files
	for i := 0; i < files; i++ {
		n := per
		if i == files-1 {
			n = rows - per*(files-1)
		}
		src := fmt.Sprintf(`SELECT i AS id,
			TIMESTAMP '2024-01-01' + to_seconds(CAST(i %% 15552000 AS BIGINT)) AS ts,
			'c' || lpad(CAST(hash(i) %% 20000 AS VARCHAR), 5, '0') AS customer,
			['north','south','east','west','central'][1 + CAST(hash(i * 7) %% 5 AS INTEGER)] AS region,
			CAST((hash(i * 13) %% 100000) / 100.0 AS DOUBLE) AS amount,
			CAST(hash(i * 17) %% 10 AS INTEGER) AS qty
			FROM range(%d, %d) t(i)`, per*i, per*i+n)
		if _, err := a.Lake.Write(ctx, rat.DefaultBranch, id, src, lake.WriteOptions{Message: "bench data"}); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "built bench.events: %d rows in %d files in %s (warehouse %s)\n", rows, files, rat.Duration(time.Since(start)), a.Config.Warehouse)

	res, err := a.Lake.Resolve(ctx, rat.DefaultBranch, id, lake.At{})
	if err != nil {
		return err
	}
	paths, err := a.Lake.LocalPaths(ctx, res.Files) // warms the cache on S3
	if err != nil {
		return err
	}
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = duckdb.Quote(p)
	}
	plainFrom := "read_parquet([" + strings.Join(quoted, ", ") + "])"

	runRat := func(q string) (time.Duration, error) {
		t := time.Now()
		err := a.Lake.Query(ctx, rat.DefaultBranch, lake.At{}, q, drain)
		return time.Since(t), err
	}
	runPlain := func(q string) (time.Duration, error) {
		q = strings.ReplaceAll(q, "bench.events", plainFrom)
		t := time.Now()
		rows, err := a.DB.SQL().QueryContext(ctx, q)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		if err := drain(rows); err != nil {
			return 0, err
		}
		return time.Since(t), rows.Err()
	}

	queries := benchQueries
	if only != "" {
		queries = nil
		for _, q := range benchQueries {
			if strings.Contains(q.name, only) {
				queries = append(queries, q)
			}
		}
		if len(queries) == 0 {
			return rat.Errorf(rat.EINVALID, "--query %q matches no query", only)
		}
	}
	// Warm both paths: every query once through each before timing.
	for _, q := range queries {
		if _, err := runRat(q.sql); err != nil {
			return fmt.Errorf("query %q through rat: %w", q.name, err)
		}
		if _, err := runPlain(q.sql); err != nil {
			return fmt.Errorf("query %q through DuckDB: %w", q.name, err)
		}
	}
	fmt.Fprintf(out, "\n%d queries, %d repetitions each, medians (warm):\n", len(queries), reps)
	var table [][]string
	logSum := 0.0
	for _, q := range queries {
		var rt, pt []time.Duration
		for r := 0; r < reps; r++ {
			// Alternate the order so neither engine always runs on a warmer machine.
			if r%2 == 0 {
				d, err := runRat(q.sql)
				if err != nil {
					return err
				}
				rt = append(rt, d)
				if d, err = runPlain(q.sql); err != nil {
					return err
				}
				pt = append(pt, d)
			} else {
				d, err := runPlain(q.sql)
				if err != nil {
					return err
				}
				pt = append(pt, d)
				if d, err = runRat(q.sql); err != nil {
					return err
				}
				rt = append(rt, d)
			}
		}
		rm, pm := median(rt), median(pt)
		ratio := float64(rm) / float64(pm)
		logSum += math.Log(ratio)
		table = append(table, []string{q.name, ms(rm), ms(pm), fmt.Sprintf("%.2f", ratio)})
	}
	textout.Table(out, []string{"QUERY", "RAT", "DUCKDB", "RATIO"}, table)
	fmt.Fprintf(out, "geometric mean ratio rat/duckdb: %.3f\n", math.Exp(logSum/float64(len(queries))))
	if err := processes(plainFrom); err != nil {
		return err
	}

	// Planning overhead with many tables in the catalog.
	for i := 0; i < tables-1; i++ {
		other := rat.TableID{Layer: "bench", Name: fmt.Sprintf("t%03d", i)}
		if _, err := a.Lake.Write(ctx, rat.DefaultBranch, other, "SELECT 1 AS x", lake.WriteOptions{}); err != nil {
			return err
		}
	}
	var plans []time.Duration
	for r := 0; r < max(reps, 5)*4; r++ {
		t := time.Now()
		if _, err := a.Lake.Plan(ctx, rat.DefaultBranch, lake.At{}, benchQueries[1].sql); err != nil {
			return err
		}
		plans = append(plans, time.Since(t))
	}
	fmt.Fprintf(out, "planning overhead with %d tables in the catalog, warm: median %s, max %s\n", tables, ms(median(plans)), ms(slicesMax(plans)))
	// Cold: a new Lake has empty metadata and file-list caches, as a new
	// process would; a distinct query text defeats the parse cache.
	var cold []time.Duration
	for r := 0; r < max(reps, 5)*2; r++ {
		fresh := lake.New(lake.Config{Store: a.Store, Objects: a.Objects, Cache: a.Cache, DB: a.DB,
			TmpDir: filepath.Join(a.Config.StateDir, "tmp"), RowGroupSize: a.Config.ChunkSizeRows})
		t := time.Now()
		if _, err := fresh.Plan(ctx, rat.DefaultBranch, lake.At{}, fmt.Sprintf("%s -- %d", benchQueries[1].sql, r)); err != nil {
			return err
		}
		cold = append(cold, time.Since(t))
	}
	fmt.Fprintf(out, "planning overhead with %d tables in the catalog, cold caches: median %s, max %s\n", tables, ms(median(cold)), ms(slicesMax(cold)))
	if c := a.Cache; c != nil && a.Config.IsS3() {
		fmt.Fprintf(out, "read cache: %d hits, %d misses, %s\n", c.Hits(), c.Misses(), textout.Bytes(c.Bytes()))
	}
	return nil
}

func drain(rows *sql.Rows) error {
	_, err := duckdb.EachRow(rows, func([]string, []any) error { return nil })
	return err
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func slicesMax(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func lakeAt() lake.At { return lake.At{} }
