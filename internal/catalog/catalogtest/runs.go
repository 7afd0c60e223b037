package catalogtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

// RunStore is what stores keep run records with.
type RunStore interface {
	SaveRun(ctx context.Context, r rat.Run) error
	Runs(ctx context.Context, f rat.RunFilter) ([]rat.Run, error)
	Run(ctx context.Context, id string) (rat.Run, error)
	UpdateRun(ctx context.Context, id string, fn func(*rat.Run) error) error
}

// RunRecords checks saving, updating, filtering and reading run records.
func RunRecords(t *testing.T, open func(t *testing.T) RunStore) {
	s := open(t)
	ctx := context.Background()
	base := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for i, r := range []rat.Run{
		{ID: "r1", Target: "main", Status: "success", Trigger: "manual", Started: base, Finished: base.Add(time.Second), Detail: rat.RunDetail{Commit: "a1"}},
		{ID: "r2", Target: "dev", Status: "failed", Trigger: "schedule", Started: base.Add(time.Minute), Finished: base.Add(2 * time.Minute), Detail: rat.RunDetail{}},
		{ID: "r3", Target: "main", Status: "running", Trigger: "manual", Started: base.Add(time.Hour), Detail: rat.RunDetail{}},
	} {
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
	}
	got, err := s.Run(ctx, "r1")
	if err != nil || !got.Started.Equal(base) || !got.Finished.Equal(base.Add(time.Second)) || got.Detail.Commit != "a1" || got.Trigger != "manual" {
		t.Fatalf("run r1 = %+v, %v", got, err)
	}
	if r3, _ := s.Run(ctx, "r3"); !r3.Finished.IsZero() {
		t.Fatalf("a running run has no finish time: %+v", r3)
	}
	// Updating a run keeps its start and replaces status, finish and detail.
	if err := s.SaveRun(ctx, rat.Run{ID: "r3", Target: "main", Status: "success", Trigger: "manual", Started: base.Add(time.Hour), Finished: base.Add(2 * time.Hour), Detail: rat.RunDetail{Error: "done"}}); err != nil {
		t.Fatal(err)
	}
	if r3, _ := s.Run(ctx, "r3"); r3.Status != "success" || r3.Detail.Error != "done" || r3.Finished.IsZero() {
		t.Fatalf("updated r3 = %+v", r3)
	}
	all, err := s.Runs(ctx, rat.RunFilter{})
	if err != nil || len(all) != 3 || all[0].ID != "r3" || all[2].ID != "r1" {
		t.Fatalf("all runs newest first: %v, %v", runIDs(all), err)
	}
	main, _ := s.Runs(ctx, rat.RunFilter{Target: "main", Status: "success", Limit: 1})
	if len(main) != 1 || main[0].ID != "r3" {
		t.Fatalf("last success on main: %v", runIDs(main))
	}
	failed, _ := s.Runs(ctx, rat.RunFilter{Status: "failed"})
	if len(failed) != 1 || failed[0].ID != "r2" {
		t.Fatalf("failed runs: %v", runIDs(failed))
	}
	if _, err := s.Run(ctx, "nope"); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Fatalf("missing run: %v", err)
	}
	// Concurrent updates of one record are serialised: none is lost.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			errs <- s.UpdateRun(ctx, "r2", func(r *rat.Run) error {
				r.Detail.Nodes = append(r.Detail.Nodes, rat.NodeRun{Pipeline: fmt.Sprint("n", i)})
				return nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if r2, _ := s.Run(ctx, "r2"); len(r2.Detail.Nodes) != 8 || r2.Status != "failed" {
		t.Fatalf("after 8 concurrent updates r2 = %+v", r2.Detail)
	}
	if err := s.UpdateRun(ctx, "nope", func(*rat.Run) error { return nil }); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Fatalf("update a missing run: %v", err)
	}
}

func runIDs(runs []rat.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

// ScheduleStore is what stores keep schedule ticks with.
type ScheduleStore interface {
	ScheduleLast(ctx context.Context, key string) (time.Time, bool, error)
	SetScheduleLast(ctx context.Context, key string, t time.Time) error
}

// ScheduleState checks that a schedule's last tick is stored and replaced.
func ScheduleState(t *testing.T, s ScheduleStore) {
	ctx := context.Background()
	if _, ok, err := s.ScheduleLast(ctx, "silver.x#0"); ok || err != nil {
		t.Fatalf("a new trigger has no last tick: %v %v", ok, err)
	}
	t1 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for _, want := range []time.Time{t1, t1.Add(time.Minute)} {
		if err := s.SetScheduleLast(ctx, "silver.x#0", want); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.ScheduleLast(ctx, "silver.x#0")
		if err != nil || !ok || !got.Equal(want) {
			t.Fatalf("last = %v %v %v, want %v", got, ok, err, want)
		}
	}
}

// DeliveryStore keeps webhook deliveries.
type DeliveryStore interface {
	RecordDelivery(ctx context.Context, id string, at, forget time.Time) (bool, error)
}

// Deliveries checks that a delivery id is accepted once, and forgotten
// after the window.
func Deliveries(t *testing.T, s DeliveryStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, c := range []struct {
		id    string
		at    time.Time
		fresh bool
	}{
		{"a", t0, true},
		{"a", t0.Add(time.Second), false},
		{"b", t0.Add(time.Second), true},
		{"a", t0.Add(time.Hour), true}, // forgotten: older than the window
	} {
		fresh, err := s.RecordDelivery(ctx, c.id, c.at, c.at.Add(-10*time.Minute))
		if err != nil || fresh != c.fresh {
			t.Fatalf("delivery %d (%s): fresh = %v, %v; want %v", i, c.id, fresh, err, c.fresh)
		}
	}
}

// SessionStore keeps web UI sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, idHash, tokenName, tokenMAC string, now, expires time.Time) error
	Session(ctx context.Context, idHash string, now time.Time) (tokenName, tokenMAC string, ok bool, err error)
	DeleteSession(ctx context.Context, idHash string) error
}

// Sessions checks that a session is found until it expires or is deleted,
// and that expired sessions are pruned.
func Sessions(t *testing.T, s SessionStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := s.CreateSession(ctx, "a", "ops", "mac-a", t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, "b", "viewer", "mac-b", t0, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if name, mac, ok, err := s.Session(ctx, "a", t0.Add(time.Minute)); err != nil || !ok || name != "ops" || mac != "mac-a" {
		t.Fatalf("session a = %q %q %v %v", name, mac, ok, err)
	}
	if _, _, ok, err := s.Session(ctx, "a", t0.Add(time.Hour)); err != nil || ok {
		t.Fatalf("session a at its expiry: ok = %v, %v", ok, err)
	}
	if _, _, ok, err := s.Session(ctx, "nope", t0); err != nil || ok {
		t.Fatalf("an unknown session: ok = %v, %v", ok, err)
	}
	if err := s.DeleteSession(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := s.Session(ctx, "b", t0); err != nil || ok {
		t.Fatalf("a deleted session: ok = %v, %v", ok, err)
	}
	if err := s.DeleteSession(ctx, "b"); err != nil {
		t.Fatalf("deleting a deleted session: %v", err)
	}
	// A new session prunes the expired ones: a, expired at t0+1h, is gone
	// even to a reader whose clock is behind.
	if err := s.CreateSession(ctx, "c", "ops", "mac-c", t0.Add(3*time.Hour), t0.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := s.Session(ctx, "a", t0); err != nil || ok {
		t.Fatalf("an expired session was not pruned: ok = %v, %v", ok, err)
	}
	if err := s.CreateSession(ctx, "c", "ops", "mac-c", t0.Add(3*time.Hour), t0.Add(4*time.Hour)); err == nil {
		t.Fatal("a session id was recorded twice")
	}
}

// TriggerKeyStore moves trigger state between keys.
type TriggerKeyStore interface {
	ScheduleStore
	SetTriggerDisabled(ctx context.Context, key string, disabled bool) error
	DisabledTriggers(ctx context.Context) (map[string]time.Time, error)
	TriggerKeys(ctx context.Context) ([]string, error)
	RenameTriggerKeys(ctx context.Context, renames map[string]string) error
}

// TriggerKeyRenames checks that trigger state moves to new keys in both
// tables, that state under a new key wins, and that "" forgets a key.
func TriggerKeyRenames(t *testing.T, s TriggerKeyStore) {
	ctx := context.Background()
	t1 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	for key, at := range map[string]time.Time{"p#0": t1, "p#1": t1, "p#2": t1, "p#b": t2} {
		if err := s.SetScheduleLast(ctx, key, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetTriggerDisabled(ctx, "p#0", true); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameTriggerKeys(ctx, map[string]string{"p#0": "p#a", "p#1": "p#b", "p#2": ""}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.TriggerKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{"p#a", "p#a", "p#b"}; !slices.Equal(keys, want) {
		t.Fatalf("keys after renames = %v, want %v", keys, want)
	}
	if got, ok, _ := s.ScheduleLast(ctx, "p#a"); !ok || !got.Equal(t1) {
		t.Errorf("p#a's last tick = %v %v, want %v (moved from p#0)", got, ok, t1)
	}
	if got, ok, _ := s.ScheduleLast(ctx, "p#b"); !ok || !got.Equal(t2) {
		t.Errorf("p#b's last tick = %v %v, want its own %v", got, ok, t2)
	}
	if d, err := s.DisabledTriggers(ctx); err != nil || len(d) != 1 || d["p#a"].IsZero() {
		t.Errorf("disabled = %v %v, want p#a (moved from p#0)", d, err)
	}
}
