package trigger

import (
	"slices"
	"sort"
	"strings"

	"github.com/ratdata/rat"
)

// ParseAfter reads an after trigger, {type: after, pipelines: [a, b]}: the
// pipeline runs once a run that built any of the listed pipelines has
// succeeded.
func ParseAfter(raw map[string]any, where string) ([]string, error) {
	for k := range raw {
		if k != "type" && k != "pipelines" && k != "name" {
			return nil, rat.Errorf(rat.EINVALID, "%s: unknown key %q in an after trigger: want pipelines: [layer.name, ...] (and optionally name:)", where, k)
		}
	}
	list, _ := raw["pipelines"].([]any)
	if len(list) == 0 {
		return nil, rat.Errorf(rat.EINVALID, "%s: an after trigger needs pipelines: [layer.name, ...], the pipelines whose success starts this one", where)
	}
	out := make([]string, 0, len(list))
	for i, v := range list {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, rat.Errorf(rat.EINVALID, "%s: pipelines[%d]: want a pipeline name like silver.orders, got %v", where, i, v)
		}
		out = append(out, strings.ToLower(s))
	}
	return out, nil
}

// Followers returns, sorted, the pipelines to start after a run: those
// with an after trigger that lists a pipeline the run built, and that the run
// did not build itself. after maps each pipeline to the pipelines its after
// triggers list. Pipelines on a cycle of after triggers never start that
// way (they would start each other forever); they are returned in cyclic,
// for the caller to report.
func Followers(after map[string][]string, built []string) (start, cyclic []string) {
	onCycle := cycles(after)
	for f, ups := range after {
		if slices.Contains(built, f) {
			continue
		}
		for _, u := range ups {
			if slices.Contains(built, u) {
				if onCycle[f] {
					cyclic = append(cyclic, f)
				} else {
					start = append(start, f)
				}
				break
			}
		}
	}
	sort.Strings(start)
	sort.Strings(cyclic)
	return start, cyclic
}

// cycles marks the pipelines that can reach themselves through after
// triggers (edges from a follower to the pipelines it lists).
func cycles(after map[string][]string) map[string]bool {
	out := map[string]bool{}
	for start := range after {
		seen := map[string]bool{}
		stack := slices.Clone(after[start])
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n == start {
				out[start] = true
				break
			}
			if !seen[n] {
				seen[n] = true
				stack = append(stack, after[n]...)
			}
		}
	}
	return out
}
