package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/orchestrator/dag"
	"github.com/ratdata/rat/internal/workspace"
)

// execute builds the selected pipelines on the run branch, up to
// r.Parallel at once, each as soon as the pipelines it reads are built.
// The order is the queued runs' state machine (dag.Graph), held in memory.
func (r *Runner) execute(ctx context.Context, mu *sync.Mutex, selected []*workspace.Pipeline, res *Result) []NodeResult {
	parallel := max(r.Parallel, 1)
	index := map[string]int{}
	planned := make([]PlannedNode, len(selected))
	for i, p := range selected {
		index[p.ID.String()] = i
		planned[i].Pipeline = p.ID.String()
		for _, dep := range p.Refs {
			planned[i].Deps = append(planned[i].Deps, dep.String())
		}
	}
	g := dag.NewGraph(planned)
	results := make([]NodeResult, len(selected))
	type done struct {
		i int
		n NodeResult
	}
	finished := make(chan done)
	running := 0
	for g.Left() > 0 {
		for running < parallel {
			name, ok := g.Next()
			if !ok {
				break
			}
			i := index[name]
			running++
			p := selected[i]
			r.emit(mu, Event{Kind: "node_started", Pipeline: name})
			go func() {
				finished <- done{i, r.nodeWithRetries(ctx, p, res)}
			}()
		}
		if running == 0 {
			break
		}
		d := <-finished
		running--
		results[d.i] = d.n
		_, skipped, err := g.Done(d.n.Pipeline, d.n.Status)
		if err != nil {
			results[d.i].Status, results[d.i].Error = StatusFailed, rat.ErrorMessage(err)
		}
		r.emit(mu, Event{Kind: "node_finished", Pipeline: d.n.Pipeline, Node: &results[d.i]})
		for _, name := range skipped {
			i := index[name]
			results[i] = NodeResult{Pipeline: name, Status: StatusSkipped, Kind: kind(selected[i], false), Error: dag.SkippedUpstream}
			r.emit(mu, Event{Kind: "node_finished", Pipeline: name, Node: &results[i]})
		}
	}
	return results
}

// kind names how a pipeline is materialized ("incremental/merge").
func kind(p *workspace.Pipeline, full bool) string {
	c := p.Config
	if c.Materialized == workspace.Incremental {
		if full {
			return "incremental/full"
		}
		return "incremental/" + string(c.MergeStrategy)
	}
	if c.Materialized == "" {
		return string(workspace.Table)
	}
	return string(c.Materialized)
}

// nodeWithRetries builds a pipeline, building it again up to its retries
// setting, retry_delay apart, when it failed. Each attempt after the first
// starts from the node's tables as they were when the run forked, so a
// retry never duplicates data.
func (r *Runner) nodeWithRetries(ctx context.Context, p *workspace.Pipeline, res *Result) NodeResult {
	first := r.now()
	for attempt := 1; ; attempt++ {
		n := r.attempt(ctx, p, res, attempt)
		if p.Config.Retries > 0 {
			n.Started = first.UTC()
			n.Duration = Duration(r.now().Sub(first))
		}
		d := dag.Settle(dag.Attempt{Status: n.Status, Attempt: attempt, Retries: p.Config.Retries, RetryDelay: p.Config.RetryDelay})
		if !d.Requeue || ctx.Err() != nil {
			return n
		}
		t := time.NewTimer(d.Delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return n
		case <-t.C:
		}
	}
}

// attempt builds a pipeline once; a later attempt first resets its tables
// on the run branch.
func (r *Runner) attempt(ctx context.Context, p *workspace.Pipeline, res *Result, attempt int) NodeResult {
	if attempt > 1 {
		if err := r.reset(ctx, res, p.ID); err != nil {
			n := NodeResult{Pipeline: p.ID.String(), Kind: kind(p, res.FullRefresh)}
			failed(&n, err, p, "")
			return n
		}
	}
	n := r.node(ctx, p, res.RunBranch, res.ID, Options{FullRefresh: res.FullRefresh}, res.Started)
	if attempt > 1 || p.Config.Retries > 0 {
		n.Attempts = attempt
	}
	return n
}

// node builds one pipeline's table on the run branch.
func (r *Runner) node(ctx context.Context, p *workspace.Pipeline, branch, runID string, opts Options, started time.Time) (n NodeResult) {
	start := r.now()
	n = NodeResult{Pipeline: p.ID.String(), Status: StatusSuccess, Started: start.UTC()}
	defer func() {
		n.Duration = Duration(r.now().Sub(start))
	}()
	var rendered string // the SQL as run, once rendered
	fail := func(err error) NodeResult {
		failed(&n, err, p, rendered)
		return n
	}
	exists := false
	if _, err := r.Lake.Store().Table(ctx, branch, p.ID); err == nil {
		exists = true
	} else if !rat.IsCode(err, rat.ENOTFOUND) {
		return fail(err)
	}
	incremental := p.Config.Materialized == workspace.Incremental && exists && !opts.FullRefresh
	n.Kind = kind(p, !incremental)
	rc := r.renderContext(ctx, p, branch, incremental, started)
	var used []ingest.File
	var zones []string
	var rejected []ingest.Rejected
	rc.Landing = func(zone string) (string, error) {
		files, err := r.landingFiles(ctx, p, branch, runID, zone, incremental)
		if err != nil {
			return "", err
		}
		zones = append(zones, zone)
		used = append(used, files...)
		if len(files) == 0 {
			return "(SELECT NULL AS _source_file WHERE false)", nil
		}
		// Files without rows count as consumed; their columns are read
		// only when no file has rows.
		withRows, empty, err := ingest.InspectFiles(files)
		if err != nil {
			return "", fmt.Errorf("landing zone %s: %w", zone, err)
		}
		if len(withRows) == 0 {
			withRows = empty
		}
		read, rejects, err := ingest.ReadSQL(withRows, ingest.ReadOptions{
			IngestedAt: started, TmpDir: r.TmpDir, Quarantine: p.Config.OnBadRows == workspace.OnBadRowsQuarantine,
		})
		if err != nil {
			return "", fmt.Errorf("landing zone %s: %w", zone, err)
		}
		rejected = append(rejected, rejects...)
		return "(" + read + ")", nil
	}
	rendered, err := p.Render(rc)
	if err != nil {
		rendered = ""
		return fail(err)
	}
	if len(zones) > 0 && len(used) == 0 {
		if incremental {
			n.Kind += " (no new files)"
			return n
		}
		return fail(r.noFiles(p, zones))
	}
	msg := fmt.Sprintf("build %s (%s)", p.ID, n.Kind)
	if p.Config.Materialized == workspace.View {
		if err := r.Lake.CreateView(ctx, branch, p.ID, rendered, msg); err != nil {
			return fail(err)
		}
		return n
	}
	wopts := lake.WriteOptions{
		Mode: lake.Replace, Reshape: true, Message: msg,
		Evolve: p.Config.OnSchemaChange == workspace.OnSchemaChangeAppend,
	}
	// The pipeline's partitioning (or its layer's) is its table's: a
	// change evolves the table's spec for the new files.
	wopts.PartitionFrom, wopts.EvolvePartitions = p.Config.PartitionFrom, true
	wopts.PartitionBy = p.Config.PartitionBy
	if incremental {
		wopts.Reshape = false
		switch p.Config.MergeStrategy {
		case workspace.Append:
			wopts.Mode = lake.Append
		case workspace.DeleteInsert:
			wopts.Mode, wopts.Key = lake.DeleteInsert, p.Config.UniqueKey
			if len(wopts.Key) == 0 {
				for _, part := range p.Config.PartitionBy {
					wopts.Key = append(wopts.Key, part.Column)
				}
			}
		default:
			wopts.Mode, wopts.Key, wopts.OrderBy = lake.Merge, p.Config.UniqueKey, p.Config.WatermarkColumn
		}
	}
	wopts.Watermark = p.Config.WatermarkColumn
	res, err := r.Lake.Write(ctx, branch, p.ID, rendered, wopts)
	if err != nil {
		return fail(ingest.ExplainFiles(used, err))
	}
	if len(rejected) > 0 {
		if err := r.quarantine(ctx, branch, p.ID, runID, rejected, started); err != nil {
			return fail(err)
		}
	}
	// The files count as consumed once the run publishes: the record is on
	// the run branch, with the data. Files consumed before are not repeated.
	if len(used) > 0 {
		done, err := Consumed(ctx, r.Lake, branch, p.ID.String())
		if err != nil {
			return fail(err)
		}
		var fresh []ingest.File
		for _, f := range used {
			if _, ok := done[f.Hash]; !ok {
				fresh = append(fresh, f)
			}
		}
		if err := record(ctx, r.Lake, branch, p.ID.String(), runID, fresh, started); err != nil {
			return fail(err)
		}
	}
	n.Rows, n.Files, n.Bytes = res.Rows, res.Files, res.Bytes
	if res.NewRows >= 0 {
		n.Rows = res.NewRows // a merge also rewrites old rows; report the new ones
	}
	return n
}

// noFiles is the error for a pipeline whose landing zones are empty. When
// the landing area is not the workspace's landing/ directory (a warehouse
// on S3) and that directory holds files for the zone, it says so: they are
// not read from there.
func (r *Runner) noFiles(p *workspace.Pipeline, zones []string) error {
	z := zones[0]
	msg := fmt.Sprintf("%s: landing zone(s) %s hold no files: put files in %s (rat landing upload %s FILE...)", p.File, strings.Join(zones, ", "), r.Landing.Dir(z), z)
	if _, local := r.Landing.Store.LocalPath(z); !local && r.Workspace != nil {
		dir := filepath.Join(r.Workspace.Dir, "landing", z)
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			msg = fmt.Sprintf("%s: landing zone %s in %s holds no files; the workspace's landing/%s/ does, but with a warehouse on S3 the landing area is %s: upload them from the workspace with 'rat landing upload %s landing/%s/*'",
				p.File, z, r.Landing.Dir(z), z, r.Landing.Dir(""), z, z)
		}
	}
	return rat.Errorf(rat.EINVALID, "%s", msg)
}

// landingFiles lists a zone's files for a pipeline: all of them, or for an
// incremental run only those it has not consumed on this branch.
func (r *Runner) landingFiles(ctx context.Context, p *workspace.Pipeline, branch, runID, zone string, incremental bool) ([]ingest.File, error) {
	if r.Landing == nil {
		return nil, rat.Errorf(rat.EINVALID, "%s reads landing('%s') but the workspace has no landing area", p.File, zone)
	}
	files, err := r.Landing.Files(ctx, zone)
	if err != nil {
		return nil, err
	}
	done, err := consumedExcept(ctx, r.Lake, branch, p.ID.String(), runID)
	if err != nil {
		return nil, err
	}
	// The same content under two names is read once. A file read before
	// keeps the time it was first ingested, so _ingested_at is stable when
	// a table pipeline reads every file again.
	seen := map[string]bool{}
	var out []ingest.File
	for _, f := range files {
		if seen[f.Hash] {
			continue
		}
		seen[f.Hash] = true
		if at, ok := done[f.Hash]; ok {
			if incremental {
				continue
			}
			f.IngestedAt = at
		}
		out = append(out, f)
	}
	return out, nil
}

// watermark reads a table's stored watermark for a column on a branch; ""
// when there is none.
func (r *Runner) watermark(ctx context.Context, branch string, id rat.TableID, col string) string {
	tbl, err := r.Lake.Load(ctx, branch, id)
	if err != nil {
		return ""
	}
	return tbl.Properties()[lake.WatermarkProperty(col)]
}

// renderContext builds the template context of a pipeline on a branch.
func (r *Runner) renderContext(ctx context.Context, p *workspace.Pipeline, branch string, incremental bool, started time.Time) workspace.RenderContext {
	return workspace.RenderContext{
		This:        p.ID.String(),
		Incremental: incremental,
		// Pipelines quote the watermark themselves, as in the original
		// Ratatouille: WHERE updated_at > '{{ watermark("updated_at") }}'.
		// Before the first watermark, the start of time.
		Watermark: func(col string) (string, error) {
			if wm := r.watermark(ctx, branch, p.ID, col); wm != "" {
				return wm, nil
			}
			return "1970-01-01 00:00:00", nil
		},
		Ref: func(id rat.TableID) (string, error) {
			return id.String(), nil
		},
		Vars:         r.Vars,
		Env:          r.Env,
		RunStartedAt: started,
	}
}
