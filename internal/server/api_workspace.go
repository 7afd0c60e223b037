package server

import (
	"net/http"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/workspace"
)

// pipelineSummary is a pipeline as GET /workspace lists it.
type pipelineSummary struct {
	ID           string   `json:"id"`
	Layer        string   `json:"layer"`
	Name         string   `json:"name"`
	Materialized string   `json:"materialized"`
	Description  string   `json:"description,omitempty"`
	Owner        string   `json:"owner,omitempty"`
	Tags         []string `json:"tags"`
	File         string   `json:"file"`
	Reads        []string `json:"reads"`
	Landings     []string `json:"landings,omitempty"`
}

// pipelineDetail is GET /pipelines/{id}: the summary, the merged
// configuration, the SQL as written and as it would run.
type pipelineDetail struct {
	pipelineSummary
	Config   pipelineConfig `json:"config"`
	SQL      string         `json:"sql"`
	Rendered string         `json:"rendered,omitempty"`
	Branch   string         `json:"branch,omitempty"`
	Tests    []string       `json:"tests"`
	Warning  string         `json:"render_error,omitempty"`
}

type pipelineConfig struct {
	UniqueKey       []string         `json:"unique_key,omitempty"`
	PartitionBy     []string         `json:"partition_by,omitempty"`
	MergeStrategy   string           `json:"merge_strategy,omitempty"`
	WatermarkColumn string           `json:"watermark_column,omitempty"`
	OnSchemaChange  string           `json:"on_schema_change,omitempty"`
	OnBadRows       string           `json:"on_bad_rows,omitempty"`
	Retries         int              `json:"retries,omitempty"`
	RetryDelay      string           `json:"retry_delay,omitempty"`
	Columns         []columnConfig   `json:"columns,omitempty"`
	Triggers        []map[string]any `json:"triggers,omitempty"`
	FreshnessWarn   string           `json:"freshness_warn_after,omitempty"`
	FreshnessError  string           `json:"freshness_error_after,omitempty"`
}

type columnConfig struct {
	Name        string   `json:"name"`
	Type        string   `json:"type,omitempty"`
	Description string   `json:"description,omitempty"`
	PII         bool     `json:"pii,omitempty"`
	Tests       []string `json:"tests,omitempty"`
}

func summarize(p *workspace.Pipeline) pipelineSummary {
	s := pipelineSummary{
		ID: p.ID.String(), Layer: p.ID.Layer, Name: p.ID.Name, Materialized: string(p.Config.Materialized),
		Description: p.Config.Description, Owner: p.Config.Owner.String(), Tags: p.Config.Tags, File: p.File,
		Reads: []string{}, Landings: p.Landings,
	}
	if s.Tags == nil {
		s.Tags = []string{}
	}
	for _, id := range p.Refs {
		s.Reads = append(s.Reads, id.String())
	}
	return s
}

func (s *Server) workspace(r *http.Request) (*workspace.Workspace, error) {
	if s.cfg.LoadWorkspace == nil {
		return nil, rat.Errorf(rat.ENOTFOUND, "this server has no workspace: start rat serve inside one (or with -C DIR)")
	}
	return s.cfg.LoadWorkspace(r.Context())
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.workspace(r)
	if err != nil {
		return err
	}
	out := struct {
		Name        string            `json:"name"`
		Description string            `json:"description,omitempty"`
		Pipelines   []pipelineSummary `json:"pipelines"`
		Warnings    []string          `json:"warnings,omitempty"`
	}{Pipelines: []pipelineSummary{}}
	if ws.Config != nil {
		out.Name, out.Description = ws.Config.Name, ws.Config.Description
	}
	for _, p := range ws.Pipelines() {
		out.Pipelines = append(out.Pipelines, summarize(p))
	}
	for _, warn := range ws.Warnings() {
		out.Warnings = append(out.Warnings, warn.String())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.workspace(r)
	if err != nil {
		return err
	}
	p, err := ws.Resolve(r.PathValue("id"))
	if err != nil {
		return err
	}
	d := pipelineDetail{pipelineSummary: summarize(p), SQL: p.SQL, Tests: []string{}}
	c := p.Config
	d.Config = pipelineConfig{
		UniqueKey: c.UniqueKey, MergeStrategy: string(c.MergeStrategy), WatermarkColumn: c.WatermarkColumn,
		OnSchemaChange: c.OnSchemaChange, OnBadRows: c.OnBadRows, Retries: c.Retries,
	}
	if c.RetryDelay > 0 {
		d.Config.RetryDelay = c.RetryDelay.String()
	}
	if c.Freshness.WarnAfter > 0 {
		d.Config.FreshnessWarn = c.Freshness.WarnAfter.String()
	}
	if c.Freshness.ErrorAfter > 0 {
		d.Config.FreshnessError = c.Freshness.ErrorAfter.String()
	}
	for _, part := range c.PartitionBy {
		d.Config.PartitionBy = append(d.Config.PartitionBy, part.String())
	}
	for _, col := range c.Columns {
		cc := columnConfig{Name: col.Name, Type: col.Type, Description: col.Description, PII: col.PII}
		for _, t := range col.Tests {
			cc.Tests = append(cc.Tests, t.Kind)
		}
		d.Config.Columns = append(d.Config.Columns, cc)
	}
	for _, t := range c.Triggers {
		d.Config.Triggers = append(d.Config.Triggers, t.Raw)
	}
	for _, t := range p.QualityTests {
		d.Tests = append(d.Tests, t.Name)
	}
	for _, t := range c.Tests {
		d.Tests = append(d.Tests, t.Name)
	}
	if s.cfg.StartRun != nil {
		// A dry run renders exactly what a run on that branch would execute
		// (watermarks included) and builds nothing.
		d.Branch = s.branchParam(r)
		res, err := s.cfg.StartRun(r.Context(), pipeline.Options{Target: d.Branch, Selectors: []string{p.ID.String()}, DryRun: true})
		if err != nil {
			return err
		}
		for _, n := range res.Nodes {
			if n.Pipeline == p.ID.String() {
				d.Rendered, d.Warning = n.SQL, n.Error
			}
		}
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) getLineage(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.workspace(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws.Lineage())
	return nil
}

// getConfig returns the effective settings; config.Settings redacts secrets.
func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Settings == nil {
		return rat.Errorf(rat.ENOTFOUND, "this server does not expose its configuration")
	}
	writeJSON(w, http.StatusOK, map[string]any{"settings": s.cfg.Settings()})
	return nil
}
