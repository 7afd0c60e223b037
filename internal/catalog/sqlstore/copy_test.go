package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
	"github.com/ratdata/rat/internal/postgres"
	"github.com/ratdata/rat/internal/sqlite"
	"github.com/ratdata/rat/internal/testenv"
)

func openSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.SQLStore()
}

func openPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.SQLStore()
}

var base = time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)

// fill writes a catalog with branches that diverge, a tag, a merge, a
// dropped table, runs with logs, schedule and trigger state, a webhook
// delivery and a session.
func fill(t testing.TB, s *sqlstore.Store) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	commit := func(r catalog.CommitRequest) rat.Commit {
		t.Helper()
		if r.Author == "" {
			r.Author, r.Message = "ann", "change "+r.Branch
		}
		c, err := s.Commit(ctx, r)
		must(err)
		return c
	}
	ch := func(table, expected, metadata string) catalog.Change {
		id, err := rat.ParseTableID(table)
		must(err)
		return catalog.Change{Table: id, Expected: expected, Metadata: metadata}
	}
	commit(catalog.CommitRequest{Branch: "main", Changes: []catalog.Change{ch("raw.a", "", "raw/a/1.json"), ch("raw.b", "", "raw/b/1.json")}})
	c2 := commit(catalog.CommitRequest{Branch: "main", Changes: []catalog.Change{ch("raw.b", "raw/b/1.json", "raw/b/2.json")}})
	must(s.CreateRef(ctx, rat.Ref{Name: "dev", Kind: rat.Branch, Head: c2.ID}))
	must(s.CreateRef(ctx, rat.Ref{Name: "v1", Kind: rat.Tag, Head: c2.ID}))
	var dev rat.Commit
	for i := range 12 {
		dev = commit(catalog.CommitRequest{Branch: "dev", Changes: []catalog.Change{ch(fmt.Sprintf("silver.t%d", i), "", fmt.Sprintf("silver/t%d/1.json", i))}})
	}
	main := commit(catalog.CommitRequest{Branch: "main", Author: "bob", Message: "diverge: ünïcode ✓", Changes: []catalog.Change{ch("raw.a", "raw/a/1.json", "raw/a/2.json")}})
	var merge []catalog.Change
	for i := range 12 {
		merge = append(merge, ch(fmt.Sprintf("silver.t%d", i), "", fmt.Sprintf("silver/t%d/1.json", i)))
	}
	commit(catalog.CommitRequest{Branch: "main", Author: "bob", Message: "merge dev", Changes: merge, ExpectedHead: main.ID, MergeParent: dev.ID})
	commit(catalog.CommitRequest{Branch: "main", Changes: []catalog.Change{ch("raw.b", "raw/b/2.json", "")}}) // drop
	must(s.CreateRef(ctx, rat.Ref{Name: "run/r1", Kind: rat.Branch, Head: dev.ID, Internal: true}))

	must(s.SaveRun(ctx, rat.Run{ID: "r1", Target: "main", Status: "success", Trigger: "manual", Started: base, Finished: base.Add(time.Second),
		Detail: rat.RunDetail{Commit: dev.ID, Error: ""}}))
	must(s.SaveRun(ctx, rat.Run{ID: "r2", Target: "dev", Status: "running", Trigger: "schedule", Started: base.Add(time.Minute),
		Owner: "host-1-abc", Heartbeat: base.Add(2 * time.Minute), Lease: 30 * time.Second}))
	var lines []rat.RunLogLine
	for i := range 25 {
		lines = append(lines, rat.RunLogLine{Seq: int64(i + 1), At: base.Add(time.Duration(i) * time.Millisecond), Level: "info", Pipeline: "silver.t1", Message: fmt.Sprintf("line %d", i)})
	}
	must(s.AppendRunLogs(ctx, "r1", lines))
	must(s.AppendRunLogs(ctx, "r2", lines[:3]))
	must(s.SetScheduleLast(ctx, "silver.t1#0", base.Add(time.Hour)))
	must(s.SetTriggerDisabled(ctx, "silver.t2#0", true))
	_, err := s.RecordDelivery(ctx, "delivery-1", time.Now(), time.Now().Add(-time.Hour))
	must(err)
	must(s.CreateSession(ctx, "hash-1", "admin", "mac-1", time.Now(), time.Now().Add(time.Hour)))
}

// snapshot reads the whole catalog through the store's methods.
func snapshot(t testing.TB, s *sqlstore.Store) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	refs, err := s.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		fmt.Fprintf(&b, "ref %+v\n", r)
		log, err := s.Log(ctx, r.Head, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range log {
			fmt.Fprintf(&b, "  commit %s %s %q %s parents=%v changes=%v\n", c.ID, c.Author, c.Message, c.Time.Format(time.RFC3339Nano), c.Parents, c.Changes)
			tables, err := s.TablesAt(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "    tables %v\n", tables)
		}
		tables, err := s.Tables(ctx, r.Name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  head tables %v\n", tables)
	}
	runs, err := s.Runs(ctx, rat.RunFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		fmt.Fprintf(&b, "run %+v\n", r)
		lines, err := s.RunLogs(ctx, r.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  logs %+v\n", lines)
	}
	disabled, err := s.DisabledTriggers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.TriggerKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys) // in no particular order
	last, ok, err := s.ScheduleLast(ctx, "silver.t1#0")
	if err != nil {
		t.Fatal(err)
	}
	name, mac, signed, err := s.Session(ctx, "hash-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "disabled %v keys %v last %v %v session %s %s %v\n", disabled, keys, last, ok, name, mac, signed)
	return b.String()
}

func checksums(t testing.TB, s *sqlstore.Store) sqlstore.CopyReport {
	t.Helper()
	r, err := sqlstore.Checksums(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantSame checks that dst reads exactly like src, table by table and
// through the store's methods.
func wantSame(t *testing.T, src, dst *sqlstore.Store) {
	t.Helper()
	diff, err := sqlstore.Verify(t.Context(), src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) > 0 {
		t.Fatalf("Verify found differences: %+v", diff)
	}
	if a, b := snapshot(t, src), snapshot(t, dst); a != b {
		t.Fatalf("the copy reads differently:\nsource:\n%s\ntarget:\n%s", a, b)
	}
}

// testCopy copies a filled catalog and checks the copy, the report, the
// source left alone, and that the copy takes new commits.
func testCopy(t *testing.T, src, dst *sqlstore.Store) {
	fill(t, src)
	before := checksums(t, src)
	plan, err := sqlstore.Plan(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	var batches int
	rep, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{Progress: func(table string, done, total int64) {
		batches++
		if done > total {
			t.Errorf("progress of %s: %d of %d", table, done, total)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantSame(t, src, dst)
	if after := checksums(t, src); !slices.Equal(before.Tables, after.Tables) {
		t.Fatalf("the source changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if !slices.Equal(rep.Tables, before.Tables) {
		t.Fatalf("Copy reported %+v, the source has %+v", rep.Tables, before.Tables)
	}
	for i, p := range plan.Tables {
		if p.Table != rep.Tables[i].Table || p.Rows != rep.Tables[i].Rows {
			t.Fatalf("Plan %+v, Copy %+v", p, rep.Tables[i])
		}
	}
	if batches < len(rep.Tables) {
		t.Fatalf("Progress called %d times for %d tables", batches, len(rep.Tables))
	}
	// Copying again finds the copy done and reports the same.
	again, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{})
	if err != nil || !slices.Equal(again.Tables, rep.Tables) {
		t.Fatalf("Copy again = %+v, %v; want %+v", again.Tables, err, rep.Tables)
	}
	// The copy takes new commits (identity generators moved past the
	// copied commits) on every branch, and new runs.
	for _, ref := range []string{"main", "dev"} {
		old, err := dst.Ref(t.Context(), ref)
		if err != nil {
			t.Fatal(err)
		}
		c, err := dst.Commit(t.Context(), catalog.CommitRequest{Branch: ref, Author: "cy", Message: "after the copy",
			Changes: []catalog.Change{{Table: rat.TableID{Layer: "gold", Name: "new"}, Metadata: "gold/new/1.json"}}})
		if err != nil {
			t.Fatalf("commit to %s after the copy: %v", ref, err)
		}
		log, err := dst.Log(t.Context(), c.ID, 0)
		if err != nil || len(log) < 2 || log[1].ID != old.Head {
			t.Fatalf("log after a new commit on %s: %d commits, %v", ref, len(log), err)
		}
	}
	if err := dst.SaveRun(t.Context(), rat.Run{ID: "r3", Target: "main", Status: "success", Trigger: "manual", Started: base}); err != nil {
		t.Fatal(err)
	}
}

func TestCopySQLiteToSQLite(t *testing.T) { testCopy(t, openSQLite(t), openSQLite(t)) }

func TestCopySQLiteToPostgres(t *testing.T) { testCopy(t, openSQLite(t), openPostgres(t)) }

func TestCopyPostgresToPostgres(t *testing.T) { testCopy(t, openPostgres(t), openPostgres(t)) }

func TestCopyPostgresToSQLite(t *testing.T) { testCopy(t, openPostgres(t), openSQLite(t)) }

// TestCopyChecksumsAgree checks that one catalog gives the same checksums
// on both databases, and that a change shows in Verify.
func TestCopyChecksumsAgree(t *testing.T) {
	src, pg := openSQLite(t), openPostgres(t)
	fill(t, src)
	if _, err := sqlstore.Copy(t.Context(), src, pg, sqlstore.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if a, b := checksums(t, src), checksums(t, pg); !slices.Equal(a.Tables, b.Tables) {
		t.Fatalf("checksums differ:\nsqlite   %+v\npostgres %+v", a, b)
	}
	if err := pg.SetTriggerDisabled(t.Context(), "silver.t2#0", false); err != nil {
		t.Fatal(err)
	}
	diff, err := sqlstore.Verify(t.Context(), src, pg)
	if err != nil || len(diff) != 1 || diff[0].Table != "trigger_state" || diff[0].Rows != 1 || diff[0].TargetRows != 0 {
		t.Fatalf("Verify after a change = %+v, %v; want trigger_state 1 vs 0 rows", diff, err)
	}
}

// testResume stops a copy after every possible number of batches and
// copies again: the result is always the same catalog.
func testResume(t *testing.T, src *sqlstore.Store, newTarget func(t *testing.T) *sqlstore.Store, every int) {
	sqlstore.SetCopyBatch(t, 7)
	fill(t, src)
	total := 0
	if _, err := sqlstore.Copy(t.Context(), src, newTarget(t), sqlstore.CopyOptions{Progress: func(string, int64, int64) { total++ }}); err != nil {
		t.Fatal(err)
	}
	if total < 10 {
		t.Fatalf("only %d batches: lower the batch size", total)
	}
	for stop := 1; stop < total; stop += every {
		stopAndResume(t, src, newTarget(t), stop)
	}
}

// stopAndResume copies src into dst (a first copy or a catch-up), stops
// the copy after stop batches and copies again: dst must then read like
// src.
func stopAndResume(t *testing.T, src, dst *sqlstore.Store, stop int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	_, err := sqlstore.Copy(ctx, src, dst, sqlstore.CopyOptions{Target: "dst", Progress: func(string, int64, int64) {
		if n++; n == stop {
			cancel()
		}
	}})
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped after %d batches: %v, want context.Canceled", stop, err)
	}
	if err := sqlstore.CheckTarget(t.Context(), src, dst, "dst"); err != nil {
		t.Fatalf("CheckTarget of a copy stopped after %d batches: %v", stop, err)
	}
	rep, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{Target: "dst"})
	if err != nil {
		t.Fatalf("resume after %d batches: %v", stop, err)
	}
	if want := checksums(t, src); !slices.Equal(rep.Tables, want.Tables) {
		t.Fatalf("resumed after %d batches, Copy reports %+v, the source has %+v", stop, rep.Tables, want.Tables)
	}
	wantSame(t, src, dst)
}

// TestCopyKilled kills (SIGKILL) a process in the middle of a copy, after
// a number of batches, and copies again: the result is the same catalog.
func TestCopyKilled(t *testing.T) {
	if os.Getenv("RAT_TEST_COPY_CHILD") != "" {
		copyChild(t)
		return
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	srcPath := filepath.Join(t.TempDir(), "source.db")
	s, err := sqlite.Open(t.Context(), srcPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	src := s.SQLStore()
	fill(t, src)
	for _, stop := range []int{1, 4, 13} {
		dst := killedCopy(t, srcPath, filepath.Join(t.TempDir(), "target.db"), stop)
		if diff, err := sqlstore.Verify(t.Context(), src, dst); err != nil || len(diff) == 0 {
			t.Fatalf("after the kill the target equals the source already (%v): stop earlier", err)
		}
		if _, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{}); err != nil {
			t.Fatalf("copy after a kill after %d batches: %v", stop, err)
		}
		wantSame(t, src, dst)
	}
}

// killedCopy copies the SQLite catalog at srcPath into the one at dstPath
// in a process of its own, killed (SIGKILL) after stop batches, and opens
// the target.
func killedCopy(t *testing.T, srcPath, dstPath string, stop int) *sqlstore.Store {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCopyKilled$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RAT_TEST_COPY_CHILD=1", "RAT_TEST_COPY_SRC="+srcPath, "RAT_TEST_COPY_DST="+dstPath,
		fmt.Sprintf("RAT_TEST_COPY_STOP=%d", stop))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Exited() {
		t.Fatalf("the copying process was not killed after %d batches: %v\n%s", stop, err, out)
	}
	d, err := sqlite.Open(t.Context(), dstPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d.SQLStore()
}

// copyChild copies RAT_TEST_COPY_SRC into RAT_TEST_COPY_DST in batches of
// 7 rows and kills its own process after RAT_TEST_COPY_STOP batches.
func copyChild(t *testing.T) {
	sqlstore.SetCopyBatch(t, 7)
	stop, err := strconv.Atoi(os.Getenv("RAT_TEST_COPY_STOP"))
	if err != nil {
		t.Fatal(err)
	}
	open := func(path string) *sqlstore.Store {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s.SQLStore()
	}
	src, dst := open(os.Getenv("RAT_TEST_COPY_SRC")), open(os.Getenv("RAT_TEST_COPY_DST"))
	n := 0
	_, err = sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{Progress: func(string, int64, int64) {
		if n++; n == stop {
			p, _ := os.FindProcess(os.Getpid())
			_ = p.Kill()
			select {} // SIGKILL ends the process
		}
	}})
	t.Fatalf("Copy returned (%v) before it was killed", err)
}

func TestCopyResumeSQLite(t *testing.T) {
	testResume(t, openSQLite(t), func(t *testing.T) *sqlstore.Store { return openSQLite(t) }, 1)
}

func TestCopyResumePostgres(t *testing.T) {
	testResume(t, openSQLite(t), func(t *testing.T) *sqlstore.Store { return openPostgres(t) }, 5)
}

// TestCopyRefusesOtherTargets checks that a target with data of its own,
// or with a copy of another catalog, is refused and left as it was.
func TestCopyRefusesOtherTargets(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			src, dst := openSQLite(t), open(t)
			fill(t, src)
			if _, err := dst.Commit(t.Context(), catalog.CommitRequest{Branch: "main", Author: "a", Message: "m",
				Changes: []catalog.Change{{Table: rat.TableID{Layer: "raw", Name: "x"}, Metadata: "raw/x/1.json"}}}); err != nil {
				t.Fatal(err)
			}
			if err := dst.SaveRun(t.Context(), rat.Run{ID: "mine", Target: "main", Status: "success", Trigger: "manual", Started: base}); err != nil {
				t.Fatal(err)
			}
			before := checksums(t, dst)
			_, err := sqlstore.Copy(t.Context(), src, dst, sqlstore.CopyOptions{Target: "the catalog at TARGET"})
			if !rat.IsCode(err, rat.ECONFLICT) || !strings.Contains(err.Error(), "the catalog at TARGET is not empty: it holds 2 commits, 1 commit parents, 1 commit changes, 1 refs, 1 ref tables, 1 runs") {
				t.Fatalf("Copy into a catalog with data = %v, want ECONFLICT naming the target and what it holds", err)
			}
			if after := checksums(t, dst); !slices.Equal(before.Tables, after.Tables) {
				t.Fatalf("a refused copy changed the target")
			}

			// A target holding (part of) a copy of another catalog.
			other, dst2 := openSQLite(t), open(t)
			fill(t, other)
			ctx, cancel := context.WithCancel(t.Context())
			_, err = sqlstore.Copy(ctx, other, dst2, sqlstore.CopyOptions{Progress: func(string, int64, int64) { cancel() }})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			_, err = sqlstore.Copy(t.Context(), src, dst2, sqlstore.CopyOptions{Target: "dst2"})
			if !rat.IsCode(err, rat.ECONFLICT) || !strings.Contains(err.Error(), "dst2 holds an unfinished copy of another catalog") {
				t.Fatalf("Copy into a copy of another catalog = %v, want ECONFLICT", err)
			}
			// An unfinished copy is no source.
			if _, err := sqlstore.Copy(t.Context(), dst2, openSQLite(t), sqlstore.CopyOptions{}); !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "the source catalog is an unfinished copy") {
				t.Fatalf("Copy from an unfinished copy = %v", err)
			}
			// A target at another schema version.
			dst3 := open(t)
			if err := dst3.Exec(t.Context(), `INSERT INTO schema_migrations (version, name, applied_us) VALUES (9999, '9999_future.sql', 0)`); err != nil {
				t.Fatal(err)
			}
			if _, err := sqlstore.Copy(t.Context(), src, dst3, sqlstore.CopyOptions{Target: "dst3"}); !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "dst3 has schema versions") {
				t.Fatalf("Copy into another schema version = %v", err)
			}
			// A catalog onto itself.
			if _, err := sqlstore.Copy(t.Context(), src, src, sqlstore.CopyOptions{}); !rat.IsCode(err, rat.ECONFLICT) || !strings.Contains(err.Error(), "same root commit") {
				t.Fatalf("Copy onto itself = %v", err)
			}
		})
	}
}

// TestCopySchemaKnown checks that Copy knows every table of both dialects'
// schemas: Plan fails on a table it does not know.
func TestCopySchemaKnown(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			rep, err := sqlstore.Plan(t.Context(), s)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Tables) != 11 || rep.Tables[0].Table != "commits" || rep.Tables[0].Rows != 1 || rep.Locks != 0 {
				t.Fatalf("Plan of a new catalog = %+v", rep)
			}
			if _, err := s.LockPipelines(t.Context(), "main", "r1", []string{"silver.a"}); err != nil {
				t.Fatal(err)
			}
			if rep, err := sqlstore.Plan(t.Context(), s); err != nil || rep.Locks != 1 {
				t.Fatalf("Plan with a lock held = %+v, %v", rep, err)
			}
			if err := s.Exec(t.Context(), `CREATE TABLE surprise (x INTEGER)`); err != nil {
				t.Fatal(err)
			}
			if _, err := sqlstore.Plan(t.Context(), s); !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "table surprise") {
				t.Fatalf("Plan with an unknown table = %v", err)
			}
		})
	}
}

// BenchmarkCopy copies a catalog of 10,000 commits (each changing one of 100
// tables, with their ref tables) in each direction and reports commits
// copied per second.
func BenchmarkCopy(b *testing.B) {
	const commits = 10_000
	src := openSQLite(b)
	for i := range commits {
		benchCommit(b, src, i)
	}
	pg := openPostgres(b)
	if _, err := sqlstore.Copy(b.Context(), src, pg, sqlstore.CopyOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, dir := range []struct {
		name string
		src  *sqlstore.Store
		dst  func(testing.TB) *sqlstore.Store
	}{
		{"sqlite-to-sqlite", src, openSQLite},
		{"sqlite-to-postgres", src, openPostgres},
		{"postgres-to-postgres", pg, openPostgres},
		{"postgres-to-sqlite", pg, openSQLite},
	} {
		b.Run(dir.name, func(b *testing.B) {
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				dst := dir.dst(b)
				b.StartTimer()
				start := time.Now()
				if _, err := sqlstore.Copy(b.Context(), dir.src, dst, sqlstore.CopyOptions{}); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(commits*b.N)/elapsed.Seconds(), "commits/s")
		})
	}
}

// benchCommit makes the i-th commit of the benchmarks' catalogs: a new
// metadata file for one of 100 tables, in turn.
func benchCommit(b *testing.B, s *sqlstore.Store, i int) {
	b.Helper()
	key := rat.TableID{Layer: "raw", Name: fmt.Sprintf("t%d", i%100)}
	prev := ""
	if i >= 100 {
		prev = fmt.Sprintf("raw/t%d/%d.json", i%100, i-100)
	}
	if _, err := s.Commit(b.Context(), catalog.CommitRequest{Branch: "main", Author: "bench", Message: fmt.Sprintf("commit %d", i),
		Changes: []catalog.Change{{Table: key, Expected: prev, Metadata: fmt.Sprintf("raw/t%d/%d.json", i%100, i)}}}); err != nil {
		b.Fatal(err)
	}
}
