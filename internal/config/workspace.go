package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ratdata/rat"
	"gopkg.in/yaml.v3"
)

// WorkspaceFileName is the file that marks a workspace's root.
const WorkspaceFileName = "workspace.yaml"

// Workspace is workspace.yaml. It accepts every key the original
// Ratatouille documents; unknown keys are errors. The field comments are
// the reference docs/workspace-yaml.md is generated from.
type Workspace struct {
	Version       any              `yaml:"version"`       // the original Ratatouille's format version; accepted, not used
	Name          string           `yaml:"name"`          // the workspace's name, shown by the UI
	Description   string           `yaml:"description"`   // what the workspace holds, for people
	Resources     Resources        `yaml:"resources"`     // sizing: the profile and the values that override it
	Layers        map[string]Layer `yaml:"layers"`        // layers besides bronze, silver and gold, and settings per layer
	Storage       Storage          `yaml:"storage"`       // where table files live
	Catalog       CatalogSection   `yaml:"catalog"`       // where the catalog lives, and the branch commands use
	Isolation     Isolation        `yaml:"isolation"`     // the original Ratatouille's per-workspace isolation
	Runs          RunsSection      `yaml:"runs"`          // run records
	Monitoring    Monitoring       `yaml:"monitoring"`    // heartbeats of rat serve and rat worker, and the thresholds rat status judges by
	Maintenance   Maintenance      `yaml:"maintenance"`   // table maintenance: what rat maintain keeps
	Vars          map[string]any   `yaml:"vars"`          // values for var('name') in templates; a pipeline's vars and --var win
	Products      []Product        `yaml:"products"`      // data products this workspace publishes (accepted; used by data products later)
	Subscriptions []Subscription   `yaml:"subscriptions"` // products of other workspaces this one reads (accepted; used later)

	lines map[string]int  // dotted key path -> line, for messages and sources
	nulls map[string]bool // dotted key paths whose value is null (unset)
}

// Resources holds sizing keys; values set here override the profile.
type Resources struct {
	Profile              string     `yaml:"profile"`                // tiny, small (default), medium, large, or auto (the largest whose DuckDB memory fits 75 % of the container's memory limit, else the host's RAM); RAT_PROFILE wins
	ChunkSizeRows        int        `yaml:"chunk_size_rows"`        // rows per Parquet row group written (RAT_CHUNK_SIZE_ROWS)
	MaxParallelPipelines int        `yaml:"max_parallel_pipelines"` // pipelines a run builds at once (RAT_MAX_PARALLEL_PIPELINES)
	DuckDBMemoryMB       int        `yaml:"duckdb_memory_mb"`       // DuckDB's memory limit in MiB; it spills to disk above it (RAT_DUCKDB_MEMORY_MB)
	DuckDBThreads        int        `yaml:"duckdb_threads"`         // DuckDB's threads (RAT_DUCKDB_THREADS)
	MaxMemoryMB          int        `yaml:"max_memory_mb"`          // a cap on duckdb_memory_mb, whatever sets it
	CacheMB              int        `yaml:"cache_mb"`               // size of the local read cache for data files on S3 (RAT_CACHE_MB)
	MaxResultBytes       int        `yaml:"max_result_bytes"`       // bytes one API query answer may hold at most, at least 65536; rows past it are left out (RAT_MAX_RESULT_BYTES)
	Overrides            *Overrides `yaml:"overrides"`              // the original Ratatouille's form of the same keys
}

// Overrides is the original Ratatouille's resources.overrides sub-map. A key
// set directly under resources wins over the same key here.
type Overrides struct {
	MaxMemoryMB          int `yaml:"max_memory_mb"`          // as resources.max_memory_mb
	MaxParallelPipelines int `yaml:"max_parallel_pipelines"` // as resources.max_parallel_pipelines
	ChunkSizeRows        int `yaml:"chunk_size_rows"`        // as resources.chunk_size_rows
	DuckDBMemoryMB       int `yaml:"duckdb_memory_mb"`       // as resources.duckdb_memory_mb
}

// Layer configures one layer (bronze, silver, gold, ...).
type Layer struct {
	RetentionDays   *int     `yaml:"retention_days"`   // days the layer's rows are kept, null = forever: rat maintain retention deletes older rows (by retention_column) as a commit; a pipeline's own retention_days wins
	RetentionColumn string   `yaml:"retention_column"` // the date or timestamp column whose age retention_days measures; default _ingested_at when a table has it, else the column of its time partition (day(col), month(col), ...)
	PartitionBy     TextList `yaml:"partition_by"`     // the default partition spec of the layer's new tables: a list (or one entry) of col, year(col), month(col), day(col), hour(col), bucket(n, col), truncate(width, col), as Iceberg defines them; a pipeline's own partition_by wins; changing it evolves the spec of existing tables for new data
}

// TextList is a list of text that also takes a single text value (one
// entry: "day(ts)" and "bucket(16, id)" are each one entry).
type TextList []string

// UnmarshalYAML takes a scalar or a list of scalars.
func (l *TextList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		*l = TextList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
				return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want text for each entry, got %s", c.Line, DescribeNode(c))}}
			}
			out = append(out, c.Value)
		}
		*l = JoinParens(out)
		return nil
	}
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want text or a list of text, got %s", n.Line, DescribeNode(n))}}
}

// JoinParens joins list entries that a split at commas cut inside
// parentheses: YAML's flow form [a, bucket(16, id)] and a comma-separated
// annotation give "bucket(16" and "id)", which become "bucket(16, id)".
func JoinParens(list []string) []string {
	var out []string
	open := false // the last entry has a "(" without its ")"
	for _, s := range list {
		if open {
			out[len(out)-1] += ", " + strings.TrimSpace(s)
		} else {
			out = append(out, s)
		}
		last := out[len(out)-1]
		open = strings.Count(last, "(") > strings.Count(last, ")")
	}
	return out
}

// DescribeNode words what a YAML node holds, for "want X, got Y" messages.
func DescribeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

// Storage says where table files live.
type Storage struct {
	Warehouse string `yaml:"warehouse"` // a directory (relative to the workspace) or s3://bucket/prefix/; default .rat/warehouse (ICEBERG_WAREHOUSE wins)
}

// CatalogSection says where the catalog lives and which branch to use.
type CatalogSection struct {
	URL    string `yaml:"url"`    // a SQLite file (relative to the workspace) or postgres://…; default .rat/catalog.db (RAT_CATALOG_URL wins)
	Branch string `yaml:"branch"` // the branch commands use: a name, or auto to follow the git branch (RAT_BRANCH wins)
}

// RunsSection configures run records.
type RunsSection struct {
	RetentionDays *int   `yaml:"retention_days"` // days run records and their logs are kept (pruned hourly by rat serve, and by rat maintain orphans), 0 = forever; each target's newest success stays; default 90 (RAT_RUN_RETENTION_DAYS)
	Lease         string `yaml:"lease"`          // how long a rat run process may go without a heartbeat before its run ends as failed (owner lost), e.g. 30s; default 30s (RAT_RUN_LEASE)
}

// Monitoring configures what rat status sees and how it judges it.
type Monitoring struct {
	HeartbeatInterval string              `yaml:"heartbeat_interval"` // how often rat serve and rat worker record their heartbeat in the queue's database, e.g. 5s (at least 1s); a process missing for three intervals leaves rat status; default 5s
	Thresholds        MonitoringThreshold `yaml:"thresholds"`         // when rat status warns (exit 1) or is critical (exit 2)
}

// Maintenance configures table maintenance (rat maintain).
type Maintenance struct {
	Retention RetentionSection `yaml:"retention"` // retention that deletes old rows (rat maintain retention)
	Expire    ExpireSection    `yaml:"expire"`    // snapshot expiry (rat maintain expire): a snapshot is kept while it is younger than older_than or among the last retain_last of its table on a branch
	Orphans   OrphansSection   `yaml:"orphans"`   // orphan cleanup (rat maintain orphans): abandoned run branches and the warehouse files nothing references
	Optimize  OptimizeSection  `yaml:"optimize"`  // compaction (rat optimize): small data files rewritten into files of target_file_size_mb
}

// RetentionSection configures the retention task (rat maintain retention).
type RetentionSection struct {
	Schedule string `yaml:"schedule"` // when rat serve runs it as a queued maintenance run: a 5-field cron expression or a preset (hourly, daily, weekly, monthly, @every 6h), in UTC; default: not scheduled
}

// OrphansSection configures orphan cleanup (rat maintain orphans); its flags win.
type OrphansSection struct {
	OlderThan string `yaml:"older_than"` // the grace period: files modified and run branches ended within it are kept, e.g. 3d, 36h; at least runs.lease; a write taking longer than half of it is refused before its commit; default 3d (--older-than)
	Schedule  string `yaml:"schedule"`   // when rat serve runs it as a queued maintenance run: a 5-field cron expression or a preset (hourly, daily, weekly, monthly, @every 6h), in UTC; default: not scheduled
}

// OptimizeSection configures compaction (rat optimize); its flags win.
type OptimizeSection struct {
	TargetFileSizeMB int    `yaml:"target_file_size_mb"` // size of the files compaction writes, in MB; a file under half of it is small; default per profile: tiny 32, small 64, medium and large 128 (--target-file-size-mb)
	MinSmallFiles    int    `yaml:"min_small_files"`     // a partition is compacted when it holds at least this many small files, 2 or more; default 2 (--min-small-files)
	Schedule         string `yaml:"schedule"`            // when rat serve runs it as a queued maintenance run: a 5-field cron expression or a preset (hourly, daily, weekly, monthly, @every 6h), in UTC; default: not scheduled
}

// ExpireSection holds rat maintain expire's defaults; its flags win.
type ExpireSection struct {
	OlderThan  string `yaml:"older_than"`  // snapshots younger than this are kept, e.g. 7d, 36h; default 7d (--older-than)
	RetainLast *int   `yaml:"retain_last"` // the last N snapshots of each table on each branch are kept whatever their age, 0 or more; default 10 (--retain-last)
	Schedule   string `yaml:"schedule"`    // when rat serve runs it as a queued maintenance run: a 5-field cron expression or a preset (hourly, daily, weekly, monthly, @every 6h), in UTC; default: not scheduled
}

// MonitoringThreshold holds rat status's thresholds, each a warning and a
// critical level; a level not set keeps its default.
type MonitoringThreshold struct {
	Memory       Threshold `yaml:"memory"`        // percent of its memory limit a process uses; default warning 70, critical 90
	CPU          Threshold `yaml:"cpu"`           // percent of its CPU quota (or cores) a process uses; default warning 80, critical 95
	Disk         Threshold `yaml:"disk"`          // percent used of the file system of the warehouse, the spill directory or the read cache; default warning 70, critical 85
	QueryLatency Threshold `yaml:"query_latency"` // seconds of rat serve's p95 API query latency; default warning 5, critical 30
}

// Threshold is one resource's two levels.
type Threshold struct {
	Warning  *float64 `yaml:"warning"`  // at or above this, rat status warns
	Critical *float64 `yaml:"critical"` // at or above this, rat status is critical
}

// Isolation is the original Ratatouille's per-workspace isolation block.
type Isolation struct {
	NessieBranch string `yaml:"nessie_branch"` // the catalog branch, as catalog.branch: auto or git (the git branch), git:<prefix>, or a name
	S3Prefix     string `yaml:"s3_prefix"`     // a prefix added to an s3:// warehouse, so workspaces can share a bucket
}

// Product is a data product a workspace publishes (accepted; used later).
type Product struct {
	Name   string         `yaml:"name"`   // the product's name
	Source string         `yaml:"source"` // the table it publishes, layer.name
	Access []ProductGrant `yaml:"access"` // who may read it
	SLA    struct {
		FreshnessHours float64 `yaml:"freshness_hours"` // the most hours its data may lag
	} `yaml:"sla"` // what the product promises
}

// ProductGrant grants a workspace access to a product.
type ProductGrant struct {
	Workspace string `yaml:"workspace"` // the workspace granted access
	Level     string `yaml:"level"`     // its access level
}

// Subscription subscribes to another workspace's product (accepted; used later).
type Subscription struct {
	Product           string `yaml:"product"`            // the product, as its workspace names it
	Alias             string `yaml:"alias"`              // the name this workspace reads it by
	VersionConstraint string `yaml:"version_constraint"` // which versions of the product are acceptable
}

var (
	yamlLine       = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlFieldErr   = regexp.MustCompile(`^field (.*) not found in type (.*)$`)
	yamlUnmarshal  = regexp.MustCompile(`^cannot unmarshal (!!\w+)(?: (.*))? into (.*)$`)
	columnName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	workspaceTypes = schemaOf(reflect.TypeOf(Workspace{}))
)

// ParseWorkspace parses workspace.yaml strictly. file is used in messages.
func ParseWorkspace(file string, data []byte) (*Workspace, error) {
	var ws Workspace
	lines, nulls := keyLines(data)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&ws); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg := yamlMessage(file, te.Errors[0], lines)
			switch n := len(te.Errors) - 1; {
			case n == 1:
				msg += " (and 1 more problem)"
			case n > 1:
				msg += fmt.Sprintf(" (and %d more problems)", n)
			}
			return nil, rat.Errorf(rat.EINVALID, "%s", msg)
		}
		return nil, rat.Errorf(rat.EINVALID, "%s", yamlMessage(file, strings.TrimPrefix(err.Error(), "yaml: "), lines))
	}
	ws.lines, ws.nulls = lines, nulls
	if ws.Resources.Profile != "" && !strings.EqualFold(ws.Resources.Profile, AutoProfile) {
		if _, err := LookupProfile(ws.Resources.Profile); err != nil {
			return nil, rat.Errorf(rat.EINVALID, "%s:%d: resources.profile: %w", file, ws.lines["resources.profile"], err)
		}
	}
	if err := ws.validate(file); err != nil {
		return nil, err
	}
	return &ws, nil
}

// validate rejects values the YAML types cannot: sizes must be positive
// (0 would otherwise read as "not set" and be silently ignored). A key with
// no value (null) is unset, as in the original Ratatouille.
func (w *Workspace) validate(file string) error {
	r, o := w.Resources, w.Resources.Overrides
	if o == nil {
		o = &Overrides{}
	}
	for _, f := range []struct {
		key string
		v   int
	}{
		{"resources.chunk_size_rows", r.ChunkSizeRows},
		{"resources.max_parallel_pipelines", r.MaxParallelPipelines},
		{"resources.duckdb_memory_mb", r.DuckDBMemoryMB},
		{"resources.duckdb_threads", r.DuckDBThreads},
		{"resources.max_memory_mb", r.MaxMemoryMB},
		{"resources.cache_mb", r.CacheMB},
		{"resources.overrides.max_memory_mb", o.MaxMemoryMB},
		{"resources.overrides.max_parallel_pipelines", o.MaxParallelPipelines},
		{"resources.overrides.chunk_size_rows", o.ChunkSizeRows},
		{"resources.overrides.duckdb_memory_mb", o.DuckDBMemoryMB},
	} {
		if line, ok := w.lines[f.key]; ok && !w.nulls[f.key] && f.v <= 0 {
			return rat.Errorf(rat.EINVALID, "%s:%d: %s: want a positive whole number, got %d", file, line, f.key, f.v)
		}
	}
	names := make([]string, 0, len(w.Layers))
	for name := range w.Layers {
		names = append(names, name)
	}
	sort.Strings(names)
	if d := w.Runs.RetentionDays; d != nil && *d < 0 {
		return rat.Errorf(rat.EINVALID, "%s:%d: runs.retention_days: want 0 (keep forever) or more days, got %d", file, w.lines["runs.retention_days"], *d)
	}
	if v := w.Runs.Lease; v != "" {
		if _, err := ParseRunLease(v); err != nil {
			return rat.Errorf(rat.EINVALID, "%s:%d: runs.lease: %w", file, w.lines["runs.lease"], err)
		}
	}
	if v := w.Monitoring.HeartbeatInterval; v != "" {
		if _, err := ParseHeartbeatInterval(v); err != nil {
			return rat.Errorf(rat.EINVALID, "%s:%d: monitoring.heartbeat_interval: %w", file, w.lines["monitoring.heartbeat_interval"], err)
		}
	}
	if _, err := w.Monitoring.Thresholds.resolve(file, w.lines); err != nil {
		return err
	}
	if v := w.Maintenance.Expire.OlderThan; v != "" {
		if _, err := ParseAge(v); err != nil {
			return rat.Errorf(rat.EINVALID, "%s:%d: maintenance.expire.older_than: %w", file, w.lines["maintenance.expire.older_than"], err)
		}
	}
	if n := w.Maintenance.Optimize.TargetFileSizeMB; n < 0 || n > MaxTargetFileSizeMB {
		return rat.Errorf(rat.EINVALID, "%s:%d: maintenance.optimize.target_file_size_mb: want a size in MB from 1 to %d, got %d", file, w.lines["maintenance.optimize.target_file_size_mb"], MaxTargetFileSizeMB, n)
	}
	if n := w.Maintenance.Optimize.MinSmallFiles; n < 0 || n == 1 {
		return rat.Errorf(rat.EINVALID, "%s:%d: maintenance.optimize.min_small_files: want 2 or more files (one small file alone gains nothing from a rewrite), got %d", file, w.lines["maintenance.optimize.min_small_files"], n)
	}
	if n := w.Maintenance.Expire.RetainLast; n != nil && *n < 0 {
		return rat.Errorf(rat.EINVALID, "%s:%d: maintenance.expire.retain_last: want 0 or more snapshots, got %d", file, w.lines["maintenance.expire.retain_last"], *n)
	}
	if v := w.Maintenance.Orphans.OlderThan; v != "" {
		grace, err := ParseAge(v)
		if err != nil {
			return rat.Errorf(rat.EINVALID, "%s:%d: maintenance.orphans.older_than: %w", file, w.lines["maintenance.orphans.older_than"], err)
		}
		lease, _ := ParseRunLease(w.Runs.Lease) // validated above
		if w.Runs.Lease == "" {
			lease = DefaultRunLease
		}
		if err := CheckOrphanGrace(grace, lease); err != nil {
			return rat.Errorf(rat.EINVALID, "%s:%d: maintenance.orphans.older_than: %v", file, w.lines["maintenance.orphans.older_than"], err)
		}
	}
	for _, name := range names {
		if d := w.Layers[name].RetentionDays; d != nil && *d < 0 {
			key := "layers." + name + ".retention_days"
			return rat.Errorf(rat.EINVALID, "%s:%d: %s: want 0 or more days, or null to keep forever, got %d", file, w.lines[key], key, *d)
		}
		if c := w.Layers[name].RetentionColumn; c != "" && !columnName.MatchString(c) {
			key := "layers." + name + ".retention_column"
			return rat.Errorf(rat.EINVALID, "%s:%d: %s: %q is not a column name: use letters, digits and _, starting with a letter or _", file, w.lines[key], key, c)
		}
	}
	return nil
}

// yamlMessage turns one yaml.v3 message ("line 3: field x not found in type
// config.Resources") into "file:3: <what, with the key path and the fix>".
func yamlMessage(file, msg string, lines map[string]int) string {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return file + ": " + msg
	}
	line, _ := strconv.Atoi(m[1])
	where, what := fmt.Sprintf("%s:%d", file, line), m[2]
	if f := yamlFieldErr.FindStringSubmatch(what); f != nil {
		return where + ": " + unknownKey(f[1], f[2], line, lines)
	}
	if u := yamlUnmarshal.FindStringSubmatch(what); u != nil {
		got := describeYAML(u[1])
		if u[2] != "" {
			got = strings.Trim(u[2], "`")
			got = strconv.Quote(got)
		}
		what = fmt.Sprintf("want %s, got %s", describeGo(u[3]), got)
	}
	if strings.HasPrefix(what, "want ") {
		if key := keyAtLine(lines, line, ""); key != "" {
			return where + ": " + key + ": " + what
		}
	}
	return where + ": " + what
}

// unknownKey words the error for a key no field takes, naming its full path
// and the closest valid key.
func unknownKey(name, typ string, line int, lines map[string]int) string {
	path := keyAtLine(lines, line, name)
	if path == "" {
		path = name
	}
	parent := strings.TrimSuffix(strings.TrimSuffix(path, name), ".")
	siblings := workspaceTypes.keys[typ]
	hint := ""
	if best := rat.Closest(name, siblings); best != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", joinKey(parent, best))
	} else if elsewhere := workspaceTypes.pathOf(name); elsewhere != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", elsewhere)
	} else if len(siblings) > 0 {
		hint = " (valid keys here: " + strings.Join(siblings, ", ") + ")"
	}
	return fmt.Sprintf("unknown key %q%s: remove it or fix the spelling (every key: docs/workspace-yaml.md)", path, hint)
}

func joinKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// keyAtLine returns the deepest key path on line (ending in name, when name
// is set), or "" when there is none or more than one.
func keyAtLine(lines map[string]int, line int, name string) string {
	best, depth, ambiguous := "", -1, false
	for k, l := range lines {
		if l != line || (name != "" && k != name && !strings.HasSuffix(k, "."+name)) {
			continue
		}
		d := strings.Count(k, ".") + strings.Count(k, "[")
		switch {
		case d > depth:
			best, depth, ambiguous = k, d, false
		case d == depth:
			ambiguous = true
		}
	}
	if ambiguous {
		return ""
	}
	return best
}

func describeYAML(tag string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "nothing"
	}
	return strings.TrimPrefix(tag, "!!")
}

func describeGo(typ string) string {
	switch {
	case strings.HasPrefix(typ, "int") || strings.HasPrefix(typ, "*int"):
		return "a whole number"
	case strings.HasPrefix(typ, "float"):
		return "a number"
	case typ == "string":
		return "text"
	case strings.HasPrefix(typ, "[]"):
		return "a list"
	default:
		return "a mapping"
	}
}

// schema lists the yaml keys of every struct type reachable from Workspace,
// by the type name yaml.v3 prints, and every key's path from the root.
type schema struct {
	keys  map[string][]string // type name -> its yaml keys
	paths []string            // e.g. resources.profile, layers.<layer>.retention_days
}

func schemaOf(root reflect.Type) schema {
	s := schema{keys: map[string][]string{}}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		switch t.Kind() {
		case reflect.Pointer:
			walk(t.Elem(), path)
		case reflect.Slice:
			walk(t.Elem(), path+"[]")
		case reflect.Map:
			walk(t.Elem(), path+".<"+strings.TrimSuffix(path[strings.LastIndex(path, ".")+1:], "s")+">")
		case reflect.Struct:
			if _, seen := s.keys[t.String()]; seen {
				return
			}
			var keys []string
			for i := range t.NumField() {
				tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
				if tag == "" || tag == "-" {
					continue
				}
				keys = append(keys, tag)
				p := joinKey(path, tag)
				s.paths = append(s.paths, p)
				walk(t.Field(i).Type, p)
			}
			s.keys[t.String()] = keys
		}
	}
	walk(root, "")
	return s
}

// pathOf returns the one full path whose last key is name, or "".
func (s schema) pathOf(name string) string {
	found := ""
	for _, p := range s.paths {
		if p == name || strings.HasSuffix(p, "."+name) {
			if found != "" {
				return ""
			}
			found = p
		}
	}
	return found
}

// suggest returns ` (did you mean "x"?)` for a close known key, or "".
func suggest(key string, known []string) string {
	best := rat.Closest(key, known)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// keyLines maps dotted key paths to their line numbers (items of a list
// are numbered: products[0].name) and lists the keys whose value is null.
func keyLines(data []byte) (lines map[string]int, nulls map[string]bool) {
	lines, nulls = map[string]int{}, map[string]bool{}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return lines, nulls
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := joinKey(path, n.Content[i].Value)
				lines[k] = n.Content[i].Line
				if v := n.Content[i+1]; v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
					nulls[k] = true
				}
				walk(n.Content[i+1], k)
			}
		case yaml.SequenceNode:
			for i, item := range n.Content {
				walk(item, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(root.Content[0], "")
	return lines, nulls
}

// Line returns the line of a dotted key in workspace.yaml, or 0.
func (w *Workspace) Line(key string) int { return w.lines[key] }

// FindWorkspace walks up from dir to the nearest directory holding
// workspace.yaml and returns it as an absolute path; it returns "" when there
// is none.
func FindWorkspace(dir string) string {
	// A relative dir would stop the walk at "." instead of the file system root.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, WorkspaceFileName)); err == nil && !st.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// MaintenanceTasks are the maintenance tasks in the order rat maintain runs
// them: retention first (it makes snapshots expiry may remove), orphans
// after expire (expiry orphans files), optimize last.
var MaintenanceTasks = []string{"retention", "expire", "orphans", "optimize"}

// MaintenanceSchedule is a maintenance task's schedule as workspace.yaml
// sets it (maintenance.<task>.schedule).
type MaintenanceSchedule struct {
	Task string
	Cron string
	// Where names the key for errors: workspace.yaml:LINE: maintenance.<task>.schedule.
	Where string
}

// schedules returns the maintenance tasks' schedules that are set, in
// MaintenanceTasks order.
func (m Maintenance) schedules() map[string]string {
	return map[string]string{"retention": m.Retention.Schedule, "expire": m.Expire.Schedule,
		"orphans": m.Orphans.Schedule, "optimize": m.Optimize.Schedule}
}
