package lake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

// runStore is what the tests need of the catalog's run records.
type runStore interface {
	RunRecords
	SaveRun(ctx context.Context, r rat.Run) error
	AppendRunLogs(ctx context.Context, runID string, lines []rat.RunLogLine) error
	RunLogs(ctx context.Context, runID string, after int64, limit int) ([]rat.RunLogLine, error)
}

// slowLake is l as another process whose bound on a write's age is 1ns:
// its writes upload their data files, manifests and metadata file, and are
// refused before their commit. That makes real orphans.
func slowLake(t *testing.T, l *Lake) *Lake {
	t.Helper()
	return newTestLake(t, l.store, l.objects.Store, t.TempDir(), func(c *Config) { c.MaxWriteAge = time.Nanosecond })
}

// refusedWrite writes through a slowLake and checks the refusal.
func refusedWrite(slow *Lake, ref, table string) error {
	id, _ := rat.ParseTableID(table)
	_, err := slow.Write(context.Background(), ref, id, "SELECT 9 AS n, 'x' AS s FROM range(50)", WriteOptions{})
	if !rat.IsCode(err, rat.ECONFLICT) || !strings.Contains(err.Error(), "maintenance.orphans.older_than") {
		return fmt.Errorf("write past its bound: %v, want a refusal naming maintenance.orphans.older_than", err)
	}
	return nil
}

// TestOrphans builds history on main, a tag, a user branch, run branches
// (failed long ago, failed recently, with no record, running) and an
// ingest branch left behind, makes real orphans with refused writes
// before and after a run began, and drops files that are not rat's into
// the warehouse. Within the grace period nothing goes; past it, the
// abandoned branches and the unreferenced files go, in one pass, and
// nothing else: every remaining ref and snapshot reads the same, every
// referenced file is there, files of the running run and foreign files
// stay, old run records and their logs are pruned. A second pass and a
// pass after snapshot expiry find nothing more.
func TestOrphans(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		runs := l.Store().(runStore)
		start := time.Now()
		rows := func(i int) string { return fmt.Sprintf("SELECT %d AS n, 'x' AS s FROM range(%d)", i, 10*i) }
		branch := func(name string, kind rat.RefKind, internal bool) {
			t.Helper()
			if err := l.Store().CreateRef(ctx, rat.Ref{Name: name, Kind: kind, Head: headOf(t, l, "main"), Internal: internal}); err != nil {
				t.Fatal(err)
			}
		}
		save := func(r rat.Run) {
			t.Helper()
			if err := runs.SaveRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i <= 4; i++ {
			mustWrite(t, l, "main", "bronze.t", rows(i), WriteOptions{})
			if i == 2 {
				branch("v1", rat.Tag, false)
			}
		}
		mustWrite(t, l, "main", "bronze.u", rows(7), WriteOptions{})
		mustWrite(t, l, "main", "bronze.u", rows(8), WriteOptions{Mode: Replace})
		mustWrite(t, l, "main", "_rat.reg", rows(1), WriteOptions{Internal: true})
		if err := l.CreateView(ctx, "main", rat.TableID{Layer: "silver", Name: "v"}, "SELECT n FROM bronze.t WHERE n > 2", ""); err != nil {
			t.Fatal(err)
		}
		branch("dev", rat.Branch, false)
		mustWrite(t, l, "dev", "bronze.t", rows(20), WriteOptions{})

		// A run that failed two days ago, one with no record, an ingestion
		// left behind: abandoned. A run that failed an hour from now (within
		// the grace period of the pass below): kept.
		failedOld := rat.NewRunID(start.Add(-50 * time.Hour))
		save(rat.Run{ID: failedOld, Target: "main", Status: rat.RunFailed, Trigger: "manual", Started: start.Add(-50 * time.Hour), Finished: start.Add(-49 * time.Hour)})
		if err := runs.AppendRunLogs(ctx, failedOld, []rat.RunLogLine{{Seq: 1, At: start.Add(-50 * time.Hour), Level: "info", Message: "started"}}); err != nil {
			t.Fatal(err)
		}
		noRecord := rat.NewRunID(start.Add(-3 * time.Hour))
		ingestOld := rat.IngestBranch(rat.NewRunID(start.Add(-3 * time.Hour)))
		failedNew := rat.NewRunID(start)
		save(rat.Run{ID: failedNew, Target: "main", Status: rat.RunFailed, Trigger: "manual", Started: start, Finished: start.Add(3 * time.Hour)})
		for _, b := range []string{rat.RunBranch(failedOld), rat.RunBranch(noRecord), ingestOld, rat.RunBranch(failedNew)} {
			branch(b, rat.Branch, true)
			mustWrite(t, l, b, "bronze.t", rows(30), WriteOptions{})
			mustWrite(t, l, b, "bronze.only_"+strings.NewReplacer("/", "_", "-", "_").Replace(b), rows(3), WriteOptions{})
		}
		slow := slowLake(t, l)
		for _, table := range []string{"bronze.t", "bronze.fresh"} {
			if err := refusedWrite(slow, "main", table); err != nil {
				t.Fatal(err)
			}
		}

		// A run that is running: what is written after it began stays.
		time.Sleep(10 * time.Millisecond) // mtimes after the orphans above
		running := rat.NewRunID(time.Now())
		save(rat.Run{ID: running, Target: "main", Status: rat.RunRunning, Trigger: "manual", Started: time.Now()})
		branch(rat.RunBranch(running), rat.Branch, true)
		mustWrite(t, l, rat.RunBranch(running), "bronze.t", rows(40), WriteOptions{})
		if err := refusedWrite(slow, rat.RunBranch(running), "bronze.t"); err != nil {
			t.Fatal(err)
		}

		// Not rat's: never touched.
		foreign := []string{"notes/readme.txt", "_landing/zone/a/data/x.parquet", "bronze/t/data/notes.txt", "bronze/t/data/sub/x.parquet", "bronze/t/other/x.avro"}
		for _, k := range foreign {
			if err := l.objects.Put(ctx, k, strings.NewReader("x"), 1); err != nil {
				t.Fatal(err)
			}
		}

		const q = "SELECT count(*) * 1000000 + sum(n) FROM %s"
		kept := []string{"main", "dev", "v1", rat.RunBranch(failedNew), rat.RunBranch(running)}
		reads := func(l *Lake) map[string]int64 {
			t.Helper()
			out := map[string]int64{}
			for _, r := range kept {
				tb, err := l.Load(ctx, r, rat.TableID{Layer: "bronze", Name: "t"})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range tb.Metadata().Snapshots() {
					out[fmt.Sprint(r, "@", s.SnapshotID)] = queryInt(t, l, r, At{SnapshotID: s.SnapshotID}, fmt.Sprintf(q, "bronze.t"))
				}
				out[r] = queryInt(t, l, r, At{}, fmt.Sprintf(q, "bronze.t"))
			}
			out["u"] = queryInt(t, l, "main", At{}, fmt.Sprintf(q, "bronze.u"))
			out["v"] = queryInt(t, l, "main", At{}, "SELECT sum(n) FROM silver.v")
			out["reg"] = queryInt(t, l, "main", At{}, fmt.Sprintf(q, "_rat.reg"))
			return out
		}
		before := reads(l)
		listAll := func() map[string]int64 { return warehouseKeys(t, l) }
		refHeads := func() map[string]string {
			t.Helper()
			refs, err := l.Store().Refs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]string{}
			for _, r := range refs {
				m[r.Name] = r.Head
			}
			return m
		}
		filesBefore, headsBefore := listAll(), refHeads()
		abandoned := []string{rat.RunBranch(failedOld), rat.RunBranch(noRecord), ingestOld}
		slices.Sort(abandoned)
		branchNames := func(res OrphanResult) []string {
			var out []string
			for _, b := range res.Branches {
				out = append(out, b.Name)
			}
			slices.Sort(out)
			return out
		}

		// Within the grace period: no file goes; the branches that ended
		// long ago would.
		opts := OrphanOptions{OlderThan: time.Hour, Runs: runs, DryRun: true}
		res, err := l.Orphans(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Files) != 0 || res.Young == 0 || !slices.Equal(branchNames(res), abandoned) {
			t.Fatalf("within the grace period: %d files, %d young, branches %v; want none, some, %v", len(res.Files), res.Young, branchNames(res), abandoned)
		}

		// Past it (two hours from now): a dry run lists, the pass deletes
		// the same, and nothing else changes.
		opts.Now, opts.RunRetention = time.Now().Add(2*time.Hour), 24*time.Hour
		dry, err := l.Orphans(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(listAll(), filesBefore) || !maps.Equal(refHeads(), headsBefore) {
			t.Fatal("a dry run changed the warehouse or the refs")
		}
		if len(dry.Files) == 0 || dry.Young == 0 || dry.ActiveSince.IsZero() || !slices.Equal(branchNames(dry), abandoned) {
			t.Fatalf("dry run past the grace period: %d files, %d young, active since %s, branches %v", len(dry.Files), dry.Young, dry.ActiveSince, branchNames(dry))
		}
		opts.DryRun = false
		res, err = l.Orphans(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Files, dry.Files) || !slices.Equal(branchNames(res), abandoned) || res.Bytes != dry.Bytes {
			t.Fatalf("the pass deleted %d files (%d bytes), branches %v; the dry run listed %d (%d bytes)", len(res.Files), res.Bytes, branchNames(res), len(dry.Files), dry.Bytes)
		}
		if res.RunsPruned != 1 {
			t.Errorf("pruned %d run records, want 1 (the run that failed two days ago)", res.RunsPruned)
		}
		if logs, err := runs.RunLogs(ctx, failedOld, 0, 0); err != nil || len(logs) != 0 {
			t.Errorf("logs of the pruned run: %v, %v; want none", logs, err)
		}
		if _, err := runs.Run(ctx, failedNew); err != nil {
			t.Errorf("a recent run's record went: %v", err)
		}

		// The files deleted were there and are gone; what refs need is there.
		after := listAll()
		var data, meta int
		for _, f := range res.Files {
			_, was := filesBefore[f.Key]
			_, is := after[f.Key]
			if !was || is {
				t.Errorf("deleted %s: there before %v, after %v", f.Key, was, is)
			}
			if f.AgeSec < 3600 {
				t.Errorf("deleted %s aged %ds, within the grace period", f.Key, f.AgeSec)
			}
			switch {
			case strings.Contains(f.Key, "/data/"):
				data++
			case strings.Contains(f.Key, "/metadata/"):
				meta++
			}
		}
		if data == 0 || meta == 0 {
			t.Errorf("deleted %d data and %d metadata files, want both", data, meta)
		}
		for _, k := range foreign {
			if _, ok := after[k]; !ok {
				t.Errorf("%s, not rat's, was deleted", k)
			}
		}
		if len(after) != len(filesBefore)-len(res.Files) {
			t.Errorf("%d files before, %d deleted, %d after", len(filesBefore), len(res.Files), len(after))
		}
		fresh := New(Config{Store: l.store, Objects: l.objects.Store, Cache: l.cache, DB: l.db, TmpDir: l.tmpDir, RowGroupSize: 1000, Author: "test"})
		st, err := fresh.expireState(ctx, time.Time{}, nil) // every reachable commit
		if err != nil {
			t.Fatal(err)
		}
		checkReferenced(t, fresh, st, after)
		heads := refHeads()
		for name, head := range headsBefore {
			if slices.Contains(abandoned, name) {
				if _, ok := heads[name]; ok {
					t.Errorf("abandoned branch %s is still there", name)
				}
			} else if heads[name] != head {
				t.Errorf("%s moved from %s to %s", name, head, heads[name])
			}
		}
		if got := reads(fresh); !maps.Equal(got, before) {
			t.Errorf("reads after the pass differ:\n got %v\nwant %v", got, before)
		}

		// Nothing more to do; then after expiry (which deletes old commits'
		// metadata files) the pass still reads everything it needs.
		again, err := l.Orphans(ctx, opts)
		if err != nil || len(again.Files) != 0 || len(again.Branches) != 0 {
			t.Fatalf("second pass: %v, %d files, %d branches; want nothing", err, len(again.Files), len(again.Branches))
		}
		if _, err := l.Expire(ctx, ExpireOptions{OlderThan: time.Hour, RetainLast: 1, Now: opts.Now}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Orphans(ctx, opts); err != nil {
			t.Fatalf("orphans after expiry: %v", err)
		}
		for _, r := range kept {
			if got := queryInt(t, fresh, r, At{}, fmt.Sprintf(q, "bronze.t")); got != before[r] {
				t.Errorf("%s reads %d after expiry and orphans, %d before", r, got, before[r])
			}
		}
		t.Logf("deleted %d branches, %d files (%d bytes); kept %d young files", len(res.Branches), len(res.Files), res.Bytes, res.Young)
	})
}

// TestOrphansWhileWriting: orphan cleanup with a grace period of seconds
// loops for a minute while 4 writers append to two tables (and a fifth
// leaves orphans behind with refused writes); every committed row is
// there afterwards, and the passes did delete files. The writers' bound on
// a write's age is a third of the grace period, as rat's (half) would be
// on a slower clock: a write that could not commit in time is refused,
// never half-kept.
func TestOrphansWhileWriting(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		const grace = 6 * time.Second
		w := newTestLake(t, l.store, l.objects.Store, t.TempDir(), func(c *Config) { c.MaxWriteAge = grace / 3 })
		runs := l.Store().(runStore)
		mustWrite(t, w, "main", "bronze.a", "SELECT 0 AS writer, 0 AS n, 'x' AS s WHERE false", WriteOptions{})
		mustWrite(t, w, "main", "bronze.b", "SELECT 0 AS writer, 0 AS n, 'x' AS s WHERE false", WriteOptions{})
		loop := time.Minute
		if testing.Short() {
			loop = 10 * time.Second
		}
		done := make(chan struct{})
		var wg sync.WaitGroup
		committed := make([]int64, 4)
		var refused [4]int
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := rat.TableID{Layer: "bronze", Name: []string{"a", "b"}[i%2]}
				for n := 1; ; n++ {
					select {
					case <-done:
						return
					default:
					}
					_, err := w.Write(ctx, "main", id, fmt.Sprintf("SELECT %d AS writer, range::INTEGER AS n, 'w' AS s FROM range(100)", i+1), WriteOptions{})
					switch {
					case err == nil:
						committed[i] += 100
					case rat.IsCode(err, rat.ECONFLICT):
						refused[i]++ // not committed: a refusal past the bound, or retries used up
					default:
						t.Errorf("writer %d: %v", i, err)
						return
					}
				}
			}()
		}
		slow := slowLake(t, l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				case <-time.After(500 * time.Millisecond):
				}
				if err := refusedWrite(slow, "main", "bronze.a"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		deleted, passes := 0, 0
		for end := time.Now().Add(loop); time.Now().Before(end); passes++ {
			res, err := l.Orphans(ctx, OrphanOptions{OlderThan: grace, Runs: runs})
			if err != nil {
				t.Errorf("pass %d: %v", passes, err)
				break
			}
			deleted += len(res.Files)
			time.Sleep(200 * time.Millisecond)
		}
		close(done)
		wg.Wait()
		// Files left by the last refused writes age past the grace period.
		time.Sleep(grace + time.Second)
		res, err := l.Orphans(ctx, OrphanOptions{OlderThan: grace, Runs: runs})
		if err != nil {
			t.Fatal(err)
		}
		deleted += len(res.Files)
		if deleted == 0 {
			t.Error("no pass deleted a file: the test made no orphans old enough")
		}
		var total int64
		for i, n := range committed {
			table := []string{"a", "b"}[i%2]
			got := queryInt(t, l, "main", At{}, fmt.Sprintf("SELECT count(*) FROM bronze.%s WHERE writer = %d", table, i+1))
			if got != n {
				t.Errorf("writer %d committed %d rows to bronze.%s, which holds %d of them", i+1, n, table, got)
			}
			total += n
		}
		if total == 0 {
			t.Fatal("no writer committed anything")
		}
		t.Logf("%d passes deleted %d files while 4 writers committed %d rows (refused %v)", passes, deleted, total, refused)
	})
}
