package migrate

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/textout"
)

// Landing is a landing area copied beside the warehouse: an embedded
// workspace keeps its landing files in its landing/ directory, outside the
// warehouse, while a workspace on S3 keeps them at <warehouse>/_landing/.
// A migration of the first to the second copies them there, like the
// warehouse's files: streamed through SHA-256, skipped when already there,
// before the catalog.
type Landing struct {
	Source, Target objstore.Store
}

// planLanding lists the landing files to copy.
func planLanding(ctx context.Context, l *Landing) ([]objstore.Info, *FileStats, error) {
	files, total, err := sourceFiles(ctx, l.Source)
	if err != nil {
		return nil, nil, fmt.Errorf("landing area: %w", err)
	}
	return files, &FileStats{Files: int64(len(files)), Bytes: total}, nil
}

// copyLanding copies the landing files into the target's landing area.
// Its record of checked files stays in memory (a journal at the target
// would show as a landing zone): a rerun compares the files the target
// holds with the expected size by reading both sides.
func copyLanding(ctx context.Context, l *Landing, files []objstore.Info, workers int, st *FileStats) error {
	start := time.Now()
	j := &journal{all: map[string]FileSum{}, pending: map[string]FileSum{}}
	err := copyFiles(ctx, &copier{src: l.Source, dst: l.Target, j: j, copied: &st.CopiedBytes}, files, workers, st)
	st.Seconds = time.Since(start).Seconds()
	if err != nil {
		return fmt.Errorf("landing area: %w", err)
	}
	return nil
}

// printLanding writes the landing line of a report.
func printLanding(w io.Writer, rep *Report) {
	f := rep.Landing
	if f == nil {
		return
	}
	if rep.DryRun {
		fmt.Fprintf(w, "landing  %s (%s) to copy to %s\n", textout.Plural(f.Files, "file"), textout.Bytes(f.Bytes), rep.LandingTarget)
		return
	}
	fmt.Fprintf(w, "landing  %s (%s) copied to %s, %d already there\n",
		textout.Plural(f.Copied, "file"), textout.Bytes(f.CopiedBytes), rep.LandingTarget, f.Skipped)
}
