package app

import (
	"context"
	"fmt"

	"github.com/ratdata/rat/internal/catalog/sqlstore"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/migrate"
)

// catalogCopier copies a catalog database into another with sqlstore's
// Copy (migrate.CatalogCopier). dst is nil in a dry run.
type catalogCopier struct{ src, dst *App }

func (c catalogCopier) Plan(ctx context.Context) (migrate.CatalogStats, error) {
	rep, err := sqlstore.Plan(ctx, c.src.Store.SQLStore())
	return catalogStats(rep), err
}

func (c catalogCopier) Copy(ctx context.Context, progress func(table string, done, total int64)) (migrate.CatalogStats, error) {
	rep, err := sqlstore.Copy(ctx, c.src.Store.SQLStore(), c.dst.Store.SQLStore(), sqlstore.CopyOptions{
		Progress: progress,
		Target:   c.target(),
	})
	return catalogStats(rep), err
}

func (c catalogCopier) Check(ctx context.Context) error {
	return sqlstore.CheckTarget(ctx, c.src.Store.SQLStore(), c.dst.Store.SQLStore(), c.target())
}

func (c catalogCopier) target() string {
	return "the target catalog " + config.RedactURL(c.dst.Config.CatalogURL)
}

func (c catalogCopier) Verify(ctx context.Context) ([]string, error) {
	diff, err := sqlstore.Verify(ctx, c.src.Store.SQLStore(), c.dst.Store.SQLStore())
	if err != nil {
		return nil, err
	}
	problems := make([]string, len(diff))
	for i, d := range diff {
		problems[i] = fmt.Sprintf("catalog table %s: %d rows (checksum %s) at the target, %d (%s) at the source",
			d.Table, d.TargetRows, d.TargetChecksum, d.Rows, d.Checksum)
	}
	return problems, nil
}

func catalogStats(rep sqlstore.CopyReport) migrate.CatalogStats {
	st := migrate.CatalogStats{Tables: map[string]int64{}, Locks: rep.Locks}
	for _, t := range rep.Tables {
		st.Tables[t.Table] = t.Rows
		st.Rows += t.Rows
		if t.Table == "commits" {
			st.Commits = t.Rows
		}
	}
	return st
}
