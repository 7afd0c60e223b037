package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
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
	results          map[string][][]any       // each query's rows
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

	beforeTbl, err := a.Lake.Load(ctx, rat.DefaultBranch, id)
	if err != nil {
		return err
	}
	beforeSnap := beforeTbl.Metadata().CurrentSnapshot().SnapshotID

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
	rssBefore, _, _ := procMemory(os.Getpid())
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
		fmt.Fprintf(out, "resident memory of this process: %s when optimize started, peak %s during it, %s more (DuckDB memory limit %s)\n",
			textout.Bytes(rssBefore), textout.Bytes(peak), textout.Bytes(max(0, peak-rssBefore)), textout.Bytes(int64(a.Config.DuckDBMemoryMB)<<20))
	}

	// Both states are read from the same process in alternation, the
	// before state by time travel to its snapshot, so that a machine
	// busier at one moment does not favour either.
	fmt.Fprintln(env.Progress, "measuring before (time travel) and after optimize, alternately")
	before, after, err := measureShapes(ctx, a, id, lake.At{SnapshotID: beforeSnap}, o.Reps)
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
	logSum := 0.0
	var differ []string
	for _, q := range benchQueries {
		b, a := before.queries[q.name], after.queries[q.name]
		logSum += math.Log(float64(b) / float64(a))
		rows = append(rows, []string{"query: " + q.name, ms(b), ms(a), ratio(float64(b), float64(a))})
		if b, a := before.results[q.name], after.results[q.name]; !sameRows(b, a) {
			differ = append(differ, q.name)
			fmt.Fprintf(env.Progress, "query %q answers differently: %d rows before, %d after; first rows %v / %v\n", q.name, len(b), len(a), firstRow(b), firstRow(a))
		}
	}
	fmt.Fprintf(out, "\nbefore (time travel to the snapshot before) and after optimize, measured alternately (medians of %d, warm queries; RATIO = before/after, above 1 is faster after):\n", o.Reps)
	textout.Table(out, []string{"MEASURE", "BEFORE", "AFTER", "RATIO"}, rows)
	fmt.Fprintf(out, "geometric mean query speed-up: %.2f\n", math.Exp(logSum/float64(len(benchQueries))))
	if len(differ) > 0 {
		return rat.Errorf(rat.EINTERNAL, "optimize changed results: %d of %d bench queries answer differently: %s", len(differ), len(benchQueries), strings.Join(differ, ", "))
	}
	fmt.Fprintf(out, "results: all %d queries answer identically before and after (floats to a relative 1e-9: sums of doubles depend on the order of addition)\n", len(benchQueries))
	return nil
}

func orNone(cols []string) string {
	if len(cols) == 0 {
		return "none"
	}
	return strings.Join(cols, ",")
}

// measureShapes measures bench.events at the snapshot before optimize and
// now, alternating between the two for every repetition.
func measureShapes(ctx context.Context, a *app.App, id rat.TableID, past lake.At, reps int) (tableShape, tableShape, error) {
	shapes := [2]tableShape{}
	ats := [2]lake.At{past, {}}
	for i := range shapes {
		s := &shapes[i]
		s.queries, s.results = map[string]time.Duration{}, map[string][][]any{}
		r, err := a.Lake.Resolve(ctx, rat.DefaultBranch, id, ats[i])
		if err != nil {
			return shapes[0], shapes[1], err
		}
		s.files = len(r.Files)
		for _, f := range r.Files {
			s.bytes += f.Bytes
		}
		fsys, err := r.Table.FS(ctx)
		if err != nil {
			return shapes[0], shapes[1], err
		}
		manifests, err := r.Snapshot.Manifests(fsys)
		if err != nil {
			return shapes[0], shapes[1], err
		}
		s.manifests = len(manifests)
	}
	// alternate runs f for both states reps times, in alternating order.
	alternate := func(n int, f func(at lake.At, rep int) (time.Duration, error)) ([2]time.Duration, error) {
		var times [2][]time.Duration
		for r := 0; r < n; r++ {
			for k := 0; k < 2; k++ {
				i := (r + k) % 2
				d, err := f(ats[i], r)
				if err != nil {
					return [2]time.Duration{}, err
				}
				times[i] = append(times[i], d)
			}
		}
		return [2]time.Duration{median(times[0]), median(times[1])}, nil
	}
	// Cold planning: a new Lake has empty metadata and file-list caches,
	// as a new process would; a distinct query text defeats the parse cache.
	plans, err := alternate(max(reps, 3), func(at lake.At, r int) (time.Duration, error) {
		fresh := a.NewLake("")
		t := time.Now()
		_, err := fresh.Plan(ctx, rat.DefaultBranch, at, fmt.Sprintf("SELECT count(*) FROM bench.events -- %d %d", r, at.SnapshotID))
		return time.Since(t), err
	})
	if err != nil {
		return shapes[0], shapes[1], err
	}
	shapes[0].plan, shapes[1].plan = plans[0], plans[1]
	for _, q := range benchQueries {
		for i := range shapes {
			var res [][]any
			err := a.Lake.Query(ctx, rat.DefaultBranch, ats[i], q.sql, func(rows *sql.Rows) error {
				_, err := duckdb.EachRow(rows, func(_ []string, vals []any) error {
					res = append(res, slices.Clone(vals))
					return nil
				})
				return err
			})
			if err != nil {
				return shapes[0], shapes[1], fmt.Errorf("query %q: %w", q.name, err)
			}
			shapes[i].results[q.name] = res
		}
		d, err := alternate(reps, func(at lake.At, _ int) (time.Duration, error) {
			t := time.Now()
			err := a.Lake.Query(ctx, rat.DefaultBranch, at, q.sql, drain)
			return time.Since(t), err
		})
		if err != nil {
			return shapes[0], shapes[1], err
		}
		shapes[0].queries[q.name], shapes[1].queries[q.name] = d[0], d[1]
	}
	return shapes[0], shapes[1], nil
}

// sameRows compares query results: floats to a relative 1e-9, since a
// sum of doubles depends a little on the order it adds them in; all else
// exactly.
func sameRows(a, b [][]any) bool {
	return slices.EqualFunc(a, b, func(x, y []any) bool {
		return slices.EqualFunc(x, y, func(v, w any) bool {
			fv, ok1 := v.(float64)
			fw, ok2 := w.(float64)
			if ok1 && ok2 {
				return math.Abs(fv-fw) <= 1e-9*max(math.Abs(fv), math.Abs(fw))
			}
			return duckdb.Text(v) == duckdb.Text(w) && (v == nil) == (w == nil)
		})
	})
}

func firstRow(rows [][]any) []any {
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}

// resetPeakMemory makes the kernel's peak resident memory (VmHWM) start
// again from now (Linux; elsewhere the peak stays the process's).
func resetPeakMemory() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0o200)
}
