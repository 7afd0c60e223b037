package dag

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

// diamond: a before b and c, both before d; e fails, f reads it, g reads f.
var diamond = []rat.PlannedNode{
	{Pipeline: "a"}, {Pipeline: "b", Deps: []string{"a"}}, {Pipeline: "c", Deps: []string{"a", "elsewhere"}},
	{Pipeline: "d", Deps: []string{"b", "c"}}, {Pipeline: "e"},
	{Pipeline: "f", Deps: []string{"e"}}, {Pipeline: "g", Deps: []string{"f"}},
}

func states(g *Graph) string {
	var out []string
	for _, n := range diamond {
		out = append(out, n.Pipeline+"="+string(g.State(n.Pipeline)))
	}
	return strings.Join(out, " ")
}

// TestGraph: nodes start when their upstream nodes succeeded, in planned
// order; a failure skips everything downstream; every node settles once.
func TestGraph(t *testing.T) {
	t.Parallel()
	g := NewGraph(diamond)
	if got := states(g); got != "a=queued b=waiting c=waiting d=waiting e=queued f=waiting g=waiting" {
		t.Fatalf("initial: %s", got)
	}
	var started []string
	next := func() string {
		t.Helper()
		n, ok := g.Next()
		if !ok {
			t.Fatalf("nothing queued: %s", states(g))
		}
		started = append(started, n)
		return n
	}
	if next() != "a" || next() != "e" {
		t.Fatalf("started %v", started)
	}
	if _, ok := g.Next(); ok {
		t.Fatalf("a node started before its upstream nodes: %s", states(g))
	}
	queued, skipped, err := g.Done("a", rat.RunSuccess)
	if err != nil || !slices.Equal(queued, []string{"b", "c"}) || skipped != nil {
		t.Fatalf("a done: %v %v %v", queued, skipped, err)
	}
	queued, skipped, err = g.Done("e", rat.RunFailed)
	if err != nil || queued != nil || !slices.Equal(skipped, []string{"f", "g"}) {
		t.Fatalf("e failed: %v %v %v", queued, skipped, err)
	}
	next()
	if q, _, _ := g.Done("b", rat.RunSuccess); len(q) != 0 {
		t.Fatalf("d queued before c was built: %v", q)
	}
	next()
	if q, _, _ := g.Done("c", rat.RunSuccess); !slices.Equal(q, []string{"d"}) {
		t.Fatalf("c done queued %v", q)
	}
	next()
	if _, _, err := g.Done("d", rat.RunSuccess); err != nil {
		t.Fatal(err)
	}
	if got := states(g); got != "a=success b=success c=success d=success e=failed f=skipped g=skipped" || g.Left() != 0 {
		t.Fatalf("end: %s (left %d)", got, g.Left())
	}
	if !slices.Equal(started, []string{"a", "e", "b", "c", "d"}) {
		t.Fatalf("started %v", started)
	}
	// Illegal moves are errors, and change nothing.
	for _, bad := range []func() error{
		func() error { _, _, err := g.Done("d", rat.RunFailed); return err },  // settled already
		func() error { _, _, err := g.Done("x", rat.RunSuccess); return err }, // no such node
		func() error { return g.Requeue("a") },                                // not running
		func() error { _, _, err := g.Done("a", rat.RunRunning); return err }, // not a final state
	} {
		if err := bad(); !rat.IsCode(err, rat.EINTERNAL) {
			t.Errorf("illegal move: %v", err)
		}
	}
	if got := states(g); got != "a=success b=success c=success d=success e=failed f=skipped g=skipped" {
		t.Fatalf("after illegal moves: %s", got)
	}
}

// TestGraphRequeueAndCancel: a running node goes back to the queue and
// starts again; cancelling skips what has not started.
func TestGraphRequeueAndCancel(t *testing.T) {
	t.Parallel()
	g := NewGraph(diamond)
	a, _ := g.Next()
	if err := g.Requeue(a); err != nil || g.State("a") != rat.RunQueued {
		t.Fatalf("requeue: %v, a %s", err, g.State("a"))
	}
	if n, _ := g.Next(); n != "a" {
		t.Fatalf("next after requeue: %s", n)
	}
	skipped := g.Cancel()
	if !slices.Equal(skipped, []string{"b", "c", "d", "e", "f", "g"}) || g.Left() != 1 {
		t.Fatalf("cancel skipped %v, left %d", skipped, g.Left())
	}
	if q, _, err := g.Done("a", rat.RunFailed); err != nil || q != nil || g.Left() != 0 {
		t.Fatalf("the running node after cancel: %v %v left %d", q, err, g.Left())
	}
}

// TestSettle: what becomes of a node after an attempt, for both executors.
func TestSettle(t *testing.T) {
	t.Parallel()
	delay := 3 * time.Second
	for _, c := range []struct {
		name string
		in   Attempt
		want Decision
	}{
		{"success", Attempt{Status: rat.RunSuccess, Attempt: 1}, Decision{Status: rat.RunSuccess}},
		{"failed, no retries", Attempt{Status: rat.RunFailed, Attempt: 1}, Decision{Status: rat.RunFailed}},
		{"failed, a retry left", Attempt{Status: rat.RunFailed, Attempt: 2, Retries: 2, RetryDelay: delay}, Decision{Requeue: true, Delay: delay}},
		{"failed, retries used", Attempt{Status: rat.RunFailed, Attempt: 3, Retries: 2, RetryDelay: delay}, Decision{Status: rat.RunFailed}},
		{"worker stops", Attempt{Status: rat.RunFailed, Attempt: 1, Stopping: true}, Decision{Requeue: true}},
		{"worker stops after success", Attempt{Status: rat.RunSuccess, Attempt: 1, Stopping: true}, Decision{Status: rat.RunSuccess}},
		{"cancelled", Attempt{Status: rat.RunFailed, Attempt: 1, Retries: 3, Cancelled: true, Stopping: true}, Decision{Status: rat.RunFailed, Error: "cancelled"}},
		{"cancelled after success", Attempt{Status: rat.RunSuccess, Attempt: 1, Cancelled: true}, Decision{Status: rat.RunSuccess}},
	} {
		if got := Settle(c.in); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
