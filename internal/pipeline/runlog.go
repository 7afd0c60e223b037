package pipeline

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/workspace"
)

// RunLog keeps run records; the catalog's SQL stores implement it.
type RunLog interface {
	SaveRun(ctx context.Context, r rat.Run) error
	Runs(ctx context.Context, f rat.RunFilter) ([]rat.Run, error)
	Run(ctx context.Context, id string) (rat.Run, error)
}

// save records a run's current state; a run log that fails does not fail
// the run, the error is kept on the result.
func (r *Runner) save(ctx context.Context, res *Result, trigger string) {
	if r.Runs == nil {
		return
	}
	detail, err := json.Marshal(res)
	if err == nil {
		rec := rat.Run{ID: res.ID, Target: res.Target, Status: string(res.Status), Trigger: trigger, Started: res.Started, Detail: detail}
		if res.Status != StatusRunning {
			rec.Finished = res.Started.Add(timeDuration(res.Duration))
		}
		err = r.Runs.SaveRun(context.WithoutCancel(ctx), rec)
	}
	if err != nil && res.Error == "" {
		res.Error = "record run: " + rat.ErrorMessage(err)
	}
}

// ModifiedSince returns the state:modified test for a target branch: a
// pipeline is modified when its files' hash differs from the one the last
// successful run into that branch built (or when no run built it).
func (r *Runner) ModifiedSince(ctx context.Context, target string) (func(*workspace.Pipeline) bool, error) {
	if r.Runs != nil {
		if _, err := r.Runs.Runs(ctx, rat.RunFilter{Limit: 1}); err != nil {
			return nil, err
		}
	}
	built := r.lastHashes(ctx, target)
	return func(p *workspace.Pipeline) bool { return built[p.ID.String()] != p.Hash }, nil
}

// lastHashes returns the pipeline hashes of the last successful run into
// target (empty when there is none).
func (r *Runner) lastHashes(ctx context.Context, target string) map[string]string {
	out := map[string]string{}
	if r.Runs == nil {
		return out
	}
	runs, err := r.Runs.Runs(ctx, rat.RunFilter{Target: target, Status: string(StatusSuccess), Limit: 1})
	if err != nil || len(runs) == 0 {
		return out
	}
	var last Result
	if json.Unmarshal(runs[0].Detail, &last) == nil {
		for k, v := range last.Hashes {
			out[k] = v
		}
	}
	return out
}

func timeDuration(d Duration) time.Duration { return time.Duration(d) }
