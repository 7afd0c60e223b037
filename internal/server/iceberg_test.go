package server

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/icebergrest/resttest"
	"github.com/ratdata/rat/internal/lake"
)

// restCatalog is iceberg-go's REST catalog client (an independent client)
// pointed at the test server's /iceberg, reading the given warehouse
// (a branch or tag of rat's catalog).
func (e *testEnv) restCatalog(warehouse, token string) (*rest.Catalog, error) {
	opts := []rest.Option{rest.WithWarehouseLocation(warehouse)}
	if token != "" {
		opts = append(opts, rest.WithOAuthToken(token))
	}
	return rest.NewCatalog(e.t.Context(), "rat", e.http.URL+"/iceberg", opts...)
}

// mustREST is restCatalog that fails the test on an error.
func (e *testEnv) mustREST(warehouse, token string) *rest.Catalog {
	e.t.Helper()
	c, err := e.restCatalog(warehouse, token)
	if err != nil {
		e.t.Fatalf("REST catalog on %s: %v", warehouse, err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

// scanRows reads a table loaded through the REST catalog with iceberg-go's
// scan (an independent reader of the files), as sorted text rows.
func scanRows(t *testing.T, c icecat.Catalog, ident table.Identifier) []string {
	t.Helper()
	tbl, err := c.LoadTable(t.Context(), ident)
	if err != nil {
		t.Fatalf("load %v: %v", ident, err)
	}
	rows, err := resttest.Rows(t.Context(), tbl)
	if err != nil {
		t.Fatalf("scan %v: %v", ident, err)
	}
	return rows
}

// queryRows is rat's own read of the same table on a ref, as sorted text rows.
func (e *testEnv) queryRows(ref, tbl string, cols ...string) []string {
	e.t.Helper()
	var sel []string
	for _, c := range cols {
		sel = append(sel, fmt.Sprintf("coalesce(%s::VARCHAR, 'NULL')", c))
	}
	var rows []string
	err := e.lake.Query(e.t.Context(), ref, lake.At{}, "SELECT concat_ws('|', "+strings.Join(sel, ", ")+") FROM "+tbl, func(r *sql.Rows) error {
		for r.Next() {
			var s string
			if err := r.Scan(&s); err != nil {
				return err
			}
			rows = append(rows, s)
		}
		return r.Err()
	})
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Sort(rows)
	return rows
}

// icebergError is the REST spec's error model.
type icebergError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	} `json:"error"`
}

// restDo sends one raw request under /iceberg and decodes an error body.
func (e *testEnv) restDo(method, path, token string) (int, icebergError, http.Header) {
	return e.restSend(method, path, token, "")
}

// restPost sends a JSON body under /iceberg and decodes an error answer.
func (e *testEnv) restPost(path, token, body string) (int, icebergError) {
	status, ie, _ := e.restSend(http.MethodPost, path, token, body)
	return status, ie
}

// restSend is restDo with a JSON body ("" = none).
func (e *testEnv) restSend(method, path, token, body string) (int, icebergError, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.http.URL+"/iceberg"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var ie icebergError
	if resp.StatusCode >= 400 && method != http.MethodHead {
		if err := json.Unmarshal(got, &ie); err != nil {
			e.t.Fatalf("%s %s: %d with a body that is not the error model: %q", method, path, resp.StatusCode, got)
		}
		if ie.Error.Code != resp.StatusCode || ie.Error.Type == "" || ie.Error.Message == "" {
			e.t.Fatalf("%s %s: error body %q does not follow the model for status %d", method, path, got, resp.StatusCode)
		}
	}
	return resp.StatusCode, ie, resp.Header
}

// tagAndBranch makes a tag and a branch at main's head.
func (e *testEnv) tagAndBranch(tag, branch string) {
	e.t.Helper()
	store := e.lake.Store()
	main, err := store.Ref(e.t.Context(), rat.DefaultBranch)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range []rat.Ref{{Name: tag, Kind: rat.Tag, Head: main.Head}, {Name: branch, Kind: rat.Branch, Head: main.Head}} {
		if err := store.CreateRef(e.t.Context(), r); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestIcebergRESTRead(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	ctx := t.Context()
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, NULL), (3, 5)) t(id, amount)")
	e.load("silver.orders", "SELECT 1 AS id, 'one' AS label")
	if err := e.lake.CreateView(ctx, rat.DefaultBranch, rat.TableID{Layer: "silver", Name: "v"}, "SELECT id FROM bronze.raw", ""); err != nil {
		t.Fatal(err)
	}
	e.tagAndBranch("v1", "dev")
	e.tagAndBranch("v1.0", "feature/x")
	// dev moves on: more rows in bronze.raw and a table of its own.
	if _, err := e.lake.Write(ctx, "dev", rat.TableID{Layer: "bronze", Name: "raw"}, "SELECT * FROM (VALUES (4, 40)) t(id, amount)", lake.WriteOptions{Mode: lake.Append}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lake.Write(ctx, "dev", rat.TableID{Layer: "gold", Name: "only_dev"}, "SELECT 7 AS n", lake.WriteOptions{Mode: lake.Replace}); err != nil {
		t.Fatal(err)
	}

	raw := table.Identifier{"bronze", "raw"}
	for _, ref := range []struct {
		name       string
		namespaces []string
		rawRows    int
	}{
		{"main", []string{"bronze", "silver"}, 3},
		{"dev", []string{"bronze", "gold", "silver"}, 4},
		{"v1", []string{"bronze", "silver"}, 3},
		{"feature/x", []string{"bronze", "silver"}, 3}, // a / in the prefix, escaped
	} {
		c := e.mustREST(ref.name, "")
		nss, err := c.ListNamespaces(ctx, nil)
		if err != nil {
			t.Fatalf("%s: list namespaces: %v", ref.name, err)
		}
		var got []string
		for _, ns := range nss {
			got = append(got, strings.Join(ns, "."))
		}
		if !slices.Equal(got, ref.namespaces) {
			t.Fatalf("%s: namespaces = %v, want %v", ref.name, got, ref.namespaces)
		}
		var tables []string
		for id, err := range c.ListTables(ctx, table.Identifier{"silver"}) {
			if err != nil {
				t.Fatalf("%s: list tables: %v", ref.name, err)
			}
			tables = append(tables, strings.Join(id, "."))
		}
		// The view is rat's own format: not listed as an Iceberg table.
		if !slices.Equal(tables, []string{"silver.orders"}) {
			t.Fatalf("%s: tables of silver = %v", ref.name, tables)
		}
		// iceberg-go's scan reads the same rows as rat's query on that ref.
		rows := scanRows(t, c, raw)
		if want := e.queryRows(ref.name, "bronze.raw", "id", "amount"); len(rows) != ref.rawRows || !slices.Equal(rows, want) {
			t.Fatalf("%s: iceberg-go read %v, rat query %v (want %d rows)", ref.name, rows, want, ref.rawRows)
		}
		if ok, err := c.CheckTableExists(ctx, raw); err != nil || !ok {
			t.Fatalf("%s: exists(bronze.raw) = %v, %v", ref.name, ok, err)
		}
		if ok, err := c.CheckNamespaceExists(ctx, table.Identifier{"bronze"}); err != nil || !ok {
			t.Fatalf("%s: exists(bronze) = %v, %v", ref.name, ok, err)
		}
		if ok, err := c.CheckTableExists(ctx, table.Identifier{"gold", "only_dev"}); err != nil || ok != (ref.name == "dev") {
			t.Fatalf("%s: exists(gold.only_dev) = %v, %v", ref.name, ok, err)
		}
	}

	// What loadTable returns: the metadata file rat's catalog records, the
	// full metadata, and a config (empty for a local warehouse).
	c := e.mustREST("dev", "")
	tbl, err := c.LoadTable(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.lake.Load(ctx, "dev", rat.TableID{Layer: "bronze", Name: "raw"})
	if err != nil {
		t.Fatal(err)
	}
	if tbl.MetadataLocation() != want.MetadataLocation() || tbl.Metadata().CurrentSnapshot().SnapshotID != want.Metadata().CurrentSnapshot().SnapshotID {
		t.Fatalf("loaded %s at snapshot %d, rat has %s at %d", tbl.MetadataLocation(), tbl.Metadata().CurrentSnapshot().SnapshotID,
			want.MetadataLocation(), want.Metadata().CurrentSnapshot().SnapshotID)
	}

	// Not found, in the spec's error model and as the client's errors.
	if _, err := c.LoadTable(ctx, table.Identifier{"bronze", "nope"}); !errors.Is(err, icecat.ErrNoSuchTable) {
		t.Fatalf("load a missing table: %v", err)
	}
	if _, err := c.LoadTable(ctx, table.Identifier{"silver", "v"}); !errors.Is(err, icecat.ErrNoSuchTable) || !strings.Contains(err.Error(), "view") {
		t.Fatalf("load a view: %v", err)
	}
	for _, err := range c.ListTables(ctx, table.Identifier{"platinum"}) {
		if !errors.Is(err, icecat.ErrNoSuchNamespace) {
			t.Fatalf("list tables of a missing namespace: %v", err)
		}
	}
	if ok, err := c.CheckNamespaceExists(ctx, table.Identifier{"platinum"}); err != nil || ok {
		t.Fatalf("exists(platinum) = %v, %v", ok, err)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		typ, says    string
	}{
		{"GET", "/v1/main/namespaces/bronze/tables/nope", 404, "NoSuchTableException", "bronze.nope"},
		{"GET", "/v1/main/namespaces/platinum", 404, "NoSuchNamespaceException", "platinum"},
		{"GET", "/v1/main/namespaces/bronze%1Fx/tables", 404, "NoSuchNamespaceException", "one level deep"},
		{"GET", "/v1/main/namespaces?parent=platinum", 404, "NoSuchNamespaceException", "platinum"},
		{"GET", "/v1/nope/namespaces", 404, "NoSuchWarehouseException", `no branch or tag "nope"`},
		{"GET", "/v1/config?warehouse=nope", 404, "NoSuchWarehouseException", `no branch or tag "nope"`},
		{"GET", "/v1/main/no/such/path", 404, "NotFoundException", "no endpoint"},
		{"POST", "/v1/main/namespaces", 406, "UnsupportedOperationException", "drop and rename through rat"},
		{"DELETE", "/v1/main/namespaces/bronze/tables/raw", 406, "UnsupportedOperationException", "drop and rename through rat"},
	} {
		status, body, _ := e.restDo(tc.method, tc.path, "")
		if status != tc.status || body.Error.Type != tc.typ || !strings.Contains(body.Error.Message, tc.says) {
			t.Errorf("%s %s = %d %+v, want %d %s saying %q", tc.method, tc.path, status, body.Error, tc.status, tc.typ, tc.says)
		}
	}
	if status, _, _ := e.restDo("HEAD", "/v1/v1/namespaces/gold/tables/only_dev", ""); status != http.StatusNotFound {
		t.Errorf("HEAD a table missing on the tag = %d", status)
	}
	if status, _, _ := e.restDo("HEAD", "/v1/dev/namespaces/gold/tables/only_dev", ""); status != http.StatusNoContent {
		t.Errorf("HEAD a table on dev = %d", status)
	}
	// The unknown warehouse is refused when the client starts.
	if _, err := e.restCatalog("nope", ""); err == nil || !strings.Contains(err.Error(), `no branch or tag "nope"`) {
		t.Fatalf("client on an unknown warehouse: %v", err)
	}
	// The config lists what is implemented, and the warehouse as the prefix.
	var cfg struct {
		Defaults, Overrides map[string]string
		Endpoints           []string
	}
	e.getJSON("/iceberg/v1/config?warehouse=v1", &cfg)
	if cfg.Overrides["prefix"] != "v1" || !slices.Contains(cfg.Endpoints, "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}") ||
		slices.Contains(cfg.Endpoints, "POST /v1/{prefix}/namespaces") {
		t.Fatalf("config = %+v", cfg)
	}
}

// getJSON GETs a path of the test server and decodes its JSON answer.
func (e *testEnv) getJSON(path string, v any) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.http.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		e.t.Fatal(err)
	}
}

func TestIcebergRESTAuth(t *testing.T) {
	t.Parallel()
	read, run := strings.Repeat("r", 40), strings.Repeat("x", 40)
	e := newTestEnv(t, basicFiles, func(c *Config) {
		c.Listen = "0.0.0.0:3030" // off loopback: tokens are required
		c.Tokens = []Token{{Name: "reader", Secret: read, Role: RoleRead}, {Name: "runner", Secret: run, Role: RoleRun}}
	})
	e.load("bronze.raw", "SELECT 1 AS id")

	if _, err := e.restCatalog("main", ""); !errors.Is(err, rest.ErrUnauthorized) {
		t.Fatalf("no token: %v", err)
	}
	if _, err := e.restCatalog("main", strings.Repeat("w", 40)); !errors.Is(err, rest.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
	status, body, hdr := e.restDo("GET", "/v1/main/namespaces", "")
	if status != http.StatusUnauthorized || body.Error.Type != "NotAuthorizedException" || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d %+v", status, body.Error)
	}
	// A read token lists, loads and scans.
	c := e.mustREST("main", read)
	if rows := scanRows(t, c, table.Identifier{"bronze", "raw"}); !slices.Equal(rows, []string{"1"}) {
		t.Fatalf("read token scan = %v", rows)
	}
	// Only GET and HEAD for a read token: anything else is 403 before the
	// catalog looks at it; a run token gets the catalog's answer.
	if status, body, _ := e.restDo("POST", "/v1/main/namespaces", read); status != http.StatusForbidden || body.Error.Type != "ForbiddenException" {
		t.Fatalf("read token POST: %d %+v", status, body.Error)
	}
	if status, body, _ := e.restDo("POST", "/v1/main/namespaces", run); status != http.StatusNotAcceptable {
		t.Fatalf("run token POST: %d %+v", status, body.Error)
	}
}

// appendRows appends rows (JSON objects) to a table through iceberg-go's
// REST client: iceberg-go writes the data files, the server commits.
func appendRows(t *testing.T, c icecat.Catalog, ident table.Identifier, rowsJSON string) error {
	t.Helper()
	tbl, err := c.LoadTable(t.Context(), ident)
	if err != nil {
		t.Fatal(err)
	}
	return resttest.Append(t.Context(), tbl, rowsJSON)
}

// TestIcebergRESTCommit: an append through iceberg-go's REST client on a
// branch is one rat commit on that branch (in its log, read by rat query
// there and not on main); a stale commit is 409 CommitFailedException;
// tags and read tokens cannot commit.
func TestIcebergRESTCommit(t *testing.T) {
	t.Parallel()
	read, run, admin := strings.Repeat("r", 40), strings.Repeat("x", 40), strings.Repeat("a", 40)
	e := newTestEnv(t, basicFiles, func(c *Config) {
		c.Tokens = []Token{{Name: "reader", Secret: read, Role: RoleRead}, {Name: "runner", Secret: run, Role: RoleRun}, {Name: "admin", Secret: admin, Role: RoleAdmin}}
	})
	e.token = admin // rat's own API calls
	ctx := t.Context()
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, NULL)) t(id, amount)")
	store := e.lake.Store()
	e.tagAndBranch("v1", "dev")
	head, err := store.Ref(ctx, rat.DefaultBranch)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateRef(ctx, rat.Ref{Name: "run/x", Kind: rat.Branch, Head: head.Head, Internal: true}); err != nil {
		t.Fatal(err)
	}
	raw := table.Identifier{"bronze", "raw"}
	before, err := e.lake.Load(ctx, "dev", rat.TableID{Layer: "bronze", Name: "raw"})
	if err != nil {
		t.Fatal(err)
	}

	if err := appendRows(t, e.mustREST("dev", run), raw, `[{"id": 3, "amount": 30}, {"id": 4, "amount": null}]`); err != nil {
		t.Fatalf("append on dev: %v", err)
	}
	if got, want := e.queryRows("dev", "bronze.raw", "id", "amount"), []string{"1|10", "2|NULL", "3|30", "4|NULL"}; !slices.Equal(got, want) {
		t.Fatalf("rat query on dev after the append = %v, want %v", got, want)
	}
	if got := e.queryRows("main", "bronze.raw", "id"); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("main changed: %v", got)
	}
	dev, err := store.Ref(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	log, err := store.Log(ctx, dev.Head, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Message != "iceberg REST: commit to bronze.raw" || len(log[0].Changes) != 1 {
		t.Fatalf("dev's last commit = %+v", log)
	}
	// iceberg-go reads its own append back through the catalog.
	if rows := scanRows(t, e.mustREST("dev", read), raw); len(rows) != 4 {
		t.Fatalf("scan after append = %v", rows)
	}

	// Two clients append from the same state: the second commit finds the
	// table moved (409), iceberg-go reloads and retries, nothing is lost.
	c1, c2 := e.mustREST("dev", run), e.mustREST("dev", run)
	t1, err := c1.LoadTable(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c2.LoadTable(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := resttest.Append(ctx, t1, `[{"id": 5, "amount": 50}]`); err != nil {
		t.Fatal(err)
	}
	if err := resttest.Append(ctx, t2, `[{"id": 6, "amount": 60}]`); err != nil {
		t.Fatalf("the second append, from a stale table: %v", err)
	}
	if got := e.queryRows("dev", "bronze.raw", "id"); !slices.Equal(got, []string{"1", "2", "3", "4", "5", "6"}) {
		t.Fatalf("after two appends from the same state: %v", got)
	}
	if dev, err = store.Ref(ctx, "dev"); err != nil {
		t.Fatal(err)
	}

	// A commit whose requirement no longer holds: 409, nothing written.
	stale := fmt.Sprintf(`{"requirements": [{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": %d}], "updates": [{"action": "set-properties", "updates": {"x": "y"}}]}`,
		before.Metadata().CurrentSnapshot().SnapshotID)
	if status, body := e.restPost("/v1/dev/namespaces/bronze/tables/raw", run, stale); status != http.StatusConflict || body.Error.Type != "CommitFailedException" {
		t.Fatalf("stale commit: %d %+v", status, body.Error)
	}
	if after, err := store.Ref(ctx, "dev"); err != nil || after.Head != dev.Head {
		t.Fatalf("dev moved on a failed commit: %v %v", after, err)
	}
	for _, tc := range []struct {
		path, token, body string
		status            int
		typ, says         string
	}{
		{"/v1/v1/namespaces/bronze/tables/raw", run, `{"requirements": [], "updates": []}`, 403, "ForbiddenException", "tags are read-only"},
		{"/v1/dev/namespaces/bronze/tables/raw", read, `{"requirements": [], "updates": []}`, 403, "ForbiddenException", "needs run"},
		{"/v1/run%2Fx/namespaces/bronze/tables/raw", run, `{"requirements": [], "updates": []}`, 403, "ForbiddenException", "reserved"},
		{"/v1/dev/namespaces/bronze/tables/raw", run, `{"requirements": [], "updates": [{"action": "set-properties", "updates": {"write.metadata.delete-after-commit.enabled": "true"}}]}`, 400, "BadRequestException", "keeps it"},
		{"/v1/dev/namespaces/bronze/tables/raw", run, `{"requirements": [], "updates": [{"action": "remove-properties", "removals": ["write.metadata.delete-after-commit.enabled"]}]}`, 400, "BadRequestException", "keeps it"},
		{"/v1/dev/namespaces/bronze/tables/raw", run, `{"requirements": [], "updates": [{"action": "set-location", "location": "file:///elsewhere"}]}`, 400, "BadRequestException", "places tables itself"},
		{"/v1/dev/namespaces/bronze/tables/nope", run, `{"requirements": [], "updates": []}`, 404, "NoSuchTableException", "bronze.nope"},
		{"/v1/dev/namespaces/bronze/tables/raw", run, `{"requirements": [], "updates": [], "extra": 1}`, 400, "BadRequestException", "extra"},
		{"/v1/dev/namespaces/bronze/tables/raw", run, `{"identifier": {"namespace": ["silver"], "name": "raw"}, "requirements": [], "updates": []}`, 400, "BadRequestException", "not the table of the path"},
		{"/v1/dev/namespaces/bronze/tables/raw", run, `{"updates": [` + strings.Repeat(`{"action": "set-properties", "updates": {"k": "v"}},`, 30_000) + `{}]}`, 413, "", "limit"},
	} {
		status, body := e.restPost(tc.path, tc.token, tc.body)
		if status != tc.status || (tc.typ != "" && body.Error.Type != tc.typ) || !strings.Contains(body.Error.Message, tc.says) {
			t.Errorf("POST %s = %d %+v, want %d %s saying %q", tc.path, status, body.Error, tc.status, tc.typ, tc.says)
		}
	}
	if after, err := store.Ref(ctx, "dev"); err != nil || after.Head != dev.Head {
		t.Fatalf("dev moved on a refused commit: %v %v", after, err)
	}

	// rat merge takes the REST commits to main like any other.
	e.want(e.do("POST", "/api/v1/merge", map[string]any{"source": "dev", "into": "main"}), http.StatusOK)
	if got := e.queryRows("main", "bronze.raw", "id"); !slices.Equal(got, []string{"1", "2", "3", "4", "5", "6"}) {
		t.Fatalf("main after merging dev: %v", got)
	}
}

// TestIcebergRESTResponseCap: a table's metadata over the server's
// response cap is refused with a message, not sent in part.
func TestIcebergRESTResponseCap(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, func(c *Config) { c.Limits.ResultBytes = 512 })
	e.load("bronze.raw", "SELECT 1 AS id")
	status, body, _ := e.restDo("GET", "/v1/main/namespaces/bronze/tables/raw", "")
	if status != http.StatusInternalServerError || !strings.Contains(body.Error.Message, "response cap of 512 bytes") {
		t.Fatalf("load over the cap: %d %+v", status, body.Error)
	}
	// Small answers pass.
	if status, _, _ := e.restDo("GET", "/v1/main/namespaces", ""); status != http.StatusOK {
		t.Fatalf("list namespaces: %d", status)
	}
}

// TestIcebergRESTCreateTable: iceberg-go's REST client creates a table on
// a branch (a rat commit there, its layer appears with it) and appends to
// it; what rat decides itself (location, its table properties) and what is
// not served (staged creation) is refused with a message.
func TestIcebergRESTCreateTable(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	ctx := t.Context()
	e.load("bronze.raw", "SELECT 1 AS id")
	e.tagAndBranch("v1", "dev")
	c := e.mustREST("dev", "")
	schema := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 2, Name: "label", Type: iceberg.PrimitiveTypes.String})
	made := table.Identifier{"gold", "made"}
	tbl, err := c.CreateTable(ctx, made, schema)
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	if err := resttest.Append(ctx, tbl, `[{"id": 1, "label": "one"}, {"id": 2, "label": null}]`); err != nil {
		t.Fatalf("append to the new table: %v", err)
	}
	if got := e.queryRows("dev", "gold.made", "id", "label"); !slices.Equal(got, []string{"1|one", "2|NULL"}) {
		t.Fatalf("rat query on dev = %v", got)
	}
	if ok, err := c.CheckNamespaceExists(ctx, table.Identifier{"gold"}); err != nil || !ok {
		t.Fatalf("the new table's layer: %v %v", ok, err)
	}
	if ok, err := e.mustREST("main", "").CheckTableExists(ctx, made); err != nil || ok {
		t.Fatalf("the table is on main too: %v %v", ok, err)
	}
	dev, err := e.lake.Store().Ref(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	log, err := e.lake.Store().Log(ctx, dev.Head, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[1].Message != "iceberg REST: create table gold.made" || log[0].Message != "iceberg REST: commit to gold.made" {
		t.Fatalf("dev's log = %+v", log)
	}
	if _, err := c.CreateTable(ctx, made, schema); !errors.Is(err, icecat.ErrTableAlreadyExists) {
		t.Fatalf("create it again: %v", err)
	}

	const sc = `"schema": {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "id", "type": "long", "required": false}]}`
	for _, tc := range []struct {
		path, body string
		status     int
		typ, says  string
	}{
		{"/v1/v1/namespaces/gold/tables", `{"name": "t", ` + sc + `}`, 403, "ForbiddenException", "tags are read-only"},
		{"/v1/dev/namespaces/gold/tables", `{"name": "T", ` + sc + `}`, 400, "BadRequestException", "lower-case"},
		{"/v1/dev/namespaces/gold/tables", `{"name": "t"}`, 400, "BadRequestException", "no schema"},
		{"/v1/dev/namespaces/gold/tables", `{"name": "t", "location": "file:///elsewhere", ` + sc + `}`, 400, "BadRequestException", "places tables itself"},
		{"/v1/dev/namespaces/gold/tables", `{"name": "t", "properties": {"write.metadata.delete-after-commit.enabled": "true"}, ` + sc + `}`, 400, "BadRequestException", "keeps it"},
		{"/v1/dev/namespaces/gold/tables", `{"name": "t", "stage-create": true, ` + sc + `}`, 406, "UnsupportedOperationException", "staged"},
		{"/v1/dev/namespaces/_rat/tables", `{"name": "t", ` + sc + `}`, 400, "BadRequestException", "read-only"},
		{"/v1/dev/namespaces/bronze/tables", `{"name": "raw", ` + sc + `}`, 409, "AlreadyExistsException", "already exists"},
	} {
		status, body := e.restPost(tc.path, "", tc.body)
		if status != tc.status || body.Error.Type != tc.typ || !strings.Contains(body.Error.Message, tc.says) {
			t.Errorf("POST %s %s = %d %+v, want %d %s saying %q", tc.path, tc.body, status, body.Error, tc.status, tc.typ, tc.says)
		}
	}
	if got, err := e.lake.Store().Ref(ctx, "dev"); err != nil || got.Head != dev.Head {
		t.Fatalf("dev moved on a refused creation: %v %v", got, err)
	}
}

// TestIcebergRESTGuards tries /iceberg as a web page or a rebinding attack
// would: a forged Host is refused for reads and writes, and a cross-site
// Origin or a non-JSON body (what a page's form can send) cannot create a
// table; nothing of the refused requests lands in the catalog.
func TestIcebergRESTGuards(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	e.load("bronze.raw", "SELECT 1 AS id")
	const create = `{"name": "evil", "schema": {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "id", "type": "long", "required": false}]}}`
	tables := "/iceberg/v1/main/namespaces/bronze/tables"
	forged := map[string]string{"Host": "evil.example:" + e.port()}
	if r := e.raw("GET", "/iceberg/v1/config?warehouse=main", "", forged); r.status != http.StatusMisdirectedRequest {
		t.Errorf("GET config with a forged Host: %d %s", r.status, r.raw)
	}
	if r := e.raw("GET", tables+"/raw", "", forged); r.status != http.StatusMisdirectedRequest || strings.Contains(r.raw, "metadata-location") {
		t.Errorf("load table with a forged Host: %d %.200s", r.status, r.raw)
	}
	for name, h := range map[string]map[string]string{
		"forged host":  {"Host": "evil.example:" + e.port(), "Content-Type": "application/json"},
		"cross-site":   {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
		"null origin":  {"Origin": "null", "Content-Type": "application/json"},
		"text/plain":   {"Content-Type": "text/plain"},
		"form body":    {"Content-Type": "application/x-www-form-urlencoded"},
		"no body type": {},
	} {
		r := e.raw("POST", tables, create, h)
		if r.status < 400 || r.status >= 500 {
			t.Errorf("%s: create table answered %d %.200s, want a refusal", name, r.status, r.raw)
		}
	}
	if _, err := e.lake.Load(t.Context(), "main", rat.TableID{Layer: "bronze", Name: "evil"}); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Fatalf("a refused create made bronze.evil: %v", err)
	}
	// The same request from a same-origin client is served: the refusals
	// above are the guards', not a broken request.
	e.want(e.raw("POST", tables, create, map[string]string{"Content-Type": "application/json"}), http.StatusOK)
}
