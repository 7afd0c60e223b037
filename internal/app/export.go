package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/migrate"
	"github.com/ratdata/rat/internal/objstore"
)

// noTargetEnv looks up no variable but the failpoint KillEnv: an export's
// target is a local directory, whatever RAT_MIGRATE_S3_* say.
func noTargetEnv(name string) (string, bool) {
	if name == KillEnv {
		return os.LookupEnv(name)
	}
	return "", false
}

// Export writes src's catalog and warehouse into dir (rat export): a
// migration to sqlite:dir/catalog.db and dir/warehouse, verified, then the
// manifest. opts tunes the copy (workers, progress, Ref); its sides are
// set here. With opts.Ref the export holds that branch or tag only: the
// files its history needs, and a catalog pruned to it after the copy was
// verified. On a failed verification it returns the report and an error.
func Export(ctx context.Context, src *App, dir, version string, opts migrate.Options) (*migrate.Report, *migrate.Manifest, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := migrate.CheckExportDir(dir); err != nil {
		return nil, nil, err
	}
	if opts.Ref != "" {
		if _, err := src.Store.Ref(ctx, opts.Ref); err != nil {
			return nil, nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, rat.Errorf(rat.EINVALID, "export to %s: %s", dir, err)
	}
	m, err := OpenMigration(ctx, src, Target{
		CatalogURL:   "sqlite:" + filepath.Join(dir, migrate.ExportCatalog),
		WarehouseURL: filepath.Join(dir, migrate.ExportWarehouse),
	}, false, noTargetEnv)
	if err != nil {
		return nil, nil, err
	}
	defer m.Close()
	opts.Source, opts.Target, opts.Files, opts.Catalog = m.Options.Source, m.Options.Target, m.Options.Files, m.Options.Catalog
	rep, err := migrate.Run(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	if !rep.Verified {
		return rep, nil, rat.Errorf(rat.ECONFLICT, "verification failed: the export differs from the source (see the report above); run rat export again")
	}
	var commits int64
	if opts.Ref != "" {
		if commits, err = pruneToRef(ctx, m.Target, opts.Ref); err != nil {
			return rep, nil, err
		}
	}
	// The export's warehouse lists its own root among its roots, so that
	// its rewritten metadata is recognised (and rewritten again by rat
	// import) after DIR is moved or copied elsewhere.
	if err := objstore.NewLocations(m.Target.Objects).Record(ctx); err != nil {
		return rep, nil, err
	}
	man, err := migrate.NewManifest(ctx, rep, m.Target.Objects)
	if err != nil {
		return rep, nil, err
	}
	man.RatVersion = version
	if opts.Ref != "" {
		man.Ref, man.Commits = opts.Ref, commits
	}
	man.Source.Catalog = config.RedactURL(src.Config.CatalogURL)
	man.Source.Warehouse = src.Objects.URL("")
	return rep, man, man.Write(dir)
}

// Import is a restore of an export (rat import): the export opened as the
// source of a migration into the configured (or given) target.
type Import struct {
	Manifest  *migrate.Manifest
	Source    *App
	Migration *Migration
	tmp       string
}

// OpenImport checks the export in dir (manifest, catalog, every file's
// size; the SHA-256 of each is checked as it is copied) and opens it as the source of a migration to t; empty
// fields of t are cfg's catalog and warehouse (the workspace's). S3
// settings and keys of the target are cfg's unless env's
// RAT_MIGRATE_S3_* say otherwise.
func OpenImport(ctx context.Context, cfg *config.Config, dir string, t Target, env func(string) (string, bool)) (_ *Import, err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	man, err := migrate.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	im := &Import{Manifest: man}
	defer func() {
		if err != nil {
			im.Close()
		}
	}()
	if im.tmp, err = os.MkdirTemp("", "rat-import-"); err != nil {
		return nil, err
	}
	src := *cfg
	src.CatalogURL = filepath.Join(dir, migrate.ExportCatalog)
	src.Warehouse = filepath.Join(dir, migrate.ExportWarehouse)
	src.StateDir = im.tmp
	wh, err := OpenWarehouse(ctx, &src)
	if err != nil {
		return nil, err
	}
	if err := man.Check(ctx, wh); err != nil {
		return nil, err
	}
	if im.Source, err = Open(ctx, &src); err != nil {
		return nil, err
	}
	if t.CatalogURL == "" {
		t.CatalogURL = cfg.CatalogURL
	}
	if t.WarehouseURL == "" {
		t.WarehouseURL = cfg.Warehouse
	}
	if im.Migration, err = OpenMigration(ctx, im.Source, t, false, env); err != nil {
		return nil, err
	}
	im.Migration.Options.Landing = nil // an export holds no landing area
	im.Migration.Options.Expect = man.Expect()
	return im, nil
}

// Close closes the target and the export and removes temporary state.
func (im *Import) Close() error {
	var errs []error
	if im.Migration != nil {
		errs = append(errs, im.Migration.Close())
	}
	if im.Source != nil {
		errs = append(errs, im.Source.Close())
	}
	if im.tmp != "" {
		errs = append(errs, os.RemoveAll(im.tmp))
	}
	return errors.Join(errs...)
}

// pruneToRef leaves only ref and its history in the export's catalog and
// returns how many commits that history has.
func pruneToRef(ctx context.Context, a *App, ref string) (int64, error) {
	if err := sqlstore.PruneToRef(ctx, a.Store.SQLStore(), ref); err != nil {
		return 0, err
	}
	r, err := a.Store.Ref(ctx, ref)
	if err != nil {
		return 0, err
	}
	log, err := a.Store.Log(ctx, r.Head, 0)
	return int64(len(log)), err
}
