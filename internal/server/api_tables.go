package server

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
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

func (s *Server) getTable(w http.ResponseWriter, r *http.Request) error {
	id, err := tableParam(r)
	if err != nil {
		return err
	}
	info, err := s.cfg.Lake.Describe(r.Context(), s.branchParam(r), id, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) tableSnapshots(w http.ResponseWriter, r *http.Request) error {
	id, err := tableParam(r)
	if err != nil {
		return err
	}
	info, err := s.cfg.Lake.Describe(r.Context(), s.branchParam(r), id, false)
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
	res, err := s.runQuery(r.Context(), s.branchParam(r), at, "SELECT * FROM "+id.String(), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// queryRequest is the body of POST /query.
type queryRequest struct {
	SQL    string `json:"sql"`
	Branch string `json:"branch"`
	At     string `json:"at"`
	Limit  int    `json:"limit"`
}

// queryResult is a query's answer: at most the row limit, and whether rows
// were left out.
type queryResult struct {
	Columns   []queryColumn `json:"columns"`
	Rows      [][]any       `json:"rows"`
	Truncated bool          `json:"truncated"`
	ElapsedMS int64         `json:"elapsed_ms"`
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
	res, err := s.runQuery(r.Context(), req.Branch, at, req.SQL, req.Limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// runQuery runs one read-only SELECT (lake.Query refuses anything else)
// with the row limit (0 or more than the server's = the server's) and the
// time limit.
func (s *Server) runQuery(ctx context.Context, ref string, at lake.At, query string, limit int) (*queryResult, error) {
	if limit <= 0 || limit > s.cfg.Limits.QueryRows {
		limit = s.cfg.Limits.QueryRows
	}
	if _, err := s.cfg.Store.Ref(ctx, ref); err != nil {
		return nil, err
	}
	if err := s.tablesOnly(ctx, query); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Limits.QueryTimeout)
	defer cancel()
	start := time.Now()
	res := &queryResult{Columns: []queryColumn{}, Rows: [][]any{}}
	err := s.cfg.Lake.Query(ctx, ref, at, query, func(rows *sql.Rows) error {
		types, err := rows.ColumnTypes()
		if err != nil {
			return err
		}
		for _, t := range types {
			res.Columns = append(res.Columns, queryColumn{Name: t.Name(), Type: t.DatabaseTypeName()})
		}
		vals := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if len(res.Rows) == limit {
				res.Truncated = true
				return nil
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			row := make([]any, len(vals))
			for i, v := range vals {
				row[i] = duckdb.JSON(v)
			}
			res.Rows = append(res.Rows, row)
		}
		return nil
	})
	elapsed := time.Since(start)
	s.metrics.queryDuration.Observe(elapsed.Seconds())
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, rat.Errorf(rat.EINVALID, "query stopped after the time limit of %s: narrow it down or add a LIMIT", s.cfg.Limits.QueryTimeout)
		}
		return nil, err
	}
	res.ElapsedMS = elapsed.Milliseconds()
	return res, nil
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
