package catalogtest

import (
	"context"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

// RunOwnerStore is what stores keep the owners of runs with.
type RunOwnerStore interface {
	RunStore
	HeartbeatRun(ctx context.Context, id, owner string, at time.Time) (bool, error)
	RequestRunCancel(ctx context.Context, id string) (bool, error)
	StaleRuns(ctx context.Context, now time.Time) ([]rat.Run, error)
}

// RunOwners checks owned runs: heartbeats, cancel requests, finding the
// runs whose owner is gone, and that a run ended by another process is
// not overwritten by its owner.
func RunOwners(t *testing.T, s RunOwnerStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	lease := 30 * time.Second
	for _, r := range []rat.Run{
		{ID: "owned", Target: "main", Status: "running", Trigger: "manual", Started: t0, Detail: rat.RunDetail{}, Owner: "h-1-aa", Heartbeat: t0, Lease: lease},
		{ID: "short", Target: "main", Status: "running", Trigger: "manual", Started: t0, Detail: rat.RunDetail{}, Owner: "h-2-bb", Heartbeat: t0, Lease: 2 * time.Second},
		{ID: "queued", Target: "main", Status: "running", Trigger: "api", Started: t0, Detail: rat.RunDetail{}},
		{ID: "done", Target: "main", Status: "success", Trigger: "manual", Started: t0, Finished: t0, Detail: rat.RunDetail{}, Owner: "h-3-cc", Heartbeat: t0, Lease: lease},
	} {
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Run(ctx, "owned")
	if err != nil || got.Owner != "h-1-aa" || !got.Heartbeat.Equal(t0) || got.Lease != lease || got.CancelRequested {
		t.Fatalf("owned run = %+v, %v", got, err)
	}
	stale := func(at time.Time) []string {
		t.Helper()
		runs, err := s.StaleRuns(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		return runIDs(runs)
	}
	// Each run by its own lease; queued and finished runs never.
	if ids := stale(t0.Add(time.Second)); len(ids) != 0 {
		t.Fatalf("stale after 1s: %v", ids)
	}
	if ids := stale(t0.Add(5 * time.Second)); len(ids) != 1 || ids[0] != "short" {
		t.Fatalf("stale after 5s: %v, want short", ids)
	}
	// A heartbeat keeps a run fresh; another owner's does nothing.
	if cancel, err := s.HeartbeatRun(ctx, "owned", "h-1-aa", t0.Add(20*time.Second)); err != nil || cancel {
		t.Fatalf("heartbeat: %v %v", cancel, err)
	}
	if _, err := s.HeartbeatRun(ctx, "owned", "h-9-zz", t0.Add(time.Hour)); !rat.IsCode(err, rat.ECONFLICT) {
		t.Fatalf("a stranger's heartbeat: %v", err)
	}
	if ids := stale(t0.Add(40 * time.Second)); len(ids) != 1 || ids[0] != "short" {
		t.Fatalf("stale after 40s: %v, want short only", ids)
	}
	if ids := stale(t0.Add(60 * time.Second)); len(ids) != 2 {
		t.Fatalf("stale after 60s: %v, want owned and short", ids)
	}
	// A cancel request reaches the owner at its heartbeat; runs without
	// owner or not running take none.
	for id, want := range map[string]bool{"owned": true, "queued": false, "done": false, "missing": false} {
		if ok, err := s.RequestRunCancel(ctx, id); err != nil || ok != want {
			t.Fatalf("request cancel of %s = %v, %v; want %v", id, ok, err, want)
		}
	}
	if cancel, err := s.HeartbeatRun(ctx, "owned", "h-1-aa", t0.Add(21*time.Second)); err != nil || !cancel {
		t.Fatalf("heartbeat after a cancel request: %v %v", cancel, err)
	}
	// Ended by another process: the owner's heartbeat and save are refused.
	if err := s.UpdateRun(ctx, "short", func(r *rat.Run) error {
		r.Status, r.Finished, r.Detail = "failed", t0.Add(time.Minute), rat.RunDetail{Error: "owner lost"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HeartbeatRun(ctx, "short", "h-2-bb", t0.Add(time.Minute)); !rat.IsCode(err, rat.ECONFLICT) {
		t.Fatalf("heartbeat of an ended run: %v", err)
	}
	late := rat.Run{ID: "short", Target: "main", Status: "success", Trigger: "manual", Started: t0, Finished: t0.Add(2 * time.Minute), Detail: rat.RunDetail{}, Owner: "h-2-bb", Heartbeat: t0, Lease: 2 * time.Second}
	if err := s.SaveRun(ctx, late); !rat.IsCode(err, rat.ECONFLICT) {
		t.Fatalf("the owner's late save: %v", err)
	}
	if r, _ := s.Run(ctx, "short"); r.Status != "failed" || r.Detail.Error != "owner lost" {
		t.Fatalf("the ended run was overwritten: %+v", r)
	}
	// An owned run that finished is not saved again; runs without owner
	// are, whatever their status.
	if err := s.SaveRun(ctx, rat.Run{ID: "done", Target: "main", Status: "failed", Trigger: "manual", Started: t0, Finished: t0, Detail: rat.RunDetail{}, Owner: "h-3-cc"}); !rat.IsCode(err, rat.ECONFLICT) {
		t.Fatalf("an owned finished run saved again: %v", err)
	}
	if err := s.SaveRun(ctx, rat.Run{ID: "queued", Target: "main", Status: "success", Trigger: "api", Started: t0, Finished: t0, Detail: rat.RunDetail{}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun(ctx, rat.Run{ID: "queued", Target: "main", Status: "failed", Trigger: "api", Started: t0, Finished: t0, Detail: rat.RunDetail{}}); err != nil {
		t.Fatalf("a queued run's record saved again (a retried finish): %v", err)
	}
}
