package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/sysres"
)

// env is a fake process environment: Load reads it through Options.Env and
// Options.Environ, so the machine's own variables never leak into a test.
type env map[string]string

func (e env) lookup(k string) (string, bool) {
	v, ok := e[k]
	return v, ok
}

func (e env) environ() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

// bigMachine is the machine load gives Load: large enough for every
// profile, so the profiles' own values show (resources_test.go tests
// smaller ones).
var bigMachine = sysres.Limits{MemoryBytes: 256 << 30, MemorySource: sysres.Host, HostMemoryBytes: 256 << 30, CPUs: 64, CPUSource: sysres.Host}

// load runs config.Load on dir with a fake environment and flags, on
// bigMachine.
func load(t *testing.T, dir string, e env, flags map[string]string) (*config.Config, error) {
	t.Helper()
	return loadMachine(t, dir, &bigMachine, e, flags)
}

// loadMachine is load on a machine with the limits l.
func loadMachine(t *testing.T, dir string, l *sysres.Limits, e env, flags map[string]string) (*config.Config, error) {
	t.Helper()
	if e == nil {
		e = env{}
	}
	machine := func() (sysres.Limits, error) { return *l, nil }
	return config.Load(config.Options{Dir: dir, Env: e.lookup, Environ: e.environ(), Flags: flags, Machine: machine})
}

func mustLoad(t *testing.T, dir string, e env, flags map[string]string) *config.Config {
	t.Helper()
	c, err := load(t, dir, e, flags)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return c
}

// loadErr loads and requires an EINVALID error; it returns the message.
func loadErr(t *testing.T, dir string, e env, flags map[string]string) string {
	t.Helper()
	c, err := load(t, dir, e, flags)
	if err == nil {
		t.Fatalf("load succeeded (branch %q, warehouse %q), want an error", c.Branch, c.Warehouse)
	}
	if code := rat.ErrorCode(err); code != rat.EINVALID {
		t.Fatalf("error code = %q, want %q (error: %v)", code, rat.EINVALID, err)
	}
	return err.Error()
}

// workspace writes workspace.yaml into a fresh directory and returns it.
func workspace(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.WorkspaceFileName), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// noWorkspace returns an empty directory, skipping the test when some
// ancestor of the temp directory holds a workspace.yaml that Load would find.
func noWorkspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if root := config.FindWorkspace(dir); root != "" {
		t.Skipf("%s holds a %s above the temp directory", root, config.WorkspaceFileName)
	}
	return dir
}

func setting(t *testing.T, c *config.Config, key string) config.Setting {
	t.Helper()
	for _, s := range c.Settings() {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("Settings() has no %q row", key)
	return config.Setting{}
}

func contains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s %q does not mention %q", what, s, sub)
		}
	}
}

// DESIGN §4 (and README for cache_mb): the numbers are the contract.
var wantProfiles = []config.Profile{
	{Name: "tiny", DuckDBMemoryMB: 2048, DuckDBThreads: 1, ChunkSizeRows: 10_000, MaxParallelPipelines: 1, CacheMB: 1024, MaxResultBytes: 16 << 20, TargetFileSizeMB: 32},
	{Name: "small", DuckDBMemoryMB: 8192, DuckDBThreads: 2, ChunkSizeRows: 50_000, MaxParallelPipelines: 2, CacheMB: 10_240, MaxResultBytes: 64 << 20, TargetFileSizeMB: 64},
	{Name: "medium", DuckDBMemoryMB: 32768, DuckDBThreads: 4, ChunkSizeRows: 200_000, MaxParallelPipelines: 4, CacheMB: 51_200, MaxResultBytes: 256 << 20, TargetFileSizeMB: 128},
	{Name: "large", DuckDBMemoryMB: 98304, DuckDBThreads: 8, ChunkSizeRows: 1_000_000, MaxParallelPipelines: 8, CacheMB: 204_800, MaxResultBytes: 1 << 30, TargetFileSizeMB: 128},
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	for _, want := range wantProfiles {
		t.Run(want.Name, func(t *testing.T) {
			t.Parallel()
			got, err := config.LookupProfile(want.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("LookupProfile(%q) = %+v, want %+v", want.Name, got, want)
			}
			upper, err := config.LookupProfile(strings.ToUpper(want.Name))
			if err != nil || upper != want {
				t.Errorf("LookupProfile(%q) = %+v, %v; want the same profile", strings.ToUpper(want.Name), upper, err)
			}

			c := mustLoad(t, noWorkspace(t), env{"RAT_PROFILE": want.Name}, nil)
			loaded := config.Profile{Name: c.Profile, DuckDBMemoryMB: c.DuckDBMemoryMB, DuckDBThreads: c.DuckDBThreads,
				ChunkSizeRows: c.ChunkSizeRows, MaxParallelPipelines: c.MaxParallelPipelines, CacheMB: c.CacheMB, MaxResultBytes: c.MaxResultBytes, TargetFileSizeMB: c.OptimizeTargetFileSizeMB}
			if loaded != want {
				t.Errorf("Load with RAT_PROFILE=%s = %+v, want %+v", want.Name, loaded, want)
			}
			for _, key := range []string{"duckdb_memory_mb", "duckdb_threads", "chunk_size_rows", "max_parallel_pipelines", "cache_mb", "max_result_bytes"} {
				if got, want := c.Source(key), "profile "+want.Name; got != want {
					t.Errorf("Source(%q) = %q, want %q", key, got, want)
				}
			}
		})
	}
}

func TestProfileNames(t *testing.T) {
	t.Parallel()
	got := strings.Join(config.ProfileNames(), ",")
	if want := "tiny,small,medium,large"; got != want {
		t.Errorf("ProfileNames() = %s, want %s", got, want)
	}
	if config.DefaultProfile != "small" {
		t.Errorf("DefaultProfile = %q, want small", config.DefaultProfile)
	}
}

func TestLookupProfileUnknown(t *testing.T) {
	t.Parallel()
	_, err := config.LookupProfile("huge")
	if !rat.IsCode(err, rat.EINVALID) {
		t.Fatalf("LookupProfile(huge) error = %v, want EINVALID", err)
	}
	contains(t, "error", err.Error(), `"huge"`, "tiny, small, medium, large")
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	dir := noWorkspace(t)
	c := mustLoad(t, dir, nil, nil)
	checks := []struct{ key, value, source string }{
		{"workspace", "(none)", "no workspace.yaml here or above"},
		{"state_dir", filepath.Join(dir, ".rat"), "workspace or working directory"},
		{"profile", "small", "default"},
		{"duckdb_memory_mb", "8192", "profile small"},
		{"duckdb_threads", "2", "profile small"},
		{"chunk_size_rows", "50000", "profile small"},
		{"max_parallel_pipelines", "2", "profile small"},
		{"cache_mb", "10240", "profile small"},
		{"max_result_bytes", "67108864", "profile small"},
		{"warehouse", filepath.Join(dir, ".rat", "warehouse"), "default"},
		{"catalog_url", filepath.Join(dir, ".rat", "catalog.db"), "default"},
		{"branch", "main", "default"},
		{"s3_endpoint", "", "unset"},
		{"s3_region", "us-east-1", "default"},
		{"s3_path_style", "auto", "default"},
		{"s3_access_key", "", "unset"},
		{"s3_secret_key", "", "unset"},
		{"listen", "127.0.0.1:3030", "default"},
		{"api_token", "", "unset"},
		{"token_file", "", "unset"},
		{"allowed_hosts", "", "unset"},
		{"metrics_token", "", "unset"},
		{"run_retention_days", "90", "default"},
		{"run_lease", "30s", "default"},
		{"memory_limit", "256.0 GiB", "host"},
		{"cpu_limit", "64", "host"},
		{"go_memory_limit", "", "unset (not in a cgroup)"},
	}
	rows := c.Settings()
	if len(rows) != len(checks) {
		t.Errorf("Settings() has %d rows, want %d: %+v", len(rows), len(checks), rows)
	}
	for _, want := range checks {
		got := setting(t, c, want.key)
		if got.Value != want.value || got.Source != want.source {
			t.Errorf("%s = %q from %q, want %q from %q", want.key, got.Value, got.Source, want.value, want.source)
		}
	}
	if c.WorkspaceDir != "" || c.Workspace != nil {
		t.Errorf("WorkspaceDir = %q, Workspace = %v; want none", c.WorkspaceDir, c.Workspace)
	}
	if c.IsS3() || c.IsPostgres() {
		t.Errorf("IsS3() = %v, IsPostgres() = %v; want a local warehouse and a SQLite catalog", c.IsS3(), c.IsPostgres())
	}
}

// TestPrecedence checks profile default < workspace.yaml < environment <
// flags for each key, and that Source and Settings name the winner.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	const ws = `name: demo
resources:
  profile: tiny
  duckdb_memory_mb: 3000
  duckdb_threads: 3
  chunk_size_rows: 30000
  max_parallel_pipelines: 3
  cache_mb: 300
storage:
  warehouse: /data/ws-warehouse
catalog:
  url: /data/ws-catalog.db
  branch: ws-branch
`
	allEnv := env{
		"RAT_PROFILE":                "medium",
		"RAT_DUCKDB_MEMORY_MB":       "5000",
		"RAT_DUCKDB_THREADS":         "5",
		"RAT_CHUNK_SIZE_ROWS":        "50001",
		"RAT_MAX_PARALLEL_PIPELINES": "5",
		"RAT_CACHE_MB":               "500",
		"ICEBERG_WAREHOUSE":          "/data/env-warehouse",
		"RAT_CATALOG_URL":            "/data/env-catalog.db",
		"RAT_BRANCH":                 "env-branch",
		"RAT_LISTEN":                 "0.0.0.0:4040",
		"S3_REGION":                  "eu-west-3",
		"S3_PATH_STYLE":              "path",
		"S3_ACCESS_KEY":              "AKIAEXAMPLE",
	}
	allFlags := map[string]string{
		"profile":     "large",
		"warehouse":   "/data/flag-warehouse",
		"catalog_url": "/data/flag-catalog.db",
		"branch":      "flag-branch",
	}
	type want struct{ value, source string }
	tests := []struct {
		name  string
		ws    string
		env   env
		flags map[string]string
		want  map[string]want
	}{
		{
			name: "profile only",
			ws:   "name: demo\n",
			want: map[string]want{
				"profile":                {"small", "default"},
				"duckdb_memory_mb":       {"8192", "profile small"},
				"duckdb_threads":         {"2", "profile small"},
				"chunk_size_rows":        {"50000", "profile small"},
				"max_parallel_pipelines": {"2", "profile small"},
				"cache_mb":               {"10240", "profile small"},
			},
		},
		{
			name: "workspace over profile",
			ws:   ws,
			want: map[string]want{
				"profile":                {"tiny", "workspace.yaml:3"},
				"duckdb_memory_mb":       {"3000", "workspace.yaml:4"},
				"duckdb_threads":         {"3", "workspace.yaml:5"},
				"chunk_size_rows":        {"30000", "workspace.yaml:6"},
				"max_parallel_pipelines": {"3", "workspace.yaml:7"},
				"cache_mb":               {"300", "workspace.yaml:8"},
				"warehouse":              {"/data/ws-warehouse", "workspace.yaml:10"},
				"catalog_url":            {"/data/ws-catalog.db", "workspace.yaml:12"},
				"branch":                 {"ws-branch", "workspace.yaml:13"},
			},
		},
		{
			// A profile chosen in the environment changes the defaults only:
			// keys set in workspace.yaml still win over profile values.
			name: "env profile under workspace keys",
			ws:   ws,
			env:  env{"RAT_PROFILE": "medium"},
			want: map[string]want{
				"profile":          {"medium", "env RAT_PROFILE"},
				"duckdb_memory_mb": {"3000", "workspace.yaml:4"},
				"cache_mb":         {"300", "workspace.yaml:8"},
			},
		},
		{
			name: "env profile without workspace keys",
			ws:   "resources:\n  profile: tiny\n",
			env:  env{"RAT_PROFILE": "medium"},
			want: map[string]want{
				"profile":                {"medium", "env RAT_PROFILE"},
				"duckdb_memory_mb":       {"32768", "profile medium"},
				"duckdb_threads":         {"4", "profile medium"},
				"chunk_size_rows":        {"200000", "profile medium"},
				"max_parallel_pipelines": {"4", "profile medium"},
				"cache_mb":               {"51200", "profile medium"},
			},
		},
		{
			name: "env over workspace",
			ws:   ws,
			env:  allEnv,
			want: map[string]want{
				"profile":                {"medium", "env RAT_PROFILE"},
				"duckdb_memory_mb":       {"5000", "env RAT_DUCKDB_MEMORY_MB"},
				"duckdb_threads":         {"5", "env RAT_DUCKDB_THREADS"},
				"chunk_size_rows":        {"50001", "env RAT_CHUNK_SIZE_ROWS"},
				"max_parallel_pipelines": {"5", "env RAT_MAX_PARALLEL_PIPELINES"},
				"cache_mb":               {"500", "env RAT_CACHE_MB"},
				"warehouse":              {"/data/env-warehouse", "env ICEBERG_WAREHOUSE"},
				"catalog_url":            {"/data/env-catalog.db", "env RAT_CATALOG_URL"},
				"branch":                 {"env-branch", "env RAT_BRANCH"},
				"listen":                 {"0.0.0.0:4040", "env RAT_LISTEN"},
				"s3_region":              {"eu-west-3", "env S3_REGION"},
				"s3_path_style":          {"path", "env S3_PATH_STYLE"},
				"s3_access_key":          {"AKIAEXAMPLE", "env S3_ACCESS_KEY"},
			},
		},
		{
			name:  "flags over env",
			ws:    ws,
			env:   allEnv,
			flags: allFlags,
			want: map[string]want{
				"profile":     {"large", "flag --profile"},
				"warehouse":   {"/data/flag-warehouse", "flag --warehouse"},
				"catalog_url": {"/data/flag-catalog.db", "flag --catalog-url"},
				"branch":      {"flag-branch", "flag --branch"},
				// env still beats the profile the flag chose
				"duckdb_memory_mb": {"5000", "env RAT_DUCKDB_MEMORY_MB"},
			},
		},
		{
			name:  "flag profile alone",
			ws:    "name: demo\n",
			flags: map[string]string{"profile": "large"},
			want: map[string]want{
				"profile":          {"large", "flag --profile"},
				"duckdb_memory_mb": {"98304", "profile large"},
			},
		},
		{
			name:  "empty values are not set",
			ws:    ws,
			env:   env{"RAT_PROFILE": "", "RAT_DUCKDB_MEMORY_MB": "", "ICEBERG_WAREHOUSE": ""},
			flags: map[string]string{"profile": "", "branch": ""},
			want: map[string]want{
				"profile":          {"tiny", "workspace.yaml:3"},
				"duckdb_memory_mb": {"3000", "workspace.yaml:4"},
				"warehouse":        {"/data/ws-warehouse", "workspace.yaml:10"},
				"branch":           {"ws-branch", "workspace.yaml:13"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, workspace(t, tt.ws), tt.env, tt.flags)
			for key, w := range tt.want {
				got := setting(t, c, key)
				if got.Value != w.value || got.Source != w.source {
					t.Errorf("%s = %q from %q, want %q from %q", key, got.Value, got.Source, w.value, w.source)
				}
				if src := c.Source(key); src != w.source {
					t.Errorf("Source(%q) = %q, want %q", key, src, w.source)
				}
			}
		})
	}
}

// TestLoadFields checks that the struct fields, not only Settings, carry
// the effective values the rest of rat reads.
func TestLoadFields(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, noWorkspace(t), env{
		"RAT_PROFILE": "MEDIUM", "RAT_DUCKDB_THREADS": "6", "RAT_LISTEN": ":9999",
		"ICEBERG_WAREHOUSE": "s3://lake/prefix/", "S3_ENDPOINT": "http://127.0.0.1:9000",
		"S3_ACCESS_KEY": "ak", "S3_REGION": "eu-central-1", "S3_PATH_STYLE": "virtual",
	}, nil)
	got := fmt.Sprintln(c.Profile, c.DuckDBMemoryMB, c.DuckDBThreads, c.ChunkSizeRows, c.MaxParallelPipelines, c.CacheMB,
		c.Listen, c.Warehouse, c.S3.Endpoint, c.S3.AccessKey, c.S3.Region, c.S3.PathStyle)
	want := "medium 32768 6 200000 4 51200 :9999 s3://lake/prefix/ http://127.0.0.1:9000 ak eu-central-1 virtual\n"
	if got != want {
		t.Errorf("fields = %swant     %s", got, want)
	}
	if !c.IsS3() {
		t.Error("IsS3() = false for an s3:// warehouse")
	}
}

func TestResourcesOverrides(t *testing.T) {
	t.Parallel()
	t.Run("original form", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, workspace(t, `resources:
  profile: medium
  overrides:
    duckdb_memory_mb: 12000
    chunk_size_rows: 77000
    max_parallel_pipelines: 3
`), nil, nil)
		for key, want := range map[string][2]string{
			"duckdb_memory_mb":       {"12000", "workspace.yaml:4"},
			"chunk_size_rows":        {"77000", "workspace.yaml:5"},
			"max_parallel_pipelines": {"3", "workspace.yaml:6"},
			"duckdb_threads":         {"4", "profile medium"},
		} {
			if got := setting(t, c, key); got.Value != want[0] || got.Source != want[1] {
				t.Errorf("%s = %q from %q, want %q from %q", key, got.Value, got.Source, want[0], want[1])
			}
		}
	})
	t.Run("direct key wins over overrides", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, workspace(t, `resources:
  chunk_size_rows: 11000
  overrides:
    chunk_size_rows: 22000
`), nil, nil)
		if c.ChunkSizeRows != 11000 || c.Source("chunk_size_rows") != "workspace.yaml:2" {
			t.Errorf("chunk_size_rows = %d from %q, want 11000 from workspace.yaml:2", c.ChunkSizeRows, c.Source("chunk_size_rows"))
		}
	})
	t.Run("env wins over overrides", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, workspace(t, "resources:\n  overrides:\n    chunk_size_rows: 22000\n"),
			env{"RAT_CHUNK_SIZE_ROWS": "33000"}, nil)
		if c.ChunkSizeRows != 33000 || c.Source("chunk_size_rows") != "env RAT_CHUNK_SIZE_ROWS" {
			t.Errorf("chunk_size_rows = %d from %q, want 33000 from env", c.ChunkSizeRows, c.Source("chunk_size_rows"))
		}
	})
}

func TestMaxMemoryCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ws         string
		env        env
		want       int
		wantSource string
	}{
		{
			name:       "caps the profile",
			ws:         "resources:\n  profile: medium\n  max_memory_mb: 4096\n",
			want:       4096,
			wantSource: "workspace.yaml:3 (cap)",
		},
		{
			name:       "caps a profile chosen by env",
			ws:         "resources:\n  max_memory_mb: 4096\n",
			env:        env{"RAT_PROFILE": "large"},
			want:       4096,
			wantSource: "workspace.yaml:2 (cap)",
		},
		{
			name:       "caps an explicit duckdb_memory_mb",
			ws:         "resources:\n  duckdb_memory_mb: 16000\n  max_memory_mb: 6000\n",
			want:       6000,
			wantSource: "workspace.yaml:3 (cap)",
		},
		{
			name:       "overrides form caps and names its own line",
			ws:         "resources:\n  profile: large\n  overrides:\n    max_memory_mb: 5000\n",
			want:       5000,
			wantSource: "workspace.yaml:4 (cap)",
		},
		{
			name:       "a cap above the value changes nothing",
			ws:         "resources:\n  max_memory_mb: 100000\n",
			want:       8192,
			wantSource: "profile small",
		},
		{
			name:       "env is above the cap in precedence",
			ws:         "resources:\n  max_memory_mb: 4096\n",
			env:        env{"RAT_DUCKDB_MEMORY_MB": "9000"},
			want:       9000,
			wantSource: "env RAT_DUCKDB_MEMORY_MB",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, workspace(t, tt.ws), tt.env, nil)
			if c.DuckDBMemoryMB != tt.want || c.Source("duckdb_memory_mb") != tt.wantSource {
				t.Errorf("duckdb_memory_mb = %d from %q, want %d from %q", c.DuckDBMemoryMB, c.Source("duckdb_memory_mb"), tt.want, tt.wantSource)
			}
		})
	}
}

func TestProfileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   env
		flags map[string]string
		want  []string
	}{
		{"env", env{"RAT_PROFILE": "huge"}, nil, []string{"env RAT_PROFILE", `"huge"`, "tiny, small, medium, large"}},
		{"flag", nil, map[string]string{"profile": "xl"}, []string{"flag --profile", `"xl"`, "tiny, small, medium, large"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			contains(t, "error", loadErr(t, noWorkspace(t), tt.env, tt.flags), tt.want...)
		})
	}
}

func TestUnknownEnvironment(t *testing.T) {
	t.Parallel()
	t.Run("typo is an error with a suggestion", func(t *testing.T) {
		t.Parallel()
		msg := loadErr(t, noWorkspace(t), env{"RAT_PROFLE": "medium"}, nil)
		contains(t, "error", msg, "RAT_PROFLE", `did you mean "RAT_PROFILE"`)
	})
	t.Run("unrelated name lists no suggestion", func(t *testing.T) {
		t.Parallel()
		msg := loadErr(t, noWorkspace(t), env{"RAT_SOMETHING_ELSE": "1"}, nil)
		contains(t, "error", msg, "RAT_SOMETHING_ELSE", "not a rat setting")
		if strings.Contains(msg, "did you mean") {
			t.Errorf("error %q suggests a name for an unrelated variable", msg)
		}
	})
	t.Run("RAT_TEST and other variables are ignored", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, noWorkspace(t), env{
			"RAT_TEST_POSTGRES_URL": "postgres://x@y/z", "RAT_TEST_S3_ENDPOINT": "http://127.0.0.1:9000",
			"PATH": "/usr/bin", "HOME": "/root", "S3_SOMETHING": "x", "RATS": "1",
		}, nil)
		if c.CatalogURL == "postgres://x@y/z" || c.S3.Endpoint != "" {
			t.Errorf("RAT_TEST_* changed the config: catalog %q, endpoint %q", c.CatalogURL, c.S3.Endpoint)
		}
	})
	t.Run("the error does not echo the value", func(t *testing.T) {
		t.Parallel()
		msg := loadErr(t, noWorkspace(t), env{"RAT_API_TOKN": "tok-leaked-value"}, nil)
		contains(t, "error", msg, "RAT_API_TOKN", "RAT_API_TOKEN")
		if strings.Contains(msg, "tok-leaked-value") {
			t.Errorf("error %q shows the variable's value", msg)
		}
	})
}

func TestEnvironmentNumbers(t *testing.T) {
	t.Parallel()
	vars := map[string]func(*config.Config) int{
		"RAT_DUCKDB_MEMORY_MB":       func(c *config.Config) int { return c.DuckDBMemoryMB },
		"RAT_DUCKDB_THREADS":         func(c *config.Config) int { return c.DuckDBThreads },
		"RAT_CHUNK_SIZE_ROWS":        func(c *config.Config) int { return c.ChunkSizeRows },
		"RAT_MAX_PARALLEL_PIPELINES": func(c *config.Config) int { return c.MaxParallelPipelines },
		"RAT_CACHE_MB":               func(c *config.Config) int { return c.CacheMB },
	}
	for name, field := range vars {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, bad := range []string{"abc", "0", "-1", "1.5", "4GB", " 4"} {
				msg := loadErr(t, noWorkspace(t), env{name: bad}, nil)
				contains(t, "error", msg, name, strconv.Quote(bad), "positive whole number")
			}
			c := mustLoad(t, noWorkspace(t), env{name: "7"}, nil)
			if got := field(c); got != 7 {
				t.Errorf("%s=7 gives %d", name, got)
			}
		})
	}
}

// TestMaxResultBytes: the cap of an API query's answer comes from the
// profile, workspace.yaml (resources.max_result_bytes) or
// RAT_MAX_RESULT_BYTES, and is refused below 64 KiB, naming where it was set.
func TestMaxResultBytes(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, noWorkspace(t), env{"RAT_PROFILE": "tiny"}, nil)
	if c.MaxResultBytes != 16<<20 || c.Source("max_result_bytes") != "profile tiny" {
		t.Errorf("tiny: %d from %q", c.MaxResultBytes, c.Source("max_result_bytes"))
	}
	ws := workspace(t, "name: x\nresources:\n  max_result_bytes: 1048576\n")
	c = mustLoad(t, ws, nil, nil)
	if c.MaxResultBytes != 1<<20 || c.Source("max_result_bytes") != "workspace.yaml:3" {
		t.Errorf("workspace: %d from %q", c.MaxResultBytes, c.Source("max_result_bytes"))
	}
	c = mustLoad(t, ws, env{"RAT_MAX_RESULT_BYTES": "2097152"}, nil)
	if got := setting(t, c, "max_result_bytes"); got.Value != "2097152" || got.Source != "env RAT_MAX_RESULT_BYTES" {
		t.Errorf("env over workspace: %+v", got)
	}
	for _, bad := range []string{"abc", "0", "-1", "64MiB"} {
		contains(t, "error", loadErr(t, noWorkspace(t), env{"RAT_MAX_RESULT_BYTES": bad}, nil), "RAT_MAX_RESULT_BYTES", strconv.Quote(bad), "positive whole number")
	}
	contains(t, "error", loadErr(t, noWorkspace(t), env{"RAT_MAX_RESULT_BYTES": "1000"}, nil), "env RAT_MAX_RESULT_BYTES", "max_result_bytes 1000", "at least 65536")
	for _, v := range []string{"100", "-5"} {
		contains(t, "error", loadErr(t, workspace(t, "name: x\nresources:\n  max_result_bytes: "+v+"\n"), nil, nil), "workspace.yaml:3", "max_result_bytes "+v, "at least 65536")
	}
	contains(t, "error", loadErr(t, workspace(t, "name: x\nresources:\n  max_result_bytes: 64MiB\n"), nil, nil), "max_result_bytes")
}

func TestS3(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		ws             string
		env            env
		wantWarehouse  string
		wantEndpoint   string
		wantEndpointBy string
	}{
		{
			name:           "AWS endpoint of the default region",
			env:            env{"ICEBERG_WAREHOUSE": "s3://bucket/lake/"},
			wantWarehouse:  "s3://bucket/lake/",
			wantEndpoint:   "https://s3.us-east-1.amazonaws.com",
			wantEndpointBy: "default for us-east-1",
		},
		{
			name:           "AWS endpoint of S3_REGION",
			env:            env{"ICEBERG_WAREHOUSE": "s3://bucket/lake/", "S3_REGION": "eu-west-3"},
			wantWarehouse:  "s3://bucket/lake/",
			wantEndpoint:   "https://s3.eu-west-3.amazonaws.com",
			wantEndpointBy: "default for eu-west-3",
		},
		{
			name:           "explicit http endpoint",
			env:            env{"ICEBERG_WAREHOUSE": "s3://bucket/", "S3_ENDPOINT": "http://127.0.0.1:9000"},
			wantWarehouse:  "s3://bucket/",
			wantEndpoint:   "http://127.0.0.1:9000",
			wantEndpointBy: "env S3_ENDPOINT",
		},
		{
			name:           "workspace warehouse in s3",
			ws:             "storage:\n  warehouse: s3://team/lake\n",
			env:            env{"S3_ENDPOINT": "https://minio.example.com"},
			wantWarehouse:  "s3://team/lake",
			wantEndpoint:   "https://minio.example.com",
			wantEndpointBy: "env S3_ENDPOINT",
		},
		{
			name:           "s3_prefix appended to the env warehouse",
			ws:             "isolation:\n  s3_prefix: /team-a/\n",
			env:            env{"ICEBERG_WAREHOUSE": "s3://bucket/lake", "S3_ENDPOINT": "http://127.0.0.1:9000"},
			wantWarehouse:  "s3://bucket/lake/team-a/",
			wantEndpoint:   "http://127.0.0.1:9000",
			wantEndpointBy: "env S3_ENDPOINT",
		},
		{
			name:           "s3_prefix appended to the workspace warehouse",
			ws:             "storage:\n  warehouse: s3://bucket/\nisolation:\n  s3_prefix: team-b\n",
			wantWarehouse:  "s3://bucket/team-b/",
			wantEndpoint:   "https://s3.us-east-1.amazonaws.com",
			wantEndpointBy: "default for us-east-1",
		},
		{
			name:          "s3_prefix of only slashes adds nothing",
			ws:            "isolation:\n  s3_prefix: /\n",
			env:           env{"ICEBERG_WAREHOUSE": "s3://bucket/lake/"},
			wantWarehouse: "s3://bucket/lake/", wantEndpoint: "https://s3.us-east-1.amazonaws.com",
			wantEndpointBy: "default for us-east-1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := noWorkspace(t)
			if tt.ws != "" {
				dir = workspace(t, tt.ws)
			}
			c := mustLoad(t, dir, tt.env, nil)
			if !c.IsS3() {
				t.Errorf("IsS3() = false for warehouse %q", c.Warehouse)
			}
			if c.Warehouse != tt.wantWarehouse {
				t.Errorf("warehouse = %q, want %q", c.Warehouse, tt.wantWarehouse)
			}
			if c.S3.Endpoint != tt.wantEndpoint || c.Source("s3_endpoint") != tt.wantEndpointBy {
				t.Errorf("endpoint = %q from %q, want %q from %q", c.S3.Endpoint, c.Source("s3_endpoint"), tt.wantEndpoint, tt.wantEndpointBy)
			}
		})
	}
	t.Run("s3_prefix leaves a local warehouse alone", func(t *testing.T) {
		t.Parallel()
		dir := workspace(t, "isolation:\n  s3_prefix: team-a\n")
		c := mustLoad(t, dir, nil, nil)
		if want := filepath.Join(dir, ".rat", "warehouse"); c.Warehouse != want || c.S3.Endpoint != "" {
			t.Errorf("warehouse = %q, endpoint %q; want %q and no endpoint", c.Warehouse, c.S3.Endpoint, want)
		}
	})
	t.Run("s3_prefix is named in the warehouse source", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, workspace(t, "isolation:\n  s3_prefix: p\n"), env{"ICEBERG_WAREHOUSE": "s3://b/"}, nil)
		if got, want := c.Source("warehouse"), "env ICEBERG_WAREHOUSE + isolation.s3_prefix"; got != want {
			t.Errorf("Source(warehouse) = %q, want %q", got, want)
		}
	})
}

func TestInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   env
		flags map[string]string
		want  []string
	}{
		{"endpoint without scheme", env{"S3_ENDPOINT": "minio:9000"}, nil, []string{"env S3_ENDPOINT", `"minio:9000"`, "http://", "https://"}},
		{"endpoint with other scheme", env{"S3_ENDPOINT": "s3://minio:9000", "ICEBERG_WAREHOUSE": "s3://b/"}, nil, []string{"env S3_ENDPOINT", "http://"}},
		{"path style", env{"S3_PATH_STYLE": "dns"}, nil, []string{"env S3_PATH_STYLE", `"dns"`, "auto, path or virtual"}},
		{"listen without port", env{"RAT_LISTEN": "3030"}, nil, []string{"env RAT_LISTEN", `"3030"`, "host:port"}},
		{"warehouse scheme", env{"ICEBERG_WAREHOUSE": "gs://bucket/lake"}, nil, []string{"env ICEBERG_WAREHOUSE", "gs://bucket/lake", "s3://"}},
		{"warehouse flag scheme", nil, map[string]string{"warehouse": "file:///tmp/x"}, []string{"flag --warehouse", "s3://"}},
		{"catalog scheme", env{"RAT_CATALOG_URL": "mysql://db/rat"}, nil, []string{"env RAT_CATALOG_URL", `"mysql"`, "postgres://"}},
		{"unknown flag key", nil, map[string]string{"brnach": "dev"}, []string{`"brnach"`, `did you mean "branch"`, "profile, branch, warehouse, catalog_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			contains(t, "error", loadErr(t, noWorkspace(t), tt.env, tt.flags), tt.want...)
		})
	}
}

func TestCatalogURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"postgres://rat@db:5432/rat", "postgresql://rat@db/rat?sslmode=disable"} {
		c := mustLoad(t, noWorkspace(t), env{"RAT_CATALOG_URL": u}, nil)
		if !c.IsPostgres() || c.CatalogURL != u {
			t.Errorf("RAT_CATALOG_URL=%s: IsPostgres() = %v, CatalogURL = %q", u, c.IsPostgres(), c.CatalogURL)
		}
	}
	c := mustLoad(t, noWorkspace(t), env{"RAT_CATALOG_URL": "/srv/rat/catalog.db"}, nil)
	if c.IsPostgres() || c.CatalogURL != "/srv/rat/catalog.db" {
		t.Errorf("SQLite path: IsPostgres() = %v, CatalogURL = %q", c.IsPostgres(), c.CatalogURL)
	}
}

const (
	s3Secret   = "s3-SECRET-value-1234"
	apiToken   = "api-TOKEN-value-5678"
	pgPassword = "pg-PASSWORD-9012"
)

func secretEnv() env {
	return env{
		"S3_SECRET_KEY":     s3Secret,
		"S3_ACCESS_KEY":     "AKIDPUBLIC",
		"RAT_API_TOKEN":     apiToken,
		"RAT_CATALOG_URL":   "postgres://rat:" + pgPassword + "@db:5432/rat",
		"ICEBERG_WAREHOUSE": "s3://bucket/lake/",
	}
}

func noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{s3Secret, apiToken, pgPassword} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows a secret:\n%s", what, s)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, noWorkspace(t), secretEnv(), nil)

	// The secrets are loaded and reachable where they are needed.
	if c.S3.SecretKey.Reveal() != s3Secret || c.APIToken.Reveal() != apiToken {
		t.Fatalf("Reveal() = %q, %q; want the loaded secrets", c.S3.SecretKey.Reveal(), c.APIToken.Reveal())
	}
	if !strings.Contains(c.CatalogURL, pgPassword) {
		t.Fatalf("CatalogURL %q lost its password; the catalog could not connect", c.CatalogURL)
	}

	t.Run("Settings", func(t *testing.T) {
		t.Parallel()
		rows := c.Settings()
		noSecrets(t, "Settings()", fmt.Sprintf("%+v", rows))
		data, err := json.Marshal(rows)
		if err != nil {
			t.Fatal(err)
		}
		noSecrets(t, "Settings() as JSON", string(data))
		for key, want := range map[string][2]string{
			"s3_secret_key": {"******", "env S3_SECRET_KEY"},
			"api_token":     {"******", "env RAT_API_TOKEN"},
			"catalog_url":   {"postgres://rat:******@db:5432/rat", "env RAT_CATALOG_URL"},
			"s3_access_key": {"AKIDPUBLIC", "env S3_ACCESS_KEY"},
		} {
			if got := setting(t, c, key); got.Value != want[0] || got.Source != want[1] {
				t.Errorf("%s = %q from %q, want %q from %q", key, got.Value, got.Source, want[0], want[1])
			}
		}
	})
	t.Run("fmt", func(t *testing.T) {
		t.Parallel()
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			for name, v := range map[string]any{
				"Config": *c, "*Config": c, "S3": c.S3, "SecretKey": c.S3.SecretKey, "APIToken": c.APIToken,
			} {
				out := fmt.Sprintf(verb, v)
				noSecrets(t, verb+" of "+name, out)
				for _, secret := range []string{s3Secret, apiToken} {
					if strings.Contains(out, fmt.Sprintf("%x", secret)) {
						t.Errorf("%s of %s shows a secret in hex", verb, name)
					}
				}
			}
		}
		if got := fmt.Sprint(c.APIToken); got != "******" {
			t.Errorf("fmt.Sprint(APIToken) = %q, want ******", got)
		}
		if got := fmt.Sprint(config.Secret("")); got != "" {
			t.Errorf("an empty Secret prints %q, want nothing", got)
		}
		if got := fmt.Sprintf("%#v", c.APIToken); got != `"******"` {
			t.Errorf("%%#v of a Secret = %s, want \"******\"", got)
		}
	})
	t.Run("json and slog", func(t *testing.T) {
		t.Parallel()
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		noSecrets(t, "json.Marshal(Config)", string(data))
		if !strings.Contains(string(data), `"SecretKey":"******"`) {
			t.Errorf("json of Config = %s, want a redacted SecretKey", data)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "s3", c.S3, "token", c.APIToken)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "s3", c.S3, "token", c.APIToken, "cfg", c)
		noSecrets(t, "slog output", buf.String())
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		bad := []struct {
			name  string
			env   env
			flags map[string]string
		}{
			{"bad endpoint", env{"S3_ENDPOINT": "minio:9000"}, nil},
			{"endpoint with credentials", env{"S3_ENDPOINT": "minio://ak:" + s3Secret + "@host:9000"}, nil},
			{"bad branch", env{"RAT_BRANCH": "bad..branch"}, nil},
			{"bad number", env{"RAT_CACHE_MB": "lots"}, nil},
			{"bad path style", env{"S3_PATH_STYLE": "x"}, nil},
			{"bad profile", env{"RAT_PROFILE": "huge"}, nil},
			{"unknown variable", env{"RAT_S3_SECRET": s3Secret}, nil},
			{"catalog scheme", env{"RAT_CATALOG_URL": "mysql://rat:" + pgPassword + "@db/rat"}, nil},
			{"warehouse scheme", env{"ICEBERG_WAREHOUSE": "gs://u:" + pgPassword + "@bucket/x"}, nil},
			{"bad flag", nil, map[string]string{"branch": "-x"}},
		}
		for _, b := range bad {
			e := secretEnv()
			for k, v := range b.env {
				e[k] = v
			}
			_, err := load(t, noWorkspace(t), e, b.flags)
			if err == nil {
				t.Errorf("%s: no error", b.name)
				continue
			}
			noSecrets(t, b.name+" error", err.Error())
			noSecrets(t, b.name+" error (%+v)", fmt.Sprintf("%+v", err))
		}
	})
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://rat:secret@db:5432/rat", "postgres://rat:******@db:5432/rat"},
		{"postgresql://rat:secret@db/rat?sslmode=disable", "postgresql://rat:******@db/rat?sslmode=disable"},
		{"postgres://rat:p@ss@db/rat", "postgres://rat:******@db/rat"},
		{"postgres://rat:p%40ss@db/rat", "postgres://rat:******@db/rat"},
		{"postgres://rat@db/rat", "postgres://rat@db/rat"},
		{"postgres://db/rat", "postgres://db/rat"},
		{"postgres://rat@db/rat?password=secret&sslmode=require", "postgres://rat@db/rat?password=******&sslmode=require"},
		{"postgres://db/rat?sslmode=require&PASSWORD=secret", "postgres://db/rat?sslmode=require&PASSWORD=******"},
		{"postgres://db/x@y", "postgres://db/x@y"},
		{"https://ak:secret@minio:9000", "https://ak:******@minio:9000"},
		{"/var/lib/rat/catalog.db", "/var/lib/rat/catalog.db"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got := config.RedactURL(tt.in)
			if got != tt.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, secret := range []string{"secret", "p@ss", "p%40ss"} {
				if strings.Contains(got, secret) {
					t.Errorf("RedactURL(%q) = %q still holds %q", tt.in, got, secret)
				}
			}
		})
	}
}

// gitRepo makes dir look like a git checkout whose HEAD holds head.
func gitRepo(t *testing.T, dir, head string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte(head+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// noGitAbove skips when an ancestor of dir is a git checkout: the branch
// logic would (rightly) follow it.
func noGitAbove(t *testing.T, dir string) {
	t.Helper()
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			t.Skipf("%s is inside a git checkout (%s)", dir, d)
		}
		if filepath.Dir(d) == d {
			return
		}
	}
}

func TestBranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		yaml       string
		head       string // .git/HEAD content; "" = no git checkout
		want       string
		wantSource string
	}{
		{"catalog.branch literal", "catalog:\n  branch: dev\n", "ref: refs/heads/feature/x", "dev", "workspace.yaml:2"},
		{"nessie_branch literal", "isolation:\n  nessie_branch: workspace/acme\n", "ref: refs/heads/feature/x", "workspace/acme", "workspace.yaml:2"},
		{"auto follows git", "catalog:\n  branch: auto\n", "ref: refs/heads/feature/x", "feature/x", "workspace.yaml:2 (git branch feature/x)"},
		{"git follows git", "isolation:\n  nessie_branch: git\n", "ref: refs/heads/feature/x", "feature/x", "workspace.yaml:2 (git branch feature/x)"},
		{"git prefix", "isolation:\n  nessie_branch: git:dev-\n", "ref: refs/heads/feature/x", "dev-feature/x", "workspace.yaml:2 (git branch feature/x)"},
		{"git prefix not doubled", "isolation:\n  nessie_branch: git:dev-\n", "ref: refs/heads/dev-x", "dev-x", "workspace.yaml:2 (git branch dev-x)"},
		{"git prefix on main", "isolation:\n  nessie_branch: git:ws/\n", "ref: refs/heads/main", "ws/main", "workspace.yaml:2 (git branch main)"},
		{"auto on main", "catalog:\n  branch: auto\n", "ref: refs/heads/main", "main", "workspace.yaml:2 (git branch main)"},
		{"auto on master", "catalog:\n  branch: auto\n", "ref: refs/heads/master", "main", "workspace.yaml:2 (git branch master)"},
		{"detached HEAD", "catalog:\n  branch: auto\n", "0123456789abcdef0123456789abcdef01234567", "main", "workspace.yaml:2 (no git branch)"},
		{"no branch keys", "name: x\n", "ref: refs/heads/feature/x", "main", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := workspace(t, tt.yaml)
			gitRepo(t, dir, tt.head)
			c := mustLoad(t, dir, nil, nil)
			if c.Branch != tt.want || c.Source("branch") != tt.wantSource {
				t.Errorf("branch = %q from %q, want %q from %q", c.Branch, c.Source("branch"), tt.want, tt.wantSource)
			}
		})
	}
	t.Run("auto outside git is main", func(t *testing.T) {
		t.Parallel()
		dir := workspace(t, "catalog:\n  branch: auto\n")
		noGitAbove(t, dir)
		c := mustLoad(t, dir, nil, nil)
		if c.Branch != "main" {
			t.Errorf("branch = %q, want main", c.Branch)
		}
	})
	t.Run("workspace inside a repository", func(t *testing.T) {
		t.Parallel()
		repo := t.TempDir()
		gitRepo(t, repo, "ref: refs/heads/feature/nested")
		ws := filepath.Join(repo, "pipelines-ws")
		if err := os.MkdirAll(ws, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ws, config.WorkspaceFileName), []byte("catalog:\n  branch: git\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if c := mustLoad(t, ws, nil, nil); c.Branch != "feature/nested" {
			t.Errorf("branch = %q, want feature/nested", c.Branch)
		}
	})
	t.Run("git worktree", func(t *testing.T) {
		t.Parallel()
		// A worktree's .git is a file pointing at the real git directory,
		// by an absolute or a relative path.
		base := t.TempDir()
		gitDir := filepath.Join(base, "main", ".git", "worktrees", "wt")
		if err := os.MkdirAll(gitDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(gitDir, "HEAD"), []byte("ref: refs/heads/feature/wt\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for name, target := range map[string]string{
			"absolute": gitDir,
			"relative": filepath.Join("..", "main", ".git", "worktrees", "wt"),
		} {
			dir := filepath.Join(base, name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, config.WorkspaceFileName), []byte("catalog:\n  branch: auto\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, ".git"), []byte("gitdir: "+target+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if c := mustLoad(t, dir, nil, nil); c.Branch != "feature/wt" {
				t.Errorf("%s gitdir: branch = %q, want feature/wt", name, c.Branch)
			}
		}
	})
	t.Run("catalog.branch and nessie_branch that agree", func(t *testing.T) {
		t.Parallel()
		dir := workspace(t, "catalog:\n  branch: auto\nisolation:\n  nessie_branch: git\n")
		gitRepo(t, dir, "ref: refs/heads/feature/x")
		if c := mustLoad(t, dir, nil, nil); c.Branch != "feature/x" {
			t.Errorf("branch = %q, want feature/x", c.Branch)
		}
	})
	t.Run("catalog.branch and nessie_branch that disagree", func(t *testing.T) {
		t.Parallel()
		dir := workspace(t, "catalog:\n  branch: dev\nisolation:\n  nessie_branch: workspace/acme\n")
		msg := loadErr(t, dir, nil, nil)
		contains(t, "error", msg, filepath.Join(dir, config.WorkspaceFileName)+":4:", "isolation.nessie_branch", `"workspace/acme"`,
			"catalog.branch (line 2)", `"dev"`, "only one")
		// The environment cannot hide a contradiction in the file.
		contains(t, "error", loadErr(t, dir, env{"RAT_BRANCH": "x"}, nil), "only one")
	})
	t.Run("env and flag override the workspace", func(t *testing.T) {
		t.Parallel()
		dir := workspace(t, "catalog:\n  branch: auto\n")
		gitRepo(t, dir, "ref: refs/heads/feature/x")
		c := mustLoad(t, dir, env{"RAT_BRANCH": "from-env"}, nil)
		if c.Branch != "from-env" || c.Source("branch") != "env RAT_BRANCH" {
			t.Errorf("branch = %q from %q, want from-env from env RAT_BRANCH", c.Branch, c.Source("branch"))
		}
		c = mustLoad(t, dir, env{"RAT_BRANCH": "from-env"}, map[string]string{"branch": "from-flag"})
		if c.Branch != "from-flag" || c.Source("branch") != "flag --branch" {
			t.Errorf("branch = %q from %q, want from-flag from flag --branch", c.Branch, c.Source("branch"))
		}
	})
}

func TestInvalidBranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  string
		head  string
		env   env
		flags map[string]string
		want  []string
	}{
		{name: "catalog.branch", yaml: "name: x\ncatalog:\n  branch: bad..name\n", want: []string{"workspace.yaml:3", `"bad..name"`}},
		{name: "nessie_branch", yaml: "isolation:\n  nessie_branch: 'has space'\n", want: []string{"workspace.yaml:2", `"has space"`}},
		{name: "from git", yaml: "catalog:\n  branch: auto\n", head: "ref: refs/heads/feat@{1}", want: []string{"workspace.yaml:2", "git branch feat@{1}", `"feat@{1}"`}},
		{name: "env", yaml: "name: x\n", env: env{"RAT_BRANCH": "/leading"}, want: []string{"env RAT_BRANCH", `"/leading"`}},
		{name: "flag", yaml: "name: x\n", flags: map[string]string{"branch": "trailing/"}, want: []string{"flag --branch", `"trailing/"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := workspace(t, tt.yaml)
			if tt.head != "" {
				gitRepo(t, dir, tt.head)
			}
			contains(t, "error", loadErr(t, dir, tt.env, tt.flags), tt.want...)
		})
	}
}

// TestRunLease: runs.lease in workspace.yaml, RAT_RUN_LEASE over it, both
// validated, shown by rat config with their source.
func TestRunLease(t *testing.T) {
	dir := t.TempDir()
	write := func(yaml string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "workspace.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load := func(env map[string]string) (*config.Config, error) {
		return config.Load(config.Options{Dir: dir, Environ: []string{}, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	}
	write("name: r\nruns:\n  lease: 2m\n")
	c, err := load(nil)
	if err != nil || c.RunLease != 2*time.Minute || setting(t, c, "run_lease").Value != "2m0s" || c.Source("run_lease") != "workspace.yaml:3" {
		t.Fatalf("from workspace.yaml: %v %s %q", err, c.RunLease, c.Source("run_lease"))
	}
	c, err = load(map[string]string{"RAT_RUN_LEASE": "5s"})
	if err != nil || c.RunLease != 5*time.Second || c.Source("run_lease") != "env RAT_RUN_LEASE" {
		t.Fatalf("from env: %v %s %q", err, c.RunLease, c.Source("run_lease"))
	}
	for _, bad := range []string{"soon", "500ms", "-3s"} {
		if _, err := load(map[string]string{"RAT_RUN_LEASE": bad}); err == nil || !strings.Contains(err.Error(), "RAT_RUN_LEASE") || !strings.Contains(err.Error(), "1s or more") {
			t.Fatalf("RAT_RUN_LEASE=%s: %v", bad, err)
		}
	}
	write("name: r\nruns:\n  lease: 10\n")
	if _, err := load(nil); err == nil || !strings.Contains(err.Error(), "workspace.yaml:3: runs.lease: want a duration") {
		t.Fatalf("a number in workspace.yaml: %v", err)
	}
	write("name: r\nruns:\n  leese: 10s\n")
	if _, err := load(nil); err == nil || !strings.Contains(err.Error(), "runs.leese") {
		t.Fatalf("a misspelt key: %v", err)
	}
}

func TestRunRetentionDays(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "workspace.yaml"), []byte("name: r\nruns:\n  retention_days: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(env map[string]string) (*config.Config, error) {
		return config.Load(config.Options{Dir: dir, Environ: []string{}, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	}
	c, err := load(nil)
	if err != nil || c.RunRetentionDays != 7 || c.Source("run_retention_days") != "workspace.yaml:3" {
		t.Fatalf("from workspace.yaml: %v %d %q", err, c.RunRetentionDays, c.Source("run_retention_days"))
	}
	c, err = load(map[string]string{"RAT_RUN_RETENTION_DAYS": "0"})
	if err != nil || c.RunRetentionDays != 0 || c.Source("run_retention_days") != "env RAT_RUN_RETENTION_DAYS" {
		t.Fatalf("from env: %v %d", err, c.RunRetentionDays)
	}
	if _, err := load(map[string]string{"RAT_RUN_RETENTION_DAYS": "-1"}); err == nil || !strings.Contains(err.Error(), "RAT_RUN_RETENTION_DAYS") {
		t.Fatalf("negative env: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "workspace.yaml"), []byte("name: r\nruns:\n  retention_days: -3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := load(nil); err == nil || !strings.Contains(err.Error(), "workspace.yaml:3: runs.retention_days") {
		t.Fatalf("negative in workspace.yaml: %v", err)
	}
}

// TestMonitoring: monitoring.heartbeat_interval and monitoring.thresholds
// in workspace.yaml override the defaults (levels not set keep theirs);
// bad values and unknown keys are errors naming the line and the fix.
func TestMonitoring(t *testing.T) {
	write, load := workspaceFile(t)
	write("name: m\n")
	c, err := load()
	if err != nil || c.HeartbeatInterval != 5*time.Second || c.Thresholds != config.DefaultThresholds {
		t.Fatalf("defaults: %v %s %+v", err, c.HeartbeatInterval, c.Thresholds)
	}
	write("name: m\nmonitoring:\n  heartbeat_interval: 2s\n  thresholds:\n    memory: {warning: 50, critical: 60}\n    disk:\n      critical: 99\n    query_latency: {warning: 0.5}\n")
	c, err = load()
	want := config.DefaultThresholds
	want.Memory = config.Levels{Warning: 0.5, Critical: 0.6}
	want.Disk.Critical = 0.99
	want.QueryLatency.Warning = 0.5
	if err != nil || c.HeartbeatInterval != 2*time.Second || c.Thresholds != want {
		t.Fatalf("set: %v %s %+v, want %+v", err, c.HeartbeatInterval, c.Thresholds, want)
	}
	for yaml, msg := range map[string]string{
		"  heartbeat_interval: 100ms\n":                           "workspace.yaml:3: monitoring.heartbeat_interval: want a duration of 1s or more",
		"  thresholds:\n    cpu:\n      warning: 120\n":           "workspace.yaml:5: monitoring.thresholds.cpu.warning: want a percent above 0 and at most 100, got 120",
		"  thresholds:\n    cpu:\n      critical: 50\n":           "monitoring.thresholds.cpu: warning 80 is not below critical 50: set warning lower than critical",
		"  thresholds:\n    query_latency:\n      critical: -1\n": "monitoring.thresholds.query_latency.critical: want seconds above 0, got -1",
		"  thresholds:\n    memroy: {warning: 50}\n":              "monitoring.thresholds.memroy",
		"  thresholds:\n    memory: {warn: 50}\n":                 "monitoring.thresholds.memory.warn",
	} {
		write("name: m\nmonitoring:\n" + yaml)
		if _, err := load(); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error containing %q", yaml, err, msg)
		}
	}
}

// TestMaintenanceExpire: maintenance.expire in workspace.yaml sets rat
// maintain expire's defaults; bad values and unknown keys are errors naming
// the line and the key.
func TestMaintenanceExpire(t *testing.T) {
	write, load := workspaceFile(t)
	write("name: m\n")
	c, err := load()
	if err != nil || c.ExpireOlderThan != 7*24*time.Hour || c.ExpireRetainLast != 10 {
		t.Fatalf("defaults: %v %s %d", err, c.ExpireOlderThan, c.ExpireRetainLast)
	}
	write("name: m\nmaintenance:\n  expire:\n    older_than: 2d\n    retain_last: 0\n")
	if c, err = load(); err != nil || c.ExpireOlderThan != 48*time.Hour || c.ExpireRetainLast != 0 {
		t.Fatalf("set: %v %s %d", err, c.ExpireOlderThan, c.ExpireRetainLast)
	}
	write("name: m\nmaintenance:\n  expire:\n    older_than: 36h\n")
	if c, err = load(); err != nil || c.ExpireOlderThan != 36*time.Hour || c.ExpireRetainLast != 10 {
		t.Fatalf("hours: %v %s %d", err, c.ExpireOlderThan, c.ExpireRetainLast)
	}
	for yaml, msg := range map[string]string{
		"    older_than: a week\n": "workspace.yaml:4: maintenance.expire.older_than: want an age such as 7d, 36h or 90m",
		"    older_than: -2h\n":    "maintenance.expire.older_than: want an age",
		"    retain_last: -1\n":    "workspace.yaml:4: maintenance.expire.retain_last: want 0 or more snapshots, got -1",
		"    retain: 3\n":          `unknown key "maintenance.expire.retain"`,
	} {
		write("name: m\nmaintenance:\n  expire:\n" + yaml)
		if _, err := load(); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error containing %q", yaml, err, msg)
		}
	}
}

// TestMaintenanceOrphans: maintenance.orphans.older_than sets rat maintain
// orphans' grace period (default 3d); a grace shorter than the run lease,
// a bad age and unknown keys are errors naming the line and the key.
func TestMaintenanceOrphans(t *testing.T) {
	write, load := workspaceFile(t)
	write("name: m\n")
	c, err := load()
	if err != nil || c.OrphansOlderThan != 3*24*time.Hour {
		t.Fatalf("default: %v %s", err, c.OrphansOlderThan)
	}
	write("name: m\nmaintenance:\n  orphans:\n    older_than: 36h\n")
	if c, err = load(); err != nil || c.OrphansOlderThan != 36*time.Hour {
		t.Fatalf("set: %v %s", err, c.OrphansOlderThan)
	}
	write("name: m\nruns:\n  lease: 2m\nmaintenance:\n  orphans:\n    older_than: 2m\n")
	if c, err = load(); err != nil || c.OrphansOlderThan != 2*time.Minute {
		t.Fatalf("as long as the lease: %v %s", err, c.OrphansOlderThan)
	}
	for yaml, msg := range map[string]string{
		"maintenance:\n  orphans:\n    older_than: 3 days\n":                 "workspace.yaml:4: maintenance.orphans.older_than: want an age such as 7d, 36h or 90m",
		"maintenance:\n  orphans:\n    older_than: 10s\n":                    "workspace.yaml:4: maintenance.orphans.older_than: 10s is shorter than the run lease (runs.lease, 30s)",
		"runs:\n  lease: 2h\nmaintenance:\n  orphans:\n    older_than: 1h\n": "workspace.yaml:6: maintenance.orphans.older_than: 1h0m0s is shorter than the run lease (runs.lease, 2h0m0s): a run counts as running that long after its last heartbeat, and its writer could still commit those files",
		"maintenance:\n  orphans:\n    grace: 3d\n":                          `unknown key "maintenance.orphans.grace"`,
	} {
		write("name: m\n" + yaml)
		if _, err := load(); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error containing %q", yaml, err, msg)
		}
	}
}

// TestMaintenanceOptimize: maintenance.optimize sets rat optimize's
// defaults over the profile's; bad values are errors naming the line and
// the key.
func TestMaintenanceOptimize(t *testing.T) {
	write, load := workspaceFile(t)
	for profile, mb := range map[string]int{"tiny": 32, "small": 64, "medium": 128, "large": 128} {
		write("name: m\nresources:\n  profile: " + profile + "\n")
		c, err := load()
		if err != nil || c.OptimizeTargetFileSizeMB != mb || c.OptimizeMinSmallFiles != 2 {
			t.Fatalf("profile %s: %v %d %d, want %d MB and 2 files", profile, err, c.OptimizeTargetFileSizeMB, c.OptimizeMinSmallFiles, mb)
		}
	}
	write("name: m\nmaintenance:\n  optimize:\n    target_file_size_mb: 16\n    min_small_files: 50\n")
	if c, err := load(); err != nil || c.OptimizeTargetFileSizeMB != 16 || c.OptimizeMinSmallFiles != 50 {
		t.Fatalf("set: %v %+v", err, c)
	}
	for yaml, msg := range map[string]string{
		"    target_file_size_mb: -1\n":    "workspace.yaml:4: maintenance.optimize.target_file_size_mb: want a size in MB from 1 to 16384, got -1",
		"    target_file_size_mb: 99999\n": "maintenance.optimize.target_file_size_mb: want a size in MB",
		"    target_file_size_mb: big\n":   "maintenance.optimize.target_file_size_mb",
		"    min_small_files: 1\n":         "workspace.yaml:4: maintenance.optimize.min_small_files: want 2 or more files",
		"    small_files: 3\n":             `unknown key "maintenance.optimize.small_files"`,
	} {
		write("name: m\nmaintenance:\n  optimize:\n" + yaml)
		if _, err := load(); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error containing %q", yaml, err, msg)
		}
	}
}

// workspaceFile returns a function that writes a workspace.yaml into a
// fresh workspace and one that loads its configuration, with no
// environment.
func workspaceFile(t *testing.T) (write func(yaml string), load func() (*config.Config, error)) {
	dir := t.TempDir()
	write = func(yaml string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "workspace.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load = func() (*config.Config, error) {
		return config.Load(config.Options{Dir: dir, Environ: []string{}, Env: func(string) (string, bool) { return "", false }})
	}
	return write, load
}
