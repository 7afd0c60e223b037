package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/trigger"
	"github.com/ratdata/rat/internal/workspace"
)

// TriggerStates keeps which triggers are switched off; the catalog stores
// implement it.
type TriggerStates interface {
	DisabledTriggers(ctx context.Context) (map[string]time.Time, error)
	SetTriggerDisabled(ctx context.Context, key string, disabled bool) error
}

// triggerJSON is a trigger in GET /triggers.
type triggerJSON struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Pipeline      string         `json:"pipeline"`
	Type          string         `json:"type"`
	Config        map[string]any `json:"config"`
	Where         string         `json:"where"`
	Enabled       bool           `json:"enabled"`
	DisabledSince *time.Time     `json:"disabled_since,omitempty"`
}

func (s *Server) triggerStates() (TriggerStates, error) {
	return s.cfg.Store, nil
}

func triggerOf(p *workspace.Pipeline, i int, disabled map[string]time.Time) triggerJSON {
	tr := p.Config.Triggers[i]
	cfg := map[string]any{}
	for k, v := range tr.Raw {
		if k != "type" {
			cfg[k] = v // secrets are named (secret_env), never inlined
		}
	}
	t := triggerJSON{ID: trigger.ID(p.ID.String(), tr.Name), Name: tr.Name, Pipeline: p.ID.String(), Type: tr.Type, Config: cfg,
		Where: fmt.Sprintf("%s:%d", p.ConfigFile, tr.Line), Enabled: true}
	if since, off := disabled[trigger.Key(p.ID.String(), tr.Name)]; off {
		t.Enabled, t.DisabledSince = false, &since
	}
	return t
}

// listTriggers lists every trigger of the workspace with its state.
func (s *Server) listTriggers(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.workspace(r)
	if err != nil {
		return err
	}
	ts, err := s.triggerStates()
	if err != nil {
		return err
	}
	disabled, err := ts.DisabledTriggers(r.Context())
	if err != nil {
		return err
	}
	out := []triggerJSON{}
	for _, p := range ws.Pipelines() {
		for i := range p.Config.Triggers {
			out = append(out, triggerOf(p, i, disabled))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"triggers": out})
	return nil
}

// switchTrigger enables or disables one trigger. A disabled schedule skips
// its ticks (enabling it does not catch them up); a disabled landing sensor
// leaves new files for later; a disabled webhook answers 409; a disabled
// after trigger does not start its pipeline. The id names the trigger
// (layer.name:trigger-name); an index in place of the name, as ids were
// before triggers had names, still designates the trigger at that place.
func (s *Server) switchTrigger(disable bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		pipeline, name, index, err := trigger.ParseID(r.PathValue("id"))
		if err != nil {
			return err
		}
		ws, err := s.workspace(r)
		if err != nil {
			return err
		}
		p, err := ws.Resolve(pipeline)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(p.Config.Triggers, func(t workspace.Trigger) bool { return t.Name == name })
		if i < 0 && index >= 0 && index < len(p.Config.Triggers) {
			i = index
		}
		if i < 0 {
			var names []string
			for _, t := range p.Config.Triggers {
				names = append(names, t.Name)
			}
			return rat.Errorf(rat.ENOTFOUND, "pipeline %s has no trigger %s; its triggers are [%s] (see GET /api/v1/triggers)", p.ID, name, strings.Join(names, ", "))
		}
		ts, err := s.triggerStates()
		if err != nil {
			return err
		}
		if err := ts.SetTriggerDisabled(r.Context(), trigger.Key(p.ID.String(), p.Config.Triggers[i].Name), disable); err != nil {
			return err
		}
		disabled, err := ts.DisabledTriggers(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, triggerOf(p, i, disabled))
		return nil
	}
}

// triggerDisabled reports whether a pipeline's trigger is switched off.
func (s *Server) triggerDisabled(ctx context.Context, pipeline, name string) (bool, error) {
	disabled, err := s.cfg.Store.DisabledTriggers(ctx)
	if err != nil {
		return false, err
	}
	_, off := disabled[trigger.Key(pipeline, name)]
	return off, nil
}
