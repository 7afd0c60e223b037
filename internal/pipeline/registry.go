package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
)

// Registry is the file registry: which landing files (by content hash)
// each pipeline has consumed. It is an Iceberg table of the catalog, so it
// lives on branches like data: a run records the files it read on its run
// branch, and the record lands on the target with the data, in the same
// merge — a failed or crashed run consumes nothing.
var Registry = rat.TableID{Layer: "_rat", Name: "landing_files"}

// Consumed returns, for each file hash a consumer has read on a branch,
// when it first read it.
func Consumed(ctx context.Context, l *lake.Lake, branch, consumer string) (map[string]time.Time, error) {
	return consumedExcept(ctx, l, branch, consumer, "")
}

// consumedExcept is Consumed without the files run runID recorded: to a
// node built again within its run, what an earlier attempt read is still
// unread.
func consumedExcept(ctx context.Context, l *lake.Lake, branch, consumer, runID string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if _, err := l.Store().Table(ctx, branch, Registry); rat.IsCode(err, rat.ENOTFOUND) {
		return out, nil
	} else if err != nil {
		return nil, err
	}
	q := fmt.Sprintf("SELECT hash, min(ingested_at) FROM %s WHERE consumer = %s AND run_id <> %s GROUP BY hash", Registry, duckdb.Quote(consumer), duckdb.Quote(runID))
	err := l.Query(ctx, branch, lake.At{}, q, func(rows *sql.Rows) error {
		for rows.Next() {
			var h string
			var at time.Time
			if err := rows.Scan(&h, &at); err != nil {
				return err
			}
			out[h] = at
		}
		return nil
	})
	return out, err
}

// record appends the files a consumer read to the registry on a branch.
func record(ctx context.Context, l *lake.Lake, branch, consumer, runID string, files []ingest.File, at time.Time) error {
	if len(files) == 0 {
		return nil
	}
	rows := make([]string, len(files))
	for i, f := range files {
		rows[i] = fmt.Sprintf("(%s, %s, %s, %s, %d, %s, TIMESTAMPTZ '%s+00')",
			duckdb.Quote(consumer), duckdb.Quote(f.Zone), duckdb.Quote(f.Name), duckdb.Quote(f.Hash), f.Size,
			duckdb.Quote(runID), at.UTC().Format("2006-01-02 15:04:05.999999"))
	}
	src := "SELECT * FROM (VALUES " + strings.Join(rows, ", ") + ") t(consumer, zone, file, hash, size, run_id, ingested_at)"
	_, err := l.Write(ctx, branch, Registry, src, lake.WriteOptions{
		Mode: lake.Append, Message: fmt.Sprintf("%s consumed %d landing file(s)", consumer, len(files)),
		Internal: true, // rat's own table: only this write may touch it
	})
	return err
}

// quarantine appends malformed landing lines to <table>__rejected on the
// branch: with on_bad_rows: quarantine, bad lines are kept, not fatal.
func (r *Runner) quarantine(ctx context.Context, branch string, id rat.TableID, runID string, rejected []ingest.Rejected, at time.Time) error {
	rows := make([]string, len(rejected))
	for i, x := range rejected {
		rows[i] = fmt.Sprintf("(%s, %d, %s, %s, %s, TIMESTAMPTZ '%s+00')", duckdb.Quote(x.Source), x.Line,
			duckdb.Quote(x.Error), duckdb.Quote(x.Raw), duckdb.Quote(runID), at.UTC().Format("2006-01-02 15:04:05.999999"))
	}
	src := "SELECT * FROM (VALUES " + strings.Join(rows, ", ") + ") t(_source_file, line, error, raw, run_id, _ingested_at)"
	target := rat.TableID{Layer: id.Layer, Name: id.Name + "__rejected"}
	_, err := r.Lake.Write(ctx, branch, target, src, lake.WriteOptions{
		Mode: lake.Append, Message: fmt.Sprintf("quarantine %d malformed line(s) of %s", len(rejected), id),
	})
	return err
}
