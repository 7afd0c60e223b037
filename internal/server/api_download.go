package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
)

// queryParquet is POST /api/v1/query/parquet: the same request as POST
// /query, answered with the result as a Parquet file (at most the row
// limit), written by DuckDB (duckdb.Export). The query is checked as one
// SELECT first; the export around it is the server's, never the caller's.
// A result over the server's byte cap is refused (413) rather than cut:
// the file is whole before anything is sent, and a file that silently
// lacks rows is worse than none. DuckDB stops reading at the first row over the cap.
// The time limit covers the whole request.
func (s *Server) queryParquet(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	deadline := start.Add(s.cfg.Limits.QueryTimeout)
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(deadline.Add(resultWriteGrace)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("write deadline: %w", err)
	}
	req, at, err := s.decodeQuery(r)
	if err != nil {
		return err
	}
	branch := req.Branch
	limit := req.Limit
	if limit <= 0 || limit > s.cfg.Limits.QueryRows {
		limit = s.cfg.Limits.QueryRows
	}
	if _, err := s.cfg.Store.Ref(ctx, branch); err != nil {
		return err
	}
	if err := s.tablesOnly(ctx, req.SQL); err != nil {
		return err
	}
	f, err := os.CreateTemp("", "rat-query-*.parquet")
	if err != nil {
		return fmt.Errorf("parquet download: %w", err)
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)

	err = s.cfg.Lake.WithTables(ctx, branch, at, req.SQL, func(conn *sql.Conn, query string) error {
		// DuckDB writes the file while the rows pass through the watch,
		// which counts their size about as the JSON answer would: over
		// the cap it stops DuckDB, and the request is refused. Rows past
		// the row limit do not count.
		var rows int
		var size int64
		var buf []byte
		w, err := s.cfg.Lake.DB().Watch(ctx, conn, query, func(vals []any) (bool, error) {
			if rows++; rows > limit {
				return false, nil
			}
			for _, v := range vals {
				if str, ok := v.(string); ok {
					size += int64(len(str)) + 2 // quoted; escapes not counted
					continue
				}
				buf = appendValue(buf[:0], v)
				size += int64(len(buf))
			}
			if size > s.cfg.Limits.ResultBytes {
				return false, errOverCap
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if _, err := duckdb.Export(w.Ctx, conn, w.SQL, path, duckdb.ExportOptions{Limit: limit}); err != nil {
			if err := w.Err(err); errors.Is(err, errOverCap) {
				return s.parquetTooLarge()
			}
			return duckdb.UserError("query", err)
		}
		return nil
	})
	s.metrics.QueryDone(queryKind(r), time.Since(start))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return rat.Errorf(rat.EINVALID, "%s", s.timeLimit())
		}
		return err
	}
	out, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("parquet download: %w", err)
	}
	defer out.Close()
	st, err := out.Stat()
	if err != nil {
		return fmt.Errorf("parquet download: %w", err)
	}
	if st.Size() > s.cfg.Limits.ResultBytes {
		return s.parquetTooLarge()
	}
	w.Header().Set("Content-Type", "application/vnd.apache.parquet")
	w.Header().Set("Content-Disposition", `attachment; filename="rat-query.parquet"`)
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	if _, err := io.Copy(w, out); err != nil {
		panic(http.ErrAbortHandler) // the client is gone or too slow; the status went out
	}
	return nil
}

// parquetTooLarge is the 413 of a Parquet download over the byte cap.
func (s *Server) parquetTooLarge() error {
	return rat.Errorf(codeTooLarge, "the result is over the server's result size cap of %s (max_result_bytes, counted as text before compression): select fewer or smaller columns, aggregate, or lower the limit",
		sizeText(s.cfg.Limits.ResultBytes))
}
