package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: rat version names the DuckDB the binary links (the one
// queries run on), the iceberg-go of go.mod and the Go it was built with,
// and reads no workspace (it works beside a broken workspace.yaml).
func TestVersion(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	var v struct {
		Version, Go, Platform, DuckDB string
		IcebergGo                     string `json:"iceberg_go"`
		DuckDBGoMod                   string `json:"duckdb_go"`
	}
	if err := json.Unmarshal([]byte(u.ok("version", "--json")), &v); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	required := func(module string) string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + ` (v\S+)`).FindStringSubmatch(string(gomod))
		if m == nil {
			t.Fatalf("go.mod does not require %s", module)
		}
		return m[1]
	}
	if v.Version == "" || v.Go != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version %+v", v)
	}
	if want := required("github.com/apache/iceberg-go"); v.IcebergGo != want {
		t.Errorf("iceberg-go %q, want %q (go.mod)", v.IcebergGo, want)
	}
	if want := required("github.com/duckdb/duckdb-go/v2"); v.DuckDBGoMod != want {
		t.Errorf("duckdb-go %q, want %q (go.mod)", v.DuckDBGoMod, want)
	}
	engine := strings.TrimPrefix(u.ok("query", "SELECT version() AS v", "--format", "csv"), "v\n")
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+`).MatchString(v.DuckDB) || strings.TrimSpace(engine) != v.DuckDB {
		t.Errorf("duckdb %q, but queries run on DuckDB %q", v.DuckDB, engine)
	}
	u.write("workspace.yaml", "no_such_key: 1\n")
	out := u.ok("version")
	for _, want := range []string{"rat ", "commit ", "duckdb      " + v.DuckDB, "iceberg-go  " + v.IcebergGo, "go          " + v.Go} {
		if !strings.Contains(out, want) {
			t.Errorf("rat version does not print %q:\n%s", want, out)
		}
	}
}
