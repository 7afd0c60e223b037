package workspace

import (
	"fmt"
	"github.com/ratdata/rat/internal/trigger"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"gopkg.in/yaml.v3"
)

// Keys a pipeline's YAML file may hold.
var pipelineKeys = []string{
	"description", "owner", "materialized", "unique_key", "partition_by", "merge_strategy",
	"watermark_column", "on_schema_change", "tags", "columns", "freshness", "tests", "triggers",
	"documentation", "retries", "retry_delay", "on_bad_rows", "vars", "overlap",
	"retention_days", "retention_column",
	"sort_by",
}

var (
	materializations = []string{string(Table), string(View), string(Incremental)}
	mergeStrategies  = []string{string(Merge), string(Append), string(DeleteInsert)}
	schemaPolicies   = []string{OnSchemaChangeFail, OnSchemaChangeAppend}
	badRowPolicies   = []string{OnBadRowsReject, OnBadRowsQuarantine}
	overlapPolicies  = []string{OverlapQueue, OverlapSkip}
	severities       = []string{string(SeverityError), string(SeverityWarn)}
	triggerTypes     = []string{"schedule", "landing", "webhook", "after", "freshness", "s3_sensor"}
	columnTestKinds  = []string{NotNull, Unique, Positive, AcceptedValues, Relationships}
	partitionForm    = regexp.MustCompile(`^([A-Za-z_]+)\s*\(\s*(?:(-?\d+)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)$`)
	partitionXforms  = []string{"identity", "year", "month", "day", "hour"}
	partitionWidths  = []string{"bucket", "truncate"}
)

// place is where a setting was given.
type place struct {
	file string
	line int
}

func (p place) String() string { return fmt.Sprintf("%s:%d", p.file, p.line) }

// yamlConfig is a pipeline YAML file parsed: the settings and where each
// top-level key was given.
type yamlConfig struct {
	cfg   Config
	lines map[string]int
	rels  []pendingRel // relationships targets, resolved once all pipelines are known
}

// pendingRel is a relationships test whose target is resolved later.
type pendingRel struct {
	column, test int
	name         string
	line         int
}

// parsePipelineYAML parses a pipeline's YAML strictly.
func parsePipelineYAML(file string, data []byte) (*yamlConfig, error) {
	d := yamlDoc{file: file}
	y := &yamlConfig{lines: map[string]int{}}
	root, err := d.parse(data)
	if err != nil || root == nil {
		return y, err
	}
	c := &y.cfg
	err = d.mapping(root, "", pipelineKeys, func(key string, k, v *yaml.Node) error {
		y.lines[key] = k.Line
		var err error
		switch key {
		case "description":
			c.Description, err = d.str(v, key)
		case "owner":
			c.Owner, err = d.owner(v)
		case "materialized":
			var s string
			s, err = d.oneOf(v, key, materializations)
			c.Materialized = Materialization(s)
		case "unique_key":
			c.UniqueKey, err = d.strList(v, key)
		case "partition_by":
			var list []string
			if list, err = d.strList(v, key); err == nil {
				c.PartitionBy, err = parsePartitions(list)
				if err != nil {
					err = d.errorf(v, key, "%v", err)
				}
			}
		case "merge_strategy":
			var s string
			s, err = d.oneOf(v, key, mergeStrategies)
			c.MergeStrategy = MergeStrategy(s)
		case "sort_by":
			c.SortBy, err = d.strList(v, key)
		case "watermark_column":
			c.WatermarkColumn, err = d.str(v, key)
		case "on_schema_change":
			c.OnSchemaChange, err = d.oneOf(v, key, schemaPolicies)
		case "tags":
			c.Tags, err = d.strList(v, key)
		case "columns":
			c.Columns, y.rels, err = d.columns(v)
		case "freshness":
			c.Freshness, err = d.freshness(v)
		case "tests":
			c.Tests, err = d.customTests(v)
		case "triggers":
			c.Triggers, err = d.triggers(v)
		case "documentation":
			c.Documentation, err = d.documentation(v)
		case "retries":
			c.Retries, err = d.integer(v, key, 0)
		case "retry_delay":
			c.RetryDelay, err = d.duration(v, key)
		case "on_bad_rows":
			c.OnBadRows, err = d.oneOf(v, key, badRowPolicies)
		case "overlap":
			c.Overlap, err = d.oneOf(v, key, overlapPolicies)
		case "retention_days":
			if v.Tag != "!!null" {
				var n int
				n, err = d.integer(v, key, 0)
				c.RetentionDays = &n
			}
		case "retention_column":
			c.RetentionColumn, err = d.str(v, key)
		case "vars":
			if v.Kind != yaml.MappingNode {
				return d.errorf(v, key, "want a mapping of names to values, got %s", describeNode(v))
			}
			var vars any
			if vars, err = d.value(v, key); err == nil {
				c.Vars, _ = vars.(map[string]any)
			}
		}
		return err
	})
	// A freshness trigger is the freshness policy written as a trigger;
	// the freshness key wins where both set a threshold.
	for _, t := range c.Triggers {
		if t.Type != "freshness" {
			continue
		}
		if c.Freshness.WarnAfter == 0 {
			c.Freshness.WarnAfter = t.Freshness.WarnAfter
		}
		if c.Freshness.ErrorAfter == 0 {
			c.Freshness.ErrorAfter = t.Freshness.ErrorAfter
		}
	}
	return y, err
}

func (d yamlDoc) owner(v *yaml.Node) (Owner, error) {
	if v.Kind == yaml.ScalarNode {
		return Owner{Name: v.Value}, nil
	}
	var o Owner
	err := d.mapping(v, "owner", []string{"team", "email", "slack"}, func(key string, _, v *yaml.Node) error {
		s, err := d.str(v, "owner."+key)
		switch key {
		case "team":
			o.Team = s
		case "email":
			o.Email = s
		case "slack":
			o.Slack = s
		}
		return err
	})
	return o, err
}

func (d yamlDoc) freshness(v *yaml.Node) (Freshness, error) {
	var f Freshness
	err := d.mapping(v, "freshness", []string{"warn_after", "error_after"}, func(key string, _, v *yaml.Node) error {
		dur, err := d.period(v, "freshness."+key)
		if key == "warn_after" {
			f.WarnAfter = dur
		} else {
			f.ErrorAfter = dur
		}
		return err
	})
	return f, err
}

// period reads {hours: N} (and minutes/days, as the original accepts), or a
// plain number of hours.
func (d yamlDoc) period(v *yaml.Node, path string) (time.Duration, error) {
	if v.Kind == yaml.ScalarNode {
		h, err := d.number(v, path)
		return time.Duration(h * float64(time.Hour)), err
	}
	var total time.Duration
	unit := map[string]time.Duration{"minutes": time.Minute, "hours": time.Hour, "days": 24 * time.Hour}
	err := d.mapping(v, path, []string{"minutes", "hours", "days"}, func(key string, _, v *yaml.Node) error {
		n, err := d.number(v, path+"."+key)
		total += time.Duration(n * float64(unit[key]))
		return err
	})
	return total, err
}

func (d yamlDoc) triggers(v *yaml.Node) ([]Trigger, error) {
	items, err := d.seq(v, "triggers")
	if err != nil {
		return nil, err
	}
	var out []Trigger
	seen := map[string]int{} // trigger name -> index in out
	for i, item := range items {
		path := fmt.Sprintf("triggers[%d]", i)
		if item.Kind != yaml.MappingNode {
			return nil, d.errorf(item, path, "want a mapping with a type (one of %s), got %s", strings.Join(triggerTypes, ", "), describeNode(item))
		}
		raw, err := d.value(item, path)
		if err != nil {
			return nil, err
		}
		m, _ := raw.(map[string]any)
		t, _ := m["type"].(string)
		if t == "" {
			return nil, d.errorf(item, path, "missing type: add type: with one of %s", strings.Join(triggerTypes, ", "))
		}
		if !contains(triggerTypes, t) {
			return nil, d.errorf(item, path+".type", "unknown trigger type %q%s: use one of %s", t, didYouMean(t, triggerTypes), strings.Join(triggerTypes, ", "))
		}
		if t == "s3_sensor" {
			t = "landing"
		}
		tr := Trigger{Type: t, Raw: m, Line: item.Line}
		// Mistakes in schedules and after triggers show at load, with
		// their place, not only in the scheduler's log.
		switch t {
		case "schedule":
			if _, err := trigger.ParseSchedule(m, fmt.Sprintf("%s:%d: %s", d.file, item.Line, path)); err != nil {
				return nil, err
			}
		case "after":
			if _, err := trigger.ParseAfter(m, fmt.Sprintf("%s:%d: %s", d.file, item.Line, path)); err != nil {
				return nil, err
			}
		}
		if t == "freshness" {
			err := d.mapping(item, path, []string{"type", "name", "warn_after", "error_after"}, func(key string, _, v *yaml.Node) error {
				if key == "type" || key == "name" {
					return nil
				}
				dur, err := d.period(v, path+"."+key)
				if key == "warn_after" {
					tr.Freshness.WarnAfter = dur
				} else {
					tr.Freshness.ErrorAfter = dur
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			if tr.Freshness == (Freshness{}) {
				return nil, d.errorf(item, path, "a freshness trigger needs warn_after or error_after, like warn_after: {hours: 6}")
			}
		}
		if tr.Name, err = trigger.Name(t, m, fmt.Sprintf("%s:%d: %s", d.file, item.Line, path)); err != nil {
			return nil, err
		}
		if j, dup := seen[tr.Name]; dup {
			if _, named := m["name"]; named {
				return nil, d.errorf(item, path+".name", "triggers[%d] (line %d) is named %s too: give each trigger its own name", j, out[j].Line, tr.Name)
			}
			return nil, d.errorf(item, path, "the same trigger as triggers[%d] (line %d): it would fire twice; remove one, or give them different name: keys", j, out[j].Line)
		}
		seen[tr.Name] = len(out)
		out = append(out, tr)
	}
	return out, nil
}

func (d yamlDoc) documentation(v *yaml.Node) (Documentation, error) {
	var doc Documentation
	err := d.mapping(v, "documentation", []string{"tags", "rules"}, func(key string, _, v *yaml.Node) error {
		if key == "tags" {
			var err error
			doc.Tags, err = d.strList(v, "documentation.tags")
			return err
		}
		items, err := d.seq(v, "documentation.rules")
		if err != nil {
			return err
		}
		for i, item := range items {
			var r Rule
			path := fmt.Sprintf("documentation.rules[%d]", i)
			err := d.mapping(item, path, []string{"name", "description", "sql"}, func(key string, _, v *yaml.Node) error {
				s, err := d.str(v, path+"."+key)
				switch key {
				case "name":
					r.Name = s
				case "description":
					r.Description = s
				case "sql":
					r.SQL = s
				}
				return err
			})
			if err != nil {
				return err
			}
			doc.Rules = append(doc.Rules, r)
		}
		return nil
	})
	return doc, err
}

// parsePartitions reads partition_by entries: col, year(col), month(col),
// day(col), hour(col), bucket(n, col), truncate(width, col).
func parsePartitions(list []string) ([]Partition, error) {
	var out []Partition
	seen := map[string]bool{}
	for _, s := range config.JoinParens(list) {
		s = strings.TrimSpace(s)
		var p Partition
		if identPart(s) {
			p = Partition{Column: strings.ToLower(s), Transform: "identity"}
		} else {
			m := partitionForm.FindStringSubmatch(s)
			if m == nil {
				return nil, fmt.Errorf("partition %q: %s", s, partitionForms)
			}
			p = Partition{Column: strings.ToLower(m[3]), Transform: strings.ToLower(m[1])}
			switch {
			case contains(partitionXforms, p.Transform) && m[2] == "":
			case contains(partitionWidths, p.Transform) && m[2] != "":
				n, err := strconv.Atoi(m[2])
				if err != nil || n <= 0 {
					return nil, fmt.Errorf("partition %q: %s(n, col) needs n above 0", s, p.Transform)
				}
				p.Param = n
			case contains(partitionWidths, p.Transform):
				return nil, fmt.Errorf("partition %q: %s needs a number first: %s(n, %s)", s, p.Transform, p.Transform, p.Column)
			case contains(partitionXforms, p.Transform):
				return nil, fmt.Errorf("partition %q: %s takes only the column: %s(%s)", s, p.Transform, p.Transform, p.Column)
			default:
				return nil, fmt.Errorf("partition %q: transform %q is not one Iceberg defines%s; %s", s, m[1], didYouMean(p.Transform, append(partitionXforms, partitionWidths...)), partitionForms)
			}
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("partition %q is given twice", s)
		}
		seen[p.String()] = true
		out = append(out, p)
	}
	return out, nil
}

const partitionForms = "want a column name, year(col), month(col), day(col), hour(col), bucket(n, col) or truncate(width, col)"

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func identPart(s string) bool { return identRE.MatchString(s) }

// pipelineAnnotations are the header annotations a pipeline's SQL may carry.
var pipelineAnnotations = []string{
	"name", "materialized", "unique_key", "partition_by", "owner", "description",
	"merge_strategy", "watermark_column", "tags", "on_schema_change",
	"sort_by",
}

// mergeConfig overlays the SQL annotations on the YAML settings. An
// annotation wins over the YAML; when both are given and differ, a warning
// names both places.
func (l *loader) mergeConfig(p *Pipeline, annots []annotation, y *yamlConfig) (Config, map[string]place, error) {
	c := y.cfg
	src := map[string]place{}
	for k, line := range y.lines {
		src[k] = place{p.ConfigFile, line}
	}
	var annTags []string
	for _, a := range annots {
		at := place{p.File, a.Line}
		fail := func(format string, args ...any) error {
			return rat.Errorf(rat.EINVALID, "%s: @%s: %s", at, a.Key, fmt.Sprintf(format, args...))
		}
		if a.Value == "" {
			continue // "-- @owner:" with nothing after it sets nothing
		}
		var yamlText, annText string
		switch a.Key {
		case "name":
			continue // an alias, handled by the loader
		case "description":
			yamlText, annText = c.Description, a.Value
			c.Description = a.Value
		case "owner":
			yamlText, annText = c.Owner.String(), a.Value
			c.Owner.Name = a.Value
		case "materialized":
			if !contains(materializations, a.Value) {
				return c, nil, fail("%q is not allowed%s: use one of %s", a.Value, didYouMean(a.Value, materializations), strings.Join(materializations, ", "))
			}
			yamlText, annText = string(c.Materialized), a.Value
			c.Materialized = Materialization(a.Value)
		case "merge_strategy":
			if !contains(mergeStrategies, a.Value) {
				return c, nil, fail("%q is not allowed%s: use one of %s", a.Value, didYouMean(a.Value, mergeStrategies), strings.Join(mergeStrategies, ", "))
			}
			yamlText, annText = string(c.MergeStrategy), a.Value
			c.MergeStrategy = MergeStrategy(a.Value)
		case "on_schema_change":
			if !contains(schemaPolicies, a.Value) {
				return c, nil, fail("%q is not allowed%s: use one of %s", a.Value, didYouMean(a.Value, schemaPolicies), strings.Join(schemaPolicies, ", "))
			}
			yamlText, annText = c.OnSchemaChange, a.Value
			c.OnSchemaChange = a.Value
		case "watermark_column":
			yamlText, annText = c.WatermarkColumn, a.Value
			c.WatermarkColumn = a.Value
		case "unique_key":
			list := splitList(a.Value)
			yamlText, annText = strings.Join(c.UniqueKey, ", "), strings.Join(list, ", ")
			c.UniqueKey = list
		case "sort_by":
			list := splitList(a.Value)
			yamlText, annText = strings.Join(c.SortBy, ", "), strings.Join(list, ", ")
			c.SortBy = list
		case "partition_by":
			parts, err := parsePartitions(splitList(a.Value))
			if err != nil {
				return c, nil, fail("%v", err)
			}
			yamlText, annText = partitionText(c.PartitionBy), partitionText(parts)
			c.PartitionBy = parts
		case "tags":
			annTags = append(annTags, splitList(a.Value)...)
			continue // tags add up: no contradiction
		}
		if prev, ok := src[a.Key]; ok && prev.file == p.ConfigFile && !strings.EqualFold(strings.TrimSpace(yamlText), strings.TrimSpace(annText)) {
			l.warn(p.File, a.Line, "@%s: %q here contradicts %s: %q in %s; the annotation wins (remove one of them)",
				a.Key, annText, a.Key, yamlText, prev)
		}
		src[a.Key] = at
	}
	c.Tags = sortedUnique(append(append(annTags, c.Tags...), c.Documentation.Tags...))
	return c, src, nil
}

func partitionText(parts []Partition) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// validateConfig fills defaults and checks the combination of settings.
func validateConfig(c *Config, src map[string]place, file string) error {
	at := func(key string) string {
		if p, ok := src[key]; ok {
			return p.String()
		}
		return file
	}
	if c.Materialized == "" {
		c.Materialized = Table
	}
	if c.OnSchemaChange == "" {
		c.OnSchemaChange = OnSchemaChangeFail
	}
	if c.OnBadRows == "" {
		c.OnBadRows = OnBadRowsReject
	}
	if c.Overlap == "" {
		c.Overlap = OverlapQueue
	}
	for i, k := range c.UniqueKey {
		if !identPart(k) {
			return rat.Errorf(rat.EINVALID, "%s: unique_key: %q is not a column name: use letters, digits and _, starting with a letter or _", at("unique_key"), k)
		}
		c.UniqueKey[i] = strings.ToLower(k)
	}
	if c.RetentionColumn != "" {
		if !identPart(c.RetentionColumn) {
			return rat.Errorf(rat.EINVALID, "%s: retention_column: %q is not a column name: use letters, digits and _, starting with a letter or _", at("retention_column"), c.RetentionColumn)
		}
		c.RetentionColumn = strings.ToLower(c.RetentionColumn)
	}
	for i, k := range c.SortBy {
		if !identPart(k) {
			return rat.Errorf(rat.EINVALID, "%s: sort_by: %q is not a column name: use letters, digits and _, starting with a letter or _", at("sort_by"), k)
		}
		c.SortBy[i] = strings.ToLower(k)
	}
	if c.WatermarkColumn != "" {
		if !identPart(c.WatermarkColumn) {
			return rat.Errorf(rat.EINVALID, "%s: watermark_column: %q is not a column name: use letters, digits and _, starting with a letter or _", at("watermark_column"), c.WatermarkColumn)
		}
		c.WatermarkColumn = strings.ToLower(c.WatermarkColumn)
	}
	if c.Materialized != Incremental {
		return nil
	}
	if c.MergeStrategy == "" {
		c.MergeStrategy = Append
		if len(c.UniqueKey) > 0 {
			c.MergeStrategy = Merge
		}
	}
	switch {
	case c.MergeStrategy == Merge && len(c.UniqueKey) == 0:
		return rat.Errorf(rat.EINVALID, "%s: merge_strategy merge needs a unique_key: add -- @unique_key: <column> (or unique_key: in the YAML), or use merge_strategy append", at("merge_strategy"))
	case c.MergeStrategy == DeleteInsert && len(c.UniqueKey) == 0 && len(c.PartitionBy) == 0:
		return rat.Errorf(rat.EINVALID, "%s: merge_strategy delete_insert needs a unique_key or a partition_by to know which rows to replace: add -- @unique_key: <column> or -- @partition_by: <column>", at("merge_strategy"))
	}
	return nil
}
