package docs

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/workspace"
)

// page renders one pipeline's page: what it is, its columns, tests, rules,
// source and direct neighbourhood.
func page(ws *workspace.Workspace, p *workspace.Pipeline, columns func(rat.TableID) ([]ColumnInfo, bool)) string {
	var b strings.Builder
	c := p.Config
	fmt.Fprintf(&b, "# %s\n\n", p.ID)
	fmt.Fprintf(&b, "[← all pipelines](../%s)\n\n", ReadmeFile)
	if d := strings.TrimSpace(c.Description); d != "" {
		b.WriteString(d + "\n\n")
	}
	b.WriteString(details(p))

	table, inCatalog := columns(p.ID)
	b.WriteString("## Columns\n\n")
	b.WriteString(columnsTable(c.Columns, table, inCatalog, c.Materialized == workspace.View))

	b.WriteString(testsSection(p))
	if len(c.Documentation.Rules) > 0 {
		b.WriteString("## Business rules\n\n| Rule | Description | SQL |\n|---|---|---|\n")
		for _, r := range c.Documentation.Rules {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(r.Name), cell(r.Description), code(r.SQL))
		}
		b.WriteString("\n")
	}

	b.WriteString("## Lineage\n\n")
	b.WriteString(neighbourhood(ws, p))

	b.WriteString("## Source\n\n")
	fmt.Fprintf(&b, "`%s`\n\n", p.File)
	b.WriteString(fenced("sql", p.SQL))
	return b.String()
}

// details is the table of a pipeline's settings; rows whose setting is not
// given are left out.
func details(p *workspace.Pipeline) string {
	c := p.Config
	rows := [][2]string{
		{"Owner", cell(owner(c.Owner))},
		{"Materialization", cell(materialization(c))},
		{"Unique key", codes(c.UniqueKey)},
	}
	var parts []string
	for _, pt := range c.PartitionBy {
		parts = append(parts, pt.String())
	}
	rows = append(rows, [2]string{"Partitioned by", codes(parts)})
	if c.Materialized == workspace.Incremental {
		rows = append(rows,
			[2]string{"Merge strategy", cell(string(c.MergeStrategy))},
			[2]string{"Watermark", code(c.WatermarkColumn)})
	}
	if c.OnSchemaChange != "" && c.OnSchemaChange != workspace.OnSchemaChangeFail {
		rows = append(rows, [2]string{"On schema change", cell(c.OnSchemaChange)})
	}
	rows = append(rows,
		[2]string{"Tags", codes(c.Tags)},
		[2]string{"Aliases", codes(p.Aliases)},
		[2]string{"Freshness", cell(freshness(c.Freshness))},
		[2]string{"Triggers", cell(triggers(c.Triggers))},
		[2]string{"Reads", codes(reads(p))},
		[2]string{"Source", code(p.File)},
		[2]string{"Settings", code(p.ConfigFile)},
	)
	var b strings.Builder
	b.WriteString("| | |\n|---|---|\n")
	for _, r := range rows {
		if r[1] != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", r[0], r[1])
		}
	}
	b.WriteString("\n")
	return b.String()
}

// owner lists every contact detail of an owner.
func owner(o workspace.Owner) string {
	var parts []string
	for _, s := range []string{o.Name, o.Team, o.Email, o.Slack} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

func freshness(f workspace.Freshness) string {
	var parts []string
	if f.WarnAfter > 0 {
		parts = append(parts, "warn after "+duration(f.WarnAfter))
	}
	if f.ErrorAfter > 0 {
		parts = append(parts, "error after "+duration(f.ErrorAfter))
	}
	return strings.Join(parts, ", ")
}

// duration writes a duration the way freshness settings are thought of:
// 1d 12h, 6h, 30m.
func duration(d time.Duration) string {
	var parts []string
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.unit
		}
	}
	if len(parts) == 0 {
		return d.String()
	}
	return strings.Join(parts, " ")
}

// triggers lists trigger types with their scalar settings, sorted by key.
func triggers(ts []workspace.Trigger) string {
	var out []string
	for _, t := range ts {
		var kv []string
		for k, v := range t.Raw {
			switch v.(type) {
			case map[string]any, []any:
				continue
			}
			if k != "type" {
				kv = append(kv, fmt.Sprintf("%s: %v", k, v))
			}
		}
		sort.Strings(kv)
		s := t.Type
		if len(kv) > 0 {
			s += " (" + strings.Join(kv, ", ") + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

// reads lists what the pipeline reads: tables and landing zones.
func reads(p *workspace.Pipeline) []string {
	var out []string
	for _, r := range p.Refs {
		out = append(out, r.String())
	}
	for _, z := range p.Landings {
		out = append(out, "landing:"+z)
	}
	return out
}

// Markers of columns found in one source only.
const (
	markYAMLOnly  = "*(YAML only)*"
	markTableOnly = "*(table only)*"
)

// columnsTable merges the YAML's columns with the table's real schema: the
// table's columns in its order, then those the YAML documents and the table
// lacks. Types come from the table when it exists, from the YAML otherwise.
// A view stores no schema, so its columns are the YAML's.
func columnsTable(yaml []workspace.Column, table []ColumnInfo, inCatalog, view bool) string {
	var b strings.Builder
	if len(yaml) == 0 && len(table) == 0 {
		switch {
		case inCatalog:
			b.WriteString("The table has no columns.\n\n")
		case view:
			b.WriteString("No columns documented: a view stores only its SQL (below), so list the columns under `columns:` in the pipeline's YAML to document them.\n\n")
		default:
			b.WriteString("No columns documented, and the table is not in the catalog yet: run `rat run`, or list the columns under `columns:` in the pipeline's YAML.\n\n")
		}
		return b.String()
	}
	documented := map[string]workspace.Column{}
	for _, c := range yaml {
		documented[strings.ToLower(c.Name)] = c
	}
	type row struct {
		name, typ, mark string
		doc             *workspace.Column
	}
	var rows []row
	seen := map[string]bool{}
	for _, t := range table {
		r := row{name: t.Name, typ: t.Type}
		if c, ok := documented[strings.ToLower(t.Name)]; ok {
			r.doc = &c
		} else if len(yaml) > 0 {
			r.mark = markTableOnly
		}
		seen[strings.ToLower(t.Name)] = true
		rows = append(rows, r)
	}
	for _, c := range yaml {
		if seen[strings.ToLower(c.Name)] {
			continue
		}
		c := c
		r := row{name: c.Name, typ: c.Type, doc: &c}
		if inCatalog {
			r.mark = markYAMLOnly
		}
		rows = append(rows, r)
	}

	b.WriteString("| Column | Type | Description | PII | Tests |\n|---|---|---|---|---|\n")
	marked := false
	for _, r := range rows {
		name := code(r.name)
		if r.mark != "" {
			name += " " + r.mark
			marked = true
		}
		var desc, pii, tests string
		if r.doc != nil {
			desc = cell(r.doc.Description)
			if r.doc.Example != "" {
				desc = strings.TrimSpace(desc + " Example: " + code(r.doc.Example))
			}
			if r.doc.PII {
				pii = "yes"
				if r.doc.PIIType != "" {
					pii += " (" + cell(r.doc.PIIType) + ")"
				}
			}
			tests = columnTests(r.doc.Tests)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", name, code(r.typ), desc, pii, tests)
	}
	b.WriteString("\n")
	switch {
	case view:
		b.WriteString("Types are the YAML's: a view stores only its SQL.\n\n")
	case !inCatalog:
		b.WriteString("The table is not in the catalog yet: types are the YAML's.\n\n")
	case marked:
		fmt.Fprintf(&b, "%s: documented in the YAML but not in the table; %s: in the table but not documented in the YAML.\n\n", markYAMLOnly, markTableOnly)
	}
	return b.String()
}

// columnTests writes a column's tests the way the YAML declares them.
func columnTests(ts []workspace.ColumnTest) string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		s := t.Kind
		switch t.Kind {
		case workspace.AcceptedValues:
			vals := make([]string, len(t.Values))
			for i, v := range t.Values {
				vals[i] = fmt.Sprint(v)
			}
			s += " (" + strings.Join(vals, ", ") + ")"
		case workspace.Relationships:
			s += " → " + t.To.String()
			if t.Field != "" {
				s += "." + t.Field
			}
		}
		out = append(out, cell(s))
	}
	return strings.Join(out, ", ")
}

// testsSection lists the pipeline's quality, custom (YAML) and unit tests.
func testsSection(p *workspace.Pipeline) string {
	if len(p.QualityTests) == 0 && len(p.Config.Tests) == 0 && len(p.UnitTests) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## Tests\n\n")
	if len(p.QualityTests) > 0 {
		qs := append([]*workspace.QualityTest(nil), p.QualityTests...)
		sort.SliceStable(qs, func(i, j int) bool { return qs[i].Name < qs[j].Name })
		b.WriteString("### Quality tests\n\n| Test | Severity | Description | File |\n|---|---|---|---|\n")
		for _, t := range qs {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(t.Name), severity(t.Severity), cell(t.Description), code(t.File))
		}
		b.WriteString("\n")
	}
	if len(p.Config.Tests) > 0 {
		b.WriteString("### Custom tests\n\n| Test | Severity | Expects | SQL |\n|---|---|---|---|\n")
		for _, t := range p.Config.Tests {
			expect := "no rows"
			if t.Expect != nil {
				expect = fmt.Sprintf("returns %d", *t.Expect)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(t.Name), severity(t.Severity), expect, code(strings.TrimSpace(t.SQL)))
		}
		b.WriteString("\n")
	}
	if len(p.UnitTests) > 0 {
		us := append([]*workspace.UnitTest(nil), p.UnitTests...)
		sort.SliceStable(us, func(i, j int) bool { return us[i].Name < us[j].Name })
		b.WriteString("### Unit tests\n\n| Test | Mode | Severity | Description | File |\n|---|---|---|---|---|\n")
		for _, t := range us {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(t.Name), cell(t.Mode), severity(t.Severity), cell(t.Description), code(t.File))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// severity names a test's severity; unset means error.
func severity(s workspace.Severity) string {
	if s == "" {
		return string(workspace.SeverityError)
	}
	return cell(string(s))
}

// neighbourhood draws the pipeline with what it reads and what reads it,
// one level each way, and lists the same as links.
func neighbourhood(ws *workspace.Workspace, p *workspace.Pipeline) string {
	used := map[string]bool{}
	self := mermaidID(p.ID.String(), used)
	var g, links strings.Builder
	g.WriteString("flowchart LR\n")
	fmt.Fprintf(&g, "  %s[%s]\n", self, mermaidLabel(p.ID.String()))
	var clicks []string
	var ups, downs []string
	isPipeline := func(id rat.TableID) bool { _, err := ws.Get(id); return err == nil }
	for _, r := range p.Refs {
		id := mermaidID(r.String(), used)
		if isPipeline(r) {
			fmt.Fprintf(&g, "  %s[%s] --> %s\n", id, mermaidLabel(r.String()), self)
			clicks = append(clicks, fmt.Sprintf("  click %s %q\n", id, relLink(p.ID, r)))
			ups = append(ups, link(r.String(), relLink(p.ID, r)))
		} else {
			fmt.Fprintf(&g, "  %s[(%s)] --> %s\n", id, mermaidLabel(r.String()), self)
			ups = append(ups, code(r.String())+" (catalog table)")
		}
	}
	for _, z := range p.Landings {
		id := mermaidID("landing:"+z, used)
		fmt.Fprintf(&g, "  %s[/%s/] --> %s\n", id, mermaidLabel("landing: "+z), self)
		ups = append(ups, code(z)+" (landing zone)")
	}
	for _, d := range ws.Downstream(p.ID) {
		id := mermaidID(d.ID.String(), used)
		fmt.Fprintf(&g, "  %s --> %s[%s]\n", self, id, mermaidLabel(d.ID.String()))
		clicks = append(clicks, fmt.Sprintf("  click %s %q\n", id, relLink(p.ID, d.ID)))
		downs = append(downs, link(d.ID.String(), relLink(p.ID, d.ID)))
	}
	for _, c := range clicks {
		g.WriteString(c)
	}
	fmt.Fprintf(&g, "  style %s stroke-width:3px\n", self)

	list := func(what string, items []string) {
		if len(items) == 0 {
			items = []string{"none"}
		}
		fmt.Fprintf(&links, "- %s: %s\n", what, strings.Join(items, ", "))
	}
	list("Reads", ups)
	list("Read by", downs)
	return mermaidBlock(g.String()) + links.String() + "\n"
}
