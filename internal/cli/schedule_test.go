package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/pipeline"
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
	if err := writeTree(dir, files); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"RAT_PROFILE", "RAT_CATALOG_URL", "ICEBERG_WAREHOUSE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	g := &globals{dir: dir}
	a, err := g.open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	fired := map[string]int{}
	enqueue := func(_ context.Context, o pipeline.Options) error {
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
		if err := a.scheduleTick(context.Background(), now, enqueue, log); err != nil {
			t.Fatal(err)
		}
		return fired
	}
	if got := tick(at(10, 0, 30)); len(got) != 0 {
		t.Fatalf("new schedules fire at their next tick, not now: %v", got)
	}
	if got := tick(at(10, 0, 59)); len(got) != 0 {
		t.Fatalf("before the tick: %v", got)
	}
	if got := tick(at(10, 1, 1)); got["silver.all"] != 1 || got["silver.none"] != 1 || got["silver.once"] != 1 {
		t.Fatalf("on time: %v", got)
	}
	if got := tick(at(10, 1, 2)); len(got) != 0 {
		t.Fatalf("a tick fires once: %v", got)
	}
	// Down for four and a half minutes: 10:02 … 10:05 were missed.
	if got := tick(at(10, 5, 30)); got["silver.all"] != 4 || got["silver.none"] != 0 || got["silver.once"] != 1 {
		t.Fatalf("after downtime: %v", got)
	}
	if got := tick(at(10, 6, 0)); got["silver.all"] != 1 || got["silver.none"] != 1 || got["silver.once"] != 1 {
		t.Fatalf("back on time: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, ".rat", "catalog.db")); err != nil {
		t.Fatal(err)
	}
}
