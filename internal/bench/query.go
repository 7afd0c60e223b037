package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
)

// benchQueries are the fixed analytical queries of `rat bench query`; the
// table is called bench.events. Ties are broken so that every answer is
// deterministic (rat bench optimize compares them).
var benchQueries = []struct{ name, sql string }{
	{"count", `SELECT count(*) FROM bench.events`},
	{"sum by region", `SELECT region, sum(amount) AS total FROM bench.events GROUP BY region ORDER BY region`},
	{"top customers", `SELECT customer, sum(amount) AS total FROM bench.events GROUP BY customer ORDER BY total DESC, customer LIMIT 10`},
	{"daily", `SELECT date_trunc('day', ts) AS day, count(*) AS n, avg(amount) AS avg FROM bench.events GROUP BY 1 ORDER BY 1`},
	{"time range", `SELECT count(*), sum(qty) FROM bench.events WHERE ts >= TIMESTAMP '2024-03-01' AND ts < TIMESTAMP '2024-03-08'`},
	{"distinct", `SELECT count(DISTINCT customer) FROM bench.events`},
	{"quantiles", `SELECT region, quantile_cont(amount, 0.5) AS p50, quantile_cont(amount, 0.95) AS p95 FROM bench.events GROUP BY region ORDER BY region`},
	{"window", `SELECT customer, max(running) FROM (SELECT customer, sum(qty) OVER (PARTITION BY customer ORDER BY ts ROWS UNBOUNDED PRECEDING) AS running FROM bench.events WHERE customer < 'c01000') GROUP BY customer ORDER BY 2 DESC, 1 LIMIT 5`},
	{"self join", `SELECT e.region, count(*) FROM bench.events e JOIN (SELECT customer, avg(amount) AS a FROM bench.events GROUP BY customer) c USING (customer) WHERE e.amount > c.a GROUP BY e.region ORDER BY 1`},
	{"string filter", `SELECT count(*) FROM bench.events WHERE customer LIKE '%77%' AND qty > 5`},
}

// eventsSource is the SELECT of bench.events' rows with ids from lo to hi
// (exclusive): ts grows with the id.
func eventsSource(lo, hi int) string {
	return fmt.Sprintf(`SELECT i AS id,
			TIMESTAMP '2024-01-01' + to_seconds(CAST(i %% 15552000 AS BIGINT)) AS ts,
			'c' || lpad(CAST(hash(i) %% 20000 AS VARCHAR), 5, '0') AS customer,
			['north','south','east','west','central'][1 + CAST(hash(i * 7) %% 5 AS INTEGER)] AS region,
			CAST((hash(i * 13) %% 100000) / 100.0 AS DOUBLE) AS amount,
			CAST(hash(i * 17) %% 10 AS INTEGER) AS qty
			FROM range(%d, %d) t(i)`, lo, hi)
}

// QueryOptions are the flags of rat bench query.
type QueryOptions struct {
	Dir         string // state directory ("": a temporary one, removed afterwards)
	Warehouse   string // "": a local directory; s3://bucket/prefix/ puts the table on S3
	Rows        int    // rows in the synthetic table
	Files       int    // appends (data files) the table is built from
	Reps        int    // timed repetitions per query and engine
	Tables      int    // tables in the catalog when measuring planning overhead
	ProcessReps int    // runs per query of the whole-process comparison (0 skips it)
	Only        string // run only the queries whose name contains this
}

// Query builds a synthetic table and times the fixed queries through rat
// and through plain DuckDB over the same files, in one process, then as
// whole processes, then rat's planning overhead.
func Query(ctx context.Context, env Env, o QueryOptions) error {
	dir, cleanup, err := tempDir(o.Dir, "rat-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	flags := map[string]string{"catalog_url": filepath.Join(dir, "catalog.db")}
	if w := o.Warehouse; w != "" {
		if strings.HasPrefix(w, "s3://") {
			w = strings.TrimSuffix(w, "/") + fmt.Sprintf("/bench-%d/", time.Now().UnixNano())
		}
		flags["warehouse"] = w
	}
	a, err := env.Open(ctx, dir, flags)
	if err != nil {
		return err
	}
	defer a.Close()
	return benchQuery(ctx, env.Out, a, o, func(plainFrom string) error {
		if o.ProcessReps <= 0 {
			return nil
		}
		return benchProcesses(ctx, env, a, dir, flags, plainFrom, o.Only, o.ProcessReps)
	})
}

func benchQuery(ctx context.Context, out io.Writer, a *app.App, o QueryOptions, processes func(plainFrom string) error) error {
	rows, reps, tables, only := o.Rows, o.Reps, o.Tables, o.Only
	files := max(o.Files, 1)
	id := rat.TableID{Layer: "bench", Name: "events"}
	start := time.Now()
	per := rows / files
	for i := 0; i < files; i++ {
		n := per
		if i == files-1 {
			n = rows - per*(files-1)
		}
		src := eventsSource(per*i, per*i+n)
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
		engines := []struct {
			run   func(string) (time.Duration, error)
			times *[]time.Duration
		}{{runRat, &rt}, {runPlain, &pt}}
		for r := 0; r < reps; r++ {
			// Alternate the order so neither engine always runs on a warmer machine.
			for i := range engines {
				e := engines[(r+i)%len(engines)]
				d, err := e.run(q.sql)
				if err != nil {
					return err
				}
				*e.times = append(*e.times, d)
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
		fresh := a.NewLake("")
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
