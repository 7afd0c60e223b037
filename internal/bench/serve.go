package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/client"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/textout"
	"github.com/ratdata/rat/internal/workspace"
)

// ServeOptions are the flags of rat bench serve.
type ServeOptions struct {
	Dir     string // workspace directory ("": a temporary one, removed afterwards)
	Runs    int    // runs of the one-node pipeline for the latency figures
	Nodes   int    // trivial pipelines in the throughput run
	Workers int    // separate rat worker processes (0: rat serve executes runs itself)
}

// Serve starts rat serve (and workers) on a new workspace and measures the
// trigger-to-node-start latency of API runs against new 'rat run'
// processes, and the node throughput of one wide run.
func Serve(ctx context.Context, env Env, o ServeOptions) error {
	dir, cleanup, err := tempDir(o.Dir, "rat-bench-serve-")
	if err != nil {
		return err
	}
	defer cleanup()
	if err := workspace.WriteTree(dir, map[string]string{
		"workspace.yaml":          "name: bench-serve\n",
		"pipelines/gold/ping.sql": "SELECT 1 AS x\n",
	}); err != nil {
		return err
	}
	return benchServe(ctx, env, dir, o.Runs, o.Nodes, o.Workers)
}

func benchServe(ctx context.Context, env Env, dir string, runs, nodes, workers int) error {
	out, progress := env.Out, env.Progress
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b := &benchProcs{self: self, dir: dir, extra: env.globalArgs()}
	defer b.stop()
	serveArgs := []string{"serve", "--listen", "127.0.0.1:0"}
	if workers > 0 {
		serveArgs = append(serveArgs, "--no-worker")
	}
	t0 := time.Now()
	base, err := b.start(ctx, regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`), serveArgs...)
	if err != nil {
		return err
	}
	ready := time.Since(t0)
	for range workers {
		if _, err := b.start(ctx, regexp.MustCompile(`(worker started)`), "worker"); err != nil {
			return err
		}
	}
	c, err := client.New(base)
	if err != nil {
		return err
	}
	// wait polls a run closely so the figures are not the poll interval.
	wait := func(id string) (*pipeline.Result, time.Time, error) {
		res, err := c.WaitRun(ctx, id, 2*time.Millisecond, nil) // close polling: the figures are not the interval
		if err != nil {
			return nil, time.Time{}, err
		}
		if res.Status != pipeline.StatusSuccess {
			return nil, time.Time{}, res.Failure()
		}
		return res, time.Now(), nil
	}
	post := func(selector string) (string, time.Time, error) {
		var started struct {
			ID string `json:"id"`
		}
		t := time.Now()
		err := c.Do(ctx, "POST", "/api/v1/runs", map[string]any{"selectors": []string{selector}}, &started)
		return started.ID, t, err
	}

	fmt.Fprintf(progress, "rat serve ready in %s (%d worker process(es)); %d latency runs...\n", ms(ready), workers, runs)
	latency := func() ([]time.Duration, error) {
		lat := make([]time.Duration, 0, runs)
		for range runs {
			id, t, err := post("gold.ping")
			if err != nil {
				return nil, err
			}
			res, _, err := wait(id)
			if err != nil {
				return nil, err
			}
			lat = append(lat, res.Nodes[0].Started.Sub(t))
		}
		return lat, nil
	}
	serveLat, err := latency()
	if err != nil {
		return err
	}
	// The same run started by hand: a new rat process per run.
	cliRuns := min(runs, 10)
	cliLat := make([]time.Duration, 0, cliRuns)
	for range cliRuns {
		cmd := b.command(ctx, "run", "gold.ping", "--json")
		t := time.Now()
		data, err := cmd.Output()
		if err != nil {
			return rat.Errorf(rat.EINTERNAL, "rat run gold.ping: %v", err)
		}
		var res pipeline.Result
		if err := json.Unmarshal(data, &res); err != nil || len(res.Nodes) == 0 {
			return rat.Errorf(rat.EINTERNAL, "rat run gold.ping printed no result: %v", err)
		}
		cliLat = append(cliLat, res.Nodes[0].Started.Sub(t))
	}
	// Every run loads the workspace: measure again with the big one.
	files := map[string]string{}
	for i := range nodes {
		files[fmt.Sprintf("pipelines/bronze/n%04d.sql", i)] = fmt.Sprintf("SELECT %d AS x\n", i)
	}
	if err := workspace.WriteTree(dir, files); err != nil {
		return err
	}
	fmt.Fprintf(progress, "%d latency runs with %d pipelines in the workspace...\n", runs, nodes+1)
	bigLat, err := latency()
	if err != nil {
		return err
	}

	fmt.Fprintf(progress, "throughput run of %d nodes...\n", nodes)
	id, t, err := post("layer:bronze")
	if err != nil {
		return err
	}
	res, done, err := wait(id)
	if err != nil {
		return err
	}
	took := done.Sub(t)
	first, last := res.Nodes[0].Started, res.Nodes[0].Started
	for _, n := range res.Nodes {
		first = minTime(first, n.Started)
		last = maxTime(last, n.Started.Add(time.Duration(n.Duration)))
	}

	fmt.Fprintln(out)
	sp50, sp99 := percentile(serveLat, 50), percentile(serveLat, 99)
	cp50, cp99 := percentile(cliLat, 50), percentile(cliLat, 99)
	textout.Table(out, []string{"TRIGGER → NODE START", "PIPELINES IN WORKSPACE", "RUNS", "P50", "P99"}, [][]string{
		{"rat serve API (POST /api/v1/runs)", "1", fmt.Sprint(len(serveLat)), ms(sp50), ms(sp99)},
		{"new 'rat run' process", "1", fmt.Sprint(len(cliLat)), ms(cp50), ms(cp99)},
		{"rat serve API (POST /api/v1/runs)", fmt.Sprint(nodes + 1), fmt.Sprint(len(bigLat)), ms(percentile(bigLat, 50)), ms(percentile(bigLat, 99))},
	})
	fmt.Fprintf(out, "ratio p50 serve / new process: %.2f\n", float64(sp50)/float64(cp50))
	fmt.Fprintf(out, "\nthroughput: %d nodes in %s = %.0f nodes/s (nodes building: %s; the rest is queueing, tests and the publish)\n",
		len(res.Nodes), rat.Duration(took), float64(len(res.Nodes))/took.Seconds(), rat.Duration(last.Sub(first)))
	fmt.Fprintf(out, "rat serve ready in %s; %d worker process(es); catalog %s\n", ms(ready), workers, catalogKind())
	return nil
}

func catalogKind() string {
	if v := os.Getenv("RAT_CATALOG_URL"); strings.HasPrefix(v, "postgres") {
		return "Postgres"
	}
	return "SQLite (embedded)"
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
