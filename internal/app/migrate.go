package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/migrate"
)

// Migration is what rat migrate works with: the target opened beside the
// source, and the options of migrate.Run over both.
type Migration struct {
	Target  *App // nil in a dry run that opened no target catalog
	Config  *config.Config
	Options migrate.Options
	dir     string
}

// OpenMigration opens the target t of a migration of src. A dry run opens
// the target warehouse only (to check it) and writes nothing.
func OpenMigration(ctx context.Context, src *App, t Target, dryRun bool, env func(string) (string, bool)) (_ *Migration, err error) {
	if t.CatalogURL == "" && t.WarehouseURL == "" {
		return nil, rat.Errorf(rat.EINVALID, "rat migrate: give --to-catalog URL, --to-warehouse URL or both (see 'rat migrate --help')")
	}
	m := &Migration{dir: filepath.Join(src.TmpDir(), "migrate")}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if m.Config, err = TargetConfig(src.Config, t, m.dir, env); err != nil {
		return nil, err
	}
	if t.CatalogURL != "" && sameCatalog(src.Config.CatalogURL, m.Config.CatalogURL) {
		return nil, rat.Errorf(rat.EINVALID, "the target catalog %s is the source catalog: give another --to-catalog (or leave it out to keep the catalog and move only the warehouse)",
			config.RedactURL(m.Config.CatalogURL))
	}
	m.Options = migrate.Options{
		Source: migrate.Side{Warehouse: src.Objects, Lake: src.Lake},
		Files:  t.WarehouseURL != "",
		DryRun: dryRun,
	}
	if dryRun {
		if m.Options.Files {
			if m.Options.Target.Warehouse, err = OpenWarehouse(ctx, m.Config); err != nil {
				return nil, err
			}
		}
	} else {
		if m.Target, err = OpenTarget(ctx, src, m.Config); err != nil {
			return nil, err
		}
		m.Options.Target = migrate.Side{Warehouse: m.Target.Objects, Lake: m.Target.Lake}
	}
	if t.CatalogURL != "" {
		m.Options.Catalog = catalogCopier{src: src, dst: m.Target}
	}
	if m.Options.Files {
		if m.Options.Landing, err = m.migrationLanding(ctx, src); err != nil {
			return nil, err
		}
	}
	if !dryRun {
		if err := m.killPoints(env); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Close closes the target and removes its temporary state (read cache).
func (m *Migration) Close() error {
	var errs []error
	if m.Target != nil {
		errs = append(errs, m.Target.Close())
	}
	return errors.Join(append(errs, os.RemoveAll(m.dir))...)
}

// sameCatalog reports whether two catalog URLs (as TargetConfig normalises
// them) name the same database.
func sameCatalog(a, b string) bool {
	if config.IsPostgresURL(a) || config.IsPostgresURL(b) {
		sa, _ := stripPassword(a)
		sb, _ := stripPassword(b)
		return sa == sb
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && filepath.Clean(aa) == filepath.Clean(bb)
}
