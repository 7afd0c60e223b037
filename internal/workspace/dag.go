package workspace

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ratdata/rat"
)

// buildDAG links pipelines by their refs and orders them; a cycle is an
// error that prints it.
func (w *Workspace) buildDAG() error {
	w.up, w.down = map[rat.TableID][]*Pipeline{}, map[rat.TableID][]*Pipeline{}
	for _, p := range w.sorted {
		for _, id := range p.Refs {
			if q, ok := w.pipelines[id]; ok {
				w.up[p.ID] = append(w.up[p.ID], q)
				w.down[q.ID] = append(w.down[q.ID], p)
			}
		}
	}
	for _, m := range []map[rat.TableID][]*Pipeline{w.up, w.down} {
		for _, list := range m {
			sortPipelines(list)
		}
	}
	// Kahn's algorithm in waves: each wave holds the pipelines whose refs are
	// all in earlier waves, in name order. The order is the same on every
	// load and reads layer by layer (bronze before silver before gold).
	pending := map[rat.TableID]int{}
	var wave []*Pipeline
	for _, p := range w.sorted {
		pending[p.ID] = len(w.up[p.ID])
		if pending[p.ID] == 0 {
			wave = append(wave, p)
		}
	}
	w.order = make([]*Pipeline, 0, len(w.sorted))
	for len(wave) > 0 {
		w.order = append(w.order, wave...)
		var next []*Pipeline
		for _, p := range wave {
			for _, d := range w.down[p.ID] {
				if pending[d.ID]--; pending[d.ID] == 0 {
					next = append(next, d)
				}
			}
		}
		sortPipelines(next)
		wave = next
	}
	if len(w.order) < len(w.sorted) {
		return w.cycleError(pending)
	}
	return nil
}

// cycleError finds one cycle among the pipelines Kahn's algorithm could not
// order and words it with the file and line of each ref.
func (w *Workspace) cycleError(pending map[rat.TableID]int) error {
	var start *Pipeline
	for _, p := range w.sorted {
		if pending[p.ID] > 0 {
			start = p
			break
		}
	}
	// Every unordered pipeline refs another unordered one: walking refs must
	// come back to a pipeline already on the path.
	index := map[rat.TableID]int{}
	var path []*Pipeline
	for p := start; ; {
		if i, seen := index[p.ID]; seen {
			path = append(path[i:], p)
			break
		}
		index[p.ID] = len(path)
		path = append(path, p)
		for _, q := range w.up[p.ID] {
			if pending[q.ID] > 0 {
				p = q
				break
			}
		}
	}
	names := make([]string, len(path))
	var edges []string
	for i, p := range path {
		names[i] = p.ID.String()
		if i+1 < len(path) {
			next := path[i+1].ID
			edges = append(edges, fmt.Sprintf("%s refs %s", where(p.File, p.refLine[next], 0), next))
		}
	}
	hint := "remove one of these refs"
	if len(path) == 2 {
		hint = "a pipeline reads its own table with {{ this }}, not ref()"
	}
	return rat.Errorf(rat.EINVALID, "dependency cycle: %s (%s): %s", strings.Join(names, " → "), strings.Join(edges, "; "), hint)
}

func sortPipelines(list []*Pipeline) {
	sort.Slice(list, func(i, j int) bool { return list[i].ID.String() < list[j].ID.String() })
}

// closure adds to into every pipeline reachable from id through next (w.up
// for all upstream, w.down for all downstream).
func (w *Workspace) closure(id rat.TableID, next map[rat.TableID][]*Pipeline, into map[rat.TableID]bool) {
	for _, q := range next[id] {
		if !into[q.ID] {
			into[q.ID] = true
			w.closure(q.ID, next, into)
		}
	}
}
