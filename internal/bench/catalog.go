package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/postgres"
	"github.com/ratdata/rat/internal/sqlite"
	"github.com/ratdata/rat/internal/textout"
)

// CatalogOptions are the flags of rat bench catalog.
type CatalogOptions struct {
	Commits  int    // commits per run, split across the writers
	Writers  []int  // concurrent writer counts to run
	Postgres string // a Postgres URL to measure too ("": SQLite only)
}

// Catalog commits to fresh catalogs (SQLite, and Postgres in a scratch
// database) with concurrent writers, each on its own table and all on one,
// and checks from the log that no acknowledged commit was lost.
func Catalog(ctx context.Context, env Env, o CatalogOptions) error {
	type backend struct {
		name string
		open func(ctx context.Context) (catalog.Store, func(), error)
	}
	backends := []backend{{"sqlite", func(ctx context.Context) (catalog.Store, func(), error) {
		dir, err := os.MkdirTemp("", "rat-bench-catalog-")
		if err != nil {
			return nil, nil, err
		}
		s, err := sqlite.Open(ctx, filepath.Join(dir, "catalog.db"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return s, func() { s.Close(); os.RemoveAll(dir) }, nil
	}}}
	if o.Postgres != "" {
		backends = append(backends, backend{"postgres", func(ctx context.Context) (catalog.Store, func(), error) {
			return scratchPostgres(ctx, o.Postgres, "rat_bench_")
		}})
	}
	out := env.Out
	var rows [][]string
	failed := false
	for _, b := range backends {
		for _, shared := range []bool{false, true} {
			for _, w := range o.Writers {
				store, closeFn, err := b.open(ctx)
				if err != nil {
					return fmt.Errorf("%s: %w", b.name, err)
				}
				r, err := benchCommits(ctx, store, w, o.Commits, shared)
				closeFn()
				if err != nil {
					return fmt.Errorf("%s, %d writers: %w", b.name, w, err)
				}
				workload := "own table"
				if shared {
					workload = "one table"
				}
				verdict := "ok"
				if r.lost != 0 {
					verdict = fmt.Sprintf("LOST %d", r.lost)
					failed = true
				}
				rows = append(rows, []string{b.name, workload, fmt.Sprint(w), fmt.Sprint(r.commits),
					fmt.Sprintf("%.0f", float64(r.commits)/r.elapsed.Seconds()), fmt.Sprint(r.conflicts), fmt.Sprint(r.retries), verdict})
			}
		}
	}
	textout.Table(out, []string{"BACKEND", "WORKLOAD", "WRITERS", "COMMITS", "COMMITS/S", "CONFLICTS", "RETRIES", "CHECK"}, rows)
	if o.Postgres == "" {
		fmt.Fprintln(out, "(Postgres skipped: pass --postgres URL or set RAT_CATALOG_URL=postgres://...)")
	}
	if failed {
		return rat.Errorf(rat.EINTERNAL, "commits were lost")
	}
	return nil
}

type commitBench struct {
	commits   int64
	conflicts int64
	retries   int64
	lost      int64
	elapsed   time.Duration
}

// benchCommits runs writers concurrent committers and verifies the log.
func benchCommits(ctx context.Context, store catalog.Store, writers, total int, shared bool) (commitBench, error) {
	var r commitBench
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for w := 0; w < writers; w++ {
		n := total / writers
		wg.Add(1)
		go func(w, n int) {
			defer wg.Done()
			id := rat.TableID{Layer: "bench", Name: fmt.Sprintf("w%d", w)}
			if shared {
				id.Name = "shared"
			}
			for k := 0; k < n; k++ {
				loc := fmt.Sprintf("bench://%d/%d", w, k)
				for attempt := 0; ; attempt++ {
					expected := ""
					e, err := store.Table(ctx, rat.DefaultBranch, id)
					if err == nil {
						expected = e.Metadata
					} else if !rat.IsCode(err, rat.ENOTFOUND) {
						errs <- err
						return
					}
					_, err = store.Commit(ctx, catalog.CommitRequest{
						Branch: rat.DefaultBranch, Author: "bench", Message: "bench " + loc,
						Changes: []catalog.Change{{Table: id, Expected: expected, Metadata: loc}},
					})
					if rat.IsCode(err, rat.ECONFLICT) {
						atomic.AddInt64(&r.conflicts, 1)
						if attempt > 1000 {
							errs <- fmt.Errorf("writer %d: gave up after %d conflicts", w, attempt)
							return
						}
						atomic.AddInt64(&r.retries, 1)
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					atomic.AddInt64(&r.commits, 1)
					mu.Lock()
					acked[loc] = true
					mu.Unlock()
					break
				}
			}
		}(w, n)
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return r, err
	}
	// Verify: every acknowledged commit is in the log exactly once.
	ref, err := store.Ref(ctx, rat.DefaultBranch)
	if err != nil {
		return r, err
	}
	log, err := store.Log(ctx, ref.Head, 0)
	if err != nil {
		return r, err
	}
	seen := map[string]int{}
	for _, c := range log {
		for _, ch := range c.Changes {
			if strings.HasPrefix(ch.Metadata, "bench://") {
				seen[ch.Metadata]++
			}
		}
	}
	for loc := range acked {
		if seen[loc] != 1 {
			r.lost++
		}
	}
	if int64(len(seen)) != r.commits {
		r.lost += int64(len(seen)) - r.commits
	}
	return r, nil
}

// scratchPostgres opens a new scratch database next to the one url names;
// the function returned closes it and drops the database.
func scratchPostgres(ctx context.Context, url, prefix string) (*postgres.Store, func(), error) {
	scratch, drop, err := postgres.ScratchDatabase(ctx, url, prefix)
	if err != nil {
		return nil, nil, err
	}
	s, err := postgres.Open(ctx, scratch)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return s, func() { s.Close(); drop() }, nil
}
