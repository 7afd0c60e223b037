package pipeline

import (
	"context"
	"fmt"
	"strings"
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
	Empty   []string `json:"empty"`   // files loaded that hold no rows (recorded as ingested)
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
	res := IngestResult{Table: id.String(), Files: []string{}, Skipped: []string{}, Empty: []string{}}
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
	rows, empty, err := ingest.InspectFiles(fresh)
	if err != nil {
		return res, err
	}
	for _, f := range empty {
		res.Empty = append(res.Empty, f.Source())
	}
	head, err := l.Store().Ref(ctx, target)
	if err != nil {
		return res, err
	}
	if head.Kind != rat.Branch {
		return res, rat.Errorf(rat.EINVALID, "%s is a tag: tags are read-only", target)
	}
	// Files without rows are recorded as ingested but read only when no
	// file has rows and the table is new: then their columns make it, if
	// they have types (Parquet); a CSV header line alone does not.
	read := rows
	if len(rows) == 0 {
		_, err := l.Store().Table(ctx, target, id)
		switch {
		case err == nil:
		case !rat.IsCode(err, rat.ENOTFOUND):
			return res, err
		case !ingest.Typed(empty):
			return res, rat.Errorf(rat.EINVALID, "%s: no rows, and no values to tell the column types from, so %s was not created; ingest a file with rows first",
				strings.Join(res.Empty, ", "), id)
		default:
			read = empty
		}
	}
	var src string
	if len(read) > 0 {
		if src, _, err = ingest.ReadSQL(read, ingest.ReadOptions{IngestedAt: now, Sheet: sheet, TmpDir: tmpDir}); err != nil {
			return res, err
		}
	}
	runID := NewRunID(now)
	branch := rat.IngestBranch(runID)
	if err := l.Store().CreateRef(ctx, rat.Ref{Name: branch, Kind: rat.Branch, Head: head.Head, Internal: true}); err != nil {
		return res, err
	}
	defer func() { _ = l.Store().DeleteRef(context.WithoutCancel(ctx), branch) }()
	if src != "" {
		w, err := l.Write(ctx, branch, id, src, lake.WriteOptions{
			Mode: lake.Append, Evolve: evolve, Message: fmt.Sprintf("ingest %d file(s) into %s", len(fresh), id),
		})
		if err != nil {
			return res, ingest.ExplainFiles(read, err)
		}
		res.Rows, res.Created = w.Rows, w.Created
	}
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
