package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

// TestReapRuns: a run whose owner stopped writing heartbeats ends as
// failed (owner lost) once its lease has passed, and its run branch goes;
// a run whose owner died after publishing is recorded as the success it
// was. A live owner's run is left alone.
func TestReapRuns(t *testing.T) {
	e := newEnv(t, map[string]string{"pipelines/silver/a.sql": "SELECT 1 AS x\n"})
	ctx := context.Background()
	store := e.lake.Store()
	leases := store.(RunLeases)
	runs := store.(RunStore)
	r := &Runner{Lake: e.lake, Workspace: loadWS(t, e), Runs: runs, Owner: "elsewhere-1-aa", Lease: time.Minute}
	mainBefore := e.head("main")

	// Died before publishing: a run branch forked, a record running.
	started := time.Now().UTC()
	lost := &Result{ID: NewRunID(started), Target: "main", RunBranch: "", Status: StatusRunning, Started: started, Base: mainBefore}
	lost.RunBranch = "run/" + lost.ID
	if err := store.CreateRef(ctx, rat.Ref{Name: lost.RunBranch, Kind: rat.Branch, Head: mainBefore, Internal: true}); err != nil {
		t.Fatal(err)
	}
	lostRec := rat.Run{ID: lost.ID, Target: "main", Status: "running", Trigger: "manual", Started: started, Detail: *lost,
		Owner: r.Owner, Heartbeat: started, Lease: time.Minute}
	if err := runs.SaveRun(ctx, lostRec); err != nil {
		t.Fatal(err)
	}

	// Died after publishing, before recording it: the run succeeded, its
	// record still says running and its run branch is there.
	done, err := r.Run(ctx, Options{Target: "main"})
	if err != nil || done.Status != StatusSuccess {
		t.Fatalf("run: %+v %v", done, err)
	}
	if _, err := store.Ref(ctx, done.RunBranch); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Fatalf("a published run's branch: %v", err)
	}
	if err := store.CreateRef(ctx, rat.Ref{Name: done.RunBranch, Kind: rat.Branch, Head: e.head("main"), Internal: true}); err != nil {
		t.Fatal(err)
	}
	if err := leases.UpdateRun(ctx, done.ID, func(rec *rat.Run) error {
		rec.Status, rec.Finished = "running", time.Time{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if ended, err := ReapRuns(ctx, store, leases, time.Now().Add(30*time.Second)); err != nil || len(ended) != 0 {
		t.Fatalf("within the lease: %v %v", ended, err)
	}
	ended, err := ReapRuns(ctx, store, leases, time.Now().Add(2*time.Minute))
	if err != nil || len(ended) != 2 {
		t.Fatalf("after the lease: %d ended, %v", len(ended), err)
	}
	rec, err := runs.Run(ctx, lost.ID)
	if err != nil || rec.Status != "failed" || !strings.Contains(rec.Detail.Error, "owner lost: its process elsewhere-1-aa wrote no heartbeat") {
		t.Fatalf("lost run: %+v %v", rec, err)
	}
	if _, err := store.Ref(ctx, lost.RunBranch); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Fatalf("the lost run's branch: %v", err)
	}
	rec, err = runs.Run(ctx, done.ID)
	got := rec.Detail
	if err != nil || rec.Status != "success" || got.Commit != done.Commit || !strings.Contains(got.Error, "it had published") {
		t.Fatalf("published run: %+v %+v %v", rec, got, err)
	}
	if _, err := store.Ref(ctx, done.RunBranch); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Fatalf("the published run's branch: %v", err)
	}
	if e.head("main") == mainBefore || e.head("main") != done.Commit {
		t.Fatalf("main should be at the published run's commit %s", done.Commit)
	}
	// The owner of the lost run cannot record it otherwise any more.
	lostRec.Status, lostRec.Finished = "success", time.Now()
	if err := runs.SaveRun(ctx, lostRec); !rat.IsCode(err, rat.ECONFLICT) {
		t.Fatalf("the lost owner's save: %v", err)
	}
}
