// Package migrate moves a workspace's catalog and warehouse to another
// place (rat migrate): from a laptop's SQLite file and directory to
// Postgres and S3, or back. Files are copied first, streamed, in parallel,
// each checked by size and SHA-256 and skipped when already there; the
// catalog is copied last (it is what makes the target live); then every
// ref and table is compared between source and target. The source is only
// read. A rerun after an interruption continues where the first stopped:
// a marker at the target warehouse names the source, and any other
// non-empty target is refused.
package migrate

import (
	"cmp"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/objstore"
)

// Side is the source or the target of a migration.
type Side struct {
	Warehouse objstore.Store
	// Lake reads this side's tables (its catalog over its warehouse), for
	// the verification; without both lakes Run copies but does not verify.
	Lake *lake.Lake
}

// Options configure a migration.
type Options struct {
	Source, Target Side
	// Files copies the warehouse (--to-warehouse); without it the target's
	// warehouse is the source's.
	Files bool
	// Catalog copies the catalog (--to-catalog); nil when the catalog stays.
	Catalog CatalogCopier
	// Workers is how many files are copied at once (default 8).
	Workers int
	// DryRun only plans: nothing is written anywhere.
	DryRun bool
	// CatchUp is a second pass after a finished one (--catch-up); without
	// a finished pass it is refused. Like any rerun it skips unread the
	// files the journal records unchanged on both sides since. (The
	// catalog's Copy catches up with or without it.)
	CatchUp bool
	// Ref, when set, limits the migration to one branch or tag (rat export
	// --ref): only the files its history needs (RefFiles) are copied and
	// only it is verified. The catalog is copied whole: the caller prunes
	// the copy to the ref.
	Ref string
	// Landing, when set, is a landing area copied with the files (see
	// Landing); only with Files.
	Landing *Landing
	// Expect, when set, is the SHA-256 each source file must have, by key
	// (rat import: the export's manifest): a file that differs fails the
	// copy and is not stored at the target.
	Expect map[string]string
	// Verify is how the tables are compared: VerifyFast ("" too) or
	// VerifyDeep.
	Verify string
	// Progress, when set, is called as the work advances (from several
	// goroutines, one call at a time).
	Progress func(Progress)
}

// CatalogCopier copies the catalog database: Plan counts what Copy would
// copy; Copy copies (resumably) and reports progress per table.
type CatalogCopier interface {
	Plan(ctx context.Context) (CatalogStats, error)
	// Check fails, writing nothing, when the target catalog cannot take
	// the copy (it holds data, and no copy of this source under way).
	Check(ctx context.Context) error
	Copy(ctx context.Context, progress func(table string, done, total int64)) (CatalogStats, error)
	// Verify compares every copied catalog table (row count and checksum)
	// and describes each difference.
	Verify(ctx context.Context) ([]string, error)
}

// CatalogStats counts the catalog's rows (commits, refs, runs, logs, …).
type CatalogStats struct {
	Commits int64            `json:"commits"`
	Rows    int64            `json:"rows"` // in every table of the catalog
	Tables  map[string]int64 `json:"tables,omitempty"`
	// Locks are pipeline locks held at the source: runs in flight, whose
	// work the copy would miss.
	Locks   int64   `json:"locks,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
}

// Progress is where a migration stands.
type Progress struct {
	Phase      string        `json:"phase"` // files, catalog or verify
	Done       int64         `json:"done"`  // files copied or checked, catalog rows, refs verified
	Total      int64         `json:"total"`
	Bytes      int64         `json:"bytes,omitempty"` // of the files phase
	TotalBytes int64         `json:"total_bytes,omitempty"`
	Elapsed    time.Duration `json:"-"`
	Finished   bool          `json:"finished,omitempty"` // the last call of a phase
}

// Report is the outcome of a migration (or of its plan).
type Report struct {
	DryRun bool       `json:"dry_run"`
	Files  *FileStats `json:"files,omitempty"`
	// Landing counts the landing files copied (Options.Landing) to
	// LandingTarget.
	Landing       *FileStats    `json:"landing,omitempty"`
	LandingTarget string        `json:"landing_target,omitempty"`
	Catalog       *CatalogStats `json:"catalog,omitempty"`
	Refs          []RefReport   `json:"refs,omitempty"`
	// CatalogProblems are the catalog tables that differ after the copy.
	CatalogProblems []string `json:"catalog_problems,omitempty"`
	Verified        bool     `json:"verified"`
	Verify          string   `json:"verify,omitempty"` // how: VerifyFast or VerifyDeep
	// Estimate is the expected duration of the copy (dry run only).
	EstimateSeconds float64 `json:"estimate_seconds,omitempty"`
	Seconds         float64 `json:"seconds"`
	// Sums are the journal's records of the target's files after the files
	// phase, by key (nil without one).
	Sums map[string]FileSum `json:"-"`
}

// Throughput assumptions of a dry run's estimate: bytes are read at the
// source and written at the target; each file costs a few round trips. Measured local → MinIO on loopback; a remote target is slower.
const (
	estimateBytesPerSecond = 60 << 20
	estimatePerFile        = 15 * time.Millisecond
	estimateRowsPerSecond  = 20000
)

// maxWorkers bounds the files copied at once (each holds a buffer, and
// S3 uploads a part of up to 16 MiB).
const maxWorkers = 64

// Run migrates (or with DryRun plans the migration of) opts.Source to
// opts.Target: files, then the catalog, then the verification. It returns
// the report even when verification fails (Verified false); an error means
// the migration did not finish and can be run again.
func Run(ctx context.Context, opts Options) (_ *Report, err error) {
	defer func() { err = targetFull(err, opts) }()
	start := time.Now()
	rep := &Report{DryRun: opts.DryRun}
	progress := serialize(opts.Progress)
	workers := opts.Workers
	if workers == 0 {
		workers = 8
	}
	if workers < 0 || workers > maxWorkers {
		return nil, rat.Errorf(rat.EINVALID, "--workers %d: want 1 to %d files copied at once", workers, maxWorkers)
	}
	if opts.Verify != "" && opts.Verify != VerifyFast && opts.Verify != VerifyDeep {
		return nil, rat.Errorf(rat.EINVALID, "--verify %q: want %s (Iceberg metadata and the files' checksums) or %s (also every row read on both sides)",
			opts.Verify, VerifyFast, VerifyDeep)
	}
	var estimate time.Duration
	if opts.Catalog != nil && !opts.DryRun {
		if err := opts.Catalog.Check(ctx); err != nil {
			return nil, err // before any file is written
		}
	}
	if opts.Files {
		src, dst := opts.Source.Warehouse, opts.Target.Warehouse
		m, resumed, err := checkTarget(ctx, src, dst)
		if err != nil {
			return nil, err
		}
		if opts.CatchUp && m.FilesPass.IsZero() {
			return nil, rat.Errorf(rat.EINVALID, "--catch-up: the target warehouse %s holds no finished pass of this migration: run rat migrate without --catch-up first", root(dst))
		}
		listed := time.Now()
		files, total, err := sourceFiles(ctx, src)
		if err == nil && opts.Ref != "" {
			files, total, err = refOnly(ctx, opts, files)
		}
		if err != nil {
			return nil, err
		}
		rep.Files = &FileStats{Files: int64(len(files)), Bytes: total, Resumed: resumed}
		var landing []objstore.Info
		if opts.Landing != nil {
			if landing, rep.Landing, err = planLanding(ctx, opts.Landing); err != nil {
				return nil, err
			}
			rep.LandingTarget = opts.Landing.Target.URL("")
			total += rep.Landing.Bytes
		}
		estimate += time.Duration(float64(total)/estimateBytesPerSecond*float64(time.Second)) +
			estimatePerFile*time.Duration(len(files)+len(landing))/time.Duration(workers)
		if !opts.DryRun {
			if !resumed {
				m = marker{Format: markerFormat, Source: root(src), Started: time.Now().UTC()}
				if err := writeMarker(ctx, dst, m); err != nil {
					return nil, err
				}
			}
			phase := time.Now()
			st := rep.Files
			report := func(finished bool) {
				progress(Progress{Phase: "files", Done: st.doneFiles(), Total: st.Files,
					Bytes: st.doneBytes(), TotalBytes: st.Bytes, Elapsed: time.Since(phase), Finished: finished})
			}
			rw, err := newRewriter(ctx, src, dst)
			if err != nil {
				return nil, err
			}
			j, err := loadJournal(ctx, dst)
			if err != nil {
				return nil, err
			}
			stop := tick(500*time.Millisecond, func() { report(false) })
			err = copyFiles(ctx, &copier{src: src, dst: dst, rw: rw, j: j, expect: opts.Expect, fresh: !resumed, copied: &st.CopiedBytes}, files, workers, st)
			if err == nil && opts.Landing != nil {
				err = copyLanding(ctx, opts.Landing, landing, workers, rep.Landing)
			}
			stop()
			rep.Sums = j.sums()
			st.Seconds = time.Since(phase).Seconds()
			if err != nil {
				return nil, err
			}
			m.FilesPass = listed.UTC()
			if err := writeMarker(ctx, dst, m); err != nil {
				return nil, err
			}
			report(true)
		}
	}
	if opts.Catalog != nil {
		plan, err := opts.Catalog.Plan(ctx)
		if err != nil {
			return nil, err
		}
		rep.Catalog = &plan
		estimate += time.Duration(float64(plan.Rows) / estimateRowsPerSecond * float64(time.Second))
		if !opts.DryRun {
			phase := time.Now()
			var mu sync.Mutex
			done := map[string]int64{}
			var sum int64
			st, err := opts.Catalog.Copy(ctx, func(table string, n, _ int64) {
				mu.Lock()
				sum += n - done[table]
				done[table] = n
				d := sum
				mu.Unlock()
				progress(Progress{Phase: "catalog", Done: d, Total: plan.Rows, Elapsed: time.Since(phase)})
			})
			if err != nil {
				return nil, err
			}
			st.Seconds = time.Since(phase).Seconds()
			rep.Catalog = &st
			progress(Progress{Phase: "catalog", Done: st.Rows, Total: st.Rows, Elapsed: time.Since(phase), Finished: true})
		}
	}
	if opts.DryRun {
		rep.EstimateSeconds = estimate.Seconds()
		rep.Seconds = time.Since(start).Seconds()
		return rep, nil
	}
	if opts.Source.Lake == nil || opts.Target.Lake == nil {
		rep.Seconds = time.Since(start).Seconds()
		return rep, nil // nothing to read tables with: not verified
	}
	vo := VerifyOptions{Deep: opts.Verify == VerifyDeep, Sums: rep.Sums}
	if opts.Ref != "" {
		vo.Only = []string{opts.Ref}
	}
	refs, ok, err := Verify(ctx, opts.Source.Lake, opts.Target.Lake, vo)
	if err != nil {
		return nil, err
	}
	rep.Refs, rep.Verified, rep.Verify = refs, ok, cmp.Or(opts.Verify, VerifyFast)
	if opts.Catalog != nil {
		if rep.CatalogProblems, err = opts.Catalog.Verify(ctx); err != nil {
			return nil, err
		}
		rep.Verified = rep.Verified && len(rep.CatalogProblems) == 0
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func (s *FileStats) doneFiles() int64 {
	return atomic.LoadInt64(&s.Copied) + atomic.LoadInt64(&s.Skipped)
}

func (s *FileStats) doneBytes() int64 {
	return atomic.LoadInt64(&s.CopiedBytes) + atomic.LoadInt64(&s.SkippedBytes)
}

// tick calls fn every d until stop is called; stop waits for a running call.
func tick(d time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fn()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// serialize makes fn safe to call from several goroutines (nil does nothing).
func serialize(fn func(Progress)) func(Progress) {
	if fn == nil {
		return func(Progress) {}
	}
	var mu sync.Mutex
	return func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		fn(p)
	}
}
