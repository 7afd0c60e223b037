package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ratdata/rat/internal/testenv"
)

// readProfile checks that a file is a non-empty gzip stream, as pprof
// writes its profiles.
func readProfile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("profile: %v", err)
	}
	z, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("profile %s is not gzip-compressed as pprof writes it: %v", filepath.Base(path), err)
	}
	raw, err := io.ReadAll(z)
	if err != nil || len(raw) == 0 {
		t.Fatalf("profile %s: %d bytes, %v", filepath.Base(path), len(raw), err)
	}
}

// TestCPUProfileFlag: the hidden --cpuprofile flag writes a pprof CPU
// profile of the command's process; a file that cannot be created is one
// clear error.
func TestCPUProfileFlag(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	prof := filepath.Join(t.TempDir(), "version.pprof")
	u.ok("version", "--cpuprofile", prof)
	readProfile(t, prof)
	u.fails("--cpuprofile", "version", "--cpuprofile", filepath.Join(t.TempDir(), "no-such-dir", "x.pprof"))
}

// TestBenchServeProfilesAndSummary: --pprof writes a profile of rat serve
// and of each worker; the output ends with the summary (nodes/s, trigger →
// node start, CPU per node, which Linux reports).
func TestBenchServeProfilesAndSummary(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	prof := filepath.Join(t.TempDir(), "profiles")
	out := u.ok("bench", "serve", "--runs", "2", "--nodes", "3", "--workers", "1", "--pprof", prof)
	for _, name := range []string{"serve.pprof", "worker-1.pprof"} {
		readProfile(t, filepath.Join(prof, name))
	}
	wants := []string{"summary (3 nodes, 1 worker process(es))", "NODES/S", "TRIGGER → NODE START P50", "CPU PER NODE", "SQLite (embedded)"}
	if runtime.GOOS == "linux" {
		wants = append(wants, "CPU time of rat serve and the workers")
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Fatalf("bench serve output lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchServePostgres: --postgres measures a second time on a scratch
// Postgres database, puts both catalogs in the summary and drops the
// scratch database.
func TestBenchServePostgres(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	u := newUser(t, false)
	out := u.ok("bench", "serve", "--runs", "1", "--nodes", "2", "--postgres", pg)
	summary := out[strings.Index(out, "summary"):]
	for _, want := range []string{"SQLite (embedded)", "Postgres"} {
		if !strings.Contains(summary, want) {
			t.Fatalf("summary lacks %q:\n%s", want, out)
		}
	}
	noScratchDatabases(t, pg, "rat_bench_serve_")
}

// noScratchDatabases checks that no database named prefix… is left on the
// Postgres server of url.
func noScratchDatabases(t *testing.T, url, prefix string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_database WHERE datname LIKE $1`, prefix+"%").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d scratch database(s) %s… left behind", left, prefix)
	}
}
