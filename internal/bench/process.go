package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/textout"
)

// processQueries are the queries rat bench query also runs as whole
// processes (by default): no table, a count and a group-by.
var processQueries = []string{"count", "sum by region"}

// processRun is one finished process: its wall time and CPU time.
type processRun struct{ wall, cpu time.Duration }

// benchProcesses compares what a user waits for: 'rat query' as a new
// process against DuckDB alone as a new process over the same files
// ('rat bench duckdb-only', in this binary, so that both pay the same
// process start and package initialisation — reported on its own as
// 'rat --help').
func benchProcesses(ctx context.Context, env Env, a *app.App, dir string, flags map[string]string, plainFrom string, only string, reps int) error {
	out := env.Out
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	vars := benchEnv(flags)
	global := env.globalArgs()
	ratQuery := func(q string) []string {
		return append(append([]string{"-C", dir}, global...), "query", q)
	}
	plain := func(q string) []string {
		return []string{"bench", "duckdb-only", "--memory-mb", strconv.Itoa(a.Config.DuckDBMemoryMB), "--threads", strconv.Itoa(a.Config.DuckDBThreads),
			strings.ReplaceAll(q, "bench.events", plainFrom)}
	}
	queries := []struct{ name, sql string }{{"SELECT 1", "SELECT 1"}}
	for _, q := range benchQueries {
		if (only == "" && slices.Contains(processQueries, q.name)) || (only != "" && strings.Contains(q.name, only)) {
			queries = append(queries, q)
		}
	}
	fmt.Fprintf(out, "\nwhole process: a new process per query, %d runs each after one warm-up, medians (wall / CPU):\n", reps)
	var table [][]string
	for _, q := range queries {
		var rw, rc, pw, pc []time.Duration
		for r := -1; r < reps; r++ {
			// Alternate the order so neither side always runs on a warmer machine.
			first, second := ratQuery(q.sql), plain(q.sql)
			if r%2 != 0 {
				first, second = second, first
			}
			x, err := runProcess(ctx, exe, vars, first)
			if err != nil {
				return fmt.Errorf("query %q as a process: %w", q.name, err)
			}
			y, err := runProcess(ctx, exe, vars, second)
			if err != nil {
				return fmt.Errorf("query %q as a process: %w", q.name, err)
			}
			if r%2 != 0 {
				x, y = y, x
			}
			if r < 0 {
				continue // warm-up
			}
			rw, rc, pw, pc = append(rw, x.wall), append(rc, x.cpu), append(pw, y.wall), append(pc, y.cpu)
		}
		table = append(table, []string{q.name, ms(median(rw)) + " / " + ms(median(rc)), ms(median(pw)) + " / " + ms(median(pc)),
			ms(median(rw) - median(pw))})
	}
	textout.Table(out, []string{"QUERY", "RAT QUERY", "DUCKDB ONLY", "RAT − DUCKDB (WALL)"}, table)
	var hw, hc []time.Duration
	for r := -1; r < reps; r++ {
		x, err := runProcess(ctx, exe, vars, []string{"--help"})
		if err != nil {
			return err
		}
		if r >= 0 {
			hw, hc = append(hw, x.wall), append(hc, x.cpu)
		}
	}
	fmt.Fprintf(out, "process start of this binary ('rat --help'): %s / %s, paid by both columns: DUCKDB ONLY runs in the rat binary\n"+
		"(a program that links only DuckDB starts in a few ms); RAT − DUCKDB is rat's own work per command:\n"+
		"configuration, catalog, metadata and planning\n", ms(median(hw)), ms(median(hc)))
	return nil
}

// benchEnv is the environment of the processes bench query starts: this
// one's, pointed at the bench's catalog and warehouse.
func benchEnv(flags map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != "RAT_CATALOG_URL" && name != "ICEBERG_WAREHOUSE" {
			env = append(env, kv)
		}
	}
	env = append(env, "RAT_CATALOG_URL="+flags["catalog_url"])
	if w := flags["warehouse"]; w != "" {
		env = append(env, "ICEBERG_WAREHOUSE="+w)
	}
	return env
}

// runProcess runs the rat binary with args to the end, output discarded.
func runProcess(ctx context.Context, exe string, env, args []string) (processRun, error) {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return processRun{}, rat.Errorf(rat.EINTERNAL, "rat %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return processRun{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}
