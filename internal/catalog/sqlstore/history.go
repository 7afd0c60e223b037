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

// tablesAtCTE defines "latest": for every table changed along the
// first-parent chain of the commit bound to its one placeholder, its changes
// ranked newest first (rn = 1 is the newest). Every commit records its
// changes relative to its first parent, merges included, so the newest
// change on that chain is the table's state; a NULL metadata is a drop.
const tablesAtCTE = `WITH RECURSIVE chain(id, depth) AS (
	SELECT CAST(? AS TEXT), 0
	UNION ALL
	SELECT c.parent, chain.depth + 1 FROM commits c JOIN chain ON c.id = chain.id WHERE c.parent IS NOT NULL
), latest AS (
	SELECT cc.table_key, cc.metadata, cc.commit_id,
		ROW_NUMBER() OVER (PARTITION BY cc.table_key ORDER BY chain.depth) AS rn
	FROM commit_changes cc JOIN chain ON cc.commit_id = chain.id
)`

// ancestorsCTE defines "anc": the commit bound to its placeholder and all its
// ancestors through every parent, each once.
const ancestorsCTE = `anc(id) AS (
	SELECT CAST(? AS TEXT)
	UNION
	SELECT p.parent_id FROM commit_parents p JOIN anc ON p.commit_id = anc.id
)`

// Tables lists the tables at the head of a ref, sorted by identifier.
func (s *Store) Tables(ctx context.Context, ref string) ([]rat.TableEntry, error) {
	var out []rat.TableEntry
	err := s.retry(ctx, func() error {
		var err error
		out, err = s.scanEntries(ctx, s.db, `SELECT table_key, metadata, commit_id FROM ref_tables WHERE ref = ?`, ref)
		if err == nil && len(out) == 0 {
			_, err = s.readRef(ctx, s.db, ref, "")
		}
		return err
	})
	if err != nil {
		return nil, s.fail("list tables of "+ref, err)
	}
	return out, nil
}

// Table returns one table at the head of a ref.
func (s *Store) Table(ctx context.Context, ref string, id rat.TableID) (rat.TableEntry, error) {
	e := rat.TableEntry{Table: id}
	err := s.retry(ctx, func() error {
		err := s.queryRow(ctx, s.db, `SELECT metadata, commit_id FROM ref_tables WHERE ref = ? AND table_key = ?`,
			ref, id.String()).Scan(&e.Metadata, &e.CommitID)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		r, err := s.readRef(ctx, s.db, ref, "")
		if err != nil {
			return err
		}
		return rat.Errorf(rat.ENOTFOUND, "table %s not found on %s %q: list its tables with 'rat table list'", id, r.Kind, ref)
	})
	if err != nil {
		return rat.TableEntry{}, s.fail(fmt.Sprintf("read table %s on %s", id, ref), err)
	}
	return e, nil
}

// TablesAt lists the tables as of a commit (full id), sorted by identifier.
func (s *Store) TablesAt(ctx context.Context, commitID string) ([]rat.TableEntry, error) {
	op := "list tables at " + rat.ShortID(commitID)
	var out []rat.TableEntry
	err := s.retry(ctx, func() error {
		var err error
		out, err = s.scanEntries(ctx, s.db, tablesAtCTE+`
SELECT table_key, metadata, commit_id FROM latest WHERE rn = 1 AND metadata IS NOT NULL`, commitID)
		if err == nil && len(out) == 0 {
			err = s.commitExists(ctx, s.db, op, commitID)
		}
		return err
	})
	if err != nil {
		return nil, s.fail(op, err)
	}
	return out, nil
}

// scanEntries runs a query returning (table_key, metadata, commit_id) and
// sorts the entries by table.
func (s *Store) scanEntries(ctx context.Context, q querier, query string, args ...any) ([]rat.TableEntry, error) {
	rows, err := s.query(ctx, q, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rat.TableEntry
	for rows.Next() {
		var key string
		var e rat.TableEntry
		if err := rows.Scan(&key, &e.Metadata, &e.CommitID); err != nil {
			return nil, err
		}
		e.Table = splitKey(key)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b rat.TableEntry) int { return lessTable(a.Table, b.Table) })
	return out, nil
}

// minPrefix is the shortest commit id prefix GetCommit resolves.
const minPrefix = 6

// GetCommit returns a commit with its parents and changes. id is a full
// commit id or a unique prefix of at least 6 hex characters (any case).
func (s *Store) GetCommit(ctx context.Context, id string) (rat.Commit, error) {
	op := "read commit " + id
	var c rat.Commit
	err := s.retry(ctx, func() error {
		full, err := s.resolveCommit(ctx, id)
		if err != nil {
			return err
		}
		cs, err := s.loadCommits(ctx, `SELECT seq, id, author, message, created_us FROM commits WHERE id = ?`, full)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return commitNotFound(op, full)
		}
		c = cs[0]
		return nil
	})
	if err != nil {
		return rat.Commit{}, s.fail(op, err)
	}
	return c, nil
}

// resolveCommit turns a full id or a unique prefix into a full id.
func (s *Store) resolveCommit(ctx context.Context, id string) (string, error) {
	id = strings.ToLower(id)
	if !isHex(id) {
		return "", rat.Errorf(rat.EINVALID, "commit id %q is not valid: it holds only hex digits (0-9, a-f); list commits with 'rat log'", id)
	}
	if len(id) < minPrefix {
		return "", rat.Errorf(rat.EINVALID, "commit id %q is too short: give at least %d characters", id, minPrefix)
	}
	// Ids are lowercase hex, so every id starting with the prefix sorts in
	// [prefix, prefix+"g"): a range scan on the unique index.
	rows, err := s.query(ctx, s.db, `SELECT id FROM commits WHERE id >= ? AND id < ? ORDER BY id LIMIT 2`, id, id+"g")
	if err != nil {
		return "", err
	}
	var ids []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return "", err
		}
		ids = append(ids, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch {
	case len(ids) == 0:
		return "", rat.Errorf(rat.ENOTFOUND, "commit %s not found: list commits with 'rat log'", id)
	case len(ids) == 1 || ids[0] == id:
		return ids[0], nil
	}
	var n int
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*) FROM commits WHERE id >= ? AND id < ?`, id, id+"g").Scan(&n); err != nil {
		return "", err
	}
	return "", rat.Errorf(rat.EINVALID, "commit id %s is ambiguous: it matches %d commits; give more characters", id, n)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// Log returns head (a full commit id) and its ancestors through every
// parent, each once, newest first (by commit order), at most limit of them
// (0 means all).
func (s *Store) Log(ctx context.Context, head string, limit int) ([]rat.Commit, error) {
	op := "log " + rat.ShortID(head)
	if limit < 0 {
		return nil, rat.Errorf(rat.EINVALID, "%s: limit %d is negative: give 0 for all commits", op, limit)
	}
	q := `WITH RECURSIVE ` + ancestorsCTE + `
SELECT c.seq, c.id, c.author, c.message, c.created_us FROM commits c JOIN anc ON c.id = anc.id ORDER BY c.seq DESC`
	args := []any{head}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	var out []rat.Commit
	err := s.retry(ctx, func() error {
		var err error
		out, err = s.loadCommits(ctx, q, args...)
		if err == nil && len(out) == 0 {
			err = commitNotFound(op, head)
		}
		return err
	})
	if err != nil {
		return nil, s.fail(op, err)
	}
	return out, nil
}

// MergeBase returns the newest (highest commit order) common ancestor of two
// commits, given by full id.
func (s *Store) MergeBase(ctx context.Context, a, b string) (string, error) {
	op := fmt.Sprintf("merge base of %s and %s", rat.ShortID(a), rat.ShortID(b))
	var base string
	err := s.retry(ctx, func() error {
		err := s.queryRow(ctx, s.db, `WITH RECURSIVE `+ancestorsCTE+`, `+strings.ReplaceAll(ancestorsCTE, "anc", "bnc")+`
SELECT c.id FROM commits c JOIN anc ON anc.id = c.id JOIN bnc ON bnc.id = c.id ORDER BY c.seq DESC LIMIT 1`, a, b).Scan(&base)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		for _, id := range []string{a, b} {
			if err := s.commitExists(ctx, s.db, op, id); err != nil {
				return err
			}
		}
		return rat.Errorf(rat.ENOTFOUND, "%s: the commits have no common ancestor", op)
	})
	if err != nil {
		return "", s.fail(op, err)
	}
	return base, nil
}

// loadCommits runs a query returning (seq, id, author, message, created_us)
// rows and fills in each commit's parents and changes, keeping the query's
// order.
func (s *Store) loadCommits(ctx context.Context, query string, args ...any) ([]rat.Commit, error) {
	rows, err := s.query(ctx, s.db, query, args...)
	if err != nil {
		return nil, err
	}
	var out []rat.Commit
	for rows.Next() {
		var c rat.Commit
		var seq, us int64
		if err := rows.Scan(&seq, &c.ID, &c.Author, &c.Message, &us); err != nil {
			rows.Close()
			return nil, err
		}
		c.Time = fromMicros(us)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	idx := make(map[string]int, len(out))
	for i, c := range out {
		idx[c.ID] = i
	}
	err = Chunks(len(out), ChunkSize, func(lo, hi int) error {
		args := make([]any, hi-lo)
		for i := lo; i < hi; i++ {
			args[i-lo] = out[i].ID
		}
		in := placeholders(hi - lo)
		if err := s.eachRow(ctx, `SELECT commit_id, parent_id FROM commit_parents WHERE commit_id IN (`+in+`) ORDER BY commit_id, ord`,
			args, 2, func(col []sql.NullString) {
				c := &out[idx[col[0].String]]
				c.Parents = append(c.Parents, col[1].String)
			}); err != nil {
			return err
		}
		return s.eachRow(ctx, `SELECT commit_id, table_key, metadata FROM commit_changes WHERE commit_id IN (`+in+`)`,
			args, 3, func(col []sql.NullString) {
				c := &out[idx[col[0].String]]
				c.Changes = append(c.Changes, rat.TableChange{Table: splitKey(col[1].String), Metadata: col[2].String})
			})
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		slices.SortFunc(out[i].Changes, func(a, b rat.TableChange) int { return lessTable(a.Table, b.Table) })
	}
	return out, nil
}

// eachRow runs a read query returning ncols text columns (NULL allowed) and
// calls fn for each row; fn must not keep col.
func (s *Store) eachRow(ctx context.Context, query string, args []any, ncols int, fn func(col []sql.NullString)) error {
	rows, err := s.query(ctx, s.db, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	col := make([]sql.NullString, ncols)
	dest := make([]any, ncols)
	for i := range col {
		dest[i] = &col[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		fn(col)
	}
	return rows.Err()
}
