package app

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/orchestrator"
)

// TestMaintenanceTickAndLock: a maintenance schedule enqueues a maintenance
// run at its tick; a tick while the task's last run is queued or running
// is skipped; a second run of the task that reaches a worker while the
// first runs ends as skipped (the task's lock); the run records the task's
// summary and, once ended, the next tick enqueues again.
func TestMaintenanceTickAndLock(t *testing.T) {
	ctx := context.Background()
	a := openLocalApp(t, t.TempDir(), map[string]string{"workspace.yaml": "name: m\nmaintenance:\n  expire: {schedule: '* * * * *'}\n"})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var fired []orchestrator.RunArgs
	tick := func(h, m, s int) int {
		t.Helper()
		fired = nil
		err := a.ScheduleTick(ctx, time.Date(2026, 1, 1, h, m, s, 0, time.UTC), func(_ context.Context, r orchestrator.RunArgs) error {
			fired = append(fired, r)
			return nil
		}, log)
		if err != nil {
			t.Fatal(err)
		}
		return len(fired)
	}
	if n := tick(10, 0, 30); n != 0 {
		t.Fatalf("a new schedule fires at its next tick, not now: %+v", fired)
	}
	if n := tick(10, 1, 1); n != 1 || fired[0].Task != "expire" || fired[0].Trigger != rat.TriggerMaintenance || fired[0].Target != "" {
		t.Fatalf("at the tick: %+v", fired)
	}
	runs := a.Runs(log, nil)
	first, err := runs.RecordQueued(ctx, fired[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := tick(10, 2, 1); n != 0 {
		t.Fatalf("a tick while the last run waits: %+v", fired)
	}
	res, nodes, err := runs.Prepare(ctx, first)
	if err != nil || res.Status != rat.RunRunning || len(nodes) != 1 || nodes[0].Pipeline != "expire" {
		t.Fatalf("prepare: %+v %+v %v", res, nodes, err)
	}
	second, err := runs.RecordQueued(ctx, orchestrator.RunArgs{Trigger: rat.TriggerMaintenance, Task: "expire"})
	if err != nil {
		t.Fatal(err)
	}
	skipped, nodes, err := runs.Prepare(ctx, second)
	if err != nil || skipped.Status != rat.RunSkipped || nodes != nil || !strings.Contains(skipped.Error, first.ID) {
		t.Fatalf("a second run of the task while the first runs: %+v %+v %v", skipped, nodes, err)
	}
	if n := tick(10, 3, 1); n != 0 {
		t.Fatalf("a tick while the last run runs: %+v", fired)
	}
	node := runs.Build(ctx, res, "expire", 1)
	if node.Status != rat.RunSuccess || node.Kind != "maintenance" {
		t.Fatalf("the task: %+v", node)
	}
	res.Nodes = []rat.NodeRun{node}
	if done := runs.Complete(ctx, res, false); done.Status != rat.RunSuccess {
		t.Fatalf("complete: %+v", done)
	}
	rec, err := a.Store.Run(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != rat.RunSuccess || rec.Finished.IsZero() || rec.Detail.Maintenance == nil ||
		rec.Detail.Maintenance.Summary != "expired 0 snapshots of 0 tables, deleted 0 files (0 B)" {
		t.Fatalf("the run's record: %+v %+v", rec, rec.Detail.Maintenance)
	}
	// Its lock is released: a run of the task starts again.
	// A maintenance run is no branch's last successful run (state:modified
	// compares with that run's pipeline hashes).
	if last, err := a.Store.Runs(ctx, rat.RunFilter{Target: "main", Status: rat.RunSuccess, Limit: 1}); err != nil || len(last) != 0 {
		t.Fatalf("main's last successful run: %+v %v", last, err)
	}
	third, err := runs.RecordQueued(ctx, orchestrator.RunArgs{Trigger: rat.TriggerMaintenance, Task: "expire"})
	if err != nil {
		t.Fatal(err)
	}
	if res, _, err := runs.Prepare(ctx, third); err != nil || res.Status != rat.RunRunning {
		t.Fatalf("a run of the task after the first ended: %+v %v", res, err)
	}
	if n := tick(10, 4, 1); n != 0 {
		t.Fatalf("a tick while the third run runs: %+v", fired)
	}
	if _, err := runs.FailUnfinished(ctx, third.ID, "cancelled"); err != nil {
		t.Fatal(err)
	}
	if n := tick(10, 5, 1); n != 1 || fired[0].Task != "expire" {
		t.Fatalf("a tick once the last run ended: %+v", fired)
	}
}
