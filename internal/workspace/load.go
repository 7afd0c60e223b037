package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
)

// loader holds the state of one Load.
type loader struct {
	ws    *Workspace
	files map[string]string      // workspace-relative path -> content
	owned map[*Pipeline][]string // the files each pipeline's hash covers
	rels  map[*Pipeline][]pendingRel
	// layerParts are the layers' default partitionings, by layer.
	layerParts map[string]layerPartition
}

func (l *loader) load() error {
	l.owned, l.rels = map[*Pipeline][]string{}, map[*Pipeline][]pendingRel{}
	w := l.ws
	cands, layers, err := l.scan()
	if err != nil {
		return err
	}
	known := append([]string{"bronze", "silver", "gold"}, layers...)
	for layer := range w.Config.Layers {
		known = append(known, strings.ToLower(layer))
	}
	w.layers = sortedUnique(known)
	if err := l.layerPartitions(); err != nil {
		return err
	}

	for _, c := range cands {
		p, err := l.pipeline(c)
		if err != nil {
			return err
		}
		w.pipelines[p.ID] = p
		w.sorted = append(w.sorted, p)
	}
	sort.Slice(w.sorted, func(i, j int) bool { return w.sorted[i].ID.String() < w.sorted[j].ID.String() })
	if err := l.aliases(); err != nil {
		return err
	}
	if err := l.relationships(); err != nil {
		return err
	}
	for _, p := range w.sorted {
		if err := l.discover(p); err != nil {
			return err
		}
		p.Hash = l.hash(p)
	}
	return w.buildDAG()
}

// pipeline reads one pipeline: its SQL header, its YAML, its tests.
func (l *loader) pipeline(c candidate) (*Pipeline, error) {
	src, err := l.read(c.sqlFile)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{ID: c.id, Layout: c.layout, File: c.sqlFile, ConfigFile: c.configFile, SQL: src, ws: l.ws}
	l.owned[p] = append(l.owned[p], c.sqlFile)
	h := parseHeader(src)
	if err := h.check(l, p.File, pipelineAnnotations, []string{"tags"}); err != nil {
		return nil, err
	}
	if isBlankSQL(strings.Join(splitLines(src)[h.bodyLine-1:], "\n")) {
		return nil, rat.Errorf(rat.EINVALID, "%s: the pipeline has no SQL: write the SELECT that builds %s below the header", p.File, p.ID)
	}
	y := &yamlConfig{lines: map[string]int{}}
	if c.configFile != "" {
		data, err := l.read(c.configFile)
		if err != nil {
			return nil, err
		}
		l.owned[p] = append(l.owned[p], c.configFile)
		if y, err = parsePipelineYAML(c.configFile, []byte(data)); err != nil {
			return nil, err
		}
	}
	cfg, src2, err := l.mergeConfig(p, h.annots, y)
	if err != nil {
		return nil, err
	}
	if err := validateConfig(&cfg, src2, p.File); err != nil {
		return nil, err
	}
	if src, ok := src2["partition_by"]; ok && len(cfg.PartitionBy) > 0 {
		cfg.PartitionFrom = src.String() + ": partition_by"
	} else if lp, ok := l.layerParts[p.ID.Layer]; ok && len(cfg.PartitionBy) == 0 {
		cfg.PartitionBy, cfg.PartitionFrom = lp.parts, lp.from
	}
	if src, ok := src2["retention_days"]; ok {
		cfg.RetentionFrom = src.String() + ": retention_days"
	}
	if src, ok := src2["retention_column"]; ok {
		cfg.RetentionColumnFrom = src.String() + ": retention_column"
	}
	if src, ok := src2["sort_by"]; ok && len(cfg.SortBy) > 0 {
		cfg.SortFrom = src.String()
	}
	p.Config = cfg
	for _, t := range p.Config.Tests {
		t.Pipeline = p
	}
	l.rels[p] = y.rels
	if a, ok := h.last("name"); ok && a.Value != "" {
		alias := strings.ToLower(strings.TrimSpace(a.Value))
		if !identPart(alias) {
			if _, err := rat.ParseTableID(alias); err != nil {
				return nil, rat.Errorf(rat.EINVALID, "%s:%d: @name: %q is not a table name: use letters, digits and _ (for example %s_%s)", p.File, a.Line, a.Value, p.ID.Layer, p.ID.Name)
			}
		}
		if id, err := rat.ParseTableID(alias); err == nil && id.Internal() {
			return nil, rat.Errorf(rat.EINVALID, "%s:%d: @name: %s names one of rat's own tables (layer %s, read-only): an @name is an extra name for %s; remove it or pick a name in another layer",
				p.File, a.Line, alias, rat.InternalLayer, p.ID)
		}
		if alias != p.ID.Name && alias != p.ID.String() {
			p.Aliases = []string{alias}
		}
	}
	return p, l.tests(p, c.testsDir)
}

// layerPartition is a layer's default partitioning and where it is set.
type layerPartition struct {
	parts []Partition
	from  string // workspace.yaml:<line>: layers.<layer>.partition_by
}

// layerPartitions reads layers.<layer>.partition_by of workspace.yaml: the
// partitioning of the layer's pipelines that set none themselves.
func (l *loader) layerPartitions() error {
	l.layerParts = map[string]layerPartition{}
	names := make([]string, 0, len(l.ws.Config.Layers))
	for name := range l.ws.Config.Layers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		list := l.ws.Config.Layers[name].PartitionBy
		if len(list) == 0 {
			continue
		}
		key := "layers." + name + ".partition_by"
		from := fmt.Sprintf("%s:%d: %s", config.WorkspaceFileName, l.ws.Config.Line(key), key)
		parts, err := parsePartitions(list)
		if err != nil {
			return rat.Errorf(rat.EINVALID, "%s: %v", from, err)
		}
		l.layerParts[strings.ToLower(name)] = layerPartition{parts: parts, from: from}
	}
	return nil
}

// tests reads a pipeline's mocks, quality tests and unit tests.
func (l *loader) tests(p *Pipeline, dir string) error {
	mocks, err := l.testFiles(dir, "mocks", []string{".yaml", ".yml", ".csv", ".json"}, "mock tables")
	if err != nil {
		return err
	}
	for _, f := range mocks {
		data, err := l.read(f)
		if err != nil {
			return err
		}
		mf, err := l.parseMock(f, []byte(data))
		if err != nil {
			return err
		}
		p.Mocks = append(p.Mocks, mf)
	}
	quality, err := l.testFiles(dir, "quality", []string{".sql"}, "quality tests")
	if err != nil {
		return err
	}
	for _, f := range quality {
		t, err := l.qualityTest(p, f)
		if err != nil {
			return err
		}
		p.QualityTests = append(p.QualityTests, t)
	}
	unit, err := l.testFiles(dir, "unit", []string{".sql"}, "unit tests")
	if err != nil {
		return err
	}
	for _, f := range unit {
		t, err := l.unitTest(p, f)
		if err != nil {
			return err
		}
		p.UnitTests = append(p.UnitTests, t)
	}
	l.owned[p] = append(l.owned[p], append(append(mocks, quality...), unit...)...)
	return nil
}

// aliases registers every @name alias; an alias may not shadow a table or
// another alias.
func (l *loader) aliases() error {
	w := l.ws
	owner := map[string]*Pipeline{}
	for _, p := range w.sorted {
		for _, a := range p.Aliases {
			if id, err := rat.ParseTableID(a); err == nil {
				if q, ok := w.pipelines[id]; ok {
					return rat.Errorf(rat.EINVALID, "%s: @name: %s is the table of %s: an @name is an extra name and may not take another pipeline's; remove it", p.File, a, q.File)
				}
			}
			if id, err := w.normalizeTable(a); err == nil && id != p.ID {
				if q, ok := w.pipelines[id]; ok {
					return rat.Errorf(rat.EINVALID, "%s: @name: %s already names %s (%s): remove it or pick another name", p.File, a, q.ID, q.File)
				}
			}
			if q, dup := owner[a]; dup {
				return rat.Errorf(rat.EINVALID, "%s and %s both use @name: %s: an @name must name one pipeline; change one", q.File, p.File, a)
			}
			owner[a] = p
			w.aliases[a] = p.ID
		}
	}
	return nil
}

// relationships resolves the targets of relationships column tests.
func (l *loader) relationships() error {
	for _, p := range l.ws.sorted {
		for _, r := range l.rels[p] {
			id, ok := l.ws.lookup(r.name)
			if !ok {
				return rat.Errorf(rat.EINVALID, "%s:%d: relationships: unknown table %q%s: name a pipeline or a catalog table as layer.name",
					p.ConfigFile, r.line, r.name, didYouMean(strings.ToLower(r.name), l.ws.names()))
			}
			p.Config.Columns[r.column].Tests[r.test].To = id
		}
	}
	return nil
}

// discover renders the pipeline and its tests to find what they read, and
// to report template and ref errors at load time.
func (l *loader) discover(p *Pipeline) error {
	w := l.ws
	rec, err := w.discover(p, p.File, p.SQL, 0)
	if err != nil {
		return err
	}
	for id := range rec.refs {
		p.Refs = append(p.Refs, id)
	}
	sort.Slice(p.Refs, func(i, j int) bool { return p.Refs[i].String() < p.Refs[j].String() })
	p.Landings = sortedKeys(rec.landings)
	p.refLine = w.refLines(p.SQL, 0)
	for _, t := range p.QualityTests {
		if _, err := w.discover(p, t.File, t.SQL, 0); err != nil {
			return err
		}
	}
	for _, t := range p.UnitTests {
		if t.HasBody {
			if _, err := w.discover(p, t.File, t.SQL, 0); err != nil {
				return err
			}
		}
	}
	for _, t := range p.Config.Tests {
		if _, err := w.discover(p, t.File, t.SQL, t.sqlOffset); err != nil {
			return err
		}
	}
	return nil
}

// hash is a sha256 over the names and contents of the pipeline's files.
func (l *loader) hash(p *Pipeline) string {
	files := append([]string(nil), l.owned[p]...)
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00%s", f, len(l.files[f]), l.files[f])
	}
	return hex.EncodeToString(h.Sum(nil))
}
