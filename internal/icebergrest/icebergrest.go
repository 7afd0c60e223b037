// Package icebergrest serves rat's catalog through the Apache Iceberg REST
// catalog API (the OpenAPI document open-api/rest-catalog-open-api.yaml of
// the Apache Iceberg repository), so engines that speak it find rat's
// tables without reading rat's catalog database.
//
// The spec's {prefix} is a rat branch or tag: /iceberg/v1/main/…,
// /iceberg/v1/dev/…, /iceberg/v1/<tag>/… each look like a catalog of their
// own. Namespaces are rat's layers (one level); a layer exists while it
// holds a table. Served: config, namespaces (list, load, exists), tables
// (list, load, exists), the creation of a table (create.go) and the commit
// of one table (commit.go), each one rat commit on a branch. Every other endpoint answers 406
// UnsupportedOperationException, and /v1/config lists exactly the
// endpoints implemented, as the spec asks.
//
// Authentication and the Host/Origin rules are the API server's
// (internal/server mounts this handler behind them); errors, including
// theirs, use the spec's error model (WriteError).
package icebergrest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// Mount is the path the REST catalog is served under: clients use
// http://<rat serve>/iceberg as the catalog's URI.
const Mount = "/iceberg"

// Config holds what the handler needs: plain values and live objects.
type Config struct {
	// Store has the refs and the tables at their heads.
	Store catalog.Store
	// Catalog returns the iceberg-go catalog bound to a ref (lake.Catalog):
	// it reads metadata files through the warehouse.
	Catalog func(ref string) *catalog.Iceberg
	// Branch is the catalog a client gets when it names no warehouse.
	Branch string
	// TableConfig is the `config` of every loadTable answer: what a client
	// needs to reach the files (for S3: s3.endpoint, s3.region,
	// s3.path-style-access). Never credentials unless they are meant to
	// be handed out.
	TableConfig map[string]string
	// MaxResponseBytes caps one answer (a table's metadata can grow with
	// its history); 0 = 64 MiB.
	MaxResponseBytes int64
	Logger           *slog.Logger // nil = slog.Default()
}

// MaxRequestBytes caps a request body (a commit's requirements and
// updates; data files never pass through the catalog).
const MaxRequestBytes = 1 << 20

// Endpoints are the spec's endpoints this handler implements, as /v1/config
// lists them.
var Endpoints = []string{
	"GET /v1/{prefix}/namespaces",
	"GET /v1/{prefix}/namespaces/{namespace}",
	"HEAD /v1/{prefix}/namespaces/{namespace}",
	"GET /v1/{prefix}/namespaces/{namespace}/tables",
	"POST /v1/{prefix}/namespaces/{namespace}/tables",
	"GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
}

type handler struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the handler of every path under Mount.
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil || cfg.Catalog == nil {
		return nil, errors.New("icebergrest: Store and Catalog are required")
	}
	if cfg.Branch == "" {
		cfg.Branch = rat.DefaultBranch
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 64 << 20
	}
	h := &handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.Default()
	}
	// A GET pattern answers HEAD too: the handlers tell them apart.
	h.route("GET "+Mount+"/v1/config", h.config)
	h.route("GET "+Mount+"/v1/{prefix}/namespaces", h.listNamespaces)
	h.route("GET "+Mount+"/v1/{prefix}/namespaces/{namespace}", h.loadNamespace)
	h.route("GET "+Mount+"/v1/{prefix}/namespaces/{namespace}/tables", h.listTables)
	h.route("POST "+Mount+"/v1/{prefix}/namespaces/{namespace}/tables", h.createTable)
	h.route("GET "+Mount+"/v1/{prefix}/namespaces/{namespace}/tables/{table}", h.loadTable)
	h.route("POST "+Mount+"/v1/{prefix}/namespaces/{namespace}/tables/{table}", h.commitTable)
	h.route(Mount+"/", h.unsupported)
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
	}
	h.mux.ServeHTTP(w, r)
}

// route registers a handler that returns an error: the error becomes the
// spec's error response.
func (h *handler) route(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// Error is an error of the spec's error model: an HTTP status and the
// exception type clients dispatch on (NoSuchTableException, …).
type Error struct {
	Status  int
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func errorf(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// Exception types of the spec's examples, by the status they come with.
var typeOf = map[int]string{
	http.StatusBadRequest:          "BadRequestException",
	http.StatusUnauthorized:        "NotAuthorizedException",
	http.StatusForbidden:           "ForbiddenException",
	http.StatusNotFound:            "NotFoundException",
	http.StatusNotAcceptable:       "UnsupportedOperationException",
	http.StatusConflict:            "AlreadyExistsException",
	http.StatusServiceUnavailable:  "ServiceUnavailableException",
	http.StatusInternalServerError: "InternalServerError",
}

// TypeOf is the exception type of an error answered with status when
// nothing more precise is known.
func TypeOf(status int) string {
	if t, ok := typeOf[status]; ok {
		return t
	}
	if t := http.StatusText(status); t != "" {
		return strings.ReplaceAll(t, " ", "") + "Exception"
	}
	return "RESTException"
}

// errorModel is the spec's IcebergErrorResponse.
type errorModel struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	} `json:"error"`
}

// WriteError writes an error in the spec's model: {"error": {"message",
// "type", "code"}} with the status as code. typ "" = TypeOf(status). A
// HEAD request gets the status only.
func WriteError(w http.ResponseWriter, r *http.Request, status int, typ, message string) {
	if typ == "" {
		typ = TypeOf(status)
	}
	var body errorModel
	body.Error.Message, body.Error.Type, body.Error.Code = message, typ, status
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, body)
}

// writeError answers err: an *Error as it is, a rat error by its code.
// Internal errors are logged and answered with a generic message.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &mbe):
		e = errorf(http.StatusRequestEntityTooLarge, "", "%s %s: request body over the limit of %d bytes", r.Method, r.URL.Path, mbe.Limit)
	case rat.IsCode(err, rat.EINVALID):
		e = errorf(http.StatusBadRequest, "", "%s", rat.ErrorMessage(err))
	case rat.IsCode(err, rat.ENOTFOUND):
		e = errorf(http.StatusNotFound, "", "%s", rat.ErrorMessage(err))
	case rat.IsCode(err, rat.EUNAVAILABLE):
		e = errorf(http.StatusServiceUnavailable, "", "%s", rat.ErrorMessage(err))
	default:
		h.log.Error("iceberg REST request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, "", "internal error; the server log has the details")
	}
	WriteError(w, r, e.Status, e.Type, strings.TrimSpace(e.Message))
}

// writeJSON writes v with a status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// writeCapped writes v unless its JSON is over the response cap.
func (h *handler) writeCapped(w http.ResponseWriter, r *http.Request, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&limitWriter{w: &buf, left: h.cfg.MaxResponseBytes})
	if err := enc.Encode(v); err != nil {
		if errors.Is(err, errOverCap) {
			return errorf(http.StatusInternalServerError, "", "%s %s: the answer is over the server's response cap of %d bytes (max_result_bytes); expire old snapshots (rat maintain expire) to shrink the table's metadata", r.Method, r.URL.Path, h.cfg.MaxResponseBytes)
		}
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

var errOverCap = errors.New("over the response cap")

// limitWriter fails once more than left bytes were written.
type limitWriter struct {
	w    *bytes.Buffer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, errOverCap
	}
	l.left -= int64(len(p))
	return l.w.Write(p)
}

// unsupported answers every path the handler does not implement: 404 for
// a read of an unknown path, 406 for anything else (the spec's answer to
// an operation the server does not support).
func (h *handler) unsupported(_ http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return errorf(http.StatusNotFound, "", "no endpoint %s %s: this server implements %s (GET %s/v1/config lists them)", r.Method, r.URL.Path, strings.Join(Endpoints, ", "), Mount)
	}
	return errorf(http.StatusNotAcceptable, "", "%s %s is not supported: rat's Iceberg REST catalog serves reads, table creation and commits for now (GET %s/v1/config lists the endpoints it implements); drop and rename through rat", r.Method, r.URL.Path, Mount)
}

// ref resolves the {prefix} of a request to a branch or tag.
func (h *handler) ref(ctx context.Context, r *http.Request) (rat.Ref, error) {
	name := r.PathValue("prefix")
	ref, err := h.cfg.Store.Ref(ctx, name)
	if rat.IsCode(err, rat.ENOTFOUND) {
		return rat.Ref{}, noSuchWarehouse(name)
	}
	return ref, err
}

func noSuchWarehouse(name string) error {
	return errorf(http.StatusNotFound, "NoSuchWarehouseException", "no branch or tag %q in this rat catalog: the prefix (the warehouse a client asks for) names a branch or tag, for example main; rat branch list and rat tag list show them", name)
}
