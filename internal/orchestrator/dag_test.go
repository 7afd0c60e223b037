package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

// testExec executes runs of a fixed DAG: each Build calls build (or
// succeeds), and every call is recorded.
type testExec struct {
	nodes []rat.PlannedNode
	build func(ctx context.Context, who, node string, attempt int) rat.NodeRun

	mu       sync.Mutex
	who      string // set per queue through a wrapper
	builds   []string
	progress map[string]rat.NodeRun
	done     chan *rat.RunDetail
	cancels  []bool
}

func newTestExec(nodes []rat.PlannedNode) *testExec {
	return &testExec{nodes: nodes, progress: map[string]rat.NodeRun{}, done: make(chan *rat.RunDetail, 10)}
}

// as gives the exec to one queue, naming it in the builds it records.
type as struct {
	*testExec
	name string
}

func (e as) Build(ctx context.Context, run *rat.RunDetail, node string, attempt int) rat.NodeRun {
	e.mu.Lock()
	e.builds = append(e.builds, fmt.Sprintf("%s#%d@%s", node, attempt, e.name))
	e.mu.Unlock()
	if e.build != nil {
		return e.build(ctx, e.name, node, attempt)
	}
	return rat.NodeRun{Pipeline: node, Status: rat.RunSuccess}
}

func (e *testExec) Prepare(ctx context.Context, opts RunArgs) (*rat.RunDetail, []rat.PlannedNode, error) {
	return &rat.RunDetail{ID: opts.ID, Target: opts.Target, Status: rat.RunSuccess}, e.nodes, nil
}

func (e *testExec) Build(ctx context.Context, run *rat.RunDetail, node string, attempt int) rat.NodeRun {
	return as{e, "q"}.Build(ctx, run, node, attempt)
}

func (e *testExec) Progress(ctx context.Context, run *rat.RunDetail, nodes []rat.NodeRun) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range nodes {
		e.progress[n.Pipeline] = n
	}
}

func (e *testExec) Complete(ctx context.Context, run *rat.RunDetail, cancelled bool) *rat.RunDetail {
	e.mu.Lock()
	e.cancels = append(e.cancels, cancelled)
	e.mu.Unlock()
	e.done <- run
	return run
}

func (e *testExec) built() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.builds)
}

func (e *testExec) wait(t *testing.T) *rat.RunDetail {
	t.Helper()
	select {
	case r := <-e.done:
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("the run did not complete; built %v", e.built())
		return nil
	}
}

// waitFor waits for the run to complete and checks its nodes' statuses and
// the builds made (node#attempt@worker, in order).
func (e *testExec) waitFor(t *testing.T, wantStatuses, wantBuilds string) {
	t.Helper()
	if got := statuses(e.wait(t)); got != wantStatuses {
		t.Fatalf("nodes: %s, want %s", got, wantStatuses)
	}
	if got := strings.Join(e.built(), " "); got != wantBuilds {
		t.Fatalf("builds: %s, want %s", got, wantBuilds)
	}
}

func statuses(r *rat.RunDetail) string {
	var out []string
	for _, n := range r.Nodes {
		s := n.Pipeline + "=" + string(n.Status)
		if n.Error != "" {
			s += "(" + n.Error + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// enqueueBuilding enqueues a run into main on q and waits until e builds
// its first node.
func (e *testExec) enqueueBuilding(t *testing.T, q *Queue) (id string, job int64) {
	t.Helper()
	id, job, err := q.Enqueue(context.Background(), RunArgs{Target: "main"})
	if err != nil {
		t.Fatal(err)
	}
	for len(e.built()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	return id, job
}

func start(t *testing.T, q *Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
}

// diamond: a before b and c, both before d; e fails, f reads it.
var diamond = []rat.PlannedNode{
	{Pipeline: "a"}, {Pipeline: "b", Deps: []string{"a"}}, {Pipeline: "c", Deps: []string{"a"}},
	{Pipeline: "d", Deps: []string{"b", "c"}}, {Pipeline: "e", Retries: 1, RetryDelay: 10 * time.Millisecond},
	{Pipeline: "f", Deps: []string{"e"}}, {Pipeline: "g", Deps: []string{"f"}},
}

// TestDAG: nodes are jobs spread over two workers; each node starts when
// its upstream nodes succeeded, a failure is retried up to its retries and
// then skips its downstream, and the finish job gets every node's result
// once, in the planned order.
func TestDAG(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		ctx := context.Background()
		exec := newTestExec(diamond)
		var mu sync.Mutex
		finished := map[string]bool{}
		exec.build = func(ctx context.Context, who, node string, attempt int) rat.NodeRun {
			mu.Lock()
			defer mu.Unlock()
			for _, n := range diamond {
				if n.Pipeline == node {
					for _, d := range n.Deps {
						if !finished[d] {
							t.Errorf("%s started before %s finished", node, d)
						}
					}
				}
			}
			finished[node] = true
			if node == "e" {
				return rat.NodeRun{Pipeline: node, Status: rat.RunFailed, Error: fmt.Sprintf("attempt %d failed", attempt)}
			}
			time.Sleep(20 * time.Millisecond) // long enough for the other worker to take jobs
			return rat.NodeRun{Pipeline: node, Status: rat.RunSuccess}
		}
		w1 := open(Config{Workers: 2, Exec: as{exec, "w1"}})
		w2 := open(Config{Workers: 2, Exec: as{exec, "w2"}})
		start(t, w1)
		start(t, w2)
		id, _, err := open(Config{}).Enqueue(ctx, RunArgs{Target: "main"})
		if err != nil {
			t.Fatal(err)
		}
		res := exec.wait(t)
		if res.ID != id {
			t.Fatalf("completed run %s, want %s", res.ID, id)
		}
		want := "a=success b=success c=success d=success e=failed(attempt 2 failed) f=skipped(an upstream pipeline failed) g=skipped(an upstream pipeline failed)"
		if got := statuses(res); got != want {
			t.Fatalf("nodes:\n got %s\nwant %s", got, want)
		}
		built := exec.built()
		var nodes []string
		workers := map[string]bool{}
		for _, b := range built {
			node, where, _ := strings.Cut(b, "@")
			nodes = append(nodes, node)
			workers[where] = true
		}
		slices.Sort(nodes)
		if got := strings.Join(nodes, " "); got != "a#1 b#1 c#1 d#1 e#1 e#2" {
			t.Fatalf("builds: %v", built)
		}
		if len(workers) != 2 {
			t.Logf("all nodes ran on one worker: %v", built) // possible, not wrong
		}
		// A node's progress is reported after its transaction, which may
		// be after the finish job (on another worker) completed the run.
		progress := func(node string, want rat.RunStatus) {
			t.Helper()
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				exec.mu.Lock()
				p := exec.progress[node]
				exec.mu.Unlock()
				if p.Status == want {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("progress of %s: %+v, want %s", node, p, want)
				}
			}
		}
		progress("d", rat.RunSuccess)
		progress("g", rat.RunSkipped)
	})
}

// TestDAGTakeover: a node whose worker stops writing heartbeats is given
// to another attempt by Reap; the old attempt learns it lost the node and
// reports nothing, the new one completes the run.
func TestDAGTakeover(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		ctx := context.Background()
		exec := newTestExec([]rat.PlannedNode{{Pipeline: "slow"}, {Pipeline: "after", Deps: []string{"slow"}}})
		lost := make(chan string, 1)
		exec.build = func(ctx context.Context, who, node string, attempt int) rat.NodeRun {
			if node == "slow" && attempt == 1 {
				<-ctx.Done() // hangs until the lease is lost
				lost <- fmt.Sprint(context.Cause(ctx))
				return rat.NodeRun{Pipeline: node, Status: rat.RunFailed, Error: "interrupted"}
			}
			return rat.NodeRun{Pipeline: node, Status: rat.RunSuccess}
		}
		w := open(Config{Workers: 2, Exec: exec})
		start(t, w)
		exec.enqueueBuilding(t, w)
		// Nothing is stale yet; a frozen clock makes the heartbeat old.
		if n, err := w.Reap(ctx, time.Hour); err != nil || n != 0 {
			t.Fatalf("Reap with a fresh heartbeat = %d, %v", n, err)
		}
		if err := w.withTx(ctx, func(t tx) error {
			_, err := t.exec(ctx, `UPDATE rat_dag_nodes SET heartbeat_us = 0 WHERE pipeline = 'slow'`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n, err := w.Reap(ctx, time.Minute); err != nil || n != 1 {
			t.Fatalf("Reap = %d, %v; want 1", n, err)
		}
		exec.waitFor(t, "slow=success after=success", "slow#1@q slow#2@q after#1@q")
		select {
		case cause := <-lost:
			if !strings.Contains(cause, "handed to another worker") {
				t.Fatalf("the first attempt ended with %q", cause)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the first attempt never learnt it lost the node")
		}
	})
}

// TestDAGCancel: cancelling a run stops its running node, settles the
// others as cancelled, and the finish job records a cancelled run.
func TestDAGCancel(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		ctx := context.Background()
		exec := newTestExec([]rat.PlannedNode{{Pipeline: "slow"}, {Pipeline: "next", Deps: []string{"slow"}}})
		exec.build = func(ctx context.Context, who, node string, attempt int) rat.NodeRun {
			<-ctx.Done()
			return rat.NodeRun{Pipeline: node, Status: rat.RunFailed, Error: "stopped"}
		}
		w := open(Config{Workers: 1, Exec: exec})
		start(t, w)
		id, job := exec.enqueueBuilding(t, w)
		state, err := w.CancelRun(ctx, id)
		if err != nil || state != "running" {
			t.Fatalf("CancelRun = %q, %v", state, err)
		}
		res := exec.wait(t)
		if got := statuses(res); got != "slow=failed(cancelled) next=skipped(cancelled)" {
			t.Fatalf("nodes: %s", got)
		}
		if !exec.cancels[0] {
			t.Fatal("Complete was not told the run was cancelled")
		}
		if _, err := w.WaitRun(ctx, id, job); err != nil {
			t.Fatal(err)
		}
		if state, err := w.CancelRun(ctx, id); err != nil || state != "" {
			t.Fatalf("cancelling a finished run = %q, %v", state, err)
		}
	})
}

// TestDAGHandBack: a worker that stops while building a node hands it
// back; another worker builds it and the run completes.
func TestDAGHandBack(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		ctx := context.Background()
		exec := newTestExec([]rat.PlannedNode{{Pipeline: "x"}})
		exec.build = func(ctx context.Context, who, node string, attempt int) rat.NodeRun {
			if who == "leaving" {
				<-ctx.Done()
				return rat.NodeRun{Pipeline: node, Status: rat.RunFailed, Error: "stopped"}
			}
			return rat.NodeRun{Pipeline: node, Status: rat.RunSuccess}
		}
		leaving := open(Config{Workers: 1, Exec: as{exec, "leaving"}})
		if err := leaving.Start(ctx); err != nil {
			t.Fatal(err)
		}
		exec.enqueueBuilding(t, leaving)
		stopCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_ = leaving.Stop(stopCtx)
		start(t, open(Config{Workers: 1, Exec: as{exec, "staying"}}))
		exec.waitFor(t, "x=success", "x#1@leaving x#2@staying")
	})
}

// TestDAGGracefulStop: the context given to Start ending (a signal) does
// not cancel the node being built; Stop lets it finish within its grace
// period, and the stopping worker goes on with nothing it unblocked: the
// next node and the finish are left to another worker.
func TestDAGGracefulStop(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		exec := newTestExec([]rat.PlannedNode{{Pipeline: "x"}, {Pipeline: "y", Deps: []string{"x"}}})
		release := make(chan struct{})
		exec.build = func(ctx context.Context, who, node string, attempt int) rat.NodeRun {
			if who == "leaving" {
				select {
				case <-release:
				case <-ctx.Done():
					return rat.NodeRun{Pipeline: node, Status: rat.RunFailed, Error: "cancelled"}
				}
			}
			return rat.NodeRun{Pipeline: node, Status: rat.RunSuccess}
		}
		signal, sigterm := context.WithCancel(context.Background())
		leaving := open(Config{Workers: 1, Exec: as{exec, "leaving"}})
		if err := leaving.Start(signal); err != nil {
			t.Fatal(err)
		}
		exec.enqueueBuilding(t, leaving)
		sigterm()
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			stopped <- leaving.Stop(ctx)
		}()
		time.Sleep(200 * time.Millisecond) // the signal and Stop have reached River
		close(release)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(exec.built(), " "); got != "x#1@leaving" {
			t.Fatalf("builds after the stop: %s", got)
		}
		start(t, open(Config{Workers: 1, Exec: as{exec, "staying"}}))
		exec.waitFor(t, "x=success y=success", "x#1@leaving y#1@staying")
	})
}

// preparing holds a run's Prepare until release is closed, after telling
// entered.
type preparing struct {
	as
	entered, release chan struct{}
}

func (p preparing) Prepare(ctx context.Context, opts RunArgs) (*rat.RunDetail, []rat.PlannedNode, error) {
	close(p.entered)
	<-p.release
	return p.as.Prepare(ctx, opts)
}

// TestDAGStopWhilePreparing: a worker that stops while it prepares a run
// stores the DAG but builds (and keeps) none of its nodes: the first node,
// which a preparing worker otherwise claims and builds itself, goes to
// another worker, and the run completes.
func TestDAGStopWhilePreparing(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		exec := newTestExec([]rat.PlannedNode{{Pipeline: "x"}, {Pipeline: "y", Deps: []string{"x"}}})
		p := preparing{as: as{exec, "leaving"}, entered: make(chan struct{}), release: make(chan struct{})}
		leaving := open(Config{Workers: 1, Exec: p})
		if err := leaving.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := leaving.Enqueue(context.Background(), RunArgs{Target: "main"}); err != nil {
			t.Fatal(err)
		}
		<-p.entered
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			stopped <- leaving.Stop(ctx)
		}()
		for !leaving.stopping.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		close(p.release)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if got := exec.built(); len(got) != 0 {
			t.Fatalf("builds of the stopping worker: %v", got)
		}
		start(t, open(Config{Workers: 1, Exec: as{exec, "staying"}}))
		exec.waitFor(t, "x=success y=success", "x#1@staying y#1@staying")
	})
}
