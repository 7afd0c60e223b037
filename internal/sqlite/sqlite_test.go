package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/catalog/catalogtest"
	"github.com/ratdata/rat/internal/sqlite"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Store {
		return open(t, filepath.Join(t.TempDir(), "catalog.db"))
	})
}

func TestShared(t *testing.T) {
	catalogtest.RunShared(t, func(t *testing.T) func() (catalog.Store, error) {
		path := filepath.Join(t.TempDir(), "catalog.db")
		return func() (catalog.Store, error) { return sqlite.Open(context.Background(), path) }
	})
}

// TestMultiProcess runs writers in two child processes that open one new
// file at the same time and commit concurrently.
func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "catalog.db")
	const procs, commits = 2, 50
	var cmds []*exec.Cmd
	for i := range procs {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMultiProcessChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "RAT_TEST_CHILD_DB="+path, fmt.Sprintf("RAT_TEST_CHILD_ID=%d", i))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("child %d:\n%s", i, out.String())
			}
		})
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
	}
	s := open(t, path)
	main, err := s.Ref(t.Context(), rat.DefaultBranch)
	if err != nil {
		t.Fatal(err)
	}
	log, err := s.Log(t.Context(), main.Head, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != procs*commits+1 {
		t.Fatalf("log has %d commits, want %d", len(log), procs*commits+1)
	}
	tables, err := s.Tables(t.Context(), rat.DefaultBranch)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range tables {
		if want := fmt.Sprintf("p%d-%d", i, commits-1); e.Metadata != want {
			t.Errorf("table %s = %s, want %s", e.Table, e.Metadata, want)
		}
	}
}

// TestMultiProcessChild is one writer process of TestMultiProcess.
func TestMultiProcessChild(t *testing.T) {
	path, id := os.Getenv("RAT_TEST_CHILD_DB"), os.Getenv("RAT_TEST_CHILD_ID")
	if path == "" {
		t.Skip("run by TestMultiProcess")
	}
	s := open(t, path)
	table := rat.TableID{Layer: "bronze", Name: "p" + id}
	prev := ""
	for i := range 50 {
		next := fmt.Sprintf("p%s-%d", id, i)
		if _, err := s.Commit(t.Context(), catalog.CommitRequest{Branch: "main", Author: "child", Message: "m",
			Changes: []catalog.Change{{Table: table, Expected: prev, Metadata: next}}}); err != nil {
			t.Fatal(err)
		}
		prev = next
	}
}

func TestOpenCreatesDirectories(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", ".rat", "catalog.db")
	s := open(t, path)
	if _, err := s.Ref(t.Context(), rat.DefaultBranch); err != nil {
		t.Fatal(err)
	}
}

func TestPragmasOnEveryConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	open(t, path)
	db, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(3)
	// Hold three connections at once, so that each is a distinct one.
	var conns []*sql.Conn
	for range 3 {
		c, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		for pragma, want := range map[string]string{"journal_mode": "wal", "busy_timeout": "10000", "synchronous": "1", "foreign_keys": "1"} {
			var got string
			if err := c.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if strings.ToLower(got) != want {
				t.Errorf("connection %d: %s = %s, want %s", i, pragma, got, want)
			}
		}
	}
}

func TestPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "my data?#%", "catalog.db")
	s := open(t, path)
	if _, err := s.Ref(t.Context(), rat.DefaultBranch); err != nil {
		t.Fatal(err)
	}
	if _, err := sql.Open("sqlite", sqlite.DSN(path)); err != nil {
		t.Fatal(err)
	}
}

func TestAmbiguousPrefix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	s := open(t, path)
	db, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	catalogtest.AmbiguousPrefix(t, s, db)
}

func TestNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	if err := writeFile(path, strings.Repeat("not sqlite ", 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(t.Context(), path); rat.ErrorCode(err) != rat.EINVALID || !strings.Contains(err.Error(), "not a SQLite database") {
		t.Fatalf("Open(garbage) = %v, want %s saying it is not a SQLite database", err, rat.EINVALID)
	}
}

// BenchmarkCommit measures commits per second of 8×GOMAXPROCS concurrent
// writers (run with -cpu 1 for 8) on distinct tables of one branch.
func BenchmarkCommit(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "catalog.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	catalogtest.BenchCommit(b, s)
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o644)
}

func TestRunRecords(t *testing.T) {
	catalogtest.RunRecords(t, func(t *testing.T) catalogtest.RunStore {
		return open(t, filepath.Join(t.TempDir(), "catalog.db"))
	})
}

func TestScheduleState(t *testing.T) {
	catalogtest.ScheduleState(t, open(t, filepath.Join(t.TempDir(), "catalog.db")))
}

func TestWebhookDeliveries(t *testing.T) {
	catalogtest.Deliveries(t, open(t, filepath.Join(t.TempDir(), "catalog.db")))
}

func TestUISessions(t *testing.T) {
	catalogtest.Sessions(t, open(t, filepath.Join(t.TempDir(), "catalog.db")))
}

func TestLegacyRunBranches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	catalogtest.LegacyRunBranches(t, open(t, path), db, func() catalog.Store { return open(t, path) })
}

func TestTriggerKeyRenames(t *testing.T) {
	catalogtest.TriggerKeyRenames(t, open(t, filepath.Join(t.TempDir(), "catalog.db")))
}

func TestRunOwners(t *testing.T) {
	catalogtest.RunOwners(t, open(t, filepath.Join(t.TempDir(), "catalog.db")))
}

// BenchmarkStaleRuns measures the read every command that runs or lists
// runs makes to find runs whose owner is gone, on a catalog holding 100,000
// finished runs and 3 running ones: the partial index holds the running
// owned runs only, so the history's size does not count.
func BenchmarkStaleRuns(b *testing.B) {
	path := filepath.Join(b.TempDir(), "catalog.db")
	s, err := sqlite.Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range 100_000 {
		status, owner, finished := "success", "h-1-aa", any(now.UnixMicro())
		if i%33_333 == 0 {
			status, finished = "running", nil
		}
		if _, err := tx.Exec(`INSERT INTO runs (id, target, status, trigger, started_us, finished_us, detail, owner, heartbeat_us, lease_us) VALUES (?, 'main', ?, 'manual', ?, ?, '{}', ?, ?, ?)`,
			fmt.Sprintf("r%06d", i), status, now.UnixMicro(), finished, owner, now.UnixMicro(), (30 * time.Second).Microseconds()); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		stale, err := s.StaleRuns(b.Context(), now)
		if err != nil || len(stale) != 0 {
			b.Fatal(stale, err)
		}
	}
}

// TestOpenWhileAnotherProcessWrites: opening a current catalog only reads,
// so a command (rat query) starts while another process holds the write
// lock — a pipeline committing, rat serve — instead of waiting for it.
func TestOpenWhileAnotherProcessWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Another connection takes the write lock and keeps it.
	other, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	// Bounded only so that a failure does not hang: waiting for the lock
	// is the failure.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open while another connection holds the write lock: %v", err)
	}
	defer s.Close()
	if _, err := s.Ref(ctx, rat.DefaultBranch); err != nil {
		t.Fatal(err)
	}
}
