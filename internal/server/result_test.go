package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// wideRows is a computed result of 20 rows of about 1 KB each.
const wideRows = "SELECT range AS i, repeat('x', 1000) AS s FROM range(20) ORDER BY i"

// rowsEnd is where the rows of a JSON answer end: its size as the byte cap
// counts it.
func rowsEnd(t *testing.T, raw string) int {
	t.Helper()
	i := strings.Index(raw, "\n],\"truncated\":")
	if i < 0 {
		t.Fatalf("no end of rows in %.200q", raw)
	}
	return i
}

// TestQueryResultBytes: the answer is capped in bytes, not only rows: one
// that fits exactly is whole; one byte less cuts the last row and says
// why, naming the cap; a first row over the cap leaves no rows.
func TestQueryResultBytes(t *testing.T) {
	t.Parallel()
	full := newTestEnv(t, nil, nil)
	whole := full.want(full.do("POST", "/api/v1/query", map[string]any{"sql": wideRows}), http.StatusOK)
	if len(whole.body["rows"].([]any)) != 20 || whole.body["truncated"] != false {
		t.Fatalf("uncapped: %.300s", whole.raw)
	}
	size := rowsEnd(t, whole.raw)

	atCap := newTestEnv(t, nil, func(c *Config) { c.Limits.ResultBytes = int64(size) })
	r := atCap.want(atCap.do("POST", "/api/v1/query", map[string]any{"sql": wideRows}), http.StatusOK)
	if len(r.body["rows"].([]any)) != 20 || r.body["truncated"] != false || r.body["truncated_by"] != nil {
		t.Fatalf("a cap of exactly the answer's size (%d bytes) cut it: %.300s", size, r.raw)
	}

	under := newTestEnv(t, nil, func(c *Config) { c.Limits.ResultBytes = int64(size - 1) })
	r = under.want(under.do("POST", "/api/v1/query", map[string]any{"sql": wideRows}), http.StatusOK)
	msg, _ := r.body["message"].(string)
	if len(r.body["rows"].([]any)) != 19 || r.body["truncated"] != true || r.body["truncated_by"] != "bytes" ||
		!strings.Contains(msg, "max_result_bytes") || !strings.Contains(msg, fmt.Sprintf("%d bytes", size-1)) {
		t.Fatalf("a cap one byte under the answer: %d rows, %s", len(r.body["rows"].([]any)), r.raw[rowsEnd(t, r.raw):])
	}
	if end := rowsEnd(t, r.raw); end > size-1 {
		t.Fatalf("the rows take %d bytes, over the cap of %d", end, size-1)
	}
	// The table preview is capped the same way.
	under.load("bronze.wide", wideRows)
	pv := under.want(under.do("GET", "/api/v1/tables/bronze.wide/preview?limit=50", nil), http.StatusOK)
	if len(pv.body["rows"].([]any)) != 19 || pv.body["truncated_by"] != "bytes" {
		t.Fatalf("preview under the cap: %s", pv.raw[rowsEnd(t, pv.raw):])
	}

	tiny := newTestEnv(t, nil, func(c *Config) { c.Limits.ResultBytes = 500 })
	r = tiny.want(tiny.do("POST", "/api/v1/query", map[string]any{"sql": wideRows}), http.StatusOK)
	if msg, _ := r.body["message"].(string); len(r.body["rows"].([]any)) != 0 || r.body["truncated_by"] != "bytes" || !strings.Contains(msg, "first row alone") {
		t.Fatalf("a first row over the cap: %s", r.raw)
	}
	// Within the cap the row limit still applies, and says so.
	r = full.want(full.do("POST", "/api/v1/query", map[string]any{"sql": wideRows, "limit": 5}), http.StatusOK)
	if msg, _ := r.body["message"].(string); len(r.body["rows"].([]any)) != 5 || r.body["truncated_by"] != "rows" || !strings.Contains(msg, "limit of 5 rows") {
		t.Fatalf("row limit: %s", r.raw[rowsEnd(t, r.raw):])
	}
}

// TestQueryStopsReadingAtTheCap: rows go out while DuckDB produces them,
// and DuckDB stops reading once the answer is full: a query whose later
// rows fail answers with the rows that fit, cut at the byte cap, where
// a query run to its end first fails.
func TestQueryStopsReadingAtTheCap(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil, func(c *Config) { c.Limits.ResultBytes = 64 << 10 })
	sql := "SELECT range AS i, CASE WHEN range < 10000 THEN repeat('x', 1000) ELSE error('read past the cap') END AS s FROM range(1000000)"
	r := e.want(e.do("POST", "/api/v1/query", map[string]any{"sql": sql}), http.StatusOK)
	rows, _ := r.body["rows"].([]any)
	if r.body["truncated_by"] != "bytes" || len(rows) < 50 || len(rows) > 64 {
		t.Fatalf("%d rows: %.300s", len(rows), r.raw[max(0, len(r.raw)-300):])
	}
	for i, row := range rows {
		if row.([]any)[0] != float64(i) {
			t.Fatalf("row %d = %.50v", i, row)
		}
	}
	// A union's branches count as one answer, in order.
	r = e.want(e.do("POST", "/api/v1/query", map[string]any{"sql": "SELECT range AS i, repeat('x', 1000) AS s FROM range(40) UNION ALL SELECT 40 + range, repeat('y', 1000) FROM range(40)"}), http.StatusOK)
	rows, _ = r.body["rows"].([]any)
	if r.body["truncated_by"] != "bytes" || len(rows) < 50 || len(rows) > 64 {
		t.Fatalf("union: %d rows: %.300s", len(rows), r.raw[max(0, len(r.raw)-300):])
	}
	for i, row := range rows {
		if row.([]any)[0] != float64(i) {
			t.Fatalf("union: row %d = %.50v", i, row)
		}
	}
	// The same past the row limit, within the cap.
	r = e.want(e.do("POST", "/api/v1/query", map[string]any{"sql": strings.Replace(sql, "repeat('x', 1000)", "'x'", 1), "limit": 20}), http.StatusOK)
	if rows, _ := r.body["rows"].([]any); r.body["truncated_by"] != "rows" || len(rows) != 20 {
		t.Fatalf("%d rows: %.300s", len(rows), r.raw)
	}
}

// TestQueryTimeLimitMidway: a query that passes its time limit after
// rows came answers with those rows, cut by time.
func TestQueryTimeLimitMidway(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil, func(c *Config) { c.Limits.QueryTimeout = time.Second })
	// Ten rows at once, then a scan that finds nothing for minutes.
	sql := "SELECT range AS i FROM range(10) UNION ALL SELECT range FROM range(1000000000000) WHERE range < 0"
	r := e.want(e.do("POST", "/api/v1/query", map[string]any{"sql": sql}), http.StatusOK)
	rows, _ := r.body["rows"].([]any)
	if msg, _ := r.body["message"].(string); r.body["truncated_by"] != "time" || len(rows) != 10 || !strings.Contains(msg, "time limit of 1s") {
		t.Fatalf("%d rows: %s", len(rows), r.raw)
	}
}

// TestQueryStreamsCompactJSON: answers are compact JSON, one row a line,
// values encoded as before (decimals and dates as strings), and values
// JSON cannot hold (NaN) do not break the answer.
func TestQueryStreamsCompactJSON(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil, nil)
	r := e.want(e.do("POST", "/api/v1/query", map[string]any{"sql": "SELECT range AS i, 'a\"<b>\n' AS s, 1.25::DECIMAL(5,2) AS d, DATE '2024-05-01' AS day, 'NaN'::DOUBLE AS nan, [1, 2] AS l FROM range(3)"}), http.StatusOK)
	if strings.Contains(r.raw, "\n  ") || strings.Count(r.raw, "\n") != 5 {
		t.Fatalf("want compact JSON, one row a line: %s", r.raw)
	}
	rows := r.body["rows"].([]any)
	want := []any{float64(2), "a\"<b>\n", "1.25", "2024-05-01T00:00:00Z", "NaN", []any{float64(1), float64(2)}}
	if got, _ := json.Marshal(rows[2]); string(got) != mustJSON(t, want) {
		t.Fatalf("row = %s, want %s", got, mustJSON(t, want))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAppendString: strings are escaped exactly as encoding/json does.
func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote \" backslash \\", "new\nline\ttab\rcr", "\x00\x01\x1f", "<html>&amp;",
		"héllo wörld ✓ 🐀", "bad \xff utf8 \xc3", "line\u2028sep\u2029", strings.Repeat("x", 5000)} {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestParquetDownloadCapped: a Parquet download within the cap is a file;
// over it the answer is 413 naming the cap, not a file missing rows.
func TestParquetDownloadCapped(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil, func(c *Config) { c.Limits.ResultBytes = 64 << 10 })
	small := e.do("POST", "/api/v1/query/parquet", map[string]any{"sql": "SELECT range AS i, repeat('x', 1000) AS s FROM range(40)"})
	if small.status != http.StatusOK || !strings.HasPrefix(small.raw, "PAR1") {
		t.Fatalf("within the cap: %d %.100q", small.status, small.raw)
	}
	big := e.do("POST", "/api/v1/query/parquet", map[string]any{"sql": "SELECT range AS i, repeat('x', 1000) AS s FROM range(100)"})
	if big.status != http.StatusRequestEntityTooLarge || big.errCode() != codeTooLarge || !strings.Contains(big.errMessage(), "64 KiB") ||
		!strings.Contains(big.errMessage(), "max_result_bytes") {
		t.Fatalf("over the cap: %d %s", big.status, big.raw)
	}
	// A union's branches count together, each under the cap.
	union := e.do("POST", "/api/v1/query/parquet", map[string]any{"sql": "SELECT range AS i, repeat('x', 1000) AS s FROM range(40) UNION ALL SELECT range, repeat('y', 1000) FROM range(40)"})
	if union.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a union over the cap: %d %.200s", union.status, union.raw)
	}
	// Rows past the row limit do not count.
	limited := e.do("POST", "/api/v1/query/parquet", map[string]any{"sql": "SELECT range AS i, repeat('x', 1000) AS s FROM range(100)", "limit": 10})
	if limited.status != http.StatusOK {
		t.Fatalf("over the cap only past the limit: %d %s", limited.status, limited.raw)
	}
}

// TestQuerySlowClient: the time limit covers writing the answer. A client
// that sends a query and never reads loses its connection once the limit
// passes, instead of holding the request (and its memory) forever.
func TestQuerySlowClient(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil, func(c *Config) { c.Limits.QueryTimeout = time.Second })
	done := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { done <- struct{}{} }()
		e.srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// About 40 MB: far more than the sockets buffer.
	body := `{"sql": "SELECT range AS i, repeat('x', 1000000) AS s FROM range(40)"}`
	fmt.Fprintf(conn, "POST /api/v1/query HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		srv.Listener.Addr(), len(body), body)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the request still holds the server 60s after its time limit of 1s: the client never read")
	}
	// What the client reads now is cut off, never a whole answer.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return // cut before the status line
	}
	defer resp.Body.Close()
	if raw, err := io.ReadAll(resp.Body); err == nil {
		t.Fatalf("the slow client got a whole answer of %d bytes", len(raw))
	}
}

// TestResultStreamEnds: an answer is held back until 64 KiB are ready, so an
// early error is still an HTTP error; after that an error ends the JSON
// with truncated_by "error" and the error, and the JSON stays valid.
func TestResultStreamEnds(t *testing.T) {
	small := httptest.NewRecorder()
	s := newResultStream(small, 1<<20)
	if err := s.head([]queryColumn{{Name: "s", Type: "VARCHAR"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.row([]any{"a"}); err != nil {
		t.Fatal(err)
	}
	if s.started || small.Body.Len() != 0 {
		t.Fatalf("a small answer went out before it ended: %q", small.Body.String())
	}
	s.discard()

	big := httptest.NewRecorder()
	s = newResultStream(big, 1<<20)
	if err := s.head([]queryColumn{{Name: "s", Type: "VARCHAR"}}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := s.row([]any{strings.Repeat("x", 10_000)}); err != nil {
			t.Fatal(err)
		}
	}
	if !s.started || big.Code != http.StatusOK {
		t.Fatalf("100 KB of rows did not go out: started %v, status %d", s.started, big.Code)
	}
	var e errorBody
	e.Error.Code, e.Error.Message = "invalid", "boom"
	if err := s.end(cutError, "the query failed after rows were sent: see error", 5, &e); err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Rows        [][]any `json:"rows"`
		Truncated   bool    `json:"truncated"`
		TruncatedBy string  `json:"truncated_by"`
		Error       struct{ Code, Message string }
	}
	if err := json.Unmarshal(big.Body.Bytes(), &ans); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if len(ans.Rows) != 10 || !ans.Truncated || ans.TruncatedBy != cutError || ans.Error.Message != "boom" {
		t.Fatalf("answer: %d rows, %v %q %+v", len(ans.Rows), ans.Truncated, ans.TruncatedBy, ans.Error)
	}
}
