package sqlstore_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
	"github.com/ratdata/rat/internal/sqlite"
)

// change writes to a filled catalog what a source in use writes after a
// first copy: commits on two branches, a merge, branches whose names sort
// differently by bytes and by locale, a deleted branch, a tag moved, a run
// finished with more log lines, a new run, an old run pruned, trigger and
// schedule state changed, a session ended and another started.
func change(t testing.TB, s *sqlstore.Store) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	commit := func(branch string, r catalog.CommitRequest) rat.Commit {
		t.Helper()
		r.Branch = branch
		if r.Author == "" {
			r.Author, r.Message = "dee", "later on "+branch
		}
		c, err := s.Commit(ctx, r)
		must(err)
		return c
	}
	ch := func(layer, name, expected, metadata string) catalog.Change {
		return catalog.Change{Table: rat.TableID{Layer: layer, Name: name}, Expected: expected, Metadata: metadata}
	}
	dev := commit("dev", catalog.CommitRequest{Changes: []catalog.Change{ch("gold", "g", "", "gold/g/1.json")}})
	main := commit("main", catalog.CommitRequest{Changes: []catalog.Change{ch("raw", "a", "raw/a/2.json", "raw/a/3.json")}})
	commit("main", catalog.CommitRequest{Author: "dee", Message: "merge dev again", ExpectedHead: main.ID, MergeParent: dev.ID,
		Changes: []catalog.Change{ch("gold", "g", "", "gold/g/1.json")}})
	for _, name := range []string{"B-upper", "a-lower", "a_lower", "Z"} {
		must(s.CreateRef(ctx, rat.Ref{Name: name, Kind: rat.Branch, Head: dev.ID}))
	}
	commit("a-lower", catalog.CommitRequest{Changes: []catalog.Change{ch("raw", "z", "", "raw/z/1.json")}})
	must(s.DeleteRef(ctx, "run/r1"))
	must(s.DeleteRef(ctx, "v1"))
	must(s.CreateRef(ctx, rat.Ref{Name: "v1", Kind: rat.Tag, Head: main.ID}))

	must(s.UpdateRun(ctx, "r2", func(r *rat.Run) error {
		r.Status, r.Finished, r.Owner = "success", base.Add(3*time.Minute), ""
		r.Detail.Commit = dev.ID
		return nil
	}))
	var lines []rat.RunLogLine
	for i := range 9 {
		lines = append(lines, rat.RunLogLine{Seq: int64(4 + i), At: base.Add(time.Duration(i) * time.Second), Level: "warn", Pipeline: "gold.g", Message: "more"})
	}
	must(s.AppendRunLogs(ctx, "r2", lines))
	// r3 is main's newest successful run: r1 (finished long before) is
	// pruned with its logs.
	must(s.SaveRun(ctx, rat.Run{ID: "r3", Target: "main", Status: "success", Trigger: "manual", Started: base.Add(time.Hour), Finished: base.Add(2 * time.Hour)}))
	must(s.AppendRunLogs(ctx, "r3", lines[:2]))
	if n, err := s.PruneRuns(ctx, base.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("PruneRuns = %d, %v; want r1 pruned", n, err)
	}
	must(s.SetTriggerDisabled(ctx, "silver.t2#0", false))
	must(s.SetTriggerDisabled(ctx, "gold.g#0", true))
	must(s.SetScheduleLast(ctx, "silver.t1#0", base.Add(2*time.Hour)))
	must(s.SetScheduleLast(ctx, "gold.g#1", base.Add(3*time.Hour)))
	must(s.DeleteSession(ctx, "hash-1"))
	must(s.CreateSession(ctx, "hash-2", "admin", "mac-2", time.Now(), time.Now().Add(time.Hour)))
}

// testCatchUp copies a catalog, changes the source and copies again: the
// target reads like the source, and takes new commits.
func testCatchUp(t *testing.T, src, dst *sqlstore.Store) {
	fill(t, src)
	if _, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	wantSame(t, src, dst)
	change(t, src)
	if diff, err := sqlstore.Verify(t.Context(), src, dst); err != nil || len(diff) < 8 {
		t.Fatalf("after the changes Verify = %d tables differ, %v; want most", len(diff), err)
	}
	before := checksums(t, src)
	if err := sqlstore.CheckTarget(t.Context(), src, dst, "dst"); err != nil {
		t.Fatalf("CheckTarget of a finished copy: %v", err)
	}
	rep, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{})
	if err != nil {
		t.Fatalf("catch-up: %v", err)
	}
	wantSame(t, src, dst)
	if !slices.Equal(rep.Tables, before.Tables) {
		t.Fatalf("catch-up reported %+v, the source has %+v", rep.Tables, before.Tables)
	}
	if after := checksums(t, src); !slices.Equal(before.Tables, after.Tables) {
		t.Fatal("the catch-up changed the source")
	}
	// Again: nothing to do, the same report.
	if again, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{}); err != nil || !slices.Equal(again.Tables, rep.Tables) {
		t.Fatalf("catch-up again = %+v, %v", again.Tables, err)
	}
	// The caught-up copy takes new commits (the identity generator moved
	// past the commits caught up).
	if _, err := dst.Commit(t.Context(), catalog.CommitRequest{Branch: "main", Author: "cy", Message: "after the catch-up",
		Changes: []catalog.Change{{Table: rat.TableID{Layer: "gold", Name: "new"}, Metadata: "gold/new/1.json"}}}); err != nil {
		t.Fatalf("commit after the catch-up: %v", err)
	}
}

func TestCatchUpSQLiteToSQLite(t *testing.T) { testCatchUp(t, openSQLite(t), openSQLite(t)) }

func TestCatchUpSQLiteToPostgres(t *testing.T) { testCatchUp(t, openSQLite(t), openPostgres(t)) }

func TestCatchUpPostgresToSQLite(t *testing.T) { testCatchUp(t, openPostgres(t), openSQLite(t)) }

func TestCatchUpPostgresToPostgres(t *testing.T) { testCatchUp(t, openPostgres(t), openPostgres(t)) }

// TestCatchUpRefusesWrittenTarget checks that a copy written to since it
// was made (in use on its own) is refused, by CheckTarget and Copy, and
// left as it was.
func TestCatchUpRefusesWrittenTarget(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			src, dst := openSQLite(t), open(t)
			fill(t, src)
			if _, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := dst.SetScheduleLast(t.Context(), "silver.t1#0", base.Add(5*time.Hour)); err != nil {
				t.Fatal(err)
			}
			change(t, src)
			before := checksums(t, dst)
			want := "dst was written to since the source was copied into it: schedule_state (1 rows, 1 after the copy) differ"
			if err := sqlstore.CheckTarget(t.Context(), src, dst, "dst"); !rat.IsCode(err, rat.ECONFLICT) || !strings.Contains(err.Error(), want) {
				t.Fatalf("CheckTarget of a copy written to = %v, want ECONFLICT %q", err, want)
			}
			if _, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{Target: "dst"}); !rat.IsCode(err, rat.ECONFLICT) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Copy into a copy written to = %v, want ECONFLICT %q", err, want)
			}
			if after := checksums(t, dst); !slices.Equal(before.Tables, after.Tables) {
				t.Fatal("a refused catch-up changed the target")
			}
		})
	}
}

// testCatchUpResume stops a catch-up after a number of batches and runs it
// again: the result is always the source's catalog.
func testCatchUpResume(t *testing.T, open func(testing.TB) *sqlstore.Store, every int) {
	sqlstore.SetCopyBatch(t, 7)
	copied := func() (src, dst *sqlstore.Store) {
		src, dst = openSQLite(t), open(t)
		fill(t, src)
		if _, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		change(t, src)
		return src, dst
	}
	src, dst := copied()
	total := 0
	if _, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{Progress: func(string, int64, int64) { total++ }}); err != nil {
		t.Fatal(err)
	}
	if total < 10 {
		t.Fatalf("only %d batches: lower the batch size", total)
	}
	wantSame(t, src, dst)
	for stop := 1; stop < total; stop += every {
		src, dst := copied()
		stopAndResume(t, src, dst, stop)
	}
}

func TestCatchUpResumeSQLite(t *testing.T) { testCatchUpResume(t, openSQLite, 1) }

func TestCatchUpResumePostgres(t *testing.T) { testCatchUpResume(t, openPostgres, 4) }

// TestCatchUpKilled kills (SIGKILL) a process in the middle of a catch-up,
// after a number of batches, and runs it again: the target is then the
// changed source's catalog.
func TestCatchUpKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, stop := range []int{1, 6, 17} {
		dir := t.TempDir()
		srcPath, dstPath := filepath.Join(dir, "source.db"), filepath.Join(dir, "target.db")
		open := func(path string) *sqlstore.Store {
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s.SQLStore()
		}
		src, first := open(srcPath), open(dstPath)
		fill(t, src)
		if _, err := sqlstore.Copy(t.Context(), src, first, sqlstore.CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		change(t, src)
		dst := killedCopy(t, srcPath, dstPath, stop)
		if diff, err := sqlstore.Verify(t.Context(), src, dst); err != nil || len(diff) == 0 {
			t.Fatalf("after the kill the target equals the source already (%v): stop earlier", err)
		}
		if _, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{}); err != nil {
			t.Fatalf("catch-up after a kill after %d batches: %v", stop, err)
		}
		wantSame(t, src, dst)
	}
}

// BenchmarkCatchUp measures a catch-up of 100 new commits after a copy of
// a catalog of 10,000 commits (the final pass of a migration whose source
// kept working after the first): the whole catalog is checksummed on both
// sides; commits are read after the target's last one, the other changed
// tables walked on both sides, only the new rows written.
func BenchmarkCatchUp(b *testing.B) {
	src := openSQLite(b)
	n := 0
	commits := func(k int) {
		for range k {
			benchCommit(b, src, n)
			n++
		}
	}
	commits(10_000)
	for _, dir := range []struct {
		name string
		dst  func(testing.TB) *sqlstore.Store
	}{{"sqlite-to-sqlite", openSQLite}, {"sqlite-to-postgres", openPostgres}} {
		b.Run(dir.name, func(b *testing.B) {
			dst := dir.dst(b)
			if _, err := sqlstore.Copy(b.Context(), src, dst, sqlstore.CopyOptions{}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				b.StopTimer()
				commits(100)
				b.StartTimer()
				if _, err := sqlstore.Copy(b.Context(), src, dst, sqlstore.CopyOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCatchUpSkipsUnchanged: after one new commit, a catch-up touches only
// the tables that commit changed (commits read after the target's last
// one, their parents and changes those of the new commit: none walked),
// none of the run, schedule, trigger, webhook or session tables, and
// deletes nothing; the target then reads like the source.
func TestCatchUpSkipsUnchanged(t *testing.T) {
	sqlstore.SetCopyBatch(t, 7) // a walk of the commits takes several batches
	src, dst := openSQLite(t), openSQLite(t)
	fill(t, src)
	if _, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Commit(t.Context(), catalog.CommitRequest{Branch: "main", Author: "cy", Message: "one more",
		Changes: []catalog.Change{{Table: rat.TableID{Layer: "gold", Name: "one"}, Metadata: "gold/one/1.json"}}}); err != nil {
		t.Fatal(err)
	}
	walked := map[string][]int64{} // table → the done figures reported
	if _, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{Progress: func(table string, done, _ int64) {
		walked[table] = append(walked[table], done)
	}}); err != nil {
		t.Fatal(err)
	}
	wantSame(t, src, dst)
	var tables []string
	for name := range walked {
		tables = append(tables, name)
	}
	slices.Sort(tables)
	if want := []string{"commit_changes", "commit_parents", "commits", "ref_tables", "refs"}; !slices.Equal(tables, want) {
		t.Fatalf("the catch-up of one commit walked %v, want %v", tables, want)
	}
	// commits: one batch (the new row), not a walk of every commit.
	if n, err := src.Log(t.Context(), mustHead(t, src), 0); err != nil || len(n) <= 7 {
		t.Fatalf("the source has %d commits (%v), want more than a batch", len(n), err)
	}
	for _, name := range []string{"commits", "commit_parents", "commit_changes"} {
		if got := walked[name]; len(got) != 1 {
			t.Errorf("the catch-up wrote %d batches of %s (%v), want one: the new commit's rows, not a walk", len(got), name, got)
		}
	}
}

// mustHead is the head of main.
func mustHead(t *testing.T, s *sqlstore.Store) string {
	t.Helper()
	r, err := s.Ref(t.Context(), "main")
	if err != nil {
		t.Fatal(err)
	}
	return r.Head
}
