// Package dag is the one state machine of a run's nodes, shared by the two
// ways rat executes a run: in one process (internal/pipeline's Runner.Run,
// with a Graph in memory) and as queued jobs spread over workers
// (internal/orchestrator, with the same states in rows of the queue's
// database). A node waits for its upstream nodes, is queued, runs, and
// ends as success, failed or skipped (rat.RunStatus and its transitions);
// what becomes of an attempt that ended is decided by Settle, and a waiting
// node is queued when its last upstream node succeeded, skipped when one
// failed. The package is pure: no goroutines, no I/O, the standard library
// and the root vocabulary only.
package dag

import (
	"fmt"
	"time"

	"github.com/ratdata/rat"
)

// Attempt is how one attempt at building a node ended.
type Attempt struct {
	Status     rat.RunStatus // the build's outcome: success, failed or skipped
	Attempt    int           // counted from 1
	Retries    int           // the pipeline's retries setting
	RetryDelay time.Duration // and its retry_delay
	// Cancelled: the run was cancelled (rat runs cancel).
	Cancelled bool
	// Stopping: the process building it stops (SIGTERM); the node is not
	// the node's failure.
	Stopping bool
}

// Decision is what becomes of a node after an attempt.
type Decision struct {
	// Requeue: the node is built again (attempt+1), after Delay.
	Requeue bool
	Delay   time.Duration
	// Otherwise the node settles in Status; Error, when set, replaces the
	// build's error ("cancelled").
	Status rat.RunStatus
	Error  string
}

// Settle decides what becomes of a node whose attempt ended: a worker that
// stops hands a node it did not finish back at once, a failure with
// retries left is built again after the retry delay, a cancelled run's
// unfinished node fails as cancelled, and anything else settles as built.
func Settle(a Attempt) Decision {
	switch {
	case a.Stopping && !a.Cancelled && a.Status != rat.RunSuccess:
		return Decision{Requeue: true}
	case a.Status == rat.RunFailed && !a.Cancelled && a.Attempt <= a.Retries:
		return Decision{Requeue: true, Delay: a.RetryDelay}
	case a.Cancelled && a.Status != rat.RunSuccess:
		return Decision{Status: rat.RunFailed, Error: "cancelled"}
	}
	return Decision{Status: a.Status}
}

// SkippedUpstream is the error of a node skipped because a node it reads
// failed.
const SkippedUpstream = "an upstream pipeline failed"

// Graph is the state of a run's nodes held in memory by the process that
// executes the whole run. It is not safe for concurrent use.
type Graph struct {
	names   []string
	index   map[string]int
	readers [][]int // readers[i]: the nodes that read node i
	deps    [][]int
	pending []int // upstream nodes not built yet
	state   []rat.RunStatus
	left    int // nodes not settled
}

// NewGraph builds the graph of a run's nodes, in planned order. Deps that
// name no node of the run are read as they are (not waited for). A node
// that waits for nothing is queued at once.
func NewGraph(nodes []rat.PlannedNode) *Graph {
	g := &Graph{index: map[string]int{}, left: len(nodes)}
	for i, n := range nodes {
		g.names = append(g.names, n.Pipeline)
		g.index[n.Pipeline] = i
	}
	g.readers = make([][]int, len(nodes))
	g.deps = make([][]int, len(nodes))
	g.pending = make([]int, len(nodes))
	g.state = make([]rat.RunStatus, len(nodes))
	for i, n := range nodes {
		for _, d := range n.Deps {
			if j, ok := g.index[d]; ok && j != i {
				g.readers[j] = append(g.readers[j], i)
				g.deps[i] = append(g.deps[i], j)
				g.pending[i]++
			}
		}
		g.state[i] = rat.RunWaiting
		if g.pending[i] == 0 {
			g.state[i] = rat.RunQueued
		}
	}
	return g
}

// State returns a node's state; "" for a name that is no node.
func (g *Graph) State(name string) rat.RunStatus {
	if i, ok := g.index[name]; ok {
		return g.state[i]
	}
	return ""
}

// Left is how many nodes have not settled.
func (g *Graph) Left() int { return g.left }

// Next starts the first queued node in planned order (queued → running)
// and returns it; false when none is queued.
func (g *Graph) Next() (string, bool) {
	for i, s := range g.state {
		if s == rat.RunQueued {
			g.state[i] = g.must(s, rat.RunRunning)
			return g.names[i], true
		}
	}
	return "", false
}

// Requeue puts a running node back in the queue (a retry, a hand-back).
func (g *Graph) Requeue(name string) error { return g.move(name, rat.RunQueued) }

// Done settles a running node in status (success, failed or skipped). A
// success queues each reader whose last upstream node it was; a failure
// (or skip) skips every node downstream, transitively. It returns the
// nodes it queued and those it skipped, in planned order.
func (g *Graph) Done(name string, status rat.RunStatus) (queued, skipped []string, err error) {
	if !status.Final() {
		return nil, nil, rat.Errorf(rat.EINTERNAL, "node %s cannot settle as %s", name, status)
	}
	if err := g.move(name, status); err != nil {
		return nil, nil, err
	}
	i := g.index[name]
	if status == rat.RunSuccess {
		for _, r := range g.readers[i] {
			g.pending[r]--
			if g.pending[r] == 0 && g.state[r] == rat.RunWaiting {
				g.state[r] = g.must(g.state[r], rat.RunQueued)
				queued = append(queued, g.names[r])
			}
		}
		return queued, nil, nil
	}
	for frontier := []int{i}; len(frontier) > 0; frontier = frontier[1:] {
		for _, r := range g.readers[frontier[0]] {
			if g.state[r] == rat.RunWaiting {
				g.state[r] = g.must(g.state[r], rat.RunSkipped)
				g.left--
				skipped = append(skipped, g.names[r])
				frontier = append(frontier, r)
			}
		}
	}
	return nil, skipped, nil
}

// Cancel settles every node not started (waiting or queued) as skipped and
// returns them; running nodes settle through Done.
func (g *Graph) Cancel() []string {
	var out []string
	for i, s := range g.state {
		if s == rat.RunWaiting || s == rat.RunQueued {
			g.state[i] = g.must(s, rat.RunSkipped)
			g.left--
			out = append(out, g.names[i])
		}
	}
	return out
}

func (g *Graph) move(name string, to rat.RunStatus) error {
	i, ok := g.index[name]
	if !ok {
		return rat.Errorf(rat.EINTERNAL, "the run has no node %s", name)
	}
	from := g.state[i]
	if from != rat.RunRunning {
		return rat.Errorf(rat.EINTERNAL, "node %s is %s, not running: it cannot become %s", name, from, to)
	}
	next, err := from.To(to)
	if err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	g.state[i] = next
	if next.Final() {
		g.left--
	}
	return nil
}

// must applies a transition the graph's own logic guarantees legal.
func (g *Graph) must(from, to rat.RunStatus) rat.RunStatus {
	next, err := from.To(to)
	if err != nil {
		panic(err) // a bug in this package: every caller checks the state first
	}
	return next
}
