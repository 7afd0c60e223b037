package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
)

// live answers 200 while the process serves HTTP at all.
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ready runs every check; 503 names the ones that failed. The details go
// to the log only: this endpoint needs no token. Both answers carry the
// machine's limits and the profile's fit ("resources"): sizes and a
// warning, nothing secret.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	var failed []string
	for _, c := range s.cfg.Checks {
		if err := c.Fn(ctx); err != nil {
			s.log.Warn("readiness check failed", "check", c.Name, "err", err)
			checks[c.Name] = "unavailable"
			failed = append(failed, c.Name)
			continue
		}
		checks[c.Name] = "ok"
	}
	if len(failed) > 0 {
		var body errorBody
		body.Error.Code = rat.EUNAVAILABLE
		body.Error.Message = "not ready: " + strings.Join(failed, ", ") + " unavailable"
		writeJSON(w, statusOf[rat.EUNAVAILABLE], struct {
			errorBody
			Status    string            `json:"status"`
			Checks    map[string]string `json:"checks"`
			Resources *config.Fit       `json:"resources,omitempty"`
		}{body, "unavailable", checks, s.cfg.Resources})
		return
	}
	ok := map[string]any{"status": "ok", "checks": checks}
	if s.cfg.Resources != nil {
		ok["resources"] = s.cfg.Resources
	}
	writeJSON(w, http.StatusOK, ok)
}
