package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/sysres"
)

// S3 configures an S3-compatible object store.
type S3 struct {
	Endpoint  string // scheme decides TLS: http://127.0.0.1:9000, https://s3.amazonaws.com
	Region    string
	AccessKey string
	SecretKey Secret
	PathStyle string // auto | path | virtual
}

// Config is rat's effective configuration.
type Config struct {
	WorkspaceDir string     // directory of workspace.yaml, "" outside a workspace
	Workspace    *Workspace // parsed workspace.yaml, nil outside a workspace
	StateDir     string     // .rat directory: catalog.db, warehouse/, cache/, tmp/

	Profile              string
	DuckDBMemoryMB       int
	DuckDBThreads        int
	ChunkSizeRows        int
	MaxParallelPipelines int
	CacheMB              int
	// MaxResultBytes caps one API query's answer in bytes (rat serve).
	MaxResultBytes int

	Warehouse  string // local directory or s3://bucket/prefix/
	CatalogURL string // SQLite file path or postgres://...
	Branch     string // default branch for commands
	S3         S3
	Listen     string
	APIToken   Secret
	// RunRetentionDays is how long rat serve keeps run records (0 = forever);
	// each target's newest successful run is always kept.
	RunRetentionDays int
	TokenFile        string // named tokens with roles, for rat serve
	// AllowedHosts are the host names rat serve answers to besides
	// localhost and its listen address (RAT_ALLOWED_HOSTS).
	AllowedHosts []string
	// MetricsToken, when set, is required by /metrics (RAT_METRICS_TOKEN);
	// API tokens are accepted there too.
	MetricsToken Secret
	// RunLease is how long the process running a run (rat run) may go
	// without a heartbeat before another rat process ends the run as
	// failed (owner lost); the owner writes one every RunLease/6.
	RunLease time.Duration
	// LogFormat is how rat serve and rat worker write their log lines:
	// text (the default) or json (RAT_LOG_FORMAT).
	LogFormat string
	// HeartbeatInterval is how often rat serve and rat worker record their
	// heartbeat (monitoring.heartbeat_interval).
	HeartbeatInterval time.Duration
	// Thresholds are rat status's levels (monitoring.thresholds).
	Thresholds Thresholds
	// ExpireOlderThan and ExpireRetainLast are rat maintain expire's
	// defaults (maintenance.expire).
	ExpireOlderThan  time.Duration
	ExpireRetainLast int
	// MaintenanceSchedules are the maintenance tasks rat serve runs on a
	// schedule (maintenance.<task>.schedule), in MaintenanceTasks order.
	// Their cron expressions are checked where they are parsed (the
	// scheduler's parser, internal/trigger), with Where in the message.
	MaintenanceSchedules []MaintenanceSchedule
	// OrphansOlderThan is rat maintain orphans' grace period
	// (maintenance.orphans.older_than); writes taking more than half of it
	// are refused before their commit.
	OrphansOlderThan time.Duration
	// OptimizeTargetFileSizeMB and OptimizeMinSmallFiles are rat
	// optimize's defaults (maintenance.optimize, the profile).
	OptimizeTargetFileSizeMB int
	OptimizeMinSmallFiles    int
	// Fit is the machine's or container's limits and how the profile
	// fits them (see resources.go).
	Fit Fit

	sources  map[string]string
	goMemEnv string // GOMEMLIMIT as the user set it, for rat config
}

// MinResultBytes is the smallest max_result_bytes: room for the columns of
// a wide answer and a few rows.
const MinResultBytes = 64 << 10

// DefaultRunRetentionDays is how long run records are kept by default.
const DefaultRunRetentionDays = 90

// DefaultRunLease is the default of runs.lease.
const DefaultRunLease = 30 * time.Second

// ParseRunLease reads a runs.lease value: a duration of at least a second.
func ParseRunLease(v string) (time.Duration, error) { return parseSeconds(v, "30s or 2m") }

// parseSeconds reads a duration of at least a second; examples shows
// good values in the error.
func parseSeconds(v, examples string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("want a duration of 1s or more, such as %s, got %q", examples, v)
	}
	return d, nil
}

// Setting is one line of `rat config`.
type Setting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// Env variables rat reads. Any other RAT_* variable is an error (a typo
// would otherwise be silently ignored); RAT_TEST_* belong to the test suite.
// README.md documents each one (a test checks it, and that the code reads
// no other).
var knownEnv = map[string]bool{
	"RAT_PROFILE": true, "ICEBERG_WAREHOUSE": true, "S3_ENDPOINT": true, "S3_ACCESS_KEY": true,
	"S3_SECRET_KEY": true, "S3_REGION": true, "S3_PATH_STYLE": true, "RAT_CATALOG_URL": true,
	"RAT_LISTEN": true, "RAT_API_TOKEN": true, "RAT_TOKEN_FILE": true, "RAT_BRANCH": true, "RAT_DUCKDB_MEMORY_MB": true,
	"RAT_DUCKDB_THREADS": true, "RAT_CHUNK_SIZE_ROWS": true, "RAT_MAX_PARALLEL_PIPELINES": true,
	"RAT_CACHE_MB": true, "RAT_WORKSPACE": true, "RAT_RUN_RETENTION_DAYS": true,
	"RAT_ALLOWED_HOSTS": true, "RAT_METRICS_TOKEN": true,
	"RAT_DEBUG":            true, // read by the command line: print an internal error's full cause
	"RAT_RUN_LEASE":        true,
	"RAT_LOG_FORMAT":       true, // rat serve's and rat worker's log lines: text or json
	"RAT_MAX_RESULT_BYTES": true,
	// rat migrate's target credentials (internal/app.TargetAccessKeyEnv)
	"RAT_MIGRATE_S3_ACCESS_KEY": true,
	"RAT_MIGRATE_S3_SECRET_KEY": true,
}

// Options are the inputs of Load besides the files it finds.
type Options struct {
	Dir     string                      // where to start looking for workspace.yaml (default: working directory)
	Env     func(string) (string, bool) // default os.LookupEnv
	Environ []string                    // default os.Environ()
	Flags   map[string]string           // flag overrides by key (profile, branch, warehouse, catalog_url)
	// Machine reads the machine's memory and CPU limits; nil =
	// sysres.Detect (the cgroup, else the host).
	Machine func() (sysres.Limits, error)
}

// flagKeys are the keys Options.Flags may set.
var flagKeys = []string{"profile", "branch", "warehouse", "catalog_url"}

// Load builds the effective configuration.
func Load(opts Options) (*Config, error) {
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	for key := range opts.Flags {
		if !slices.Contains(flagKeys, key) {
			return nil, rat.Errorf(rat.EINVALID, "flag key %q is not a setting flags can change%s: use one of %s",
				key, suggest(key, flagKeys), strings.Join(flagKeys, ", "))
		}
	}
	for _, kv := range opts.Environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "RAT_") && !strings.HasPrefix(name, "RAT_TEST_") && !knownEnv[name] {
			return nil, rat.Errorf(rat.EINVALID, "environment variable %s is not a rat setting%s: unset it or fix the name",
				name, suggest(name, keys(knownEnv)))
		}
	}
	dir := opts.Dir
	if v, ok := opts.Env("RAT_WORKSPACE"); ok && v != "" && dir == "" {
		dir = v
	}
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		}
		dir = wd
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	c := &Config{sources: map[string]string{}}
	if root := FindWorkspace(dir); root != "" {
		file := filepath.Join(root, WorkspaceFileName)
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		ws, err := ParseWorkspace(file, data)
		if err != nil {
			return nil, err
		}
		c.WorkspaceDir, c.Workspace = root, ws
		c.StateDir = filepath.Join(root, ".rat")
	} else {
		c.StateDir = filepath.Join(dir, ".rat")
	}

	// Profile: default < workspace < env < flag.
	c.set("profile", &c.Profile, DefaultProfile, "default")
	ws := c.Workspace
	wsFile := func(key string) string {
		return fmt.Sprintf("%s:%d", WorkspaceFileName, ws.Line(key))
	}
	if ws != nil && ws.Resources.Profile != "" {
		c.set("profile", &c.Profile, ws.Resources.Profile, wsFile("resources.profile"))
	}
	c.fromEnv("profile", &c.Profile, "RAT_PROFILE", opts.Env)
	if v, ok := opts.Flags["profile"]; ok && v != "" {
		c.set("profile", &c.Profile, v, "flag --profile")
	}
	limits, limitsWarning, err := loadLimits(opts, c.Profile)
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "%s: %w", c.sources["profile"], err)
	}
	explicit := c.sources["profile"] != "default" && !strings.EqualFold(c.Profile, AutoProfile)
	c.resolveAuto(limits)
	p, err := LookupProfile(c.Profile)
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "%s: %w", c.sources["profile"], err)
	}
	c.Profile = p.Name // RAT_PROFILE=Medium selects "medium"
	src := "profile " + p.Name
	c.setInt("duckdb_memory_mb", &c.DuckDBMemoryMB, p.DuckDBMemoryMB, src)
	c.setInt("duckdb_threads", &c.DuckDBThreads, p.DuckDBThreads, src)
	c.setInt("chunk_size_rows", &c.ChunkSizeRows, p.ChunkSizeRows, src)
	c.setInt("max_parallel_pipelines", &c.MaxParallelPipelines, p.MaxParallelPipelines, src)
	c.setInt("cache_mb", &c.CacheMB, p.CacheMB, src)
	c.setInt("max_result_bytes", &c.MaxResultBytes, p.MaxResultBytes, src)

	c.set("warehouse", &c.Warehouse, filepath.Join(c.StateDir, "warehouse"), "default")
	c.set("catalog_url", &c.CatalogURL, filepath.Join(c.StateDir, "catalog.db"), "default")
	c.set("branch", &c.Branch, rat.DefaultBranch, "default")
	c.set("s3_region", &c.S3.Region, "us-east-1", "default")
	c.set("s3_path_style", &c.S3.PathStyle, "auto", "default")
	c.set("listen", &c.Listen, "127.0.0.1:3030", "default")
	c.setInt("run_retention_days", &c.RunRetentionDays, DefaultRunRetentionDays, "default")
	c.RunLease, c.sources["run_lease"] = DefaultRunLease, "default"
	c.HeartbeatInterval, c.Thresholds = DefaultHeartbeatInterval, DefaultThresholds
	c.ExpireOlderThan, c.ExpireRetainLast = DefaultExpireOlderThan, DefaultExpireRetainLast
	c.OrphansOlderThan = DefaultOrphansOlderThan
	c.OptimizeTargetFileSizeMB, c.OptimizeMinSmallFiles = p.TargetFileSizeMB, DefaultMinSmallFiles

	if ws != nil {
		r := ws.Resources
		if o := r.Overrides; o != nil {
			c.wsInt("duckdb_memory_mb", &c.DuckDBMemoryMB, o.DuckDBMemoryMB, wsFile("resources.overrides.duckdb_memory_mb"))
			c.wsInt("chunk_size_rows", &c.ChunkSizeRows, o.ChunkSizeRows, wsFile("resources.overrides.chunk_size_rows"))
			c.wsInt("max_parallel_pipelines", &c.MaxParallelPipelines, o.MaxParallelPipelines, wsFile("resources.overrides.max_parallel_pipelines"))
		}
		capKey := "resources.max_memory_mb"
		if o := r.Overrides; o != nil && o.MaxMemoryMB > 0 && r.MaxMemoryMB == 0 {
			r.MaxMemoryMB, capKey = o.MaxMemoryMB, "resources.overrides.max_memory_mb"
		}
		c.wsInt("duckdb_memory_mb", &c.DuckDBMemoryMB, r.DuckDBMemoryMB, wsFile("resources.duckdb_memory_mb"))
		c.wsInt("duckdb_threads", &c.DuckDBThreads, r.DuckDBThreads, wsFile("resources.duckdb_threads"))
		c.wsInt("chunk_size_rows", &c.ChunkSizeRows, r.ChunkSizeRows, wsFile("resources.chunk_size_rows"))
		c.wsInt("max_parallel_pipelines", &c.MaxParallelPipelines, r.MaxParallelPipelines, wsFile("resources.max_parallel_pipelines"))
		c.wsInt("cache_mb", &c.CacheMB, r.CacheMB, wsFile("resources.cache_mb"))
		if r.MaxResultBytes != 0 { // validate refuses what is too small
			c.setInt("max_result_bytes", &c.MaxResultBytes, r.MaxResultBytes, wsFile("resources.max_result_bytes"))
		}
		// max_memory_mb caps DuckDB's memory (the original's meaning: the whole
		// process's budget, of which DuckDB is by far the largest part).
		if r.MaxMemoryMB > 0 && c.DuckDBMemoryMB > r.MaxMemoryMB {
			c.setInt("duckdb_memory_mb", &c.DuckDBMemoryMB, r.MaxMemoryMB, wsFile(capKey)+" (cap)")
		}
		if d := ws.Runs.RetentionDays; d != nil {
			c.setInt("run_retention_days", &c.RunRetentionDays, *d, wsFile("runs.retention_days"))
		}
		if v := ws.Runs.Lease; v != "" {
			c.RunLease, _ = ParseRunLease(v) // validated with the file
			c.sources["run_lease"] = wsFile("runs.lease")
		}
		if v := ws.Monitoring.HeartbeatInterval; v != "" {
			c.HeartbeatInterval, _ = ParseHeartbeatInterval(v) // validated with the file
		}
		c.Thresholds, _ = ws.Monitoring.Thresholds.resolve("", nil) // validated with the file
		if v := ws.Maintenance.Expire.OlderThan; v != "" {
			c.ExpireOlderThan, _ = ParseAge(v) // validated with the file
		}
		if n := ws.Maintenance.Expire.RetainLast; n != nil {
			c.ExpireRetainLast = *n
		}
		sched := ws.Maintenance.schedules()
		for _, task := range MaintenanceTasks {
			if cron := sched[task]; cron != "" {
				key := "maintenance." + task + ".schedule"
				c.MaintenanceSchedules = append(c.MaintenanceSchedules, MaintenanceSchedule{Task: task, Cron: cron,
					Where: fmt.Sprintf("%s:%d: %s", filepath.Join(c.WorkspaceDir, WorkspaceFileName), ws.Line(key), key)})
			}
		}
		if v := ws.Maintenance.Orphans.OlderThan; v != "" {
			c.OrphansOlderThan, _ = ParseAge(v) // validated with the file
		}
		if n := ws.Maintenance.Optimize.TargetFileSizeMB; n > 0 {
			c.OptimizeTargetFileSizeMB = n
		}
		if n := ws.Maintenance.Optimize.MinSmallFiles; n > 0 {
			c.OptimizeMinSmallFiles = n
		}
		if ws.Storage.Warehouse != "" {
			c.set("warehouse", &c.Warehouse, c.relative(ws.Storage.Warehouse), wsFile("storage.warehouse"))
		}
		if ws.Catalog.URL != "" {
			c.set("catalog_url", &c.CatalogURL, c.relative(ws.Catalog.URL), wsFile("catalog.url"))
		}
		// catalog.branch (rat's key) and isolation.nessie_branch (the
		// original's) name the same thing: both may be set only if they agree.
		setBy := ""
		for _, b := range []struct{ key, value string }{
			{"catalog.branch", ws.Catalog.Branch},
			{"isolation.nessie_branch", ws.Isolation.NessieBranch},
		} {
			if b.value == "" {
				continue
			}
			branch, how := c.resolveBranch(b.value)
			if setBy != "" && branch != c.Branch {
				return nil, rat.Errorf(rat.EINVALID, "%s:%d: %s gives branch %q but %s (line %d) gives %q: set only one of them",
					filepath.Join(c.WorkspaceDir, WorkspaceFileName), ws.Line(b.key), b.key, branch, setBy, ws.Line(setBy), c.Branch)
			}
			c.set("branch", &c.Branch, branch, wsFile(b.key)+how)
			setBy = b.key
		}
	}
	for _, e := range []struct {
		key, env string
		dst      *string
	}{
		{"warehouse", "ICEBERG_WAREHOUSE", &c.Warehouse},
		{"catalog_url", "RAT_CATALOG_URL", &c.CatalogURL},
		{"branch", "RAT_BRANCH", &c.Branch},
		{"s3_endpoint", "S3_ENDPOINT", &c.S3.Endpoint},
		{"s3_access_key", "S3_ACCESS_KEY", &c.S3.AccessKey},
		{"s3_region", "S3_REGION", &c.S3.Region},
		{"s3_path_style", "S3_PATH_STYLE", &c.S3.PathStyle},
		{"listen", "RAT_LISTEN", &c.Listen},
	} {
		c.fromEnv(e.key, e.dst, e.env, opts.Env)
	}
	if v, ok := opts.Env("S3_SECRET_KEY"); ok && v != "" {
		c.S3.SecretKey = Secret(v)
		c.sources["s3_secret_key"] = "env S3_SECRET_KEY"
	}
	if v, ok := opts.Env("RAT_RUN_RETENTION_DAYS"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, rat.Errorf(rat.EINVALID, "environment variable RAT_RUN_RETENTION_DAYS=%q: want 0 (keep forever) or a whole number of days", v)
		}
		c.setInt("run_retention_days", &c.RunRetentionDays, n, "env RAT_RUN_RETENTION_DAYS")
	}
	c.LogFormat = "text"
	if v, ok := opts.Env("RAT_LOG_FORMAT"); ok && v != "" {
		if v != "text" && v != "json" {
			return nil, rat.Errorf(rat.EINVALID, "environment variable RAT_LOG_FORMAT=%q: want text (the default) or json (one JSON object a line, for log collectors)", v)
		}
		c.LogFormat = v
	}
	if v, ok := opts.Env("RAT_RUN_LEASE"); ok && v != "" {
		d, err := ParseRunLease(v)
		if err != nil {
			return nil, rat.Errorf(rat.EINVALID, "environment variable RAT_RUN_LEASE: %w", err)
		}
		c.RunLease, c.sources["run_lease"] = d, "env RAT_RUN_LEASE"
	}
	if v, ok := opts.Env("RAT_TOKEN_FILE"); ok && v != "" {
		c.TokenFile = c.relative(v)
		c.sources["token_file"] = "env RAT_TOKEN_FILE"
	}
	if v, ok := opts.Env("RAT_API_TOKEN"); ok && v != "" {
		c.APIToken = Secret(v)
		c.sources["api_token"] = "env RAT_API_TOKEN"
	}
	if err := c.loadServeEnv(opts.Env); err != nil {
		return nil, err
	}
	for _, e := range []struct {
		key, env string
		dst      *int
	}{
		{"duckdb_memory_mb", "RAT_DUCKDB_MEMORY_MB", &c.DuckDBMemoryMB},
		{"duckdb_threads", "RAT_DUCKDB_THREADS", &c.DuckDBThreads},
		{"chunk_size_rows", "RAT_CHUNK_SIZE_ROWS", &c.ChunkSizeRows},
		{"max_parallel_pipelines", "RAT_MAX_PARALLEL_PIPELINES", &c.MaxParallelPipelines},
		{"cache_mb", "RAT_CACHE_MB", &c.CacheMB},
		{"max_result_bytes", "RAT_MAX_RESULT_BYTES", &c.MaxResultBytes},
	} {
		if v, ok := opts.Env(e.env); ok && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, rat.Errorf(rat.EINVALID, "environment variable %s=%q: want a positive whole number", e.env, v)
			}
			c.setInt(e.key, e.dst, n, "env "+e.env)
		}
	}
	for key, dst := range map[string]*string{"branch": &c.Branch, "warehouse": &c.Warehouse, "catalog_url": &c.CatalogURL} {
		if v, ok := opts.Flags[key]; ok && v != "" {
			c.set(key, dst, v, "flag --"+strings.ReplaceAll(key, "_", "-"))
		}
	}
	c.fitResources(limits, explicit, opts.Env)
	if c.Fit.Warning == "" {
		c.Fit.Warning = limitsWarning
	}
	c.goMemEnv, _ = opts.Env("GOMEMLIMIT")
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) validate() error {
	if c.MaxResultBytes < MinResultBytes {
		return rat.Errorf(rat.EINVALID, "%s: max_result_bytes %d: want a number of bytes of at least %d (64 KiB); profile %s has %d",
			c.sources["max_result_bytes"], c.MaxResultBytes, MinResultBytes, c.Profile, profiles[c.Profile].MaxResultBytes)
	}
	if err := rat.ValidateRefName(c.Branch); err != nil {
		return rat.Errorf(rat.EINVALID, "%s: %w", c.sources["branch"], err)
	}
	if scheme, _, ok := strings.Cut(c.Warehouse, "://"); ok && scheme != "s3" {
		return rat.Errorf(rat.EINVALID, "%s: warehouse %q: want s3://bucket/prefix/ or a directory path", c.sources["warehouse"], RedactURL(c.Warehouse))
	}
	if scheme, _, ok := strings.Cut(c.CatalogURL, "://"); ok && !c.IsPostgres() {
		return rat.Errorf(rat.EINVALID, "%s: catalog URL with scheme %q: want postgres://… or a SQLite file path", c.sources["catalog_url"], scheme)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return rat.Errorf(rat.EINVALID, "%s: listen address %q: want host:port, for example 127.0.0.1:3030 or :3030", c.sources["listen"], c.Listen)
	}
	switch c.S3.PathStyle {
	case "auto", "path", "virtual":
	default:
		return rat.Errorf(rat.EINVALID, "%s: s3_path_style %q: want auto, path or virtual", c.sources["s3_path_style"], c.S3.PathStyle)
	}
	if c.IsS3() && c.S3.Endpoint == "" {
		c.set("s3_endpoint", &c.S3.Endpoint, "https://s3."+c.S3.Region+".amazonaws.com", "default for "+c.S3.Region)
	}
	if c.S3.Endpoint != "" && !strings.HasPrefix(c.S3.Endpoint, "http://") && !strings.HasPrefix(c.S3.Endpoint, "https://") {
		return rat.Errorf(rat.EINVALID, "%s: S3 endpoint %q must start with http:// or https:// (the scheme decides TLS)", c.sources["s3_endpoint"], RedactURL(c.S3.Endpoint))
	}
	if c.Workspace != nil && c.IsS3() {
		if prefix := strings.Trim(c.Workspace.Isolation.S3Prefix, "/"); prefix != "" {
			c.Warehouse = strings.TrimSuffix(c.Warehouse, "/") + "/" + prefix + "/"
			c.sources["warehouse"] += " + isolation.s3_prefix"
		}
	}
	return nil
}

// IsS3 reports whether the warehouse is in an S3 bucket.
func (c *Config) IsS3() bool { return strings.HasPrefix(c.Warehouse, "s3://") }

// IsPostgres reports whether the catalog is in Postgres.
func (c *Config) IsPostgres() bool { return IsPostgresURL(c.CatalogURL) }

// IsPostgresURL reports whether a catalog URL names a Postgres database
// (else it is a SQLite file).
func IsPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// Source tells where a key's value came from.
func (c *Config) Source(key string) string { return c.sources[key] }

// Settings lists every effective setting with its source, secrets redacted.
func (c *Config) Settings() []Setting {
	catalogURL := RedactURL(c.CatalogURL)
	rows := []Setting{
		{"workspace", c.WorkspaceDir, "found " + WorkspaceFileName},
		{"state_dir", c.StateDir, "workspace or working directory"},
		{"profile", c.Profile, ""},
		{"duckdb_memory_mb", strconv.Itoa(c.DuckDBMemoryMB), ""},
		{"duckdb_threads", strconv.Itoa(c.DuckDBThreads), ""},
		{"chunk_size_rows", strconv.Itoa(c.ChunkSizeRows), ""},
		{"max_parallel_pipelines", strconv.Itoa(c.MaxParallelPipelines), ""},
		{"cache_mb", strconv.Itoa(c.CacheMB), ""},
		{"max_result_bytes", strconv.Itoa(c.MaxResultBytes), ""},
		{"warehouse", c.Warehouse, ""},
		{"catalog_url", catalogURL, ""},
		{"branch", c.Branch, ""},
		{"s3_endpoint", RedactURL(c.S3.Endpoint), ""},
		{"s3_region", c.S3.Region, ""},
		{"s3_path_style", c.S3.PathStyle, ""},
		{"s3_access_key", c.S3.AccessKey, ""},
		{"s3_secret_key", c.S3.SecretKey.String(), ""},
		{"listen", c.Listen, ""},
		{"api_token", c.APIToken.String(), ""},
		{"token_file", c.TokenFile, ""},
		{"allowed_hosts", strings.Join(c.AllowedHosts, ","), ""},
		{"metrics_token", c.MetricsToken.String(), ""},
		{"run_retention_days", strconv.Itoa(c.RunRetentionDays), ""},
		{"run_lease", c.RunLease.String(), ""},
	}
	rows = append(rows, c.limitSettings()...)
	if c.WorkspaceDir == "" {
		rows[0] = Setting{"workspace", "(none)", "no " + WorkspaceFileName + " here or above"}
	}
	for i := range rows {
		if s, ok := c.sources[rows[i].Key]; ok {
			rows[i].Source = s
		} else if rows[i].Source == "" {
			rows[i].Source = "unset"
		}
	}
	return rows
}

func (c *Config) set(key string, dst *string, v, source string) {
	*dst = v
	c.sources[key] = source
}

func (c *Config) setInt(key string, dst *int, v int, source string) {
	*dst = v
	c.sources[key] = source
}

func (c *Config) wsInt(key string, dst *int, v int, source string) {
	if v > 0 {
		c.setInt(key, dst, v, source)
	}
}

func (c *Config) fromEnv(key string, dst *string, env string, lookup func(string) (string, bool)) {
	if v, ok := lookup(env); ok && v != "" {
		c.set(key, dst, v, "env "+env)
	}
}

// relative resolves a path-like value against the workspace directory.
func (c *Config) relative(v string) string {
	if strings.Contains(v, "://") || filepath.IsAbs(v) || c.WorkspaceDir == "" {
		return v
	}
	return filepath.Join(c.WorkspaceDir, v)
}

// resolveBranch maps "auto", "git" and "git:<prefix>" to the git branch of
// the workspace (main outside git or on a detached HEAD); other values are
// literal branch names. how explains a git-derived value for Source.
// As in the original Ratatouille, a prefix is not added twice.
func (c *Config) resolveBranch(v string) (branch, how string) {
	prefix := ""
	switch {
	case v == "auto" || v == "git":
	case strings.HasPrefix(v, "git:"):
		prefix = strings.TrimPrefix(v, "git:")
	default:
		return v, ""
	}
	b := gitBranch(c.WorkspaceDir)
	switch {
	case b == "":
		return rat.DefaultBranch, " (no git branch)"
	case (b == "main" || b == "master") && prefix == "":
		return rat.DefaultBranch, " (git branch " + b + ")"
	case strings.HasPrefix(b, prefix):
		return b, " (git branch " + b + ")"
	default:
		return prefix + b, " (git branch " + b + ")"
	}
}

// gitBranch reads the current branch from the HEAD of the nearest git
// repository at dir or above; "" for a detached HEAD or outside git. A .git
// file (a worktree or submodule) points at the real git directory.
func gitBranch(dir string) string {
	for d := dir; d != ""; {
		dotGit := filepath.Join(d, ".git")
		if st, err := os.Stat(dotGit); err == nil {
			gitDir := dotGit
			if !st.IsDir() {
				data, err := os.ReadFile(dotGit)
				if err != nil {
					return ""
				}
				target, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir:")
				if !ok {
					return ""
				}
				gitDir = strings.TrimSpace(target)
				if !filepath.IsAbs(gitDir) {
					gitDir = filepath.Join(d, gitDir)
				}
			}
			data, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
			if err != nil {
				return ""
			}
			b, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "ref: refs/heads/")
			if !ok {
				return "" // detached HEAD: a commit id
			}
			return b
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
	return ""
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
