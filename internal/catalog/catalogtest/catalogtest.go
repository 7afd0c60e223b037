// Package catalogtest is the conformance suite of catalog.Store: every store
// (SQLite, Postgres) runs the same behaviour tests through Run and RunShared.
package catalogtest

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
)

// AmbiguousPrefix plants two commits whose ids share a prefix straight
// into s's database (db, the same database opened with database/sql): the
// prefix alone is refused as naming 2 commits, a longer one, in either
// case, finds its commit.
func AmbiguousPrefix(t *testing.T, s catalog.Store, db *sql.DB) {
	t.Helper()
	root, err := s.Ref(t.Context(), rat.DefaultBranch)
	if err != nil {
		t.Fatal(err)
	}
	// Commit ids are random; plant two that share a prefix.
	for _, id := range []string{"abcdef" + strings.Repeat("0", 26), "abcdef" + strings.Repeat("1", 26)} {
		if _, err := db.Exec(`INSERT INTO commits (id, parent, author, message, created_us) VALUES ($1, $2, 'x', 'y', 0)`, id, root.Head); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.GetCommit(t.Context(), "abcdef")
	if rat.ErrorCode(err) != rat.EINVALID || !strings.Contains(err.Error(), "matches 2 commits") {
		t.Fatalf("GetCommit(ambiguous) = %v, want EINVALID naming 2 matches", err)
	}
	for _, prefix := range []string{"abcdef1", "ABCDEF1"} {
		if c, err := s.GetCommit(t.Context(), prefix); err != nil || c.ID != "abcdef"+strings.Repeat("1", 26) {
			t.Fatalf("GetCommit(%s) = %+v, %v", prefix, c, err)
		}
	}
}

// Run runs the suite. open must return a new Store on a new, empty database
// for every call, and close it when the test ends.
func Run(t *testing.T, open func(t *testing.T) catalog.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s catalog.Store)
	}{
		{"InitialState", testInitialState},
		{"Branches", testBranches},
		{"BadNames", testBadNames},
		{"ReservedNames", testReservedNames},
		{"CommitAndTables", testCommitAndTables},
		{"CommitValidation", testCommitValidation},
		{"StaleTableConflicts", testStaleTableConflicts},
		{"CommitObserver", testCommitObserver},
		{"PruneRuns", testPruneRuns},
		{"RunLogs", testRunLogs},
		{"OtherTableDoesNotBlock", testOtherTableDoesNotBlock},
		{"ExpectedHead", testExpectedHead},
		{"MultiTableAtomicity", testMultiTableAtomicity},
		{"Drop", testDrop},
		{"TablesAtHistory", testTablesAtHistory},
		{"BranchIsolation", testBranchIsolation},
		{"Tags", testTags},
		{"MoveRef", testMoveRef},
		{"LogAndMerge", testLogAndMerge},
		{"MergeBase", testMergeBase},
		{"GetCommitByPrefix", testGetCommitByPrefix},
		{"ConcurrentDistinctTables", testConcurrentDistinctTables},
		{"ConcurrentSameTable", testConcurrentSameTable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

var commitID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func testInitialState(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	refs, err := s.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Name != rat.DefaultBranch || refs[0].Kind != rat.Branch {
		t.Fatalf("refs of a new catalog = %+v, want only branch main", refs)
	}
	root := mustGetCommit(t, s, refs[0].Head)
	if !commitID.MatchString(root.ID) || len(root.Parents) != 0 || len(root.Changes) != 0 ||
		root.Author != "rat" || root.Message != "initial commit" {
		t.Fatalf("root commit = %+v, want 32 hex id, no parents, no changes, author rat, message \"initial commit\"", root)
	}
	if root.Time.Location() != time.UTC || root.Time.IsZero() || time.Since(root.Time) > time.Hour {
		t.Errorf("root commit time = %v, want a recent UTC time", root.Time)
	}
	if log := mustLog(t, s, root.ID, 0); len(log) != 1 {
		t.Errorf("log of a new catalog has %d commits, want 1", len(log))
	}
	if tables, err := s.Tables(ctx, rat.DefaultBranch); err != nil || len(tables) != 0 {
		t.Errorf("Tables(main) = %v, %v; want none", tables, err)
	}
}

func testBranches(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	root := head(t, s, "main")
	mustCreate(t, s, rat.Ref{Name: "feature/x", Kind: rat.Branch, Head: root})
	mustCreate(t, s, rat.Ref{Name: "dev", Kind: rat.Branch, Head: root})
	mustCreate(t, s, rat.Ref{Name: "v1", Kind: rat.Tag, Head: root})

	got, err := s.Ref(ctx, "dev")
	if err != nil || got != (rat.Ref{Name: "dev", Kind: rat.Branch, Head: root}) {
		t.Fatalf("Ref(dev) = %+v, %v", got, err)
	}
	refs, err := s.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range refs {
		names = append(names, string(r.Kind)+":"+r.Name)
	}
	if want := []string{"branch:dev", "branch:feature/x", "branch:main", "tag:v1"}; !slices.Equal(names, want) {
		t.Fatalf("Refs = %v, want %v", names, want)
	}

	wantCode(t, s.CreateRef(ctx, rat.Ref{Name: "dev", Kind: rat.Branch, Head: root}), rat.ECONFLICT, "dev")
	wantCode(t, s.CreateRef(ctx, rat.Ref{Name: "v1", Kind: rat.Branch, Head: root}), rat.ECONFLICT, "v1")
	wantCode(t, s.CreateRef(ctx, rat.Ref{Name: "other", Kind: rat.Branch, Head: strings.Repeat("ab", 16)}), rat.ENOTFOUND, "not found")
	wantCode(t, s.CreateRef(ctx, rat.Ref{Name: "other", Kind: "stack", Head: root}), rat.EINVALID, "stack")

	if err := s.DeleteRef(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Ref(ctx, "dev")
	wantCode(t, err, rat.ENOTFOUND, `"dev" not found`)
	wantCode(t, s.DeleteRef(ctx, "dev"), rat.ENOTFOUND, "dev")
	wantCode(t, s.DeleteRef(ctx, "main"), rat.EINVALID, "default branch cannot be deleted")
	if err := s.DeleteRef(ctx, "v1"); err != nil {
		t.Fatalf("delete tag: %v", err)
	}
	// The name is free again.
	mustCreate(t, s, rat.Ref{Name: "dev", Kind: rat.Branch, Head: root})
}

func testBadNames(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	root := head(t, s, "main")
	for _, name := range []string{"", "-x", ".x", "a..b", "a//b", "x/", "x.", "x.lock", "has space", "a~b", strings.Repeat("a", 201)} {
		wantCode(t, s.CreateRef(ctx, rat.Ref{Name: name, Kind: rat.Branch, Head: root}), rat.EINVALID, "not valid")
		_, err := s.Commit(ctx, catalog.CommitRequest{Branch: name, Author: "a", Message: "m"})
		wantCode(t, err, rat.EINVALID, "")
	}
	if refs, _ := s.Refs(ctx); len(refs) != 1 {
		t.Errorf("bad names created refs: %+v", refs)
	}
}

func testCommitAndTables(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	root := head(t, s, "main")
	before := time.Now().Add(-time.Second)
	c := mustCommit(t, s, catalog.CommitRequest{
		Branch: "main", Author: "ana", Message: "load sales",
		Changes: []catalog.Change{
			{Table: tid("silver.sales"), Metadata: "m/silver-sales-1"},
			{Table: tid("bronze.sales"), Metadata: "m/bronze-sales-1"},
		},
	})
	if !commitID.MatchString(c.ID) || !slices.Equal(c.Parents, []string{root}) || c.Author != "ana" || c.Message != "load sales" {
		t.Fatalf("commit = %+v", c)
	}
	if c.Time.Location() != time.UTC || c.Time.Before(before) || c.Time.After(time.Now().Add(time.Second)) || c.Time.Nanosecond()%1000 != 0 {
		t.Errorf("commit time = %v, want now in UTC at microsecond precision", c.Time)
	}
	wantChanges := []rat.TableChange{{Table: tid("bronze.sales"), Metadata: "m/bronze-sales-1"}, {Table: tid("silver.sales"), Metadata: "m/silver-sales-1"}}
	if !slices.Equal(c.Changes, wantChanges) {
		t.Errorf("changes = %+v, want %+v (sorted by table)", c.Changes, wantChanges)
	}
	if got := head(t, s, "main"); got != c.ID {
		t.Fatalf("main head = %s, want the new commit %s", got, c.ID)
	}
	wantTables(t, s, "main", "bronze.sales=m/bronze-sales-1@"+c.ID, "silver.sales=m/silver-sales-1@"+c.ID)
	e, err := s.Table(ctx, "main", tid("bronze.sales"))
	if err != nil || e != (rat.TableEntry{Table: tid("bronze.sales"), Metadata: "m/bronze-sales-1", CommitID: c.ID}) {
		t.Fatalf("Table = %+v, %v", e, err)
	}
	_, err = s.Table(ctx, "main", tid("gold.nope"))
	wantCode(t, err, rat.ENOTFOUND, "gold.nope")
	_, err = s.Table(ctx, "nope", tid("bronze.sales"))
	wantCode(t, err, rat.ENOTFOUND, `"nope"`)
	_, err = s.Tables(ctx, "nope")
	wantCode(t, err, rat.ENOTFOUND, `"nope"`)

	got := mustGetCommit(t, s, c.ID)
	if !equalCommit(got, c) {
		t.Errorf("GetCommit = %+v\nwant %+v", got, c)
	}

	// An empty commit is allowed and moves the head.
	e2 := mustCommit(t, s, catalog.CommitRequest{Branch: "main", Author: "ana", Message: "empty"})
	if len(e2.Changes) != 0 || !slices.Equal(e2.Parents, []string{c.ID}) || head(t, s, "main") != e2.ID {
		t.Errorf("empty commit = %+v", e2)
	}
	wantTables(t, s, "main", "bronze.sales=m/bronze-sales-1@"+c.ID, "silver.sales=m/silver-sales-1@"+c.ID)
}

func testCommitValidation(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	_, err := s.Commit(ctx, catalog.CommitRequest{Branch: "nope", Author: "a", Message: "m"})
	wantCode(t, err, rat.ENOTFOUND, `branch "nope" not found`)
	_, err = s.Commit(ctx, catalog.CommitRequest{Branch: "main", Author: "a", Message: "m", Changes: []catalog.Change{
		{Table: tid("bronze.a"), Metadata: "1"}, {Table: tid("bronze.a"), Metadata: "2"},
	}})
	wantCode(t, err, rat.EINVALID, "bronze.a")
	_, err = s.Commit(ctx, catalog.CommitRequest{Branch: "main", Author: "a", Message: "m", Changes: []catalog.Change{
		{Table: rat.TableID{Layer: "bronze", Name: "bad name"}, Metadata: "1"},
	}})
	wantCode(t, err, rat.EINVALID, "bad name")
	_, err = s.Commit(ctx, catalog.CommitRequest{Branch: "main", Author: "a", Message: "m",
		MergeParent: strings.Repeat("cd", 16)})
	wantCode(t, err, rat.ENOTFOUND, "not found")
	if n := len(mustLog(t, s, head(t, s, "main"), 0)); n != 1 {
		t.Errorf("rejected commits wrote %d commits", n-1)
	}
}

// testPruneRuns: old finished runs go, except each target's newest
// success; running ones and recent ones stay.
func testPruneRuns(t *testing.T, s catalog.Store) {
	rs, ok := s.(interface {
		SaveRun(ctx context.Context, r rat.Run) error
		Runs(ctx context.Context, f rat.RunFilter) ([]rat.Run, error)
		PruneRuns(ctx context.Context, before time.Time) (int64, error)
	})
	if !ok {
		t.Fatal("the store keeps no runs: every catalog store must (PruneRuns)")
	}
	ctx := t.Context()
	day := func(d int) time.Time { return time.Date(2026, 1, d, 12, 0, 0, 0, time.UTC) }
	for _, r := range []rat.Run{
		{ID: "20260101-120000-aaaa", Target: "main", Status: "success", Started: day(1), Finished: day(1)},
		{ID: "20260102-120000-aaaa", Target: "main", Status: "success", Started: day(2), Finished: day(2)},
		{ID: "20260103-120000-aaaa", Target: "main", Status: "failed", Started: day(3), Finished: day(3)},
		{ID: "20260103-120000-bbbb", Target: "dev", Status: "success", Started: day(3), Finished: day(3)},
		{ID: "20260104-120000-aaaa", Target: "main", Status: "running", Started: day(4)},
		{ID: "20260120-120000-aaaa", Target: "main", Status: "failed", Started: day(20), Finished: day(20)},
	} {
		r.Trigger, r.Detail = "manual", rat.RunDetail{}
		if err := rs.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	n, err := rs.PruneRuns(ctx, day(10))
	if err != nil || n != 2 {
		t.Fatalf("PruneRuns = %d, %v; want 2 deleted", n, err)
	}
	runs, err := rs.Runs(ctx, rat.RunFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	want := []string{"20260120-120000-aaaa", "20260104-120000-aaaa", "20260103-120000-bbbb", "20260102-120000-aaaa"}
	if !slices.Equal(ids, want) {
		t.Fatalf("runs left %v, want %v", ids, want)
	}
}

// testRunLogs: a flush of more log lines than one statement takes keeps
// every line once, in order; lines written again (a retried flush) are not
// doubled.
func testRunLogs(t *testing.T, s catalog.Store) {
	ls, ok := s.(interface {
		AppendRunLogs(ctx context.Context, runID string, lines []rat.RunLogLine) error
		RunLogs(ctx context.Context, runID string, after int64, limit int) ([]rat.RunLogLine, error)
	})
	if !ok {
		t.Fatal("the store keeps no run logs: every catalog store must")
	}
	ctx := t.Context()
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var lines []rat.RunLogLine
	for i := range 1201 {
		lines = append(lines, rat.RunLogLine{Seq: int64(i + 1), At: at.Add(time.Duration(i) * time.Microsecond), Level: "info",
			Pipeline: fmt.Sprintf("bronze.n%04d", i), Message: fmt.Sprintf("line %d", i)})
	}
	if err := ls.AppendRunLogs(ctx, "r1", lines); err != nil {
		t.Fatal(err)
	}
	if err := ls.AppendRunLogs(ctx, "r1", lines[1000:]); err != nil {
		t.Fatal(err)
	}
	got, err := ls.RunLogs(ctx, "r1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(lines) {
		t.Fatalf("%d lines read back, want %d", len(got), len(lines))
	}
	for i, l := range got {
		if l.Seq != lines[i].Seq || !l.At.Equal(lines[i].At) || l.Pipeline != lines[i].Pipeline || l.Message != lines[i].Message || l.Level != "info" {
			t.Fatalf("line %d read back as %+v, want %+v", i, l, lines[i])
		}
	}
}

// testCommitObserver: a store that reports commits (for rat serve's
// metrics) reports each one, with its result.
func testCommitObserver(t *testing.T, s catalog.Store) {
	o, ok := s.(interface {
		ObserveCommits(func(sqlstore.CommitStats))
	})
	if !ok {
		t.Fatal("the store reports no commits: every catalog store must (ObserveCommits)")
	}
	var seen []sqlstore.CommitStats
	o.ObserveCommits(func(c sqlstore.CommitStats) { seen = append(seen, c) })
	mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	_, err := s.Commit(t.Context(), req("main", change("bronze.a", "", "a2")))
	wantCode(t, err, rat.ECONFLICT, "reload and retry")
	o.ObserveCommits(nil)
	mustCommit(t, s, req("main", change("bronze.b", "", "b1")))
	if len(seen) != 2 || seen[0].Err != nil || seen[0].Attempts < 1 || seen[0].Duration <= 0 || !rat.IsCode(seen[1].Err, rat.ECONFLICT) {
		t.Fatalf("observed commits: %+v", seen)
	}
}

func testStaleTableConflicts(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	c1 := mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	_, err := s.Commit(ctx, req("main", change("bronze.a", "", "a2")))
	wantCode(t, err, rat.ECONFLICT, "table bronze.a changed since your base (expected absent, now a1); reload and retry")
	_, err = s.Commit(ctx, req("main", change("bronze.a", "a0", "a2")))
	wantCode(t, err, rat.ECONFLICT, "(expected a0, now a1)")
	if head(t, s, "main") != c1.ID {
		t.Fatal("a conflicting commit moved the head")
	}
	wantTables(t, s, "main", "bronze.a=a1@"+c1.ID)
}

func testOtherTableDoesNotBlock(t *testing.T, s catalog.Store) {
	// A writer reads table A, another writer commits table B meanwhile: the
	// first writer's commit still lands, on top of the second's.
	ctx := t.Context()
	c1 := mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	base, err := s.Table(ctx, "main", tid("bronze.a"))
	if err != nil {
		t.Fatal(err)
	}
	other := mustCommit(t, s, req("main", change("bronze.b", "", "b1")))
	c2 := mustCommit(t, s, req("main", change("bronze.a", base.Metadata, "a2")))
	if !slices.Equal(c2.Parents, []string{other.ID}) {
		t.Fatalf("commit parents = %v, want the concurrent commit %s", c2.Parents, other.ID)
	}
	wantTables(t, s, "main", "bronze.a=a2@"+c2.ID, "bronze.b=b1@"+other.ID)
	if got := len(mustLog(t, s, c2.ID, 0)); got != 4 {
		t.Errorf("log has %d commits, want 4", got)
	}
	_ = c1
}

func testExpectedHead(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	root := head(t, s, "main")
	c1 := mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	r := req("main", change("bronze.b", "", "b1"))
	r.ExpectedHead = root
	_, err := s.Commit(ctx, r)
	wantCode(t, err, rat.ECONFLICT, "reload and retry")
	if head(t, s, "main") != c1.ID {
		t.Fatal("a failed compare-and-swap moved the head")
	}
	r.ExpectedHead = c1.ID
	c2 := mustCommit(t, s, r)
	if !slices.Equal(c2.Parents, []string{c1.ID}) {
		t.Errorf("parents = %v", c2.Parents)
	}
}

func testMultiTableAtomicity(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	c1 := mustCommit(t, s, req("main", change("bronze.a", "", "a1"), change("bronze.b", "", "b1")))
	c2 := mustCommit(t, s, req("main", change("bronze.b", "b1", "b2")))
	// a is fine, b moved: nothing at all may be written.
	_, err := s.Commit(ctx, req("main", change("bronze.a", "a1", "a2"), change("bronze.b", "b1", "b3"), change("bronze.c", "", "c1")))
	wantCode(t, err, rat.ECONFLICT, "table bronze.b changed since your base (expected b1, now b2)")
	if strings.Contains(err.Error(), "bronze.a") || strings.Contains(err.Error(), "bronze.c") {
		t.Errorf("conflict names tables that did not move: %v", err)
	}
	// Two tables moved: both are named.
	_, err = s.Commit(ctx, req("main", change("bronze.a", "", "a2"), change("bronze.b", "b1", "b3")))
	wantCode(t, err, rat.ECONFLICT, "bronze.a")
	wantCode(t, err, rat.ECONFLICT, "bronze.b")
	if head(t, s, "main") != c2.ID {
		t.Fatal("a conflicting commit moved the head")
	}
	wantTables(t, s, "main", "bronze.a=a1@"+c1.ID, "bronze.b=b2@"+c2.ID)
	if n := len(mustLog(t, s, c2.ID, 0)); n != 3 {
		t.Errorf("log has %d commits, want 3", n)
	}
}

func testDrop(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	mustCommit(t, s, req("main", change("bronze.a", "", "a1"), change("bronze.b", "", "b1")))
	d := mustCommit(t, s, req("main", change("bronze.a", "a1", "")))
	if !slices.Equal(d.Changes, []rat.TableChange{{Table: tid("bronze.a")}}) {
		t.Errorf("drop changes = %+v", d.Changes)
	}
	if got := mustGetCommit(t, s, d.ID); !equalCommit(got, d) {
		t.Errorf("GetCommit(drop) = %+v, want %+v", got, d)
	}
	_, err := s.Table(ctx, "main", tid("bronze.a"))
	wantCode(t, err, rat.ENOTFOUND, "bronze.a")
	// Recreate after drop: the table must be absent now.
	c := mustCommit(t, s, req("main", change("bronze.a", "", "a9")))
	wantTables(t, s, "main", "bronze.a=a9@"+c.ID, "bronze.b=b1@"+d.Parents[0])
}

func testTablesAtHistory(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	root := head(t, s, "main")
	c1 := mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	c2 := mustCommit(t, s, req("main", change("bronze.b", "", "b1")))
	c3 := mustCommit(t, s, req("main", change("bronze.a", "a1", "a2")))
	c4 := mustCommit(t, s, req("main", change("bronze.b", "b1", "")))
	for _, tc := range []struct {
		at   string
		want []string
	}{
		{root, nil},
		{c1.ID, []string{"bronze.a=a1@" + c1.ID}},
		{c2.ID, []string{"bronze.a=a1@" + c1.ID, "bronze.b=b1@" + c2.ID}},
		{c3.ID, []string{"bronze.a=a2@" + c3.ID, "bronze.b=b1@" + c2.ID}},
		{c4.ID, []string{"bronze.a=a2@" + c3.ID}},
	} {
		got, err := s.TablesAt(ctx, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(entries(got), tc.want) {
			t.Errorf("TablesAt(%s) = %v, want %v", rat.ShortID(tc.at), entries(got), tc.want)
		}
	}
	_, err := s.TablesAt(ctx, strings.Repeat("ef", 16))
	wantCode(t, err, rat.ENOTFOUND, "not found")
}

func testBranchIsolation(t *testing.T, s catalog.Store) {
	c1 := mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	mustCreate(t, s, rat.Ref{Name: "dev", Kind: rat.Branch, Head: c1.ID})
	wantTables(t, s, "dev", "bronze.a=a1@"+c1.ID)
	d1 := mustCommit(t, s, req("dev", change("bronze.a", "a1", "a-dev"), change("silver.x", "", "x-dev")))
	m1 := mustCommit(t, s, req("main", change("bronze.b", "", "b1")))
	wantTables(t, s, "main", "bronze.a=a1@"+c1.ID, "bronze.b=b1@"+m1.ID)
	wantTables(t, s, "dev", "bronze.a=a-dev@"+d1.ID, "silver.x=x-dev@"+d1.ID)
	if !slices.Equal(m1.Parents, []string{c1.ID}) || !slices.Equal(d1.Parents, []string{c1.ID}) {
		t.Errorf("parents main=%v dev=%v, want both %s", m1.Parents, d1.Parents, c1.ID)
	}
	// Deleting the branch leaves main and the history alone.
	if err := s.DeleteRef(t.Context(), "dev"); err != nil {
		t.Fatal(err)
	}
	wantTables(t, s, "main", "bronze.a=a1@"+c1.ID, "bronze.b=b1@"+m1.ID)
	if got := mustGetCommit(t, s, d1.ID); got.ID != d1.ID {
		t.Error("commit of a deleted branch is gone")
	}
}

func testTags(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	c1 := mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	c2 := mustCommit(t, s, req("main", change("bronze.b", "", "b1")))
	mustCreate(t, s, rat.Ref{Name: "v2", Kind: rat.Tag, Head: c2.ID}) // at a branch head: copied
	mustCreate(t, s, rat.Ref{Name: "v1", Kind: rat.Tag, Head: c1.ID}) // at an old commit: rebuilt
	mustCommit(t, s, req("main", change("bronze.a", "a1", "a2")))
	wantTables(t, s, "v2", "bronze.a=a1@"+c1.ID, "bronze.b=b1@"+c2.ID)
	wantTables(t, s, "v1", "bronze.a=a1@"+c1.ID)
	_, err := s.Commit(ctx, req("v1", change("bronze.c", "", "c1")))
	wantCode(t, err, rat.EINVALID, "tags cannot be committed to")
	wantCode(t, s.MoveRef(ctx, "v1", c1.ID, c2.ID), rat.EINVALID, "tags cannot be moved")
	if r, _ := s.Ref(ctx, "v1"); r.Head != c1.ID {
		t.Errorf("tag moved to %s", r.Head)
	}
	// A branch created from a tag sees the tag's tables.
	mustCreate(t, s, rat.Ref{Name: "fix", Kind: rat.Branch, Head: c1.ID})
	wantTables(t, s, "fix", "bronze.a=a1@"+c1.ID)
}

func testMoveRef(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	c1 := mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	c2 := mustCommit(t, s, req("main", change("bronze.b", "", "b1")))
	mustCreate(t, s, rat.Ref{Name: "dev", Kind: rat.Branch, Head: c1.ID})
	wantTables(t, s, "dev", "bronze.a=a1@"+c1.ID)

	wantCode(t, s.MoveRef(ctx, "dev", c2.ID, c2.ID), rat.ECONFLICT, "reload and retry")
	wantCode(t, s.MoveRef(ctx, "nope", c1.ID, c2.ID), rat.ENOTFOUND, `"nope"`)
	wantCode(t, s.MoveRef(ctx, "dev", c1.ID, strings.Repeat("01", 16)), rat.ENOTFOUND, "not found")
	if err := s.MoveRef(ctx, "dev", c1.ID, c2.ID); err != nil {
		t.Fatal(err)
	}
	if head(t, s, "dev") != c2.ID {
		t.Fatal("MoveRef did not move the head")
	}
	wantTables(t, s, "dev", "bronze.a=a1@"+c1.ID, "bronze.b=b1@"+c2.ID)
	// The old head is no longer the expected one.
	wantCode(t, s.MoveRef(ctx, "dev", c1.ID, c1.ID), rat.ECONFLICT, "")
	// Move back (a reset to an older commit): tables rebuilt from history.
	if err := s.MoveRef(ctx, "dev", c2.ID, c1.ID); err != nil {
		t.Fatal(err)
	}
	wantTables(t, s, "dev", "bronze.a=a1@"+c1.ID)
	d := mustCommit(t, s, req("dev", change("bronze.a", "a1", "a-dev")))
	if !slices.Equal(d.Parents, []string{c1.ID}) {
		t.Errorf("commit after move has parents %v, want %s", d.Parents, c1.ID)
	}
}

func testLogAndMerge(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	root := head(t, s, "main")
	c1 := mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	mustCreate(t, s, rat.Ref{Name: "dev", Kind: rat.Branch, Head: c1.ID})
	// dev changes two tables; the merge brings only one of them to main.
	d1 := mustCommit(t, s, req("dev", change("silver.x", "", "x1"), change("silver.y", "", "y1")))
	c2 := mustCommit(t, s, req("main", change("bronze.b", "", "b1")))
	merge := req("main", change("silver.x", "", "x1"))
	merge.ExpectedHead = c2.ID
	merge.MergeParent = d1.ID
	m := mustCommit(t, s, merge)
	if !slices.Equal(m.Parents, []string{c2.ID, d1.ID}) {
		t.Fatalf("merge parents = %v, want [%s %s]", m.Parents, c2.ID, d1.ID)
	}
	if got := mustGetCommit(t, s, m.ID); !equalCommit(got, m) {
		t.Errorf("GetCommit(merge) = %+v, want %+v", got, m)
	}

	log := mustLog(t, s, m.ID, 0)
	want := []string{m.ID, c2.ID, d1.ID, c1.ID, root}
	if !slices.Equal(ids(log), want) {
		t.Fatalf("log = %v, want %v (newest first, each commit once)", short(ids(log)), short(want))
	}
	if !equalCommit(log[0], m) || !equalCommit(log[2], d1) || len(log[4].Parents) != 0 {
		t.Errorf("log entries lack parents or changes: %+v", log)
	}
	if got := ids(mustLog(t, s, m.ID, 2)); !slices.Equal(got, want[:2]) {
		t.Errorf("log limit 2 = %v, want %v", short(got), short(want[:2]))
	}
	if got := ids(mustLog(t, s, d1.ID, 0)); !slices.Equal(got, []string{d1.ID, c1.ID, root}) {
		t.Errorf("log of dev = %v", short(got))
	}
	_, err := s.Log(ctx, strings.Repeat("9", 32), 0)
	wantCode(t, err, rat.ENOTFOUND, "not found")
	wantTables(t, s, "main", "bronze.a=a1@"+c1.ID, "bronze.b=b1@"+c2.ID, "silver.x=x1@"+m.ID)
	at, err := s.TablesAt(ctx, m.ID)
	if err != nil || !slices.Equal(entries(at), []string{"bronze.a=a1@" + c1.ID, "bronze.b=b1@" + c2.ID, "silver.x=x1@" + m.ID}) {
		t.Errorf("TablesAt(merge) = %v, %v; want the first-parent state plus the merge's own changes", entries(at), err)
	}
}

func testMergeBase(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	c1 := mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	mustCreate(t, s, rat.Ref{Name: "dev", Kind: rat.Branch, Head: c1.ID})
	d1 := mustCommit(t, s, req("dev", change("silver.x", "", "x1")))
	d2 := mustCommit(t, s, req("dev", change("silver.x", "x1", "x2")))
	c2 := mustCommit(t, s, req("main", change("bronze.a", "a1", "a2")))
	for _, tc := range []struct{ a, b, want string }{
		{c2.ID, d2.ID, c1.ID},
		{d2.ID, c2.ID, c1.ID},
		{c2.ID, c1.ID, c1.ID},
		{d1.ID, d2.ID, d1.ID},
		{d2.ID, d2.ID, d2.ID},
	} {
		if got := mergeBase(t, s, tc.a, tc.b); got != tc.want {
			t.Errorf("MergeBase(%s, %s) = %s, want %s", rat.ShortID(tc.a), rat.ShortID(tc.b), rat.ShortID(got), rat.ShortID(tc.want))
		}
	}
	// Merge dev into main, continue both: the base is now dev's merged head.
	merge := req("main", change("silver.x", "", "x2"))
	merge.MergeParent = d2.ID
	m := mustCommit(t, s, merge)
	d3 := mustCommit(t, s, req("dev", change("silver.x", "x2", "x3")))
	c3 := mustCommit(t, s, req("main", change("bronze.a", "a2", "a3")))
	if got := mergeBase(t, s, c3.ID, d3.ID); got != d2.ID {
		t.Errorf("MergeBase after merge = %s, want %s", rat.ShortID(got), rat.ShortID(d2.ID))
	}
	if got := mergeBase(t, s, d3.ID, m.ID); got != d2.ID {
		t.Errorf("MergeBase(dev, merge) = %s, want %s", rat.ShortID(got), rat.ShortID(d2.ID))
	}
	_, err := s.MergeBase(ctx, c3.ID, strings.Repeat("7", 32))
	wantCode(t, err, rat.ENOTFOUND, "not found")
}

func testGetCommitByPrefix(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	c := mustCommit(t, s, req("main", change("bronze.a", "", "a1")))
	for _, p := range []string{c.ID, c.ID[:6], c.ID[:12], strings.ToUpper(c.ID[:8])} {
		got, err := s.GetCommit(ctx, p)
		if err != nil || !equalCommit(got, c) {
			t.Errorf("GetCommit(%q) = %+v, %v; want %s", p, got, err, c.ID)
		}
	}
	_, err := s.GetCommit(ctx, c.ID[:5])
	wantCode(t, err, rat.EINVALID, "at least 6")
	_, err = s.GetCommit(ctx, "main")
	wantCode(t, err, rat.EINVALID, "hex")
	_, err = s.GetCommit(ctx, "")
	wantCode(t, err, rat.EINVALID, "")
	// A prefix of no commit: flip the first character.
	p := []byte(c.ID[:10])
	root := head(t, s, "main")
	for p[0] == c.ID[0] || p[0] == root[0] {
		p[0] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", p[0])+1)%16]
	}
	_, err = s.GetCommit(ctx, string(p))
	wantCode(t, err, rat.ENOTFOUND, "commit "+string(p)+" not found")
}
