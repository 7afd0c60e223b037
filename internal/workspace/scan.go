package workspace

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ratdata/rat"
)

// candidate is a pipeline found on disk, before its files are read.
type candidate struct {
	id         rat.TableID
	layout     Layout
	sqlFile    string // workspace-relative, '/' separators
	configFile string
	testsDir   string // "" when there is none
}

// folderInfo is what a directory inside a layer holds.
type folderInfo struct {
	rel      string
	hasSQL   bool
	hasPy    bool
	configs  []string
	testsDir string
}

// scan lists the pipelines under pipelines/ and the layers they use.
func (l *loader) scan() ([]candidate, []string, error) {
	entries, err := l.readDir("pipelines")
	if errors.Is(err, fs.ErrNotExist) {
		l.warn("pipelines", 0, "there is no pipelines/ folder: the workspace has no pipelines yet")
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var out []candidate
	var layers []string
	for _, e := range entries {
		name, rel := e.Name(), "pipelines/"+e.Name()
		if !l.isDir(rel, e) {
			switch strings.ToLower(path.Ext(name)) {
			case ".sql":
				return nil, nil, rat.Errorf(rat.EINVALID, "%s: a pipeline must be inside a layer folder: move it to pipelines/<layer>/%s (for example pipelines/silver/%s)", rel, name, name)
			case ".py":
				l.warn(rel, 0, "ignored: rat runs SQL pipelines only")
			}
			continue
		}
		layer := strings.ToLower(name)
		if !identPart(layer) {
			return nil, nil, rat.Errorf(rat.EINVALID, "%s: a layer folder name must start with a letter or _ and hold only letters, digits and _ (it becomes the table namespace): rename it", rel)
		}
		found, err := l.scanLayer(layer, rel)
		if err != nil {
			return nil, nil, err
		}
		if len(found) > 0 && layer == rat.InternalLayer {
			id := found[0].id
			return nil, nil, rat.Errorf(rat.EINVALID, "%s: a pipeline may not build %s: the %s layer holds rat's own tables (the landing file registry) and only rat writes them; move the pipeline to another layer folder, for example pipelines/bronze/",
				found[0].sqlFile, id, rat.InternalLayer)
		}
		out = append(out, found...)
		layers = append(layers, layer)
	}
	return out, layers, nil
}

func (l *loader) scanLayer(layer, dir string) ([]candidate, error) {
	entries, err := l.readDir(dir)
	if err != nil {
		return nil, err
	}
	flatSQL := map[string]string{}
	flatCfg := map[string][]string{}
	folders := map[string]*folderInfo{}
	spelled := map[string]string{} // lower-case name -> first entry, for case clashes
	names := map[string]bool{}
	for _, e := range entries {
		name, rel := e.Name(), dir+"/"+e.Name()
		ext := strings.ToLower(path.Ext(name))
		key := strings.ToLower(strings.TrimSuffix(name, path.Ext(name)))
		if l.isDir(rel, e) {
			key = strings.ToLower(name)
			info, err := l.inspectFolder(rel)
			if err != nil {
				return nil, err
			}
			folders[key] = info
		} else {
			switch ext {
			case ".sql":
				if prev, dup := spelled[key+ext]; dup {
					return nil, rat.Errorf(rat.EINVALID, "%s and %s define the same table %s.%s (names are case-insensitive): keep one", prev, rel, layer, key)
				}
				spelled[key+ext] = rel
				flatSQL[key] = rel
			case ".yaml", ".yml":
				flatCfg[key] = append(flatCfg[key], rel)
			case ".py":
				l.warn(rel, 0, "ignored: rat runs SQL pipelines only")
				continue
			default:
				continue
			}
		}
		names[key] = true
	}
	var out []candidate
	for _, name := range sortedKeys(names) {
		folder, sqlFile, cfgs := folders[name], flatSQL[name], flatCfg[name]
		switch {
		case folder != nil && folder.hasSQL:
			if sqlFile != "" {
				l.warn(sqlFile, 0, "ignored: the folder %s/ defines %s.%s too, and the folder wins: delete one of them", folder.rel, layer, name)
			}
			for _, c := range cfgs {
				l.warn(c, 0, "ignored: the folder pipeline %s/ takes its settings from config.yaml", folder.rel)
			}
			if len(folder.configs) > 1 {
				return nil, rat.Errorf(rat.EINVALID, "%s and %s both configure %s.%s: keep one", folder.configs[0], folder.configs[1], layer, name)
			}
			c := candidate{id: rat.TableID{Layer: layer, Name: name}, layout: Folder, sqlFile: folder.rel + "/pipeline.sql", testsDir: folder.testsDir}
			if len(folder.configs) == 1 {
				c.configFile = folder.configs[0]
			}
			if err := c.id.Validate(); err != nil {
				return nil, rat.Errorf(rat.EINVALID, "%s/: the folder name becomes the table name %s, which is not valid: rename the folder (letters, digits and _)", folder.rel, c.id)
			}
			out = append(out, c)
		case sqlFile != "":
			if len(cfgs) > 1 {
				return nil, rat.Errorf(rat.EINVALID, "%s and %s both configure %s.%s: keep one", cfgs[0], cfgs[1], layer, name)
			}
			c := candidate{id: rat.TableID{Layer: layer, Name: name}, layout: Flat, sqlFile: sqlFile}
			if len(cfgs) == 1 {
				c.configFile = cfgs[0]
			}
			if folder != nil {
				c.testsDir = folder.testsDir // the original's flat pipelines keep tests in <name>/tests
			}
			if err := c.id.Validate(); err != nil {
				return nil, rat.Errorf(rat.EINVALID, "%s: the file name becomes the table name %s, which is not valid: rename the file (letters, digits and _)", sqlFile, c.id)
			}
			out = append(out, c)
		default:
			for _, c := range cfgs {
				l.warn(c, 0, "ignored: there is no %s/%s.sql (or %s/%s/pipeline.sql) for these settings", dir, name, dir, name)
			}
			if folder != nil && folder.hasPy {
				l.warn(folder.rel+"/pipeline.py", 0, "ignored: rat runs SQL pipelines only")
			}
		}
	}
	return out, nil
}

func (l *loader) inspectFolder(rel string) (*folderInfo, error) {
	info := &folderInfo{rel: rel}
	entries, err := l.readDir(rel)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case name == "pipeline.sql":
			info.hasSQL = true
		case name == "pipeline.py":
			info.hasPy = true
		case name == "config.yaml" || name == "config.yml":
			info.configs = append(info.configs, rel+"/"+name)
		case name == "tests" && l.isDir(rel+"/tests", e):
			info.testsDir = rel + "/tests"
		}
	}
	return info, nil
}

// testFiles lists the files of one tests/ sub-folder with the given
// extensions; other files are reported and skipped.
func (l *loader) testFiles(testsDir, sub string, exts []string, what string) ([]string, error) {
	if testsDir == "" {
		return nil, nil
	}
	dir := testsDir + "/" + sub
	entries, err := l.readDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		rel := dir + "/" + e.Name()
		if l.isDir(rel, e) {
			continue
		}
		if contains(exts, strings.ToLower(path.Ext(e.Name()))) {
			out = append(out, rel)
		} else {
			l.warn(rel, 0, "ignored: %s must be %s files", what, strings.Join(exts, ", "))
		}
	}
	return out, nil
}

// readDir lists a workspace-relative directory, sorted, without hidden
// entries (".git") and Python package files ("__init__.py", "__pycache__").
func (l *loader) readDir(rel string) ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(filepath.Join(l.ws.Dir, filepath.FromSlash(rel)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, rat.Errorf(rat.EINVALID, "read %s: %v", rel, err)
	}
	out := entries[:0]
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(e.Name(), "__") {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// isDir follows symbolic links.
func (l *loader) isDir(rel string, e fs.DirEntry) bool {
	if e.Type()&fs.ModeSymlink != 0 {
		st, err := os.Stat(filepath.Join(l.ws.Dir, filepath.FromSlash(rel)))
		return err == nil && st.IsDir()
	}
	return e.IsDir()
}

// read returns a workspace-relative file's content, once.
func (l *loader) read(rel string) (string, error) {
	if s, ok := l.files[rel]; ok {
		return s, nil
	}
	data, err := os.ReadFile(filepath.Join(l.ws.Dir, filepath.FromSlash(rel)))
	if err != nil {
		return "", rat.Errorf(rat.EINVALID, "read %s: %v", rel, err)
	}
	s := strings.TrimPrefix(string(data), "\ufeff")
	l.files[rel] = s
	return s, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
