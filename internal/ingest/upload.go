package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ratdata/rat"
)

// CheckUploads checks local files before any is uploaded: each exists, is
// a regular file of at most limit bytes with a name rat reads, and no two
// share a name.
func CheckUploads(paths []string, limit int64) error {
	names := map[string]string{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return rat.Errorf(rat.ENOTFOUND, "no file %s: check the path (rat landing upload ZONE FILE...)", p)
		}
		if !fi.Mode().IsRegular() {
			return rat.Errorf(rat.EINVALID, "%s is not a regular file: give the files to upload, for example %s/*.csv", p, p)
		}
		name := filepath.Base(p)
		if err := ValidateFileName(name); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if fi.Size() > limit {
			return TooLarge(p, limit)
		}
		if prev, ok := names[name]; ok {
			return rat.Errorf(rat.EINVALID, "%s and %s would both land as %s: rename one", prev, p, name)
		}
		names[name] = p
	}
	return nil
}

// UploadFiles streams local files into a zone, each under its base name
// (Upload), calling done after each with its path, name and size.
func (l *Landing) UploadFiles(ctx context.Context, zone string, paths []string, limit int64, done func(path, name string, size int64)) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return rat.Errorf(rat.ENOTFOUND, "open %s: %v", p, err)
		}
		name := filepath.Base(p)
		n, err := l.Upload(ctx, zone, name, f, limit)
		f.Close()
		if err != nil {
			return err
		}
		done(p, name, n)
	}
	return nil
}
