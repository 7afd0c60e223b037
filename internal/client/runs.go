package client

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
)

// Runs lists a rat serve's runs, newest first, as the local run log lists
// them: the list holds summaries, so each run's detail (nodes, tests)
// comes from its own request.
func (c *Client) Runs(ctx context.Context, f rat.RunFilter) ([]rat.Run, error) {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(f.Limit))
	if f.Target != "" {
		q.Set("target", f.Target)
	}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	var body struct {
		Runs []struct {
			ID       string     `json:"id"`
			Target   string     `json:"target"`
			Status   string     `json:"status"`
			Trigger  string     `json:"trigger"`
			Started  time.Time  `json:"started"`
			Finished *time.Time `json:"finished"`
		} `json:"runs"`
	}
	if err := c.Do(ctx, "GET", "/api/v1/runs?"+q.Encode(), nil, &body); err != nil {
		return nil, err
	}
	out := make([]rat.Run, len(body.Runs))
	for i, r := range body.Runs {
		out[i] = rat.Run{ID: r.ID, Target: r.Target, Status: r.Status, Trigger: r.Trigger, Started: r.Started, Detail: []byte("{}")}
		if r.Finished != nil {
			out[i].Finished = *r.Finished
		}
		var raw json.RawMessage
		if err := c.Do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(r.ID), nil, &raw); err == nil {
			out[i].Detail = raw
		}
	}
	return out, nil
}

// Run returns one run of a rat serve, rebuilt from its detail as the local
// run log keeps it.
func (c *Client) Run(ctx context.Context, id string) (rat.Run, error) {
	var raw json.RawMessage
	if err := c.Do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(id), nil, &raw); err != nil {
		return rat.Run{}, err
	}
	var res pipeline.Result
	_ = json.Unmarshal(raw, &res)
	rec := rat.Run{ID: res.ID, Target: res.Target, Status: string(res.Status), Trigger: res.Trigger, Started: res.Started, Detail: raw}
	if res.Status != pipeline.StatusRunning && res.Status != "queued" {
		rec.Finished = res.Started.Add(time.Duration(res.Duration))
	}
	return rec, nil
}

// RunLogs reads a run's log lines from a rat serve, calling fn for each;
// with follow, until the run has finished.
func (c *Client) RunLogs(ctx context.Context, id string, follow bool, fn func(rat.RunLogLine)) error {
	path := "/api/v1/runs/" + url.PathEscape(id) + "/logs"
	if follow {
		path += "?follow=true"
	}
	return c.Stream(ctx, path, func(line []byte) error {
		var l rat.RunLogLine
		if err := json.Unmarshal(line, &l); err != nil {
			return err
		}
		fn(l)
		return nil
	})
}
