package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/postgres"
	"github.com/ratdata/rat/internal/server"
	"github.com/ratdata/rat/internal/sqlite"
)

// app holds the live objects a command works with. open.go is the only
// place that builds them from configuration.
type app struct {
	cfg     *config.Config
	store   catalogDB
	objects objstore.Store
	cache   *objstore.Cache
	db      *duckdb.DB
	lake    *lake.Lake

	// onScheduleFire, when set, learns how late each schedule tick was
	// enqueued (rat serve's rat_scheduler_lag_seconds).
	onScheduleFire func(lag time.Duration)
	// ws loads the workspace for long-running processes, sched is rat
	// serve's scheduler; both built on first use.
	orchMu sync.Mutex
	ws     *orchestrator.Workspaces
	sched  *orchestrator.Scheduler
}

// catalogDB is everything rat's commands, rat serve and rat worker keep in
// the catalog database: refs, commits and tables (catalog.Store), run
// records with their owners' leases and logs, pipeline locks, schedule
// ticks, trigger states and keys, sessions and webhook deliveries. Both
// stores implement all of it, checked at compile time below: no command
// asks at run time whether the store can do something.
type catalogDB interface {
	server.Store
	pipeline.RunStore
	orchestrator.RunStore
	orchestrator.SchedulerStore
	triggerKeyStore
	orchestrator.LogStore
	PruneRuns(ctx context.Context, before time.Time) (int64, error)
	ObserveCommits(func(sqlstore.CommitStats))
}

var (
	_ catalogDB = (*sqlite.Store)(nil)
	_ catalogDB = (*postgres.Store)(nil)
)

// loadConfig reads the effective configuration for a command.
func (g *globals) loadConfig(flags map[string]string) (*config.Config, error) {
	if flags == nil {
		flags = map[string]string{}
	}
	if g.profile != "" {
		flags["profile"] = g.profile
	}
	return config.Load(config.Options{Dir: g.dir, Flags: flags})
}

// open builds the app for a command. flags are per-command overrides
// (branch, warehouse).
func (g *globals) open(ctx context.Context, flags map[string]string) (*app, error) {
	cfg, err := g.loadConfig(flags)
	if err != nil {
		return nil, err
	}
	return openApp(ctx, cfg)
}

// openIn is open as if rat ran in dir (-C dir).
func (g *globals) openIn(ctx context.Context, dir string, flags map[string]string) (*app, error) {
	g2 := *g
	g2.dir = dir
	return g2.open(ctx, flags)
}

func openApp(ctx context.Context, cfg *config.Config) (_ *app, err error) {
	a := &app{cfg: cfg}
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
			TempDir:       filepath.Join(cfg.StateDir, "tmp", "duckdb"),
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
			a.db = (<-duck).db // an earlier step failed: close DuckDB too
		}
		if err != nil {
			a.Close()
		}
	}()
	if a.store, err = openCatalog(ctx, cfg); err != nil {
		return nil, err
	}
	if a.objects, err = openWarehouse(ctx, cfg); err != nil {
		return nil, err
	}
	if a.cache, err = objstore.NewCache(a.objects, filepath.Join(cfg.StateDir, "cache"), int64(cfg.CacheMB)<<20); err != nil {
		return nil, err
	}
	d := <-duck
	waited = true
	if d.err != nil {
		return nil, d.err
	}
	a.db = d.db
	a.lake = lake.New(lake.Config{
		Store: a.store, Objects: a.objects, Cache: a.cache, DB: a.db,
		TmpDir:       filepath.Join(cfg.StateDir, "tmp"),
		RowGroupSize: cfg.ChunkSizeRows,
		Author:       author(),
		FileListDir:  filepath.Join(cfg.StateDir, "cache", "snapshots"),
	})
	return a, nil
}

// openCatalog opens the catalog database: Postgres for a postgres:// URL,
// else a SQLite file.
func openCatalog(ctx context.Context, cfg *config.Config) (catalogDB, error) {
	url := cfg.CatalogURL
	if cfg.IsPostgres() {
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

// openWarehouse opens the object store the warehouse setting names.
func openWarehouse(ctx context.Context, cfg *config.Config) (objstore.Store, error) {
	if !cfg.IsS3() {
		return objstore.NewLocal(cfg.Warehouse)
	}
	bucket, prefix, err := objstore.ParseS3URL(cfg.Warehouse)
	if err != nil {
		return nil, err
	}
	s3, err := objstore.NewS3(ctx, objstore.S3Config{
		Endpoint: cfg.S3.Endpoint, Region: cfg.S3.Region,
		AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey.Reveal(),
		Bucket: bucket, Prefix: prefix, PathStyle: cfg.S3.PathStyle,
	})
	if err != nil {
		return nil, err
	}
	if err := s3.EnsureBucket(ctx); err != nil {
		return nil, err
	}
	return s3, nil
}

// Close releases everything the app opened.
func (a *app) Close() error {
	var errs []error
	if a.db != nil {
		errs = append(errs, a.db.Close())
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
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

// requireBranch checks that a ref exists and is a branch.
func (a *app) requireBranch(ctx context.Context, name string) error {
	ref, err := a.store.Ref(ctx, name)
	if err != nil {
		return err
	}
	if ref.Kind != rat.Branch {
		return rat.Errorf(rat.EINVALID, "%s is a tag: tags are read-only; create a branch from it with 'rat branch create NAME --from %s'", name, name)
	}
	return nil
}
