package app

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ratdata/rat/internal/migrate"
	"github.com/ratdata/rat/internal/objstore"
)

// migrationLanding is the landing area a migration copies (Options.Landing):
// an embedded workspace's landing/ directory when the target warehouse is
// on S3, whose landing area is <warehouse>/_landing/. Nil otherwise: a
// source on S3 has its landing area in the warehouse (copied with it), and
// a local target keeps using the workspace's landing/ directory.
func (m *Migration) migrationLanding(ctx context.Context, src *App) (*migrate.Landing, error) {
	if src.Config.IsS3() || !m.Config.IsS3() {
		return nil, nil
	}
	dir := filepath.Join(src.workspaceDir(), "landing")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil // nothing landed: the source stays as it is
	}
	from, err := objstore.NewLocal(dir)
	if err != nil {
		return nil, err
	}
	to, err := openS3(ctx, m.Config, landingPrefix)
	if err != nil {
		return nil, err
	}
	return &migrate.Landing{Source: from, Target: to}, nil
}
