package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ratdata/rat"
)

func refNotFound(name string) error {
	return rat.Errorf(rat.ENOTFOUND, "ref %q not found: list branches with 'rat branch list' and tags with 'rat tag list'", name)
}

func branchNotFound(op, name string) error {
	return rat.Errorf(rat.ENOTFOUND, "%s: branch %q not found: list branches with 'rat branch list'", op, name)
}

func commitNotFound(op, id string) error {
	return rat.Errorf(rat.ENOTFOUND, "%s: commit %s not found: list commits with 'rat log'", op, id)
}

// Ref returns the named branch or tag.
func (s *Store) Ref(ctx context.Context, name string) (rat.Ref, error) {
	var ref rat.Ref
	err := s.retry(ctx, func() error {
		var err error
		ref, err = s.readRef(ctx, s.db, name, "")
		return err
	})
	return ref, s.fail("read ref "+name, err)
}

// readRef reads one ref, optionally with a row-lock suffix.
func (s *Store) readRef(ctx context.Context, q querier, name, lock string) (rat.Ref, error) {
	ref := rat.Ref{Name: name}
	var kind string
	var internal int
	err := s.queryRow(ctx, q, `SELECT kind, head, internal FROM refs WHERE name = ?`+lock, name).Scan(&kind, &ref.Head, &internal)
	if errors.Is(err, sql.ErrNoRows) {
		return rat.Ref{}, refNotFound(name)
	}
	if err != nil {
		return rat.Ref{}, err
	}
	ref.Kind, ref.Internal = rat.RefKind(kind), internal == 1
	return ref, nil
}

// Refs lists all refs, sorted by name (byte order).
func (s *Store) Refs(ctx context.Context) ([]rat.Ref, error) {
	var refs []rat.Ref
	err := s.retry(ctx, func() error {
		refs = refs[:0]
		rows, err := s.query(ctx, s.db, `SELECT name, kind, head, internal FROM refs`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r rat.Ref
			var kind string
			var internal int
			if err := rows.Scan(&r.Name, &kind, &r.Head, &internal); err != nil {
				return err
			}
			r.Kind, r.Internal = rat.RefKind(kind), internal == 1
			refs = append(refs, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.fail("list refs", err)
	}
	slices.SortFunc(refs, func(a, b rat.Ref) int { return strings.Compare(a.Name, b.Name) })
	return refs, nil
}

// CreateRef creates a branch or tag at ref.Head, which must be a full commit
// id (resolve short ids with GetCommit first). The new ref sees exactly the
// tables of that commit. Reserved names (run/, ingest/) are refused unless
// ref.Internal says rat makes the branch for its own work.
func (s *Store) CreateRef(ctx context.Context, ref rat.Ref) error {
	op := fmt.Sprintf("create %s %q", ref.Kind, ref.Name)
	if err := rat.ValidateRefName(ref.Name); err != nil {
		return err
	}
	if ref.Kind != rat.Branch && ref.Kind != rat.Tag {
		return rat.Errorf(rat.EINVALID, "create ref %q: kind %q is not valid: use %q or %q", ref.Name, ref.Kind, rat.Branch, rat.Tag)
	}
	switch reserved := rat.ReservedRefName(ref.Name); {
	case reserved && !ref.Internal:
		return rat.ReservedRefError(ref.Name, ref.Kind)
	case ref.Internal && (!reserved || ref.Kind != rat.Branch):
		return rat.Errorf(rat.EINTERNAL, "%s: only branches named run/<id> or ingest/<id> are rat's own", op)
	}
	internal := 0
	if ref.Internal {
		internal = 1
	}
	exists := func() error {
		return rat.Errorf(rat.ECONFLICT, "%s: a ref named %q already exists: pick another name or delete it first", op, ref.Name)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.commitExists(ctx, tx, op, ref.Head); err != nil {
			return err
		}
		var one int
		err := s.queryRow(ctx, tx, `SELECT 1 FROM refs WHERE name = ?`, ref.Name).Scan(&one)
		if err == nil {
			return exists()
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO refs (name, kind, head, internal) VALUES (?, ?, ?, ?)`,
			ref.Name, string(ref.Kind), ref.Head, internal); err != nil {
			return err
		}
		return s.fillRefTables(ctx, tx, ref.Name, ref.Head)
	})
	if s.d.classify(err) == UniqueViolation {
		// Another writer created the same name between our check and insert.
		return exists()
	}
	return s.fail(op, err)
}

// commitExists returns ENOTFOUND unless id is the full id of a commit.
func (s *Store) commitExists(ctx context.Context, q querier, op, id string) error {
	var one int
	err := s.queryRow(ctx, q, `SELECT 1 FROM commits WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return commitNotFound(op, id)
	}
	return err
}

// fillRefTables gives ref (whose ref_tables rows must be absent) the tables
// of commit head: copied from another ref at the same head when there is
// one, which is the common case (a branch or tag forked from a branch head),
// otherwise rebuilt from history.
func (s *Store) fillRefTables(ctx context.Context, tx *sql.Tx, ref, head string) error {
	var src string
	// FOR SHARE keeps src at head until this transaction ends, so the rows
	// copied below are the state of head.
	err := s.queryRow(ctx, tx, `SELECT name FROM refs WHERE head = ? AND name <> ? ORDER BY name LIMIT 1`+s.d.forShare(),
		head, ref).Scan(&src)
	switch {
	case err == nil:
		_, err = s.exec(ctx, tx, `INSERT INTO ref_tables (ref, table_key, metadata, commit_id)
SELECT ?, table_key, metadata, commit_id FROM ref_tables WHERE ref = ?`, ref, src)
	case errors.Is(err, sql.ErrNoRows):
		_, err = s.exec(ctx, tx, tablesAtCTE+`
INSERT INTO ref_tables (ref, table_key, metadata, commit_id)
SELECT ?, table_key, metadata, commit_id FROM latest WHERE rn = 1 AND metadata IS NOT NULL`, head, ref)
	}
	if err != nil {
		return fmt.Errorf("materialise tables of %s: %w", ref, err)
	}
	return nil
}

// DeleteRef removes a branch or tag; its commits stay in history. The
// default branch cannot be deleted.
func (s *Store) DeleteRef(ctx context.Context, name string) error {
	op := fmt.Sprintf("delete ref %q", name)
	if name == rat.DefaultBranch {
		return rat.Errorf(rat.EINVALID, "%s: the default branch cannot be deleted", op)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		// Lock the ref first, so that a concurrent commit to it finishes
		// before its table rows are deleted (and no deadlock is possible).
		if _, err := s.readRef(ctx, tx, name, s.d.forUpdate()); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM ref_tables WHERE ref = ?`, name); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, `DELETE FROM refs WHERE name = ?`, name)
		return err
	})
	return s.fail(op, err)
}

// MoveRef sets a branch's head to newHead (a full commit id) if its head is
// still expectedHead, and rebuilds its tables from newHead. newHead need not
// descend from the old head: MoveRef serves fast-forward merges and resets.
func (s *Store) MoveRef(ctx context.Context, name, expectedHead, newHead string) error {
	op := fmt.Sprintf("move branch %q", name)
	err := s.write(ctx, func(tx *sql.Tx) error {
		ref, err := s.readRef(ctx, tx, name, s.d.forUpdate())
		if err != nil {
			return err
		}
		if ref.Kind == rat.Tag {
			return rat.Errorf(rat.EINVALID, "move %q: tags cannot be moved: delete the tag and create it again", name)
		}
		if ref.Head != expectedHead {
			return rat.Errorf(rat.ECONFLICT, "%s: its head is now %s, not %s: reload and retry",
				op, rat.ShortID(ref.Head), rat.ShortID(expectedHead))
		}
		if err := s.commitExists(ctx, tx, op, newHead); err != nil {
			return err
		}
		if ref.Head == newHead {
			return nil
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM ref_tables WHERE ref = ?`, name); err != nil {
			return err
		}
		if err := s.fillRefTables(ctx, tx, name, newHead); err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, `UPDATE refs SET head = ? WHERE name = ?`, newHead, name)
		return err
	})
	return s.fail(op, err)
}
