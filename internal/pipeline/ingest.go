package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
)

// IngestResult reports an ingestion.
type IngestResult struct {
	Table   string   `json:"table"`
	Files   []string `json:"files"`   // files loaded
	Skipped []string `json:"skipped"` // files whose content was ingested before
	Rows    int64    `json:"rows"`
	Created bool     `json:"created"`
	Commit  string   `json:"commit,omitempty"`
}

// Ingest appends files to a table once per content: files whose hash the
// table's registry already holds are skipped, so ingesting the same file
// twice loads it once and a changed file loads again. The rows carry
// _source_file and _ingested_at. Data and registry land together: they are
// written on a temporary branch and merged in one commit.
func Ingest(ctx context.Context, l *lake.Lake, target string, id rat.TableID, files []ingest.File, sheet, tmpDir string, evolve bool, now time.Time) (IngestResult, error) {
	res := IngestResult{Table: id.String(), Files: []string{}, Skipped: []string{}}
	if id.Internal() {
		return res, rat.InternalTableError(id)
	}
	consumer := "ingest:" + id.String()
	done, err := Consumed(ctx, l, target, consumer)
	if err != nil {
		return res, err
	}
	var fresh []ingest.File
	for _, f := range files {
		if _, ok := done[f.Hash]; ok {
			res.Skipped = append(res.Skipped, f.Source())
			continue
		}
		done[f.Hash] = now
		fresh = append(fresh, f)
		res.Files = append(res.Files, f.Source())
	}
	if len(fresh) == 0 {
		return res, nil
	}
	src, _, err := ingest.ReadSQL(fresh, ingest.ReadOptions{IngestedAt: now, Sheet: sheet, TmpDir: tmpDir})
	if err != nil {
		return res, err
	}
	head, err := l.Store().Ref(ctx, target)
	if err != nil {
		return res, err
	}
	if head.Kind != rat.Branch {
		return res, rat.Errorf(rat.EINVALID, "%s is a tag: tags are read-only", target)
	}
	runID := NewRunID(now)
	branch := rat.IngestBranch(runID)
	if err := l.Store().CreateRef(ctx, rat.Ref{Name: branch, Kind: rat.Branch, Head: head.Head, Internal: true}); err != nil {
		return res, err
	}
	defer func() { _ = l.Store().DeleteRef(context.WithoutCancel(ctx), branch) }()
	w, err := l.Write(ctx, branch, id, src, lake.WriteOptions{
		Mode: lake.Append, Evolve: evolve, Message: fmt.Sprintf("ingest %d file(s) into %s", len(fresh), id),
	})
	if err != nil {
		return res, ingest.ExplainFiles(fresh, err)
	}
	res.Rows, res.Created = w.Rows, w.Created
	if err := record(ctx, l, branch, consumer, runID, fresh, now); err != nil {
		return res, err
	}
	merged, err := l.Catalog(target).Merge(ctx, branch, catalog.MergeOptions{Message: fmt.Sprintf("ingest %d file(s) into %s", len(fresh), id)})
	if err != nil {
		return res, err
	}
	res.Commit = merged.Commit
	return res, nil
}
