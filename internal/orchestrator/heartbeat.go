package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Heartbeats let any process describe the whole cluster: every rat serve
// and rat worker writes a row of rat_heartbeats every Interval, with what
// it uses (a JSON snapshot the caller makes: metrics.Snapshot). A row not
// written for its lease (LeaseBeats intervals) belongs to a process that
// died: readers leave it out and writers delete it. The table is bounded:
// besides the dead rows, rows past MaxHeartbeats (the oldest) go too.

// DefaultHeartbeatInterval is how often a process writes its heartbeat
// unless workspace.yaml's monitoring.heartbeat_interval says otherwise.
const DefaultHeartbeatInterval = 5 * time.Second

// LeaseBeats is how many intervals a heartbeat lives without another.
const LeaseBeats = 3

// MaxHeartbeats bounds rat_heartbeats: a cluster of more processes keeps
// the most recent ones.
const MaxHeartbeats = 1000

// maxSnapshot bounds the JSON snapshot a heartbeat stores.
const maxSnapshot = 16 << 10

// Heartbeat is one live process as its last heartbeat describes it.
type Heartbeat struct {
	Process  string          `json:"process"` // the queue's process id: host-pid-random
	Role     string          `json:"role"`    // serve or worker
	Host     string          `json:"host"`
	PID      int64           `json:"pid"`
	Version  string          `json:"version"`
	Started  time.Time       `json:"started"`
	Seen     time.Time       `json:"seen"`
	Lease    time.Duration   `json:"lease"`
	Snapshot json.RawMessage `json:"snapshot"`
}

// Beats configures StartHeartbeats.
type Beats struct {
	Role     string        // serve or worker
	Version  string        // rat's version
	Interval time.Duration // default DefaultHeartbeatInterval
	// Snapshot is what the process uses now, written as JSON with each
	// heartbeat; nil = {}.
	Snapshot func() any
	Logger   *slog.Logger // receives failed writes; nil = slog.Default()
}

// Beat writes this process's heartbeat once and deletes the dead and the
// surplus rows.
func (q *Queue) Beat(ctx context.Context, b Beats, started time.Time) error {
	interval := b.Interval
	if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	snap := []byte("{}")
	if b.Snapshot != nil {
		var err error
		if snap, err = json.Marshal(b.Snapshot()); err != nil {
			return fmt.Errorf("heartbeat snapshot: %w", err)
		}
		if len(snap) > maxSnapshot {
			return fmt.Errorf("heartbeat snapshot: %d bytes, more than %d", len(snap), maxSnapshot)
		}
	}
	host, _ := os.Hostname()
	now := q.nowUS()
	return q.withTx(ctx, func(t tx) error {
		if _, err := t.exec(ctx, `INSERT INTO rat_heartbeats (process_id, role, host, pid, version, started_us, seen_us, lease_us, snapshot)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (process_id) DO UPDATE SET seen_us = excluded.seen_us, lease_us = excluded.lease_us, snapshot = excluded.snapshot`,
			q.id, b.Role, host, os.Getpid(), b.Version, started.UnixMicro(), now, (LeaseBeats * interval).Microseconds(), string(snap)); err != nil {
			return fmt.Errorf("write heartbeat: %w", err)
		}
		if _, err := t.exec(ctx, `DELETE FROM rat_heartbeats WHERE seen_us + lease_us < ?`, now); err != nil {
			return fmt.Errorf("prune heartbeats: %w", err)
		}
		if _, err := t.exec(ctx, `DELETE FROM rat_heartbeats WHERE process_id NOT IN (
	SELECT process_id FROM rat_heartbeats ORDER BY seen_us DESC, process_id LIMIT ?)`, MaxHeartbeats); err != nil {
			return fmt.Errorf("bound heartbeats: %w", err)
		}
		return nil
	})
}

// StartHeartbeats writes this process's heartbeat now and every interval
// until the returned stop is called; stop deletes the row, so a process
// that stops cleanly leaves the cluster at once.
func (q *Queue) StartHeartbeats(ctx context.Context, b Beats) (stop func()) {
	log := b.Logger
	if log == nil {
		log = slog.Default()
	}
	interval := b.Interval
	if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	started := q.cfg.Now()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	beat := func() {
		c, cc := context.WithTimeout(ctx, max(interval, time.Second))
		defer cc()
		if err := q.Beat(c, b, started); err != nil && ctx.Err() == nil {
			log.Warn("heartbeat", "err", err)
		}
	}
	beat()
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return func() {
		cancel()
		<-done
		c, cc := context.WithTimeout(context.Background(), 5*time.Second)
		defer cc()
		if err := q.withTx(c, func(t tx) error {
			_, err := t.exec(c, `DELETE FROM rat_heartbeats WHERE process_id = ?`, q.id)
			return err
		}); err != nil {
			log.Warn("remove heartbeat", "err", err)
		}
	}
}

// Heartbeats lists the live processes (those seen within their lease),
// serve before worker, then by host and start.
func (q *Queue) Heartbeats(ctx context.Context) ([]Heartbeat, error) {
	var out []Heartbeat
	err := q.read(ctx, func(t tx) error {
		return t.query(ctx, `SELECT process_id, role, host, pid, version, started_us, seen_us, lease_us, snapshot FROM rat_heartbeats
WHERE seen_us + lease_us >= ? ORDER BY role, host, started_us, process_id LIMIT ?`, []any{q.nowUS(), MaxHeartbeats}, func(scan func(...any) error) error {
			var h Heartbeat
			var started, seen, lease int64
			var snap string
			if err := scan(&h.Process, &h.Role, &h.Host, &h.PID, &h.Version, &started, &seen, &lease, &snap); err != nil {
				return err
			}
			h.Started, h.Seen, h.Lease = time.UnixMicro(started).UTC(), time.UnixMicro(seen).UTC(), time.Duration(lease)*time.Microsecond
			if len(snap) > maxSnapshot || !json.Valid([]byte(snap)) {
				snap = "{}" // not written by Beat: readers never pass it on
			}
			h.Snapshot = json.RawMessage(snap)
			out = append(out, h)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	return out, nil
}
