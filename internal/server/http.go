package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/icebergrest"
)

// Codes the HTTP layer adds to rat's: a known caller whose role is too weak
// (or a request from another site), a request body over its limit, and too
// many failed sign-ins.
const (
	codeForbidden       = "forbidden"
	codeTooLarge        = "too_large"
	codeTooManyRequests = "too_many_requests"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	rat.EINVALID:         http.StatusBadRequest,
	rat.EUNAUTHORIZED:    http.StatusUnauthorized,
	codeForbidden:        http.StatusForbidden,
	rat.ENOTFOUND:        http.StatusNotFound,
	rat.ECONFLICT:        http.StatusConflict,
	codeTooLarge:         http.StatusRequestEntityTooLarge,
	codeMisdirected:      http.StatusMisdirectedRequest,
	codeUnsupportedMedia: http.StatusUnsupportedMediaType,
	codeTooManyRequests:  http.StatusTooManyRequests,
	rat.EUNAVAILABLE:     http.StatusServiceUnavailable,
	rat.EINTERNAL:        http.StatusInternalServerError,
}

// errorBody is the shape of every API error.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// handle adapts a handler that returns an error: the error becomes the JSON
// error response.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// writeError writes err as {"error": {"code", "message"}}. Internal errors
// are logged and answered with a generic message: their text may hold
// paths or other details a caller must not see.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := rat.ErrorCode(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		code = codeTooLarge
		err = errTooLarge(r, mbe.Limit)
	}
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = strings.TrimSpace(rat.ErrorMessage(err))
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Code = rat.EINTERNAL
		body.Error.Message = "internal error; the server log has the details"
	}
	if isIceberg(r) { // the REST spec's error model
		icebergrest.WriteError(w, r, status, "", body.Error.Message)
		return
	}
	writeJSON(w, status, body)
}

// writeJSON writes v with a status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

// jsonBodyLimit bounds a JSON request body.
const jsonBodyLimit = 1 << 20

// decode reads a JSON request body strictly: Content-Type application/json
// (415 otherwise, so a page of another site cannot send it as a simple
// text/plain or form request), at most jsonBodyLimit bytes (413), one
// object with known fields and nothing after it (400).
func decode(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return rat.Errorf(rat.EINVALID, "request body is empty: send a JSON object")
	}
	if mediaType(r) != "application/json" {
		return errMediaType(r, "send the body as JSON with Content-Type: application/json")
	}
	body := &cappedReader{r: r.Body, left: jsonBodyLimit}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// Anything but white space after the object is refused: two
		// objects, or an object and garbage, are not one request.
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return nil
		}
		if !body.over {
			return rat.Errorf(rat.EINVALID, "request body holds more than one JSON value: send exactly one JSON object")
		}
	}
	switch {
	case body.over:
		return errTooLarge(r, jsonBodyLimit)
	case errors.Is(err, io.EOF):
		return rat.Errorf(rat.EINVALID, "request body is empty: send a JSON object")
	}
	return rat.Errorf(rat.EINVALID, "request body is not valid JSON for this endpoint: %s", err.Error())
}

// cappedReader reads at most left bytes and then fails, noting that the
// body was over its limit.
type cappedReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var b [1]byte
		if n, _ := c.r.Read(b[:]); n > 0 {
			c.over = true
			return 0, errBodyOver
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

var errBodyOver = errors.New("request body over its limit")

// errTooLarge is the 413 error of a body over limit bytes.
func errTooLarge(r *http.Request, limit int64) error {
	return rat.Errorf(codeTooLarge, "%s %s: request body over the limit of %s: send less per request", r.Method, r.URL.Path, sizeText(limit))
}

// sizeText writes a byte count for people: "1 MiB", "1000 bytes".
func sizeText(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s (%d bytes)", n/u.size, u.name, n)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// intParam reads an optional non-negative integer query parameter.
func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, rat.Errorf(rat.EINVALID, "query parameter %s=%q: want a non-negative integer", name, v)
	}
	return n, nil
}

// branchParam is ?branch=, or the default branch.
func (s *Server) branchParam(r *http.Request) string {
	if b := r.URL.Query().Get("branch"); b != "" {
		return b
	}
	return s.cfg.Branch
}

// tableParam parses the {id} path value as layer.name.
func tableParam(r *http.Request) (rat.TableID, error) {
	id, err := rat.ParseTableID(r.PathValue("id"))
	if err != nil {
		return rat.TableID{}, fmt.Errorf("path: %w", err)
	}
	return id, nil
}
