package server

import (
	"context"
	"net/http"
	"time"

	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/trigger"
	"github.com/ratdata/rat/internal/workspace"
)

// freshnessJSON is one table's freshness in GET /freshness.
type freshnessJSON struct {
	Table      string     `json:"table"`
	Status     string     `json:"status"` // ok, warn, error or unknown (never built)
	Updated    *time.Time `json:"updated,omitempty"`
	AgeSeconds float64    `json:"age_seconds,omitempty"`
	WarnAfter  string     `json:"warn_after,omitempty"`
	ErrorAfter string     `json:"error_after,omitempty"`
}

// freshness checks every pipeline that declares freshness: how long since
// its table on the server's branch last changed.
func (s *Server) freshness(ctx context.Context) ([]freshnessJSON, error) {
	if s.cfg.LoadWorkspace == nil {
		return []freshnessJSON{}, nil
	}
	ws, err := s.cfg.LoadWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	return s.freshnessOf(ctx, ws)
}

// freshnessOf is freshness for a workspace already loaded.
func (s *Server) freshnessOf(ctx context.Context, ws *workspace.Workspace) ([]freshnessJSON, error) {
	out := []freshnessJSON{}
	var updated map[string]time.Time
	now := s.cfg.Now()
	for _, p := range ws.Pipelines() {
		f := p.Config.Freshness
		if f.WarnAfter == 0 && f.ErrorAfter == 0 {
			continue
		}
		if updated == nil {
			sums, err := s.summaries(ctx, s.cfg.Branch)
			if err != nil {
				return nil, err
			}
			updated = map[string]time.Time{}
			for _, sum := range sums {
				updated[sum.Table] = sum.Updated
			}
		}
		j := freshnessJSON{Table: p.ID.String()}
		if f.WarnAfter > 0 {
			j.WarnAfter = f.WarnAfter.String()
		}
		if f.ErrorAfter > 0 {
			j.ErrorAfter = f.ErrorAfter.String()
		}
		u := updated[p.ID.String()]
		j.Status = trigger.FreshnessOf(u, f.WarnAfter, f.ErrorAfter, now)
		if !u.IsZero() {
			j.Updated, j.AgeSeconds = &u, now.Sub(u).Seconds()
		}
		out = append(out, j)
	}
	return out, nil
}

func (s *Server) getFreshness(w http.ResponseWriter, r *http.Request) error {
	tables, err := s.freshness(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"branch": s.cfg.Branch, "tables": tables})
	return nil
}

// freshnessMetrics is freshness for the metrics' scrapes.
func (s *Server) freshnessMetrics(ctx context.Context) ([]metrics.Freshness, error) {
	tables, err := s.freshness(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]metrics.Freshness, len(tables))
	for i, t := range tables {
		out[i] = metrics.Freshness{Table: t.Table, Status: t.Status, AgeSeconds: t.AgeSeconds, Built: t.Updated != nil}
	}
	return out, nil
}
