// Package app is rat's composition root: the one place that turns the
// effective configuration into live objects. Open builds the catalog store
// (SQLite or Postgres), the warehouse's object store (a local directory or
// S3) with its read cache, DuckDB, and the lake over them; the landing area
// and the pipeline runner are built from the same objects on demand. Every
// command, rat serve and rat worker get their objects here; the packages
// below take them as plain values, never the configuration.
//
// It also joins the run queue (internal/orchestrator) to the pipeline
// runner (runs.go): rat run, rat serve and rat worker get their queue,
// scheduler and run cancellation here.
//
// Only internal/cli and internal/bench import this package
// (internal/importrules_test.go).
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/postgres"
	"github.com/ratdata/rat/internal/server"
	"github.com/ratdata/rat/internal/sqlite"
	"github.com/ratdata/rat/internal/workspace"
)

// App holds the live objects of one process, built from its configuration.
type App struct {
	Config  *config.Config
	Store   Catalog         // the catalog database
	Objects objstore.Store  // the warehouse
	Cache   *objstore.Cache // the read cache of warehouse files
	DB      *duckdb.DB
	Lake    *lake.Lake

	sharedDB bool // DB belongs to another App (OpenTarget)

	// OnScheduleFire, when set, learns how late each schedule tick was
	// enqueued (rat serve's rat_scheduler_lag_seconds).
	OnScheduleFire func(lag time.Duration)

	mu      sync.Mutex
	landing *ingest.Landing
	meter   *metrics.Meter
	closers []func() error

	// ws loads the workspace for long-running processes, sched is rat
	// serve's scheduler; both built on first use.
	orchMu sync.Mutex
	ws     *orchestrator.Workspaces
	sched  *orchestrator.Scheduler
	// maintenance are the scheduled maintenance tasks (maintain.go).
	maintenance []orchestrator.MaintenanceSchedule
}

// Catalog is everything rat's commands, rat serve and rat worker keep in
// the catalog database: refs, commits and tables (catalog.Store), run
// records with their owners' leases and logs, pipeline locks, schedule
// ticks, trigger states and keys, sessions and webhook deliveries. Each
// part is declared by the package that uses it; both stores implement all
// of it, checked at compile time below, so nothing asks at run time
// whether the store can do something.
type Catalog interface {
	server.Store
	pipeline.RunStore
	orchestrator.RunStore
	orchestrator.SchedulerStore
	orchestrator.LogStore
	TriggerKeys(ctx context.Context) ([]string, error)
	RenameTriggerKeys(ctx context.Context, renames map[string]string) error
	PruneRuns(ctx context.Context, before time.Time) (int64, error)
	ObserveCommits(func(sqlstore.CommitStats))
	// SQLStore is the shared SQL store under either database, for copying
	// a catalog (sqlstore.Copy, rat migrate).
	SQLStore() *sqlstore.Store
}

var (
	_ Catalog = (*sqlite.Store)(nil)
	_ Catalog = (*postgres.Store)(nil)
)

// Open builds the live objects the configuration describes. Close releases
// them.
func Open(ctx context.Context, cfg *config.Config) (_ *App, err error) {
	a := &App{Config: cfg}
	if a.maintenance, err = maintenanceSchedules(cfg); err != nil {
		return nil, err
	}
	// DuckDB starts (tens of milliseconds of its own) while the catalog
	// and the warehouse open.
	type started struct {
		db  *duckdb.DB
		err error
	}
	duck := make(chan started, 1)
	go func() {
		db, err := duckdb.Open(duckdb.Options{
			MemoryLimitMB: cfg.DuckDBMemoryMB,
			Threads:       cfg.DuckDBThreads,
			TempDir:       spillDir(cfg.StateDir),
		})
		if err == nil {
			// Its first connection, with rat's settings, kept for the
			// command's first query.
			if err = db.SQL().PingContext(ctx); err != nil {
				db.Close()
				db = nil
			}
		}
		duck <- started{db, err}
	}()
	waited := false
	defer func() {
		if !waited {
			a.DB = (<-duck).db // an earlier step failed: close DuckDB too
		}
		if err != nil {
			a.Close()
		}
	}()
	if a.Store, err = OpenCatalog(ctx, cfg.CatalogURL); err != nil {
		return nil, err
	}
	if a.Objects, err = openWarehouse(ctx, cfg, true); err != nil {
		return nil, err
	}
	if a.Cache, err = objstore.NewCache(a.Objects, cacheDir(cfg.StateDir), int64(cfg.CacheMB)<<20); err != nil {
		return nil, err
	}
	d := <-duck
	waited = true
	if d.err != nil {
		return nil, d.err
	}
	a.DB = d.db
	a.Lake = a.NewLake(filepath.Join(cfg.StateDir, "cache", "snapshots"))
	return a, nil
}

// NewLake returns a lake over the app's objects with caches of its own:
// fileListDir keeps snapshots' file lists across processes ("" keeps them
// in memory only). Open makes the app's Lake so; a benchmark makes fresh
// ones to measure what a new process pays.
func (a *App) NewLake(fileListDir string) *lake.Lake {
	return lake.New(lake.Config{
		Store: a.Store, Objects: a.Objects, Cache: a.Cache, DB: a.DB,
		TmpDir:       a.TmpDir(),
		RowGroupSize: a.Config.ChunkSizeRows,
		Author:       author(),
		FileListDir:  fileListDir,
		// Orphan cleanup deletes unreferenced files older than its grace
		// period: a write must commit well within it.
		MaxWriteAge: a.Config.OrphansOlderThan / 2,
	})
}

// OpenCatalog opens the catalog database url names: Postgres for a
// postgres:// URL, else a SQLite file.
func OpenCatalog(ctx context.Context, url string) (Catalog, error) {
	if config.IsPostgresURL(url) {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("open catalog %s: %w", config.RedactURL(url), err)
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", url, err)
	}
	return s, nil
}

// openWarehouse opens the object store the warehouse setting names. A
// missing bucket is created when create is set, else an error.
func openWarehouse(ctx context.Context, cfg *config.Config, create bool) (objstore.Store, error) {
	if !cfg.IsS3() {
		return objstore.NewLocal(cfg.Warehouse)
	}
	s3, err := openS3(ctx, cfg, "")
	if err != nil {
		return nil, err
	}
	check := s3.CheckBucket
	if create {
		check = s3.EnsureBucket
	}
	if err := check(ctx); err != nil {
		return nil, err
	}
	return s3, nil
}

// openS3 opens the S3 store of the warehouse's bucket, at the warehouse's
// prefix joined with sub.
func openS3(ctx context.Context, cfg *config.Config, sub string) (*objstore.S3, error) {
	bucket, prefix, err := objstore.ParseS3URL(cfg.Warehouse)
	if err != nil {
		return nil, err
	}
	if sub != "" {
		prefix = path.Join(prefix, sub) + "/"
	}
	return newS3(ctx, cfg, bucket, prefix)
}

// newS3 opens bucket (at prefix) with the workspace's S3 settings.
func newS3(ctx context.Context, cfg *config.Config, bucket, prefix string) (*objstore.S3, error) {
	return objstore.NewS3(ctx, objstore.S3Config{
		Endpoint: cfg.S3.Endpoint, Region: cfg.S3.Region,
		AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey.Reveal(),
		Bucket: bucket, Prefix: prefix, PathStyle: cfg.S3.PathStyle,
	})
}

// OpenBucket opens an existing bucket, any bucket, with the workspace's S3
// settings (endpoint, region, keys and path style, as the warehouse uses
// them): where rat query --export writes. It never creates the bucket: a
// missing one is a rat.ENOTFOUND error, checked before anything is written.
func OpenBucket(ctx context.Context, cfg *config.Config, bucket string) (*objstore.S3, error) {
	s3, err := newS3(ctx, cfg, bucket, "")
	if err != nil {
		return nil, err
	}
	if err := s3.CheckBucket(ctx); err != nil {
		return nil, err
	}
	return s3, nil
}

// spillDir is where DuckDB spills what exceeds its memory limit.
func spillDir(stateDir string) string { return filepath.Join(stateDir, "tmp", "duckdb") }

// cacheDir is the read cache's directory: DuckDB reads S3 files there.
func cacheDir(stateDir string) string { return filepath.Join(stateDir, "cache") }

func (a *App) spillDir() string { return spillDir(a.Config.StateDir) }
func (a *App) cacheDir() string { return cacheDir(a.Config.StateDir) }

// TmpDir is where files are staged on local disk (.rat/tmp): Parquet files
// being written, downloads for DuckDB, converted Excel sheets.
func (a *App) TmpDir() string { return filepath.Join(a.Config.StateDir, "tmp") }

// landingPrefix is where the landing area of a warehouse on S3 lies in it.
const landingPrefix = "_landing"

// workspaceDir is the workspace's directory (where landing/ lies).
func (a *App) workspaceDir() string {
	if a.Config.WorkspaceDir != "" {
		return a.Config.WorkspaceDir
	}
	return filepath.Dir(a.Config.StateDir)
}

// Landing returns the landing area: landing/ in the workspace for a local
// warehouse, <warehouse>/_landing/ for one on S3 (shared by every server).
func (a *App) Landing(ctx context.Context) (*ingest.Landing, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.landing != nil {
		return a.landing, nil
	}
	cfg := a.Config
	if !cfg.IsS3() {
		l, err := ingest.LocalLanding(a.workspaceDir(), a.TmpDir())
		if err != nil {
			return nil, err
		}
		a.landing = l
		return l, nil
	}
	s3, err := openS3(ctx, cfg, landingPrefix)
	if err != nil {
		return nil, err
	}
	a.landing = &ingest.Landing{Store: s3, TmpDir: a.TmpDir(), Where: s3.URL("")}
	return a.landing, nil
}

// Runner builds the pipeline runner for a workspace: run records in the
// catalog database, the landing area beside the warehouse. Runs it executes
// itself (Run) are this process's, with heartbeats; queued runs are the
// queue's.
func (a *App) Runner(ctx context.Context, ws *workspace.Workspace) (*pipeline.Runner, error) {
	landing, err := a.Landing(ctx)
	if err != nil {
		return nil, err
	}
	r := &pipeline.Runner{
		Lake: a.Lake, Workspace: ws, Parallel: a.Config.MaxParallelPipelines, Env: os.LookupEnv,
		Landing: landing, TmpDir: a.TmpDir(),
	}
	r.Runs = a.Store
	r.Owner, r.Lease = pipeline.NewOwner(), a.Config.RunLease
	return r, nil
}

// QueueDatabase says where the run queue lives: beside a SQLite catalog, in
// a file of its own (sqlitePath, .rat/queue.db); with a Postgres catalog,
// in the catalog's database (postgresURL). One of the two is set.
func (a *App) QueueDatabase() (sqlitePath, postgresURL string) {
	if a.Config.IsPostgres() {
		return "", a.Config.CatalogURL
	}
	return filepath.Join(a.Config.StateDir, "queue.db"), ""
}

// OnClose has fn called by Close, before the objects Open built are
// released: what a process opens on top of them (the run queue) ends with
// the app, last opened first closed.
func (a *App) OnClose(fn func() error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closers = append(a.closers, fn)
}

// RequireBranch checks that a ref exists and is a branch.
func (a *App) RequireBranch(ctx context.Context, name string) error {
	ref, err := a.Store.Ref(ctx, name)
	if err != nil {
		return err
	}
	if ref.Kind != rat.Branch {
		return rat.Errorf(rat.EINVALID, "%s is a tag: tags are read-only; create a branch from it with 'rat branch create NAME --from %s'", name, name)
	}
	return nil
}

// Close releases everything the app opened.
func (a *App) Close() error {
	a.mu.Lock()
	closers := a.closers
	a.closers = nil
	a.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i]())
	}
	if a.DB != nil && !a.sharedDB {
		errs = append(errs, a.DB.Close())
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	return errors.Join(errs...)
}

// author names the person committing: the OS user, as git would fall back to.
func author() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if h, err := os.Hostname(); err == nil {
		return "rat@" + h
	}
	return "rat"
}
