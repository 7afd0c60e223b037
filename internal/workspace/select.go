package workspace

import (
	"strings"

	"github.com/ratdata/rat"
)

// Select returns the pipelines the selectors designate, in topological
// order. Selectors:
//
//	silver.sales     one pipeline (an @name alias or silver_sales works too)
//	+silver.sales    with everything it reads from, directly or not
//	silver.sales+    with everything that reads from it, directly or not
//	+silver.sales+   both
//	layer:gold       every pipeline of a layer
//	tag:finance      every pipeline with a tag
//	state:modified   the pipelines for which modified returns true, and everything downstream of them
//
// Several selectors add up; none selects every pipeline. A selector that
// matches nothing is an error (state:modified excepted: nothing modified is
// a normal state).
func (w *Workspace) Select(selectors []string, modified func(*Pipeline) bool) ([]*Pipeline, error) {
	if len(selectors) == 0 {
		return w.Order()
	}
	chosen := map[rat.TableID]bool{}
	for _, sel := range selectors {
		ids, err := w.selectOne(strings.TrimSpace(sel), modified)
		if err != nil {
			return nil, err
		}
		for id := range ids {
			chosen[id] = true
		}
	}
	order, err := w.Order()
	if err != nil {
		return nil, err
	}
	out := order[:0]
	for _, p := range order {
		if chosen[p.ID] {
			out = append(out, p)
		}
	}
	return out, nil
}

func (w *Workspace) selectOne(sel string, modified func(*Pipeline) bool) (map[rat.TableID]bool, error) {
	out := map[rat.TableID]bool{}
	if method, value, ok := strings.Cut(sel, ":"); ok {
		switch method {
		case "layer":
			for _, p := range w.sorted {
				if p.ID.Layer == strings.ToLower(value) {
					out[p.ID] = true
				}
			}
			if len(out) == 0 {
				return nil, rat.Errorf(rat.ENOTFOUND, "selector %q: no pipeline is in layer %q%s: the layers with pipelines are %s", sel, value, didYouMean(strings.ToLower(value), w.pipelineLayers()), strings.Join(w.pipelineLayers(), ", "))
			}
		case "tag":
			var tags []string
			for _, p := range w.sorted {
				tags = append(tags, p.Config.Tags...)
				if p.HasTag(value) {
					out[p.ID] = true
				}
			}
			if len(out) == 0 {
				tags = sortedUnique(tags)
				list := "no pipeline has tags"
				if len(tags) > 0 {
					list = "the tags are " + strings.Join(tags, ", ")
				}
				return nil, rat.Errorf(rat.ENOTFOUND, "selector %q: no pipeline has tag %q%s: %s", sel, value, didYouMean(value, tags), list)
			}
		case "state":
			if value != "modified" {
				return nil, rat.Errorf(rat.EINVALID, "selector %q: the only state is modified (state:modified)", sel)
			}
			if modified == nil {
				return nil, rat.Errorf(rat.EINVALID, "selector %q: there is no previous state to compare with here", sel)
			}
			for _, p := range w.sorted {
				if modified(p) {
					out[p.ID] = true
					w.closure(p.ID, w.down, out)
				}
			}
		default:
			methods := []string{"layer", "tag", "state"}
			return nil, rat.Errorf(rat.EINVALID, "selector %q: unknown method %q%s: use layer:, tag: or state:modified, or a table name such as silver.sales", sel, method, didYouMean(method, methods))
		}
		return out, nil
	}
	name := strings.TrimSuffix(strings.TrimPrefix(sel, "+"), "+")
	if name == "" {
		return nil, rat.Errorf(rat.EINVALID, "selector %q: name a pipeline, for example silver.sales, +silver.sales or silver.sales+", sel)
	}
	p, err := w.Resolve(strings.ReplaceAll(name, "/", "."))
	if err != nil {
		return nil, rat.Errorf(rat.ENOTFOUND, "selector %q: %w", sel, err)
	}
	out[p.ID] = true
	if strings.HasPrefix(sel, "+") {
		w.closure(p.ID, w.up, out)
	}
	if strings.HasSuffix(sel, "+") {
		w.closure(p.ID, w.down, out)
	}
	return out, nil
}

// pipelineLayers lists the layers that hold pipelines.
func (w *Workspace) pipelineLayers() []string {
	var out []string
	for _, p := range w.sorted {
		out = append(out, p.ID.Layer)
	}
	return sortedUnique(out)
}
