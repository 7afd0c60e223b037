package client

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/ratdata/rat"
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
		q.Set("status", string(f.Status))
	}
	var body struct {
		Runs []rat.RunSummary `json:"runs"`
	}
	if err := c.Do(ctx, "GET", "/api/v1/runs?"+q.Encode(), nil, &body); err != nil {
		return nil, err
	}
	out := make([]rat.Run, len(body.Runs))
	for i, r := range body.Runs {
		out[i] = r.Record()
		var d rat.RunDetail
		if err := c.Do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(r.ID), nil, &d); err == nil {
			out[i].Detail = d
		}
	}
	return out, nil
}

// Run returns one run of a rat serve, rebuilt from its detail as the local
// run log keeps it.
func (c *Client) Run(ctx context.Context, id string) (rat.Run, error) {
	var d rat.RunDetail
	if err := c.Do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(id), nil, &d); err != nil {
		return rat.Run{}, err
	}
	return d.Record(), nil
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
