package server

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/lake/laketest"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/workspace"
)

// testEnv is a real rat behind an httptest server: a SQLite catalog, a
// local warehouse and landing area in a temp dir, an in-process DuckDB.
type testEnv struct {
	t      *testing.T
	dir    string
	lake   *lake.Lake
	srv    *Server
	http   *httptest.Server
	token  string                                  // sent as the bearer token when set
	runner func(context.Context, *pipeline.Runner) // adjusts each run's runner, given the run's context
}

// basicFiles is a workspace of two pipelines over an ingested table.
var basicFiles = map[string]string{
	"pipelines/silver/orders.sql": "-- @description: orders with an amount\n-- @owner: data-team\n-- @tags: finance\nSELECT id, amount FROM {{ ref('bronze.raw') }} WHERE amount IS NOT NULL\n",
	"pipelines/gold/total.sql":    "SELECT sum(amount) AS total, count(*) AS n FROM {{ ref('silver.orders') }}\n",
}

func newTestEnv(t *testing.T, files map[string]string, configure func(*Config)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"workspace.yaml": "name: shop\ndescription: the shop's data\n"}
	for k, v := range files {
		all[k] = v
	}
	laketest.WriteFiles(t, dir, all)
	l := laketest.Local(t, dir)
	store := l.Store()
	runLog := store.(pipeline.RunLog)
	tmp := filepath.Join(dir, ".rat", "tmp")
	landing, err := ingest.LocalLanding(dir, tmp)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, dir: dir, lake: l}
	loadWS := func(ctx context.Context) (*workspace.Workspace, error) {
		return workspace.Load(dir, workspace.LoadOptions{Known: func(id rat.TableID) bool {
			_, err := store.Table(ctx, rat.DefaultBranch, id)
			return err == nil
		}})
	}
	// As in rat serve with workers: the process that executes runs counts
	// them in the same metrics.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cache := l.Cache()
	m, err := metrics.New(metrics.Config{Exec: true, Serve: true, StateDir: dir, Logger: logger,
		Cache: func() (int64, int64) { return cache.Hits(), cache.Misses() }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Listen: "127.0.0.1:0", Store: store, Lake: l, Runs: runLog, Landing: landing,
		Logger: logger, Metrics: m, StateDir: dir,
		LoadWorkspace: loadWS,
		StartRun: func(ctx context.Context, opts pipeline.Options) (*pipeline.Result, error) {
			ws, err := loadWS(ctx)
			if err != nil {
				return nil, err
			}
			r := &pipeline.Runner{Lake: l, Workspace: ws, Parallel: 2, Landing: landing, TmpDir: tmp, Runs: runLog}
			if e.runner != nil {
				e.runner(ctx, r)
			}
			res, err := r.Run(ctx, opts)
			if err == nil {
				for _, n := range res.Nodes {
					m.NodeSettled(string(n.Status), time.Duration(n.Duration))
				}
				m.RunFinished(string(res.Status), time.Duration(res.Duration))
			}
			return res, err
		},
		Checks: []Check{{Name: "catalog", Fn: func(ctx context.Context) error { _, err := store.Refs(ctx); return err }}},
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	// As rat serve does: the catalog reports its commits to the metrics.
	if o, ok := store.(interface {
		ObserveCommits(func(sqlstore.CommitStats))
	}); ok {
		o.ObserveCommits(func(c sqlstore.CommitStats) { m.CommitDone(c.Duration, c.Attempts, c.Err) })
	}
	e.http = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		e.http.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return e
}

// load writes a table on main.
func (e *testEnv) load(table, src string) {
	e.t.Helper()
	id, _ := rat.ParseTableID(table)
	if _, err := e.lake.Write(context.Background(), rat.DefaultBranch, id, src, lake.WriteOptions{Mode: lake.Replace}); err != nil {
		e.t.Fatal(err)
	}
}

// response is an API answer: the status and the decoded JSON body.
type response struct {
	status int
	body   map[string]any
	raw    string
}

// errCode is the code of a JSON error response, "" when it is not one.
func (r response) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r response) errMessage() string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// do sends a request with a JSON body (nil for none).
func (e *testEnv) do(method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.send(req)
}

func (e *testEnv) send(req *http.Request) response {
	e.t.Helper()
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			e.t.Fatalf("%s %s: invalid JSON %q: %v", req.Method, req.URL.Path, raw, err)
		}
		r.body, _ = v.(map[string]any)
	}
	return r
}

// want fails the test unless the response has the status.
func (e *testEnv) want(r response, status int) response {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// waitRun polls GET /runs/{id} until the run is no longer running.
func (e *testEnv) waitRun(id string) response {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r := e.do("GET", "/api/v1/runs/"+id, nil)
		if r.status == http.StatusOK && r.body["status"] != string(pipeline.StatusRunning) {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("run %s did not finish within 60s", id)
	return response{}
}

// scalar runs a query through the API and returns the first value of the
// first row as text.
func (e *testEnv) scalar(branch, sql string) string {
	e.t.Helper()
	r := e.want(e.do("POST", "/api/v1/query", map[string]any{"sql": sql, "branch": branch}), http.StatusOK)
	rows, _ := r.body["rows"].([]any)
	if len(rows) == 0 {
		e.t.Fatalf("%s: no rows", sql)
	}
	b, _ := json.Marshal(rows[0].([]any)[0])
	return strings.Trim(string(b), `"`)
}

// list returns a JSON list field of a response.
func list(t *testing.T, r response, key string) []map[string]any {
	t.Helper()
	raw, ok := r.body[key].([]any)
	if !ok {
		t.Fatalf("no list %q in %s", key, r.raw)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i], _ = v.(map[string]any)
	}
	return out
}

var writeReplace = lake.WriteOptions{Mode: lake.Replace}

func mustID(t *testing.T, s string) rat.TableID {
	t.Helper()
	id, err := rat.ParseTableID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
