package app

import (
	"context"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/migrate"
)

// catalogCopier copies a catalog database into another (migrate.CatalogCopier).
type catalogCopier struct{ src, dst *App }

func (c catalogCopier) Plan(ctx context.Context) (migrate.CatalogStats, error) {
	return migrate.CatalogStats{}, rat.Errorf(rat.EINVALID, "--to-catalog: copying the catalog is not available yet: migrate the warehouse only (--to-warehouse)")
}

func (c catalogCopier) Copy(ctx context.Context, progress func(table string, done, total int64)) (migrate.CatalogStats, error) {
	return c.Plan(ctx)
}
