package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
)

// runRequest is the body of POST /runs.
type runRequest struct {
	Selectors   []string `json:"selectors"`
	Branch      string   `json:"branch"`
	FullRefresh bool     `json:"full_refresh"`
}

// createRun checks the request (branch, selectors) and starts the run in a
// goroutine the server tracks; it answers 202 with the run id at once.
func (s *Server) createRun(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.StartRun == nil {
		return rat.Errorf(rat.EUNAVAILABLE, "this server cannot run pipelines")
	}
	var req runRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Branch == "" {
		req.Branch = s.cfg.Branch
	}
	ctx := r.Context()
	target, err := s.cfg.Store.Ref(ctx, req.Branch)
	if err != nil {
		return err
	}
	if target.Kind != rat.Branch {
		return rat.Errorf(rat.EINVALID, "cannot run into tag %s: pick a branch", req.Branch)
	}
	// Unknown pipelines and bad selectors are the caller's mistake: answer
	// them now rather than in a failed run record.
	ws, err := s.workspace(r)
	if err != nil {
		return err
	}
	selected, err := ws.Select(req.Selectors, nil)
	if err != nil {
		return err
	}
	if len(selected) == 0 {
		return rat.Errorf(rat.EINVALID, "the selectors %v match no pipeline", req.Selectors)
	}
	opts := pipeline.Options{
		ID: pipeline.NewRunID(s.cfg.Now()), Target: req.Branch, Selectors: req.Selectors,
		FullRefresh: req.FullRefresh, Trigger: "api",
	}
	if err := s.startRun(opts); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/runs/"+opts.ID)
	writeJSON(w, http.StatusAccepted, map[string]any{
		"id": opts.ID, "status": pipeline.StatusRunning, "target": opts.Target, "run_branch": rat.RunBranch(opts.ID),
	})
	return nil
}

// startRun runs opts in a goroutine with a context of its own, cancelled by
// POST /runs/{id}/cancel or by Stop.
func (s *Server) startRun(opts pipeline.Options) error {
	ctx, cancel := context.WithCancel(s.base)
	s.mu.Lock()
	if s.base.Err() != nil {
		s.mu.Unlock()
		cancel()
		return rat.Errorf(rat.EUNAVAILABLE, "the server is shutting down")
	}
	s.active[opts.ID] = cancel
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.active, opts.ID)
			s.mu.Unlock()
			cancel()
		}()
		start := time.Now()
		res, err := s.cfg.StartRun(ctx, opts)
		if err != nil {
			s.log.Error("run failed to start", "run", opts.ID, "err", err)
			s.recordFailure(opts, start, err)
			return
		}
		s.log.Info("run finished", "run", res.ID, "status", res.Status, "target", res.Target)
	}()
	return nil
}

// recordFailure records a run whose machinery failed before the runner
// recorded it, so GET /runs/{id} does not answer 404 for an id the server
// handed out.
func (s *Server) recordFailure(opts pipeline.Options, start time.Time, cause error) {
	bg := context.Background()
	if _, err := s.cfg.Store.Run(bg, opts.ID); err == nil {
		return
	}
	msg := rat.ErrorMessage(cause)
	if rat.ErrorCode(cause) == rat.EINTERNAL {
		msg = "internal error; the server log has the details"
	}
	res := rat.RunDetail{ID: opts.ID, Target: opts.Target, Trigger: opts.Trigger, RunBranch: rat.RunBranch(opts.ID), Status: rat.RunFailed,
		Started: start.UTC(), Nodes: []rat.NodeRun{}, Tests: []rat.TestRun{}, Error: msg}
	rec := res.Record()
	rec.Finished = s.cfg.Now().UTC()
	if err := s.cfg.Store.SaveRun(bg, rec); err != nil {
		s.log.Error("record run", "run", opts.ID, "err", err)
	}
}

func (s *Server) runLog() (pipeline.RunLog, error) { return s.cfg.Store, nil }

// listRuns lists runs, newest first. status and target filter in the
// catalog; trigger and pipeline (a run that built it) filter here, over
// the newest maxRunScan runs. offset and limit page through the result.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	rl, err := s.runLog()
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 50)
	if err != nil {
		return err
	}
	offset, err := intParam(r, "offset", 0)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	trig, pipe := q.Get("trigger"), q.Get("pipeline")
	fetch := offset + limit + 1
	if trig != "" || pipe != "" {
		fetch = maxRunScan
	}
	runs, err := rl.Runs(r.Context(), rat.RunFilter{Status: rat.RunStatus(q.Get("status")), Target: q.Get("target"), Limit: fetch})
	if err != nil {
		return err
	}
	out := []rat.RunSummary{}
	matched := 0
	for _, run := range runs {
		if trig != "" && run.Trigger != trig {
			continue
		}
		j := run.Summary()
		j.Pipelines = runPipelines(run.Detail)
		if pipe != "" && !slices.Contains(j.Pipelines, pipe) {
			continue
		}
		matched++
		if matched > offset && len(out) < limit {
			out = append(out, j)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out, "more": matched > offset+limit})
	return nil
}

// maxRunScan bounds the runs read to filter by trigger or pipeline.
const maxRunScan = 5000

// runPipelines lists the pipelines a run record built (or plans to).
func runPipelines(d rat.RunDetail) []string {
	out := make([]string, 0, len(d.Nodes))
	for _, n := range d.Nodes {
		out = append(out, n.Pipeline)
	}
	return out
}

// getRun returns the recorded detail of a run: nodes, tests, error.
func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	b, err := s.cfg.Store.RunDocument(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(append(b, '\n'))
	return err
}

// cancelRun cancels a run: through the queue when there is one (the run
// may execute in any process), else the run this process executes. Its
// nodes stop and it fails before publishing: the target is untouched.
func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	// With a queue, the queue cancels the run wherever it executes: ending
	// this server's wait for it would not stop it.
	if s.cfg.CancelRun != nil {
		ok, err := s.cfg.CancelRun(r.Context(), id)
		if err != nil {
			return err
		}
		if ok {
			writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "status": "cancelling"})
			return nil
		}
	}
	s.mu.Lock()
	cancel, ok := s.active[id]
	s.mu.Unlock()
	// Without a queue, a run this server executes stops with its context.
	if ok && s.cfg.CancelRun == nil {
		cancel()
		writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "status": "cancelling"})
		return nil
	}
	rl, err := s.runLog()
	if err != nil {
		return err
	}
	rec, err := rl.Run(r.Context(), id)
	if err != nil {
		return err
	}
	if rec.Status.Active() {
		return rat.Errorf(rat.ECONFLICT, "run %s is %s in another process that this server cannot reach: cancel it there", id, rec.Status)
	}
	return rat.Errorf(rat.ECONFLICT, "run %s already finished (%s): there is nothing to cancel", id, rec.Status)
}

// runDocuments reads a run's detail as stored, without decoding it.
type runDocuments interface {
	RunDocument(ctx context.Context, id string) ([]byte, error)
}

// runLogReader is what the catalog stores read run logs with.
type runLogReader interface {
	RunLogs(ctx context.Context, runID string, after int64, limit int) ([]rat.RunLogLine, error)
}

// runLogs streams a run's log as JSON lines (application/x-ndjson), from
// the line after ?after=SEQ. With ?follow=true it keeps streaming new lines
// until the run has finished.
func (s *Server) runLogs(w http.ResponseWriter, r *http.Request) error {
	rl, err := s.runLog()
	if err != nil {
		return err
	}
	lr := s.cfg.Store
	id := r.PathValue("id")
	if _, err := rl.Run(r.Context(), id); err != nil {
		return err
	}
	after, err := intParam(r, "after", 0)
	if err != nil {
		return err
	}
	follow := r.URL.Query().Get("follow") == "true"
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	cur := pipeline.LogCursor{}
	cur.Fresh([]rat.RunLogLine{{Seq: int64(after)}})
	ended, again := false, false
	for {
		lines, err := lr.RunLogs(r.Context(), id, cur.From(again), 1000)
		if err != nil {
			return nil // the status line is out; the stream just ends
		}
		full := len(lines) == 1000
		lines = cur.Fresh(lines)
		for _, l := range lines {
			if err := enc.Encode(l); err != nil {
				return nil
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
		if again = !full; full {
			continue
		}
		if !follow {
			return nil
		}
		run, err := rl.Run(r.Context(), id)
		if err != nil {
			return nil
		}
		if !run.Finished.IsZero() && len(lines) == 0 {
			// The last lines are written just after the record: read once
			// more after they had time to land.
			if ended {
				return nil
			}
			ended = true
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}
