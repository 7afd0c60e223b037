package app

import (
	"context"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/lake"
)

// OptimizeOptions are rat optimize's options from the configuration: the
// target file size and small-file threshold of maintenance.optimize (or
// the profile), and the sort_by of the workspace's pipelines, if there is
// a workspace.
func (a *App) OptimizeOptions(ctx context.Context) (lake.OptimizeOptions, error) {
	opts := lake.OptimizeOptions{
		TargetFileBytes: int64(a.Config.OptimizeTargetFileSizeMB) << 20,
		MinSmallFiles:   a.Config.OptimizeMinSmallFiles,
		SortBy:          map[rat.TableID]lake.SortBy{},
	}
	if a.Config.WorkspaceDir == "" {
		return opts, nil
	}
	ws, err := a.LoadWorkspaceRefs(ctx, true)
	if err != nil {
		return opts, err
	}
	for _, p := range ws.Pipelines() {
		if len(p.Config.SortBy) > 0 {
			opts.SortBy[p.ID] = lake.SortBy{Columns: p.Config.SortBy, From: p.Config.SortFrom}
		}
	}
	return opts, nil
}
