package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/ratdata/rat"
)

// catchUp brings dst, a finished copy of src (or one catching up, in
// phase), to src's current state; see "Catch-up" in copy.go. It reports
// whether it wrote anything (false: the source has not changed since the
// copy); the caller then finishes the copy.
func catchUp(ctx context.Context, src, dst *Store, id, target string, prog map[string]progress, phase string, report func(string, int64, int64)) (bool, error) {
	if err := dst.checkUnchanged(ctx, prog, target); err != nil {
		return false, err
	}
	var (
		sr  *CopyReport // the source's checksums, when read
		err error
	)
	if phase == "" {
		rep, err := Checksums(ctx, src)
		if err != nil {
			return false, err
		}
		if sameAsRecorded(rep, prog) {
			return false, nil
		}
		sr = &rep
		if err := dst.setPhase(ctx, id, phaseUpsert, prog, unchanged(rep, prog)); err != nil {
			return false, err
		}
		phase = phaseUpsert
	}
	if phase == phaseUpsert {
		var since *int64 // the new commits are those after this sequence number, when known
		for _, t := range copyTables {
			p := prog[t.name]
			switch {
			case p.done:
			case t.appendOnly && p.lastKey == "":
				prog[t.name], since, err = appendRows(ctx, src, dst, t, id, target, p, sr, report)
			case t.byCommit != "" && since != nil && p.lastKey == "":
				prog[t.name], err = commitRows(ctx, src, dst, t, id, target, p, *since, sr, report)
			default:
				prog[t.name], err = syncRows(ctx, src, dst, t, id, target, p, false, report)
			}
			if err != nil {
				return false, err
			}
		}
		if err := dst.setPhase(ctx, id, phaseDelete, prog, nil); err != nil {
			return false, err
		}
	}
	for i := len(copyTables) - 1; i >= 0; i-- {
		t := copyTables[i]
		p := prog[t.name]
		if p.done {
			continue
		}
		// After the upsert the target holds every row of the source: as
		// many rows on both sides means none to delete.
		n, err := src.count(ctx, src.db, t.name)
		if err != nil {
			return false, src.fail("copy catalog: count the source's "+t.name, err)
		}
		if n == p.copied {
			continue
		}
		if prog[t.name], err = syncRows(ctx, src, dst, t, id, target, p, true, report); err != nil {
			return false, err
		}
	}
	return true, nil
}

// unchanged returns the tables whose rows at the source (rep) are those
// the copy recorded (prog): a catch-up skips them.
func unchanged(rep CopyReport, prog map[string]progress) map[string]bool {
	same := map[string]bool{}
	for _, t := range rep.Tables {
		p := prog[t.Table]
		same[t.Table] = p.copied == t.Rows && p.sum.String() == t.Checksum
	}
	return same
}

// appendRows catches up an append-only table (commits): only the rows
// after the target's last key are read and inserted; since is that key
// (the new rows are those after it). If that does not give the table the
// source's checksum (sr, or read now) — a row committed late below that
// key, by a transaction of a Postgres source still open during the first
// pass — the table is walked whole and since is nil.
func appendRows(ctx context.Context, src, dst *Store, t copyTable, id, target string, p progress, sr *CopyReport, report func(string, int64, int64)) (progress, *int64, error) {
	last, err := dst.lastKey(ctx, t)
	if err != nil {
		return p, nil, dst.fail("copy catalog: read the target's last "+t.name, err)
	}
	p.lastKey = last
	q, err := syncRows(ctx, src, dst, t, id, target, p, false, report)
	if err != nil {
		return q, nil, err
	}
	if same, err := sameAsSource(ctx, src, t, q, sr); err != nil || same {
		var since int64
		if last != "" {
			key, _ := t.decodeKey(last)
			since = key[0].(int64)
		}
		return q, &since, err
	}
	q.lastKey, q.done = "", false
	q, err = syncRows(ctx, src, dst, t, id, target, q, false, report)
	return q, nil, err
}

// commitRows catches up a table of rows written with their commit
// (byCommit): the rows of the commits after since are inserted, in the
// walk's order, so that a catch-up stopped here resumes with a walk after
// the last one. If that does not give the table the source's checksum,
// the table is walked whole.
func commitRows(ctx context.Context, src, dst *Store, t copyTable, id, target string, p progress, since int64, sr *CopyReport, report func(string, int64, int64)) (progress, error) {
	filter := &rowFilter{cond: t.byCommit + ` IN (SELECT id FROM commits WHERE seq > ?)`, args: []any{since}}
	q, err := copyStream(ctx, src, dst, t, id, target, p, report, func(after []any, fn func(row []any) error) error {
		return src.streamRows(ctx, t, after, true, 0, filter, fn)
	})
	if err != nil {
		return q, err
	}
	if same, err := sameAsSource(ctx, src, t, q, sr); err != nil || same {
		return q, err
	}
	q.lastKey, q.done = "", false
	return syncRows(ctx, src, dst, t, id, target, q, false, report)
}

// sameAsSource reports whether the target's table, as its progress p
// records it, has the source's rows and checksum (sr, or read now).
func sameAsSource(ctx context.Context, src *Store, t copyTable, p progress, sr *CopyReport) (bool, error) {
	var want TableReport
	if sr != nil {
		want = sr.Tables[slices.IndexFunc(sr.Tables, func(r TableReport) bool { return r.Table == t.name })]
	} else {
		n, sum, err := src.tableChecksum(ctx, t)
		if err != nil {
			return false, src.fail("checksum "+t.name, err)
		}
		want = TableReport{Rows: n, Checksum: sum.String()}
	}
	return p.copied == want.Rows && p.sum.String() == want.Checksum, nil
}

// lastKey is the encoded key of t's last row ("" for an empty table); t's
// key is one integer column (appendOnly).
func (s *Store) lastKey(ctx context.Context, t copyTable) (string, error) {
	var last sql.NullInt64
	if err := s.queryRow(ctx, s.db, `SELECT MAX(`+t.cols[0].name+`) FROM `+t.name).Scan(&last); err != nil || !last.Valid {
		return "", err
	}
	return t.encodeKey([]any{last})
}

// sameAsRecorded reports whether every table of rep has the rows and
// checksum prog records.
func sameAsRecorded(rep CopyReport, prog map[string]progress) bool {
	for _, t := range rep.Tables {
		if p := prog[t.Table]; p.copied != t.Rows || p.sum.String() != t.Checksum {
			return false
		}
	}
	return true
}

// checkUnchanged fails unless every table of the target has the rows and
// checksum that the copy recorded in prog: else something else wrote to
// it since the copy, and a catch-up would mix the two.
func (s *Store) checkUnchanged(ctx context.Context, prog map[string]progress, target string) error {
	rep, err := checksums(ctx, s, "target")
	if err != nil {
		return err
	}
	var changed []string
	for _, t := range rep.Tables {
		if p := prog[t.Table]; p.copied != t.Rows || p.sum.String() != t.Checksum {
			changed = append(changed, fmt.Sprintf("%s (%d rows, %d after the copy)", t.Table, t.Rows, p.copied))
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return rat.Errorf(rat.ECONFLICT, "%s was written to since the source was copied into it: %s differ from what the copy left, so it cannot catch up with the source (is it in use already?): keep using it, or copy into a new, empty database",
		target, strings.Join(changed, ", "))
}

// setPhase starts a phase of a catch-up: every table walked again from the
// start, but those in skip (marked done). prog is updated to match.
func (s *Store) setPhase(ctx context.Context, id, phase string, prog map[string]progress, skip map[string]bool) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `UPDATE copy_progress SET last_key = ?, done = 0 WHERE source = ? AND table_name = ''`, phase, id); err != nil {
			return err
		}
		for name := range prog {
			if _, err := s.exec(ctx, tx, `UPDATE copy_progress SET last_key = '', done = ? WHERE source = ? AND table_name = ?`, boolInt(skip[name]), id, name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.fail("copy catalog: start "+phase, err)
	}
	for name, p := range prog {
		p.lastKey, p.done = "", skip[name]
		prog[name] = p
	}
	return nil
}

// syncRows walks t on both sides from where p says the catch-up got to
// the end, a batch of at most copyBatch rows of each side per
// transaction, and makes the target's rows the source's: it inserts and
// updates, or with deletes it deletes. It returns the table's final
// progress, whose rows and checksum stay those of the target's table.
func syncRows(ctx context.Context, src, dst *Store, t copyTable, id, target string, p progress, deletes bool, report func(string, int64, int64)) (progress, error) {
	total, after, err := startTable(ctx, src, t, p)
	if err != nil {
		return p, err
	}
	var walked int64
	for {
		sr, err := src.readRows(ctx, t, after)
		if err != nil {
			return p, src.fail("copy catalog: read the source's "+t.name, err)
		}
		dr, err := dst.readRows(ctx, t, after)
		if err != nil {
			return p, dst.fail("copy catalog: read the target's "+t.name, err)
		}
		// Rows up to the smaller last key of a full batch are known on
		// both sides; without a full batch, every row left is.
		var upper []any
		for _, rows := range [][][]any{sr, dr} {
			if len(rows) == copyBatch {
				if last := rows[len(rows)-1]; upper == nil || t.compareKeys(last, upper) < 0 {
					upper = last[:t.keys]
				}
			}
		}
		if upper != nil {
			sr = slices.DeleteFunc(sr, func(r []any) bool { return t.compareKeys(r, upper) > 0 })
			dr = slices.DeleteFunc(dr, func(r []any) bool { return t.compareKeys(r, upper) > 0 })
		}
		var ins, upd, del [][]any // upd: the source's rows; old: the target's
		var old [][]any
		for i, j := 0, 0; i < len(sr) || j < len(dr); {
			c := 0
			switch {
			case i == len(sr):
				c = 1
			case j == len(dr):
				c = -1
			default:
				c = t.compareKeys(sr[i], dr[j])
			}
			switch {
			case c < 0:
				ins = append(ins, sr[i])
				i++
			case c > 0:
				del = append(del, dr[j])
				j++
			default:
				if !bytes.Equal(encodeRow(nil, sr[i]), encodeRow(nil, dr[j])) {
					upd, old = append(upd, sr[i]), append(old, dr[j])
				}
				i, j = i+1, j+1
			}
		}
		next := p
		next.done = upper == nil
		if upper != nil {
			if next.lastKey, err = t.encodeKey(upper); err != nil {
				return p, err
			}
		}
		if deletes {
			ins, upd, old = nil, nil, nil
			slices.Reverse(del) // a commit before its parent
			for _, r := range del {
				next.sum.sub(encodeRow(nil, r))
				next.copied--
			}
		} else {
			del = nil
			for _, r := range ins {
				next.sum.add(encodeRow(nil, r))
				next.copied++
			}
			for i, r := range upd {
				next.sum.sub(encodeRow(nil, old[i]))
				next.sum.add(encodeRow(nil, r))
			}
		}
		err = dst.writeBatch(ctx, t, id, next, func(tx *sql.Tx) error {
			for lo := 0; lo < len(ins); lo += copyBatch {
				hi := min(lo+copyBatch, len(ins))
				var args []any
				for _, r := range ins[lo:hi] {
					args = append(args, r...)
				}
				if _, err := dst.exec(ctx, tx, t.insert(dst.d, hi-lo), args...); err != nil {
					return err
				}
			}
			for _, r := range upd {
				if _, err := dst.exec(ctx, tx, t.update(), append(slices.Clone(r[t.keys:]), r[:t.keys]...)...); err != nil {
					return err
				}
			}
			for _, r := range del {
				if _, err := dst.exec(ctx, tx, `DELETE FROM `+t.name+` WHERE `+t.keyMatch(), r[:t.keys]...); err != nil {
					return err
				}
			}
			return nil
		})
		if dst.d.classify(err) == UniqueViolation {
			return p, rat.Errorf(rat.ECONFLICT, "copy catalog: %s holds rows of %s that the catch-up writes: was it written to during the catch-up? Copy into a new, empty database: %w", target, t.name, err)
		}
		if err != nil {
			return p, dst.fail("copy catalog: catch up "+t.name, err)
		}
		p = next
		walked += int64(len(sr))
		if report != nil {
			done := min(walked, total)
			if deletes || p.done {
				done = total
			}
			report(t.name, done, total)
		}
		if p.done {
			return p, nil
		}
		after = upper
	}
}

// readRows reads at most copyBatch rows of t after the key after, in bytes
// order.
func (s *Store) readRows(ctx context.Context, t copyTable, after []any) ([][]any, error) {
	var out [][]any
	err := s.streamRows(ctx, t, after, true, copyBatch, nil, func(row []any) error {
		out = append(out, slices.Clone(row))
		return nil
	})
	return out, err
}

// compareKeys compares the keys of two rows of t (or keys alone) as
// readRows orders them: integers by value, text by bytes.
func (t copyTable) compareKeys(a, b []any) int {
	for i, c := range t.cols[:t.keys] {
		var r int
		if c.integer {
			r = cmp.Compare(a[i].(sql.NullInt64).Int64, b[i].(sql.NullInt64).Int64)
		} else {
			r = strings.Compare(a[i].(sql.NullString).String, b[i].(sql.NullString).String)
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

// keyMatch is the WHERE condition selecting one row of t by its key.
func (t copyTable) keyMatch() string {
	conds := make([]string, t.keys)
	for i, c := range t.cols[:t.keys] {
		conds[i] = c.name + ` = ?`
	}
	return strings.Join(conds, ` AND `)
}

// update is the statement rewriting the columns other than the key of one
// row of t: their values, then the key's.
func (t copyTable) update() string {
	sets := make([]string, 0, len(t.cols)-t.keys)
	for _, c := range t.cols[t.keys:] {
		sets = append(sets, c.name+` = ?`)
	}
	return `UPDATE ` + t.name + ` SET ` + strings.Join(sets, `, `) + ` WHERE ` + t.keyMatch()
}
