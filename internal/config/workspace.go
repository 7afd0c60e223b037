package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ratdata/rat"
	"gopkg.in/yaml.v3"
)

// WorkspaceFileName is the file that marks a workspace's root.
const WorkspaceFileName = "workspace.yaml"

// Workspace is workspace.yaml. It accepts every key the original
// Ratatouille documents; unknown keys are errors.
type Workspace struct {
	Version       any              `yaml:"version"`
	Name          string           `yaml:"name"`
	Description   string           `yaml:"description"`
	Resources     Resources        `yaml:"resources"`
	Layers        map[string]Layer `yaml:"layers"`
	Storage       Storage          `yaml:"storage"`
	Catalog       CatalogSection   `yaml:"catalog"`
	Isolation     Isolation        `yaml:"isolation"`
	Vars          map[string]any   `yaml:"vars"`
	Products      []Product        `yaml:"products"`
	Subscriptions []Subscription   `yaml:"subscriptions"`

	lines map[string]int // dotted key path -> line, for messages and sources
}

// Resources holds sizing keys; values set here override the profile.
type Resources struct {
	Profile              string     `yaml:"profile"`
	ChunkSizeRows        int        `yaml:"chunk_size_rows"`
	MaxParallelPipelines int        `yaml:"max_parallel_pipelines"`
	DuckDBMemoryMB       int        `yaml:"duckdb_memory_mb"`
	DuckDBThreads        int        `yaml:"duckdb_threads"`
	MaxMemoryMB          int        `yaml:"max_memory_mb"`
	CacheMB              int        `yaml:"cache_mb"`
	Overrides            *Overrides `yaml:"overrides"`
}

// Overrides is the original Ratatouille's resources.overrides sub-map.
type Overrides struct {
	MaxMemoryMB          int `yaml:"max_memory_mb"`
	MaxParallelPipelines int `yaml:"max_parallel_pipelines"`
	ChunkSizeRows        int `yaml:"chunk_size_rows"`
	DuckDBMemoryMB       int `yaml:"duckdb_memory_mb"`
}

// Layer configures one layer (bronze, silver, gold, ...).
type Layer struct {
	RetentionDays *int   `yaml:"retention_days"` // nil = keep forever
	PartitionBy   string `yaml:"partition_by"`
}

// Storage says where table files live.
type Storage struct {
	Warehouse string `yaml:"warehouse"`
}

// CatalogSection says where the catalog lives and which branch to use.
type CatalogSection struct {
	URL    string `yaml:"url"`
	Branch string `yaml:"branch"` // a branch name, or "auto" to follow the git branch
}

// Isolation is the original Ratatouille's per-workspace isolation block.
type Isolation struct {
	NessieBranch string `yaml:"nessie_branch"` // auto | git | git:<prefix> | literal branch
	S3Prefix     string `yaml:"s3_prefix"`     // warehouse prefix of this workspace
}

// Product is a data product a workspace publishes (accepted; used later).
type Product struct {
	Name   string         `yaml:"name"`
	Source string         `yaml:"source"`
	Access []ProductGrant `yaml:"access"`
	SLA    struct {
		FreshnessHours float64 `yaml:"freshness_hours"`
	} `yaml:"sla"`
}

// ProductGrant grants a workspace access to a product.
type ProductGrant struct {
	Workspace string `yaml:"workspace"`
	Level     string `yaml:"level"`
}

// Subscription subscribes to another workspace's product (accepted; used later).
type Subscription struct {
	Product           string `yaml:"product"`
	Alias             string `yaml:"alias"`
	VersionConstraint string `yaml:"version_constraint"`
}

var yamlFieldErr = regexp.MustCompile(`line (\d+): field (\S+) not found in type (\S+)`)

// ParseWorkspace parses workspace.yaml strictly. file is used in messages.
func ParseWorkspace(file string, data []byte) (*Workspace, error) {
	var ws Workspace
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&ws); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg := te.Errors[0]
			if m := yamlFieldErr.FindStringSubmatch(msg); m != nil {
				return nil, rat.Errorf(rat.EINVALID, "%s:%s: unknown key %q%s: remove it or check the spelling (see the workspace.yaml reference in README.md)",
					file, m[1], m[2], suggest(m[2], knownWorkspaceKeys))
			}
			return nil, rat.Errorf(rat.EINVALID, "%s: %s", file, strings.TrimPrefix(msg, "yaml: "))
		}
		return nil, rat.Errorf(rat.EINVALID, "%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	ws.lines = keyLines(data)
	if ws.Resources.Profile != "" {
		if _, err := LookupProfile(ws.Resources.Profile); err != nil {
			return nil, rat.Errorf(rat.EINVALID, "%s:%d: resources.profile: %s", file, ws.lines["resources.profile"], err.Error())
		}
	}
	return &ws, nil
}

var knownWorkspaceKeys = []string{"version", "name", "description", "resources", "layers", "storage", "catalog",
	"isolation", "vars", "products", "subscriptions", "profile", "chunk_size_rows", "max_parallel_pipelines",
	"duckdb_memory_mb", "duckdb_threads", "max_memory_mb", "cache_mb", "overrides", "retention_days", "partition_by",
	"warehouse", "url", "branch", "nessie_branch", "s3_prefix"}

// suggest returns ` (did you mean "x"?)` for a close known key, or "".
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// keyLines maps dotted key paths of mappings to their line numbers.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return lines
	}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := prefix + n.Content[i].Value
			lines[k] = n.Content[i].Line
			walk(n.Content[i+1], k+".")
		}
	}
	walk(root.Content[0], "")
	return lines
}

// Line returns the line of a dotted key in workspace.yaml, or 0.
func (w *Workspace) Line(key string) int { return w.lines[key] }

// FindWorkspace walks up from dir to the nearest directory holding
// workspace.yaml; it returns "" when there is none.
func FindWorkspace(dir string) string {
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
