package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/metrics"
)

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) error {
	branch := s.branchParam(r)
	tables, err := s.summaries(r.Context(), branch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"branch": branch, "tables": tables})
	return nil
}

// describeParam describes the table the request names, on its branch.
func (s *Server) describeParam(r *http.Request) (lake.TableInfo, error) {
	id, err := tableParam(r)
	if err != nil {
		return lake.TableInfo{}, err
	}
	return s.cfg.Lake.Describe(r.Context(), s.branchParam(r), id, false)
}

func (s *Server) getTable(w http.ResponseWriter, r *http.Request) error {
	info, err := s.describeParam(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) tableSnapshots(w http.ResponseWriter, r *http.Request) error {
	info, err := s.describeParam(r)
	if err != nil {
		return err
	}
	snaps := info.Snapshots
	if snaps == nil {
		snaps = []lake.SnapshotInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"table": info.Table, "ref": info.Ref, "snapshots": snaps})
	return nil
}

func (s *Server) previewTable(w http.ResponseWriter, r *http.Request) error {
	id, err := tableParam(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 100)
	if err != nil {
		return err
	}
	// ?at= is a snapshot id or a time: a read token can time-travel too.
	at, err := lake.ParseAt(r.URL.Query().Get("at"))
	if err != nil {
		return err
	}
	// id is validated (identifiers only), so it is safe in the SQL text.
	return s.streamQuery(w, r, s.branchParam(r), at, "SELECT * FROM "+id.String(), limit)
}

// queryRequest is the body of POST /query.
type queryRequest struct {
	SQL    string `json:"sql"`
	Branch string `json:"branch"`
	At     string `json:"at"`
	Limit  int    `json:"limit"`
}

type queryColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) error {
	req, at, err := s.decodeQuery(r)
	if err != nil {
		return err
	}
	return s.streamQuery(w, r, req.Branch, at, req.SQL, req.Limit)
}

// streamQuery runs one read-only SELECT (lake.WithTables refuses anything else)
// and writes its rows (resultStream) while DuckDB produces them
// (duckdb.Stream: DuckDB holds no result, and stops reading at the first
// row not needed), within the row limit (0 or more than the server's = the
// server's), the server's byte cap and the time limit. The time limit covers the whole request, writing
// included: a client that stops reading loses its connection, and the
// DuckDB connection is free again.
func (s *Server) streamQuery(w http.ResponseWriter, r *http.Request, ref string, at lake.At, query string, limit int) error {
	start := time.Now()
	deadline := start.Add(s.cfg.Limits.QueryTimeout)
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	out := newResultStream(w, s.cfg.Limits.ResultBytes)
	// A little past the deadline, so that the end of a cut answer can go out.
	if err := out.rc.SetWriteDeadline(deadline.Add(resultWriteGrace)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("write deadline: %w", err)
	}
	if limit <= 0 || limit > s.cfg.Limits.QueryRows {
		limit = s.cfg.Limits.QueryRows
	}
	var cut, why string
	var writeErr error
	err := s.runQuery(ctx, ref, at, query, func(cols []duckdb.Column) error {
		head := make([]queryColumn, len(cols))
		for i, c := range cols {
			head[i] = queryColumn{Name: c.Name, Type: c.Type}
		}
		writeErr = out.head(head)
		return writeErr
	}, func(vals []any) error {
		// Called while DuckDB runs the query: it stops reading when
		// this returns ErrStop.
		if out.rows == limit {
			cut, why = cutRows, s.rowLimit(limit)
			return duckdb.ErrStop
		}
		if err := out.row(vals); errors.Is(err, errOverCap) {
			cut, why = cutBytes, s.overCap(out.rows)
			return duckdb.ErrStop
		} else if err != nil {
			writeErr = err
			return err
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			cut, why = cutTime, s.timeLimit()
			return duckdb.ErrStop
		} else if ctx.Err() != nil {
			writeErr = ctx.Err() // the client went away
			return writeErr
		}
		return nil
	})
	if err != nil && writeErr == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && out.rows > 0 {
		// Stopped at the time limit between two rows.
		cut, why, err = cutTime, s.timeLimit(), nil
	}
	elapsed := time.Since(start)
	s.metrics.QueryDone(queryKind(r), elapsed)
	if writeErr != nil {
		// The client is gone or too slow: end the connection, so that a
		// cut answer is never taken for a whole one.
		panic(http.ErrAbortHandler)
	}
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = rat.Errorf(rat.EINVALID, "%s", s.timeLimit())
	}
	var errBody *errorBody
	if err != nil {
		if !out.started {
			out.discard()
			return err
		}
		cut, why, errBody = cutError, "the query failed after rows were sent: see error", s.safeError(r, err)
	}
	if out.end(cut, why, elapsed.Milliseconds(), errBody) != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}

// runQuery runs one read-only SELECT on ref (lake.WithTables refuses
// anything else; tablesOnly refuses files) through duckdb.Stream: head gets
// the columns, row each row while DuckDB produces it. It returns the
// error of head or row as they returned it, DuckDB's as a user error, or
// nil when row stopped the query with duckdb.ErrStop.
func (s *Server) runQuery(ctx context.Context, ref string, at lake.At, query string, head func([]duckdb.Column) error, row func([]any) error) error {
	if _, err := s.cfg.Store.Ref(ctx, ref); err != nil {
		return err
	}
	if err := s.tablesOnly(ctx, query); err != nil {
		return err
	}
	var fnErr error
	return s.cfg.Lake.WithTables(ctx, ref, at, query, func(conn *sql.Conn, query string) error {
		err := s.cfg.Lake.DB().Stream(ctx, conn, query, func(cols []duckdb.Column) error {
			fnErr = head(cols)
			return fnErr
		}, func(vals []any) error {
			err := row(vals)
			if err != nil && !errors.Is(err, duckdb.ErrStop) {
				fnErr = err
			}
			return err
		})
		if err != nil && fnErr == nil {
			return duckdb.UserError("query", err)
		}
		return err
	})
}

// resultWriteGrace is how long after its time limit an answer may still
// be written: the end of one cut at the limit.
const resultWriteGrace = 5 * time.Second

func (s *Server) timeLimit() string {
	return fmt.Sprintf("query stopped after the time limit of %s: narrow it down or add a LIMIT", s.cfg.Limits.QueryTimeout)
}

// rowLimit explains a result cut at its row limit.
func (s *Server) rowLimit(limit int) string {
	if limit < s.cfg.Limits.QueryRows {
		return fmt.Sprintf("stopped at the limit of %d rows asked for (the server allows up to %d)", limit, s.cfg.Limits.QueryRows)
	}
	return fmt.Sprintf("stopped at the server's row limit of %d: narrow the query down or aggregate", limit)
}

// overCap explains a result cut at the server's byte cap.
func (s *Server) overCap(rows int) string {
	what := "stopped at"
	if rows == 0 {
		what = "the first row alone is over"
	}
	return fmt.Sprintf("%s the server's result size cap of %s (max_result_bytes): select fewer or smaller columns, aggregate, or add a LIMIT",
		what, sizeText(s.cfg.Limits.ResultBytes))
}

// tablesOnly refuses a query that reads anything but tables: files
// through table functions (read_text, read_csv, …) or paths. A token
// that may run queries must not read the server's files.
func (s *Server) tablesOnly(ctx context.Context, query string) error {
	st, err := s.cfg.Lake.DB().Parse(ctx, query)
	if err != nil {
		return err
	}
	if out := st.Outside(); len(out) > 0 {
		return rat.Errorf(rat.EINVALID, "queries through the API read tables only, and this one reads %s: query tables as layer.name (files come in through landing zones, or 'rat load' on the server)", strings.Join(out, ", "))
	}
	return nil
}

// decodeQuery reads a query request: its SQL, limit, time travel, and its
// branch (the server's when not given).
func (s *Server) decodeQuery(r *http.Request) (queryRequest, lake.At, error) {
	var req queryRequest
	if err := decode(r, &req); err != nil {
		return req, lake.At{}, err
	}
	if strings.TrimSpace(req.SQL) == "" {
		return req, lake.At{}, rat.Errorf(rat.EINVALID, "sql is empty: send {\"sql\": \"SELECT ...\"}")
	}
	if req.Limit < 0 {
		return req, lake.At{}, rat.Errorf(rat.EINVALID, "limit %d: want a positive number of rows", req.Limit)
	}
	at, err := lake.ParseAt(req.At)
	if err != nil {
		return req, lake.At{}, err
	}
	if req.Branch == "" {
		req.Branch = s.cfg.Branch
	}
	return req, at, nil
}

// queryKind is a query's kind for rat_query_duration_seconds: cli when
// rat's own client asks (its User-Agent), api otherwise.
func queryKind(r *http.Request) string {
	if strings.HasPrefix(r.UserAgent(), "rat-client/") {
		return metrics.QueryCLI
	}
	return metrics.QueryAPI
}
