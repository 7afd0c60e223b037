// Package bench holds the measurements behind 'rat bench': query speed
// against plain DuckDB, pipeline runs, catalog commits under concurrent
// writers, rat serve's latency and throughput, the memory of API answers,
// and rat migrate against a plain copy of the same files. The cli defines the commands (flags, help text) and calls in
// here; a benchmark gets the live objects it measures from the composition
// root through Env.Open, and starts rat processes from the running binary.
package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/duckdb"
)

// Env is what a benchmark gets from the command that runs it.
type Env struct {
	// Open builds the live objects of rat in dir, as 'rat -C dir' would,
	// with per-command configuration overrides (catalog_url, warehouse).
	Open func(ctx context.Context, dir string, flags map[string]string) (*app.App, error)
	// Profile is the --profile the command got, passed on to the rat
	// processes a benchmark starts ("" for none).
	Profile string
	// Out gets the report, Progress the lines that say what runs now.
	Out, Progress io.Writer
}

// globalArgs are the global flags passed on to rat child processes.
func (e Env) globalArgs() []string {
	if e.Profile == "" {
		return nil
	}
	return []string{"--profile", e.Profile}
}

// tempDir returns dir, or when it is "", a new temporary directory named
// after pattern and the function that removes it.
func tempDir(dir, pattern string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
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

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
