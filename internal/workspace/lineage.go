package workspace

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Lineage node kinds.
const (
	NodePipeline = "pipeline" // a table a pipeline of the workspace builds
	NodeTable    = "table"    // a catalog table no pipeline builds (ingested data)
	NodeLanding  = "landing"  // a landing zone read through landing()/source()
)

// Lineage is the workspace's data flow: who reads what.
type Lineage struct {
	Nodes []LineageNode `json:"nodes"`
	Edges []LineageEdge `json:"edges"`
}

// LineageNode is a table or a landing zone.
type LineageNode struct {
	Key          string `json:"key"`  // layer.name, or landing:zone
	Kind         string `json:"kind"` // pipeline, table or landing
	Layer        string `json:"layer,omitempty"`
	Name         string `json:"name"`
	Materialized string `json:"materialized,omitempty"`
	File         string `json:"file,omitempty"`
}

// LineageEdge says that To reads From.
type LineageEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Lineage returns every pipeline, the tables and landing zones they read,
// and the edges between them, sorted.
func (w *Workspace) Lineage() Lineage {
	var l Lineage
	nodes := map[string]LineageNode{}
	for _, p := range w.sorted {
		nodes[p.ID.String()] = LineageNode{Key: p.ID.String(), Kind: NodePipeline, Layer: p.ID.Layer, Name: p.ID.Name,
			Materialized: string(p.Config.Materialized), File: p.File}
		for _, id := range p.Refs {
			if _, ok := w.pipelines[id]; !ok {
				nodes[id.String()] = LineageNode{Key: id.String(), Kind: NodeTable, Layer: id.Layer, Name: id.Name}
			}
			l.Edges = append(l.Edges, LineageEdge{From: id.String(), To: p.ID.String()})
		}
		for _, z := range p.Landings {
			key := "landing:" + z
			nodes[key] = LineageNode{Key: key, Kind: NodeLanding, Name: z}
			l.Edges = append(l.Edges, LineageEdge{From: key, To: p.ID.String()})
		}
	}
	for _, k := range sortedKeys(nodes) {
		l.Nodes = append(l.Nodes, nodes[k])
	}
	sort.Slice(l.Edges, func(i, j int) bool {
		a, b := l.Edges[i], l.Edges[j]
		return a.From < b.From || (a.From == b.From && a.To < b.To)
	})
	return l
}

var mermaidUnsafe = regexp.MustCompile(`[^A-Za-z0-9_]`)

// mermaidIDs gives each group (prefixed "group:") and node a readable
// Mermaid id, unique even when two names sanitise to the same text.
func mermaidIDs(groups []string, nodes []LineageNode) map[string]string {
	ids, used := map[string]string{}, map[string]bool{}
	add := func(key, text string) {
		base := mermaidUnsafe.ReplaceAllString(text, "_")
		id := base
		for i := 2; used[id]; i++ {
			id = base + "_" + strconv.Itoa(i)
		}
		ids[key], used[id] = id, true
	}
	for _, g := range groups {
		add("group:"+g, g+"_layer")
	}
	for _, n := range nodes {
		add(n.Key, strings.ReplaceAll(n.Key, ":", "__"))
	}
	return ids
}

// Mermaid renders the lineage as a Mermaid flowchart, one subgraph per layer.
func (w *Workspace) Mermaid() string {
	l := w.Lineage()
	groups := map[string][]LineageNode{}
	for _, n := range l.Nodes {
		group := n.Layer
		if n.Kind == NodeLanding {
			group = "landing"
		}
		groups[group] = append(groups[group], n)
	}
	order := sortedKeys(groups)
	sort.SliceStable(order, func(i, j int) bool { return layerRank(order[i]) < layerRank(order[j]) })
	ids := mermaidIDs(order, l.Nodes)
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, g := range order {
		fmt.Fprintf(&b, "  subgraph %s [%s]\n", ids["group:"+g], g)
		for _, n := range groups[g] {
			open, closing := "[", "]"
			switch n.Kind {
			case NodeTable:
				open, closing = "[(", ")]"
			case NodeLanding:
				open, closing = "[/", "/]"
			}
			fmt.Fprintf(&b, "    %s%s\"%s\"%s\n", ids[n.Key], open, n.Key, closing)
		}
		b.WriteString("  end\n")
	}
	for _, e := range l.Edges {
		fmt.Fprintf(&b, "  %s --> %s\n", ids[e.From], ids[e.To])
	}
	return b.String()
}

// DOT renders the lineage in Graphviz's DOT language.
func (w *Workspace) DOT() string {
	l := w.Lineage()
	var b strings.Builder
	b.WriteString("digraph lineage {\n  rankdir=LR;\n  node [shape=box];\n")
	for _, n := range l.Nodes {
		shape := ""
		switch n.Kind {
		case NodeTable:
			shape = ", shape=cylinder"
		case NodeLanding:
			shape = ", shape=folder"
		}
		fmt.Fprintf(&b, "  %s [label=%s%s];\n", strconv.Quote(n.Key), strconv.Quote(n.Key), shape)
	}
	for _, e := range l.Edges {
		fmt.Fprintf(&b, "  %s -> %s;\n", strconv.Quote(e.From), strconv.Quote(e.To))
	}
	b.WriteString("}\n")
	return b.String()
}

// layerRank orders subgraphs the way data flows: landing zones, bronze,
// silver, gold, then other layers by name.
func layerRank(layer string) int {
	switch layer {
	case "landing":
		return 0
	case "bronze":
		return 1
	case "silver":
		return 2
	case "gold":
		return 3
	}
	return 4
}
