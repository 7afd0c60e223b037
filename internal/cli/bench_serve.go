package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/spf13/cobra"
)

func newBenchServeCmd(g *globals) *cobra.Command {
	var runs, nodes, workers int
	var dir, pprofDir string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Measure trigger-to-node-start latency and node throughput of rat serve",
		Long: `Start 'rat serve' (and, with --workers N, 'rat serve --no-worker' plus N 'rat worker'
processes) on a new workspace, then measure:
  latency     --runs API runs of a one-node pipeline, one after another: the time
              from POST /api/v1/runs to the node starting (p50, p99), side by
              side with starting the same run as a new 'rat run' process; then
              again once the workspace holds the --nodes pipelines below
  throughput  one run of --nodes independent trivial pipelines: nodes per second
The catalog comes from the environment as usual: set RAT_CATALOG_URL to a
Postgres database to measure the cluster setup (its queue is then Postgres too).`,
		Example: `  rat bench serve
  rat bench serve --workers 3 --nodes 200`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runs < 1 || nodes < 1 || workers < 0 {
				return &usageError{msg: "rat bench serve: --runs and --nodes must be at least 1, --workers at least 0"}
			}
			if dir == "" {
				d, err := os.MkdirTemp("", "rat-bench-serve-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			}
			if pprofDir != "" {
				if err := os.MkdirAll(pprofDir, 0o755); err != nil {
					return rat.Errorf(rat.EINVALID, "--pprof: %v", err)
				}
			}
			if err := writeTree(dir, map[string]string{
				"workspace.yaml":          "name: bench-serve\n",
				"pipelines/gold/ping.sql": "SELECT 1 AS x\n",
			}); err != nil {
				return err
			}
			return benchServe(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), g, dir, pprofDir, runs, nodes, workers)
		},
	}
	cmd.Flags().IntVar(&runs, "runs", 50, "runs of the one-node pipeline for the latency figures")
	cmd.Flags().IntVar(&nodes, "nodes", 1000, "trivial pipelines in the throughput run")
	cmd.Flags().IntVar(&workers, "workers", 0, "separate 'rat worker' processes (0: rat serve executes runs itself)")
	cmd.Flags().StringVar(&dir, "dir", "", "workspace directory to use (default: a new temporary directory, removed afterwards)")
	cmd.Flags().StringVar(&pprofDir, "pprof", "", "write CPU profiles of rat serve and of each worker into this directory (serve.pprof, worker-N.pprof)")
	return cmd
}

// benchProcs runs rat child processes and stops them all at the end.
type benchProcs struct {
	self  string
	dir   string
	extra []string // global flags passed on (--profile)
	procs []*exec.Cmd
}

func (b *benchProcs) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, b.self, append(append([]string{"-C", b.dir}, b.extra...), args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	return cmd
}

// start starts a daemon and waits for a stderr line matching ready.
func (b *benchProcs) start(ctx context.Context, ready *regexp.Regexp, args ...string) (string, error) {
	cmd := b.command(ctx, args...)
	v, err := startAndWait(cmd, ready, 60*time.Second)
	if cmd.Process != nil {
		b.procs = append(b.procs, cmd)
	}
	return v, err
}

func (b *benchProcs) stop() {
	for _, p := range b.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range b.procs {
		waitOrKill(p, 40*time.Second)
	}
}

func benchServe(ctx context.Context, out, progress io.Writer, g *globals, dir, pprofDir string, runs, nodes, workers int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b := &benchProcs{self: self, dir: dir}
	if g.profile != "" {
		b.extra = []string{"--profile", g.profile}
	}
	defer b.stop()
	serveArgs := []string{"serve", "--listen", "127.0.0.1:0"}
	if workers > 0 {
		serveArgs = append(serveArgs, "--no-worker")
	}
	profile := func(args []string, name string) []string {
		if pprofDir == "" {
			return args
		}
		return append(args, "--cpuprofile", filepath.Join(pprofDir, name+".pprof"))
	}
	serveArgs = profile(serveArgs, "serve")
	t0 := time.Now()
	base, err := b.start(ctx, regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`), serveArgs...)
	if err != nil {
		return err
	}
	ready := time.Since(t0)
	for i := range workers {
		if _, err := b.start(ctx, regexp.MustCompile(`(worker started)`), profile([]string{"worker"}, fmt.Sprintf("worker-%d", i+1))...); err != nil {
			return err
		}
	}
	c, err := newAPIClient(base)
	if err != nil {
		return err
	}
	// wait polls a run until it ends. The figures come from the run's
	// record (when its nodes started, when it ended), not from the poll.
	wait := func(id string, every time.Duration) (*pipeline.Result, error) {
		res, err := c.waitRun(ctx, id, every, nil)
		if err != nil {
			return nil, err
		}
		if res.Status != pipeline.StatusSuccess {
			return nil, runFailed(res)
		}
		return res, nil
	}
	post := func(selector string) (string, time.Time, error) {
		var started struct {
			ID string `json:"id"`
		}
		t := time.Now()
		err := c.do(ctx, "POST", "/api/v1/runs", map[string]any{"selectors": []string{selector}}, &started)
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
			res, err := wait(id, 2*time.Millisecond) // a one-node run: its record is small
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
	if err := writeTree(dir, files); err != nil {
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
	// Polling the record of a run of --nodes nodes costs rat serve (and
	// this process) CPU that the workers need: look seldom, and take the
	// end from the record.
	res, err := wait(id, 100*time.Millisecond)
	if err != nil {
		return err
	}
	took := res.Started.Add(time.Duration(res.Duration)).Sub(t)
	first, last := res.Nodes[0].Started, res.Nodes[0].Started
	var builds []time.Duration
	var busy time.Duration
	for _, n := range res.Nodes {
		first = minTime(first, n.Started)
		last = maxTime(last, n.Started.Add(time.Duration(n.Duration)))
		builds = append(builds, time.Duration(n.Duration))
		busy += time.Duration(n.Duration)
	}

	fmt.Fprintln(out)
	sp50, sp99 := percentile(serveLat, 50), percentile(serveLat, 99)
	cp50, cp99 := percentile(cliLat, 50), percentile(cliLat, 99)
	printTable(out, []string{"TRIGGER → NODE START", "PIPELINES IN WORKSPACE", "RUNS", "P50", "P99"}, [][]string{
		{"rat serve API (POST /api/v1/runs)", "1", fmt.Sprint(len(serveLat)), ms(sp50), ms(sp99)},
		{"new 'rat run' process", "1", fmt.Sprint(len(cliLat)), ms(cp50), ms(cp99)},
		{"rat serve API (POST /api/v1/runs)", fmt.Sprint(nodes + 1), fmt.Sprint(len(bigLat)), ms(percentile(bigLat, 50)), ms(percentile(bigLat, 99))},
	})
	fmt.Fprintf(out, "ratio p50 serve / new process: %.2f\n", float64(sp50)/float64(cp50))
	fmt.Fprintf(out, "\nthroughput: %d nodes in %s = %.0f nodes/s (nodes building: %s; the rest is queueing, tests and the publish)\n",
		len(res.Nodes), rat.Duration(took), float64(len(res.Nodes))/took.Seconds(), rat.Duration(last.Sub(first)))
	fmt.Fprintf(out, "one node's build: p50 %s, p99 %s; nodes built at once on average: %.1f\n",
		ms(percentile(builds, 50)), ms(percentile(builds, 99)), float64(busy)/float64(last.Sub(first)))
	fmt.Fprintf(out, "rat serve ready in %s; %d worker process(es); catalog %s\n", ms(ready), workers, catalogKind())
	return nil
}

func catalogKind() string {
	if v := os.Getenv("RAT_CATALOG_URL"); strings.HasPrefix(v, "postgres") {
		return "Postgres"
	}
	return "SQLite (embedded)"
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
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
