package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/lake"
)

// TableCheck compares one table (or view) of a ref between source and
// target. Rows and Checksum are the target's when they match.
type TableCheck struct {
	Table    string `json:"table"`
	View     bool   `json:"view,omitempty"`
	Snapshot int64  `json:"snapshot,omitempty"`
	Rows     int64  `json:"rows"`
	// Checksum is an order-independent hash of every row: the sum of
	// DuckDB's hash of each row, as a decimal.
	Checksum string `json:"checksum,omitempty"`
	Problem  string `json:"problem,omitempty"` // what differs; empty when everything matches
}

// RefReport is the verification of one branch or tag.
type RefReport struct {
	Ref    string       `json:"ref"`
	Kind   string       `json:"kind"` // branch or tag
	Head   string       `json:"head"`
	Tables []TableCheck `json:"tables"`
	OK     bool         `json:"ok"`
}

// rowChecksum is the query of a table's row count and content checksum.
// DuckDB hashes each row (a struct of all its columns); the sum of the hashes
// does not depend on the order of rows or files.
const rowChecksum = `SELECT count(*), CAST(coalesce(sum(CAST(hash(t) AS HUGEINT)), 0) AS VARCHAR) FROM %s AS t`

// Verify compares every ref of the source with the target: the same refs at
// the same heads, and in each the same tables, and for each table the same
// current snapshot id, schema, row count and content checksum (read with
// DuckDB on both sides); views must name the same definition. It returns
// one report per source ref; ok is false when anything differs. Given only,
// it compares those refs only.
func Verify(ctx context.Context, src, dst *lake.Lake, only ...string) (reports []RefReport, ok bool, err error) {
	refs, err := src.Store().Refs(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("list the source's refs: %w", err)
	}
	ok = true
	for _, ref := range refs {
		if len(only) > 0 && !slices.Contains(only, ref.Name) {
			continue
		}
		r := RefReport{Ref: ref.Name, Kind: string(ref.Kind), Head: ref.Head, OK: true, Tables: []TableCheck{}}
		bad := func(tc TableCheck, format string, args ...any) {
			tc.Problem = fmt.Sprintf(format, args...)
			r.Tables = append(r.Tables, tc)
			r.OK = false
		}
		got, err := dst.Store().Ref(ctx, ref.Name)
		switch {
		case rat.IsCode(err, rat.ENOTFOUND):
			bad(TableCheck{Table: "*"}, "%s %s is missing at the target", r.Kind, ref.Name)
		case err != nil:
			return nil, false, fmt.Errorf("read %s at the target: %w", ref.Name, err)
		case got.Head != ref.Head:
			bad(TableCheck{Table: "*"}, "head %s at the target, %s at the source", rat.ShortID(got.Head), rat.ShortID(ref.Head))
		}
		if !r.OK {
			reports, ok = append(reports, r), false
			continue
		}
		if err := verifyRef(ctx, src, dst, ref.Name, &r); err != nil {
			return nil, false, err
		}
		ok = ok && r.OK
		reports = append(reports, r)
	}
	return reports, ok, nil
}

func verifyRef(ctx context.Context, src, dst *lake.Lake, ref string, r *RefReport) error {
	want, err := src.Store().Tables(ctx, ref)
	if err != nil {
		return fmt.Errorf("list the tables of %s at the source: %w", ref, err)
	}
	have, err := dst.Store().Tables(ctx, ref)
	if err != nil {
		return fmt.Errorf("list the tables of %s at the target: %w", ref, err)
	}
	names := map[string]string{}
	for _, e := range have {
		names[e.Table.String()] = e.Metadata
	}
	for _, e := range want {
		tc := TableCheck{Table: e.Table.String(), View: lake.IsView(e.Metadata)}
		meta, found := names[tc.Table]
		delete(names, tc.Table)
		switch {
		case !found:
			tc.Problem = "missing at the target"
		case meta != e.Metadata:
			tc.Problem = fmt.Sprintf("the target records %s, the source %s", meta, e.Metadata)
		case tc.View:
		default:
			tc.Problem, err = compareTable(ctx, src, dst, ref, e.Table, &tc)
			if err != nil {
				return err
			}
		}
		r.OK = r.OK && tc.Problem == ""
		r.Tables = append(r.Tables, tc)
	}
	extra := make([]string, 0, len(names))
	for n := range names {
		extra = append(extra, n)
	}
	slices.Sort(extra)
	for _, n := range extra {
		r.Tables = append(r.Tables, TableCheck{Table: n, Problem: "at the target only"})
		r.OK = false
	}
	return nil
}

// tableSum is what is compared of a table.
type tableSum struct {
	snapshot int64
	schema   string
	rows     int64
	checksum string
}

func summarize(ctx context.Context, l *lake.Lake, ref string, id rat.TableID) (tableSum, error) {
	var s tableSum
	res, err := l.Resolve(ctx, ref, id, lake.At{})
	if err != nil {
		return s, err
	}
	if res.Snapshot != nil {
		s.snapshot = res.Snapshot.SnapshotID
	}
	s.schema = res.Schema.String()
	err = l.Query(ctx, ref, lake.At{}, fmt.Sprintf(rowChecksum, id), func(rows *sql.Rows) error {
		for rows.Next() {
			if err := rows.Scan(&s.rows, &s.checksum); err != nil {
				return err
			}
		}
		return nil
	})
	return s, err
}

// compareTable fills tc with the target's figures and returns what differs
// from the source ("" when nothing does). A table the target cannot read is
// a difference; one the source cannot read is an error.
func compareTable(ctx context.Context, src, dst *lake.Lake, ref string, id rat.TableID, tc *TableCheck) (string, error) {
	want, err := summarize(ctx, src, ref, id)
	if err != nil {
		return "", fmt.Errorf("read %s on %s at the source: %w", id, ref, err)
	}
	got, err := summarize(ctx, dst, ref, id)
	if err != nil {
		return "cannot be read at the target: " + rat.ErrorMessage(err), nil
	}
	tc.Snapshot, tc.Rows, tc.Checksum = got.snapshot, got.rows, got.checksum
	switch {
	case got.snapshot != want.snapshot:
		return fmt.Sprintf("snapshot %d at the target, %d at the source", got.snapshot, want.snapshot), nil
	case got.schema != want.schema:
		return "the schemas differ", nil
	case got.rows != want.rows:
		return fmt.Sprintf("%d rows at the target, %d at the source", got.rows, want.rows), nil
	case got.checksum != want.checksum:
		return fmt.Sprintf("content checksum %s at the target, %s at the source", got.checksum, want.checksum), nil
	}
	return "", nil
}
