package server

import (
	"net/http"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/workspace"
)

// listLanding lists the landing zones: those the workspace's pipelines
// read and those holding files, with each file's status on the server's
// branch (the file registry lives on branches like data).
func (s *Server) listLanding(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Landing == nil {
		return rat.Errorf(rat.EUNAVAILABLE, "this server has no landing area")
	}
	ctx := r.Context()
	var pipelines []*workspace.Pipeline
	if s.cfg.LoadWorkspace != nil {
		ws, err := s.cfg.LoadWorkspace(ctx)
		if err != nil {
			return err
		}
		pipelines = ws.Pipelines()
	}
	zones, err := pipeline.LandingStatus(ctx, s.cfg.Lake, s.cfg.Landing, s.cfg.Branch, pipelines, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"branch": s.cfg.Branch, "zones": zones})
	return nil
}
