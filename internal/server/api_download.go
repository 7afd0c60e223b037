package server

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
)

// queryParquet is POST /api/v1/query/parquet: the same request as POST
// /query, answered with the result as a Parquet file (at most the row
// limit), written by DuckDB. The query is checked as one SELECT first;
// the COPY around it is the server's, never the caller's.
func (s *Server) queryParquet(w http.ResponseWriter, r *http.Request) error {
	req, at, err := s.decodeQuery(r)
	if err != nil {
		return err
	}
	branch := req.Branch
	limit := req.Limit
	if limit <= 0 || limit > s.cfg.Limits.QueryRows {
		limit = s.cfg.Limits.QueryRows
	}
	if _, err := s.cfg.Store.Ref(r.Context(), branch); err != nil {
		return err
	}
	if err := s.tablesOnly(r.Context(), req.SQL); err != nil {
		return err
	}
	f, err := os.CreateTemp("", "rat-query-*.parquet")
	if err != nil {
		return fmt.Errorf("parquet download: %w", err)
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)

	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	start := time.Now()
	err = s.cfg.Lake.WithTables(ctx, branch, at, req.SQL, func(conn *sql.Conn, query string) error {
		// New lines keep a trailing line comment of the query from
		// swallowing the closing parenthesis.
		copySQL := fmt.Sprintf("COPY (SELECT * FROM (\n%s\n) LIMIT %d) TO %s (FORMAT parquet)", strings.TrimRight(strings.TrimSpace(query), ";"), limit, duckdb.Quote(path))
		if _, err := conn.ExecContext(ctx, copySQL); err != nil {
			return duckdb.UserError("query", err)
		}
		return nil
	})
	s.metrics.queryDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return rat.Errorf(rat.EINVALID, "query stopped after the time limit of %s: narrow it down or add a LIMIT", s.cfg.Limits.QueryTimeout)
		}
		return err
	}
	out, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("parquet download: %w", err)
	}
	defer out.Close()
	w.Header().Set("Content-Type", "application/vnd.apache.parquet")
	w.Header().Set("Content-Disposition", `attachment; filename="rat-query.parquet"`)
	_, err = io.Copy(w, out)
	return err
}
