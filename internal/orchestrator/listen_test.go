package orchestrator

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/ratdata/rat"
)

// countingDriver is the SQLite driver, counting River's statements by the
// name sqlc gives each one ("-- name: JobGetAvailable :many").
type countingDriver struct {
	mu sync.Mutex
	n  map[string]int
}

var statementName = regexp.MustCompile(`^-- name: (\w+)`)

func (d *countingDriver) Open(dsn string) (driver.Conn, error) {
	c, err := (&sqlite.Driver{}).Open(dsn)
	if err != nil {
		return nil, err
	}
	return &countingConn{c.(sqliteConn), d}, nil
}

func (d *countingDriver) count(query string) {
	name := ""
	if m := statementName.FindStringSubmatch(query); m != nil {
		name = m[1]
	} else if strings.HasPrefix(query, headQuery) {
		name = "head"
	}
	if name != "" {
		d.mu.Lock()
		d.n[name]++
		d.mu.Unlock()
	}
}

func (d *countingDriver) snapshot() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.n))
	for k, v := range d.n {
		out[k] = v
	}
	return out
}

type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.QueryerContext
	driver.ExecerContext
}

type countingConn struct {
	sqliteConn
	d *countingDriver
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.d.count(query)
	return c.sqliteConn.QueryContext(ctx, query, args)
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.d.count(query)
	return c.sqliteConn.ExecContext(ctx, query, args)
}

var (
	counting     = &countingDriver{n: map[string]int{}}
	registerOnce sync.Once
)

// TestIdleSQLiteQueue: an idle rat serve (workers and the scheduler) reads
// River's notification table about once a second and polls for jobs about
// once a second per queue, not 20 and 5 times a second (3–5 % of a core).
func TestIdleSQLiteQueue(t *testing.T) {
	registerOnce.Do(func() { sql.Register("sqlite-counting", counting) })
	ctx := context.Background()
	q, err := Open(ctx, Config{SQLitePath: filepath.Join(t.TempDir(), "queue.db"), sqlDriver: "sqlite-counting",
		Workers: 2, Exec: newTestExec(nil), Tick: func(context.Context, time.Time) error { return nil },
		// As rat serve's idle scheduler: a tick every 5 s.
		NextTick: func(t time.Time) time.Time { return t.Add(5 * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Stop(context.Background()) })
	time.Sleep(2 * time.Second) // start-up: migrations, leader election, first fetches
	before := counting.snapshot()
	const idle = 5 * time.Second
	time.Sleep(idle)
	after := counting.snapshot()
	reads := after["NotificationGetAfter"] - before["NotificationGetAfter"]
	fetches := after["JobGetAvailable"] - before["JobGetAvailable"]
	t.Logf("in %s idle: %d reads of the notification table, %d fetches", idle, reads, fetches)
	// A slow machine reads less often, never more.
	if reads > 15 {
		t.Errorf("%d reads of the notification table in %s idle, want at most 15 (River's own pace is 100)", reads, idle)
	}
	if fetches > 20 {
		t.Errorf("%d fetches in %s idle, want at most 20", fetches, idle)
	}
	if reads == 0 {
		t.Error("the notification table was never read: is the listener running?")
	}
}

// TestPreparedHeadIsKept: the worker that prepares a run goes on with its
// first node without reading back the run's head.
func TestPreparedHeadIsKept(t *testing.T) {
	registerOnce.Do(func() { sql.Register("sqlite-counting", counting) })
	ctx := context.Background()
	exec := newTestExec([]rat.PlannedNode{{Pipeline: "a"}})
	q, err := Open(ctx, Config{SQLitePath: filepath.Join(t.TempDir(), "queue.db"), sqlDriver: "sqlite-counting", Workers: 1, Exec: exec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	start(t, q)
	before := counting.snapshot()["head"]
	if _, _, err := q.Enqueue(ctx, RunArgs{Target: "main"}); err != nil {
		t.Fatal(err)
	}
	if got := statuses(exec.wait(t)); got != "a=success" {
		t.Fatalf("nodes: %s", got)
	}
	if n := counting.snapshot()["head"] - before; n != 0 {
		t.Errorf("the run's head was read %d time(s) by the worker that prepared it, want 0", n)
	}
}
