package app

import (
	"context"
	"errors"

	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/orchestrator"
)

// MigrateSchemas creates or upgrades the schema of the catalog database and
// of the run queue (River's tables and rat's own) that cfg names, and
// nothing else: no DuckDB, no warehouse, no workspace. It is what a
// deployment runs once before rolling out a new version (rat db migrate);
// every other command migrates on open too, under the same locks, so it is
// never required, only earlier and in one place.
func MigrateSchemas(ctx context.Context, cfg *config.Config) error {
	store, err := OpenCatalog(ctx, cfg.CatalogURL)
	if err != nil {
		return err
	}
	a := &App{Config: cfg, Store: store}
	sqlitePath, postgresURL := a.QueueDatabase()
	q, err := orchestrator.Open(ctx, orchestrator.Config{SQLitePath: sqlitePath, PostgresURL: postgresURL})
	if err == nil {
		q.Close()
	}
	return errors.Join(err, a.Close())
}
