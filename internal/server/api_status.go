package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/monitor"
	"github.com/ratdata/rat/internal/trigger"
)

// maxStatusBytes bounds GET /api/v1/status: a thousand processes (the
// heartbeat table's bound) with their resources fit well within it.
const maxStatusBytes = 4 << 20

// getStatus is GET /api/v1/status: the cluster as rat status shows it —
// every live process with its resources against the thresholds, the
// queue, failed runs, stale tables and what to do about each warning.
// It holds no secret (hosts, versions and figures); the read role sees it.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Status == nil {
		return rat.Errorf(rat.EUNAVAILABLE, "this server does not report the cluster's status")
	}
	rep, err := s.cfg.Status(r.Context(), s.staleTables)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if buf.Len() > maxStatusBytes {
		return rat.Errorf(rat.EINTERNAL, "the status is %d bytes, more than %d: too many processes or findings", buf.Len(), maxStatusBytes)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
	return nil
}

// staleTables are the tables past their freshness policy, from the
// server's freshness (its table list is cached by commit).
func (s *Server) staleTables(ctx context.Context) ([]monitor.Stale, error) {
	fr, err := s.freshness(ctx)
	if err != nil {
		return nil, err
	}
	var out []monitor.Stale
	for _, f := range fr {
		if f.Status != trigger.Fresh {
			out = append(out, monitor.Stale{Table: f.Table, Status: f.Status, AgeSeconds: f.AgeSeconds})
		}
	}
	return out, nil
}
