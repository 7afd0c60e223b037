package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/lake"
)

// The verification's modes (rat migrate --verify).
const (
	// VerifyFast compares what Iceberg metadata says (snapshot ids,
	// schemas, row counts from the manifests) and a content checksum over
	// each snapshot's data files as the files phase copied them: nothing
	// is scanned.
	VerifyFast = "fast"
	// VerifyDeep also reads every row of every table on both sides with
	// DuckDB and compares row counts and an order-independent row hash.
	VerifyDeep = "deep"
)

// TableCheck compares one table (or view) of a ref between source and
// target. The figures are the target's when they match.
type TableCheck struct {
	Table    string `json:"table"`
	View     bool   `json:"view,omitempty"`
	Snapshot int64  `json:"snapshot,omitempty"`
	// Rows is the sum of the record counts of the snapshot's data files
	// (their manifest entries).
	Rows  int64 `json:"rows"`
	Files int   `json:"files,omitempty"` // data files of the snapshot
	// Checksum is the table's content checksum: the SHA-256 of the sorted
	// lines "KEY SIZE SHA256", one per data file of the snapshot, with the
	// file's key under the warehouse root, its size and the SHA-256 of its
	// bytes as copied ("-" when the warehouse stayed where it was).
	Checksum string `json:"checksum,omitempty"`
	// RowChecksum (deep verification) is an order-independent hash of every
	// row: the sum of DuckDB's hash of each row, as a decimal.
	RowChecksum string `json:"row_checksum,omitempty"`
	Problem     string `json:"problem,omitempty"` // what differs; empty when everything matches
}

// RefReport is the verification of one branch or tag.
type RefReport struct {
	Ref    string       `json:"ref"`
	Kind   string       `json:"kind"` // branch or tag
	Head   string       `json:"head"`
	Tables []TableCheck `json:"tables"`
	OK     bool         `json:"ok"`
}

// VerifyOptions say how Verify compares tables.
type VerifyOptions struct {
	Deep bool // read every row too (VerifyDeep)
	// Sums are the SHA-256 of the files as copied, by key (the files
	// phase's journal); nil when the warehouse was not copied.
	Sums map[string]FileSum
	// Only, when set, names the refs to compare (rat export --ref).
	Only []string
}

// rowChecksum is the query of a table's row count and content checksum.
// DuckDB hashes each row (a struct of all its columns); the sum of the hashes
// does not depend on the order of rows or files.
const rowChecksum = `SELECT count(*), CAST(coalesce(sum(CAST(hash(t) AS HUGEINT)), 0) AS VARCHAR) FROM %s AS t`

// Verify compares every ref of the source with the target: the same refs at
// the same heads, and in each the same tables, and for each table the same
// current snapshot id, schema, row count and content checksum, each read
// through its side's own catalog and Iceberg metadata (and with o.Deep
// every row through DuckDB); views must name the same definition. It
// returns one report per source ref; ok is false when anything differs. With o.Only, it compares those refs
// only.
func Verify(ctx context.Context, src, dst *lake.Lake, o VerifyOptions) (reports []RefReport, ok bool, err error) {
	refs, err := src.Store().Refs(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("list the source's refs: %w", err)
	}
	ok = true
	for _, ref := range refs {
		if len(o.Only) > 0 && !slices.Contains(o.Only, ref.Name) {
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
		if err := verifyRef(ctx, src, dst, ref.Name, o, &r); err != nil {
			return nil, false, err
		}
		ok = ok && r.OK
		reports = append(reports, r)
	}
	return reports, ok, nil
}

func verifyRef(ctx context.Context, src, dst *lake.Lake, ref string, o VerifyOptions, r *RefReport) error {
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
			tc.Problem, err = compareTable(ctx, src, dst, ref, e.Table, o, &tc)
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
	files    int
	checksum string
	// uncopied are data files the files phase has no sum of: not at the
	// target (written at the source after the copy listed it?).
	uncopied []string
	// deep verification: DuckDB's row count and row checksum
	scanned     int64
	rowChecksum string
}

// summarize reads a table's current snapshot through l: its id and schema
// from the metadata, its data files (with their record counts) from the
// manifests, and with o.Deep every row.
func summarize(ctx context.Context, l *lake.Lake, ref string, id rat.TableID, o VerifyOptions) (tableSum, error) {
	var s tableSum
	res, err := l.Resolve(ctx, ref, id, lake.At{})
	if err != nil {
		return s, err
	}
	if res.Snapshot != nil {
		s.snapshot = res.Snapshot.SnapshotID
	}
	s.schema = res.Schema.String()
	s.files = len(res.Files)
	lines := make([]string, 0, len(res.Files))
	for _, f := range res.Files {
		s.rows += f.Records
		key, ok := l.Key(f.Location)
		if !ok {
			return s, rat.Errorf(rat.EINVALID, "data file %s of %s lies outside the warehouse", f.Location, id)
		}
		sha := "-"
		if o.Sums != nil {
			sum, ok := o.Sums[key]
			if !ok || sum.Size != f.Bytes {
				s.uncopied = append(s.uncopied, key)
			}
			sha = sum.SHA256
		}
		lines = append(lines, fmt.Sprintf("%s %d %s", key, f.Bytes, sha))
	}
	slices.Sort(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	s.checksum = hex.EncodeToString(h[:])
	if !o.Deep {
		return s, nil
	}
	err = l.Query(ctx, ref, lake.At{}, fmt.Sprintf(rowChecksum, id), func(rows *sql.Rows) error {
		for rows.Next() {
			if err := rows.Scan(&s.scanned, &s.rowChecksum); err != nil {
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
func compareTable(ctx context.Context, src, dst *lake.Lake, ref string, id rat.TableID, o VerifyOptions, tc *TableCheck) (string, error) {
	want, err := summarize(ctx, src, ref, id, o)
	if err != nil {
		return "", fmt.Errorf("read %s on %s at the source: %w", id, ref, err)
	}
	got, err := summarize(ctx, dst, ref, id, o)
	if err != nil {
		return "cannot be read at the target: " + rat.ErrorMessage(err), nil
	}
	tc.Snapshot, tc.Rows, tc.Files, tc.Checksum, tc.RowChecksum = got.snapshot, got.rows, got.files, got.checksum, got.rowChecksum
	switch {
	case got.snapshot != want.snapshot:
		return fmt.Sprintf("snapshot %d at the target, %d at the source", got.snapshot, want.snapshot), nil
	case got.schema != want.schema:
		return "the schemas differ", nil
	case got.rows != want.rows:
		return fmt.Sprintf("%d rows at the target, %d at the source", got.rows, want.rows), nil
	case len(got.uncopied) > 0:
		return fmt.Sprintf("data file %s was not copied (%d in all; written at the source after the copy began?): run the command again",
			got.uncopied[0], len(got.uncopied)), nil
	case got.checksum != want.checksum:
		return fmt.Sprintf("content checksum %s at the target, %s at the source", got.checksum, want.checksum), nil
	case o.Deep && got.scanned != got.rows:
		return fmt.Sprintf("%d rows read at the target, its manifests count %d", got.scanned, got.rows), nil
	case got.scanned != want.scanned:
		return fmt.Sprintf("%d rows read at the target, %d at the source", got.scanned, want.scanned), nil
	case got.rowChecksum != want.rowChecksum:
		return fmt.Sprintf("row checksum %s at the target, %s at the source", got.rowChecksum, want.rowChecksum), nil
	}
	return "", nil
}
