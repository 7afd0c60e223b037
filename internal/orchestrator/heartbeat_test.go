package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHeartbeat: processes write their heartbeats into the shared table;
// every process reads all live ones with their snapshots; one that stops
// writing disappears after its lease (three intervals) and its row is
// deleted; the table never holds more than MaxHeartbeats rows; a process
// that stops removes its row.
func TestHeartbeat(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		serve, worker := open(Config{Now: clock}), open(Config{Now: clock})
		count := func() int {
			t.Helper()
			var n int
			if err := serve.read(ctx, func(t tx) error {
				return t.query(ctx, `SELECT count(*) FROM rat_heartbeats`, nil, func(scan func(...any) error) error { return scan(&n) })
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		snap := func(mb int) func() any { return func() any { return map[string]int{"memory_bytes": mb << 20} } }
		started := clock()
		if err := serve.Beat(ctx, Beats{Role: "serve", Version: "v1", Interval: time.Second, Snapshot: snap(100)}, started); err != nil {
			t.Fatal(err)
		}
		if err := worker.Beat(ctx, Beats{Role: "worker", Version: "v1", Interval: time.Second, Snapshot: snap(200)}, started); err != nil {
			t.Fatal(err)
		}
		hbs, err := worker.Heartbeats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(hbs) != 2 || hbs[0].Role != "serve" || hbs[1].Role != "worker" || hbs[0].Process != serve.id || hbs[1].Process != worker.id {
			t.Fatalf("heartbeats = %+v, want serve then worker", hbs)
		}
		var s struct {
			MemoryBytes int `json:"memory_bytes"`
		}
		if err := json.Unmarshal(hbs[1].Snapshot, &s); err != nil || s.MemoryBytes != 200<<20 {
			t.Errorf("worker's snapshot = %s (%v)", hbs[1].Snapshot, err)
		}
		if hb := hbs[0]; hb.Version != "v1" || hb.Host == "" || hb.PID == 0 || !hb.Started.Equal(started) || hb.Lease != 3*time.Second {
			t.Errorf("serve's heartbeat = %+v", hb)
		}
		// The worker dies; the server beats on. Within the lease the worker
		// is still listed, after it not, and its row is gone.
		advance(2 * time.Second)
		if err := serve.Beat(ctx, Beats{Role: "serve", Version: "v1", Interval: time.Second, Snapshot: snap(120)}, started); err != nil {
			t.Fatal(err)
		}
		if hbs, _ := serve.Heartbeats(ctx); len(hbs) != 2 || !hbs[0].Seen.Equal(clock()) {
			t.Fatalf("within the worker's lease: %+v", hbs)
		}
		advance(1500 * time.Millisecond)
		if hbs, _ := serve.Heartbeats(ctx); len(hbs) != 1 || hbs[0].Role != "serve" {
			t.Fatalf("after the worker's lease: %+v, want the server alone", hbs)
		}
		if n := count(); n != 2 {
			t.Fatalf("rows before the next beat = %d, want 2 (readers delete nothing)", n)
		}
		if err := serve.Beat(ctx, Beats{Role: "serve", Version: "v1", Interval: time.Second}, started); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Fatalf("rows after a beat = %d, want 1: the dead worker's row is deleted", n)
		}
		// A table filled past its bound (a crowd of live processes) keeps
		// the newest MaxHeartbeats rows.
		if err := serve.withTx(ctx, func(t tx) error {
			for i := range MaxHeartbeats + 5 {
				if _, err := t.exec(ctx, `INSERT INTO rat_heartbeats (process_id, role, host, pid, version, started_us, seen_us, lease_us, snapshot) VALUES (?, 'worker', 'h', 1, 'v1', 0, ?, ?, '{}')`,
					fmt.Sprintf("p%04d", i), clock().UnixMicro()-int64(i), time.Hour.Microseconds()); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := serve.Beat(ctx, Beats{Role: "serve", Version: "v1", Interval: time.Second}, started); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != MaxHeartbeats {
			t.Fatalf("rows = %d, want the bound %d", n, MaxHeartbeats)
		}
		hbs, _ = serve.Heartbeats(ctx)
		for _, hb := range hbs {
			if hb.Process == "p1004" || hb.Process == "p1003" {
				t.Fatalf("the oldest rows were kept: %s", hb.Process)
			}
		}
		// A snapshot too large to store is refused with its size.
		big := func() any { return strings.Repeat("x", maxSnapshot) }
		if err := serve.Beat(ctx, Beats{Role: "serve", Snapshot: big}, started); err == nil || !strings.Contains(err.Error(), "more than 16384") {
			t.Errorf("oversized snapshot: %v", err)
		}
		// A row Beat did not write (an oversized or broken snapshot) is read
		// with an empty one.
		if err := serve.withTx(ctx, func(t tx) error {
			_, err := t.exec(ctx, `UPDATE rat_heartbeats SET snapshot = ? WHERE process_id = ?`, "{"+strings.Repeat(" ", maxSnapshot), serve.id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		seen := false
		for _, hb := range func() []Heartbeat { hbs, _ := serve.Heartbeats(ctx); return hbs }() {
			if hb.Process == serve.id {
				seen = true
				if string(hb.Snapshot) != "{}" {
					t.Errorf("an oversized snapshot was read as %d bytes", len(hb.Snapshot))
				}
			}
		}
		if !seen {
			t.Error("the server's heartbeat is not listed")
		}
		// A running heartbeat writes at once; stopping removes the row.
		w2 := open(Config{Now: clock})
		stop := w2.StartHeartbeats(ctx, Beats{Role: "worker", Version: "v2", Interval: time.Hour})
		found := func() bool {
			hbs, _ := serve.Heartbeats(ctx)
			for _, hb := range hbs {
				if hb.Process == w2.id {
					return true
				}
			}
			return false
		}
		if !found() {
			t.Fatal("StartHeartbeats wrote no row")
		}
		stop()
		if found() {
			t.Fatal("a stopped process is still listed")
		}
	})
}

// BenchmarkBeat is the cost of one heartbeat (write, prune, bound) on the
// SQLite queue file: a process pays it every heartbeat interval.
func BenchmarkBeat(b *testing.B) {
	q, err := Open(context.Background(), Config{SQLitePath: b.TempDir() + "/queue.db"})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	snap := func() any {
		return map[string]any{"memory_bytes": 1 << 30, "disks": []map[string]any{{"volume": "spill", "used_bytes": 1, "free_bytes": 2}}}
	}
	started := time.Now()
	b.ResetTimer()
	for b.Loop() {
		if err := q.Beat(context.Background(), Beats{Role: "worker", Version: "v", Snapshot: snap}, started); err != nil {
			b.Fatal(err)
		}
	}
}
