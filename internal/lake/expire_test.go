package lake

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// TestExpire builds history on main, a branch, a tag and a run branch,
// expires it, and checks that every ref, every kept snapshot and the tag
// still read the same, that the files of expired snapshots are gone and
// nothing still referenced is, that a dry run changes nothing and that a
// second expiry is a no-op.
func TestExpire(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		ref := func(name string, kind rat.RefKind, internal bool) {
			t.Helper()
			if err := l.Store().CreateRef(ctx, rat.Ref{Name: name, Kind: kind, Head: headOf(t, l, "main"), Internal: internal}); err != nil {
				t.Fatal(err)
			}
		}
		rows := func(i int) string { return fmt.Sprintf("SELECT %d AS n, range AS r FROM range(%d)", i, 10*i) }
		for i := 1; i <= 4; i++ {
			mustWrite(t, l, "main", "bronze.t", rows(i), WriteOptions{})
			if i == 2 {
				ref("v1", rat.Tag, false)
			}
		}
		ref("dev", rat.Branch, false)
		ref("run/x", rat.Branch, true)
		mustWrite(t, l, "dev", "bronze.t", rows(50), WriteOptions{})
		mustWrite(t, l, "main", "bronze.t", rows(5), WriteOptions{Mode: Replace})
		// bronze.u lives on main only: its replaced files are referenced
		// by nothing once its first snapshots expire.
		for i := 1; i <= 6; i++ {
			mode := Append
			if i == 3 {
				mode = Replace
			}
			mustWrite(t, l, "main", "bronze.u", rows(i), WriteOptions{Mode: mode})
			mustWrite(t, l, "main", "bronze.t", rows(10+i), WriteOptions{})
		}

		// A view (no snapshots) is read through and kept.
		if err := l.CreateView(ctx, "main", rat.TableID{Layer: "silver", Name: "v"}, "SELECT n FROM bronze.t WHERE n > 2", ""); err != nil {
			t.Fatal(err)
		}
		viewBefore := queryInt(t, l, "main", At{}, "SELECT sum(n) FROM silver.v")
		// What every ref and every snapshot reads, before.
		const q = "SELECT count(*) * 1000000 + sum(n) FROM %s"
		type point struct {
			ref   string
			table string
			snap  int64
		}
		before := map[point]int64{}
		snaps := func(l *Lake, ref, tbl string) []int64 {
			t.Helper()
			tb, err := l.Load(ctx, ref, rat.TableID{Layer: "bronze", Name: tbl})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for s := tb.Metadata().CurrentSnapshot(); s != nil; {
				ids = append(ids, s.SnapshotID)
				if s.ParentSnapshotID == nil {
					break
				}
				s = tb.Metadata().SnapshotByID(*s.ParentSnapshotID)
			}
			return ids
		}
		refs := []string{"main", "dev", "v1", "run/x"}
		for _, r := range refs {
			for _, tbl := range []string{"t", "u"} {
				if r != "main" && tbl == "u" {
					continue
				}
				before[point{r, tbl, 0}] = queryInt(t, l, r, At{}, fmt.Sprintf(q, "bronze."+tbl))
				for _, id := range snaps(l, r, tbl) {
					before[point{r, tbl, id}] = queryInt(t, l, r, At{SnapshotID: id}, fmt.Sprintf(q, "bronze."+tbl))
				}
			}
		}
		listAll := func() map[string]int64 { return warehouseKeys(t, l) }
		filesBefore := listAll()
		refsBefore, err := l.Store().Refs(ctx)
		if err != nil {
			t.Fatal(err)
		}

		// Everything is younger than a week: nothing goes, whatever the count.
		young, err := l.Expire(ctx, ExpireOptions{OlderThan: 7 * 24 * time.Hour, DryRun: true})
		if err != nil || len(young.Tables) != 0 || len(young.Files) != 0 {
			t.Fatalf("expiry within the window: %+v, %v", young, err)
		}

		opts := ExpireOptions{OlderThan: 7 * 24 * time.Hour, RetainLast: 3, Now: time.Now().Add(30 * 24 * time.Hour)}
		dry := opts
		dry.DryRun = true
		plan, err := l.Expire(ctx, dry)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Tables) == 0 || len(plan.Files) == 0 || plan.Bytes <= 0 {
			t.Fatalf("dry run plans nothing: %+v", plan)
		}
		if !slices.Contains(plan.Skipped, "run/x") {
			t.Errorf("run/x not skipped: %v", plan.Skipped)
		}
		refsAfterDry, _ := l.Store().Refs(ctx)
		if !slices.Equal(refsBefore, refsAfterDry) {
			t.Errorf("dry run moved refs: %v -> %v", refsBefore, refsAfterDry)
		}
		if got := listAll(); len(got) != len(filesBefore) {
			t.Errorf("dry run changed files: %d -> %d", len(filesBefore), len(got))
		}

		res, err := l.Expire(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(res.Tables) != fmt.Sprint(plan.Tables) || fmt.Sprint(res.Files) != fmt.Sprint(plan.Files) {
			t.Errorf("expiry did other than its dry run planned:\n%+v\n%+v", res, plan)
		}
		for _, e := range res.Tables {
			if e.Branch != "main" && e.Branch != "dev" {
				t.Errorf("expired on %s: %+v", e.Branch, e)
			}
		}

		// A fresh process (no cached file lists) reads the same.
		fresh := New(Config{Store: l.store, Objects: l.objects, Cache: l.cache, DB: l.db, TmpDir: l.tmpDir, RowGroupSize: 1000, Author: "test"})
		kept := 0
		for p, want := range before {
			id := rat.TableID{Layer: "bronze", Name: p.table}
			remaining := snaps(fresh, p.ref, p.table)
			if p.snap != 0 && !slices.Contains(remaining, p.snap) {
				continue // expired
			}
			if p.snap != 0 {
				kept++
			}
			if got := queryInt(t, fresh, p.ref, At{SnapshotID: p.snap}, fmt.Sprintf(q, id)); got != want {
				t.Errorf("%s %s at %d: %d after expiry, %d before", p.ref, p.table, p.snap, got, want)
			}
		}
		if got := queryInt(t, fresh, "main", At{}, "SELECT sum(n) FROM silver.v"); got != viewBefore {
			t.Errorf("view reads %d after expiry, %d before", got, viewBefore)
		}
		// Time travel to an expired snapshot, or to before the kept
		// history, says that expiry took it.
		for _, p := range slices.Collect(maps.Keys(before)) {
			if p.ref != "main" || p.table != "u" || p.snap == 0 || slices.Contains(snaps(fresh, "main", "u"), p.snap) {
				continue
			}
			err := fresh.Query(ctx, "main", At{SnapshotID: p.snap}, "SELECT count(*) FROM bronze.u", func(*sql.Rows) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "were expired (rat maintain expire)") {
				t.Errorf("query at expired snapshot %d: %v", p.snap, err)
			}
		}
		err = fresh.Query(ctx, "main", At{Time: time.Unix(1, 0)}, "SELECT count(*) FROM bronze.u", func(*sql.Rows) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "were expired (rat maintain expire)") {
			t.Errorf("query at a time before the kept history: %v", err)
		}
		// The last 3 of main survive, and the tag's snapshot (an old one).
		for _, tbl := range []string{"t", "u"} {
			if n := len(snaps(fresh, "main", tbl)); n < 3 {
				t.Errorf("main %s keeps %d snapshots, want at least 3", tbl, n)
			}
		}
		if len(snaps(fresh, "main", "u")) != 3 {
			t.Errorf("main u keeps %v, want 3 snapshots", snaps(fresh, "main", "u"))
		}
		if n := len(snaps(fresh, "run/x", "t")); n != 4 {
			t.Errorf("run/x keeps %d snapshots, want all 4", n)
		}

		// Every file of every remaining snapshot of every ref exists; every
		// deleted file was there and is gone.
		after := listAll()
		for _, f := range res.Files {
			if _, ok := filesBefore[f.Key]; !ok {
				t.Errorf("deleted %s, which was not there", f.Key)
			}
			if _, ok := after[f.Key]; ok {
				t.Errorf("%s still there", f.Key)
			}
		}
		// One new metadata file per table rewritten.
		if len(after) != len(filesBefore)-len(res.Files)+len(res.Tables) {
			t.Errorf("%d files before, %d deleted, %d tables rewritten, %d after", len(filesBefore), len(res.Files), len(res.Tables), len(after))
		}
		st, err := fresh.expireState(ctx, opts.Now.Add(-opts.OlderThan), nil)
		if err != nil {
			t.Fatal(err)
		}
		checkReferenced(t, fresh, st, after)
		var dataGone int
		for _, f := range res.Files {
			if slices.Contains([]string{".parquet"}, f.Key[len(f.Key)-8:]) {
				dataGone++
			}
		}
		if dataGone == 0 {
			t.Errorf("no data file of an expired snapshot deleted: %v", res.Files)
		}

		again, err := l.Expire(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Tables) != 0 || len(again.Files) != 0 {
			t.Errorf("second expiry not a no-op: %+v", again)
		}
		t.Logf("expired snapshots of %d tables, deleted %d files (%d bytes), %d snapshots checked", len(res.Tables), len(res.Files), res.Bytes, kept)
	})
}

// TestMergeAfterExpiry: a merge whose source rewrote the table in a
// snapshot that expiry removed is refused as a conflict; it is never taken
// for appends only (which would bring back the rows the rewrite removed).
func TestMergeAfterExpiry(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	mustWrite(t, l, "main", "bronze.t", "SELECT 1 AS n", WriteOptions{})
	for _, r := range []rat.Ref{{Name: "base", Kind: rat.Tag}, {Name: "dev", Kind: rat.Branch}} {
		r.Head = headOf(t, l, "main")
		if err := l.Store().CreateRef(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, l, "dev", "bronze.t", "SELECT 2 AS n", WriteOptions{Mode: Replace})
	mustWrite(t, l, "dev", "bronze.t", "SELECT 3 AS n", WriteOptions{})
	mustWrite(t, l, "main", "bronze.t", "SELECT 4 AS n", WriteOptions{})
	if _, err := l.Expire(ctx, ExpireOptions{RetainLast: 1, Now: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	res, err := l.Catalog("main").Merge(ctx, "dev", catalog.MergeOptions{})
	if err == nil || len(res.Conflicts()) != 1 || !strings.Contains(res.Conflicts()[0].Detail, "expired") {
		t.Fatalf("merge after the rewrite expired: %+v, %v; want a conflict naming expiry", res, err)
	}
	if got := queryInt(t, l, "main", At{}, "SELECT sum(n) FROM bronze.t"); got != 5 {
		t.Errorf("main sums to %d, want 5 (1 + 4)", got)
	}
}
