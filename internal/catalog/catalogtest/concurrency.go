package catalogtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

const (
	writers          = 8
	commitsPerWriter = 50
)

// testConcurrentDistinctTables: 8 writers commit 50 times each to one
// branch, each to its own table. Every commit must land (the store retries
// transient lock errors itself) and none may be lost.
func testConcurrentDistinctTables(t *testing.T, s catalog.Store) {
	errs := commitDistinct(t.Context(), []catalog.Store{s}, writers, commitsPerWriter)
	for _, err := range errs {
		t.Error(err)
	}
	wantDistinctResult(t, s, writers, commitsPerWriter)
}

// commitDistinct runs n writers (spread over stores) committing k times each
// to table bronze.w<i>, and returns their errors.
func commitDistinct(ctx context.Context, stores []catalog.Store, n, k int) []error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for w := range n {
		wg.Go(func() {
			s := stores[w%len(stores)]
			table := fmt.Sprintf("bronze.w%d", w)
			prev := ""
			for i := range k {
				next := fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.Commit(ctx, req("main", change(table, prev, next))); err != nil {
					errs[w] = fmt.Errorf("writer %d commit %d: %w", w, i, err)
					return
				}
				prev = next
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

func wantDistinctResult(t *testing.T, s catalog.Store, n, k int) {
	t.Helper()
	log := mustLog(t, s, head(t, s, "main"), 0)
	if len(log) != n*k+1 {
		t.Fatalf("log has %d commits, want %d", len(log), n*k+1)
	}
	// Each writer's commits appear in its order, each on top of the previous
	// head (a linear first-parent chain).
	last := map[string]int{}
	for i := len(log) - 2; i >= 0; i-- {
		c := log[i]
		if len(c.Parents) != 1 || c.Parents[0] != log[i+1].ID || len(c.Changes) != 1 {
			t.Fatalf("commit %s: parents %v changes %v, want a linear chain of one-table commits", c.ShortID(), c.Parents, c.Changes)
		}
		var w, j int
		if _, err := fmt.Sscanf(c.Changes[0].Metadata, "w%d-%d", &w, &j); err != nil {
			t.Fatalf("unexpected metadata %q", c.Changes[0].Metadata)
		}
		key := c.Changes[0].Table.String()
		if prev, ok := last[key]; (ok && j != prev+1) || (!ok && j != 0) {
			t.Fatalf("table %s: change %d follows %d", key, j, prev)
		}
		last[key] = j
	}
	tables, err := s.Tables(t.Context(), "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != n {
		t.Fatalf("main has %d tables, want %d", len(tables), n)
	}
	for _, e := range tables {
		if want := fmt.Sprintf("w%s-%d", e.Table.Name[1:], k-1); e.Metadata != want {
			t.Errorf("table %s = %s, want %s (a lost update)", e.Table, e.Metadata, want)
		}
	}
}

// testConcurrentSameTable: 8 writers append to one table with
// read/commit/retry-on-conflict loops. Every successful commit must be based
// on its predecessor's metadata: an unbroken chain, no lost update.
func testConcurrentSameTable(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	const perWriter = 10
	type landed struct{ expected, metadata string }
	var mu sync.Mutex
	byID := map[string]landed{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	table := tid("silver.shared")
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < perWriter; {
				cur, err := s.Table(ctx, "main", table)
				if err != nil && !rat.IsCode(err, rat.ENOTFOUND) {
					errs <- err
					return
				}
				next := fmt.Sprintf("s%d-%d", w, i)
				c, err := s.Commit(ctx, req("main", catalog.Change{Table: table, Expected: cur.Metadata, Metadata: next}))
				if rat.IsCode(err, rat.ECONFLICT) {
					continue // someone else won: reload and retry
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				mu.Lock()
				byID[c.ID] = landed{expected: cur.Metadata, metadata: next}
				mu.Unlock()
				i++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	log := mustLog(t, s, head(t, s, "main"), 0)
	if len(log) != len(byID)+1 || len(byID) != writers*perWriter {
		t.Fatalf("log has %d commits; %d commits succeeded, want %d", len(log), len(byID), writers*perWriter)
	}
	prev := ""
	for i := len(log) - 2; i >= 0; i-- {
		l, ok := byID[log[i].ID]
		if !ok {
			t.Fatalf("commit %s in the log was not reported as successful", log[i].ShortID())
		}
		if l.expected != prev {
			t.Fatalf("commit %s was based on %q but the table was %q: a lost update", log[i].ShortID(), l.expected, prev)
		}
		prev = l.metadata
	}
	if e, err := s.Table(ctx, "main", table); err != nil || e.Metadata != prev {
		t.Fatalf("final table = %+v, %v; want %s", e, err, prev)
	}
}

// RunShared runs the behaviour that needs several Stores on one database
// (the same file or server opened by several processes). newDatabase returns
// an opener for a new, never opened database; each call of the opener opens
// a new Store on that database, and the test closes it.
func RunShared(t *testing.T, newDatabase func(t *testing.T) func() (catalog.Store, error)) {
	t.Run("ReopenKeepsOneRoot", func(t *testing.T) {
		t.Parallel()
		open := newDatabase(t)
		s1 := mustOpen(t, open)
		root := head(t, s1, "main")
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		s2 := mustOpen(t, open)
		if got := head(t, s2, "main"); got != root {
			t.Fatalf("main after reopen = %s, want %s", got, root)
		}
		if log := mustLog(t, s2, root, 0); len(log) != 1 {
			t.Fatalf("reopen added commits: %d", len(log))
		}
	})
	t.Run("ConcurrentFirstOpens", func(t *testing.T) {
		t.Parallel()
		open := newDatabase(t)
		const n = 4
		stores := make([]catalog.Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = open() })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
			t.Cleanup(func() { stores[i].Close() })
		}
		root := head(t, stores[0], "main")
		for _, s := range stores[1:] {
			if got := head(t, s, "main"); got != root {
				t.Fatalf("stores disagree on main: %s and %s", root, got)
			}
		}
		if log := mustLog(t, stores[0], root, 0); len(log) != 1 {
			t.Fatalf("concurrent first opens made %d root commits", len(log))
		}
	})
	t.Run("TwoStoresCommitConcurrently", func(t *testing.T) {
		t.Parallel()
		open := newDatabase(t)
		a, b := mustOpen(t, open), mustOpen(t, open)
		for _, err := range commitDistinct(t.Context(), []catalog.Store{a, b}, writers, 25) {
			t.Error(err)
		}
		wantDistinctResult(t, a, writers, 25)
		wantDistinctResult(t, b, writers, 25)
	})
}

func mustOpen(t *testing.T, open func() (catalog.Store, error)) catalog.Store {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
