package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/client"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/postgres"
	"github.com/ratdata/rat/internal/textout"
	"github.com/ratdata/rat/internal/workspace"
)

// ServeOptions are the flags of rat bench serve.
type ServeOptions struct {
	Dir      string // workspace directory ("": a temporary one, removed afterwards)
	Runs     int    // runs of the one-node pipeline for the latency figures
	Nodes    int    // trivial pipelines in the throughput run
	Workers  int    // separate rat worker processes (0: rat serve executes runs itself)
	PprofDir string // where CPU profiles of rat serve and the workers go ("": none)
	// Postgres, when set, names a database next to which a scratch one is
	// made for a second measurement on Postgres (dropped afterwards).
	Postgres string
}

// Serve starts rat serve (and workers) on a new workspace and measures the
// trigger-to-node-start latency of API runs against new 'rat run'
// processes, and the node throughput of one wide run; with o.Postgres, a
// second time on Postgres, and a summary of both.
func Serve(ctx context.Context, env Env, o ServeOptions) error {
	if o.PprofDir != "" {
		if err := os.MkdirAll(o.PprofDir, 0o755); err != nil {
			return rat.Errorf(rat.EINVALID, "--pprof: %v", err)
		}
	}
	passes := []servePass{{catalog: catalogKind(os.Getenv("RAT_CATALOG_URL")), dir: o.Dir}}
	if o.Postgres != "" {
		url, drop, err := postgres.ScratchDatabase(ctx, o.Postgres, "rat_bench_serve_")
		if err != nil {
			return fmt.Errorf("--postgres: %w", err)
		}
		defer drop()
		second := servePass{catalog: catalogKind(url), env: []string{"RAT_CATALOG_URL=" + url}, prefix: "postgres-"}
		if o.Dir != "" {
			second.dir = o.Dir + "-postgres"
		}
		passes = append(passes, second)
	}
	var figures []serveFigures
	for _, pass := range passes {
		if len(passes) > 1 {
			fmt.Fprintf(env.Progress, "catalog %s:\n", pass.catalog)
		}
		f, err := serveOnce(ctx, env, o, pass)
		if err != nil {
			return err
		}
		figures = append(figures, f)
	}
	printServeSummary(env.Out, o, figures)
	return nil
}

// servePass is one measurement: a catalog, its workspace, the
// environment its processes get.
type servePass struct {
	catalog string
	dir     string   // "": a new temporary directory
	env     []string // added to the processes' environment
	prefix  string   // of the profile files
}

// serveFigures are one pass's headline figures.
type serveFigures struct {
	catalog     string
	nodesPerSec float64
	p50, p99    time.Duration // trigger → node start, one-node pipeline
	cpuPerNode  time.Duration // of rat serve and the workers; 0: unknown
}

func serveOnce(ctx context.Context, env Env, o ServeOptions, pass servePass) (serveFigures, error) {
	dir, cleanup, err := tempDir(pass.dir, "rat-bench-serve-")
	if err != nil {
		return serveFigures{}, err
	}
	defer cleanup()
	pass.dir = dir
	if err := workspace.WriteTree(pass.dir, map[string]string{
		"workspace.yaml":          "name: bench-serve\n",
		"pipelines/gold/ping.sql": "SELECT 1 AS x\n",
	}); err != nil {
		return serveFigures{}, err
	}
	return benchServe(ctx, env, o, pass)
}

// printServeSummary prints the headline figures of every pass.
func printServeSummary(out io.Writer, o ServeOptions, figures []serveFigures) {
	rows := make([][]string, 0, len(figures))
	for _, f := range figures {
		cpu := "-"
		if f.cpuPerNode > 0 {
			cpu = ms(f.cpuPerNode)
		}
		rows = append(rows, []string{f.catalog, fmt.Sprintf("%.0f", f.nodesPerSec), ms(f.p50), ms(f.p99), cpu})
	}
	fmt.Fprintf(out, "\nsummary (%d nodes, %d worker process(es)):\n", o.Nodes, o.Workers)
	textout.Table(out, []string{"CATALOG", "NODES/S", "TRIGGER → NODE START P50", "P99", "CPU PER NODE"}, rows)
}

func benchServe(ctx context.Context, env Env, o ServeOptions, pass servePass) (serveFigures, error) {
	out, progress := env.Out, env.Progress
	self, err := os.Executable()
	if err != nil {
		return serveFigures{}, err
	}
	b := &benchProcs{self: self, dir: pass.dir, extra: env.globalArgs(), env: pass.env}
	defer b.stop()
	serveArgs := []string{"serve", "--listen", "127.0.0.1:0"}
	if o.Workers > 0 {
		serveArgs = append(serveArgs, "--no-worker")
	}
	profile := func(args []string, name string) []string {
		if o.PprofDir == "" {
			return args
		}
		return append(args, "--cpuprofile", filepath.Join(o.PprofDir, pass.prefix+name+".pprof"))
	}
	t0 := time.Now()
	base, err := b.start(ctx, regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`), profile(serveArgs, "serve")...)
	if err != nil {
		return serveFigures{}, err
	}
	ready := time.Since(t0)
	for i := range o.Workers {
		if _, err := b.start(ctx, regexp.MustCompile(`(worker started)`), profile([]string{"worker"}, fmt.Sprintf("worker-%d", i+1))...); err != nil {
			return serveFigures{}, err
		}
	}
	c, err := client.New(base)
	if err != nil {
		return serveFigures{}, err
	}
	m := &serveMeasure{ctx: ctx, c: c}
	fmt.Fprintf(progress, "rat serve ready in %s (%d worker process(es)); %d latency runs...\n", ms(ready), o.Workers, o.Runs)
	serveLat, err := m.latency(o.Runs)
	if err != nil {
		return serveFigures{}, err
	}
	cliLat, err := cliLatency(ctx, b, min(o.Runs, 10))
	if err != nil {
		return serveFigures{}, err
	}
	// Every run loads the workspace: measure again with the big one.
	files := map[string]string{}
	for i := range o.Nodes {
		files[fmt.Sprintf("pipelines/bronze/n%04d.sql", i)] = fmt.Sprintf("SELECT %d AS x\n", i)
	}
	if err := workspace.WriteTree(pass.dir, files); err != nil {
		return serveFigures{}, err
	}
	fmt.Fprintf(progress, "%d latency runs with %d pipelines in the workspace...\n", o.Runs, o.Nodes+1)
	bigLat, err := m.latency(o.Runs)
	if err != nil {
		return serveFigures{}, err
	}
	fmt.Fprintf(progress, "throughput run of %d nodes...\n", o.Nodes)
	tp, err := m.throughput(b.pids())
	if err != nil {
		return serveFigures{}, err
	}

	fmt.Fprintln(out)
	sp50, sp99 := percentile(serveLat, 50), percentile(serveLat, 99)
	cp50, cp99 := percentile(cliLat, 50), percentile(cliLat, 99)
	textout.Table(out, []string{"TRIGGER → NODE START", "PIPELINES IN WORKSPACE", "RUNS", "P50", "P99"}, [][]string{
		{"rat serve API (POST /api/v1/runs)", "1", fmt.Sprint(len(serveLat)), ms(sp50), ms(sp99)},
		{"new 'rat run' process", "1", fmt.Sprint(len(cliLat)), ms(cp50), ms(cp99)},
		{"rat serve API (POST /api/v1/runs)", fmt.Sprint(o.Nodes + 1), fmt.Sprint(len(bigLat)), ms(percentile(bigLat, 50)), ms(percentile(bigLat, 99))},
	})
	fmt.Fprintf(out, "ratio p50 serve / new process: %.2f\n", float64(sp50)/float64(cp50))
	tp.print(out)
	fmt.Fprintf(out, "rat serve ready in %s; %d worker process(es); catalog %s\n", ms(ready), o.Workers, pass.catalog)
	return serveFigures{catalog: pass.catalog, nodesPerSec: tp.perSecond(), p50: sp50, p99: sp99, cpuPerNode: tp.cpuPerNode()}, nil
}

// serveMeasure posts runs to a rat serve and waits for them.
type serveMeasure struct {
	ctx context.Context
	c   *client.Client
}

func (m *serveMeasure) post(selector string) (string, time.Time, error) {
	var started struct {
		ID string `json:"id"`
	}
	t := time.Now()
	err := m.c.Do(m.ctx, "POST", "/api/v1/runs", map[string]any{"selectors": []string{selector}}, &started)
	return started.ID, t, err
}

// wait polls a run until it ends. The figures come from the run's record
// (when its nodes started, when it ended), not from the poll.
func (m *serveMeasure) wait(id string, every time.Duration) (*pipeline.Result, error) {
	res, err := m.c.WaitRun(m.ctx, id, every, nil)
	if err != nil {
		return nil, err
	}
	if res.Status != pipeline.StatusSuccess {
		return nil, res.Failure()
	}
	return res, nil
}

// latency runs the one-node pipeline n times, one after another, and
// returns the times from POST to the node's start.
func (m *serveMeasure) latency(n int) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, n)
	for range n {
		id, t, err := m.post("gold.ping")
		if err != nil {
			return nil, err
		}
		res, err := m.wait(id, 2*time.Millisecond) // a one-node run: its record is small
		if err != nil {
			return nil, err
		}
		lat = append(lat, res.Nodes[0].Started.Sub(t))
	}
	return lat, nil
}

// cliLatency starts the one-node pipeline n times as a new 'rat run'
// process and returns the times from the start to the node's start.
func cliLatency(ctx context.Context, b *benchProcs, n int) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, n)
	for range n {
		cmd := b.command(ctx, "run", "gold.ping", "--json")
		t := time.Now()
		data, err := cmd.Output()
		if err != nil {
			return nil, rat.Errorf(rat.EINTERNAL, "rat run gold.ping: %v", err)
		}
		var res pipeline.Result
		if err := json.Unmarshal(data, &res); err != nil || len(res.Nodes) == 0 {
			return nil, rat.Errorf(rat.EINTERNAL, "rat run gold.ping printed no result: %v", err)
		}
		lat = append(lat, res.Nodes[0].Started.Sub(t))
	}
	return lat, nil
}

// throughputFigures describe the run of every bronze pipeline.
type throughputFigures struct {
	nodes  int
	took   time.Duration // POST to the run's end
	builds []time.Duration
	busy   time.Duration // the sum of the builds
	span   time.Duration // first node's start to last node's end
	cpu    time.Duration // of rat serve and the workers during the run; 0: unknown
}

// throughput runs every bronze pipeline in one run. pids are the rat
// processes whose CPU time counts.
func (m *serveMeasure) throughput(pids []int) (*throughputFigures, error) {
	cpu0, cpuOK := processesCPU(pids)
	id, t, err := m.post("layer:bronze")
	if err != nil {
		return nil, err
	}
	// Polling the record of a run of --nodes nodes costs rat serve (and
	// this process) CPU that the workers need: look seldom, and take the
	// end from the record.
	res, err := m.wait(id, 100*time.Millisecond)
	if err != nil {
		return nil, err
	}
	f := &throughputFigures{nodes: len(res.Nodes), took: res.Started.Add(time.Duration(res.Duration)).Sub(t)}
	if cpu1, ok := processesCPU(pids); ok && cpuOK {
		f.cpu = cpu1 - cpu0
	}
	first, last := res.Nodes[0].Started, res.Nodes[0].Started
	for _, n := range res.Nodes {
		first = minTime(first, n.Started)
		last = maxTime(last, n.Started.Add(time.Duration(n.Duration)))
		f.builds = append(f.builds, time.Duration(n.Duration))
		f.busy += time.Duration(n.Duration)
	}
	f.span = last.Sub(first)
	return f, nil
}

func (f *throughputFigures) perSecond() float64 { return float64(f.nodes) / f.took.Seconds() }

func (f *throughputFigures) cpuPerNode() time.Duration {
	if f.nodes == 0 {
		return 0
	}
	return f.cpu / time.Duration(f.nodes)
}

func (f *throughputFigures) print(out io.Writer) {
	fmt.Fprintf(out, "\nthroughput: %d nodes in %s = %.0f nodes/s (nodes building: %s; the rest is queueing, tests and the publish)\n",
		f.nodes, rat.Duration(f.took), f.perSecond(), rat.Duration(f.span))
	fmt.Fprintf(out, "one node's build: p50 %s, p99 %s; nodes built at once on average: %.1f\n",
		ms(percentile(f.builds, 50)), ms(percentile(f.builds, 99)), float64(f.busy)/float64(max(f.span, 1)))
	if f.cpu > 0 {
		fmt.Fprintf(out, "CPU time of rat serve and the workers: %s = %s per node\n", rat.Duration(f.cpu), ms(f.cpuPerNode()))
	}
}

// catalogKind names the catalog a RAT_CATALOG_URL value selects.
func catalogKind(url string) string {
	if strings.HasPrefix(url, "postgres") {
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

// pids returns the process ids of the running children.
func (b *benchProcs) pids() []int {
	out := make([]int, 0, len(b.procs))
	for _, p := range b.procs {
		out = append(out, p.Process.Pid)
	}
	return out
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, 100
// on every Linux architecture Go supports.
const userHZ = 100

// processesCPU sums the CPU time (user and system) the processes have used
// so far, from /proc/<pid>/stat. It reports false where there is no /proc
// (not Linux) or a process cannot be read.
func processesCPU(pids []int) (time.Duration, bool) {
	var ticks int64
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, false
		}
		// The fields after the command name, which is in parentheses
		// and may hold spaces: state is field 3 of stat(5), utime 14
		// and stime 15.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			return 0, false
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 13 {
			return 0, false
		}
		for _, v := range f[11:13] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, false
			}
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / userHZ, true
}
