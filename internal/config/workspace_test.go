package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
)

func readTestdata(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", config.WorkspaceFileName))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// parseErr parses yaml and requires an EINVALID error; it returns the message.
func parseErr(t *testing.T, file, yaml string) string {
	t.Helper()
	ws, err := config.ParseWorkspace(file, []byte(yaml))
	if err == nil {
		t.Fatalf("ParseWorkspace accepted:\n%s\n(parsed %+v)", yaml, ws)
	}
	if code := rat.ErrorCode(err); code != rat.EINVALID {
		t.Fatalf("error code = %q, want %q (error: %v)", code, rat.EINVALID, err)
	}
	return err.Error()
}

func TestParseWorkspaceAcceptsEveryDocumentedKey(t *testing.T) {
	t.Parallel()
	ws, err := config.ParseWorkspace("testdata/workspace.yaml", readTestdata(t))
	if err != nil {
		t.Fatal(err)
	}
	ninety := 90
	want := config.Workspace{
		Version:     "1.0",
		Name:        "acme",
		Description: "Sales analytics for ACME.\n",
		Resources: config.Resources{
			Profile: "medium", ChunkSizeRows: 120000, MaxParallelPipelines: 3, DuckDBMemoryMB: 16000,
			DuckDBThreads: 6, MaxMemoryMB: 20000, CacheMB: 2048,
			Overrides: &config.Overrides{MaxMemoryMB: 24000, MaxParallelPipelines: 5, ChunkSizeRows: 150000, DuckDBMemoryMB: 18000},
		},
		Layers: map[string]config.Layer{
			"bronze": {RetentionDays: nil, PartitionBy: config.TextList{"_ingested_date"}},
			"silver": {RetentionDays: &ninety},
			"gold":   {PartitionBy: config.TextList{"day"}},
		},
		Storage:   config.Storage{Warehouse: "lake/warehouse"},
		Catalog:   config.CatalogSection{URL: "state/catalog.db", Branch: "workspace/acme"},
		Isolation: config.Isolation{NessieBranch: "workspace/acme", S3Prefix: "acme"},
		Vars:      map[string]any{"currency": "EUR", "threshold": 10, "regions": []any{"eu", "us"}},
		Products: []config.Product{{
			Name: "daily_sales", Source: "gold.daily_sales",
			Access: []config.ProductGrant{{Workspace: "finance", Level: "read"}, {Workspace: "marketing", Level: "read"}},
		}},
		Subscriptions: []config.Subscription{{Product: "crm/customers", Alias: "customers", VersionConstraint: ">=1.0"}},
	}
	want.Products[0].SLA.FreshnessHours = 24

	// Compare exported fields only (lines is internal bookkeeping).
	got := *ws
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"Version", got.Version, want.Version},
		{"Name", got.Name, want.Name},
		{"Description", got.Description, want.Description},
		{"Resources", got.Resources, want.Resources},
		{"Layers", got.Layers, want.Layers},
		{"Storage", got.Storage, want.Storage},
		{"Catalog", got.Catalog, want.Catalog},
		{"Isolation", got.Isolation, want.Isolation},
		{"Vars", got.Vars, want.Vars},
		{"Products", got.Products, want.Products},
		{"Subscriptions", got.Subscriptions, want.Subscriptions},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("%s = %#v\nwant %#v", f.name, f.got, f.want)
		}
	}
	if _, ok := ws.Layers["bronze"]; !ok {
		t.Error("layers.bronze with retention_days: null was dropped")
	}
}

// TestLoadFullWorkspace loads the full file and checks the keys that have
// an effect today.
func TestLoadFullWorkspace(t *testing.T) {
	t.Parallel()
	dir := workspace(t, string(readTestdata(t)))
	c := mustLoad(t, dir, nil, nil)
	for key, want := range map[string][2]string{
		"profile":                {"medium", "workspace.yaml:8"},
		"chunk_size_rows":        {"120000", "workspace.yaml:9"},
		"max_parallel_pipelines": {"3", "workspace.yaml:10"},
		"duckdb_memory_mb":       {"16000", "workspace.yaml:11"},
		"duckdb_threads":         {"6", "workspace.yaml:12"},
		"cache_mb":               {"2048", "workspace.yaml:14"},
		"warehouse":              {filepath.Join(dir, "lake", "warehouse"), "workspace.yaml:29"},
		"catalog_url":            {filepath.Join(dir, "state", "catalog.db"), "workspace.yaml:31"},
		"branch":                 {"workspace/acme", "workspace.yaml:34"},
	} {
		if got := setting(t, c, key); got.Value != want[0] || got.Source != want[1] {
			t.Errorf("%s = %q from %q, want %q from %q", key, got.Value, got.Source, want[0], want[1])
		}
	}
	if c.Workspace == nil || c.Workspace.Name != "acme" || c.WorkspaceDir != dir {
		t.Errorf("Workspace = %+v in %q, want acme in %q", c.Workspace, c.WorkspaceDir, dir)
	}
}

func TestWorkspaceLine(t *testing.T) {
	t.Parallel()
	ws, err := config.ParseWorkspace("w.yaml", readTestdata(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want int
	}{
		{"version", 3},
		{"resources", 7},
		{"resources.profile", 8},
		{"resources.overrides.max_memory_mb", 16},
		{"layers.bronze.retention_days", 22},
		{"catalog.branch", 32},
		{"isolation.s3_prefix", 35},
		{"products[0].name", 41},
		{"products[0].access[1].workspace", 46},
		{"products[0].sla.freshness_hours", 49},
		{"subscriptions[0].version_constraint", 53},
		{"nope", 0},
		{"resources.nope", 0},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			if got := ws.Line(tt.key); got != tt.want {
				t.Errorf("Line(%q) = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
}

func TestParseWorkspaceUnknownKeys(t *testing.T) {
	t.Parallel()
	const file = "/ws/workspace.yaml"
	tests := []struct {
		name string
		yaml string
		want []string // besides file:line
		line string
		not  string // must not appear (a wrong suggestion)
	}{
		{
			name: "flow mapping typo",
			yaml: "resources: {profle: small}\n",
			line: "1",
			want: []string{`"resources.profle"`, `did you mean "resources.profile"?`},
		},
		{
			name: "block typo",
			yaml: "name: x\nresources:\n  profle: small\n",
			line: "3",
			want: []string{`"resources.profle"`, `did you mean "resources.profile"?`},
		},
		{
			name: "top-level typo",
			yaml: "nmae: x\n",
			line: "1",
			want: []string{`"nmae"`, `did you mean "name"?`},
		},
		{
			name: "nested layer key",
			yaml: "layers:\n  bronze:\n    retention_dayz: 3\n",
			line: "3",
			want: []string{`"layers.bronze.retention_dayz"`, `did you mean "layers.bronze.retention_days"?`},
		},
		{
			name: "overrides key",
			yaml: "resources:\n  overrides:\n    max_memroy_mb: 3\n",
			line: "3",
			want: []string{`"resources.overrides.max_memroy_mb"`, `did you mean "resources.overrides.max_memory_mb"?`},
		},
		{
			name: "product grant key",
			yaml: "products:\n  - name: p\n    acess:\n      - workspace: w\n",
			line: "3",
			want: []string{`"products[0].acess"`, `did you mean "products[0].access"?`},
		},
		{
			name: "product sla key",
			yaml: "products:\n  - name: p\n  - name: q\n    sla:\n      freshness_hour: 2\n",
			line: "5",
			want: []string{`"products[1].sla.freshness_hour"`, `did you mean "products[1].sla.freshness_hours"?`},
		},
		{
			name: "subscription key",
			yaml: "subscriptions:\n  - product: p\n    version_constrain: '>1'\n",
			line: "3",
			want: []string{`"subscriptions[0].version_constrain"`, `did you mean "subscriptions[0].version_constraint"?`},
		},
		{
			name: "key at the wrong level",
			yaml: "name: x\nprofile: small\n",
			line: "2",
			want: []string{`"profile"`, `did you mean "resources.profile"?`},
		},
		{
			name: "unrelated key lists the valid ones",
			yaml: "storage:\n  bucket: x\n",
			line: "2",
			want: []string{`"storage.bucket"`, "valid keys here: warehouse"},
			not:  "did you mean",
		},
		{
			name: "the original's defaults block",
			yaml: "defaults:\n  resource_profile: small\n",
			line: "1",
			want: []string{`"defaults"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msg := parseErr(t, file, tt.yaml)
			contains(t, "error", msg, append([]string{file + ":" + tt.line + ": unknown key"}, tt.want...)...)
			if tt.not != "" && strings.Contains(msg, tt.not) {
				t.Errorf("error %q mentions %q", msg, tt.not)
			}
		})
	}
}

func TestParseWorkspaceBadValues(t *testing.T) {
	t.Parallel()
	const file = "/ws/workspace.yaml"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown profile", "name: x\nresources:\n  profile: huge\n",
			[]string{file + ":3:", "resources.profile", `"huge"`, "tiny, small, medium, large"}},
		{"syntax error", "name: x\nresources:\n  profile: small\n   threads: 2\n",
			[]string{file + ":4:"}},
		{"tab indentation", "resources:\n\tprofile: small\n",
			[]string{file}},
		{"text for a number", "resources:\n  chunk_size_rows: lots\n",
			[]string{file + ":2:", "resources.chunk_size_rows", "whole number", `"lots"`}},
		{"list for a mapping", "storage: [a, b]\n",
			[]string{file + ":1:", "storage", "a mapping", "a list"}},
		{"text for a list", "products: daily\n",
			[]string{file + ":1:", "products", "want a list", `"daily"`}},
		{"list for text", "name: [a, b]\n",
			[]string{file + ":1:", "name", "want text", "a list"}},
		{"text for retention", "layers: {bronze: {retention_days: soon}}\n",
			[]string{file + ":1:", "layers.bronze.retention_days", "whole number", `"soon"`}},
		{"text for freshness", "products:\n  - sla: {freshness_hours: daily}\n",
			[]string{file + ":2:", "products[0].sla.freshness_hours", "want a number"}},
		{"duplicate key", "name: a\nname: b\n",
			[]string{file + ":2:", `"name"`, "already defined at line 1"}},
		{"several problems", "resources:\n  profle: x\n  threds: 2\n",
			[]string{file + ":2:", "profle", "and 1 more problem"}},
		{"zero size", "resources:\n  chunk_size_rows: 0\n",
			[]string{file + ":2:", "resources.chunk_size_rows", "positive whole number", "got 0"}},
		{"negative size", "resources:\n  duckdb_memory_mb: -5\n",
			[]string{file + ":2:", "resources.duckdb_memory_mb", "positive whole number", "got -5"}},
		{"negative override", "resources:\n  overrides:\n    max_memory_mb: -1\n",
			[]string{file + ":3:", "resources.overrides.max_memory_mb", "positive"}},
		{"zero threads", "resources: {duckdb_threads: 0}\n",
			[]string{file + ":1:", "resources.duckdb_threads"}},
		{"mapping for partition_by", "layers:\n  bronze:\n    partition_by:\n      day: ts\n",
			[]string{file + ":4:", "layers.bronze.partition_by", "want text or a list of text, got a mapping"}},
		{"mapping in partition_by", "layers:\n  bronze:\n    partition_by:\n      - day(ts)\n      - {bucket: 4}\n",
			[]string{file + ":5:", "want text for each entry, got a mapping"}},
		{"negative retention", "layers:\n  silver:\n    retention_days: -1\n",
			[]string{file + ":3:", "layers.silver.retention_days", "null to keep forever"}},
		{"retention column not a name", "layers:\n  bronze:\n    retention_days: 30\n    retention_column: \"day; drop\"\n",
			[]string{file + ":4:", "layers.bronze.retention_column", `"day; drop" is not a column name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			contains(t, "error", parseErr(t, file, tt.yaml), tt.want...)
		})
	}
}

func TestParseWorkspaceAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  string
		check func(*config.Workspace) bool
	}{
		{"empty file", "", func(w *config.Workspace) bool { return w.Name == "" && w.Resources.Overrides == nil }},
		{"only comments", "# nothing yet\n", func(w *config.Workspace) bool { return w.Name == "" }},
		{"numeric version", "version: 1\n", func(w *config.Workspace) bool { return w.Version == 1 }},
		{"profile in capitals", "resources:\n  profile: Large\n", func(w *config.Workspace) bool { return w.Resources.Profile == "Large" }},
		{"zero retention", "layers:\n  bronze:\n    retention_days: 0\n", func(w *config.Workspace) bool {
			d := w.Layers["bronze"].RetentionDays
			return d != nil && *d == 0
		}},
		{"retention column", "layers:\n  bronze:\n    retention_days: 30\n    retention_column: event_day\n", func(w *config.Workspace) bool {
			return w.Layers["bronze"].RetentionColumn == "event_day"
		}},
		{"partition_by list", "layers:\n  bronze:\n    partition_by: [region, day(ts), bucket(16, id)]\n", func(w *config.Workspace) bool {
			return strings.Join(w.Layers["bronze"].PartitionBy, ";") == "region;day(ts);bucket(16, id)"
		}},
		{"partition_by one entry", "layers:\n  bronze:\n    partition_by: bucket(16, id)\n", func(w *config.Workspace) bool {
			return strings.Join(w.Layers["bronze"].PartitionBy, ";") == "bucket(16, id)"
		}},
		{"any vars", "vars:\n  nested: {a: [1, 2]}\n  flag: true\n", func(w *config.Workspace) bool { return len(w.Vars) == 2 }},
		{"empty overrides", "resources:\n  overrides:\n", func(w *config.Workspace) bool { return w.Resources.Overrides == nil }},
		{"null sizes are unset", "resources:\n  chunk_size_rows:\n  cache_mb: null\n  overrides:\n    max_memory_mb: ~\n", func(w *config.Workspace) bool {
			o := w.Resources.Overrides
			return w.Resources.ChunkSizeRows == 0 && w.Resources.CacheMB == 0 && o != nil && o.MaxMemoryMB == 0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws, err := config.ParseWorkspace("w.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(ws) {
				t.Errorf("parsed %+v", ws)
			}
		})
	}
}

// TestLoadNamesWorkspaceErrors checks that Load reports workspace.yaml
// problems with the file's full path.
func TestLoadNamesWorkspaceErrors(t *testing.T) {
	t.Parallel()
	dir := workspace(t, "name: x\nresources:\n  profle: small\n")
	msg := loadErr(t, dir, nil, nil)
	contains(t, "error", msg, filepath.Join(dir, config.WorkspaceFileName)+":3:", "profle", "profile")

	dir = workspace(t, "resources:\n  profile: huge\n")
	contains(t, "error", loadErr(t, dir, nil, nil), filepath.Join(dir, config.WorkspaceFileName)+":2:", "tiny, small, medium, large")

	// A bad profile in workspace.yaml is reported even when RAT_PROFILE
	// would override it: the file itself is wrong.
	contains(t, "error", loadErr(t, dir, env{"RAT_PROFILE": "small"}, nil), "huge")
}

func TestFindWorkspace(t *testing.T) {
	t.Parallel()
	root := workspace(t, "name: x\n")
	nested := filepath.Join(root, "pipelines", "silver", "sales")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		want string
	}{
		{"root", root, root},
		{"nested", nested, root},
		{"unclean path", nested + "/../..", root},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := config.FindWorkspace(tt.dir); got != tt.want {
				t.Errorf("FindWorkspace(%q) = %q, want %q", tt.dir, got, tt.want)
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		dir := noWorkspace(t)
		if got := config.FindWorkspace(filepath.Join(dir, "a", "b")); got != "" {
			t.Errorf("FindWorkspace = %q, want none", got)
		}
	})
	t.Run("a directory named workspace.yaml is not a workspace", func(t *testing.T) {
		t.Parallel()
		dir := noWorkspace(t)
		if err := os.Mkdir(filepath.Join(dir, config.WorkspaceFileName), 0o755); err != nil {
			t.Fatal(err)
		}
		if got := config.FindWorkspace(dir); got != "" {
			t.Errorf("FindWorkspace = %q, want none", got)
		}
	})
	t.Run("nearest wins", func(t *testing.T) {
		t.Parallel()
		inner := filepath.Join(root, "sub")
		if err := os.MkdirAll(filepath.Join(inner, "deeper"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(inner, config.WorkspaceFileName), []byte("name: inner\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := config.FindWorkspace(filepath.Join(inner, "deeper")); got != inner {
			t.Errorf("FindWorkspace = %q, want %q", got, inner)
		}
	})
}

// TestFindWorkspaceRelative changes the working directory, so it cannot run
// in parallel.
func TestFindWorkspaceRelative(t *testing.T) {
	root := workspace(t, "name: x\n")
	nested := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(nested)
	if got := config.FindWorkspace("."); got != root {
		t.Errorf(`FindWorkspace(".") = %q, want %q`, got, root)
	}
	if got := config.FindWorkspace(filepath.Join("..", "b")); got != root {
		t.Errorf(`FindWorkspace("../b") = %q, want %q`, got, root)
	}
}

func TestStateDirAndPaths(t *testing.T) {
	t.Parallel()
	t.Run("inside a workspace", func(t *testing.T) {
		t.Parallel()
		root := workspace(t, "storage:\n  warehouse: ./lake\ncatalog:\n  url: meta/catalog.db\n")
		nested := filepath.Join(root, "pipelines", "bronze")
		if err := os.MkdirAll(nested, 0o755); err != nil {
			t.Fatal(err)
		}
		c := mustLoad(t, nested, nil, nil)
		for name, got := range map[string][2]string{
			"WorkspaceDir": {c.WorkspaceDir, root},
			"StateDir":     {c.StateDir, filepath.Join(root, ".rat")},
			"Warehouse":    {c.Warehouse, filepath.Join(root, "lake")},
			"CatalogURL":   {c.CatalogURL, filepath.Join(root, "meta", "catalog.db")},
		} {
			if got[0] != got[1] {
				t.Errorf("%s = %q, want %q", name, got[0], got[1])
			}
		}
		if got := setting(t, c, "workspace"); got.Value != root || got.Source != "found workspace.yaml" {
			t.Errorf("workspace setting = %+v", got)
		}
	})
	t.Run("defaults follow the workspace", func(t *testing.T) {
		t.Parallel()
		root := workspace(t, "name: x\n")
		nested := filepath.Join(root, "deep")
		if err := os.MkdirAll(nested, 0o755); err != nil {
			t.Fatal(err)
		}
		c := mustLoad(t, nested, nil, nil)
		if c.Warehouse != filepath.Join(root, ".rat", "warehouse") || c.CatalogURL != filepath.Join(root, ".rat", "catalog.db") {
			t.Errorf("warehouse %q, catalog %q; want both under %s", c.Warehouse, c.CatalogURL, filepath.Join(root, ".rat"))
		}
	})
	t.Run("absolute and URL values are kept", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, workspace(t, "storage:\n  warehouse: s3://b/lake/\ncatalog:\n  url: postgres://rat@db/rat\n"), nil, nil)
		if c.Warehouse != "s3://b/lake/" || c.CatalogURL != "postgres://rat@db/rat" {
			t.Errorf("warehouse %q, catalog %q", c.Warehouse, c.CatalogURL)
		}
		c = mustLoad(t, workspace(t, "storage:\n  warehouse: /srv/lake\n"), nil, nil)
		if c.Warehouse != "/srv/lake" {
			t.Errorf("warehouse %q, want /srv/lake", c.Warehouse)
		}
	})
	t.Run("outside a workspace", func(t *testing.T) {
		t.Parallel()
		dir := noWorkspace(t)
		c := mustLoad(t, dir, nil, nil)
		if c.StateDir != filepath.Join(dir, ".rat") || c.WorkspaceDir != "" {
			t.Errorf("StateDir %q, WorkspaceDir %q; want %s/.rat and none", c.StateDir, c.WorkspaceDir, dir)
		}
	})
	t.Run("RAT_WORKSPACE when no directory is given", func(t *testing.T) {
		t.Parallel()
		root := workspace(t, "name: from-env\n")
		c := mustLoad(t, "", env{"RAT_WORKSPACE": root}, nil)
		if c.WorkspaceDir != root || c.Workspace.Name != "from-env" {
			t.Errorf("WorkspaceDir %q, want %q", c.WorkspaceDir, root)
		}
		// An explicit directory wins over RAT_WORKSPACE.
		other := workspace(t, "name: from-dir\n")
		c = mustLoad(t, other, env{"RAT_WORKSPACE": root}, nil)
		if c.WorkspaceDir != other {
			t.Errorf("WorkspaceDir %q, want %q", c.WorkspaceDir, other)
		}
	})
	t.Run("load does not create the state directory", func(t *testing.T) {
		t.Parallel()
		dir := noWorkspace(t)
		mustLoad(t, dir, nil, nil)
		if _, err := os.Stat(filepath.Join(dir, ".rat")); !os.IsNotExist(err) {
			t.Errorf("Load created %s/.rat (stat error %v)", dir, err)
		}
	})
}
