package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
)

// OptimizeOptions are the flags of rat bench optimize.
type OptimizeOptions struct {
	Dir     string   // state directory ("": a temporary one, removed afterwards)
	Appends int      // appends (small files) the table is built from
	Rows    int      // rows per append
	Reps    int      // timed repetitions per query and per planning
	SortBy  []string // sort key of the compaction (nil: none)
}

// tableShape is what a table costs to plan and read at one moment.
type tableShape struct {
	files, manifests int
	bytes            int64
	plan             time.Duration            // median cold planning (load table + list files)
	queries          map[string]time.Duration // median per bench query
	results          map[string][]string      // each query's rows, as text
}

// Optimize builds bench.events from many small appends, measures it, runs
// rat optimize on it, and measures it again, in one process: file count,
// bytes, planning time and the bench query set side by side with ratios,
// the results compared, and the peak memory of the compaction.
func Optimize(ctx context.Context, env Env, o OptimizeOptions) error {
	if o.Appends < 2 || o.Rows < 1 || o.Reps < 1 {
		return rat.Errorf(rat.EINVALID, "rat bench optimize: want --appends of at least 2, --rows and --reps of at least 1")
	}
	dir, cleanup, err := tempDir(o.Dir, "rat-bench-optimize-")
	if err != nil {
		return err
	}
	defer cleanup()
	a, err := env.Open(ctx, dir, map[string]string{"catalog_url": filepath.Join(dir, "catalog.db")})
	if err != nil {
		return err
	}
	defer a.Close()
	out := env.Out
	id := rat.TableID{Layer: "bench", Name: "events"}

	start := time.Now()
	for i := 0; i < o.Appends; i++ {
		lo := i * o.Rows
		if _, err := a.Lake.Write(ctx, rat.DefaultBranch, id, eventsSource(lo, lo+o.Rows), lake.WriteOptions{Message: "bench data"}); err != nil {
			return err
		}
		if (i+1)%100 == 0 || i+1 == o.Appends {
			fmt.Fprintf(env.Progress, "appended %s of %s batches (%s)\n", textout.Count(int64(i+1)), textout.Count(int64(o.Appends)), rat.Duration(time.Since(start)))
		}
	}
	fmt.Fprintf(out, "built bench.events: %s rows in %s appends of %s in %s (profile %s)\n", textout.Count(int64(o.Appends*o.Rows)),
		textout.Count(int64(o.Appends)), textout.Count(int64(o.Rows)), rat.Duration(time.Since(start)), a.Config.Profile)

	fmt.Fprintln(env.Progress, "measuring before optimize")
	before, err := measureShape(ctx, a, id, o.Reps)
	if err != nil {
		return err
	}

	opts, err := a.OptimizeOptions(ctx)
	if err != nil {
		return err
	}
	if len(o.SortBy) > 0 {
		opts.SortBy[id] = lake.SortBy{Columns: o.SortBy, From: "--sort-by"}
	}
	opts.Tables = []rat.TableID{id}
	fmt.Fprintln(env.Progress, "optimizing")
	resetPeakMemory()
	start = time.Now()
	res, err := a.Lake.Optimize(ctx, opts)
	if err != nil {
		return err
	}
	took := time.Since(start)
	_, peak, memErr := procMemory(os.Getpid())
	t := res.Tables[0]
	fmt.Fprintf(out, "optimize: %s files → %s (%s read, %s written, sort by %s) in %s; target file size %s\n",
		textout.Count(int64(t.FilesBefore)), textout.Count(int64(t.FilesAfter)), textout.Bytes(t.BytesRead), textout.Bytes(t.BytesWritten),
		orNone(t.SortBy), rat.Duration(took), textout.Bytes(opts.TargetFileBytes))
	if memErr == nil {
		fmt.Fprintf(out, "peak resident memory of this process during optimize: %s (DuckDB memory limit %s)\n",
			textout.Bytes(peak), textout.Bytes(int64(a.Config.DuckDBMemoryMB)<<20))
	}

	fmt.Fprintln(env.Progress, "measuring after optimize")
	after, err := measureShape(ctx, a, id, o.Reps)
	if err != nil {
		return err
	}

	ratio := func(b, a float64) string {
		if a == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", b/a)
	}
	rows := [][]string{
		{"data files", textout.Count(int64(before.files)), textout.Count(int64(after.files)), ratio(float64(before.files), float64(after.files))},
		{"manifests", textout.Count(int64(before.manifests)), textout.Count(int64(after.manifests)), ratio(float64(before.manifests), float64(after.manifests))},
		{"bytes", textout.Bytes(before.bytes), textout.Bytes(after.bytes), ratio(float64(before.bytes), float64(after.bytes))},
		{"planning (cold)", ms(before.plan), ms(after.plan), ratio(float64(before.plan), float64(after.plan))},
	}
	logSum, same := 0.0, 0
	for _, q := range benchQueries {
		b, a := before.queries[q.name], after.queries[q.name]
		logSum += math.Log(float64(b) / float64(a))
		rows = append(rows, []string{"query: " + q.name, ms(b), ms(a), ratio(float64(b), float64(a))})
		if slices.Equal(before.results[q.name], after.results[q.name]) {
			same++
		}
	}
	fmt.Fprintf(out, "\nbefore and after optimize (medians of %d, warm queries; RATIO = before/after, above 1 is faster after):\n", o.Reps)
	textout.Table(out, []string{"MEASURE", "BEFORE", "AFTER", "RATIO"}, rows)
	fmt.Fprintf(out, "geometric mean query speed-up: %.2f\n", math.Exp(logSum/float64(len(benchQueries))))
	if same != len(benchQueries) {
		return rat.Errorf(rat.EINTERNAL, "optimize changed results: %d of %d bench queries answer differently", len(benchQueries)-same, len(benchQueries))
	}
	fmt.Fprintf(out, "results: all %d queries answer identically before and after (floats to 12 significant digits)\n", len(benchQueries))
	return nil
}

func orNone(cols []string) string {
	if len(cols) == 0 {
		return "none"
	}
	return strings.Join(cols, ",")
}

// measureShape measures bench.events as it is now.
func measureShape(ctx context.Context, a *app.App, id rat.TableID, reps int) (tableShape, error) {
	s := tableShape{queries: map[string]time.Duration{}, results: map[string][]string{}}
	tbl, err := a.Lake.Load(ctx, rat.DefaultBranch, id)
	if err != nil {
		return s, err
	}
	files, err := a.Lake.Files(ctx, tbl, tbl.Metadata().CurrentSnapshot())
	if err != nil {
		return s, err
	}
	s.files = len(files)
	for _, f := range files {
		s.bytes += f.Bytes
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return s, err
	}
	manifests, err := tbl.Metadata().CurrentSnapshot().Manifests(fsys)
	if err != nil {
		return s, err
	}
	s.manifests = len(manifests)
	// Cold planning: a new Lake has empty metadata and file-list caches,
	// as a new process would.
	var plans []time.Duration
	for r := 0; r < max(reps, 3); r++ {
		fresh := a.NewLake("")
		t := time.Now()
		if _, err := fresh.Plan(ctx, rat.DefaultBranch, lake.At{}, fmt.Sprintf("SELECT count(*) FROM bench.events -- %d", r)); err != nil {
			return s, err
		}
		plans = append(plans, time.Since(t))
	}
	s.plan = median(plans)
	for _, q := range benchQueries {
		var res []string
		err := a.Lake.Query(ctx, rat.DefaultBranch, lake.At{}, q.sql, func(rows *sql.Rows) error {
			res, err = rowsText(rows)
			return err
		})
		if err != nil {
			return s, fmt.Errorf("query %q: %w", q.name, err)
		}
		s.results[q.name] = res
		var times []time.Duration
		for r := 0; r < reps; r++ {
			t := time.Now()
			if err := a.Lake.Query(ctx, rat.DefaultBranch, lake.At{}, q.sql, drain); err != nil {
				return s, err
			}
			times = append(times, time.Since(t))
		}
		s.queries[q.name] = median(times)
	}
	return s, nil
}

// rowsText renders rows for comparison; floats to 12 significant digits,
// since a sum of doubles depends a little on the order it adds them in.
func rowsText(rows *sql.Rows) ([]string, error) {
	var out []string
	_, err := duckdb.EachRow(rows, func(_ []string, vals []any) error {
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				parts[i] = "NULL"
			case float64:
				parts[i] = strconv.FormatFloat(x, 'g', 12, 64)
			default:
				parts[i] = duckdb.Text(v)
			}
		}
		out = append(out, strings.Join(parts, " | "))
		return nil
	})
	return out, err
}

// resetPeakMemory makes the kernel's peak resident memory (VmHWM) start
// again from now (Linux; elsewhere the peak stays the process's).
func resetPeakMemory() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0o200)
}
