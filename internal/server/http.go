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
)

// Codes the HTTP layer adds to rat's: a known caller whose role is too weak,
// and a request body over its limit.
const (
	codeForbidden = "forbidden"
	codeTooLarge  = "too_large"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	rat.EINVALID:      http.StatusBadRequest,
	rat.EUNAUTHORIZED: http.StatusUnauthorized,
	codeForbidden:     http.StatusForbidden,
	rat.ENOTFOUND:     http.StatusNotFound,
	rat.ECONFLICT:     http.StatusConflict,
	codeTooLarge:      http.StatusRequestEntityTooLarge,
	rat.EUNAVAILABLE:  http.StatusServiceUnavailable,
	rat.EINTERNAL:     http.StatusInternalServerError,
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
		err = rat.Errorf(codeTooLarge, "request body over the limit of %d bytes", mbe.Limit)
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

// decode reads a JSON request body strictly: unknown fields are errors.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return rat.Errorf(rat.EINVALID, "request body is empty: send a JSON object")
		}
		return rat.Errorf(rat.EINVALID, "request body is not valid JSON for this endpoint: %s", err.Error())
	}
	return nil
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
