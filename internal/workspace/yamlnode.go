package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"gopkg.in/yaml.v3"
)

// yamlDoc reads one YAML file as a node tree, so that every value keeps its
// line and every key can be checked against the keys its place allows.
type yamlDoc struct {
	file string // workspace-relative path, for messages
}

// parse returns the root value node, or nil for an empty document.
func (d yamlDoc) parse(data []byte) (*yaml.Node, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if n, tail, ok := strings.Cut(rest, ":"); ok {
				return nil, rat.Errorf(rat.EINVALID, "%s:%s: %s: fix the YAML syntax", d.file, n, strings.TrimSpace(tail))
			}
		}
		return nil, rat.Errorf(rat.EINVALID, "%s: %s: fix the YAML syntax", d.file, msg)
	}
	if len(root.Content) == 0 {
		return nil, nil
	}
	return resolveAlias(root.Content[0]), nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolveAlias(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// errorf words an error at node n: "file:line: path: message".
func (d yamlDoc) errorf(n *yaml.Node, path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	return rat.Errorf(rat.EINVALID, "%s:%d: %s", d.file, n.Line, msg)
}

// mapping walks the keys of a mapping node. Every key must be in keys; an
// unknown key is an error naming the key path and the closest valid key.
// Keys whose value is null are skipped: an empty key means "not set".
func (d yamlDoc) mapping(n *yaml.Node, path string, keys []string, fn func(key string, k, v *yaml.Node) error) error {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "want a mapping with keys %s, got %s", strings.Join(keys, ", "), describeNode(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		key := k.Value
		full := joinPath(path, key)
		if !contains(keys, key) {
			hint := ""
			if best := rat.Closest(key, keys); best != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", joinPath(path, best))
			} else {
				hint = " (valid keys here: " + strings.Join(keys, ", ") + ")"
			}
			return rat.Errorf(rat.EINVALID, "%s:%d: unknown key %q%s: remove it or fix the spelling", d.file, k.Line, full, hint)
		}
		if line, dup := seen[key]; dup {
			return rat.Errorf(rat.EINVALID, "%s:%d: key %q is given twice (first at line %d): keep one", d.file, k.Line, full, line)
		}
		seen[key] = k.Line
		if isNull(v) {
			continue
		}
		if err := fn(key, k, v); err != nil {
			return err
		}
	}
	return nil
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// describeNode words what a node holds, for "want X, got Y" messages.
var describeNode = config.DescribeNode

// str reads a scalar as text.
func (d yamlDoc) str(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", d.errorf(n, path, "want text, got %s", describeNode(n))
	}
	return n.Value, nil
}

// strList reads a list of scalars, or one scalar holding "a, b".
func (d yamlDoc) strList(n *yaml.Node, path string) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return splitList(n.Value), nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for i, item := range n.Content {
			item = resolveAlias(item)
			s, err := d.str(item, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, d.errorf(n, path, "want a list of names, got %s", describeNode(n))
}

// seq returns the items of a sequence node.
func (d yamlDoc) seq(n *yaml.Node, path string) ([]*yaml.Node, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, d.errorf(n, path, "want a list, got %s", describeNode(n))
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, item := range n.Content {
		items[i] = resolveAlias(item)
	}
	return items, nil
}

// integer reads a whole number that is at least min.
func (d yamlDoc) integer(n *yaml.Node, path string, min int) (int, error) {
	var v int
	if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
		return 0, d.errorf(n, path, "want a whole number, got %s", describeNode(n))
	}
	if v < min {
		return 0, d.errorf(n, path, "want %d or more, got %d", min, v)
	}
	return v, nil
}

// number reads any non-negative number.
func (d yamlDoc) number(n *yaml.Node, path string) (float64, error) {
	var v float64
	if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, d.errorf(n, path, "want a number, got %s", describeNode(n))
	}
	if v < 0 {
		return 0, d.errorf(n, path, "want 0 or more, got %v", v)
	}
	return v, nil
}

// boolean reads true or false.
func (d yamlDoc) boolean(n *yaml.Node, path string) (bool, error) {
	var v bool
	if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
		return false, d.errorf(n, path, "want true or false, got %s", describeNode(n))
	}
	return v, nil
}

// value decodes any node into plain Go values (maps, lists, scalars).
func (d yamlDoc) value(n *yaml.Node, path string) (any, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, d.errorf(n, path, "%v", err)
	}
	return v, nil
}

// duration reads a duration: a number of seconds or a Go duration ("30s", "5m").
func (d yamlDoc) duration(n *yaml.Node, path string) (time.Duration, error) {
	if n.Kind == yaml.ScalarNode {
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && f >= 0 {
			return time.Duration(f * float64(time.Second)), nil
		}
		if dur, err := time.ParseDuration(n.Value); err == nil && dur >= 0 {
			return dur, nil
		}
	}
	return 0, d.errorf(n, path, "want a duration such as 30s, 5m or a number of seconds, got %s", describeNode(n))
}

// oneOf reads a scalar that must be one of allowed.
func (d yamlDoc) oneOf(n *yaml.Node, path string, allowed []string) (string, error) {
	s, err := d.str(n, path)
	if err != nil {
		return "", err
	}
	if !contains(allowed, s) {
		return "", d.errorf(n, path, "%q is not allowed%s: use one of %s", s, didYouMean(s, allowed), strings.Join(allowed, ", "))
	}
	return s, nil
}

// didYouMean returns ` (did you mean "x"?)` for a close candidate, or "".
func didYouMean(s string, candidates []string) string {
	if best := rat.Closest(s, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// splitList splits "a, b", "[a, b]" or "['a', \"b\"]" into names.
func splitList(s string) []string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.Trim(strings.TrimSpace(part), `'"`)
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}
