package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
)

// Why a query's answer holds fewer rows than the query has
// (truncated_by).
const (
	cutRows  = "rows"  // the row limit
	cutBytes = "bytes" // the server's max_result_bytes
	cutTime  = "time"  // the query's time limit
	cutError = "error" // an error after rows were sent
)

// resultFlushBytes is how much of an answer is buffered before it goes to
// the client: an error before then is still an HTTP error status.
const resultFlushBytes = 64 << 10

// errOverCap is what resultStream.row returns for a row that does not fit.
var errOverCap = errors.New("result over the byte cap")

// resultStream writes a query's answer as JSON while its rows are read,
// without indentation, one row a line:
//
//	{"columns":[{"name":"n","type":"BIGINT"}],"rows":[
//	[1],
//	[2]
//	],"truncated":true,"truncated_by":"bytes","message":"…","elapsed_ms":3}
//
// Everything up to the last row is at most max bytes; the closing fields
// add less than 1 KiB. Rows are whole: a row that would pass max is left
// out, and truncated says so.
type resultStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	out     *bufio.Writer
	max     int64
	written int64  // bytes of the body so far, buffered ones included
	pending int64  // bytes written since the last flush
	started bool   // the status and part of the body went out
	rows    int    // rows written
	buf     []byte // the row being encoded, reused
}

func newResultStream(w http.ResponseWriter, max int64) *resultStream {
	s := &resultStream{w: w, rc: http.NewResponseController(w), max: max}
	s.out = bufio.NewWriterSize(startWriter{s}, resultFlushBytes)
	return s
}

// startWriter sends the status before the first bytes of the body.
type startWriter struct{ s *resultStream }

func (sw startWriter) Write(p []byte) (int, error) {
	if !sw.s.started {
		sw.s.started = true
		sw.s.w.Header().Set("Content-Type", "application/json")
		sw.s.w.WriteHeader(http.StatusOK)
	}
	return sw.s.w.Write(p)
}

// head writes the columns and opens the rows.
func (s *resultStream) head(cols []queryColumn) error {
	b, err := json.Marshal(cols)
	if err != nil {
		return err
	}
	return s.write(append(append([]byte(`{"columns":`), b...), `,"rows":[`...))
}

// row writes one row, or returns errOverCap (writing nothing) when it would
// take the body past max.
func (s *resultStream) row(vals []any) error {
	b := s.buf[:0]
	if s.rows > 0 {
		b = append(b, ',')
	}
	b = append(b, '\n', '[')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendValue(b, v)
		if s.written+int64(len(b)) > s.max {
			s.buf = b
			return errOverCap
		}
	}
	b = append(b, ']')
	s.buf = b
	if s.written+int64(len(b)) > s.max {
		return errOverCap
	}
	s.rows++
	return s.write(b)
}

// end closes the rows and the object with the fields that describe the
// answer. An error (after rows went out) ends it too: its status is sent.
func (s *resultStream) end(truncatedBy, message string, elapsedMS int64, e *errorBody) error {
	b := []byte("\n],\"truncated\":")
	b = strconv.AppendBool(b, truncatedBy != "")
	if truncatedBy != "" {
		b = append(b, `,"truncated_by":`...)
		b = appendString(b, truncatedBy)
		b = append(b, `,"message":`...)
		b = appendString(b, message)
	}
	if e != nil {
		eb, err := json.Marshal(e.Error)
		if err != nil {
			return err
		}
		b = append(append(b, `,"error":`...), eb...)
	}
	b = append(b, `,"elapsed_ms":`...)
	b = strconv.AppendInt(b, elapsedMS, 10)
	b = append(b, "}\n"...)
	if err := s.write(b); err != nil {
		return err
	}
	return s.flush()
}

func (s *resultStream) write(b []byte) error {
	if _, err := s.out.Write(b); err != nil {
		return err
	}
	s.written += int64(len(b))
	s.pending += int64(len(b))
	if s.pending >= resultFlushBytes {
		return s.flush()
	}
	return nil
}

// flush sends what is buffered on to the client.
func (s *resultStream) flush() error {
	s.pending = 0
	if err := s.out.Flush(); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// discard drops what is buffered: nothing of it went out.
func (s *resultStream) discard() { s.out.Reset(startWriter{s}) }

// appendValue appends a scanned DuckDB value as JSON. Strings, the bulk of
// large results, are escaped straight into the row; other values go
// through encoding/json as duckdb.JSON shapes them.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return appendString(b, strconv.FormatFloat(x, 'g', -1, 64)) // JSON has no NaN or Infinity
		}
	case float32:
		if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
			return appendString(b, strconv.FormatFloat(f, 'g', -1, 32))
		}
	}
	j, err := json.Marshal(duckdb.JSON(v))
	if err != nil {
		// A NaN inside a list, say: the value as text.
		return appendString(b, duckdb.Text(v))
	}
	return append(b, j...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// (HTML-safe; invalid UTF-8 becomes U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// safeError is an error's code and the message a caller may see, as
// writeError answers it.
func (s *Server) safeError(r *http.Request, err error) *errorBody {
	var body errorBody
	body.Error.Code = rat.ErrorCode(err)
	body.Error.Message = rat.ErrorMessage(err)
	if status, ok := statusOf[body.Error.Code]; !ok || status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Code = rat.EINTERNAL
		body.Error.Message = "internal error; the server log has the details"
	}
	return &body
}
