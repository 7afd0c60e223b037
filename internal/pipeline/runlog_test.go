package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ratdata/rat"
)

func TestRunRecordsAndStateModified(t *testing.T) {
	e := newEnv(t, copyFiles(basic))
	e.load("bronze.raw", "SELECT 1 AS id, 2 AS amount")
	rl, ok := e.lake.Store().(RunStore)
	if !ok {
		t.Fatal("the SQLite store keeps no run records")
	}
	withLog := func(r *Runner) { r.Runs = rl }
	first := e.runWith(Options{}, withLog)
	rec, err := rl.Run(context.Background(), first.ID)
	if err != nil || rec.Status != "success" || rec.Trigger != "manual" || rec.Finished.IsZero() {
		t.Fatalf("record %+v, %v", rec, err)
	}
	detail := rec.Detail
	if len(detail.Nodes) != 2 || detail.Hashes["gold.total"] == "" {
		t.Fatalf("detail %+v, %v", detail, err)
	}
	// Nothing changed: state:modified selects nothing.
	res := e.runWith(Options{Selectors: []string{"state:modified"}}, withLog)
	if len(res.Nodes) != 0 {
		t.Fatalf("unchanged workspace ran %+v", res.Nodes)
	}
	// Change silver.orders: it and its downstream run.
	if err := os.WriteFile(filepath.Join(e.dir, "pipelines/silver/orders.sql"), []byte("SELECT id, amount * 1 AS amount FROM {{ ref('bronze.raw') }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = e.runWith(Options{Selectors: []string{"state:modified"}}, withLog)
	if len(res.Nodes) != 2 || res.Status != StatusSuccess {
		t.Fatalf("modified run: %+v", res.Nodes)
	}
	res = e.runWith(Options{Selectors: []string{"state:modified"}}, withLog)
	if len(res.Nodes) != 0 {
		t.Fatalf("after the modified run, nothing is modified: %+v", res.Nodes)
	}
	runs, err := rl.Runs(context.Background(), rat.RunFilter{Target: "main"})
	if err != nil || len(runs) != 4 || runs[0].ID != res.ID {
		t.Fatalf("runs = %d, %v (newest first)", len(runs), err)
	}
	if _, err := rl.Run(context.Background(), "nope"); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Fatalf("missing run: %v", err)
	}
}
