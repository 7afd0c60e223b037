package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ratdata/rat"
)

// SaveRun inserts or updates a run record.
func (s *Store) SaveRun(ctx context.Context, r rat.Run) error {
	var finished any
	if !r.Finished.IsZero() {
		finished = r.Finished.UnixMicro()
	}
	detail, err := rat.MarshalDetail(r.Detail)
	if err != nil {
		return s.fail("save run "+r.ID, err)
	}
	saved := true
	// A run with an owner is saved only while it runs: once another
	// process has ended it (owner lost), its owner cannot overwrite that.
	res, err := s.writeOne(ctx, `INSERT INTO runs (id, target, status, trigger, started_us, finished_us, detail, owner, heartbeat_us, lease_us)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_us = excluded.finished_us, detail = excluded.detail
WHERE runs.owner = '' OR runs.status = 'running'`,
		r.ID, r.Target, r.Status, r.Trigger, r.Started.UnixMicro(), finished, string(detail), r.Owner, unixMicro(r.Heartbeat), r.Lease.Microseconds())
	if err == nil {
		var n int64
		n, err = res.RowsAffected()
		saved = n > 0
	}
	if err == nil && !saved {
		return rat.Errorf(rat.ECONFLICT, "run %s was ended by another process (its owner was lost): 'rat runs show %s' tells why", r.ID, r.ID)
	}
	return s.fail("save run "+r.ID, err)
}

// runColumns are the columns scanRun reads.
const runColumns = `id, target, status, trigger, started_us, finished_us, detail, owner, heartbeat_us, lease_us, cancel_requested`

func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Runs lists run records, newest first.
func (s *Store) Runs(ctx context.Context, f rat.RunFilter) ([]rat.Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.query(ctx, s.db, `SELECT `+runColumns+` FROM runs
WHERE (? = '' OR target = ?) AND (? = '' OR status = ?)
ORDER BY started_us DESC, id DESC LIMIT ?`, f.Target, f.Target, f.Status, f.Status, limit)
	if err != nil {
		return nil, s.fail("list runs", err)
	}
	defer rows.Close()
	var out []rat.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, s.fail("list runs", err)
		}
		out = append(out, r)
	}
	return out, s.fail("list runs", rows.Err())
}

// Run returns one run record.
func (s *Store) Run(ctx context.Context, id string) (rat.Run, error) {
	row := s.queryRow(ctx, s.db, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id)
	r, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return rat.Run{}, rat.Errorf(rat.ENOTFOUND, "run %s not found: list runs with 'rat runs list'", id)
	}
	return r, s.fail("read run "+id, err)
}

// RunDocument returns a run's detail as stored: the JSON document of
// rat.RunDetail, passed through without decoding (the API's run document,
// which clients poll while a run of thousands of nodes goes on).
func (s *Store) RunDocument(ctx context.Context, id string) ([]byte, error) {
	var detail string
	err := s.queryRow(ctx, s.db, `SELECT detail FROM runs WHERE id = ?`, id).Scan(&detail)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, rat.Errorf(rat.ENOTFOUND, "run %s not found: list runs with 'rat runs list'", id)
	}
	if err != nil {
		return nil, s.fail("read run "+id, err)
	}
	return []byte(detail), nil
}

func scanRun(row interface{ Scan(...any) error }) (rat.Run, error) {
	var r rat.Run
	var started, heartbeat, lease, cancel int64
	var finished sql.NullInt64
	var detail string
	if err := row.Scan(&r.ID, &r.Target, &r.Status, &r.Trigger, &started, &finished, &detail, &r.Owner, &heartbeat, &lease, &cancel); err != nil {
		return rat.Run{}, err
	}
	r.Started = time.UnixMicro(started).UTC()
	if heartbeat != 0 {
		r.Heartbeat = time.UnixMicro(heartbeat).UTC()
	}
	r.Lease = time.Duration(lease) * time.Microsecond
	r.CancelRequested = cancel != 0
	if finished.Valid {
		r.Finished = time.UnixMicro(finished.Int64).UTC()
	}
	d, err := rat.UnmarshalDetail([]byte(detail))
	if err != nil {
		// One damaged record must not hide the others: it shows what it is.
		d = rat.RunDetail{ID: r.ID, Target: r.Target, Status: r.Status, Trigger: r.Trigger, Started: r.Started,
			Error: fmt.Sprintf("the record's detail cannot be read: %v", err)}
	}
	r.Detail = d
	return r, nil
}

// PruneRuns deletes the records of runs that finished before before, except
// the newest successful run of each target (state:modified compares with
// it). It returns how many it deleted.
func (s *Store) PruneRuns(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `DELETE FROM runs WHERE finished_us IS NOT NULL AND finished_us < ?
AND id NOT IN (SELECT max(id) FROM runs WHERE status = 'success' GROUP BY target)`, before.UnixMicro())
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, `DELETE FROM run_logs WHERE run_id NOT IN (SELECT id FROM runs)`)
		return err
	})
	return n, s.fail("prune runs", err)
}

// AppendRunLogs stores log lines of a run; a line whose seq is already
// stored is kept as it was (a retried write does not duplicate lines).
func (s *Store) AppendRunLogs(ctx context.Context, runID string, lines []rat.RunLogLine) error {
	if len(lines) == 0 {
		return nil
	}
	// Many lines a statement: a flush of a big run's log is a few round
	// trips, not one a line.
	err := s.write(ctx, func(tx *sql.Tx) error {
		return Chunks(len(lines), ChunkSize, func(lo, hi int) error {
			args := make([]any, 0, 6*(hi-lo))
			for _, l := range lines[lo:hi] {
				args = append(args, runID, l.Seq, l.At.UnixMicro(), l.Level, l.Pipeline, l.Message)
			}
			_, err := s.exec(ctx, tx, `INSERT INTO run_logs (run_id, seq, at_us, level, pipeline, message) VALUES `+
				RowPlaceholders(hi-lo, 6)+` ON CONFLICT (run_id, seq) DO NOTHING`, args...)
			return err
		})
	})
	return s.fail("write the log of run "+runID, err)
}

// RunLogs returns up to limit log lines of a run with seq above after.
func (s *Store) RunLogs(ctx context.Context, runID string, after int64, limit int) ([]rat.RunLogLine, error) {
	if limit <= 0 {
		limit = 10_000
	}
	rows, err := s.query(ctx, s.db, `SELECT seq, at_us, level, pipeline, message FROM run_logs
WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`, runID, after, limit)
	if err != nil {
		return nil, s.fail("read the log of run "+runID, err)
	}
	defer rows.Close()
	out := []rat.RunLogLine{}
	for rows.Next() {
		var l rat.RunLogLine
		var us int64
		if err := rows.Scan(&l.Seq, &us, &l.Level, &l.Pipeline, &l.Message); err != nil {
			return nil, s.fail("read the log of run "+runID, err)
		}
		l.At = time.UnixMicro(us).UTC()
		out = append(out, l)
	}
	return out, s.fail("read the log of run "+runID, rows.Err())
}

// UpdateRun changes a run record in one transaction: fn gets the stored
// record and edits it. Concurrent updates of one run (the nodes of a run
// finishing on several workers) are serialised, none is lost.
func (s *Store) UpdateRun(ctx context.Context, id string, fn func(*rat.Run) error) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := scanRun(s.queryRow(ctx, tx, `SELECT `+runColumns+` FROM runs WHERE id = ?`+s.d.forUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return rat.Errorf(rat.ENOTFOUND, "run %s not found", id)
		}
		if err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
		var finished any
		if !r.Finished.IsZero() {
			finished = r.Finished.UnixMicro()
		}
		detail, err := rat.MarshalDetail(r.Detail)
		if err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, `UPDATE runs SET status = ?, finished_us = ?, detail = ? WHERE id = ?`, r.Status, finished, string(detail), id)
		return err
	})
	return s.fail("update run "+id, err)
}
