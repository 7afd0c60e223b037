package app

import (
	"context"
	"github.com/ratdata/rat"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/workspace"
)

func TestScheduleTick(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"workspace.yaml":             "name: sched\n",
		"pipelines/silver/all.sql":   "SELECT 1 AS x\n",
		"pipelines/silver/all.yaml":  "triggers:\n  - {type: schedule, cron: '* * * * *', catch_up: all}\n",
		"pipelines/silver/none.sql":  "SELECT 1 AS x\n",
		"pipelines/silver/none.yaml": "triggers:\n  - {type: schedule, cron: '* * * * *'}\n",
		"pipelines/silver/once.sql":  "SELECT 1 AS x\n",
		"pipelines/silver/once.yaml": "triggers:\n  - {type: schedule, cron: '* * * * *', catch_up: once}\n",
	}
	a := openLocalApp(t, dir, files)
	fired := map[string]int{}
	enqueue := func(_ context.Context, o orchestrator.RunArgs) error {
		if o.Trigger != "schedule" || len(o.Selectors) != 1 {
			t.Fatalf("enqueued %+v", o)
		}
		fired[o.Selectors[0]]++
		return nil
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	at := func(h, m, s int) time.Time { return time.Date(2026, 1, 1, h, m, s, 0, time.UTC) }
	tick := func(now time.Time) map[string]int {
		t.Helper()
		fired = map[string]int{}
		if err := a.ScheduleTick(context.Background(), now, enqueue, log); err != nil {
			t.Fatal(err)
		}
		return fired
	}
	var lags []time.Duration
	a.OnScheduleFire = func(lag time.Duration) { lags = append(lags, lag) }
	if got := tick(at(10, 0, 30)); len(got) != 0 {
		t.Fatalf("new schedules fire at their next tick, not now: %v", got)
	}
	if got := tick(at(10, 0, 59)); len(got) != 0 {
		t.Fatalf("before the tick: %v", got)
	}
	if got := tick(at(10, 1, 1)); got["silver.all"] != 1 || got["silver.none"] != 1 || got["silver.once"] != 1 {
		t.Fatalf("on time: %v", got)
	}
	if len(lags) != 3 || lags[0] != time.Second || lags[2] != time.Second {
		t.Fatalf("scheduler lag on time: %v, want three of 1s", lags)
	}
	lags = nil
	if got := tick(at(10, 1, 2)); len(got) != 0 {
		t.Fatalf("a tick fires once: %v", got)
	}
	// Down for four and a half minutes: 10:02 … 10:05 were missed.
	if got := tick(at(10, 5, 30)); got["silver.all"] != 4 || got["silver.none"] != 0 || got["silver.once"] != 1 {
		t.Fatalf("after downtime: %v", got)
	}
	// Caught-up ticks count their whole delay: 10:02 was enqueued 3m30s late.
	if len(lags) != 5 || slices.Max(lags) != 3*time.Minute+30*time.Second || slices.Min(lags) != 30*time.Second {
		t.Fatalf("scheduler lag after downtime: %v", lags)
	}
	if got := tick(at(10, 6, 0)); got["silver.all"] != 1 || got["silver.none"] != 1 || got["silver.once"] != 1 {
		t.Fatalf("back on time: %v", got)
	}
	// A disabled schedule skips its ticks, and enabling it does not catch
	// them up, whatever its policy.
	ts := a.Store
	allKey := triggerKey(t, a, "silver.all", 0)
	if err := ts.SetTriggerDisabled(context.Background(), allKey, true); err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{at(10, 7, 1), at(10, 9, 1)} {
		if got := tick(now); got["silver.all"] != 0 || got["silver.none"] != 1 {
			t.Fatalf("disabled at %s: %v", now.Format("15:04:05"), got)
		}
	}
	if err := ts.SetTriggerDisabled(context.Background(), allKey, false); err != nil {
		t.Fatal(err)
	}
	if got := tick(at(10, 9, 2)); got["silver.all"] != 0 {
		t.Fatalf("enabled again: ticks of the disabled time fired: %v", got)
	}
	if got := tick(at(10, 10, 0)); got["silver.all"] != 1 {
		t.Fatalf("enabled again, next tick: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, ".rat", "catalog.db")); err != nil {
		t.Fatal(err)
	}
}

func TestLandingSensor(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"workspace.yaml":               "name: sensor\n",
		"pipelines/bronze/orders.sql":  "-- @materialized: incremental\nSELECT * FROM {{ landing('orders') }}\n",
		"pipelines/bronze/orders.yaml": "triggers:\n  - {type: landing}\n",
	}
	a := openLocalApp(t, dir, files)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var fired []orchestrator.RunArgs
	enqueue := func(_ context.Context, o orchestrator.RunArgs) error {
		fired = append(fired, o)
		return nil
	}
	tick := func() int {
		t.Helper()
		fired = nil
		if err := a.ScheduleTick(context.Background(), time.Now(), enqueue, log); err != nil {
			t.Fatal(err)
		}
		return len(fired)
	}
	if n := tick(); n != 0 {
		t.Fatalf("an empty zone fired %d run(s)", n)
	}
	if err := workspace.WriteTree(dir, map[string]string{"landing/orders/a.csv": "id\n1\n"}); err != nil {
		t.Fatal(err)
	}
	if n := tick(); n != 1 || fired[0].Trigger != "landing" || fired[0].Selectors[0] != "bronze.orders" {
		t.Fatalf("a new file should start the pipeline once: %+v", fired)
	}
	// Run it for real: the file is consumed, the sensor rests.
	ws, err := a.LoadWorkspace(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	runner, err := a.Runner(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runner.Run(context.Background(), optionsOf(fired[0]))
	if err != nil || res.Status != pipeline.StatusSuccess {
		t.Fatalf("run: %+v %v", res, err)
	}
	if n := tick(); n != 0 {
		t.Fatalf("a consumed file fired again: %+v", fired)
	}
	// While a run of the pipeline is queued, new files wait for it.
	queued, err := a.RecordQueued(context.Background(), pipeline.Options{Target: "main", Selectors: []string{"bronze.orders"}, Trigger: "landing"})
	if err != nil {
		t.Fatal(err)
	}
	if err := workspace.WriteTree(dir, map[string]string{"landing/orders/b.csv": "id\n2\n"}); err != nil {
		t.Fatal(err)
	}
	if n := tick(); n != 0 {
		t.Fatalf("the sensor fired although a run is queued: %+v", fired)
	}
	// The queued run ends without consuming b.csv (say, it failed): b.csv
	// starts the pipeline once, not on every tick; a new file, once more.
	rl := a.Store
	rec, err := rl.Run(context.Background(), queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.Status, rec.Finished = "failed", time.Now()
	if err := rl.SaveRun(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if n := tick(); n != 1 {
		t.Fatalf("b.csv, waiting since the queued run, fired %d run(s), want 1", n)
	}
	for range 3 {
		if n := tick(); n != 0 {
			t.Fatalf("files a failed run left fired again: %+v", fired)
		}
	}
	if err := workspace.WriteTree(dir, map[string]string{"landing/orders/c.csv": "id\n3\n"}); err != nil {
		t.Fatal(err)
	}
	if n := tick(); n != 1 {
		t.Fatalf("a new file beside the failed ones fired %d run(s), want 1", n)
	}
}

// TestRunRetention: the scheduler deletes run records older than
// run_retention_days, once an hour.
func TestRunRetention(t *testing.T) {
	a := openLocalApp(t, t.TempDir(), map[string]string{"workspace.yaml": "name: keep\nruns: {retention_days: 30}\n"})
	rl := a.Store
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	save := func(id string, status rat.RunStatus, finished time.Time) {
		if err := rl.SaveRun(context.Background(), rat.Run{ID: id, Target: "main", Status: status, Trigger: "manual", Started: finished, Finished: finished}); err != nil {
			t.Fatal(err)
		}
	}
	save("20260101-000000-aaaa", "success", now.AddDate(0, 0, -150)) // old, but main's newest success
	save("20260201-000000-aaaa", "failed", now.AddDate(0, 0, -120))
	save("20260520-000000-aaaa", "failed", now.AddDate(0, 0, -12))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := a.ScheduleTick(context.Background(), now, func(context.Context, orchestrator.RunArgs) error { return nil }, log); err != nil {
		t.Fatal(err)
	}
	runs, err := rl.Runs(context.Background(), rat.RunFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != "20260520-000000-aaaa" || runs[1].ID != "20260101-000000-aaaa" {
		t.Fatalf("runs after pruning: %+v", runs)
	}
}

// TestWorkspaceFingerprint: the scheduler reloads the workspace when a
// TestNextTick: an idle scheduler ticks every idleTick, at the next tick of
// a schedule when that comes sooner (as the last tick computed it: an
// "@every" schedule counts from its last tick), and every second while a
// landing sensor watches for files.
func TestNextTick(t *testing.T) {
	at := func(h, m, s int) time.Time { return time.Date(2026, 1, 1, h, m, s, 0, time.UTC) }
	enqueue := func(context.Context, orchestrator.RunArgs) error { return nil }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	type step struct{ tick, ask, want time.Time } // a tick worked at tick, then nextTick(ask)
	for _, tc := range []struct {
		name    string
		trigger string
		steps   []step
	}{
		{"no triggers", "", []step{{at(10, 0, 30), at(10, 0, 30), at(10, 0, 35)}}},
		{"cron", "{type: schedule, cron: '* * * * *'}", []step{
			{at(10, 0, 30), at(10, 0, 30), at(10, 0, 35)},
			{at(10, 0, 58), at(10, 0, 58), at(10, 1, 0)},
			{at(10, 1, 0), at(10, 1, 0), at(10, 1, 5)},
		}},
		{"every 3s", "{type: schedule, cron: '@every 3s'}", []step{
			{at(10, 0, 30), at(10, 0, 30), at(10, 0, 33)},
			{at(10, 0, 33), at(10, 0, 33), at(10, 0, 36)},
			// Asked before the tick due then is worked: a second later.
			{at(10, 0, 33), at(10, 0, 36), at(10, 0, 37)},
		}},
		{"landing sensor", "{type: landing, zone: orders}", []step{{at(10, 0, 30), at(10, 0, 30), at(10, 0, 31)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"workspace.yaml": "name: next\n", "pipelines/silver/s.sql": "SELECT 1 AS x\n"}
			if tc.trigger != "" {
				files["pipelines/silver/s.yaml"] = "triggers:\n  - " + tc.trigger + "\n"
			}
			a := openLocalApp(t, t.TempDir(), files)
			if got := a.NextTick(at(10, 0, 30)); !got.Equal(at(10, 0, 31)) {
				t.Errorf("before a tick loaded the workspace: %s, want a second later", got.Format(time.TimeOnly))
			}
			// The API loads the workspace too; the schedules are known
			// once a tick ran.
			if _, err := a.CachedWorkspace(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := a.NextTick(at(10, 0, 30)); !got.Equal(at(10, 0, 31)) {
				t.Errorf("before a tick ran: %s, want a second later", got.Format(time.TimeOnly))
			}
			for _, st := range tc.steps {
				if err := a.ScheduleTick(context.Background(), st.tick, enqueue, log); err != nil {
					t.Fatal(err)
				}
				if got := a.NextTick(st.ask); !got.Equal(st.want) {
					t.Errorf("after a tick at %s, nextTick(%s) = %s, want %s", st.tick.Format(time.TimeOnly),
						st.ask.Format(time.TimeOnly), got.Format(time.TimeOnly), st.want.Format(time.TimeOnly))
				}
			}
		})
	}
}

// openLocalApp writes files into dir and opens the app there on the
// embedded default, whatever the environment points at.
func openLocalApp(t *testing.T, dir string, files map[string]string) *App {
	t.Helper()
	if err := workspace.WriteTree(dir, files); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"RAT_PROFILE", "RAT_CATALOG_URL", "ICEBERG_WAREHOUSE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	cfg, err := config.Load(config.Options{Dir: dir, Flags: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
