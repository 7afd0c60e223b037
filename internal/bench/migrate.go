package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/migrate"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/sqlite"
	"github.com/ratdata/rat/internal/textout"
)

// MigrateOptions are the flags of rat bench migrate.
type MigrateOptions struct {
	Dir         string  // workspace directory ("": a temporary one, removed afterwards)
	Sizes       []int64 // warehouse sizes to measure, in bytes, ascending
	ToWarehouse string  // target base: s3://bucket/prefix or a directory ("": a temporary directory)
	Workers     int     // files copied at once, by rat migrate and by the plain copy
	Reps        int     // timed runs of each side per size
	Commits     int     // commits in the catalog copied (0 skips the catalog copy)
	Postgres    string  // a Postgres URL to copy the catalog into too ("": SQLite only)
}

// migrateTables are the tables the warehouse is built of; appends go to
// them in turn.
var migrateTables = []rat.TableID{{Layer: "bench", Name: "events_a"}, {Layer: "bench", Name: "events_b"}}

// Migrate measures rat migrate's file copy against a plain parallel copy
// of the same files to the same kind of target, at each size, and then
// copying a catalog of o.Commits commits (sqlstore.Copy).
func Migrate(ctx context.Context, env Env, o MigrateOptions) error {
	if len(o.Sizes) == 0 || o.Workers < 1 || o.Reps < 1 || o.Commits < 0 {
		return rat.Errorf(rat.EINVALID, "rat bench migrate: give at least one size, --workers and --reps of at least 1, --commits not negative")
	}
	dir, cleanup, err := tempDir(o.Dir, "rat-bench-migrate-")
	if err != nil {
		return err
	}
	defer cleanup()
	base := o.ToWarehouse
	if base == "" {
		d, err := os.MkdirTemp("", "rat-bench-migrate-target-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		base = d
	}
	flags := map[string]string{"catalog_url": filepath.Join(dir, "catalog.db"), "warehouse": filepath.Join(dir, "warehouse")}
	a, err := env.Open(ctx, dir, flags)
	if err != nil {
		return err
	}
	defer a.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	sizes := slices.Clone(o.Sizes)
	slices.Sort(sizes)
	fileBytes := min(max(sizes[len(sizes)-1]/32, 1<<20), 64<<20)
	g := &generator{a: a, fileBytes: fileBytes}
	out := env.Out
	fmt.Fprintf(out, "target %s, %d workers, %d run(s) per side and size, order alternating\n", base, o.Workers, o.Reps)
	var rows [][]string
	run := 0
	for _, size := range sizes {
		fmt.Fprintf(env.Progress, "building %s of tables...\n", mib(size))
		start := time.Now()
		if err := g.grow(ctx, size); err != nil {
			return err
		}
		files, total, err := warehouseSize(ctx, a.Objects)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Progress, "built %d files, %s in %s\n", files, mib(total), rat.Duration(time.Since(start)))
		var ratMBs, filesMBs, plainMBs []float64
		var peak int64
		for r := 0; r < o.Reps; r++ {
			sides := []func() error{
				func() error {
					target := fmt.Sprintf("%s/rat-%d-%d", strings.TrimSuffix(base, "/"), time.Now().UnixNano(), run)
					fmt.Fprintf(env.Progress, "rat migrate %s...\n", mib(total))
					m, err := migrateProcess(ctx, env, exe, dir, flags, target, o.Workers)
					if err != nil {
						return err
					}
					ratMBs, filesMBs, peak = append(ratMBs, float64(total)/1e6/m.wall.Seconds()), append(filesMBs, float64(total)/1e6/m.files.Seconds()), max(peak, m.rss)
					return removeTarget(ctx, a, target)
				},
				func() error {
					target := fmt.Sprintf("%s/plain-%d-%d", strings.TrimSuffix(base, "/"), time.Now().UnixNano(), run)
					fmt.Fprintf(env.Progress, "plain copy %s...\n", mib(total))
					wall, err := plainCopy(ctx, a, target, o.Workers)
					if err != nil {
						return err
					}
					plainMBs = append(plainMBs, float64(total)/1e6/wall.Seconds())
					return removeTarget(ctx, a, target)
				},
			}
			if run%2 == 1 {
				sides[0], sides[1] = sides[1], sides[0]
			}
			run++
			for _, side := range sides {
				if err := side(); err != nil {
					return err
				}
			}
		}
		rm, fm, pm := medianFloat(ratMBs), medianFloat(filesMBs), medianFloat(plainMBs)
		rows = append(rows, []string{mib(size), mib(total), strconv.Itoa(files), fmt.Sprintf("%.1f", rm), fmt.Sprintf("%.1f", fm),
			fmt.Sprintf("%.1f", pm), pairRatios(plainMBs, ratMBs), pairRatios(plainMBs, filesMBs), mib(peak)})
	}
	fmt.Fprintln(out, "\nfiles: rat migrate --to-warehouse as a child process (RAT: the whole command, from the process start to its")
	fmt.Fprintln(out, "end, with the verification from Iceberg metadata and the copied files' checksums; FILES PHASE: its copy alone,")
	fmt.Fprintln(out, "streamed through SHA-256, Iceberg metadata rewritten) vs a plain parallel copy of the same objects in this")
	fmt.Fprintln(out, "process (open → put, nothing checked); medians, MB = 10^6 bytes; ratios of times, the median of the runs'")
	fmt.Fprintln(out, "pairs with their range:")
	textout.Table(out, []string{"SIZE", "WAREHOUSE", "FILES", "RAT MB/S", "FILES PHASE MB/S", "PLAIN MB/S", "RAT/PLAIN", "FILES PHASE/PLAIN", "RAT PEAK RSS"}, rows)
	if o.Commits == 0 {
		return nil
	}
	return migrateCatalog(ctx, env, o)
}

// generator appends DuckDB-generated data to the bench tables through
// rat's own write path until the warehouse reaches a size.
type generator struct {
	a           *app.App
	fileBytes   int64
	next        int64   // first id of the next append
	bytesPerRow float64 // measured after the first append
	appends     int
}

func (g *generator) grow(ctx context.Context, size int64) error {
	for {
		_, total, err := warehouseSize(ctx, g.a.Objects)
		if err != nil {
			return err
		}
		if total >= size {
			return nil
		}
		n := int64(20_000)
		if g.bytesPerRow > 0 {
			n = max(int64(float64(min(g.fileBytes, size-total+g.fileBytes/8))/g.bytesPerRow), 1000)
		}
		// Random doubles and hashes: data that compresses about as little as real measurements.
		src := fmt.Sprintf(`SELECT i AS id, random() AS x, random() AS y, md5(CAST(i AS VARCHAR)) AS tag
			FROM range(%d, %d) t(i)`, g.next, g.next+n)
		id := migrateTables[g.appends%len(migrateTables)]
		if _, err := g.a.Lake.Write(ctx, rat.DefaultBranch, id, src, lake.WriteOptions{Message: "bench data"}); err != nil {
			return err
		}
		_, after, err := warehouseSize(ctx, g.a.Objects)
		if err != nil {
			return err
		}
		if g.bytesPerRow == 0 {
			g.bytesPerRow = float64(after-total) / float64(n)
		}
		g.next += n
		g.appends++
	}
}

func warehouseSize(ctx context.Context, s objstore.Store) (files int, total int64, err error) {
	list, err := s.List(ctx, "")
	for _, f := range list {
		total += f.Size
	}
	return len(list), total, err
}

// migrateRun is one finished 'rat migrate' child process.
type migrateRun struct {
	wall  time.Duration // of the whole process
	files time.Duration // of its files phase (copy, rewrite), from its report
	rss   int64         // peak resident memory (the kernel's high-water mark)
}

// migrateProcess runs 'rat migrate --to-warehouse target --json' on the
// bench workspace as a child process; a run that does not verify fails.
func migrateProcess(ctx context.Context, env Env, exe, dir string, flags map[string]string, target string, workers int) (migrateRun, error) {
	args := append(append([]string{"-C", dir}, env.globalArgs()...), "migrate", "--to-warehouse", target, "--workers", strconv.Itoa(workers), "--json")
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = benchEnv(flags)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &capped{w: &stdout, n: 4 << 20}, &capped{w: &stderr, n: 64 << 10}
	start := time.Now()
	err := cmd.Run()
	r := migrateRun{wall: time.Since(start)}
	if err != nil {
		return r, rat.Errorf(rat.EINTERNAL, "rat %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	var rep migrate.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Files == nil || !rep.Verified {
		return r, rat.Errorf(rat.EINTERNAL, "rat %s: no verified report (%v): %.2000s", strings.Join(args, " "), err, stdout.String())
	}
	r.files = time.Duration(rep.Files.Seconds * float64(time.Second))
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rss = int64(ru.Maxrss) << 10 // kilobytes on Linux
	}
	return r, nil
}

// capped keeps the first n bytes written to it.
type capped struct {
	w io.Writer
	n int
}

func (c *capped) Write(p []byte) (int, error) {
	if k := min(len(p), c.n); k > 0 {
		c.w.Write(p[:k])
		c.n -= k
	}
	return len(p), nil
}

// targetStore opens a warehouse location the way rat migrate opens its
// target (the S3 settings of a's configuration, the bucket must exist).
func targetStore(ctx context.Context, a *app.App, target string) (objstore.Store, error) {
	cfg, err := app.TargetConfig(a.Config, app.Target{WarehouseURL: target}, a.Config.StateDir, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return app.OpenWarehouse(ctx, cfg)
}

// plainCopy copies every object of a's warehouse to target, workers at a
// time, streamed, nothing checked or rewritten: the yardstick.
func plainCopy(ctx context.Context, a *app.App, target string, workers int) (time.Duration, error) {
	dst, err := targetStore(ctx, a, target)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	list, err := a.Objects.List(ctx, "")
	if err != nil {
		return 0, err
	}
	err = forEach(ctx, list, workers, func(ctx context.Context, info objstore.Info) error {
		f, err := a.Objects.Open(ctx, info.Key)
		if err != nil {
			return err
		}
		defer f.Close()
		return dst.Put(ctx, info.Key, f, f.Size())
	})
	return time.Since(start), err
}

// removeTarget deletes what a measurement wrote at target.
func removeTarget(ctx context.Context, a *app.App, target string) error {
	dst, err := targetStore(ctx, a, target)
	if err != nil {
		return err
	}
	if l, ok := dst.(*objstore.Local); ok {
		return os.RemoveAll(l.Root())
	}
	list, err := dst.List(ctx, "")
	if err != nil {
		return err
	}
	return forEach(ctx, list, 8, func(ctx context.Context, info objstore.Info) error { return dst.Delete(ctx, info.Key) })
}

// forEach calls fn for every object, workers at a time; the first error
// stops it.
func forEach(ctx context.Context, list []objstore.Info, workers int, fn func(context.Context, objstore.Info) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan objstore.Info)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for info := range work {
				if err := fn(ctx, info); err != nil {
					cancel(fmt.Errorf("%s: %w", info.Key, err))
				}
			}
		}()
	}
	for _, info := range list {
		select {
		case work <- info:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}

// migrateCatalog builds a SQLite catalog of o.Commits commits and times
// copying it (sqlstore.Copy, as rat migrate --to-catalog does) into a
// fresh SQLite catalog, and into a scratch Postgres database with
// o.Postgres.
func migrateCatalog(ctx context.Context, env Env, o MigrateOptions) error {
	dir, err := os.MkdirTemp("", "rat-bench-migrate-catalog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src, err := sqlite.Open(ctx, filepath.Join(dir, "source.db"))
	if err != nil {
		return err
	}
	defer src.Close()
	fmt.Fprintf(env.Progress, "committing %d commits...\n", o.Commits)
	built, err := benchCommits(ctx, src, 1, o.Commits, false)
	if err != nil {
		return err
	}
	if built.lost != 0 || built.commits != int64(o.Commits) {
		return rat.Errorf(rat.EINTERNAL, "building the source catalog: %d of %d commits, %d lost", built.commits, o.Commits, built.lost)
	}
	type target struct {
		name string
		open func() (*sqlstore.Store, func(), error)
	}
	targets := []target{{"sqlite → sqlite", func() (*sqlstore.Store, func(), error) {
		s, err := sqlite.Open(ctx, filepath.Join(dir, "target.db"))
		if err != nil {
			return nil, nil, err
		}
		return s.SQLStore(), func() { s.Close() }, nil
	}}}
	if o.Postgres != "" {
		targets = append(targets, target{"sqlite → postgres", func() (*sqlstore.Store, func(), error) {
			s, closeFn, err := scratchPostgres(ctx, o.Postgres, "rat_bench_migrate_")
			if err != nil {
				return nil, nil, err
			}
			return s.SQLStore(), closeFn, nil
		}})
	}
	var rows [][]string
	for _, t := range targets {
		dst, closeFn, err := t.open()
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		start := time.Now()
		rep, err := sqlstore.Copy(ctx, src.SQLStore(), dst, sqlstore.CopyOptions{})
		elapsed := time.Since(start)
		closeFn()
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		var copied int64
		for _, tr := range rep.Tables {
			copied += tr.Rows
		}
		rows = append(rows, []string{t.name, strconv.Itoa(o.Commits), strconv.FormatInt(copied, 10), rat.Duration(elapsed),
			fmt.Sprintf("%.0f", float64(o.Commits)/elapsed.Seconds())})
	}
	fmt.Fprintln(env.Out, "\ncatalog: sqlstore.Copy (rat migrate --to-catalog) of a catalog of one chain of commits:")
	textout.Table(env.Out, []string{"COPY", "COMMITS", "ROWS", "TIME", "COMMITS/S"}, rows)
	if o.Postgres == "" {
		fmt.Fprintln(env.Out, "(Postgres skipped: pass --postgres URL or set RAT_CATALOG_URL=postgres://...)")
	}
	return nil
}

func mib(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// pairRatios is the median of a[i]/b[i] over the pairs of runs, with the
// smallest and largest when there are several.
func pairRatios(a, b []float64) string {
	r := make([]float64, min(len(a), len(b)))
	for i := range r {
		r[i] = a[i] / b[i]
	}
	if len(r) < 2 {
		return fmt.Sprintf("%.2f", medianFloat(r))
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", medianFloat(r), slices.Min(r), slices.Max(r))
}

func medianFloat(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ParseSize reads a size such as "512MiB", "2GiB", "0.5" (GiB when no unit
// is given), "100MB" or "8388608B".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := float64(1 << 30)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f*mult < 1<<20 {
		return 0, rat.Errorf(rat.EINVALID, "size %q: want a number of at least 1 MiB with a unit, such as 512MiB, 2GiB or 0.5 (GiB)", s)
	}
	return int64(f * mult), nil
}
