// Package internal_test checks the import rules between rat's packages
// (ARCHITECTURE.md, "Import rules"): which package may link which, read
// from go list -deps over the whole module.
package internal_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/ratdata/rat"

// pkg is one package as go list reports it: its direct imports and every
// package it links (Deps, the transitive closure), without tests.
type pkg struct {
	standard bool
	source   bool // has Go files besides tests
	imports  []string
	deps     []string
}

// graph lists the module's packages and everything they link, once.
var graph = sync.OnceValues(func() (map[string]pkg, error) {
	out, err := exec.Command("go", "list", "-deps",
		"-f", `{{.ImportPath}}{{"\t"}}{{.Standard}}{{"\t"}}{{join .Imports " "}}{{"\t"}}{{join .Deps " "}}{{"\t"}}{{.Dir}}{{"\t"}}{{join .GoFiles " "}}`,
		"../...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = &listError{err: err, stderr: string(ee.Stderr)}
		}
		return nil, err
	}
	g := map[string]pkg{}
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) != 6 {
			continue
		}
		g[f[0]] = pkg{standard: f[1] == "true", source: f[5] != "", imports: strings.Fields(f[2]), deps: strings.Fields(f[3])}
		if f[0] == module || strings.HasPrefix(f[0], module+"/") {
			// go test caches a result by the files the test itself
			// touched; go list's reads are another process's. Looking
			// at each source file makes an edited import run the rules
			// again instead of replaying a cached pass.
			for _, name := range strings.Fields(f[5]) {
				if _, err := os.Stat(filepath.Join(f[4], name)); err != nil {
					return nil, err
				}
			}
		}
	}
	return g, nil
})

type listError struct {
	err    error
	stderr string
}

func (e *listError) Error() string { return "go list -deps ../...: " + e.err.Error() + "\n" + e.stderr }

// full turns a rule's path into an import path: "" is the root package,
// "internal/x" a package of the module, anything else a third-party path.
func full(p string) string {
	switch {
	case p == "":
		return module
	case strings.HasPrefix(p, "internal/") || strings.HasPrefix(p, "cmd/") || strings.HasPrefix(p, "deploy/"):
		return module + "/" + p
	}
	return p
}

// covers reports whether the rule path f names the import path d: d itself
// or a package under it; a path ending in "/" covers everything under it.
func covers(f, d string) bool {
	if strings.HasSuffix(f, "/") {
		return strings.HasPrefix(d, f)
	}
	return d == f || strings.HasPrefix(d, f+"/")
}

func loadGraph(t *testing.T) map[string]pkg {
	t.Helper()
	g, err := graph()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// exists reports whether any package of the build matches the rule path f,
// so a rule about a package that was renamed or removed fails instead of
// passing for ever.
func exists(g map[string]pkg, f string) bool {
	for p := range g {
		if covers(f, p) {
			return true
		}
	}
	return false
}

// TestImportRules: a package listed here never links the packages named
// against it, directly or through another package.
func TestImportRules(t *testing.T) {
	t.Parallel()
	g := loadGraph(t)
	for _, rule := range []struct {
		pkg    string
		forbid []string // "internal/x" (and its subpackages), third-party paths, or prefixes ending in "/"
		allow  []string // exceptions to forbid
		// stdOnly: the package links the standard library and the root
		// package only.
		stdOnly bool
		why     string
	}{
		{pkg: "", stdOnly: true,
			why: "the root package is the vocabulary (ids, refs, commits, runs and their states, the error type) every package speaks; it depends on none of them"},
		{pkg: "internal/orchestrator/dag", stdOnly: true,
			why: "the run state machine is pure: the in-process runner and the queue both decide by it"},
		{pkg: "internal/textout", stdOnly: true, why: "formatting for people needs nothing of rat"},
		{pkg: "internal/proc", stdOnly: true, why: "starting a rat process and reading its ready line needs nothing of rat"},
		{pkg: "internal/httpauth", stdOnly: true,
			why: "the token rules are shared by the API server and the /metrics of rat worker; they must not link the HTTP server, the CLI or DuckDB"},
		{pkg: "internal/ui", stdOnly: true,
			why: "the UI renders page shells whose scripts read the JSON API; it knows no tokens and no catalog, and the server mounts it, not the other way round"},
		{pkg: "internal/sysres", stdOnly: true,
			why: "reading the machine's limits (cgroup, /proc) needs nothing of rat; the configuration and later the metrics read it"},
		{pkg: "internal/config", forbid: []string{"internal/"}, allow: []string{"internal/sysres"},
			why: "every layer may read the configuration's types; the configuration depends on none of them but the machine's limits (internal/sysres, standard library only)"},
		{pkg: "internal/trigger", forbid: []string{"internal/"},
			why: "trigger decisions (cron, webhook signatures, after) are pure, on an injected clock"},
		{pkg: "internal/catalog", forbid: []string{"internal/objstore", "internal/duckdb", "internal/lake", "internal/pipeline", "internal/server", "internal/orchestrator", "internal/sqlite", "internal/postgres"},
			why: "the versioned catalog knows tables by their metadata locations; files come through iceberg-go's IO and the Locator interface, its storage through catalog.Store"},
		{pkg: "internal/catalog/sqlstore", forbid: []string{"internal/sqlite", "internal/postgres", "internal/objstore", "internal/duckdb", "modernc.org/sqlite", "github.com/jackc/pgx/"},
			why: "the SQL store is parameterised by a dialect; the drivers belong to the two adapters"},
		{pkg: "internal/sqlite", forbid: []string{"internal/postgres", "github.com/jackc/pgx/", "internal/objstore", "internal/duckdb"},
			why: "adapters never import each other; only the composition root wires them together"},
		{pkg: "internal/postgres", forbid: []string{"internal/sqlite", "modernc.org/sqlite", "internal/objstore", "internal/duckdb"},
			why: "adapters never import each other; only the composition root wires them together"},
		{pkg: "internal/objstore", forbid: []string{"internal/catalog", "internal/duckdb", "internal/lake", "internal/sqlite", "internal/postgres"},
			why: "adapters never import each other: the object store moves bytes and maps locations, it knows no catalog and no engine"},
		{pkg: "internal/duckdb", forbid: []string{"internal/catalog", "internal/objstore", "internal/lake", "internal/sqlite", "internal/postgres"},
			why: "adapters never import each other: DuckDB reads and writes local files only, rat moves the bytes"},
		{pkg: "internal/lake", forbid: []string{"internal/workspace", "internal/ingest", "internal/pipeline", "internal/orchestrator", "internal/server", "internal/sqlite", "internal/postgres"},
			why: "table operations know nothing of pipelines or of where a write comes from; the catalog comes in as a catalog.Store"},
		{pkg: "internal/ingest", forbid: []string{"internal/duckdb", "github.com/duckdb/", "internal/catalog", "internal/lake", "internal/pipeline"},
			why: "the orchestrator's landing sensors list landing files through it, so it links no DuckDB: it writes the SQL DuckDB reads files with"},
		{pkg: "internal/workspace", forbid: []string{"internal/duckdb", "github.com/duckdb/", "internal/catalog", "internal/objstore", "internal/lake", "internal/pipeline"},
			why: "loading a workspace (rat docs, the scheduler, the API's workspace pages) needs no engine and no catalog"},
		{pkg: "internal/docs", forbid: []string{"internal/duckdb", "github.com/duckdb/", "internal/lake", "internal/pipeline"},
			why: "the data dictionary and lineage come from the workspace and values the command passes in"},
		{pkg: "internal/pipeline", forbid: []string{"internal/orchestrator", "internal/server", "internal/cli", "internal/app", "internal/bench", "internal/sqlite", "internal/postgres", "github.com/riverqueue/"},
			allow: []string{"internal/orchestrator/dag"},
			why:   "the runner builds, tests and publishes; the queue drives it through orchestrator.Engine, and it shares only the pure state machine (orchestrator/dag)"},
		{pkg: "internal/orchestrator", forbid: []string{"internal/duckdb", "github.com/duckdb/", "internal/lake", "internal/pipeline", "internal/server", "internal/cli", "internal/app", "internal/bench", "internal/client", "internal/sqlite", "internal/postgres"},
			why: "the orchestrator decides when and where runs execute; node execution is the Engine interface internal/pipeline implements, the catalog database a set of interfaces, so it links neither DuckDB nor the HTTP server nor the CLI"},
		{pkg: "internal/metrics", forbid: []string{"internal/server", "internal/cli", "internal/orchestrator", "internal/pipeline", "internal/duckdb", "github.com/duckdb/"},
			why: "serve and worker both register the metrics and the orchestrator counts into them; the package must not link the HTTP server, the CLI, the orchestrator or DuckDB"},
		{pkg: "internal/monitor", forbid: []string{"internal/server", "internal/cli", "internal/app", "internal/orchestrator", "internal/pipeline", "internal/duckdb", "github.com/duckdb/"},
			why: "judging a cluster's state is pure: the app gathers the report, the server serves it and the CLI prints it"},
		{pkg: "internal/server", forbid: []string{"internal/cli", "internal/app", "internal/bench", "internal/orchestrator", "internal/client", "internal/sqlite", "internal/postgres", "github.com/riverqueue/"},
			allow: []string{"internal/orchestrator/dag"},
			why:   "the composition root (internal/app) builds the server, not the other way round: runs reach it as StartRun/CancelRun functions and the catalog as server.Store"},
		{pkg: "internal/client", forbid: []string{"internal/", "github.com/duckdb/"},
			why: "the client of a rat serve speaks HTTP and the root vocabulary; a command with --server links it without running anything"},
		{pkg: "internal/bench", forbid: []string{"internal/cli"},
			why: "the cli defines the bench commands and calls into internal/bench, not the other way round"},
		{pkg: "internal/app", forbid: []string{"internal/cli", "internal/bench", "internal/client"},
			why: "the composition root builds what the commands, serve and worker use; the commands depend on it, not it on them"},
	} {
		name := rule.pkg
		if name == "" {
			name = "rat"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, ok := g[full(rule.pkg)]
			if !ok {
				t.Fatalf("no package %s in go list -deps ../...: update the rule", full(rule.pkg))
			}
			var forbid, allow []string
			for _, f := range rule.forbid {
				forbid = append(forbid, full(f))
				if !exists(g, full(f)) {
					t.Errorf("rule for %s: nothing in the build matches %s: update the rule", name, full(f))
				}
			}
			for _, a := range rule.allow {
				allow = append(allow, full(a))
			}
			for _, d := range p.deps {
				if slices.ContainsFunc(allow, func(a string) bool { return covers(a, d) }) {
					continue
				}
				if rule.stdOnly && d != module && !g[d].standard {
					t.Errorf("%s links %s: %s", name, d, rule.why)
				}
				for _, f := range forbid {
					if covers(f, d) {
						t.Errorf("%s links %s: %s", name, d, rule.why)
					}
				}
			}
		})
	}
}

// TestImportedOnlyBy: the packages listed here are imported directly only
// by the packages named beside them.
func TestImportedOnlyBy(t *testing.T) {
	t.Parallel()
	g := loadGraph(t)
	for _, rule := range []struct {
		pkg string // a path; "/" at the end: everything under it
		by  []string
		why string
	}{
		{"github.com/duckdb/", []string{"internal/duckdb"},
			"internal/duckdb is the only cgo package: every other package reaches DuckDB through it"},
		{"github.com/riverqueue/", []string{"internal/orchestrator"},
			"the queue is the orchestrator's; everything else enqueues and waits through orchestrator.Runs"},
		{"github.com/spf13/cobra", []string{"internal/cli"},
			"commands, flags and help text live in internal/cli only"},
		{"github.com/prometheus/", []string{"internal/metrics", "internal/metrics/metricstest"},
			"every Prometheus collector is declared in internal/metrics (its test helper parses what they expose)"},
		{"github.com/minio/", []string{"internal/objstore"},
			"S3 is one implementation of objstore.Store"},
		{"github.com/nikolalohinski/gonja/", []string{"internal/workspace"},
			"Jinja rendering is the workspace's"},
		{"internal/sqlite", []string{"internal/app", "internal/bench", "internal/lake/laketest"},
			"only the composition root opens a catalog store (and the benchmarks their scratch catalogs, the tests' lake helper)"},
		{"internal/postgres", []string{"internal/app", "internal/bench"},
			"only the composition root opens a catalog store (and the benchmarks their scratch databases)"},
		{"internal/app", []string{"internal/cli", "internal/bench"},
			"the composition root is for the commands and the benchmarks; libraries take plain values"},
		{"internal/cli", []string{"cmd/rat"},
			"the command tree is the program's; nothing calls back into it"},
	} {
		t.Run(rule.pkg, func(t *testing.T) {
			t.Parallel()
			target := full(rule.pkg)
			var by []string
			for _, b := range rule.by {
				by = append(by, full(b))
			}
			seen := false
			for path, p := range g {
				if path != module && !strings.HasPrefix(path, module+"/") || covers(target, path) {
					continue
				}
				for _, imp := range p.imports {
					if !covers(target, imp) {
						continue
					}
					if slices.Contains(by, path) {
						seen = true
					} else {
						t.Errorf("%s imports %s: %s", path, imp, rule.why)
					}
				}
			}
			if !seen {
				t.Errorf("none of %v imports %s: update the rule", rule.by, target)
			}
		})
	}
}

// layers are ARCHITECTURE.md's layers, lowest first: a package imports
// packages of lower layers only, and of its own layer only along the edges
// sameLayer lists. A package in no layer fails the test until it is placed.
var layers = []struct {
	name string
	pkgs []string
}{
	{"vocabulary", []string{""}},
	{"leaves", []string{"internal/config", "internal/trigger", "internal/orchestrator/dag", "internal/textout", "internal/httpauth",
		"internal/metrics", "internal/metrics/metricstest", "internal/monitor", "internal/ui", "internal/proc", "internal/client", "internal/startgc", "internal/testenv", "internal/stmtcache", "internal/sysres",
		"deploy/k8s"}},
	{"storage", []string{"internal/catalog", "internal/catalog/sqlstore", "internal/catalog/catalogtest", "internal/sqlite", "internal/postgres",
		"internal/objstore", "internal/objstore/objstoretest", "internal/duckdb"}},
	{"data", []string{"internal/lake", "internal/lake/laketest", "internal/ingest", "internal/workspace", "internal/icebergrest", "internal/icebergrest/resttest"}},
	{"work", []string{"internal/pipeline", "internal/docs", "internal/migrate"}},
	{"services", []string{"internal/server", "internal/orchestrator", "internal/pgwire"}},
	{"composition", []string{"internal/app"}},
	{"program", []string{"internal/cli", "internal/bench", "cmd/rat", "deploy/k8s/kubeplay"}},
}

// sameLayer are the imports allowed inside a layer.
var sameLayer = map[string][]string{
	"internal/metrics":               {"internal/httpauth", "internal/trigger", "internal/sysres"},
	"internal/config":                {"internal/sysres"},
	"internal/monitor":               {"internal/config", "internal/metrics", "internal/textout", "internal/trigger"},
	"internal/catalog/sqlstore":      {"internal/catalog"},
	"internal/catalog/catalogtest":   {"internal/catalog", "internal/catalog/sqlstore"},
	"internal/sqlite":                {"internal/catalog", "internal/catalog/sqlstore"},
	"internal/postgres":              {"internal/catalog", "internal/catalog/sqlstore"},
	"internal/objstore/objstoretest": {"internal/objstore"},
	"internal/duckdb":                {"internal/textout"}, // a leaf, listed for clarity: leaves are below storage
	"internal/lake/laketest":         {"internal/lake"},
	"internal/cli":                   {"internal/bench"},
	"cmd/rat":                        {"internal/cli"},
}

// TestLayers: every package of the module sits in one layer and imports
// downwards (ARCHITECTURE.md, "Layers").
func TestLayers(t *testing.T) {
	t.Parallel()
	g := loadGraph(t)
	layer := map[string]int{}
	for i, l := range layers {
		for _, p := range l.pkgs {
			if _, ok := g[full(p)]; !ok {
				t.Errorf("layer %s lists %s, which go list does not know: update the layers", l.name, full(p))
			}
			layer[full(p)] = i
		}
	}
	for path, p := range g {
		if path != module && !strings.HasPrefix(path, module+"/") || !p.source {
			continue // not rat's, or tests only (this package)
		}
		from, ok := layer[path]
		if !ok {
			t.Errorf("%s is in no layer: place it in one (internal/importrules_test.go and ARCHITECTURE.md's layer diagram)", path)
			continue
		}
		for _, imp := range p.imports {
			to, ok := layer[imp]
			if !ok {
				continue // the standard library, third parties, or a package reported above
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			switch {
			case to < from:
			case to == from && slices.Contains(sameLayer[strings.TrimPrefix(strings.TrimPrefix(path, module), "/")], rel):
			default:
				t.Errorf("%s (layer %s) imports %s (layer %s): a package imports downwards only", path, layers[from].name, imp, layers[to].name)
			}
		}
	}
}
