package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/trigger"
)

// triggerKey is the catalog key of a pipeline's trigger at index i, as the
// workspace lists it now.
func triggerKey(t *testing.T, a *App, pipeline string, i int) string {
	t.Helper()
	ws, err := a.CachedWorkspace(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := ws.Resolve(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	return trigger.Key(p.ID.String(), p.Config.Triggers[i].Name)
}

// TestTriggerReorderKeepsState: trigger state follows the trigger, not its
// place in the list. Reordering a pipeline's triggers while the scheduler
// is down neither moves a schedule's last tick to another trigger nor
// switches the disabled one back on.
func TestTriggerReorderKeepsState(t *testing.T) {
	dir := t.TempDir()
	const hourly = "  - {type: schedule, cron: '0 * * * *', catch_up: all}\n"
	const quarter = "  - {type: schedule, cron: '*/15 * * * *'}\n"
	a := openLocalApp(t, dir, map[string]string{
		"workspace.yaml":          "name: reorder\n",
		"pipelines/silver/x.sql":  "SELECT 1 AS x\n",
		"pipelines/silver/x.yaml": "triggers:\n" + hourly + quarter,
	})
	ctx := context.Background()
	fired := 0
	enqueue := func(_ context.Context, o orchestrator.RunArgs) error {
		fired++
		return nil
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	at := func(h, m, s int) time.Time { return time.Date(2026, 1, 1, h, m, s, 0, time.UTC) }
	tick := func(now time.Time) int {
		t.Helper()
		fired = 0
		if err := a.ScheduleTick(ctx, now, enqueue, log); err != nil {
			t.Fatal(err)
		}
		return fired
	}
	if n := tick(at(10, 0, 30)); n != 0 {
		t.Fatalf("new schedules fired %d runs", n)
	}
	// The quarter-hourly schedule is switched off; its 10:15 tick is skipped.
	ts := a.Store
	if err := ts.SetTriggerDisabled(ctx, triggerKey(t, a, "silver.x", 1), true); err != nil {
		t.Fatal(err)
	}
	if n := tick(at(10, 15, 1)); n != 0 {
		t.Fatalf("10:15, the only due schedule disabled: %d runs", n)
	}
	// The scheduler is down from 10:15 to 12:00, and the triggers swap places.
	path := filepath.Join(dir, "pipelines", "silver", "x.yaml")
	if err := os.WriteFile(path, []byte("triggers:\n"+quarter+hourly), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour) // a new modification time, whatever the clock's resolution
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	// The hourly schedule catches up 11:00 and fires 12:00; the disabled
	// one stays off. (Keyed by place, the disabled state moved to the
	// hourly schedule and the quarter-hourly one fired at 12:00: one run.)
	if n := tick(at(12, 0, 1)); n != 2 {
		t.Fatalf("12:00 after the reorder: %d runs, want 2 (the hourly schedule's 11:00 and 12:00)", n)
	}
	if err := ts.SetTriggerDisabled(ctx, triggerKey(t, a, "silver.x", 0), false); err != nil {
		t.Fatal(err)
	}
	if n := tick(at(12, 15, 1)); n != 1 {
		t.Fatalf("12:15, the quarter-hourly schedule enabled again: %d runs, want 1", n)
	}
}

// TestLegacyTriggerKeys: state an older rat kept by a trigger's place in
// the list moves to the trigger's name when the workspace is loaded, so an
// upgrade neither fires a schedule's catch-up again nor forgets that a
// trigger was switched off.
func TestLegacyTriggerKeys(t *testing.T) {
	dir := t.TempDir()
	a := openLocalApp(t, dir, map[string]string{
		"workspace.yaml":         "name: legacy\n",
		"pipelines/silver/x.sql": "SELECT 1 AS x\n",
		"pipelines/silver/x.yaml": "triggers:\n  - {type: schedule, cron: hourly, catch_up: all}\n" +
			"  - {type: schedule, cron: '*/15 * * * *', name: quarter}\n",
	})
	ctx := context.Background()
	st := a.Store
	ts := a.Store
	last := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for key, t0 := range map[string]time.Time{"silver.x#0": last, "silver.x#1": last, "silver.gone#0": last, "silver.x#7": last} {
		if err := st.SetScheduleLast(ctx, key, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.SetTriggerDisabled(ctx, "silver.x#1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CachedWorkspace(ctx); err != nil {
		t.Fatal(err)
	}
	hourly, quarter := triggerKey(t, a, "silver.x", 0), triggerKey(t, a, "silver.x", 1)
	if quarter != "silver.x#quarter" {
		t.Fatalf("a named trigger's key = %s, want silver.x#quarter", quarter)
	}
	for _, key := range []string{hourly, quarter} {
		if got, ok, err := st.ScheduleLast(ctx, key); err != nil || !ok || !got.Equal(last) {
			t.Fatalf("last tick of %s = %v %v %v, want %v carried over", key, got, ok, err, last)
		}
	}
	disabled, err := ts.DisabledTriggers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, off := disabled[quarter]; !off || len(disabled) != 1 {
		t.Fatalf("disabled triggers = %v, want only %s", disabled, quarter)
	}
	keys, err := a.Store.TriggerKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if trigger.IsLegacyKey(k) {
			t.Fatalf("legacy key %s left after the upgrade (keys %v)", k, keys)
		}
	}
	// Loading again changes nothing.
	if _, err := a.LoadWorkspace(ctx); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := st.ScheduleLast(ctx, hourly); !ok || !got.Equal(last) {
		t.Fatalf("a second load moved the state: %v %v", got, ok)
	}
}
