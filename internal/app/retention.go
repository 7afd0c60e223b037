package app

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/workspace"
)

// RetentionPolicies reads a workspace's retention settings for
// Lake.Retention: layers.<layer>.retention_days and retention_column in
// workspace.yaml cover every table of the layer; a pipeline's own
// retention_days and retention_column win for its table (a pipeline that
// sets only one of them takes the other from its layer).
func RetentionPolicies(ws *workspace.Workspace) []lake.RetentionPolicy {
	var out []lake.RetentionPolicy
	layers := map[string]lake.RetentionPolicy{}
	names := make([]string, 0, len(ws.Config.Layers))
	for name := range ws.Config.Layers {
		names = append(names, name)
	}
	sort.Strings(names)
	where := func(key string) string {
		return fmt.Sprintf("%s:%d: %s", config.WorkspaceFileName, ws.Config.Line(key), key)
	}
	for _, name := range names {
		l := ws.Config.Layers[name]
		p := lake.RetentionPolicy{Layer: name, Days: -1, Column: l.RetentionColumn}
		if l.RetentionColumn != "" {
			p.ColumnFrom = where("layers." + name + ".retention_column")
		}
		if l.RetentionDays != nil {
			p.Days, p.From = *l.RetentionDays, where("layers."+name+".retention_days")
			out = append(out, p)
		}
		layers[strings.ToLower(name)] = p
	}
	for _, pl := range ws.Pipelines() {
		c := pl.Config
		if c.RetentionDays == nil && c.RetentionColumn == "" {
			continue
		}
		p, ok := layers[strings.ToLower(pl.ID.Layer)]
		if !ok {
			p = lake.RetentionPolicy{Days: -1}
		}
		p.Layer, p.Table = "", pl.ID
		if c.RetentionDays != nil {
			p.Days, p.From = *c.RetentionDays, c.RetentionFrom
		}
		if c.RetentionColumn != "" {
			p.Column, p.ColumnFrom = c.RetentionColumn, c.RetentionColumnFrom
		}
		if p.Days < 0 {
			continue // a column without days anywhere: nothing is deleted
		}
		out = append(out, p)
	}
	return out
}
